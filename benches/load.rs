//! Load: N concurrent password sign-ins at the `Owasp` preset on a
//! two-worker tokio runtime. For N = 1, 2, 8, 64, 256 it reports throughput,
//! p50/p99 latency, the worst delay of a 1 ms ticker task running beside the
//! sign-ins, and the process's peak RSS (each N runs in a fresh child
//! process, so the peaks do not mix).
//!
//! ```sh
//! cargo bench --bench load
//! ```

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pin_activation::{
    ActivationConfig, ActivationService, HashPreset, InMemoryPinStore, InMemoryUserStore, NewUser, OutboxNotifier,
    Password, SignIn,
};

const LEVELS: [usize; 5] = [1, 2, 8, 64, 256];

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(n: usize) -> String {
    let mut config = ActivationConfig::default();
    config.hashing.preset = HashPreset::Owasp;
    let outbox = OutboxNotifier::new_ok();
    let svc = ActivationService::builder(InMemoryUserStore::new(), InMemoryPinStore::new(), outbox.clone())
        .config(config)
        .build()
        .unwrap();
    let limit = svc.hash_stats().limit;
    // one active user
    let u = svc
        .create_user(NewUser::new("Load").email("load@example.com"), None)
        .await
        .unwrap()
        .user;
    let pin = outbox.last_pin_for(&u.id).unwrap();
    let SignIn::ResetRequired { ticket, .. } = svc
        .login("load@example.com", &Password::new(pin.expose_secret()))
        .await
        .unwrap()
    else {
        panic!()
    };
    svc.complete_reset(&u.id, &ticket, &Password::new("copper lantern harbour"))
        .await
        .unwrap();

    // the ticker: wakes every 1 ms and records how late it woke
    let stop = Arc::new(AtomicBool::new(false));
    let worst_us = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (stop, worst_us) = (Arc::clone(&stop), Arc::clone(&worst_us));
        tokio::spawn(async move {
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let now = Instant::now();
                let late = now.duration_since(last).saturating_sub(Duration::from_millis(1));
                worst_us.fetch_max(late.as_micros() as u64, Ordering::Relaxed);
                last = now;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    worst_us.store(0, Ordering::Relaxed); // ignore start-up

    let total = (4 * n).max(64);
    let per_task = total.div_ceil(n);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                let r = svc
                    .login("load@example.com", &Password::new("copper lantern harbour"))
                    .await;
                assert!(matches!(r, Ok(SignIn::SignedIn { .. })));
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut latencies = Vec::with_capacity(per_task * n);
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    ticker.await.unwrap();
    latencies.sort();
    let throughput = latencies.len() as f64 / elapsed.as_secs_f64();
    format!(
        "| {n:>3} | {:>6.1} | {:>8.1} | {:>8.1} | {:>6.2} | {:>7.1} | {limit} |",
        throughput,
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        worst_us.load(Ordering::Relaxed) as f64 / 1e3,
        peak_rss_kib() as f64 / 1024.0,
    )
}

fn main() {
    if let Ok(n) = std::env::var("PIN_ACTIVATION_LOAD_N") {
        let n: usize = n.parse().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        println!("{}", rt.block_on(run(n)));
        return;
    }
    println!("| N | sign-ins/s | p50 ms | p99 ms | ticker worst ms | peak RSS MiB | hash limit |");
    println!("|---|---|---|---|---|---|---|");
    let exe = std::env::current_exe().unwrap();
    for n in LEVELS {
        let out = Command::new(&exe)
            .env("PIN_ACTIVATION_LOAD_N", n.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}
