//! Helpers for the tests of the SQL stores: fresh stores (a temporary SQLite
//! file, SQLite in memory, a PostgreSQL schema of their own), services over
//! them, and error-chain checks.
#![allow(dead_code, unreachable_pub)]

use std::error::Error as StdError;

use chrono::{DateTime, TimeZone, Utc};
use pin_activation::{
    ActivationConfig, ActivationService, ManualClock, MemoryAudit, OutboxNotifier, PinStore, UserId, UserStore,
};

/// The instant every test clock starts at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap()
}

/// A service over `users` and `pins` with the `Testing` preset, a manual
/// clock at [`t0`], an outbox and an audit log.
pub type TestService<U, P> = ActivationService<U, P, OutboxNotifier, ManualClock>;

/// Builds a [`TestService`] with `config` (normally `for_tests()`).
pub fn service_with<U: UserStore, P: PinStore>(
    users: U,
    pins: P,
    config: ActivationConfig,
    clock: ManualClock,
    audit: MemoryAudit,
) -> TestService<U, P> {
    ActivationService::builder(users, pins, OutboxNotifier::new_ok())
        .config(config)
        .clock(clock)
        .audit(audit)
        .build()
        .expect("the test config is valid")
}

/// The PIN last sent to `user` by `service`, as typed at sign-in.
pub fn last_pin<U: UserStore, P: PinStore>(service: &TestService<U, P>, user: &UserId) -> String {
    service
        .notifier()
        .last_pin_for(user)
        .expect("a PIN was sent")
        .expose_secret()
        .to_owned()
}

/// Every message in `err`'s source chain, outermost first.
pub fn chain(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut out = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        out.push(e.to_string());
        next = e.source();
    }
    out
}

/// Asserts `err` is `Error::Store` whose source chain reaches the driver's
/// error and mentions one of `needles`.
pub fn assert_store_error(err: &pin_activation::Error, needles: &[&str]) {
    assert!(
        matches!(err, pin_activation::Error::Store(_)),
        "expected a store error, got {err:?}"
    );
    let messages = chain(err);
    assert!(
        messages.len() >= 3,
        "the store error chains the driver's error as its source: {messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| needles.iter().any(|n| m.to_lowercase().contains(n))),
        "the error chain mentions one of {needles:?}: {messages:?}"
    );
}

#[cfg(feature = "postgres")]
pub mod pg {
    //! A PostgreSQL schema of its own for each test.

    use super::*;
    use pin_activation::PostgresStore;
    use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
    use std::str::FromStr;
    use std::time::Duration;

    /// Where the tests look for PostgreSQL unless
    /// `PIN_ACTIVATION_TEST_POSTGRES` says otherwise.
    pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

    /// A fresh schema; [`drop`](Self::drop) removes it.
    pub struct Schema {
        pub url: String,
        pub name: String,
        admin: PgPool,
    }

    fn in_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
    }

    /// A fresh schema, or `None` (with the reason on stderr) when no
    /// PostgreSQL answers outside CI. In CI a missing server fails the test.
    pub async fn schema(test: &str) -> Option<Schema> {
        let url = std::env::var("PIN_ACTIVATION_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await;
        let admin = match admin {
            Ok(pool) => pool,
            Err(e) if in_ci() => panic!(
                "{test}: PostgreSQL is required in CI (CI=true) but {url} is unreachable: {e}; \
                 set PIN_ACTIVATION_TEST_POSTGRES or start the server"
            ),
            Err(e) => {
                eprintln!(
                    "SKIPPED {test}: no PostgreSQL at {url} ({e}); set PIN_ACTIVATION_TEST_POSTGRES \
                     to a reachable server to run it"
                );
                return None;
            }
        };
        let created = unix_seconds();
        drop_stale_schemas(&admin, created).await;
        let name = format!(
            "pin_test_{created}_{}",
            &UserId::random().as_str()[2..14].to_lowercase()
        );
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .expect("create the test schema");
        Some(Schema { url, name, admin })
    }

    /// Wall time, only to name schemas and find ones left behind.
    #[allow(clippy::disallowed_methods)]
    fn unix_seconds() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// Drops test schemas over an hour old: left behind by a failed run
    /// (a test that panics never reaches its own drop).
    async fn drop_stale_schemas(admin: &PgPool, now: u64) {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'pin\\_test\\_%'")
                .fetch_all(admin)
                .await
                .unwrap_or_default();
        for name in names {
            let created = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok());
            if created.is_some_and(|at| at + 3600 < now) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE")))
                    .execute(admin)
                    .await;
            }
        }
    }

    impl Schema {
        /// Connect options whose sessions work in this schema, named
        /// `application_name` (so a test can find their backends).
        pub fn options(&self, application_name: &str) -> PgConnectOptions {
            PgConnectOptions::from_str(&self.url)
                .expect("a valid URL")
                .application_name(application_name)
                .options([("search_path", self.name.as_str())])
        }

        /// A pool of its own over this schema.
        pub async fn pool(&self, application_name: &str) -> PgPool {
            PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(self.options(application_name))
                .await
                .expect("connect to the test schema")
        }

        /// A migrated store with a pool of its own.
        pub async fn store(&self, application_name: &str) -> PostgresStore {
            let store = PostgresStore::from_pool(self.pool(application_name).await);
            store.migrate().await.expect("migrate");
            store
        }

        /// A connection pool outside the schema, for faults and checks.
        pub fn admin(&self) -> &PgPool {
            &self.admin
        }

        /// Ends every session named `application_name`; returns how many.
        pub async fn terminate(&self, application_name: &str) -> i64 {
            sqlx::query_scalar(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
            )
            .bind(application_name)
            .fetch_one(&self.admin)
            .await
            .expect("terminate backends")
        }

        /// Waits (bounded) until a session named `application_name` waits
        /// for a lock.
        pub async fn wait_until_blocked(&self, application_name: &str) {
            for _ in 0..500 {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE application_name = $1 AND wait_event_type = 'Lock'",
                )
                .bind(application_name)
                .fetch_one(&self.admin)
                .await
                .expect("read pg_stat_activity");
                if waiting > 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("no session of {application_name} ever waited for the lock");
        }

        /// Drops the schema (best effort) and closes the admin pool.
        pub async fn drop(self) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.name)))
                .execute(&self.admin)
                .await;
            self.admin.close().await;
        }
    }
}
