//! Typed audit events and the sink they go to.
//!
//! Events carry ids, channel kinds, instants and reasons; never a PIN, a
//! password, a ticket or a message body. Every event is also emitted as a
//! `tracing` event at INFO (target `pin_activation::audit`).

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::identity::UserId;
use crate::notify::{ChannelKind, DeliveryErrorKind, PinPurpose};

/// Why a sign-in was refused. Goes to the audit trail only: the caller always
/// gets the same opaque [`Error::InvalidCredentials`](crate::Error::InvalidCredentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefusalReason {
    /// The identifier is not an email address or phone number.
    MalformedIdentifier,
    /// No user has this identifier.
    UnknownUser,
    /// The secret is neither PIN-shaped nor a possible password.
    MalformedSecret,
    /// A PIN was given but the user has no live PIN.
    NoLivePin,
    /// The PIN expired.
    PinExpired,
    /// The PIN's attempts are used up.
    PinExhausted,
    /// PIN sign-in is locked for the account.
    AccountLocked,
    /// Wrong PIN.
    WrongPin,
    /// The PIN was sent to a contact the user no longer has.
    ContactChanged,
    /// The PIN was replaced while it was being checked.
    PinReplaced,
    /// A password was given but the user has none (pending or revoked).
    NoPassword,
    /// Wrong password.
    WrongPassword,
    /// The stored PIN or password hash cannot be checked: its pepper key is
    /// no longer in the keyring, or the string is not one this crate reads.
    /// An operator's fault (also logged at `error`), refused like a wrong
    /// secret so that it tells the caller nothing.
    UnverifiableHash,
}

/// Why a password reset was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResetRefusal {
    /// Unknown, expired, used, or not in the expected format.
    InvalidTicket,
    /// The new password broke the policy.
    WeakPassword,
}

/// Something worth recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
#[non_exhaustive]
pub enum AuditEvent {
    /// A user was created.
    UserCreated {
        /// The new user.
        user: UserId,
        /// The staff member who created them, if any.
        by: Option<UserId>,
    },
    /// A PIN was issued and delivered.
    PinIssued {
        /// Its user.
        user: UserId,
        /// Activation or reset.
        purpose: PinPurpose,
        /// Where it went.
        channel: ChannelKind,
        /// When it stops working.
        expires_at: DateTime<Utc>,
        /// The staff member who asked for it (`None`: creation without an
        /// actor, or the user's own request).
        by: Option<UserId>,
    },
    /// A transport accepted a message.
    Delivered {
        /// The recipient user.
        user: UserId,
        /// The channel.
        channel: ChannelKind,
        /// The provider's id for the message.
        provider_id: Option<String>,
    },
    /// A transport refused a message; the user's PIN state is unchanged.
    DeliveryFailed {
        /// The recipient user.
        user: UserId,
        /// The channel.
        channel: ChannelKind,
        /// Transient or permanent.
        kind: DeliveryErrorKind,
    },
    /// A re-send or request was refused by the cooldown or the daily cap.
    Throttled {
        /// The user.
        user: UserId,
        /// When a new PIN may be sent.
        retry_at: DateTime<Utc>,
    },
    /// A self-service request named an identifier with no user, a user
    /// that cannot be reached, or one whose PIN sign-in is locked. Nothing
    /// was sent.
    RequestIgnored {
        /// The user, when there is one.
        user: Option<UserId>,
    },
    /// A sign-in was refused.
    SignInRefused {
        /// The user, when the identifier matched one.
        user: Option<UserId>,
        /// Why.
        reason: RefusalReason,
    },
    /// A right PIN earned a reset ticket.
    PinAccepted {
        /// The user.
        user: UserId,
    },
    /// A right password signed the user in.
    SignedIn {
        /// The user.
        user: UserId,
    },
    /// A password hash made with old parameters was replaced at sign-in.
    PasswordRehashed {
        /// The user.
        user: UserId,
    },
    /// The last allowed wrong attempt on a PIN was made; it is dead.
    AttemptsExhausted {
        /// The user.
        user: UserId,
    },
    /// Consecutive PIN failures reached the account limit.
    AccountLocked {
        /// The user.
        user: UserId,
        /// The failure count.
        failures: u32,
    },
    /// Staff cleared the account's PIN failures.
    AccountUnlocked {
        /// The user.
        user: UserId,
        /// The staff member.
        by: UserId,
    },
    /// An active user was moved to `ResetRequired` by a staff re-send.
    ResetStarted {
        /// The user.
        user: UserId,
        /// Whether the old password was revoked.
        password_revoked: bool,
    },
    /// A right password ended a pending lost-password reset (keep mode):
    /// its PIN, its ticket and the account's PIN failures are gone, and the
    /// user is `Active` again.
    ResetCancelled {
        /// The user.
        user: UserId,
    },
    /// A new password was set and the user is active.
    ResetCompleted {
        /// The user.
        user: UserId,
        /// The credential version after the reset.
        credential_version: u64,
    },
    /// `complete_reset` was refused.
    ResetRefused {
        /// The user, when the ticket matched one.
        user: Option<UserId>,
        /// Why.
        reason: ResetRefusal,
    },
    /// The user's email or phone changed; any live PIN was revoked.
    ContactChanged {
        /// The user.
        user: UserId,
        /// The staff member, if any.
        by: Option<UserId>,
    },
}

/// Where audit events go. Implementations must not block for long: the
/// call is made inline.
pub trait AuditSink: Send + Sync + 'static {
    /// Records one event that happened at `at`.
    fn record(&self, at: DateTime<Utc>, event: &AuditEvent);
}

/// Drops every event (the default sink; events still reach `tracing`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _at: DateTime<Utc>, _event: &AuditEvent) {}
}

/// Keeps every event in memory, for tests. Clones share one log.
#[derive(Debug, Clone, Default)]
pub struct MemoryAudit {
    events: Arc<Mutex<Vec<Stamped>>>,
}

type Stamped = (DateTime<Utc>, AuditEvent);

impl MemoryAudit {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event so far, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.lock().iter().map(|(_, e)| e.clone()).collect()
    }

    /// Every event so far with its instant.
    pub fn records(&self) -> Vec<(DateTime<Utc>, AuditEvent)> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Stamped>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, at: DateTime<Utc>, event: &AuditEvent) {
        self.lock().push((at, event.clone()));
    }
}

impl<A: AuditSink + ?Sized> AuditSink for Arc<A> {
    fn record(&self, at: DateTime<Utc>, event: &AuditEvent) {
        (**self).record(at, event);
    }
}
