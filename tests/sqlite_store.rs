//! `SqliteStore`: the store conformance suite on a file and in memory, the
//! whole activation story on a file (surviving a reopen), and faults: a
//! read-only database and a locked one give clear store errors.

mod sql_support;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use pin_activation::{
    AccountState, ActivationConfig, ActivationStatus, Durability, ManualClock, MemoryAudit, NewUser, Password, SignIn,
    SqliteStore, testing,
};
use sql_support::{assert_store_error, last_pin, service_with, t0};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePoolOptions};

fn file_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("activation.db").display())
}

async fn file_store(dir: &tempfile::TempDir) -> SqliteStore {
    let store = SqliteStore::connect(&file_url(dir)).await.expect("open the file");
    store.migrate().await.expect("migrate");
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_keeps_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir).await;
    testing::run_all(Arc::new(store.clone()), Arc::new(store)).await;
}

/// `synchronous` as the pool's connections see it (0 OFF, 1 NORMAL, 2 FULL).
async fn synchronous(store: &SqliteStore) -> i64 {
    sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relaxed_durability_drops_only_the_disk_wait_and_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let full = file_store(&dir).await;
    assert_eq!(synchronous(&full).await, 2, "connect() waits for the disk (FULL)");
    let relaxed_url = format!("sqlite://{}", dir.path().join("relaxed.db").display());
    let relaxed = SqliteStore::connect_with(&relaxed_url, Durability::Relaxed)
        .await
        .unwrap();
    relaxed.migrate().await.unwrap();
    assert_eq!(synchronous(&relaxed).await, 1, "Relaxed is NORMAL");
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(relaxed.pool())
        .await
        .unwrap();
    assert_eq!(
        journal, "wal",
        "NORMAL is only corruption-safe with the write-ahead log"
    );
    testing::run_all(Arc::new(relaxed.clone()), Arc::new(relaxed)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_keeps_the_store_contract() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    testing::run_all(Arc::new(store.clone()), Arc::new(store)).await;
}

#[tokio::test]
async fn migrate_twice_is_harmless() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("a second migrate is a no-op");
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = '_pin_activation_migrations'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(tables, 1, "the crate's migrations are tracked in their own table");
}

#[tokio::test]
async fn debug_shows_the_file_not_more() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let shown = format!("{store:?}");
    assert!(shown.starts_with("SqliteStore"), "{shown}");
    assert!(shown.contains("filename"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_story_on_a_file_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(t0());
    let user_id;
    {
        let store = file_store(&dir).await;
        let service = service_with(
            store.clone(),
            store,
            ActivationConfig::for_tests(),
            clock.clone(),
            MemoryAudit::new(),
        );
        let created = service
            .create_user(NewUser::new("Erin Sqlite").email("Erin.Sqlite@Example.com"), None)
            .await
            .unwrap();
        user_id = created.user.id.clone();
        let pin = last_pin(&service, &user_id);
        clock.advance(TimeDelta::minutes(5));
        let SignIn::ResetRequired { ticket, .. } = service
            .login("erin.sqlite@example.com", &Password::new(pin.clone()))
            .await
            .unwrap()
        else {
            panic!("a right PIN asks for a new password");
        };
        let done = service
            .complete_reset(&user_id, &ticket, &Password::new("a long unusual passphrase"))
            .await
            .unwrap();
        assert_eq!(done.credential_version, 1);
        assert!(
            service
                .login("erin.sqlite@example.com", &Password::new(pin))
                .await
                .is_err(),
            "the PIN is consumed by the reset"
        );
        service.user_store().pool().close().await;
    }
    // A new process opening the same file sees the same truth.
    let store = file_store(&dir).await;
    let service = service_with(
        store.clone(),
        store,
        ActivationConfig::for_tests(),
        clock,
        MemoryAudit::new(),
    );
    let user = service.user(&user_id).await.unwrap();
    assert_eq!(
        (user.state, user.credential_version, user.email.unwrap().as_str()),
        (AccountState::Active, 1, "erin.sqlite@example.com")
    );
    let signed_in = service
        .login("ERIN.SQLITE@example.com", &Password::new("a long unusual passphrase"))
        .await
        .unwrap();
    assert!(matches!(
        signed_in,
        SignIn::SignedIn {
            credential_version: 1,
            ..
        }
    ));
    assert_eq!(
        service.activation_status(&user_id).await.unwrap().status,
        ActivationStatus::Active
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_gives_store_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(t0());
    let user_id;
    let pin;
    {
        let store = file_store(&dir).await;
        let service = service_with(
            store.clone(),
            store,
            ActivationConfig::for_tests(),
            clock.clone(),
            MemoryAudit::new(),
        );
        let created = service
            .create_user(NewUser::new("Rita Readonly").email("rita@example.com"), None)
            .await
            .unwrap();
        user_id = created.user.id;
        pin = last_pin(&service, &user_id);
        service.user_store().pool().close().await;
    }
    // Tests run as root, whom chmod 0444 does not stop: open read-only.
    let url = format!("{}?mode=ro", file_url(&dir));
    let store = SqliteStore::connect(&url).await.expect("a read-only file opens");
    let service = service_with(
        store.clone(),
        store,
        ActivationConfig::for_tests(),
        clock,
        MemoryAudit::new(),
    );
    let user = service.user(&user_id).await.expect("reads still work");
    assert_eq!(user.state, AccountState::Pending);

    let err = service
        .login("rita@example.com", &Password::new(pin))
        .await
        .expect_err("a sign-in must record its attempt");
    assert_store_error(&err, &["readonly"]);
    let err = service
        .create_user(NewUser::new("Nora New").email("nora@example.com"), None)
        .await
        .expect_err("no user can be created");
    assert_store_error(&err, &["readonly"]);
    let pins = service.activation_status(&user_id).await.unwrap();
    assert!(
        matches!(pins.status, ActivationStatus::PinLive { attempts_left: 5, .. }),
        "nothing was half written: {pins:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_gives_a_clear_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(t0());
    let setup = file_store(&dir).await;
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("activation.db"))
        .busy_timeout(Duration::from_millis(100));
    let pool = SqlitePoolOptions::new().connect_with(options.clone()).await.unwrap();
    let store = SqliteStore::from_pool(pool);
    let service = service_with(
        store.clone(),
        store,
        ActivationConfig::for_tests(),
        clock,
        MemoryAudit::new(),
    );
    let created = service
        .create_user(NewUser::new("Lena Locked").email("lena@example.com"), None)
        .await
        .unwrap();
    let pin = last_pin(&service, &created.user.id);

    // Another process holds the write lock.
    let mut other = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.unwrap();
    let err = service
        .login("lena@example.com", &Password::new(pin.clone()))
        .await
        .expect_err("the attempt cannot be recorded while the database is locked");
    assert_store_error(&err, &["locked"]);
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    // Nothing was counted, and the same PIN works once the lock is gone.
    let status = service.activation_status(&created.user.id).await.unwrap().status;
    assert!(
        matches!(status, ActivationStatus::PinLive { attempts_left: 5, .. }),
        "{status:?}"
    );
    let signed_in = service.login("lena@example.com", &Password::new(pin)).await.unwrap();
    assert!(matches!(signed_in, SignIn::ResetRequired { .. }));
    drop(setup);
}
