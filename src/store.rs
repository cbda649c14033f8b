//! The two storage traits a portal implements: [`UserStore`] and
//! [`PinStore`], with the records they keep.
//!
//! # The contract every adapter keeps
//!
//! The service never reads a value, changes it and writes it back; each
//! promise below is one call, and the adapter makes that call atomic (one
//! SQL statement, one transaction with the right lock, one mutex section).
//! The conformance suite in `pin_activation::testing` (feature `testing`)
//! checks all of it, including under concurrency.
//!
//! `UserStore`:
//! - `insert` refuses a second user with the same id, email or phone
//!   ([`StoreErrorKind::Conflict`]).
//! - `transition` and `set_password` are compare-and-set on the account
//!   state; `replace_password_hash` is compare-and-set on the old hash.
//!
//! `PinStore`:
//! - `reserve_send` checks the cooldown and the 24-hour cap and records the
//!   send in one step; two racing re-sends never both pass.
//! - `put_pin` replaces the live PIN and drops any ticket, keeping the
//!   account's failure count.
//! - `reserve_attempt` refuses a locked account, a missing, expired
//!   (`now >= expires_at`) or used-up PIN, and otherwise adds one to the
//!   PIN's attempts and to the account's failures, all in one step: N racing
//!   calls never grant more than `max_attempts` checks.
//! - `record_success` (only for the PIN that was reserved) gives the
//!   reserved attempt back, clears the account's failures and stores the
//!   ticket, replacing any earlier one: one live ticket per user.
//! - `consume_ticket` removes the ticket and its PIN in one step, only when
//!   the ticket's hash matches (compared in constant time), it has not
//!   expired and its PIN is still the live one; exactly one racing caller
//!   gets `true`.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::{Email, Login, Phone, Role, UserId};
use crate::notify::{Channel, ChannelKind, DeliveryErrorKind, PinPurpose};
use crate::state::AccountState;

/// A user as stored. A storage record: its serde form carries the
/// password hash (for adapters over document stores), so never send it to a
/// client as it is. `Debug` shows only whether there is a password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The id.
    pub id: UserId,
    /// The display name.
    pub display_name: String,
    /// The role.
    pub role: Role,
    /// Normalized email, if any.
    pub email: Option<Email>,
    /// E.164 phone, if any.
    pub phone: Option<Phone>,
    /// Account state.
    pub state: AccountState,
    /// Argon2id PHC string of the password, if one is set.
    pub password_hash: Option<String>,
    /// Bumped by every completed reset and every revocation: sessions
    /// opened under an older version must end.
    pub credential_version: u64,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("email", &self.email)
            .field("phone", &self.phone)
            .field("state", &self.state)
            .field("has_password", &self.password_hash.is_some())
            .field("credential_version", &self.credential_version)
            .finish_non_exhaustive()
    }
}

impl User {
    /// The channels that can reach the user, email first.
    pub fn channels(&self) -> Vec<Channel> {
        let mut out = Vec::with_capacity(2);
        if let Some(e) = &self.email {
            out.push(Channel::Email(e.clone()));
        }
        if let Some(p) = &self.phone {
            out.push(Channel::Sms(p.clone()));
        }
        out
    }

    /// Whether staff can send this user a PIN ("Activate Account" is live).
    pub fn can_activate(&self) -> bool {
        self.email.is_some() || self.phone.is_some()
    }

    /// Whether `channel` is one of the user's current contacts.
    pub fn has_contact(&self, channel: &Channel) -> bool {
        match channel {
            Channel::Email(e) => self.email.as_ref() == Some(e),
            Channel::Sms(p) => self.phone.as_ref() == Some(p),
        }
    }

    /// The logins that find this user.
    pub fn logins(&self) -> Vec<Login> {
        let mut out = Vec::with_capacity(2);
        if let Some(e) = &self.email {
            out.push(Login::Email(e.clone()));
        }
        if let Some(p) = &self.phone {
            out.push(Login::Phone(p.clone()));
        }
        out
    }
}

/// A live (or dead but not yet replaced) PIN. A storage record: its serde
/// form carries the PIN's hash; `Debug` does not.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    /// Random id, distinct for every PIN ever issued.
    pub pin_id: String,
    /// Argon2id PHC string of the PIN.
    pub hash: String,
    /// Activation or reset.
    pub purpose: PinPurpose,
    /// The address it was sent to.
    pub channel: Channel,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Refused from this instant on.
    pub expires_at: DateTime<Utc>,
    /// Attempts reserved and not given back (wrong guesses, and checks in
    /// flight).
    pub attempts: u32,
    /// The staff member who issued it.
    pub issued_by: Option<UserId>,
}

impl fmt::Debug for PinRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinRecord")
            .field("pin_id", &self.pin_id)
            .field("purpose", &self.purpose)
            .field("channel", &self.channel.kind())
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .field("issued_by", &self.issued_by)
            .finish_non_exhaustive()
    }
}

/// A reset ticket as stored: only its hash (in the serde form, not in
/// `Debug`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// The user it belongs to.
    pub user_id: UserId,
    /// The PIN that earned it; it dies with that PIN.
    pub pin_id: String,
    /// Hex BLAKE2b-256 of the ticket.
    pub hash: String,
    /// Refused from this instant on.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for TicketRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketRecord")
            .field("user_id", &self.user_id)
            .field("pin_id", &self.pin_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum DeliveryOutcome {
    /// The transport accepted the message.
    Delivered {
        /// The provider's message id, where there is one.
        provider_id: Option<String>,
    },
    /// The transport refused it (after its own retries).
    Failed {
        /// Transient or permanent.
        kind: DeliveryErrorKind,
    },
}

/// The last delivery attempt over one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Email or SMS.
    pub channel: ChannelKind,
    /// When it was attempted.
    pub at: DateTime<Utc>,
    /// How it ended.
    pub outcome: DeliveryOutcome,
}

/// What the PIN store knows of one user. `Debug` leaves the previous hash
/// out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PinSnapshot {
    /// The current PIN, if any.
    pub pin: Option<PinRecord>,
    /// The hash of the last PIN the user had before it (replaced, consumed
    /// by a completed reset or revoked), so that a fresh PIN never repeats
    /// it even after the live one is gone.
    pub previous_hash: Option<String>,
    /// Consecutive PIN failures of the account.
    pub failures: u32,
    /// The last delivery attempt per channel (at most one email and one SMS
    /// record), email first.
    pub deliveries: Vec<DeliveryRecord>,
}

impl fmt::Debug for PinSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinSnapshot")
            .field("pin", &self.pin)
            .field("has_previous", &self.previous_hash.is_some())
            .field("failures", &self.failures)
            .field("deliveries", &self.deliveries)
            .finish()
    }
}

/// Limits for [`PinStore::reserve_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Attempts per PIN.
    pub max_attempts: u32,
    /// Consecutive failures per account.
    pub max_account_failures: u32,
}

/// Limits for [`PinStore::reserve_send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    /// Least time between two sends.
    pub cooldown: chrono::TimeDelta,
    /// Most sends in any 24 hours.
    pub daily_cap: u32,
}

/// Answer of [`PinStore::reserve_send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendReservation {
    /// Recorded; go ahead.
    Granted,
    /// Refused; a send is allowed again from `retry_at`.
    Throttled {
        /// The first instant a send is allowed.
        retry_at: DateTime<Utc>,
    },
}

/// Answer of [`PinStore::reserve_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptReservation {
    /// One attempt reserved; check the PIN against this record (whose
    /// `attempts` already counts this one). `failures` is the account's
    /// count including this attempt.
    Granted {
        /// The PIN to check.
        pin: PinRecord,
        /// Account failures including this attempt.
        failures: u32,
    },
    /// No PIN is stored.
    NoPin,
    /// The PIN expired.
    Expired,
    /// The PIN's attempts are used up.
    Exhausted,
    /// The account's failures reached the limit.
    Locked,
}

/// What went wrong in a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// A unique value (id, email, phone) is taken.
    Conflict(&'static str),
    /// The user does not exist.
    NotFound,
    /// The backend failed (connection, I/O, corrupt row).
    Backend,
}

/// A store failure, with the backend's error as its source.
#[derive(Debug, thiserror::Error)]
#[error("store error: {kind:?}")]
pub struct StoreError {
    kind: StoreErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A unique value is taken: `field` is `"id"`, `"email"` or `"phone"`.
    pub fn conflict(field: &'static str) -> Self {
        Self {
            kind: StoreErrorKind::Conflict(field),
            source: None,
        }
    }

    /// The user does not exist.
    pub fn not_found() -> Self {
        Self {
            kind: StoreErrorKind::NotFound,
            source: None,
        }
    }

    /// The backend failed with `source`.
    pub fn backend(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            kind: StoreErrorKind::Backend,
            source: Some(Box::new(source)),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

/// Users, their normalized logins, account state and password hash.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Adds a user.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] when the id, email or phone is taken.
    async fn insert(&self, user: User) -> Result<(), StoreError>;

    /// The user with `id`.
    ///
    /// # Errors
    /// Backend failures only.
    async fn get(&self, id: &UserId) -> Result<Option<User>, StoreError>;

    /// The user with this email or phone.
    ///
    /// # Errors
    /// Backend failures only.
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError>;

    /// All users, ordered by creation then id (for staff lists).
    ///
    /// # Errors
    /// Backend failures only.
    async fn list(&self) -> Result<Vec<User>, StoreError>;

    /// Replaces the user's email and phone; returns the updated user.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] when another user has one of them,
    /// [`StoreErrorKind::NotFound`] for an unknown id.
    async fn update_contact(&self, id: &UserId, email: Option<Email>, phone: Option<Phone>)
    -> Result<User, StoreError>;

    /// Moves the user from `from` to `to` if it is in `from`; with
    /// `revoke_password` also removes the password hash and bumps the
    /// credential version. A move to [`AccountState::Active`] also needs a
    /// stored password hash and no `revoke_password` (an active account
    /// always has a password). `false`, with nothing changed, when a
    /// condition does not hold.
    ///
    /// # Errors
    /// Backend failures only.
    async fn transition(
        &self,
        id: &UserId,
        from: AccountState,
        to: AccountState,
        revoke_password: bool,
    ) -> Result<bool, StoreError>;

    /// If the user is in state `from`: stores `password_hash`, makes the user
    /// [`AccountState::Active`] and bumps the credential version, returning
    /// the new version. `None` when the state was not `from`.
    ///
    /// # Errors
    /// Backend failures only.
    async fn set_password(
        &self,
        id: &UserId,
        from: AccountState,
        password_hash: String,
    ) -> Result<Option<u64>, StoreError>;

    /// Replaces the password hash if it is still `old` (rehash after a
    /// parameter change; the credential version stays). `false` otherwise.
    ///
    /// # Errors
    /// Backend failures only.
    async fn replace_password_hash(&self, id: &UserId, old: &str, new: String) -> Result<bool, StoreError>;
}

/// Live PINs (hash, expiry, attempts), account failure counts, send history
/// and reset tickets.
#[async_trait]
pub trait PinStore: Send + Sync + 'static {
    /// Records a send at `now` unless the cooldown or the 24-hour cap forbids.
    ///
    /// # Errors
    /// Backend failures only.
    async fn reserve_send(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: SendLimits,
    ) -> Result<SendReservation, StoreError>;

    /// Forgets the send recorded at `at` (its delivery failed).
    ///
    /// # Errors
    /// Backend failures only.
    async fn release_send(&self, user: &UserId, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Makes `pin` the user's live PIN, replacing any other and dropping the
    /// user's ticket. The account's failure count is kept.
    ///
    /// # Errors
    /// Backend failures only.
    async fn put_pin(&self, user: &UserId, pin: PinRecord) -> Result<(), StoreError>;

    /// The current PIN and the account's failure count.
    ///
    /// # Errors
    /// Backend failures only.
    async fn snapshot(&self, user: &UserId) -> Result<PinSnapshot, StoreError>;

    /// Reserves one PIN check (see the module docs).
    ///
    /// # Errors
    /// Backend failures only.
    async fn reserve_attempt(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: AttemptLimits,
    ) -> Result<AttemptReservation, StoreError>;

    /// The reserved check of PIN `pin_id` succeeded: give the attempt back,
    /// clear the account's failures and store `ticket` as the user's only
    /// ticket. `false` (and nothing changed) when `pin_id` is no longer the
    /// live PIN.
    ///
    /// # Errors
    /// Backend failures only.
    async fn record_success(&self, user: &UserId, pin_id: &str, ticket: TicketRecord) -> Result<bool, StoreError>;

    /// The ticket whose hash is `ticket_hash`, expired or not.
    ///
    /// # Errors
    /// Backend failures only.
    async fn find_ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError>;

    /// Removes the user's ticket and its PIN if the ticket hash matches, it
    /// has not expired at `now` and its PIN is still live. `true` for exactly
    /// one caller.
    ///
    /// # Errors
    /// Backend failures only.
    async fn consume_ticket(&self, user: &UserId, ticket_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Removes the user's PIN and ticket (contact changed).
    ///
    /// # Errors
    /// Backend failures only.
    async fn revoke_pin(&self, user: &UserId) -> Result<(), StoreError>;

    /// Keeps `record` as the last delivery attempt over its channel,
    /// replacing the previous one for that channel.
    ///
    /// # Errors
    /// Backend failures only.
    async fn record_delivery(&self, user: &UserId, record: DeliveryRecord) -> Result<(), StoreError>;

    /// Clears the account's failure count (staff unlock).
    ///
    /// # Errors
    /// Backend failures only.
    async fn clear_failures(&self, user: &UserId) -> Result<(), StoreError>;
}

/// Which channel a re-send uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelChoice {
    /// The configured `preferred_channel` (email by default) if the user
    /// has it, else the other one; with `channel_fallback` on, the other one
    /// also after a permanent failure.
    #[default]
    Preferred,
    /// This channel, or [`Error::ChannelUnavailable`](crate::Error::ChannelUnavailable).
    Only(ChannelKind),
}
