//! [`SqliteStore`]: both stores in one SQLite database (feature `sqlite`),
//! for a portal that runs on one server.
//!
//! Files use write-ahead logging, so readers never wait for the writer;
//! writers wait up to the connection's busy timeout (5 s by default) for the
//! database lock and then fail with a backend error. See the
//! [module docs](super) for how each atomic promise maps to SQL.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};

use super::{
    DeliveryRow, Durability, MIGRATIONS_TABLE, PinColumns, UserRow, backend, channel_text, conflict_or_backend,
    corrupt, delivery_columns, purpose_text, refusal, send_decision, ticket_record,
};
use crate::identity::{Email, Login, Phone, UserId};
use crate::state::AccountState;
use crate::store::{
    AttemptLimits, AttemptReservation, DeliveryRecord, PinRecord, PinSnapshot, PinStore, SendLimits, SendReservation,
    StoreError, TicketRecord, User, UserStore,
};

/// [`UserStore`] and [`PinStore`] over an SQLite pool. Clones share the
/// pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("filename", &self.pool.connect_options().get_filename())
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

/// Whether the URL names an in-memory database, which lives only as long
/// as one of its connections.
fn is_memory_url(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl SqliteStore {
    /// Opens the database at `url`: a file (`sqlite://activation.db`,
    /// created if missing, in write-ahead-log mode) or memory
    /// (`sqlite::memory:`). An in-memory database gets a pool of exactly one
    /// connection that is never closed, so every call sees the same data
    /// for as long as the store lives. Does not create the tables: call
    /// [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// [`StoreErrorKind::Backend`](crate::store::StoreErrorKind::Backend)
    /// for a malformed URL or a database that cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, Durability::Full).await
    }

    /// [`connect`](Self::connect) with the given [`Durability`]: `Full` is
    /// `synchronous = FULL`, `Relaxed` is `synchronous = NORMAL` (safe from
    /// corruption in write-ahead-log mode). An in-memory database has no
    /// disk to wait for either way.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Relaxed => SqliteSynchronous::Normal,
            });
        let pool = if is_memory_url(url) {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                .await
        }
        .map_err(backend)?;
        Ok(Self { pool })
    }

    /// Uses a pool the portal configured itself. For an in-memory database
    /// the pool must keep one connection open for the database to live.
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The pool (for the portal's own queries, health checks, shutdown).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates or upgrades the tables (embedded migrations, tracked in
    /// `_pin_activation_migrations`). Safe to run at every start.
    ///
    /// # Errors
    /// [`StoreErrorKind::Backend`](crate::store::StoreErrorKind::Backend)
    /// when a migration fails or the database changed under a migration
    /// that already ran.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator = sqlx::migrate!("migrations/sqlite");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&self.pool).await.map_err(StoreError::backend)
    }
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn instant(micros: i64, table: &'static str, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(table, column))
}

fn opt_instant(
    micros: Option<i64>,
    table: &'static str,
    column: &'static str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    micros.map(|m| instant(m, table, column)).transpose()
}

/// `UNIQUE constraint failed: activation_users.email` names the column.
fn user_conflict_field(db: &dyn sqlx::error::DatabaseError) -> Option<&'static str> {
    match db.message().rsplit('.').next()? {
        "id" => Some("id"),
        "email" => Some("email"),
        "phone" => Some("phone"),
        _ => None,
    }
}

/// The `activation_users` columns [`user_from_row`] reads.
macro_rules! user_columns {
    () => {
        "id, display_name, role, email, phone, state, password_hash, credential_version, created_at"
    };
}

/// The PIN columns [`pin_from_row`] reads.
macro_rules! pin_columns {
    () => {
        "pin_id, pin_hash, purpose, channel_kind, channel_address, issued_at, expires_at, attempts, issued_by"
    };
}

/// Removes the PIN and the ticket from an `activation_pins` row; the
/// account's failures stay.
macro_rules! clear_pin {
    () => {
        "previous_pin_hash = COALESCE(pin_hash, previous_pin_hash), \
         pin_id = NULL, pin_hash = NULL, purpose = NULL, channel_kind = NULL, channel_address = NULL, \
         issued_at = NULL, expires_at = NULL, attempts = 0, issued_by = NULL, \
         ticket_hash = NULL, ticket_pin_id = NULL, ticket_expires_at = NULL"
    };
}

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    UserRow {
        id: row.try_get("id").map_err(backend)?,
        display_name: row.try_get("display_name").map_err(backend)?,
        role: row.try_get("role").map_err(backend)?,
        email: row.try_get("email").map_err(backend)?,
        phone: row.try_get("phone").map_err(backend)?,
        state: row.try_get("state").map_err(backend)?,
        password_hash: row.try_get("password_hash").map_err(backend)?,
        credential_version: row.try_get("credential_version").map_err(backend)?,
        created_at: instant(
            row.try_get("created_at").map_err(backend)?,
            "activation_users",
            "created_at",
        )?,
    }
    .into_user()
}

fn pin_from_row(row: &SqliteRow) -> Result<Option<PinRecord>, StoreError> {
    const T: &str = "activation_pins";
    PinColumns {
        pin_id: row.try_get("pin_id").map_err(backend)?,
        hash: row.try_get("pin_hash").map_err(backend)?,
        purpose: row.try_get("purpose").map_err(backend)?,
        channel_kind: row.try_get("channel_kind").map_err(backend)?,
        channel_address: row.try_get("channel_address").map_err(backend)?,
        issued_at: opt_instant(row.try_get("issued_at").map_err(backend)?, T, "issued_at")?,
        expires_at: opt_instant(row.try_get("expires_at").map_err(backend)?, T, "expires_at")?,
        attempts: row.try_get("attempts").map_err(backend)?,
        issued_by: row.try_get("issued_by").map_err(backend)?,
    }
    .into_pin()
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert(&self, user: User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO activation_users \
             (id, display_name, role, email, phone, state, password_hash, credential_version, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(user.id.as_str())
        .bind(&user.display_name)
        .bind(user.role.to_string())
        .bind(user.email.as_ref().map(Email::as_str))
        .bind(user.phone.as_ref().map(Phone::as_str))
        .bind(user.state.as_str())
        .bind(user.password_hash.as_deref())
        .bind(i64::try_from(user.credential_version).map_err(StoreError::backend)?)
        .bind(micros(user.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or_backend(e, user_conflict_field))?;
        Ok(())
    }

    async fn get(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM activation_users WHERE id = ?1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        let query = match login {
            Login::Email(email) => sqlx::query(concat!(
                "SELECT ",
                user_columns!(),
                " FROM activation_users WHERE email = ?1"
            ))
            .bind(email.as_str()),
            Login::Phone(phone) => sqlx::query(concat!(
                "SELECT ",
                user_columns!(),
                " FROM activation_users WHERE phone = ?1"
            ))
            .bind(phone.as_str()),
        };
        let row = query.fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM activation_users ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update_contact(
        &self,
        id: &UserId,
        email: Option<Email>,
        phone: Option<Phone>,
    ) -> Result<User, StoreError> {
        let row = sqlx::query(concat!(
            "UPDATE activation_users SET email = ?2, phone = ?3 WHERE id = ?1 RETURNING ",
            user_columns!()
        ))
        .bind(id.as_str())
        .bind(email.as_ref().map(Email::as_str))
        .bind(phone.as_ref().map(Phone::as_str))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| conflict_or_backend(e, user_conflict_field))?;
        match row {
            Some(row) => user_from_row(&row),
            None => Err(StoreError::not_found()),
        }
    }

    async fn transition(
        &self,
        id: &UserId,
        from: AccountState,
        to: AccountState,
        revoke_password: bool,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE activation_users SET state = ?3, \
             password_hash = CASE WHEN ?4 THEN NULL ELSE password_hash END, \
             credential_version = credential_version + CASE WHEN ?4 THEN 1 ELSE 0 END \
             WHERE id = ?1 AND state = ?2 \
             AND (?3 <> 'active' OR (password_hash IS NOT NULL AND NOT ?4))",
        )
        .bind(id.as_str())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(revoke_password)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_password(
        &self,
        id: &UserId,
        from: AccountState,
        password_hash: String,
    ) -> Result<Option<u64>, StoreError> {
        let version: Option<i64> = sqlx::query_scalar(
            "UPDATE activation_users SET state = 'active', password_hash = ?3, \
             credential_version = credential_version + 1 \
             WHERE id = ?1 AND state = ?2 RETURNING credential_version",
        )
        .bind(id.as_str())
        .bind(from.as_str())
        .bind(password_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        version
            .map(|v| u64::try_from(v).map_err(|_| corrupt("activation_users", "credential_version")))
            .transpose()
    }

    async fn replace_password_hash(&self, id: &UserId, old: &str, new: String) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE activation_users SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2")
            .bind(id.as_str())
            .bind(old)
            .bind(new)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

/// Grants an attempt when the row allows one; the common case of
/// `reserve_attempt`, one statement.
const RESERVE_ATTEMPT: &str = concat!(
    "UPDATE activation_pins SET attempts = attempts + 1, failures = failures + 1 \
     WHERE user_id = ?1 AND pin_id IS NOT NULL AND failures < ?2 AND expires_at > ?3 AND attempts < ?4 \
     RETURNING failures, ",
    pin_columns!()
);

impl SqliteStore {
    async fn try_reserve<'c, E>(
        executor: E,
        user: &UserId,
        now: DateTime<Utc>,
        limits: AttemptLimits,
    ) -> Result<Option<AttemptReservation>, StoreError>
    where
        E: sqlx::SqliteExecutor<'c>,
    {
        let row = sqlx::query(RESERVE_ATTEMPT)
            .bind(user.as_str())
            .bind(i64::from(limits.max_account_failures))
            .bind(micros(now))
            .bind(i64::from(limits.max_attempts))
            .fetch_optional(executor)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let failures: i64 = row.try_get("failures").map_err(backend)?;
        let pin = pin_from_row(&row)?.ok_or_else(|| corrupt("activation_pins", "pin_id"))?;
        Ok(Some(AttemptReservation::Granted {
            pin,
            failures: u32::try_from(failures).map_err(|_| corrupt("activation_pins", "failures"))?,
        }))
    }
}

#[async_trait]
impl PinStore for SqliteStore {
    async fn reserve_send(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: SendLimits,
    ) -> Result<SendReservation, StoreError> {
        // The database write lock, taken up front: checking and recording
        // the send cannot interleave with another re-send.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        let day_ago = micros(now - TimeDelta::hours(24));
        sqlx::query("DELETE FROM activation_sends WHERE user_id = ?1 AND sent_at <= ?2")
            .bind(user.as_str())
            .bind(day_ago)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let row = sqlx::query(
            "SELECT MAX(sent_at) AS last, MIN(sent_at) AS oldest, COUNT(*) AS n \
             FROM activation_sends WHERE user_id = ?1",
        )
        .bind(user.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        const T: &str = "activation_sends";
        let last = opt_instant(row.try_get("last").map_err(backend)?, T, "sent_at")?;
        let oldest = opt_instant(row.try_get("oldest").map_err(backend)?, T, "sent_at")?;
        let count: i64 = row.try_get("n").map_err(backend)?;
        let decision = send_decision(now, limits, last, oldest, count);
        if decision == SendReservation::Granted {
            sqlx::query("INSERT INTO activation_sends (user_id, sent_at) VALUES (?1, ?2)")
                .bind(user.as_str())
                .bind(micros(now))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(decision)
    }

    async fn release_send(&self, user: &UserId, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM activation_sends WHERE id = \
             (SELECT id FROM activation_sends WHERE user_id = ?1 AND sent_at = ?2 LIMIT 1)",
        )
        .bind(user.as_str())
        .bind(micros(at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn put_pin(&self, user: &UserId, pin: PinRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO activation_pins (user_id, pin_id, pin_hash, purpose, channel_kind, channel_address, \
             issued_at, expires_at, attempts, issued_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (user_id) DO UPDATE SET \
             previous_pin_hash = COALESCE(activation_pins.pin_hash, activation_pins.previous_pin_hash), \
             pin_id = excluded.pin_id, pin_hash = excluded.pin_hash, \
             purpose = excluded.purpose, channel_kind = excluded.channel_kind, \
             channel_address = excluded.channel_address, issued_at = excluded.issued_at, \
             expires_at = excluded.expires_at, attempts = excluded.attempts, issued_by = excluded.issued_by, \
             ticket_hash = NULL, ticket_pin_id = NULL, ticket_expires_at = NULL",
        )
        .bind(user.as_str())
        .bind(&pin.pin_id)
        .bind(&pin.hash)
        .bind(purpose_text(pin.purpose))
        .bind(channel_text(pin.channel.kind()))
        .bind(pin.channel.address())
        .bind(micros(pin.issued_at))
        .bind(micros(pin.expires_at))
        .bind(i64::from(pin.attempts))
        .bind(pin.issued_by.as_ref().map(UserId::as_str))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn snapshot(&self, user: &UserId) -> Result<PinSnapshot, StoreError> {
        // One statement, so the PIN and the deliveries are read together.
        let rows = sqlx::query(
            "SELECT p.failures, p.previous_pin_hash, p.pin_id, p.pin_hash, p.purpose, p.channel_kind, p.channel_address, \
             p.issued_at, p.expires_at, p.attempts, p.issued_by, d.channel, d.at, d.outcome, d.provider_id, d.error_kind \
             FROM (SELECT ?1 AS user_id) AS k \
             LEFT JOIN activation_pins AS p ON p.user_id = k.user_id \
             LEFT JOIN activation_deliveries AS d ON d.user_id = k.user_id \
             ORDER BY d.channel",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut snapshot = PinSnapshot::default();
        for (i, row) in rows.iter().enumerate() {
            if i == 0 {
                let failures: Option<i64> = row.try_get("failures").map_err(backend)?;
                if let Some(failures) = failures {
                    snapshot.failures = u32::try_from(failures).map_err(|_| corrupt("activation_pins", "failures"))?;
                    snapshot.pin = pin_from_row(row)?;
                    snapshot.previous_hash = row.try_get("previous_pin_hash").map_err(backend)?;
                }
            }
            let channel: Option<String> = row.try_get("channel").map_err(backend)?;
            if let Some(channel) = channel {
                let at: i64 = row.try_get("at").map_err(backend)?;
                snapshot.deliveries.push(
                    DeliveryRow {
                        channel,
                        at: instant(at, "activation_deliveries", "at")?,
                        outcome: row.try_get("outcome").map_err(backend)?,
                        provider_id: row.try_get("provider_id").map_err(backend)?,
                        error_kind: row.try_get("error_kind").map_err(backend)?,
                    }
                    .into_record()?,
                );
            }
        }
        snapshot.deliveries.sort_by_key(|d| d.channel);
        Ok(snapshot)
    }

    async fn reserve_attempt(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: AttemptLimits,
    ) -> Result<AttemptReservation, StoreError> {
        if let Some(granted) = Self::try_reserve(&self.pool, user, now, limits).await? {
            return Ok(granted);
        }
        // Refused: find out why under the write lock, trying once more
        // there, since the PIN may have been replaced since the update.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        if let Some(granted) = Self::try_reserve(&mut *tx, user, now, limits).await? {
            tx.commit().await.map_err(backend)?;
            return Ok(granted);
        }
        let row = sqlx::query("SELECT failures, pin_id, expires_at, attempts FROM activation_pins WHERE user_id = ?1")
            .bind(user.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let Some(row) = row else {
            return Ok(AttemptReservation::NoPin);
        };
        let pin_id: Option<String> = row.try_get("pin_id").map_err(backend)?;
        let expires_at = opt_instant(
            row.try_get("expires_at").map_err(backend)?,
            "activation_pins",
            "expires_at",
        )?;
        Ok(refusal(
            row.try_get("failures").map_err(backend)?,
            pin_id.is_some(),
            expires_at,
            row.try_get("attempts").map_err(backend)?,
            now,
            limits,
        )
        // The update just refused under the same lock, so a row that seems
        // to allow an attempt cannot be read correctly.
        .ok_or_else(|| corrupt("activation_pins", "attempts"))?)
    }

    async fn record_success(&self, user: &UserId, pin_id: &str, ticket: TicketRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE activation_pins SET attempts = MAX(attempts - 1, 0), failures = 0, \
             ticket_hash = ?3, ticket_pin_id = ?4, ticket_expires_at = ?5 \
             WHERE user_id = ?1 AND pin_id = ?2",
        )
        .bind(user.as_str())
        .bind(pin_id)
        .bind(&ticket.hash)
        .bind(&ticket.pin_id)
        .bind(micros(ticket.expires_at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, ticket_pin_id, ticket_hash, ticket_expires_at FROM activation_pins \
             WHERE ticket_hash = ?1",
        )
        .bind(ticket_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires_at: i64 = row.try_get("ticket_expires_at").map_err(backend)?;
        ticket_record(
            row.try_get("user_id").map_err(backend)?,
            row.try_get("ticket_pin_id").map_err(backend)?,
            row.try_get("ticket_hash").map_err(backend)?,
            instant(expires_at, "activation_pins", "ticket_expires_at")?,
        )
        .map(Some)
    }

    async fn consume_ticket(&self, user: &UserId, ticket_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE activation_pins SET ",
            clear_pin!(),
            " WHERE user_id = ?1 AND ticket_hash = ?2 AND ticket_expires_at > ?3 AND ticket_pin_id = pin_id"
        ))
        .bind(user.as_str())
        .bind(ticket_hash)
        .bind(micros(now))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_pin(&self, user: &UserId) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "UPDATE activation_pins SET ",
            clear_pin!(),
            " WHERE user_id = ?1"
        ))
        .bind(user.as_str())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn record_delivery(&self, user: &UserId, record: DeliveryRecord) -> Result<(), StoreError> {
        let (outcome, provider_id, error_kind) = delivery_columns(&record.outcome);
        sqlx::query(
            "INSERT INTO activation_deliveries (user_id, channel, at, outcome, provider_id, error_kind) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (user_id, channel) DO UPDATE SET at = excluded.at, outcome = excluded.outcome, \
             provider_id = excluded.provider_id, error_kind = excluded.error_kind",
        )
        .bind(user.as_str())
        .bind(channel_text(record.channel))
        .bind(micros(record.at))
        .bind(outcome)
        .bind(provider_id)
        .bind(error_kind)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn clear_failures(&self, user: &UserId) -> Result<(), StoreError> {
        sqlx::query("UPDATE activation_pins SET failures = 0 WHERE user_id = ?1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
