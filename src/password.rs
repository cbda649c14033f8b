//! The password policy, applied at the forced reset exactly as anywhere else.
//!
//! Follows NIST SP 800-63B-4: length counted in Unicode code points after
//! NFKC, a generous maximum, never truncated, no composition rules, and a
//! blocklist of common passwords (the `passwords` crate's list, about
//! 100,000 entries) plus the user's own identifiers. A hard byte cap, checked
//! before normalization and again after it, bounds the hashing work a
//! hostile request can cause.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::pin::parse_pin_input;
use crate::secret::Password;

/// Length limits and the blocklist switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Fewest code points (after NFKC). Default 8; must exceed the PIN length.
    pub min_length: usize,
    /// Most code points. Default 64 (NIST: allow at least 64).
    pub max_length: usize,
    /// Most bytes of UTF-8, before and after normalization. Default 1024.
    pub max_bytes: usize,
    /// Refuse passwords on the common-password list. Default on.
    pub blocklist: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 64,
            max_bytes: 1024,
            blocklist: true,
        }
    }
}

/// Why a password was refused. Each variant's text can be shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordRejection {
    /// Fewer code points than the minimum.
    #[error("the password must be at least {min} characters long")]
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// More code points (or bytes) than the maximum.
    #[error("the password must be at most {max} characters long")]
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// On the list of commonly used passwords.
    #[error("this password is too common; choose one that is harder to guess")]
    Common,
    /// Equal to, or built on, the user's email address, phone number or name.
    #[error("the password must not be your email address, phone number or name")]
    ContainsIdentifier,
    /// Only digits, spaces and dashes of a PIN's length: it would be read as a PIN.
    #[error("the password must not look like a PIN")]
    LooksLikePin,
    /// Contains control characters.
    #[error("the password must not contain control characters")]
    ControlCharacters,
}

impl PasswordPolicy {
    /// Checks the length limits only (no blocklist). Used at sign-in to
    /// refuse impossible passwords before any hashing.
    pub(crate) fn length_ok(&self, raw: &str) -> bool {
        raw.len() <= self.max_bytes && {
            let n = normalize(raw);
            let count = n.chars().count();
            n.len() <= self.max_bytes && (self.min_length..=self.max_length).contains(&count)
        }
    }

    /// Checks a new password and returns its normalized (NFKC) form, the one
    /// that is hashed. `identifiers` are the user's own email, phone and name.
    ///
    /// # Errors
    /// The first [`PasswordRejection`] that applies.
    pub fn check(
        &self,
        raw: &Password,
        identifiers: &[&str],
        pin_length: usize,
    ) -> Result<Password, PasswordRejection> {
        let raw = raw.expose_secret();
        if raw.len() > self.max_bytes {
            return Err(PasswordRejection::TooLong { max: self.max_length });
        }
        let normalized = Password::new(normalize(raw));
        let pw = normalized.expose_secret();
        if pw.len() > self.max_bytes {
            return Err(PasswordRejection::TooLong { max: self.max_length });
        }
        if pw.chars().any(char::is_control) {
            return Err(PasswordRejection::ControlCharacters);
        }
        let count = pw.chars().count();
        if count < self.min_length {
            return Err(PasswordRejection::TooShort { min: self.min_length });
        }
        if count > self.max_length {
            return Err(PasswordRejection::TooLong { max: self.max_length });
        }
        if parse_pin_input(pw, pin_length).is_some() {
            return Err(PasswordRejection::LooksLikePin);
        }
        let lower = pw.to_lowercase();
        if self.blocklist
            && (passwords::analyzer::is_common_password(pw) || passwords::analyzer::is_common_password(&lower))
        {
            return Err(PasswordRejection::Common);
        }
        // Phone numbers are typed with separators: "(312) 555-0123" must
        // meet the stored "+13125550123".
        let compact: String = lower.chars().filter(|c| !PHONE_SEPARATORS.contains(c)).collect();
        if identifiers
            .iter()
            .flat_map(|id| identifier_parts(id))
            .any(|part| lower.contains(&part) || compact.contains(&part))
        {
            return Err(PasswordRejection::ContainsIdentifier);
        }
        Ok(normalized)
    }
}

/// NFKC, the form passwords are hashed in.
pub(crate) fn normalize(raw: &str) -> String {
    raw.nfkc().collect()
}

/// What people type between the digits of a phone number.
const PHONE_SEPARATORS: [char; 7] = [' ', '-', '.', '(', ')', '+', '/'];

/// The pieces of an identifier a password must not contain, in the form the
/// password is compared in (NFKC, lower-cased): the whole, an email's local
/// part and its domain's ASCII (punycode) spelling, a phone's digits and
/// its last 7 digits, each name word. Pieces shorter than 4 characters are
/// ignored.
fn identifier_parts(id: &str) -> Vec<String> {
    let id = normalize(id.trim()).to_lowercase();
    let mut parts = vec![id.clone()];
    let is_phone = id.chars().all(|c| c.is_ascii_digit() || PHONE_SEPARATORS.contains(&c));
    let digits: String = id.chars().filter(char::is_ascii_digit).collect();
    if let Some((local, domain)) = id.rsplit_once('@') {
        parts.push(local.to_owned());
        if let Ok(ascii) = idna::domain_to_ascii(domain) {
            parts.push(format!("{local}@{ascii}"));
        }
    } else if is_phone && digits.len() >= 7 {
        parts.push(digits[digits.len() - 7..].to_owned());
        parts.push(digits);
    } else {
        parts.extend(id.split_whitespace().map(str::to_owned));
    }
    parts.retain(|p| p.chars().count() >= 4);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &PasswordPolicy, pw: &str) -> Result<(), PasswordRejection> {
        p.check(
            &Password::new(pw),
            &["alice.smith@example.com", "+13125550123", "Alice Smith"],
            6,
        )
        .map(drop)
    }

    #[test]
    fn rules() {
        let p = PasswordPolicy::default();
        assert_eq!(check(&p, "short"), Err(PasswordRejection::TooShort { min: 8 }));
        assert_eq!(check(&p, "password"), Err(PasswordRejection::Common));
        assert_eq!(check(&p, "Password1"), Err(PasswordRejection::Common));
        assert_eq!(
            check(&p, "alice.smith@example.com"),
            Err(PasswordRejection::ContainsIdentifier)
        );
        assert_eq!(check(&p, "my5550123pass"), Err(PasswordRejection::ContainsIdentifier));
        // the phone as people type it, with separators
        for typed in ["(312) 555-0123", "312.555.0123", "+1 312 555 0123", "my 555-0123 pass"] {
            assert_eq!(check(&p, typed), Err(PasswordRejection::ContainsIdentifier), "{typed}");
        }
        assert_eq!(check(&p, "12 34 56"), Err(PasswordRejection::LooksLikePin));
        assert_eq!(check(&p, "tab\there-long"), Err(PasswordRejection::ControlCharacters));
        assert_eq!(check(&p, &"x".repeat(65)), Err(PasswordRejection::TooLong { max: 64 }));
        assert_eq!(
            check(&p, &"x".repeat(2 << 20)),
            Err(PasswordRejection::TooLong { max: 64 })
        );
        assert_eq!(check(&p, "correct horse battery staple"), Ok(()));
    }

    #[test]
    fn identifiers_are_compared_in_the_passwords_form() {
        let p = PasswordPolicy::default();
        let refused = |pw: &str, ids: &[&str]| {
            p.check(&Password::new(pw), ids, 6).err() == Some(PasswordRejection::ContainsIdentifier)
        };
        // a stored NFC email with a ligature, and the password NFKC-folded
        assert!(refused("\u{fb01}ona@example.com", &["\u{fb01}ona@example.com"]));
        assert!(refused("fiona@example.com", &["\u{fb01}ona@example.com"]));
        // the punycode spelling of the stored Unicode domain
        assert!(refused("bo@xn--bcher-kva.example", &["bo@bücher.example"]));
        assert!(refused("bo@BÜCHER.example", &["bo@bücher.example"]));
        // a name is not a phone number: its words count, not its digits
        assert!(!refused("unit 1234567 storage", &["Room 12345678"]));
        assert!(refused("my room 12345678", &["Room 12345678"]));
    }

    #[test]
    fn length_is_code_points_after_nfkc() {
        let p = PasswordPolicy {
            min_length: 12,
            ..Default::default()
        };
        // 13 code points of CJK and emoji: many more bytes, still 13
        let cjk = "秘密の合言葉🔑🌏山川海空星";
        assert_eq!(cjk.chars().count(), 13);
        assert_eq!(check(&p, cjk), Ok(()));
        // fullwidth letters fold to ASCII under NFKC
        let folded = p.check(&Password::new("ｃｏｒｒｅｃｔ ｈｏｒｓｅ"), &[], 6).unwrap();
        assert_eq!(folded.expose_secret(), "correct horse");
        // never truncated: a 64-char password differs from its 63-char prefix
        assert!(p.length_ok(&"y".repeat(64)));
        assert!(!p.length_ok(&"y".repeat(65)));
    }
}
