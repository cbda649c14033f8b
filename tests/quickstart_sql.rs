//! The quickstart example on real storage (`--database`): the same story as
//! in memory, and a clear refusal to reuse a database that holds users.
//! Runs the example binary that `cargo test` builds.

mod sql_support;

use std::path::PathBuf;
use std::process::{Command, Output};

fn quickstart(args: &[&str]) -> Output {
    // target/<profile>/deps/quickstart_sql-<hash> -> target/<profile>/examples/quickstart
    let exe = std::env::current_exe().unwrap();
    let path: PathBuf = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("quickstart");
    assert!(
        path.exists(),
        "{} was not built; run `cargo test --examples` or the full `cargo test`",
        path.display()
    );
    Command::new(&path).args(args).output().unwrap()
}

/// Runs the story and checks the lines that tell it.
fn assert_whole_story(args: &[&str], storage: &str) {
    let out = quickstart(args);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "quickstart {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        format!("pin-activation quickstart: {storage} at {}, OWASP argon2id", args[1]),
        "staff create tenant Uma Ueda <ueda.uma@example.com>".into(),
        "+ PIN: accepted -> must choose a new password now".into(),
        "\"copper lantern harbour\": accepted; account active (credential version 1)".into(),
        "email + password: signed in".into(),
        "phone + password: signed in".into(),
        "the old PIN: refused (invalid credentials)".into(),
        "Bo + old PIN: refused (invalid credentials)".into(),
        "Bo + new PIN: accepted".into(),
        "a second click right away: a PIN was sent too recently".into(),
        "Uma + PIN after 73 h: refused (invalid credentials)".into(),
        "Oskar Zimmer   tenant   no email or phone: \"Activate Account\" is greyed out".into(),
        "Nia Fong       tenant   active (signs in with a password)".into(),
    ] {
        assert!(stdout.contains(&expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn quickstart_on_sqlite_tells_the_same_story_and_refuses_a_used_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("activation-demo.db").display());
    assert_whole_story(&["--database", &url], "SQLite");

    let again = quickstart(&["--database", &url]);
    assert!(!again.status.success(), "a second run on the same file is refused");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.starts_with("error: ")
            && stderr.contains(&url)
            && stderr.contains("already holds users")
            && stderr.contains("fresh database"),
        "{stderr}"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_on_postgres_tells_the_same_story() {
    let Some(schema) = sql_support::pg::schema("quickstart_on_postgres").await else {
        return;
    };
    let separator = if schema.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}options[search_path]={}", schema.url, schema.name);
    tokio::task::spawn_blocking(move || assert_whole_story(&["--database", &url], "PostgreSQL"))
        .await
        .unwrap();
    let users: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.activation_users",
        schema.name
    )))
    .fetch_one(schema.admin())
    .await
    .unwrap();
    assert_eq!(users, 4, "the story's users live in the test's schema");
    schema.drop().await;
}
