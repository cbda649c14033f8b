#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::await_holding_lock,
    clippy::panic
)]
//! # Map of the crate
//!
//! - [`service`]: [`ActivationService`], which orchestrates store, rules and
//!   delivery.
//! - [`state`]: the account state machine and PIN rules as pure functions.
//! - [`store`]: the [`UserStore`] and [`PinStore`] traits and their contract;
//!   [`memory`] implements both in memory.
//! - [`notify`]: [`Notifier`], [`Channel`], [`ActivationMessage`], templates,
//!   the outbox and console notifiers, [`Retrying`], [`ChannelRouter`] and
//!   [`FallbackNotifier`];
//!   the SMTP (feature `smtp`) and HTTP SMS (feature `sms-http`) notifiers.
//! - [`hash`]: argon2id presets, pepper keyring, the bounded hasher.
//! - [`pin`], [`password`], [`identity`]: PIN drawing and parsing, the
//!   password policy, identifier normalization.
//! - [`secret`]: redacted, zeroizing secret types.
//! - [`clock`], [`audit`], [`config`], [`error`].
//! - `testing` (feature `testing`): the conformance suite for store adapters.
//! - `sql` (features `sqlite`, `postgres`): `SqliteStore` and
//!   `PostgresStore`, each implementing both stores.

pub mod audit;
pub mod clock;
pub mod config;
pub mod error;
#[cfg(feature = "testing")]
pub mod faults;
pub mod hash;
pub mod identity;
pub mod memory;
pub mod notify;
pub mod password;
pub mod pin;
pub mod secret;
pub mod service;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;
pub mod state;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{AuditEvent, AuditSink, MemoryAudit, NoAudit, RefusalReason};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ActivationConfig, ConfigError, ResetMode};
pub use error::{Error, Result};
pub use hash::{HashPreset, HashStats, Keyring, Pepper};
pub use identity::{Email, Login, Phone, Region, Role, UserId};
pub use memory::{InMemoryPinStore, InMemoryUserStore};
pub use notify::{
    ActivationMessage, Channel, ChannelKind, ChannelRouter, ConsoleNotifier, DeliveryError, DeliveryErrorKind,
    DeliveryReceipt, FallbackNotifier, Notifier, OutboxNotifier, PinPurpose, RetryPolicy, Retrying,
};
#[cfg(feature = "sms-http")]
pub use notify::{HttpSmsConfig, HttpSmsNotifier, SmsSender};
#[cfg(feature = "smtp")]
pub use notify::{SmtpConfig, SmtpNotifier, SmtpSecurity};
pub use password::{PasswordPolicy, PasswordRejection};
pub use secret::{Credential, Password, Pin, ResetTicket};
pub use service::{
    ActivationReport, ActivationService, CreatedUser, Delivery, FirstActivation, NewUser, ResetCompleted, SignIn,
};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::Durability;
#[cfg(feature = "postgres")]
pub use sql::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::sqlite::SqliteStore;
pub use state::{AccountState, ActivationStatus};
pub use store::{ChannelChoice, PinStore, User, UserStore};
