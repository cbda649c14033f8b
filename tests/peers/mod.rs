//! Shared helpers for the delivery tests: a real SMTP sink (aiosmtpd) on
//! loopback, a service over in-memory stores with a manual clock, and a
//! sleeper that records retry pauses instead of taking them.
#![allow(dead_code, unreachable_pub)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use pin_activation::notify::Sleeper;
use pin_activation::pin::draw_pin;
use pin_activation::{
    ActivationConfig, ActivationService, InMemoryPinStore, InMemoryUserStore, ManualClock, MemoryAudit, Notifier,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The Python that has Debian's `python3-aiosmtpd` (not whatever `python3`
/// comes first on PATH).
pub const PYTHON: &str = "/usr/bin/python3";

/// Whether to run tests that need a real peer. Under `CI=true` a missing
/// peer fails the test; elsewhere the test prints why it is skipped.
pub fn peer_available(what: &str, probe: impl FnOnce() -> bool) -> bool {
    if probe() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "{what} is required under CI=true but is not available");
    eprintln!("SKIPPED: {what} is not available (install it, see .ci/run); the test did not run");
    false
}

/// `/usr/bin/python3 -c 'import aiosmtpd'` succeeds.
pub fn aiosmtpd_installed() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A port nobody listens on (right now).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// An aiosmtpd Maildir sink on 127.0.0.1, refusing `tempfail*@` with 451
/// and `reject*@` with 550 (tests/fixtures/smtp_sink.py). Killed on drop.
pub struct SmtpSink {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the sink and waits (at most 20 s) until it takes connections.
    /// `None` (after printing why) when aiosmtpd is missing outside CI.
    pub fn start() -> Option<Self> {
        if !peer_available("the SMTP sink (Debian python3-aiosmtpd)", aiosmtpd_installed) {
            return None;
        }
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        // A port can be taken between probing and binding; try a few.
        for _ in 0..5 {
            let maildir = tempfile::tempdir().unwrap();
            for sub in ["tmp", "new", "cur"] {
                std::fs::create_dir(maildir.path().join(sub)).unwrap();
            }
            let port = free_port();
            let child = Command::new(PYTHON)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "smtp_sink.RefusingMailbox"])
                .arg(maildir.path())
                .env("PYTHONPATH", &fixtures)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start aiosmtpd");
            let mut sink = SmtpSink {
                child: Some(child),
                port,
                maildir,
            };
            if sink.wait_until_listening(Duration::from_secs(20)) {
                return Some(sink);
            }
        }
        panic!("the SMTP sink did not come up");
    }

    fn wait_until_listening(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().unwrap().is_some()
            {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Kills the server (connections are refused from now on).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every stored message, oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.path().join("new"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).unwrap());
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The service the delivery tests use: in-memory stores, test hashing, a
/// manual clock, an audit log, and PINs from a seeded RNG.
pub type Service<N> = ActivationService<InMemoryUserStore, InMemoryPinStore, N, ManualClock>;

/// A seed whose first PIN starts with `0`, so leading zeros are checked.
pub fn seed_with_leading_zero() -> u64 {
    (0u64..)
        .find(|&seed| {
            let pin = draw_pin(&mut StdRng::seed_from_u64(seed), 6, true);
            pin.expose_secret().starts_with('0')
        })
        .unwrap()
}

/// Builds the service over `notifier`.
pub fn service<N: Notifier>(notifier: N) -> (Service<N>, ManualClock, MemoryAudit) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap());
    let audit = MemoryAudit::new();
    let service = ActivationService::builder(InMemoryUserStore::new(), InMemoryPinStore::new(), notifier)
        .config(ActivationConfig::for_tests())
        .clock(clock.clone())
        .audit(audit.clone())
        .pin_rng(StdRng::seed_from_u64(seed_with_leading_zero()))
        .build()
        .unwrap();
    (service, clock, audit)
}

/// Records retry pauses and returns at once.
#[derive(Clone, Default)]
pub struct RecordedPauses(pub Arc<Mutex<Vec<Duration>>>);

impl RecordedPauses {
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[async_trait]
impl Sleeper for RecordedPauses {
    async fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

/// `err`, its `Debug`, and every source's `Display` and `Debug`, joined:
/// what could ever reach a log line.
pub fn everything_said(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(&format!(" | {s} {s:?}"));
        source = s.source();
    }
    out
}

/// The 6-digit PIN after `marker` in `text`.
pub fn pin_after(text: &str, marker: &str) -> String {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in the message"))
        + marker.len();
    let pin: String = text[at..].chars().take(6).collect();
    assert!(pin.chars().all(|c| c.is_ascii_digit()), "{pin:?}");
    pin
}
