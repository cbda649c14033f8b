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
