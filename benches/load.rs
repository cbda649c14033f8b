//! Load: N concurrent password sign-ins at the `Owasp` preset on a
//! two-worker tokio runtime. For N = 1, 2, 8, 64, 256 it reports throughput,
//! p50/p99 latency, the worst delay of a 1 ms ticker task running beside the
//! sign-ins, and the process's peak RSS (each N runs in a fresh child
//! process, so the peaks do not mix).
//!
//! ```sh
//! cargo bench --bench load
//! ```
//!
//! Then, for comparison: N = 1 and 64 with the hash limit at 1, and the
//! ceiling, the `Owasp` hash rate of 1 and 2 plain OS threads with no
//! service around them (the crate's hasher, and RustCrypto `argon2`).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pin_activation::{
    ActivationConfig, ActivationService, HashPreset, InMemoryPinStore, InMemoryUserStore, NewUser, OutboxNotifier,
    Password, SignIn,
};

const LEVELS: [usize; 6] = [0, 1, 2, 8, 64, 256];

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
    config.hashing.max_concurrent = std::env::var("PIN_ACTIVATION_LOAD_LIMIT")
        .ok()
        .map(|v| v.parse().unwrap());
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

    let total = if n == 0 { 0 } else { (4 * n).max(64) };
    let per_task = total.div_ceil(n.max(1));
    if n == 0 {
        // the baseline: the ticker alone, for as long as N=1 takes
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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
    if latencies.is_empty() {
        return format!(
            "| {n:>3} (ticker alone) | - | - | - | {:>6.2} | {:>7.1} | {limit} |",
            worst_us.load(Ordering::Relaxed) as f64 / 1e3,
            peak_rss_kib() as f64 / 1024.0,
        );
    }
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

/// The ceiling for the sign-in scaling: `threads` OS threads, each hashing
/// in a loop for two seconds, no service in between. `crate` uses the
/// crate's hasher (its AVX2 block function here) on a current-thread runtime
/// per thread, so with its blocking-pool hand-off and PHC encoding;
/// `argon2` the plain RustCrypto crate with reused memory. Returns hashes
/// per second.
fn raw(threads: usize, which: &str) -> f64 {
    use pin_activation::hash::{Hasher, Keyring};
    let run_for = Duration::from_secs(2);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let which = which.to_owned();
            std::thread::spawn(move || {
                let mut started = Instant::now();
                let mut done = 0u64;
                if which == "crate" {
                    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
                    let hasher = Hasher::new(HashPreset::Owasp, Keyring::none(), 1, None).unwrap();
                    started = Instant::now(); // not the hasher's set-up hash
                    while started.elapsed() < run_for {
                        rt.block_on(hasher.hash(b"copper lantern harbour")).unwrap();
                        done += 1;
                    }
                } else {
                    let (m, t, p) = HashPreset::Owasp.costs();
                    let params = argon2::Params::new(m, t, p, Some(32)).unwrap();
                    let ctx = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
                    let mut memory = vec![argon2::Block::new(); m as usize];
                    while started.elapsed() < run_for {
                        let mut out = [0u8; 32];
                        ctx.hash_password_into_with_memory(
                            b"copper lantern harbour",
                            b"saltsaltsaltsalt",
                            &mut out,
                            &mut memory[..],
                        )
                        .unwrap();
                        done += 1;
                    }
                }
                done as f64 / started.elapsed().as_secs_f64()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn main() {
    if let Ok(spec) = std::env::var("PIN_ACTIVATION_LOAD_RAW") {
        let (threads, which) = spec.split_once(':').unwrap();
        println!("{:.1}", raw(threads.parse().unwrap(), which));
        return;
    }
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
    println!();
    println!("The same with `hashing.max_concurrent = 1` (one core left to the runtime):");
    println!();
    for n in [1, 64] {
        let out = Command::new(&exe)
            .env("PIN_ACTIVATION_LOAD_N", n.to_string())
            .env("PIN_ACTIVATION_LOAD_LIMIT", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    println!();
    println!("The ceiling: Owasp hashes/s on plain OS threads, no service (each in a fresh process):");
    println!();
    println!("| implementation | 1 thread | 2 threads | 2 / 1 |");
    println!("|---|---|---|---|");
    for which in ["crate", "argon2"] {
        let rate = |threads: usize| -> f64 {
            let out = Command::new(&exe)
                .env("PIN_ACTIVATION_LOAD_RAW", format!("{threads}:{which}"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let (one, two) = (rate(1), rate(2));
        println!("| {which} | {one:.1} | {two:.1} | {:.2} |", two / one);
    }
}
