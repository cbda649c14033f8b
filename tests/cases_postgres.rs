//! Every store-generic case of `docs/cases.md` (C01 to C08, C10 to
//! C17; C09 and C18 are about the process and its logs) against
//! `PostgresStore`, each in a schema of its own. Without a server they skip
//! with a reason on stderr, except under `CI=true`, where they fail (see
//! `sql_support::pg`).

mod common;
mod sql_support;

use common::cases;
use sql_support::pg;

macro_rules! postgres_case {
    ($($name:ident => $case:path),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some(schema) = pg::schema(stringify!($name)).await else {
                return;
            };
            let store = schema.store(stringify!($name)).await;
            $case(store.clone(), store.clone()).await;
            store.pool().close().await;
            schema.drop().await;
        }
    )*};
}

postgres_case! {
    case_c01_postgres_concurrent_guesses => cases::case_c01,
    case_c02_postgres_right_pin_twice_at_once => cases::case_c02,
    case_c04_postgres_resend_keeps_failures => cases::case_c04,
    case_c05_postgres_old_pin_dies => cases::case_c05,
    case_c06_postgres_one_ticket_two_passwords => cases::case_c06,
    case_c10_postgres_uppercase_email => cases::case_c10,
    case_c11_postgres_phone_formats => cases::case_c11,
    case_c03_postgres_off_by_one => cases::case_c03,
    case_c07_postgres_no_replay_after_activation => cases::case_c07,
    case_c08_postgres_expiry_without_grace => cases::case_c08,
    case_c12_postgres_leading_zeros => cases::case_c12,
    case_c13_postgres_fresh_pin_differs => cases::case_c13_fresh_pin,
    case_c14_postgres_policy_at_forced_change => cases::case_c14,
    case_c15_postgres_no_ticket_no_password => cases::case_c15,
    case_c16_postgres_pin_bound_to_user => cases::case_c16,
    case_c17_postgres_malformed_secrets => cases::case_c17,
    case_c04_postgres_password_sign_in_ends_a_pending_reset => cases::case_c04_password_sign_in_ends_a_pending_reset,
    case_c04_postgres_locked_account_gets_no_self_service_pin => cases::case_c04_locked_account_gets_no_self_service_pin,
    case_c08_postgres_pin_lives_its_full_ttl => cases::case_c08_pin_lives_its_full_ttl,
    case_c10_postgres_one_mailbox_one_account => cases::case_c10_one_mailbox_one_account,
    case_c14_postgres_identifier_in_any_spelling => cases::case_c14_identifier_in_any_spelling,
}
