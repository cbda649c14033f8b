//! SQL adapters: `SqliteStore` (feature `sqlite`)
//! and `PostgresStore` (feature `postgres`).
//!
//! Each store implements both [`UserStore`](crate::UserStore) and
//! [`PinStore`](crate::PinStore) over one connection pool. It is `Clone`
//! (the pool is shared), so one value serves as both stores of an
//! [`ActivationService`](crate::ActivationService):
//!
//! ```ignore
//! let store = SqliteStore::connect("sqlite://activation.db").await?;
//! store.migrate().await?;
//! let service = ActivationService::builder(store.clone(), store, notifier).build()?;
//! ```
//!
//! Queries are checked at run time (`sqlx::query(..).bind(..)`, fixed SQL,
//! no string building), so building the crate never needs a database. The
//! schema ships as embedded migrations run by `migrate()`; they are tracked
//! in their own table, `_pin_activation_migrations`, so they never mix with
//! the portal's own sqlx migrations in the same database.
//!
//! # Schema
//!
//! | table | holds |
//! |---|---|
//! | `activation_users` | users; `email` and `phone` (canonical forms) under UNIQUE constraints |
//! | `activation_pins` | one row per user: the live PIN, its attempts, the account's failure count and the one reset ticket |
//! | `activation_sends` | sends of the last 24 hours (cooldown and daily cap) |
//! | `activation_deliveries` | the last delivery attempt per user and channel |
//!
//! Instants are absolute UTC to the microsecond: `timestamptz` in
//! PostgreSQL, integer microseconds since the Unix epoch in SQLite. The PIN
//! store has no foreign key to the user table, so it can be paired with a
//! portal's own [`UserStore`](crate::UserStore).
//!
//! # How each promise of the contract is kept
//!
//! The PIN, its attempt count, the account's failure count and the ticket
//! share one row, so each atomic promise of the
//! [store contract](crate::store) is one statement on one row:
//!
//! - `reserve_attempt`: `UPDATE .. SET attempts = attempts + 1, failures =
//!   failures + 1 WHERE .. AND failures < $max_failures AND expires_at > $now
//!   AND attempts < $max_attempts RETURNING ..`. In PostgreSQL the row is
//!   first locked (`SELECT .. FOR UPDATE` in a CTE of the same statement),
//!   so a refusal also reports its exact reason in that one statement. In
//!   SQLite a refusal is classified inside `BEGIN IMMEDIATE` (the write
//!   lock), re-running the update there, so a PIN replaced in between is
//!   still granted correctly.
//! - `record_success`: `UPDATE .. WHERE user_id = $1 AND pin_id = $2`
//!   (compare-and-set on the PIN id), storing the ticket in the same row, so
//!   one live ticket per user holds by construction.
//! - `consume_ticket`: one `UPDATE` that clears the PIN and the ticket
//!   `WHERE ticket_hash = $h AND ticket_expires_at > $now AND ticket_pin_id =
//!   pin_id`; racing callers serialize on the row and only the first still
//!   matches.
//! - `put_pin`: one upsert that replaces the PIN columns, drops the ticket
//!   and leaves `failures` alone.
//! - `reserve_send`: one transaction. PostgreSQL locks the user's
//!   `activation_pins` row (`SELECT .. FOR UPDATE`, the row is created if
//!   missing); SQLite takes the database write lock with `BEGIN IMMEDIATE`.
//!   The cooldown and cap are then checked and the send recorded.
//! - `transition`, `set_password`, `replace_password_hash`: one `UPDATE ..
//!   WHERE id = $1 AND state = $from` (or `AND password_hash = $old`).
//!
//! Ticket hashes are matched by SQL equality (`find_ticket` is an indexed
//! lookup, `consume_ticket` a condition of its `UPDATE`), not by a
//! constant-time comparison: the compared value is the BLAKE2b-256 of a
//! 256-bit random ticket, so what timing could reveal (how many leading
//! bytes of a hash match) does not help anyone find a ticket.
//!
//! # Durability
//!
//! Every write is committed before the call returns, and by default
//! ([`Durability::Full`]) each commit also waits for the disk (SQLite
//! `synchronous = FULL`, PostgreSQL's default `synchronous_commit = on`).
//! On the sign-in path that wait is most of what the store costs: two
//! flushes per PIN sign-in (reserving the attempt, recording the success).
//! [`Durability::Relaxed`] drops the wait (SQLite `synchronous = NORMAL` in
//! write-ahead-log mode, PostgreSQL `synchronous_commit = off`); the README's
//! benchmark table shows both. What it risks: after a power cut (SQLite) or
//! a crash of the database server (PostgreSQL), the last transactions before
//! it, up to a fraction of a second of them, are gone: attempts counted
//! there are counted again from the state before, a ticket or a password
//! set there must be set again. The database is never corrupt and never
//! mixes states: what survives is everything up to some commit, in order.
//! A crash of the portal process itself loses nothing in either mode, and
//! the atomic promises (one statement, one lock) are the same.
//!
//! # Errors
//!
//! Unique violations become [`StoreErrorKind::Conflict`](crate::store::StoreErrorKind)
//! with the field (`"id"`, `"email"`, `"phone"`); every other failure
//! (connection lost, read-only or locked database, a row the crate cannot
//! read) is [`StoreErrorKind::Backend`](crate::store::StoreErrorKind) with
//! the driver's error as its source.

use std::error::Error as StdError;

use chrono::{DateTime, Utc};

use crate::identity::{Email, Phone, Role, UserId};
use crate::notify::{Channel, ChannelKind, DeliveryErrorKind, PinPurpose};
use crate::state::AccountState;
use crate::store::{DeliveryOutcome, DeliveryRecord, PinRecord, StoreError, TicketRecord, User};

/// How long a commit waits: until the disk has it, or only until the
/// database has it (see [the module docs](self#durability)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Each commit waits for the disk (the databases' own default).
    #[default]
    Full,
    /// Commits do not wait for the disk: a power cut or a database-server
    /// crash can lose the last fraction of a second of writes, never
    /// consistency.
    Relaxed,
}

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// The table that records which of the crate's migrations ran.
const MIGRATIONS_TABLE: &str = "_pin_activation_migrations";

/// A stored value the crate cannot read back (edited by hand, or written by
/// a newer version).
#[derive(Debug, thiserror::Error)]
#[error("unreadable value in {table}.{column}")]
struct CorruptRow {
    table: &'static str,
    column: &'static str,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

fn corrupt(table: &'static str, column: &'static str) -> StoreError {
    StoreError::backend(CorruptRow {
        table,
        column,
        source: None,
    })
}

fn corrupt_because(
    table: &'static str,
    column: &'static str,
    source: impl StdError + Send + Sync + 'static,
) -> StoreError {
    StoreError::backend(CorruptRow {
        table,
        column,
        source: Some(Box::new(source)),
    })
}

/// Any driver failure: the driver's error becomes the source.
fn backend(e: sqlx::Error) -> StoreError {
    StoreError::backend(e)
}

/// A unique violation on `activation_users` becomes a conflict on the field
/// `field_of` names; anything else is a backend failure.
fn conflict_or_backend(
    e: sqlx::Error,
    field_of: impl Fn(&dyn sqlx::error::DatabaseError) -> Option<&'static str>,
) -> StoreError {
    let field = e
        .as_database_error()
        .filter(|db| db.kind() == sqlx::error::ErrorKind::UniqueViolation)
        .and_then(field_of);
    match field {
        Some(field) => StoreError::conflict(field),
        None => backend(e),
    }
}

fn purpose_text(purpose: PinPurpose) -> &'static str {
    match purpose {
        PinPurpose::Activation => "activation",
        PinPurpose::Reset => "reset",
    }
}

fn channel_text(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Email => "email",
        ChannelKind::Sms => "sms",
    }
}

fn channel_kind(text: &str, table: &'static str) -> Result<ChannelKind, StoreError> {
    match text {
        "email" => Ok(ChannelKind::Email),
        "sms" => Ok(ChannelKind::Sms),
        _ => Err(corrupt(table, "channel")),
    }
}

fn error_kind_text(kind: DeliveryErrorKind) -> &'static str {
    match kind {
        DeliveryErrorKind::Transient => "transient",
        DeliveryErrorKind::Permanent => "permanent",
    }
}

/// A user row with its instants already converted.
struct UserRow {
    id: String,
    display_name: String,
    role: String,
    email: Option<String>,
    phone: Option<String>,
    state: String,
    password_hash: Option<String>,
    credential_version: i64,
    created_at: DateTime<Utc>,
}

impl UserRow {
    fn into_user(self) -> Result<User, StoreError> {
        const T: &str = "activation_users";
        Ok(User {
            id: UserId::new(self.id).map_err(|e| corrupt_because(T, "id", e))?,
            display_name: self.display_name,
            role: self.role.parse::<Role>().map_err(|e| corrupt_because(T, "role", e))?,
            email: self
                .email
                .map(Email::try_from)
                .transpose()
                .map_err(|e| corrupt_because(T, "email", e))?,
            phone: self
                .phone
                .map(Phone::try_from)
                .transpose()
                .map_err(|e| corrupt_because(T, "phone", e))?,
            state: AccountState::parse(&self.state).ok_or_else(|| corrupt(T, "state"))?,
            password_hash: self.password_hash,
            credential_version: u64::try_from(self.credential_version)
                .map_err(|e| corrupt_because(T, "credential_version", e))?,
            created_at: self.created_at,
        })
    }
}

/// The PIN columns of an `activation_pins` row, instants converted.
struct PinColumns {
    pin_id: Option<String>,
    hash: Option<String>,
    purpose: Option<String>,
    channel_kind: Option<String>,
    channel_address: Option<String>,
    issued_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    attempts: i64,
    issued_by: Option<String>,
}

impl PinColumns {
    /// The PIN, or `None` when the row holds none.
    fn into_pin(self) -> Result<Option<PinRecord>, StoreError> {
        const T: &str = "activation_pins";
        let Some(pin_id) = self.pin_id else {
            return Ok(None);
        };
        let (Some(hash), Some(purpose), Some(kind), Some(address), Some(issued_at), Some(expires_at)) = (
            self.hash,
            self.purpose,
            self.channel_kind,
            self.channel_address,
            self.issued_at,
            self.expires_at,
        ) else {
            return Err(corrupt(T, "pin_id"));
        };
        let purpose = match purpose.as_str() {
            "activation" => PinPurpose::Activation,
            "reset" => PinPurpose::Reset,
            _ => return Err(corrupt(T, "purpose")),
        };
        let channel = match channel_kind(&kind, T)? {
            ChannelKind::Email => {
                Channel::Email(Email::try_from(address).map_err(|e| corrupt_because(T, "channel_address", e))?)
            }
            ChannelKind::Sms => {
                Channel::Sms(Phone::try_from(address).map_err(|e| corrupt_because(T, "channel_address", e))?)
            }
        };
        Ok(Some(PinRecord {
            pin_id,
            hash,
            purpose,
            channel,
            issued_at,
            expires_at,
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt_because(T, "attempts", e))?,
            issued_by: self
                .issued_by
                .map(UserId::new)
                .transpose()
                .map_err(|e| corrupt_because(T, "issued_by", e))?,
        }))
    }
}

fn ticket_record(
    user_id: String,
    pin_id: String,
    hash: String,
    expires_at: DateTime<Utc>,
) -> Result<TicketRecord, StoreError> {
    Ok(TicketRecord {
        user_id: UserId::new(user_id).map_err(|e| corrupt_because("activation_pins", "user_id", e))?,
        pin_id,
        hash,
        expires_at,
    })
}

/// An `activation_deliveries` row, instant converted.
struct DeliveryRow {
    channel: String,
    at: DateTime<Utc>,
    outcome: String,
    provider_id: Option<String>,
    error_kind: Option<String>,
}

impl DeliveryRow {
    fn into_record(self) -> Result<DeliveryRecord, StoreError> {
        const T: &str = "activation_deliveries";
        let outcome = match (self.outcome.as_str(), self.error_kind.as_deref()) {
            ("delivered", _) => DeliveryOutcome::Delivered {
                provider_id: self.provider_id,
            },
            ("failed", Some("transient")) => DeliveryOutcome::Failed {
                kind: DeliveryErrorKind::Transient,
            },
            ("failed", Some("permanent")) => DeliveryOutcome::Failed {
                kind: DeliveryErrorKind::Permanent,
            },
            _ => return Err(corrupt(T, "outcome")),
        };
        Ok(DeliveryRecord {
            channel: channel_kind(&self.channel, T)?,
            at: self.at,
            outcome,
        })
    }
}

/// The columns `record_delivery` writes: outcome, provider id, error kind.
fn delivery_columns(outcome: &DeliveryOutcome) -> (&'static str, Option<&str>, Option<&'static str>) {
    match outcome {
        DeliveryOutcome::Delivered { provider_id } => ("delivered", provider_id.as_deref(), None),
        DeliveryOutcome::Failed { kind } => ("failed", None, Some(error_kind_text(*kind))),
    }
}

/// What `reserve_send` decides from the sends of the last 24 hours, exactly
/// as the in-memory store does.
fn send_decision(
    now: DateTime<Utc>,
    limits: crate::store::SendLimits,
    last: Option<DateTime<Utc>>,
    oldest: Option<DateTime<Utc>>,
    count: i64,
) -> crate::store::SendReservation {
    use crate::store::SendReservation;
    if let Some(last) = last
        && now < last + limits.cooldown
    {
        return SendReservation::Throttled {
            retry_at: last + limits.cooldown,
        };
    }
    if count >= i64::from(limits.daily_cap) {
        return SendReservation::Throttled {
            retry_at: oldest.unwrap_or(now) + chrono::TimeDelta::hours(24),
        };
    }
    SendReservation::Granted
}

/// The state `reserve_attempt` read when it refused: the refusal, in the
/// in-memory store's order (lock, missing PIN, expiry, attempts), or `None`
/// when this state would grant an attempt.
fn refusal(
    failures: i64,
    has_pin: bool,
    expires_at: Option<DateTime<Utc>>,
    attempts: i64,
    now: DateTime<Utc>,
    limits: crate::store::AttemptLimits,
) -> Option<crate::store::AttemptReservation> {
    use crate::store::AttemptReservation;
    if failures >= i64::from(limits.max_account_failures) {
        return Some(AttemptReservation::Locked);
    }
    let (true, Some(expires_at)) = (has_pin, expires_at) else {
        return Some(AttemptReservation::NoPin);
    };
    if crate::state::is_expired(expires_at, now) {
        return Some(AttemptReservation::Expired);
    }
    if attempts >= i64::from(limits.max_attempts) {
        return Some(AttemptReservation::Exhausted);
    }
    None
}
