//! What real storage adds: PIN sign-in and staff re-send on the in-memory
//! stores, SQLite (a file, write-ahead log) and PostgreSQL, side by side.
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

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};
use pin_activation::{
    ActivationConfig, ActivationService, ChannelChoice, HashPreset, InMemoryPinStore, InMemoryUserStore, ManualClock,
    NewUser, OutboxNotifier, Password, PinStore, PostgresStore, SignIn, SqliteStore, UserStore,
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

fn service<U: UserStore, P: PinStore>(users: U, pins: P, preset: HashPreset) -> (Svc<U, P>, OutboxNotifier) {
    let mut config = ActivationConfig::for_tests();
    config.hashing.preset = preset;
    config.daily_send_cap = 100;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
    let outbox = OutboxNotifier::new_ok();
    let svc = ActivationService::builder(users, pins, outbox.clone())
        .config(config)
        .clock(clock)
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

async fn postgres_store(options: &PgConnectOptions) -> PostgresStore {
    let pool = PgPoolOptions::new().connect_with(options.clone()).await.unwrap();
    let store = PostgresStore::from_pool(pool);
    store.migrate().await.unwrap();
    store
}

async fn sqlite_store(dir: &tempfile::TempDir, name: &str) -> SqliteStore {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn memory() -> (InMemoryUserStore, InMemoryPinStore) {
    (InMemoryUserStore::new(), InMemoryPinStore::new())
}

fn both<S: Clone>(store: S) -> (S, S) {
    (store.clone(), store)
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

    let sqlite = rt.block_on(sqlite_store(&dir, "count.db"));
    println!(
        "SQL statements per PIN sign-in (Testing): SQLite {:.1}",
        statements_per_sign_in(&rt, sqlite.clone(), sqlite)
    );
    if let Some((_, options, _)) = &pg {
        let store = rt.block_on(postgres_store(options));
        println!(
            "SQL statements per PIN sign-in (Testing): PostgreSQL {:.1}",
            statements_per_sign_in(&rt, store.clone(), store)
        );
    }

    for (name, preset) in [("testing", HashPreset::Testing), ("owasp", HashPreset::Owasp)] {
        let mut group = c.benchmark_group(format!("store_sign_in_pin_{name}"));
        if preset == HashPreset::Owasp {
            group.sample_size(20);
        }
        bench_sign_in(&mut group, &rt, "memory", memory(), preset);
        let sqlite = rt.block_on(sqlite_store(&dir, &format!("sign_in_{name}.db")));
        bench_sign_in(&mut group, &rt, "sqlite", both(sqlite), preset);
        if let Some((_, options, _)) = &pg {
            bench_sign_in(
                &mut group,
                &rt,
                "postgres",
                both(rt.block_on(postgres_store(options))),
                preset,
            );
        }
        group.finish();
    }

    let mut group = c.benchmark_group("store_resend_testing");
    bench_resend(&mut group, &rt, "memory", memory());
    let sqlite = rt.block_on(sqlite_store(&dir, "resend.db"));
    bench_resend(&mut group, &rt, "sqlite", both(sqlite));
    if let Some((_, options, _)) = &pg {
        bench_resend(&mut group, &rt, "postgres", both(rt.block_on(postgres_store(options))));
    }
    group.finish();

    if let Some((_, options, _)) = &pg {
        let sqlite = rt.block_on(sqlite_store(&dir, "interleaved.db"));
        let postgres = rt.block_on(postgres_store(options));
        interleaved_owasp(&rt, sqlite, postgres);
    }

    if let Some((admin, _, schema)) = pg {
        rt.block_on(async {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await;
        });
    }
}

/// The store's share of an `Owasp` PIN sign-in, measured interleaved so
/// the machine's drift (15-20% between runs here) hits every store alike:
/// 100 rounds, each signing in once on each store in a rotating order; the
/// median of the per-round ratios to the in-memory sign-in.
fn interleaved_owasp(rt: &tokio::runtime::Runtime, sqlite: SqliteStore, postgres: PostgresStore) {
    let (mem_svc, mem_out) = service(InMemoryUserStore::new(), InMemoryPinStore::new(), HashPreset::Owasp);
    let (lite_svc, lite_out) = service(sqlite.clone(), sqlite, HashPreset::Owasp);
    let (pg_svc, pg_out) = service(postgres.clone(), postgres, HashPreset::Owasp);
    let mem_user = rt.block_on(user_with_pin(&mem_svc, &mem_out));
    let lite_user = rt.block_on(user_with_pin(&lite_svc, &lite_out));
    let pg_user = rt.block_on(user_with_pin(&pg_svc, &pg_out));
    let time = |which: usize| -> f64 {
        let started = std::time::Instant::now();
        rt.block_on(async {
            match which {
                0 => mem_svc.login(&mem_user.0, &Password::new(mem_user.1.as_str())).await,
                1 => lite_svc.login(&lite_user.0, &Password::new(lite_user.1.as_str())).await,
                _ => pg_svc.login(&pg_user.0, &Password::new(pg_user.1.as_str())).await,
            }
            .unwrap()
        });
        started.elapsed().as_secs_f64()
    };
    let (mut lite_ratios, mut pg_ratios) = (Vec::new(), Vec::new());
    let mut totals = [0.0f64; 3];
    for round in 0..105 {
        let mut t = [0.0f64; 3];
        for k in 0..3 {
            let which = (round + k) % 3;
            t[which] = time(which);
        }
        if round >= 5 {
            lite_ratios.push(t[1] / t[0]);
            pg_ratios.push(t[2] / t[0]);
            for k in 0..3 {
                totals[k] += t[k] / 100.0;
            }
        }
    }
    lite_ratios.sort_by(f64::total_cmp);
    pg_ratios.sort_by(f64::total_cmp);
    println!(
        "PIN sign-in at Owasp, 100 interleaved rounds: mean memory {:.2} ms, SQLite {:.2} ms, PostgreSQL {:.2} ms; \
         median per-round ratio to memory: SQLite {:.3} (p25 {:.3}, p75 {:.3}), PostgreSQL {:.3} (p25 {:.3}, p75 {:.3})",
        totals[0] * 1e3,
        totals[1] * 1e3,
        totals[2] * 1e3,
        lite_ratios[50],
        lite_ratios[25],
        lite_ratios[75],
        pg_ratios[50],
        pg_ratios[25],
        pg_ratios[75],
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
