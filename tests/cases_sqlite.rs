//! Every store-generic case of `docs/cases.md` (C01 to C08, C10 to
//! C17; C09 and C18 are about the process and its logs) against
//! `SqliteStore`, each on a fresh database file with a pool of several
//! connections (so the races are real).

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
    case_c03_sqlite_off_by_one => cases::case_c03,
    case_c07_sqlite_no_replay_after_activation => cases::case_c07,
    case_c08_sqlite_expiry_without_grace => cases::case_c08,
    case_c12_sqlite_leading_zeros => cases::case_c12,
    case_c13_sqlite_fresh_pin_differs => cases::case_c13_fresh_pin,
    case_c14_sqlite_policy_at_forced_change => cases::case_c14,
    case_c15_sqlite_no_ticket_no_password => cases::case_c15,
    case_c16_sqlite_pin_bound_to_user => cases::case_c16,
    case_c17_sqlite_malformed_secrets => cases::case_c17,
    case_c04_sqlite_password_sign_in_ends_a_pending_reset => cases::case_c04_password_sign_in_ends_a_pending_reset,
    case_c04_sqlite_locked_account_gets_no_self_service_pin => cases::case_c04_locked_account_gets_no_self_service_pin,
    case_c08_sqlite_pin_lives_its_full_ttl => cases::case_c08_pin_lives_its_full_ttl,
    case_c10_sqlite_one_mailbox_one_account => cases::case_c10_one_mailbox_one_account,
    case_c14_sqlite_identifier_in_any_spelling => cases::case_c14_identifier_in_any_spelling,
}
