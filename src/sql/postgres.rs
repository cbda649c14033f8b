//! [`PostgresStore`]: both stores in PostgreSQL (feature `postgres`), for a
//! portal that runs several instances behind a load balancer: every
//! instance sees one truth, and the limits hold across instances because
//! they are enforced by the database, not in process memory. See the
//! [module docs](super) for how each atomic promise maps to SQL.
//!
//! The tables are unqualified, so they live in the first schema of the
//! connection's `search_path` (set it per pool to keep them apart from the
//! portal's own tables).

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};

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

/// [`UserStore`] and [`PinStore`] over a PostgreSQL pool. Clones share the
/// pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL or the options as a whole: they may hold a password.
        let options = self.pool.connect_options();
        f.debug_struct("PostgresStore")
            .field("host", &options.get_host())
            .field("port", &options.get_port())
            .field("database", &options.get_database())
            .field("username", &options.get_username())
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects a pool with sqlx's defaults to `url`
    /// (`postgres://user:password@host:5432/database`), with
    /// [`Durability::Full`]. Does not create the tables: call
    /// [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// [`StoreErrorKind::Backend`](crate::store::StoreErrorKind::Backend)
    /// for a malformed URL or an unreachable server.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        Self::connect_with(options, Durability::Full).await
    }

    /// Connects a pool with sqlx's defaults using `options` (host, TLS,
    /// `search_path`, ...); [`Durability::Relaxed`] adds
    /// `synchronous_commit = off` to the sessions' options.
    ///
    /// # Errors
    /// [`StoreErrorKind::Backend`](crate::store::StoreErrorKind::Backend)
    /// for an unreachable server.
    pub async fn connect_with(options: PgConnectOptions, durability: Durability) -> Result<Self, StoreError> {
        let options = match durability {
            Durability::Full => options,
            Durability::Relaxed => options.options([("synchronous_commit", "off")]),
        };
        let pool = PgPoolOptions::new().connect_with(options).await.map_err(backend)?;
        Ok(Self { pool })
    }

    /// Uses a pool the portal configured itself (size, timeouts, TLS,
    /// `search_path`).
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool (for the portal's own queries, health checks, shutdown).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates or upgrades the tables (embedded migrations, tracked in
    /// `_pin_activation_migrations`, under sqlx's advisory lock so that
    /// instances starting together do not race). Safe to run at every start.
    ///
    /// # Errors
    /// [`StoreErrorKind::Backend`](crate::store::StoreErrorKind::Backend)
    /// when a migration fails or the database changed under a migration
    /// that already ran.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator = sqlx::migrate!("migrations/postgres");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator.run(&self.pool).await.map_err(StoreError::backend)
    }
}

/// The constraint names of the migration say which field is taken.
fn user_conflict_field(db: &dyn sqlx::error::DatabaseError) -> Option<&'static str> {
    match db.constraint()? {
        "activation_users_id_key" => Some("id"),
        "activation_users_email_key" => Some("email"),
        "activation_users_phone_key" => Some("phone"),
        _ => None,
    }
}

/// A limit as the `INTEGER` columns it is compared with; a limit beyond
/// their range is no limit they can reach.
fn int4(limit: u32) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
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

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    UserRow {
        id: row.try_get("id").map_err(backend)?,
        display_name: row.try_get("display_name").map_err(backend)?,
        role: row.try_get("role").map_err(backend)?,
        email: row.try_get("email").map_err(backend)?,
        phone: row.try_get("phone").map_err(backend)?,
        state: row.try_get("state").map_err(backend)?,
        password_hash: row.try_get("password_hash").map_err(backend)?,
        credential_version: row.try_get("credential_version").map_err(backend)?,
        created_at: row.try_get("created_at").map_err(backend)?,
    }
    .into_user()
}

fn pin_from_row(row: &PgRow) -> Result<Option<PinRecord>, StoreError> {
    let attempts: Option<i32> = row.try_get("attempts").map_err(backend)?;
    PinColumns {
        pin_id: row.try_get("pin_id").map_err(backend)?,
        hash: row.try_get("pin_hash").map_err(backend)?,
        purpose: row.try_get("purpose").map_err(backend)?,
        channel_kind: row.try_get("channel_kind").map_err(backend)?,
        channel_address: row.try_get("channel_address").map_err(backend)?,
        issued_at: row.try_get("issued_at").map_err(backend)?,
        expires_at: row.try_get("expires_at").map_err(backend)?,
        attempts: i64::from(attempts.unwrap_or(0)),
        issued_by: row.try_get("issued_by").map_err(backend)?,
    }
    .into_pin()
}

fn count(value: i32, column: &'static str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt("activation_pins", column))
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn insert(&self, user: User) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO activation_users (",
            user_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(user.id.as_str())
        .bind(&user.display_name)
        .bind(user.role.to_string())
        .bind(user.email.as_ref().map(Email::as_str))
        .bind(user.phone.as_ref().map(Phone::as_str))
        .bind(user.state.as_str())
        .bind(user.password_hash.as_deref())
        .bind(i64::try_from(user.credential_version).map_err(StoreError::backend)?)
        .bind(user.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or_backend(e, user_conflict_field))?;
        Ok(())
    }

    async fn get(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM activation_users WHERE id = $1"
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
                " FROM activation_users WHERE email = $1"
            ))
            .bind(email.as_str()),
            Login::Phone(phone) => sqlx::query(concat!(
                "SELECT ",
                user_columns!(),
                " FROM activation_users WHERE phone = $1"
            ))
            .bind(phone.as_str()),
        };
        let row = query.fetch_optional(&self.pool).await.map_err(backend)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        // Byte order of ids whatever the database's collation, as in memory.
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM activation_users ORDER BY created_at, id COLLATE \"C\""
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
            "UPDATE activation_users SET email = $2, phone = $3 WHERE id = $1 RETURNING ",
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
            "UPDATE activation_users SET state = $3, \
             password_hash = CASE WHEN $4 THEN NULL ELSE password_hash END, \
             credential_version = credential_version + CASE WHEN $4 THEN 1 ELSE 0 END \
             WHERE id = $1 AND state = $2 \
             AND ($3 <> 'active' OR (password_hash IS NOT NULL AND NOT $4))",
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
            "UPDATE activation_users SET state = 'active', password_hash = $3, \
             credential_version = credential_version + 1 \
             WHERE id = $1 AND state = $2 RETURNING credential_version",
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
        let done = sqlx::query("UPDATE activation_users SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
            .bind(id.as_str())
            .bind(old)
            .bind(new)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

/// `reserve_attempt` in one statement: lock the user's row, grant the
/// attempt if the locked values allow it, and return what was seen (for the
/// reason of a refusal) along with the granted PIN, if any.
const RESERVE_ATTEMPT: &str = "WITH seen AS (\
         SELECT user_id, failures, pin_id, expires_at, attempts FROM activation_pins \
         WHERE user_id = $1 FOR UPDATE\
     ), granted AS (\
         UPDATE activation_pins AS p SET attempts = p.attempts + 1, failures = p.failures + 1 \
         FROM seen AS s \
         WHERE p.user_id = s.user_id AND s.pin_id IS NOT NULL AND s.failures < $2 \
         AND s.expires_at > $3 AND s.attempts < $4 \
         RETURNING p.failures, p.pin_id, p.pin_hash, p.purpose, p.channel_kind, p.channel_address, \
         p.issued_at, p.expires_at, p.attempts, p.issued_by\
     ) SELECT s.failures AS seen_failures, s.pin_id IS NOT NULL AS seen_pin, s.expires_at AS seen_expires_at, \
     s.attempts AS seen_attempts, g.* FROM seen AS s LEFT JOIN granted AS g ON TRUE";

#[async_trait]
impl PinStore for PostgresStore {
    async fn reserve_send(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: SendLimits,
    ) -> Result<SendReservation, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The user's row is the lock that serializes re-sends of one user
        // across every instance.
        sqlx::query("INSERT INTO activation_pins (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("SELECT 1 FROM activation_pins WHERE user_id = $1 FOR UPDATE")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("DELETE FROM activation_sends WHERE user_id = $1 AND sent_at <= $2")
            .bind(user.as_str())
            .bind(now - TimeDelta::hours(24))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let row = sqlx::query(
            "SELECT MAX(sent_at) AS last, MIN(sent_at) AS oldest, COUNT(*) AS n \
             FROM activation_sends WHERE user_id = $1",
        )
        .bind(user.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let decision = send_decision(
            now,
            limits,
            row.try_get("last").map_err(backend)?,
            row.try_get("oldest").map_err(backend)?,
            row.try_get("n").map_err(backend)?,
        );
        if decision == SendReservation::Granted {
            sqlx::query("INSERT INTO activation_sends (user_id, sent_at) VALUES ($1, $2)")
                .bind(user.as_str())
                .bind(now)
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
             (SELECT id FROM activation_sends WHERE user_id = $1 AND sent_at = $2 LIMIT 1)",
        )
        .bind(user.as_str())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn put_pin(&self, user: &UserId, pin: PinRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO activation_pins (user_id, ",
            pin_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (user_id) DO UPDATE SET \
             previous_pin_hash = COALESCE(activation_pins.pin_hash, activation_pins.previous_pin_hash), \
             pin_id = excluded.pin_id, pin_hash = excluded.pin_hash, \
             purpose = excluded.purpose, channel_kind = excluded.channel_kind, \
             channel_address = excluded.channel_address, issued_at = excluded.issued_at, \
             expires_at = excluded.expires_at, attempts = excluded.attempts, issued_by = excluded.issued_by, \
             ticket_hash = NULL, ticket_pin_id = NULL, ticket_expires_at = NULL"
        ))
        .bind(user.as_str())
        .bind(&pin.pin_id)
        .bind(&pin.hash)
        .bind(purpose_text(pin.purpose))
        .bind(channel_text(pin.channel.kind()))
        .bind(pin.channel.address())
        .bind(pin.issued_at)
        .bind(pin.expires_at)
        .bind(int4(pin.attempts))
        .bind(pin.issued_by.as_ref().map(UserId::as_str))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn snapshot(&self, user: &UserId) -> Result<PinSnapshot, StoreError> {
        // One statement, so the PIN and the deliveries are read together.
        let rows = sqlx::query(concat!(
            "SELECT p.failures, p.previous_pin_hash, ",
            "p.pin_id, p.pin_hash, p.purpose, p.channel_kind, p.channel_address, p.issued_at, p.expires_at, \
             p.attempts, p.issued_by, d.channel, d.at, d.outcome, d.provider_id, d.error_kind \
             FROM (SELECT $1::text AS user_id) AS k \
             LEFT JOIN activation_pins AS p ON p.user_id = k.user_id \
             LEFT JOIN activation_deliveries AS d ON d.user_id = k.user_id \
             ORDER BY d.channel"
        ))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut snapshot = PinSnapshot::default();
        for (i, row) in rows.iter().enumerate() {
            if i == 0 {
                let failures: Option<i32> = row.try_get("failures").map_err(backend)?;
                if let Some(failures) = failures {
                    snapshot.failures = count(failures, "failures")?;
                    snapshot.pin = pin_from_row(row)?;
                    snapshot.previous_hash = row.try_get("previous_pin_hash").map_err(backend)?;
                }
            }
            let channel: Option<String> = row.try_get("channel").map_err(backend)?;
            if let Some(channel) = channel {
                snapshot.deliveries.push(
                    DeliveryRow {
                        channel,
                        at: row.try_get("at").map_err(backend)?,
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
        let row = sqlx::query(RESERVE_ATTEMPT)
            .bind(user.as_str())
            .bind(int4(limits.max_account_failures))
            .bind(now)
            .bind(int4(limits.max_attempts))
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(AttemptReservation::NoPin);
        };
        let granted_failures: Option<i32> = row.try_get("failures").map_err(backend)?;
        if let Some(failures) = granted_failures {
            let pin = pin_from_row(&row)?.ok_or_else(|| corrupt("activation_pins", "pin_id"))?;
            return Ok(AttemptReservation::Granted {
                pin,
                failures: count(failures, "failures")?,
            });
        }
        let seen_failures: i32 = row.try_get("seen_failures").map_err(backend)?;
        let seen_attempts: i32 = row.try_get("seen_attempts").map_err(backend)?;
        refusal(
            i64::from(seen_failures),
            row.try_get("seen_pin").map_err(backend)?,
            row.try_get("seen_expires_at").map_err(backend)?,
            i64::from(seen_attempts),
            now,
            limits,
        )
        // The update refused the very values it locked, so values that seem
        // to allow an attempt cannot be read correctly.
        .ok_or_else(|| corrupt("activation_pins", "attempts"))
    }

    async fn record_success(&self, user: &UserId, pin_id: &str, ticket: TicketRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE activation_pins SET attempts = GREATEST(attempts - 1, 0), failures = 0, \
             ticket_hash = $3, ticket_pin_id = $4, ticket_expires_at = $5 \
             WHERE user_id = $1 AND pin_id = $2",
        )
        .bind(user.as_str())
        .bind(pin_id)
        .bind(&ticket.hash)
        .bind(&ticket.pin_id)
        .bind(ticket.expires_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, ticket_pin_id, ticket_hash, ticket_expires_at FROM activation_pins \
             WHERE ticket_hash = $1",
        )
        .bind(ticket_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        ticket_record(
            row.try_get("user_id").map_err(backend)?,
            row.try_get("ticket_pin_id").map_err(backend)?,
            row.try_get("ticket_hash").map_err(backend)?,
            row.try_get("ticket_expires_at").map_err(backend)?,
        )
        .map(Some)
    }

    async fn consume_ticket(&self, user: &UserId, ticket_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(concat!(
            "UPDATE activation_pins SET ",
            clear_pin!(),
            " WHERE user_id = $1 AND ticket_hash = $2 AND ticket_expires_at > $3 AND ticket_pin_id = pin_id"
        ))
        .bind(user.as_str())
        .bind(ticket_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_pin(&self, user: &UserId) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "UPDATE activation_pins SET ",
            clear_pin!(),
            " WHERE user_id = $1"
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
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id, channel) DO UPDATE SET at = excluded.at, outcome = excluded.outcome, \
             provider_id = excluded.provider_id, error_kind = excluded.error_kind",
        )
        .bind(user.as_str())
        .bind(channel_text(record.channel))
        .bind(record.at)
        .bind(outcome)
        .bind(provider_id)
        .bind(error_kind)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn clear_failures(&self, user: &UserId) -> Result<(), StoreError> {
        sqlx::query("UPDATE activation_pins SET failures = 0 WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
