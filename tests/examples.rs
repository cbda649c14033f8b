//! Runs the examples (built by `cargo test`) and checks what they print.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples").join(name)
}

fn run(name: &str, args: &[&str]) -> String {
    let path = example(name);
    assert!(
        path.exists(),
        "{} was not built; run `cargo test --examples` or the full `cargo test`",
        path.display()
    );
    let out = Command::new(&path)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn quickstart_tells_the_whole_story() {
    let out = run("quickstart", &[]);
    for expected in [
        "Your one-time PIN is: ",
        "SMS to +18435550117:",
        "\"Activate Account\" -> the user has no email address or phone number",
        "+ PIN: accepted -> must choose a new password now",
        "\"password123\": password refused: this password is too common",
        "\"copper lantern harbour\": accepted; account active (credential version 1)",
        "email + password: signed in",
        "phone + password: signed in",
        "the old PIN: refused (invalid credentials)",
        "Bo + old PIN: refused (invalid credentials)",
        "Bo + new PIN: accepted",
        "a second click right away: a PIN was sent too recently",
        "Uma + PIN after 73 h: refused (invalid credentials)",
        "Oskar Zimmer   tenant   no email or phone: \"Activate Account\" is greyed out",
        "Nia Fong       tenant   active (signs in with a password)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn bulk_activate_reports_every_row() {
    let out = run("bulk_activate", &["--preset", "testing"]);
    for expected in [
        "(207 rows, preset Testing",
        "  created: 193\n",
        "  duplicates after normalization: 6\n",
        "  invalid rows: 8\n",
        "  no contact (Activate Account unavailable): 3\n",
        "  sent by email: 166\n",
        "  sent by SMS: 24\n",
        "line   18: invalid: not a valid phone number", // a UK drama-range number without country code
        "line   71: invalid: not a valid email address",
        "line   78: duplicate: same email as line 11",
        "One sample message:",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

/// The portal binary: no staff password, no start; with one, it serves.
#[cfg(all(feature = "portal", feature = "sqlite"))]
#[test]
fn portal_starts_only_with_a_staff_account_and_serves_the_sign_in_page() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    use std::time::Duration;

    let path = example("portal");
    assert!(path.exists(), "{} was not built", path.display());
    let refused = Command::new(&path)
        .env_remove("PORTAL_STAFF_EMAIL")
        .env_remove("PORTAL_STAFF_PASSWORD")
        .args(["--database", "memory"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("The portal has no default password"), "{stderr}");

    /// Kills the portal even when an assertion fails.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(&path)
        .env("PORTAL_STAFF_EMAIL", "desk@lakeside.example")
        .env("PORTAL_STAFF_PASSWORD", "copper kettle harbour gate")
        .env("RUST_LOG", "warn")
        .args([
            "--database",
            "memory",
            "--fast-insecure-hashing",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .unwrap();
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Portal on http://") {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60));
    let response = addr.as_ref().ok().map(|addr| {
        let mut s = std::net::TcpStream::connect(addr.as_str()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(b"GET /signin HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    drop(child);
    let response = response.expect("the portal printed its address");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("<h1>Sign in</h1>"));
    assert!(response.to_lowercase().contains("set-cookie: portal_session="));
}
