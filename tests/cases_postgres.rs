//! The cases of `shared/cases/cases.md` that concern storage (C01, C02,
//! C04, C05, C06, C10, C11) against `PostgresStore`, each in a schema of its
//! own. Without a server they skip with a reason on stderr, except under
//! `CI=true`, where they fail (see `sql_support::pg`).

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
}
