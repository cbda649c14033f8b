//! The crate's [`Error`] and [`Result`].

use chrono::{DateTime, Utc};

use crate::config::ConfigError;
use crate::hash::HashError;
use crate::identity::InputError;
use crate::notify::{ChannelKind, DeliveryError};
use crate::password::PasswordRejection;
use crate::store::StoreError;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the service can refuse or fail with. Domain refusals come
/// first, infrastructure faults (with their source) last. No variant ever
/// carries a PIN, password or ticket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Sign-in refused. Deliberately the same for an unknown user, a wrong,
    /// expired or used-up PIN, a locked account and a wrong password.
    /// Portal: show "Email/phone or password is incorrect" and nothing more.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The reset ticket is unknown, expired, already used or not this
    /// user's. Portal: send the user back to sign in with their PIN.
    #[error("the password reset ticket is invalid or has expired; sign in with your PIN again")]
    InvalidTicket,
    /// The new password breaks the policy; the ticket is still usable.
    /// Portal: show the reason and ask again.
    #[error("password refused: {0}")]
    WeakPassword(PasswordRejection),
    /// The user has neither email nor phone: "Activate Account" is
    /// unavailable. Portal: grey the button out, ask staff to add a contact.
    #[error("the user has no email address or phone number to send a PIN to")]
    NoContactChannel,
    /// The requested channel is not on the user's record. Portal: offer the
    /// channels from `channels()`.
    #[error("the user has no {0} contact on record")]
    ChannelUnavailable(ChannelKind),
    /// Too many PINs sent recently. Portal: "try again after `retry_at`".
    #[error("a PIN was sent too recently; try again after {}", crate::notify::format_expiry(*retry_at))]
    Throttled {
        /// When a new PIN may be sent.
        retry_at: DateTime<Utc>,
    },
    /// An identifier, id or name is malformed. Portal: show the message next
    /// to the field; nothing was stored.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// Another user already has this email address or phone number (after
    /// normalization), or this id. Portal: show it next to the field.
    #[error("another user already has this {0}")]
    Duplicate(&'static str),
    /// No user with this id (staff operations only; sign-in never says this).
    #[error("no such user")]
    UnknownUser,
    /// The operation does not apply to the account's state (for example a
    /// reset of a user who became active meanwhile). Portal: reload and show
    /// the current state.
    #[error("operation not allowed: {0}")]
    IllegalTransition(&'static str),
    /// The transport did not take the message; the user is exactly as before
    /// the call (an earlier PIN still works). Portal: "could not send, try
    /// again", or another channel; see `is_transient` on the source.
    #[error("the PIN could not be delivered")]
    Delivery(#[source] DeliveryError),
    /// The user or PIN store failed. Portal: a generic error page; retry.
    #[error("the account store failed")]
    Store(#[source] StoreError),
    /// Hashing failed (an unreadable stored hash, an unknown pepper key, or
    /// the runtime shutting down). Portal: a generic error page.
    #[error("password hashing failed")]
    Hashing(#[source] HashError),
    /// The configuration is invalid (at build time only).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<HashError> for Error {
    fn from(e: HashError) -> Self {
        Error::Hashing(e)
    }
}

impl From<DeliveryError> for Error {
    fn from(e: DeliveryError) -> Self {
        Error::Delivery(e)
    }
}
