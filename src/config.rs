//! [`ActivationConfig`]: every number of the contract, with defaults,
//! serde support and validation.

use std::time::Duration;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::hash::HashPreset;
use crate::identity::Region;
use crate::notify::{ChannelKind, Templates};
use crate::password::PasswordPolicy;
use crate::pin::{MAX_PIN_LENGTH, MIN_PIN_LENGTH};

/// What happens to the old password of an active user for whom staff issue
/// a PIN (lost password).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetMode {
    /// The old password keeps working until the reset completes. Default:
    /// a staff member cannot lock a user out by mistake.
    #[default]
    Keep,
    /// The old password stops working at once and existing sessions end
    /// (`credential_version` is bumped): for a compromised account.
    Revoke,
}

/// Hashing settings. (serde cannot deny unknown fields next to a
/// flattened enum, so misspelled keys here are ignored.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HashingConfig {
    /// The argon2id parameters. Default [`HashPreset::Owasp`].
    #[serde(flatten)]
    pub preset: HashPreset,
    /// Most hashes computed at once; `None` means the number of CPU cores.
    /// Peak hashing memory is this times the preset's memory.
    pub max_concurrent: Option<usize>,
}

impl Default for HashingConfig {
    fn default() -> Self {
        Self {
            preset: HashPreset::Owasp,
            max_concurrent: None,
        }
    }
}

impl HashingConfig {
    /// The effective bound on concurrent hashes.
    pub fn concurrency(&self) -> usize {
        self.max_concurrent
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
    }
}

/// What goes into the messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessageConfig {
    /// The operator's name as users know it.
    pub operator_name: String,
    /// Where users sign in.
    pub sign_in_url: String,
    /// The message templates.
    pub templates: Templates,
}

impl Default for MessageConfig {
    fn default() -> Self {
        Self {
            operator_name: "Self Storage Portal".to_owned(),
            sign_in_url: "https://portal.example.com/sign-in".to_owned(),
            templates: Templates::default(),
        }
    }
}

/// Every setting of the service. `Default` gives the documented defaults;
/// deserializing fills missing fields with them. Durations are written as
/// `"72h"`, `"15m"`, `"60s"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivationConfig {
    /// Digits per PIN, 6 to 12. Default 6.
    pub pin_length: usize,
    /// Never draw one-digit or stepping PINs (`000000`, `123456`). Default on.
    pub exclude_trivial_pins: bool,
    /// Lifetime of a PIN for a new account. Default 72 h (tenants read mail late).
    #[serde(with = "humantime_serde")]
    pub activation_ttl: Duration,
    /// Lifetime of a PIN for an active account's password reset. Default 1 h.
    #[serde(with = "humantime_serde")]
    pub reset_ttl: Duration,
    /// Lifetime of the reset ticket a right PIN earns. Default 15 min.
    #[serde(with = "humantime_serde")]
    pub ticket_ttl: Duration,
    /// Wrong PINs allowed per PIN, 1 to 10. Default 5.
    pub max_attempts: u32,
    /// Consecutive PIN failures per account (across re-sends) before PIN
    /// sign-in locks until staff unlock, 1 to 100. Default 20
    /// (NIST SP 800-63B-4 allows at most 100).
    pub max_account_failures: u32,
    /// Least time between two PINs sent to one user. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub resend_cooldown: Duration,
    /// Most PINs sent to one user in any 24 hours, 1 to 100. Default 10.
    pub daily_send_cap: u32,
    /// Of those, most that anonymous self-service requests (`request_pin`)
    /// may use, 1 to 99 and below `daily_send_cap`. Default 5:
    /// whoever types a user's email into "send me a new code" cannot use up
    /// the sends staff have for that user.
    pub self_service_daily_cap: u32,
    /// Lost-password reset of an active user: keep or revoke the old password.
    pub reset_mode: ResetMode,
    /// When a PIN sent over the preferred channel fails permanently (a bad
    /// address, a provider refusal), send the same PIN over the user's other
    /// channel. Default on. Never applies to an explicitly chosen channel.
    pub channel_fallback: bool,
    /// The channel tried first when the user has both and the caller did
    /// not choose (`ChannelChoice::Preferred`). Default `email`; `sms` for
    /// an operator whose tenants answer texts sooner than mail.
    pub preferred_channel: ChannelKind,
    /// Rules for new passwords.
    pub password: PasswordPolicy,
    /// Argon2 settings.
    pub hashing: HashingConfig,
    /// Region for phone numbers written without a country code. Default `US`.
    pub default_region: Region,
    /// Message content.
    pub messages: MessageConfig,
}

impl Default for ActivationConfig {
    fn default() -> Self {
        Self {
            pin_length: 6,
            exclude_trivial_pins: true,
            activation_ttl: Duration::from_secs(72 * 3600),
            reset_ttl: Duration::from_secs(3600),
            ticket_ttl: Duration::from_secs(15 * 60),
            max_attempts: 5,
            max_account_failures: 20,
            resend_cooldown: Duration::from_secs(60),
            daily_send_cap: 10,
            self_service_daily_cap: 5,
            reset_mode: ResetMode::Keep,
            channel_fallback: true,
            preferred_channel: ChannelKind::Email,
            password: PasswordPolicy::default(),
            hashing: HashingConfig::default(),
            default_region: Region::US,
            messages: MessageConfig::default(),
        }
    }
}

impl Default for Region {
    fn default() -> Self {
        Region::US
    }
}

/// A setting out of its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {field}: {reason}")]
pub struct ConfigError {
    /// The setting.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    field: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::new(field, format!("{value} is outside {min}..={max}")));
    }
    Ok(())
}

fn duration_in(field: &'static str, d: Duration, min: Duration, max: Duration) -> Result<(), ConfigError> {
    if d < min || d > max {
        return Err(ConfigError::new(
            field,
            format!(
                "{} is outside {}..={}",
                humantime::format_duration(d),
                humantime::format_duration(min),
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(())
}

/// `std` to `chrono` for the validated durations (all far below the limit).
pub(crate) fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl ActivationConfig {
    /// A config with the insecure [`HashPreset::Testing`] preset and
    /// everything else at its default: what test suites use.
    pub fn for_tests() -> Self {
        let mut c = Self::default();
        c.hashing.preset = HashPreset::Testing;
        c
    }

    /// Checks every setting. Zero, "unlimited" and contradictory settings are
    /// refused.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = Duration::from_secs;
        in_range("pin_length", self.pin_length, MIN_PIN_LENGTH, MAX_PIN_LENGTH)?;
        duration_in("activation_ttl", self.activation_ttl, s(60), s(30 * 86_400))?;
        duration_in("reset_ttl", self.reset_ttl, s(60), s(7 * 86_400))?;
        duration_in("ticket_ttl", self.ticket_ttl, s(60), s(86_400))?;
        duration_in("resend_cooldown", self.resend_cooldown, s(1), s(86_400))?;
        in_range("max_attempts", self.max_attempts, 1, 10)?;
        in_range("max_account_failures", self.max_account_failures, 1, 100)?;
        in_range("daily_send_cap", self.daily_send_cap, 1, 100)?;
        in_range("self_service_daily_cap", self.self_service_daily_cap, 1, 100)?;
        if self.self_service_daily_cap >= self.daily_send_cap {
            return Err(ConfigError::new(
                "self_service_daily_cap",
                "must be below daily_send_cap, so anonymous requests cannot use up the sends staff have",
            ));
        }
        let p = &self.password;
        if p.min_length <= self.pin_length || p.min_length < 8 {
            return Err(ConfigError::new(
                "password.min_length",
                "must be at least 8 and longer than the PIN, so a password is never read as a PIN",
            ));
        }
        if p.max_length < 64 || p.max_length < p.min_length || p.max_length > 1024 {
            return Err(ConfigError::new(
                "password.max_length",
                "must be between 64 and 1024, and at least the minimum",
            ));
        }
        if p.max_bytes < p.max_length || p.max_bytes > 16 * 1024 {
            return Err(ConfigError::new(
                "password.max_bytes",
                "must be at least max_length and at most 16384",
            ));
        }
        if let Some(n) = self.hashing.max_concurrent {
            in_range("hashing.max_concurrent", n, 1, 1024)?;
        }
        let (m, t, pl) = self.hashing.preset.costs();
        if self.hashing.preset.params().is_err() || m > 4 * 1024 * 1024 || t > 64 || pl > 64 {
            return Err(ConfigError::new("hashing", "argon2 costs out of range"));
        }
        // OWASP's weakest argon2id configuration is m=7168 KiB with t=5
        // (equivalently m=19456, t=2). Below it only the explicitly insecure
        // `Testing` preset is accepted, so a custom preset cannot quietly
        // be as weak.
        if matches!(self.hashing.preset, HashPreset::Custom { .. })
            && (m < 7168 || u64::from(m) * u64::from(t) < 35_840)
        {
            return Err(ConfigError::new(
                "hashing.preset",
                "custom costs below OWASP's minimum (m >= 7168 KiB and m x t >= 35840); use `testing` for test suites",
            ));
        }
        let msg = &self.messages;
        for (field, value, max) in [
            ("messages.operator_name", &msg.operator_name, 60),
            ("messages.sign_in_url", &msg.sign_in_url, 200),
        ] {
            if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
                return Err(ConfigError::new(
                    field,
                    format!("must be 1 to {max} printable characters"),
                ));
            }
        }
        msg.templates.validate(msg, self.pin_length)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = ActivationConfig::default();
        c.validate().unwrap();
        assert_eq!(c.activation_ttl, Duration::from_secs(72 * 3600));
        assert_eq!(c.reset_ttl, Duration::from_secs(3600));
        assert_eq!(c.ticket_ttl, Duration::from_secs(900));
        assert_eq!((c.max_attempts, c.max_account_failures, c.pin_length), (5, 20, 6));
        assert_eq!(c.resend_cooldown, Duration::from_secs(60));
        assert!(c.exclude_trivial_pins);
        assert_eq!(c.hashing.preset, HashPreset::Owasp);
    }

    #[test]
    fn zero_unlimited_and_contradictions_are_refused() {
        type Change = Box<dyn Fn(&mut ActivationConfig)>;
        let bad: Vec<(&str, Change)> = vec![
            ("max_attempts", Box::new(|c| c.max_attempts = 0)),
            ("max_attempts", Box::new(|c| c.max_attempts = u32::MAX)),
            ("max_account_failures", Box::new(|c| c.max_account_failures = 0)),
            ("max_account_failures", Box::new(|c| c.max_account_failures = 101)),
            ("daily_send_cap", Box::new(|c| c.daily_send_cap = 0)),
            ("self_service_daily_cap", Box::new(|c| c.self_service_daily_cap = 0)),
            ("self_service_daily_cap", Box::new(|c| c.self_service_daily_cap = 101)),
            (
                "self_service_daily_cap",
                Box::new(|c| c.self_service_daily_cap = c.daily_send_cap),
            ),
            (
                "self_service_daily_cap",
                Box::new(|c| {
                    c.daily_send_cap = 3;
                    c.self_service_daily_cap = 5;
                }),
            ),
            (
                "hashing.preset",
                Box::new(|c| c.hashing.preset = HashPreset::Custom { m_kib: 8, t: 1, p: 1 }),
            ),
            (
                "hashing.preset",
                Box::new(|c| {
                    c.hashing.preset = HashPreset::Custom {
                        m_kib: 7168,
                        t: 4,
                        p: 1,
                    }
                }),
            ),
            ("resend_cooldown", Box::new(|c| c.resend_cooldown = Duration::ZERO)),
            ("activation_ttl", Box::new(|c| c.activation_ttl = Duration::ZERO)),
            (
                "ticket_ttl",
                Box::new(|c| c.ticket_ttl = Duration::from_secs(u64::MAX / 4)),
            ),
            ("pin_length", Box::new(|c| c.pin_length = 4)),
            ("password.min_length", Box::new(|c| c.password.min_length = 6)),
            ("password.max_length", Box::new(|c| c.password.max_length = 32)),
            (
                "hashing.max_concurrent",
                Box::new(|c| c.hashing.max_concurrent = Some(0)),
            ),
        ];
        for (field, change) in bad {
            let mut c = ActivationConfig::default();
            change(&mut c);
            assert_eq!(c.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn serde_round_trip_with_defaults() {
        let c: ActivationConfig =
            serde_json::from_str(r#"{"activation_ttl":"48h","max_attempts":3,"hashing":{"preset":"testing"}}"#)
                .unwrap();
        assert_eq!(c.activation_ttl, Duration::from_secs(48 * 3600));
        assert_eq!(c.max_attempts, 3);
        assert_eq!(c.reset_ttl, Duration::from_secs(3600));
        assert_eq!(c.hashing.preset, HashPreset::Testing);
        let back: ActivationConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<ActivationConfig>(r#"{"max_attempt":3}"#).is_err());
        assert!(serde_json::from_str::<ActivationConfig>(r#"{"default_region":"ZZ"}"#).is_err());
    }
}
