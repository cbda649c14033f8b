//! What real storage adds: PIN sign-in and staff re-send on the in-memory
//! stores, SQLite (a file, write-ahead log) and PostgreSQL, side by side,
//! each SQL store with both durabilities (`sqlite`, `postgres`: commits wait
//! for the disk; `*_relaxed`: they do not, see `pin_activation::sql`).
//! At the `Testing` preset the numbers are the store's own cost; at `Owasp`
//! (PIN sign-in only) they are what a user feels. Before timing, it counts
//! the SQL statements per PIN sign-in (each one round trip to the server,
//! or to SQLite's worker thread).
//!
//! ```sh
//! cargo bench --bench store --features sqlite,postgres
//! ```
//!
//! PostgreSQL comes from `PIN_ACTIVATION_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and works in a schema of its
//! own, dropped at the end; without a server its rows are skipped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use pin_activation::hash::HashProbe;
use pin_activation::{
    ActivationConfig, ActivationService, ChannelChoice, Durability, HashPreset, InMemoryPinStore, InMemoryUserStore,
    ManualClock, NewUser, OutboxNotifier, Password, PinStore, PostgresStore, SignIn, SqliteStore, UserStore,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tracing::subscriber::Interest;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Counts the statements sqlx runs (its `sqlx::query` events), only while
/// `COUNTING` is on, so the timed runs pay nothing for it.
struct StatementCounter;

static COUNTING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn register_callsite(&self, meta: &'static tracing::Metadata<'static>) -> Interest {
        if meta.target() == "sqlx::query" {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        meta.target() == "sqlx::query" && COUNTING.load(Ordering::SeqCst)
    }

    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        STATEMENTS.fetch_add(1, Ordering::SeqCst);
    }
}

type Svc<U, P> = ActivationService<U, P, OutboxNotifier, ManualClock>;

/// When the last argon2 computation of one service started and ended, on
/// the thread that ran it, so a sign-in splits into before, hash and after.
#[derive(Default)]
struct HashTimer {
    span: Mutex<(Option<Instant>, Option<Instant>)>,
}

impl HashProbe for HashTimer {
    fn started(&self) {
        *self.span.lock().unwrap() = (Some(Instant::now()), None);
    }

    fn finished(&self) {
        self.span.lock().unwrap().1 = Some(Instant::now());
    }
}

impl HashTimer {
    /// The last computation's start and end.
    fn take(&self) -> (Instant, Instant) {
        let (start, end) = std::mem::take(&mut *self.span.lock().unwrap());
        (start.unwrap(), end.unwrap())
    }
}

/// One sign-in split in three (seconds): before the hash, the hash, after it.
#[derive(Clone, Copy, Default)]
struct Split {
    before: f64,
    hash: f64,
    after: f64,
}

impl Split {
    fn total(&self) -> f64 {
        self.before + self.hash + self.after
    }
}

fn service<U: UserStore, P: PinStore>(users: U, pins: P, preset: HashPreset) -> (Svc<U, P>, OutboxNotifier) {
    timed_service(users, pins, preset, Arc::new(HashTimer::default()))
}

fn timed_service<U: UserStore, P: PinStore>(
    users: U,
    pins: P,
    preset: HashPreset,
    timer: Arc<HashTimer>,
) -> (Svc<U, P>, OutboxNotifier) {
    let mut config = ActivationConfig::for_tests();
    config.hashing.preset = preset;
    config.daily_send_cap = 100;
    // One hash at a time, as in a one-after-the-other sign-in: the probe's
    // single slot then times each computation.
    config.hashing.max_concurrent = Some(1);
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
    let outbox = OutboxNotifier::new_ok();
    let svc = ActivationService::builder(users, pins, outbox.clone())
        .config(config)
        .clock(clock)
        .hash_probe(timer)
        .build()
        .unwrap();
    (svc, outbox)
}

static N: AtomicU64 = AtomicU64::new(0);

fn email() -> String {
    format!("bench{}@example.com", N.fetch_add(1, Ordering::Relaxed))
}

/// A pending user and the PIN sent to them.
async fn user_with_pin<U: UserStore, P: PinStore>(svc: &Svc<U, P>, outbox: &OutboxNotifier) -> (String, String) {
    let e = email();
    let u = svc
        .create_user(NewUser::new("Bench").email(e.as_str()), None)
        .await
        .unwrap()
        .user;
    let pin = outbox.last_pin_for(&u.id).unwrap().expose_secret().to_owned();
    (e, pin)
}

/// Statements per right-PIN sign-in, averaged over 20 after a warm-up
/// (PostgreSQL prepares each statement on its first use).
fn statements_per_sign_in<U: UserStore, P: PinStore>(rt: &tokio::runtime::Runtime, users: U, pins: P) -> f64 {
    let (svc, outbox) = service(users, pins, HashPreset::Testing);
    rt.block_on(async {
        let (e, pin) = user_with_pin(&svc, &outbox).await;
        svc.login(&e, &Password::new(pin.as_str())).await.unwrap();
        STATEMENTS.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        for _ in 0..20 {
            let signed_in = svc.login(&e, &Password::new(pin.as_str())).await.unwrap();
            assert!(matches!(signed_in, SignIn::ResetRequired { .. }));
        }
        COUNTING.store(false, Ordering::SeqCst);
        STATEMENTS.load(Ordering::SeqCst) as f64 / 20.0
    })
}

fn bench_sign_in<U: UserStore, P: PinStore>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    backend: &str,
    (users, pins): (U, P),
    preset: HashPreset,
) {
    let (svc, outbox) = service(users, pins, preset);
    let (e, pin) = rt.block_on(user_with_pin(&svc, &outbox));
    group.bench_function(BenchmarkId::from_parameter(backend), |b| {
        b.to_async(rt).iter(|| async {
            // A right PIN: the attempt is given back, so it repeats forever.
            svc.login(&e, &Password::new(pin.as_str())).await.unwrap()
        })
    });
}

fn bench_resend<U: UserStore, P: PinStore>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    backend: &str,
    (users, pins): (U, P),
) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
    let mut config = ActivationConfig::for_tests();
    config.daily_send_cap = 100;
    let outbox = OutboxNotifier::new_ok();
    let svc = ActivationService::builder(users, pins, outbox.clone())
        .config(config)
        .clock(clock.clone())
        .build()
        .unwrap();
    let user = rt
        .block_on(svc.create_user(NewUser::new("Bench").email(email()), None))
        .unwrap()
        .user;
    group.bench_function(BenchmarkId::from_parameter(backend), |b| {
        b.to_async(rt).iter(|| async {
            // 15 minutes apart: past the cooldown, under the daily cap.
            clock.advance(TimeDelta::minutes(15));
            svc.resend_activation(&user.id, ChannelChoice::Preferred, &user.id)
                .await
                .unwrap()
        })
    });
}

/// The benchmark's own PostgreSQL schema, or `None` without a server.
async fn postgres_schema() -> Option<(PgPool, PgConnectOptions, String)> {
    let url = std::env::var("PIN_ACTIVATION_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let admin = match PgPoolOptions::new().max_connections(1).connect(&url).await {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("PostgreSQL rows skipped: {url} is unreachable ({e})");
            return None;
        }
    };
    let schema = format!(
        "pin_bench_{}",
        N.fetch_add(1, Ordering::Relaxed) + u64::from(std::process::id())
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let options: PgConnectOptions = url.parse().unwrap();
    let options = options.options([("search_path", schema.as_str())]);
    Some((admin, options, schema))
}

async fn postgres_store(options: &PgConnectOptions, durability: Durability) -> PostgresStore {
    let store = PostgresStore::connect_with(options.clone(), durability).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn sqlite_store(dir: &tempfile::TempDir, name: &str, durability: Durability) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    let store = SqliteStore::connect_with(&url, durability).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn memory() -> (InMemoryUserStore, InMemoryPinStore) {
    (InMemoryUserStore::new(), InMemoryPinStore::new())
}

fn both<S: Clone>(store: S) -> (S, S) {
    (store.clone(), store)
}

type Named<S> = Vec<(&'static str, S)>;

/// The stores a run compares, by name: SQLite and PostgreSQL, each with
/// both durabilities (PostgreSQL only when a server answers).
fn sql_stores(
    rt: &tokio::runtime::Runtime,
    dir: &tempfile::TempDir,
    pg: Option<&PgConnectOptions>,
    file: &str,
) -> (Named<SqliteStore>, Named<PostgresStore>) {
    let lite = [("sqlite", Durability::Full), ("sqlite_relaxed", Durability::Relaxed)]
        .map(|(name, d)| (name, rt.block_on(sqlite_store(dir, &format!("{file}_{name}.db"), d))));
    let pg = pg.map_or_else(Vec::new, |options| {
        [
            ("postgres", Durability::Full),
            ("postgres_relaxed", Durability::Relaxed),
        ]
        .map(|(name, d)| (name, rt.block_on(postgres_store(options, d))))
        .into()
    });
    (lite.into(), pg)
}

fn bench(c: &mut Criterion) {
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(StatementCounter));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pg = rt.block_on(postgres_schema());
    let pg_options = pg.as_ref().map(|(_, options, _)| options);

    let (lite, postgres) = sql_stores(&rt, &dir, pg_options, "count");
    for (name, store) in lite.iter().take(1) {
        let n = statements_per_sign_in(&rt, store.clone(), store.clone());
        println!("SQL statements per PIN sign-in (Testing): {name} {n:.1}");
    }
    for (name, store) in postgres.iter().take(1) {
        let n = statements_per_sign_in(&rt, store.clone(), store.clone());
        println!("SQL statements per PIN sign-in (Testing): {name} {n:.1}");
    }

    for (name, preset) in [("testing", HashPreset::Testing), ("owasp", HashPreset::Owasp)] {
        let mut group = c.benchmark_group(format!("store_sign_in_pin_{name}"));
        if preset == HashPreset::Owasp {
            group.sample_size(20);
        }
        bench_sign_in(&mut group, &rt, "memory", memory(), preset);
        let (lite, postgres) = sql_stores(&rt, &dir, pg_options, &format!("sign_in_{name}"));
        for (backend, store) in lite {
            bench_sign_in(&mut group, &rt, backend, both(store), preset);
        }
        for (backend, store) in postgres {
            bench_sign_in(&mut group, &rt, backend, both(store), preset);
        }
        group.finish();
    }

    let mut group = c.benchmark_group("store_resend_testing");
    bench_resend(&mut group, &rt, "memory", memory());
    let (lite, postgres) = sql_stores(&rt, &dir, pg_options, "resend");
    for (backend, store) in lite {
        bench_resend(&mut group, &rt, backend, both(store));
    }
    for (backend, store) in postgres {
        bench_resend(&mut group, &rt, backend, both(store));
    }
    group.finish();

    let (lite, postgres) = sql_stores(&rt, &dir, pg_options, "interleaved");
    let mut contenders = vec![contender(
        "memory",
        &rt,
        InMemoryUserStore::new(),
        InMemoryPinStore::new(),
    )];
    contenders.extend(lite.into_iter().map(|(name, s)| contender(name, &rt, s.clone(), s)));
    contenders.extend(postgres.into_iter().map(|(name, s)| contender(name, &rt, s.clone(), s)));
    interleaved_owasp(&rt, &contenders);

    if let Some((admin, _, schema)) = pg {
        rt.block_on(async {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await;
        });
    }
}

type SignInFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// One store in the interleaved comparison: a right-PIN sign-in at `Owasp`
/// that can be started again and again, and the timer of its hashes.
struct Contender {
    name: &'static str,
    sign_in: Box<dyn Fn() -> SignInFuture>,
    timer: Arc<HashTimer>,
}

fn contender<U: UserStore, P: PinStore>(
    name: &'static str,
    rt: &tokio::runtime::Runtime,
    users: U,
    pins: P,
) -> Contender {
    let timer = Arc::new(HashTimer::default());
    let (svc, outbox) = timed_service(users, pins, HashPreset::Owasp, timer.clone());
    let (email, pin) = rt.block_on(user_with_pin(&svc, &outbox));
    let sign_in = Box::new(move || -> SignInFuture {
        let (svc, email, pin) = (svc.clone(), email.clone(), pin.clone());
        Box::pin(async move {
            svc.login(&email, &Password::new(pin.as_str())).await.unwrap();
        })
    });
    Contender { name, sign_in, timer }
}

/// The store's share of an `Owasp` PIN sign-in, measured interleaved so
/// the machine's drift (15-20% between runs here) hits every store alike:
/// 100 rounds, each signing in once on each store in a rotating order; the
/// median of the per-round ratios to the first contender (in memory). Each
/// sign-in is also split at its argon2 computation (timed where it runs):
/// before it, the hash, after it; so a difference can be told apart: the
/// store's own time, or the same hash running slower.
fn interleaved_owasp(rt: &tokio::runtime::Runtime, contenders: &[Contender]) {
    // The sign-in runs as a task on a runtime worker, as a portal's request
    // handler would, not on the bench's own thread.
    let time = |c: &Contender| -> Split {
        let started = Instant::now();
        rt.block_on(async { tokio::spawn((c.sign_in)()).await.unwrap() });
        let ended = Instant::now();
        let (hash_start, hash_end) = c.timer.take();
        Split {
            before: (hash_start - started).as_secs_f64(),
            hash: (hash_end - hash_start).as_secs_f64(),
            after: (ended - hash_end).as_secs_f64(),
        }
    };
    const ROUNDS: usize = 100;
    let n = contenders.len();
    let mut ratios = vec![Vec::new(); n];
    let mut hash_ratios = vec![Vec::new(); n];
    let mut mean = vec![Split::default(); n];
    for round in 0..ROUNDS + 5 {
        let mut t = vec![Split::default(); n];
        for k in 0..n {
            let which = (round + k) % n;
            t[which] = time(&contenders[which]);
        }
        if round >= 5 {
            for k in 0..n {
                ratios[k].push(t[k].total() / t[0].total());
                hash_ratios[k].push(t[k].hash / t[0].hash);
                mean[k].before += t[k].before / ROUNDS as f64;
                mean[k].hash += t[k].hash / ROUNDS as f64;
                mean[k].after += t[k].after / ROUNDS as f64;
            }
        }
    }
    println!("PIN sign-in at Owasp, {ROUNDS} interleaved rounds; means, and the median per-round ratio to memory:");
    for k in 0..n {
        ratios[k].sort_by(f64::total_cmp);
        hash_ratios[k].sort_by(f64::total_cmp);
        let (m, r) = (mean[k], &ratios[k]);
        println!(
            "  {:<16} {:.2} ms = before the hash {:.2} + hash {:.2} + after it {:.2}; \
             ratio {:.3} (p25 {:.3}, p75 {:.3}), its hash alone {:.3}",
            contenders[k].name,
            m.total() * 1e3,
            m.before * 1e3,
            m.hash * 1e3,
            m.after * 1e3,
            r[ROUNDS / 2],
            r[ROUNDS / 4],
            r[3 * ROUNDS / 4],
            hash_ratios[k][ROUNDS / 2],
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
