//! C09: local time in expiry. The C08 scenario runs in child processes with
//! the `TZ` variable set to UTC+14 and UTC-12 (a process's time zone can
//! only be set safely before it starts), and must give identical results.

mod common;

use std::process::Command;

use chrono::{Local, Offset, TimeZone};
use pin_activation::{InMemoryPinStore, InMemoryUserStore};

/// Runs the C08 scenario and prints what it observed, for the parent.
#[tokio::test]
#[ignore = "run by case_c09 in child processes with TZ set"]
async fn case_c09_child() {
    let (stored, body) = common::cases::case_c08(InMemoryUserStore::new(), InMemoryPinStore::new()).await;
    let local_offset = Local
        .offset_from_utc_datetime(&stored.naive_utc())
        .fix()
        .local_minus_utc();
    let expiry_line = body
        .lines()
        .find(|l| l.contains("valid until"))
        .unwrap_or_default()
        .to_owned();
    println!("C09|{}|{}|{}", stored.to_rfc3339(), local_offset, expiry_line);
}

fn run_child(tz: &str) -> (String, i32, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "case_c09_child",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TZ", tz)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child with TZ={tz} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("C09|").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no result line from TZ={tz}:\n{stdout}"))
        .to_owned();
    let mut parts = line.splitn(3, '|');
    let stored = parts.next().unwrap().to_owned();
    let offset: i32 = parts.next().unwrap().parse().unwrap();
    let text = parts.next().unwrap().to_owned();
    (stored, offset, text)
}

#[test]
fn case_c09_time_zone_does_not_change_expiry() {
    // POSIX TZ strings (the sign is inverted: `-14` is UTC+14), which need
    // no zone database, so the children always really run in those zones.
    let plus14 = run_child("<+14>-14");
    let minus12 = run_child("<-12>+12");
    assert_eq!(plus14.1, 14 * 3600, "the child ran at UTC+14");
    assert_eq!(minus12.1, -12 * 3600, "the child ran at UTC-12");
    assert_eq!(plus14.0, minus12.0, "the stored instant is the same");
    assert_eq!(plus14.0, (common::t0() + chrono::TimeDelta::minutes(15)).to_rfc3339());
    assert_eq!(plus14.2, minus12.2, "the message text is the same");
    assert!(plus14.2.contains("valid until 2026-12-03 09:15:00 UTC"), "{}", plus14.2);
}
