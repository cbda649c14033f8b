//! Who a user is: ids, roles and the normalized login identifiers.
//!
//! Storage and lookup go through the same two functions,
//! [`Email::parse`] and [`Phone::parse`], so an address typed in any form
//! maps to one canonical key:
//!
//! - **Email**: surrounding whitespace trimmed, Unicode NFC, then lower-cased
//!   as a whole (local part included: portals treat addresses
//!   case-insensitively, and a bulk import's `Alice@Example.COM` must be the
//!   same person as `alice@example.com`). The domain is then put in its
//!   Unicode form by UTS-46 (the `idna` crate), so a punycode domain
//!   (`xn--bcher-kva.example`) is the same as `bücher.example`. Syntax is
//!   checked by the `email_address` crate with display names refused and a
//!   dotted domain required; the local part must be a dot-atom (a quoted
//!   string or a comment would be a second spelling of one mailbox:
//!   `"alice"@example.com` is `alice@example.com`) and the domain a name
//!   (no address literal). NFC folds compatibility singletons such as the
//!   Kelvin sign (U+212A) to their canonical letter, so such look-alikes
//!   collide with the real address instead of creating a second account.
//! - **Phone**: E.164 via the `phonenumber` crate (libphonenumber's data),
//!   with a configurable default region for national formats. A leading `00`
//!   is read as the international prefix `+`. Letters are refused (no vanity
//!   numbers), and only numbers that libphonenumber calls valid are accepted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Longest input accepted for any identifier, in bytes, before any parsing.
pub const MAX_IDENTIFIER_BYTES: usize = 320;

/// Why an identifier, id or name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Nothing was given.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// The input is longer than allowed.
    #[error("the {0} is too long")]
    TooLong(&'static str),
    /// The input contains control characters or other invisible code points.
    #[error("the {0} contains control or invisible characters")]
    ControlCharacters(&'static str),
    /// An id with characters other than printable ASCII (spaces included).
    #[error("the {0} may only hold printable ASCII characters, without spaces")]
    NotPrintableAscii(&'static str),
    /// Not a valid email address.
    #[error("not a valid email address")]
    InvalidEmail,
    /// Not a valid phone number for the region.
    #[error("not a valid phone number")]
    InvalidPhone,
    /// The configured default region is not an ISO 3166 code.
    #[error("unknown phone region {0:?}")]
    UnknownRegion(String),
}

/// A user's id. Caller-supplied ids (from an existing portal) are accepted
/// when they are 1 to 64 printable ASCII characters without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Checks a caller-supplied id.
    ///
    /// # Errors
    /// [`InputError`] when the id is empty, longer than 64 bytes, or has
    /// characters outside printable ASCII.
    pub fn new(id: impl Into<String>) -> Result<Self, InputError> {
        let id = id.into();
        if id.is_empty() {
            return Err(InputError::Empty("user id"));
        }
        if id.len() > 64 {
            return Err(InputError::TooLong("user id"));
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InputError::NotPrintableAscii("user id"));
        }
        Ok(Self(id))
    }

    /// A fresh random id (`u_` and 32 hex digits).
    pub fn random() -> Self {
        let bytes: [u8; 16] = rand::random();
        Self(format!("u_{}", crate::pin::hex(&bytes)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserId {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

/// What a user is in the portal. Roles do not change how activation works;
/// they are carried so the portal and the audit trail can tell staff from
/// tenants.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// A customer renting a unit.
    Tenant,
    /// A staff member of the facility.
    Staff,
    /// A manager.
    Manager,
    /// Any other role a portal uses (lower-cased).
    Other(String),
}

impl FromStr for Role {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_lowercase();
        Ok(match s.as_str() {
            "" => return Err(InputError::Empty("role")),
            "tenant" => Role::Tenant,
            "staff" => Role::Staff,
            "manager" => Role::Manager,
            _ if s.len() > 32 => return Err(InputError::TooLong("role")),
            _ if s.chars().any(char::is_control) => {
                return Err(InputError::ControlCharacters("role"));
            }
            _ => Role::Other(s),
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Tenant => "tenant",
            Role::Staff => "staff",
            Role::Manager => "manager",
            Role::Other(s) => s,
        })
    }
}

/// True for code points that render as nothing or move text around:
/// controls, bidi marks and overrides, zero-width characters.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}' | '\u{00AD}')
}

fn check_raw<'a>(input: &'a str, what: &'static str) -> Result<&'a str, InputError> {
    if input.len() > MAX_IDENTIFIER_BYTES {
        return Err(InputError::TooLong(what));
    }
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(InputError::Empty(what));
    }
    if trimmed.chars().any(is_invisible) {
        return Err(InputError::ControlCharacters(what));
    }
    Ok(trimmed)
}

/// Characters that only appear in quoted or commented local parts and in
/// address literals.
const QUOTING: [char; 12] = ['"', '\\', '(', ')', '[', ']', ' ', ',', ':', ';', '<', '>'];

/// A normalized email address (see the module docs for the rules).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Normalizes and checks an email address.
    ///
    /// # Errors
    /// [`InputError`] for empty, over-long, invisible-character or
    /// syntactically invalid input.
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let trimmed = check_raw(input, "email address")?;
        // NFC, lower-case, NFC again: lower-casing can undo NFC (`W` +
        // ring above has no precomposed form, `w` + ring above does), and
        // the canonical form must parse back to itself.
        let mut canonical: String = trimmed.nfc().collect::<String>().to_lowercase().nfc().collect();
        // Only a dot-atom local part (RFC 5322; Unicode letters allowed as
        // in RFC 6531) and a domain name: a quoted string or a comment is
        // another spelling of one mailbox (`"alice"@example.com` is
        // `alice@example.com`), so it would open a second account for it; an
        // address literal (`[192.0.2.1]`) is no portal user's address.
        if canonical.chars().any(|c| QUOTING.contains(&c)) {
            return Err(InputError::InvalidEmail);
        }
        // The domain in its Unicode form (UTS-46, as browsers and mail
        // clients read it): `xn--bcher-kva.example` and `bücher.example`
        // are one domain, so they must be one account.
        if let Some(at) = canonical.rfind('@') {
            let (unicode, valid) = idna::domain_to_unicode(&canonical[at + 1..]);
            if valid.is_err() || unicode.is_empty() {
                return Err(InputError::InvalidEmail);
            }
            canonical.replace_range(at + 1.., &unicode);
        }
        let options = email_address::Options::default()
            .without_display_text()
            .with_required_tld();
        email_address::EmailAddress::parse_with_options(&canonical, options).map_err(|_| InputError::InvalidEmail)?;
        Ok(Self(canonical))
    }

    /// The canonical address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = InputError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

/// The region used to read phone numbers written without a country code
/// (an ISO 3166-1 alpha-2 code such as `US` or `GB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl Region {
    /// The United States.
    pub const US: Region = Region(phonenumber::country::Id::US);

    /// The ISO code.
    pub fn code(&self) -> String {
        let id: &str = self.0.as_ref();
        id.to_owned()
    }
}

impl FromStr for Region {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        phonenumber::country::Id::from_str(&s.trim().to_ascii_uppercase())
            .map(Region)
            .map_err(|_| InputError::UnknownRegion(s.chars().take(8).collect()))
    }
}

impl Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A phone number in E.164 form (`+13125550123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Normalizes a phone number to E.164, reading national formats in
    /// `region`.
    ///
    /// # Errors
    /// [`InputError`] for empty, over-long or invisible-character input,
    /// letters, or a number libphonenumber does not consider valid.
    pub fn parse(input: &str, region: Region) -> Result<Self, InputError> {
        let trimmed = check_raw(input, "phone number")?;
        if trimmed.len() > 40 {
            return Err(InputError::TooLong("phone number"));
        }
        if !trimmed.chars().all(|c| c.is_ascii_digit() || " +-.()/".contains(c)) {
            return Err(InputError::InvalidPhone);
        }
        // "00" is the international prefix in most of the world; libphonenumber
        // would read it as national digits under a US default region.
        let owned;
        let text = match trimmed.strip_prefix("00") {
            Some(rest) => {
                owned = format!("+{rest}");
                owned.as_str()
            }
            None => trimmed,
        };
        let number = phonenumber::parse(Some(region.0), text).map_err(|_| InputError::InvalidPhone)?;
        if !phonenumber::is_valid(&number) {
            return Err(InputError::InvalidPhone);
        }
        Ok(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// The E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = InputError;
    /// Only E.164 text round-trips through serde; national formats need a
    /// region and go through [`Phone::parse`].
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if !value.starts_with('+') {
            return Err(InputError::InvalidPhone);
        }
        Self::parse(&value, Region::US)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> Self {
        p.0
    }
}

/// A login identifier as typed at sign-in: an email address or a phone
/// number, normalized exactly as at creation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Login {
    /// Sign-in by email address.
    Email(Email),
    /// Sign-in by phone number.
    Phone(Phone),
}

impl Login {
    /// Reads an identifier: anything with an `@` is an email address,
    /// anything else a phone number.
    ///
    /// # Errors
    /// [`InputError`] when the identifier is neither.
    pub fn parse(input: &str, region: Region) -> Result<Self, InputError> {
        if input.contains('@') {
            Email::parse(input).map(Login::Email)
        } else {
            Phone::parse(input, region).map(Login::Phone)
        }
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Login::Email(e) => e.fmt(f),
            Login::Phone(p) => p.fmt(f),
        }
    }
}

/// A display name: trimmed, NFC, 1 to 200 characters, no control characters.
///
/// # Errors
/// [`InputError`] when the name is empty, too long or has control characters.
pub fn normalize_display_name(input: &str) -> Result<String, InputError> {
    if input.len() > 800 {
        return Err(InputError::TooLong("display name"));
    }
    let name: String = input.trim().nfc().collect();
    if name.is_empty() {
        return Err(InputError::Empty("display name"));
    }
    if name.chars().count() > 200 {
        return Err(InputError::TooLong("display name"));
    }
    if name.chars().any(is_invisible) {
        return Err(InputError::ControlCharacters("display name"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_normalization_is_idempotent_where_lowercasing_breaks_nfc() {
        // found by the `identifiers` fuzz target's idempotence check
        let upper = Email::parse("W\u{30A}@example.com").unwrap();
        assert_eq!(upper.as_str(), "\u{1E98}@example.com");
        assert_eq!(Email::parse(upper.as_str()).unwrap(), upper);
        assert_eq!(
            Email::parse("\u{1E98}@example.com").unwrap(),
            upper,
            "one account, not two"
        );
    }

    #[test]
    fn email_is_trimmed_nfc_and_lowercased() {
        let e = Email::parse("  Alice.Smith@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "alice.smith@example.com");
        // NFD "é" becomes NFC
        let nfd = Email::parse("Jose\u{301}@example.com").unwrap();
        let nfc = Email::parse("jos\u{e9}@example.com").unwrap();
        assert_eq!(nfd, nfc);
        // Kelvin sign folds to k
        assert_eq!(
            Email::parse("\u{212A}im@example.com").unwrap().as_str(),
            "kim@example.com"
        );
    }

    #[test]
    fn email_refuses_display_names_and_missing_tld() {
        for bad in [
            "Alice <a@x.com>",
            "a@b",
            "",
            "   ",
            "no-at-sign",
            "a\u{202E}b@example.com",
            "a\0@example.com",
            // quoted strings and comments: second spellings of one mailbox
            "\"alice2\"@example.com",
            "\"a@b\"@example.com",
            "\"al ice\"@example.com",
            "alice(work)@example.com",
            "(work)alice@example.com",
            "a\\b@example.com",
            "alice@[192.0.2.1]",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        // the usual dot-atom specials stay allowed
        for good in [
            "o'brien@example.com",
            "a.b+tag@example.com",
            "x_y-z!#$%&*=?^`{|}~@example.com",
        ] {
            assert!(Email::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn phone_formats_agree() {
        let want = "+13125550123";
        for input in [
            "+1 (312) 555-0123",
            "+13125550123",
            "(312) 555-0123",
            "312.555.0123",
            "001 312 555 0123",
        ] {
            assert_eq!(Phone::parse(input, Region::US).unwrap().as_str(), want, "{input}");
        }
        assert_ne!(Phone::parse("+1 312 555 0124", Region::US).unwrap().as_str(), want);
    }

    #[test]
    fn phone_refuses_junk() {
        for bad in [
            "12345",
            "1-800-FLOWERS",
            "07700 900370",
            "",
            "+",
            "++13125550123x",
            &"9".repeat(41),
        ] {
            assert!(Phone::parse(bad, Region::US).is_err(), "{bad:?} accepted");
        }
        // the same UK drama-range number is still invalid with its country code
        assert!(Phone::parse("+44 7700 900370", Region::US).is_err());
    }

    #[test]
    fn user_ids_and_roles() {
        assert!(UserId::new("tenant-42").is_ok());
        assert!(UserId::new("has space").is_err());
        assert!(UserId::new("").is_err());
        assert!(UserId::random().as_str().starts_with("u_"));
        assert_eq!("Tenant".parse::<Role>().unwrap(), Role::Tenant);
        assert_eq!("Auditor".parse::<Role>().unwrap(), Role::Other("auditor".into()));
    }
}
