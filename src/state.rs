//! The account state machine and the PIN rules, as pure functions of data
//! and an explicit `now`. No I/O: the service loads, asks these functions,
//! and stores.
//!
//! ```text
//!            create (contact present)            PIN login ok           new password set
//!   (none) ---------------------------> Pending ---------------> [ticket] ---------------> Active
//!                                         ^  |                                           |
//!                                         |  | PIN expired / attempts exhausted          | staff: Activate Account
//!                                         |  v                                           v
//!                                         +-- staff re-send (fresh PIN)            ResetRequired
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::notify::{ChannelKind, PinPurpose};
use crate::store::{PinSnapshot, User};

/// Where an account is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// Created, never had a password: signs in only with a live PIN.
    Pending,
    /// Has a password and signs in with it.
    Active,
    /// An active user for whom staff issued a PIN (lost password): PIN
    /// sign-in as for `Pending`; the old password works meanwhile unless it
    /// was revoked.
    ResetRequired,
}

impl AccountState {
    /// The text stored by SQL adapters.
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountState::Pending => "pending",
            AccountState::Active => "active",
            AccountState::ResetRequired => "reset_required",
        }
    }

    /// Reads [`as_str`](Self::as_str) back.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(AccountState::Pending),
            "active" => Some(AccountState::Active),
            "reset_required" => Some(AccountState::ResetRequired),
            _ => None,
        }
    }
}

/// A state change the machine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IllegalTransition(pub &'static str);

/// Whether a PIN may sign this account in.
pub fn accepts_pin(state: AccountState) -> bool {
    matches!(state, AccountState::Pending | AccountState::ResetRequired)
}

/// Whether a password may sign this account in (it must also have one).
pub fn accepts_password(user: &User) -> bool {
    user.password_hash.is_some() && matches!(user.state, AccountState::Active | AccountState::ResetRequired)
}

/// What issuing a PIN means for an account: its purpose, and the state the
/// account moves to once the PIN is delivered.
pub fn on_pin_issued(state: AccountState) -> (PinPurpose, AccountState) {
    match state {
        AccountState::Pending => (PinPurpose::Activation, AccountState::Pending),
        AccountState::Active | AccountState::ResetRequired => (PinPurpose::Reset, AccountState::ResetRequired),
    }
}

/// Completing a reset: only from `Pending` or `ResetRequired`, to `Active`.
///
/// # Errors
/// [`IllegalTransition`] from `Active`.
pub fn on_reset_completed(state: AccountState) -> Result<AccountState, IllegalTransition> {
    match state {
        AccountState::Pending | AccountState::ResetRequired => Ok(AccountState::Active),
        AccountState::Active => Err(IllegalTransition(
            "the account is already active; the reset was completed before",
        )),
    }
}

/// True from `expires_at` on: no grace period.
pub fn is_expired(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= expires_at
}

/// The staff view of an account's activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
#[non_exhaustive]
pub enum ActivationStatus {
    /// Neither email nor phone: "Activate Account" is unavailable.
    NoContact,
    /// Too many consecutive PIN failures: PIN sign-in is locked until staff
    /// unlock.
    Locked {
        /// The failure count.
        failures: u32,
    },
    /// A PIN is live.
    PinLive {
        /// Activation or reset.
        purpose: PinPurpose,
        /// Where it was sent.
        channel: ChannelKind,
        /// When it stops working.
        expires_at: DateTime<Utc>,
        /// Wrong tries left.
        attempts_left: u32,
    },
    /// The PIN expired unused: send a new one.
    PinExpired {
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// The PIN's attempts are used up: send a new one.
    PinExhausted,
    /// Can be reached but has no PIN (never sent, or the last delivery
    /// failed, or the contact changed).
    NoPin,
    /// Active, signs in with a password.
    Active,
}

/// Whether the account's consecutive PIN failures lock PIN sign-in (until
/// a staff unlock).
pub fn is_locked(failures: u32, max_account_failures: u32) -> bool {
    failures >= max_account_failures
}

/// Decides the staff view from the stored facts.
pub fn activation_status(
    user: &User,
    pins: &PinSnapshot,
    now: DateTime<Utc>,
    max_attempts: u32,
    max_account_failures: u32,
) -> ActivationStatus {
    if user.state == AccountState::Active {
        return ActivationStatus::Active;
    }
    if !user.can_activate() {
        return ActivationStatus::NoContact;
    }
    if is_locked(pins.failures, max_account_failures) {
        return ActivationStatus::Locked {
            failures: pins.failures,
        };
    }
    match &pins.pin {
        None => ActivationStatus::NoPin,
        Some(pin) if is_expired(pin.expires_at, now) => ActivationStatus::PinExpired {
            expired_at: pin.expires_at,
        },
        Some(pin) if pin.attempts >= max_attempts => ActivationStatus::PinExhausted,
        Some(pin) => ActivationStatus::PinLive {
            purpose: pin.purpose,
            channel: pin.channel.kind(),
            expires_at: pin.expires_at,
            attempts_left: max_attempts - pin.attempts,
        },
    }
}

#[cfg(test)]
mod tests {
    //! Given / when / then over the pure rules.
    use super::*;
    use crate::identity::{Email, Role, UserId};
    use crate::notify::Channel;
    use crate::store::PinRecord;
    use chrono::{TimeDelta, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
    }

    fn given_user(state: AccountState, email: bool) -> User {
        User {
            id: UserId::new("u1").unwrap(),
            display_name: "Erin".into(),
            role: Role::Tenant,
            email: email.then(|| Email::parse("erin@example.com").unwrap()),
            phone: None,
            state,
            password_hash: (state != AccountState::Pending).then(|| "$argon2id$x".into()),
            credential_version: 0,
            created_at: t0(),
        }
    }

    fn given_pin(attempts: u32, expires_in: TimeDelta) -> PinRecord {
        PinRecord {
            pin_id: "p1".into(),
            hash: String::new(),
            purpose: PinPurpose::Activation,
            channel: Channel::Email(Email::parse("erin@example.com").unwrap()),
            issued_at: t0(),
            expires_at: t0() + expires_in,
            attempts,
            issued_by: None,
        }
    }

    #[test]
    fn pin_issue_moves_active_to_reset_required() {
        assert_eq!(
            on_pin_issued(AccountState::Pending),
            (PinPurpose::Activation, AccountState::Pending)
        );
        assert_eq!(
            on_pin_issued(AccountState::Active),
            (PinPurpose::Reset, AccountState::ResetRequired)
        );
        assert_eq!(
            on_pin_issued(AccountState::ResetRequired),
            (PinPurpose::Reset, AccountState::ResetRequired)
        );
    }

    #[test]
    fn reset_completion_is_illegal_twice() {
        assert_eq!(on_reset_completed(AccountState::Pending), Ok(AccountState::Active));
        assert_eq!(
            on_reset_completed(AccountState::ResetRequired),
            Ok(AccountState::Active)
        );
        assert!(on_reset_completed(AccountState::Active).is_err());
    }

    #[test]
    fn which_secrets_each_state_accepts() {
        assert!(accepts_pin(AccountState::Pending) && accepts_pin(AccountState::ResetRequired));
        assert!(!accepts_pin(AccountState::Active));
        assert!(!accepts_password(&given_user(AccountState::Pending, true)));
        assert!(accepts_password(&given_user(AccountState::Active, true)));
        let mut revoked = given_user(AccountState::ResetRequired, true);
        revoked.password_hash = None;
        assert!(!accepts_password(&revoked));
    }

    #[test]
    fn expiry_has_no_grace() {
        let exp = t0();
        assert!(!is_expired(exp, exp - TimeDelta::seconds(1)));
        assert!(is_expired(exp, exp));
        assert!(is_expired(exp, exp + TimeDelta::seconds(1)));
    }

    #[test]
    fn status_given_facts() {
        let now = t0() + TimeDelta::minutes(1);
        let status = |user: &User, pin: Option<PinRecord>, failures| {
            activation_status(
                user,
                &PinSnapshot {
                    pin,
                    failures,
                    ..PinSnapshot::default()
                },
                now,
                5,
                20,
            )
        };
        let pending = given_user(AccountState::Pending, true);
        assert_eq!(
            status(&given_user(AccountState::Pending, false), None, 0),
            ActivationStatus::NoContact
        );
        assert_eq!(status(&pending, None, 0), ActivationStatus::NoPin);
        assert_eq!(
            status(&pending, Some(given_pin(0, TimeDelta::hours(1))), 20),
            ActivationStatus::Locked { failures: 20 }
        );
        assert_eq!(
            status(&pending, Some(given_pin(2, TimeDelta::hours(1))), 2),
            ActivationStatus::PinLive {
                purpose: PinPurpose::Activation,
                channel: ChannelKind::Email,
                expires_at: t0() + TimeDelta::hours(1),
                attempts_left: 3
            }
        );
        assert_eq!(
            status(&pending, Some(given_pin(5, TimeDelta::hours(1))), 5),
            ActivationStatus::PinExhausted
        );
        assert_eq!(
            status(&pending, Some(given_pin(0, TimeDelta::minutes(1))), 0),
            ActivationStatus::PinExpired { expired_at: now }
        );
        assert_eq!(
            status(&given_user(AccountState::Active, true), None, 0),
            ActivationStatus::Active
        );
    }
}
