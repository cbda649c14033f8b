//! The service's own cost on in-memory stores: each step of the story at
//! the `Testing` preset (the service's overhead) and at `Owasp` (what a user
//! feels), next to the raw argon2 work the same step performs.
//!
//! ```sh
//! cargo bench --bench service
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use argon2::{Block, Params};
use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group};
use pin_activation::{
    ActivationConfig, ActivationService, ChannelChoice, HashPreset, InMemoryPinStore, InMemoryUserStore, ManualClock,
    NewUser, OutboxNotifier, Password, SignIn, UserId,
};

type Svc = ActivationService<InMemoryUserStore, InMemoryPinStore, OutboxNotifier, ManualClock>;

fn service(preset: HashPreset) -> (Svc, OutboxNotifier, ManualClock) {
    let mut config = ActivationConfig::default();
    config.hashing.preset = preset;
    config.daily_send_cap = 100;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
    let outbox = OutboxNotifier::new_ok();
    let svc = ActivationService::builder(InMemoryUserStore::new(), InMemoryPinStore::new(), outbox.clone())
        .config(config)
        .clock(clock.clone())
        .build()
        .unwrap();
    (svc, outbox, clock)
}

static N: AtomicU64 = AtomicU64::new(0);

fn email() -> String {
    format!("bench{}@example.com", N.fetch_add(1, Ordering::Relaxed))
}

/// The whole story: create (1 hash), PIN sign-in (1), complete reset (1),
/// password sign-in (1): 4 argon2 computations.
async fn story(svc: &Svc, outbox: &OutboxNotifier) {
    let e = email();
    let created = svc
        .create_user(NewUser::new("Bench").email(e.as_str()), None)
        .await
        .unwrap();
    let pin = outbox.last_pin_for(&created.user.id).unwrap();
    let SignIn::ResetRequired { user_id, ticket, .. } =
        svc.login(&e, &Password::new(pin.expose_secret())).await.unwrap()
    else {
        panic!()
    };
    svc.complete_reset(&user_id, &ticket, &Password::new("copper lantern harbour"))
        .await
        .unwrap();
    svc.login(&e, &Password::new("copper lantern harbour")).await.unwrap();
}

/// One raw argon2id computation with the implementation the service's
/// hasher uses (`pin_activation::hash::argon2id_into`: the crate's AVX2 block
/// function on x86-64 with AVX2, else the `argon2` crate).
fn raw_argon2(preset: HashPreset, memory: &mut [Block]) {
    let (m, t, p) = preset.costs();
    let params = Params::new(m, t, p, Some(32)).unwrap();
    let mut out = [0u8; 32];
    pin_activation::hash::argon2id_into(&params, None, b"004271", b"saltsaltsaltsalt", &mut out, memory).unwrap();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (name, preset) in [("testing", HashPreset::Testing), ("owasp", HashPreset::Owasp)] {
        let mut group = c.benchmark_group(format!("service_{name}"));
        group.sample_size(if name == "owasp" { 20 } else { 100 });
        let (svc, outbox, clock) = service(preset);

        group.bench_function("issue_pin", |b| {
            b.to_async(&rt).iter(|| async {
                svc.create_user(NewUser::new("Bench").email(email()), None)
                    .await
                    .unwrap();
            })
        });

        let e = email();
        let u = rt
            .block_on(svc.create_user(NewUser::new("Bench").email(e.as_str()), None))
            .unwrap()
            .user;
        let pin = outbox.last_pin_for(&u.id).unwrap();
        group.bench_function("sign_in_pin", |b| {
            b.to_async(&rt)
                .iter(|| async { svc.login(&e, &Password::new(pin.expose_secret())).await.unwrap() })
        });

        group.bench_function("complete_reset", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = std::time::Duration::ZERO;
                    for _ in 0..iters {
                        let e = email();
                        let u = svc
                            .create_user(NewUser::new("Bench").email(e.as_str()), None)
                            .await
                            .unwrap()
                            .user;
                        let pin = outbox.last_pin_for(&u.id).unwrap();
                        let SignIn::ResetRequired { ticket, .. } =
                            svc.login(&e, &Password::new(pin.expose_secret())).await.unwrap()
                        else {
                            panic!()
                        };
                        let start = std::time::Instant::now();
                        svc.complete_reset(&u.id, &ticket, &Password::new("copper lantern harbour"))
                            .await
                            .unwrap();
                        total += start.elapsed();
                    }
                    total
                })
            })
        });

        let pw_user = email();
        rt.block_on(async {
            let u = svc
                .create_user(NewUser::new("Bench").email(pw_user.as_str()), None)
                .await
                .unwrap()
                .user;
            let pin = outbox.last_pin_for(&u.id).unwrap();
            let SignIn::ResetRequired { ticket, .. } =
                svc.login(&pw_user, &Password::new(pin.expose_secret())).await.unwrap()
            else {
                panic!()
            };
            svc.complete_reset(&u.id, &ticket, &Password::new("copper lantern harbour"))
                .await
                .unwrap();
        });
        group.bench_function("sign_in_password", |b| {
            b.to_async(&rt).iter(|| async {
                svc.login(&pw_user, &Password::new("copper lantern harbour"))
                    .await
                    .unwrap()
            })
        });

        let resend_user: UserId = u.id.clone();
        group.bench_function("resend", |b| {
            b.to_async(&rt).iter(|| async {
                clock.advance(TimeDelta::minutes(15));
                svc.resend_activation(&resend_user, ChannelChoice::Preferred, &resend_user)
                    .await
                    .unwrap()
            })
        });

        group.bench_function(BenchmarkId::new("whole_story", "4 hashes"), |b| {
            b.to_async(&rt).iter(|| story(&svc, &outbox))
        });
        // The raw argon2 work of the whole story: 4 computations on a reused
        // memory area, no service around them.
        let blocks = Params::new(preset.costs().0, preset.costs().1, preset.costs().2, Some(32))
            .unwrap()
            .block_count();
        let mut memory = vec![Block::new(); blocks];
        group.bench_function(BenchmarkId::new("raw_argon2", "4 hashes"), |b| {
            b.iter(|| {
                for _ in 0..4 {
                    raw_argon2(preset, &mut memory);
                }
            })
        });
        group.finish();
    }
}

/// The ratio the target is about, measured interleaved so that the
/// machine's drift (15-20% between runs here) hits both sides alike: 100
/// rounds of one whole story and its 4 raw argon2 computations (alternating
/// which goes first); the median of the per-round ratios.
fn interleaved_ratio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let preset = HashPreset::Owasp;
    let (svc, outbox, _clock) = service(preset);
    let (m, t, p) = preset.costs();
    let mut memory = vec![Block::new(); Params::new(m, t, p, Some(32)).unwrap().block_count()];
    let mut ratios = Vec::new();
    let (mut story_total, mut raw_total) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for round in 0..105 {
        let time_story = || {
            let started = std::time::Instant::now();
            rt.block_on(story(&svc, &outbox));
            started.elapsed()
        };
        let mut time_raw = || {
            let started = std::time::Instant::now();
            for _ in 0..4 {
                raw_argon2(preset, &mut memory);
            }
            started.elapsed()
        };
        // alternate which side goes first
        let (story_time, raw_time) = if round % 2 == 0 {
            let s = time_story();
            (s, time_raw())
        } else {
            let r = time_raw();
            (time_story(), r)
        };
        if round >= 5 {
            ratios.push(story_time.as_secs_f64() / raw_time.as_secs_f64());
            story_total += story_time;
            raw_total += raw_time;
        }
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "whole story / raw argon2 at Owasp, 100 interleaved rounds: mean story {:.2} ms, mean raw {:.2} ms, \
         median of the per-round ratios {:.3} (p25 {:.3}, p75 {:.3})",
        story_total.as_secs_f64() * 1e3 / 100.0,
        raw_total.as_secs_f64() * 1e3 / 100.0,
        ratios[50],
        ratios[25],
        ratios[75]
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    interleaved_ratio();
}
