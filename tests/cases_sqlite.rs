//! The cases of `shared/cases/cases.md` that concern storage (C01, C02,
//! C04, C05, C06, C10, C11) against `SqliteStore`, each on a fresh database
//! file with a pool of several connections (so the races are real).

mod common;

use common::cases;
use pin_activation::SqliteStore;

/// A migrated store on a new file; keep the directory alive for the test.
async fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cases.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

macro_rules! sqlite_case {
    ($($name:ident => $case:path),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (store, _dir) = fresh_store().await;
            $case(store.clone(), store).await;
        }
    )*};
}

sqlite_case! {
    case_c01_sqlite_concurrent_guesses => cases::case_c01,
    case_c02_sqlite_right_pin_twice_at_once => cases::case_c02,
    case_c04_sqlite_resend_keeps_failures => cases::case_c04,
    case_c05_sqlite_old_pin_dies => cases::case_c05,
    case_c06_sqlite_one_ticket_two_passwords => cases::case_c06,
    case_c10_sqlite_uppercase_email => cases::case_c10,
    case_c11_sqlite_phone_formats => cases::case_c11,
}
