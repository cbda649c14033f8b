//! Delivery: [`Notifier`], [`Channel`], [`ActivationMessage`] and the
//! message templates, plus the notifiers:
//!
//! - [`OutboxNotifier`] (keeps messages for tests, can be told to fail) and
//!   [`ConsoleNotifier`] (prints them, for examples), in every build;
//! - [`Retrying`], which retries transient failures with exponential
//!   backoff, and [`ChannelRouter`], which sends email through one notifier
//!   and SMS through another, in every build;
//! - `SmtpNotifier` (feature `smtp`): email over SMTP with lettre;
//! - `HttpSmsNotifier` (feature `sms-http`): SMS through an HTTP gateway
//!   speaking the common Messages API form.
//!
//! A production stack is usually
//! `ChannelRouter::new(Retrying::new(smtp, policy)?, Retrying::new(sms, policy)?)`.
//!
//! # Fallback: channels in the service, transports in a notifier
//!
//! When the preferred channel (`ActivationConfig::preferred_channel`, email
//! by default) fails permanently (bad address, provider refusal), the
//! service itself sends the same PIN over the user's other channel
//! (`ActivationConfig::channel_fallback`, on by default), because the
//! message has to be rendered again for that channel: a notifier only ever
//! sees one channel's message. Transient failures are retried by
//! [`Retrying`] on the same channel and do not fall back: the address is
//! fine, the transport is having a bad moment.
//!
//! [`FallbackNotifier`] is the other half: a backup transport for the same
//! channel (a second SMTP relay, a second SMS gateway), tried when the first
//! one fails.
//!
//! # Errors
//!
//! Every notifier reports a [`DeliveryError`] that says whether the failure
//! is [transient](DeliveryErrorKind::Transient) or
//! [permanent](DeliveryErrorKind::Permanent), with the transport's error as
//! its source. No notifier puts the message body, the PIN or a credential in
//! an error or a log line.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, MessageConfig};
use crate::identity::{Email, Phone, UserId};
use crate::secret::{Pin, SecretText};

mod fallback;
mod retry;
mod router;
#[cfg(feature = "sms-http")]
mod sms;
#[cfg(feature = "smtp")]
mod smtp;

pub use fallback::{FallbackNotifier, FallbackOn};
pub use retry::{RetryPolicy, Retrying, Sleeper, TokioSleeper};
pub use router::ChannelRouter;
#[cfg(feature = "sms-http")]
pub use sms::{DEFAULT_SMS_API_BASE, GatewayAnswer, HttpSmsConfig, HttpSmsNotifier, SmsSender};
#[cfg(feature = "smtp")]
pub use smtp::{SmtpConfig, SmtpCredentials, SmtpNotifier, SmtpSecurity};

/// Where a message goes: always an address from the user's record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An email address.
    Email(Email),
    /// A mobile number in E.164 form.
    Sms(Phone),
}

impl Channel {
    /// The kind of channel, without the address.
    pub fn kind(&self) -> ChannelKind {
        match self {
            Channel::Email(_) => ChannelKind::Email,
            Channel::Sms(_) => ChannelKind::Sms,
        }
    }

    /// The address as text.
    pub fn address(&self) -> &str {
        match self {
            Channel::Email(e) => e.as_str(),
            Channel::Sms(p) => p.as_str(),
        }
    }
}

/// Email or SMS, without the address (what audit events carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Email.
    Email,
    /// Text message.
    Sms,
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChannelKind::Email => "email",
            ChannelKind::Sms => "SMS",
        })
    }
}

/// Why a PIN was issued; it decides its lifetime and its wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinPurpose {
    /// First activation of a new account (`activation_ttl`).
    Activation,
    /// Password reset of an active account (`reset_ttl`).
    Reset,
}

/// A rendered message, ready for a [`Notifier`]. Its `Debug` shows the
/// recipient and subject but never the body or the PIN.
#[derive(Clone)]
pub struct ActivationMessage {
    /// The user it is for.
    pub user_id: UserId,
    /// Where it goes (from the user's record).
    pub channel: Channel,
    /// Activation or reset.
    pub purpose: PinPurpose,
    /// The email subject (`None` for SMS).
    pub subject: Option<String>,
    /// When the PIN stops working.
    pub expires_at: DateTime<Utc>,
    body: SecretText,
    pin: Pin,
}

impl ActivationMessage {
    /// The plain-text body, PIN included. Dangerous: hand it only to the
    /// transport.
    pub fn body(&self) -> &SecretText {
        &self.body
    }

    /// The PIN alone, e.g. for an HTML part of an email.
    pub fn pin(&self) -> &Pin {
        &self.pin
    }
}

impl fmt::Debug for ActivationMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivationMessage")
            .field("user_id", &self.user_id)
            .field("channel", &self.channel)
            .field("purpose", &self.purpose)
            .field("subject", &self.subject)
            .field("expires_at", &self.expires_at)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// What a transport reports after accepting a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The channel used.
    pub channel: ChannelKind,
    /// The provider's message id, where there is one.
    pub provider_id: Option<String>,
}

/// Whether retrying later may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryErrorKind {
    /// Timeout, refused connection, temporary rejection: worth retrying.
    Transient,
    /// Bad address, provider refusal: retrying will not help.
    Permanent,
}

/// A failed delivery. Carries the transport's error as its source, never the
/// message body.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?} delivery failure over {channel}: {reason}")]
pub struct DeliveryError {
    kind: DeliveryErrorKind,
    channel: ChannelKind,
    reason: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DeliveryError {
    /// A failure; `reason` must not contain the message or the PIN.
    pub fn new(kind: DeliveryErrorKind, channel: ChannelKind, reason: impl Into<String>) -> Self {
        Self {
            kind,
            channel,
            reason: reason.into(),
            source: None,
        }
    }

    /// Attaches the transport's error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Transient or permanent.
    pub fn kind(&self) -> DeliveryErrorKind {
        self.kind
    }

    /// True when retrying later may help.
    pub fn is_transient(&self) -> bool {
        self.kind == DeliveryErrorKind::Transient
    }

    /// The channel that failed.
    pub fn channel(&self) -> ChannelKind {
        self.channel
    }
}

/// Delivers messages. One required method; implementations must be cheap
/// to share (`Send + Sync`).
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Sends `message` to `message.channel`.
    ///
    /// # Errors
    /// [`DeliveryError`] when the transport did not accept the message.
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError>;
}

#[async_trait]
impl<N: Notifier + ?Sized> Notifier for Arc<N> {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        (**self).send(message).await
    }
}

/// Keeps every message it is given, in order, for tests (after lettre's
/// `StubTransport`). Clones share one outbox.
#[derive(Debug, Clone, Default)]
pub struct OutboxNotifier {
    state: Arc<Mutex<Outbox>>,
}

#[derive(Debug, Default)]
struct Outbox {
    messages: Vec<ActivationMessage>,
    fail_all: Option<DeliveryErrorKind>,
    fail_next: usize,
}

impl OutboxNotifier {
    /// Accepts every message.
    pub fn new_ok() -> Self {
        Self::default()
    }

    /// Refuses every message with a failure of `kind`.
    pub fn new_error(kind: DeliveryErrorKind) -> Self {
        let n = Self::default();
        n.lock().fail_all = Some(kind);
        n
    }

    /// Refuses the next `n` messages (permanently), then accepts again.
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    /// Accepts (`None`) or refuses every message from now on.
    pub fn set_failing(&self, kind: Option<DeliveryErrorKind>) {
        self.lock().fail_all = kind;
    }

    /// Every accepted message so far.
    pub fn messages(&self) -> Vec<ActivationMessage> {
        self.lock().messages.clone()
    }

    /// The last accepted message for `user`.
    pub fn last_for(&self, user: &UserId) -> Option<ActivationMessage> {
        self.lock().messages.iter().rev().find(|m| &m.user_id == user).cloned()
    }

    /// The PIN of the last accepted message for `user`. Dangerous, as
    /// [`Pin::expose_secret`]: for tests and demos.
    pub fn last_pin_for(&self, user: &UserId) -> Option<Pin> {
        self.last_for(user).map(|m| m.pin.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Notifier for OutboxNotifier {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let mut outbox = self.lock();
        let kind = message.channel.kind();
        if let Some(fail) = outbox.fail_all {
            return Err(DeliveryError::new(fail, kind, "outbox told to fail"));
        }
        if outbox.fail_next > 0 {
            outbox.fail_next -= 1;
            return Err(DeliveryError::new(
                DeliveryErrorKind::Permanent,
                kind,
                "outbox told to fail",
            ));
        }
        outbox.messages.push(message.clone());
        Ok(DeliveryReceipt {
            channel: kind,
            provider_id: Some(format!("outbox-{}", outbox.messages.len())),
        })
    }
}

/// Prints each message to standard output, PIN included: a stand-in inbox
/// for examples and demos. Never use it in production.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleNotifier;

#[async_trait]
impl Notifier for ConsoleNotifier {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        println!("{}", render_for_display(message));
        Ok(DeliveryReceipt {
            channel: message.channel.kind(),
            provider_id: None,
        })
    }
}

/// The message as a mail or phone screen would show it (PIN included).
pub fn render_for_display(message: &ActivationMessage) -> String {
    let mut out = String::new();
    match &message.channel {
        Channel::Email(to) => {
            out.push_str(&format!("  To: {to}\n"));
            if let Some(s) = &message.subject {
                out.push_str(&format!("  Subject: {s}\n"));
            }
            out.push('\n');
        }
        Channel::Sms(to) => out.push_str(&format!("  SMS to {to}:\n")),
    }
    for line in message.body.expose_secret().lines() {
        out.push_str("  | ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The message templates. Placeholders: `{name}` (display name), `{pin}`,
/// `{expires}` (UTC instant, `2026-12-06 16:38:00 UTC`), `{sign_in_url}`,
/// `{operator}`, and `{intro}` (a sentence that says whether this is a new
/// account or a password reset). `{pin}` is required in every body; unknown
/// placeholders are refused when the config is validated, and the SMS must
/// fit one GSM-7 segment (160 characters) with the configured operator and
/// URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Templates {
    /// Email subject.
    pub email_subject: String,
    /// Email plain-text body.
    pub email_body: String,
    /// SMS text.
    pub sms_body: String,
}

impl Default for Templates {
    fn default() -> Self {
        Self {
            email_subject: "Your {operator} sign-in PIN".to_owned(),
            email_body: "Hello {name},\n\n\
{intro}\n\n\
Your one-time PIN is: {pin}\n\n\
Sign in at {sign_in_url} with your email address or phone number,\n\
and enter this PIN as your password. You will then choose a new password.\n\n\
The PIN is valid until {expires}. If you did not expect this message,\n\
you can ignore it; nobody can use your account without the PIN.\n\n\
{operator}\n"
                .to_owned(),
            sms_body:
                "{operator}: your PIN is {pin}. Sign in at {sign_in_url} and set a new password. Valid until {expires}."
                    .to_owned(),
        }
    }
}

const PLACEHOLDERS: [&str; 6] = ["name", "pin", "expires", "sign_in_url", "operator", "intro"];

/// Renders an instant the way every message shows it: UTC, to the second,
/// with the zone spelled out. Independent of the process time zone.
pub fn format_expiry(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// GSM 03.38 basic character set (the characters that keep an SMS at 160
/// per segment).
fn is_gsm7(c: char) -> bool {
    c.is_ascii_alphanumeric() || " \n\r@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà".contains(c)
}

/// Characters in one SMS segment of the GSM-7 basic set.
pub(crate) const SMS_SEGMENT_CHARS: usize = 160;

/// Why `text` does not fit one GSM-7 SMS segment, or `None` when it does.
/// Says only the length and whether a character is outside the set, never
/// the text.
pub(crate) fn sms_segment_problem(text: &str) -> Option<String> {
    let count = text.chars().count();
    let gsm7 = text.chars().all(is_gsm7);
    if count <= SMS_SEGMENT_CHARS && gsm7 {
        return None;
    }
    Some(format!(
        "renders to {count} characters{}; one SMS segment holds {SMS_SEGMENT_CHARS} GSM-7 characters",
        if gsm7 { "" } else { " with non-GSM-7 characters" }
    ))
}

pub(crate) struct RenderInput<'a> {
    pub name: &'a str,
    pub pin: &'a str,
    pub expires_at: DateTime<Utc>,
    pub purpose: PinPurpose,
}

impl Templates {
    fn check_placeholders(field: &'static str, text: &str, need_pin: bool) -> Result<(), ConfigError> {
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let end = after.find('}').ok_or_else(|| ConfigError::new(field, "unclosed `{`"))?;
            let name = &after[..end];
            if !PLACEHOLDERS.contains(&name) {
                return Err(ConfigError::new(field, format!("unknown placeholder {{{name}}}")));
            }
            rest = &after[end + 1..];
        }
        if need_pin && !text.contains("{pin}") {
            return Err(ConfigError::new(field, "the template has no {pin} placeholder"));
        }
        if text.len() > 8192 {
            return Err(ConfigError::new(field, "template longer than 8 KiB"));
        }
        Ok(())
    }

    pub(crate) fn validate(&self, config: &MessageConfig, pin_length: usize) -> Result<(), ConfigError> {
        Self::check_placeholders("messages.templates.email_subject", &self.email_subject, false)?;
        if self.email_subject.contains("{pin}") {
            return Err(ConfigError::new(
                "messages.templates.email_subject",
                "the PIN must not appear in a subject line (it shows in notifications and logs)",
            ));
        }
        Self::check_placeholders("messages.templates.email_body", &self.email_body, true)?;
        Self::check_placeholders("messages.templates.sms_body", &self.sms_body, true)?;
        // The longest SMS this template can produce: the configured PIN
        // length, a name as long as an SMS ever shows one.
        let pin = "0".repeat(pin_length);
        let longest_name = "X".repeat(SMS_NAME_CHARS);
        let sample = RenderInput {
            name: &longest_name,
            pin: &pin,
            expires_at: DateTime::<Utc>::MAX_UTC,
            purpose: PinPurpose::Activation,
        };
        let sms = self.render_sms(config, &sample);
        if let Some(problem) = sms_segment_problem(sms.expose_secret()) {
            return Err(ConfigError::new("messages.templates.sms_body", problem));
        }
        Ok(())
    }

    fn fill(template: &str, config: &MessageConfig, input: &RenderInput<'_>) -> String {
        let intro = match input.purpose {
            PinPurpose::Activation => format!("An account has been created for you at {}.", config.operator_name),
            PinPurpose::Reset => format!("A new PIN was requested for your {} account.", config.operator_name),
        };
        // One pass, so a value containing "{pin}" is never expanded again.
        let mut out = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            match after.find('}') {
                Some(end) => {
                    match &after[..end] {
                        "name" => out.push_str(input.name),
                        "pin" => out.push_str(input.pin),
                        "expires" => out.push_str(&format_expiry(input.expires_at)),
                        "sign_in_url" => out.push_str(&config.sign_in_url),
                        "operator" => out.push_str(&config.operator_name),
                        "intro" => out.push_str(&intro),
                        other => {
                            out.push('{');
                            out.push_str(other);
                            out.push('}');
                        }
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn render_sms(&self, config: &MessageConfig, input: &RenderInput<'_>) -> SecretText {
        let name = sms_name(input.name);
        let input = RenderInput { name: &name, ..*input };
        SecretText::new(Self::fill(&self.sms_body, config, &input))
    }

    /// Subject (email only) and body for `channel`.
    pub(crate) fn render(
        &self,
        config: &MessageConfig,
        channel: &Channel,
        input: &RenderInput<'_>,
    ) -> (Option<String>, SecretText) {
        match channel {
            Channel::Email(_) => (
                Some(Self::fill(&self.email_subject, config, input)),
                SecretText::new(Self::fill(&self.email_body, config, input)),
            ),
            Channel::Sms(_) => (None, self.render_sms(config, input)),
        }
    }
}

/// The most characters of a display name an SMS shows.
const SMS_NAME_CHARS: usize = 40;

/// A display name as an SMS shows it, so that the segment check made when
/// the template was validated holds for every user: accents the GSM-7 set
/// lacks become their base letter (`Zoë` becomes `Zoe`), other characters
/// outside the set are left out, and the name is cut to
/// [`SMS_NAME_CHARS`]. (Names are up to 200 characters of any script; the
/// email shows them whole.)
fn sms_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut out = String::new();
    for c in name.chars() {
        if c == '\n' || c == '\r' {
            out.push(' ');
        } else if is_gsm7(c) {
            out.push(c);
        } else {
            let base = match c {
                'Ł' => "L".to_owned(),
                'ł' => "l".to_owned(),
                'Đ' => "D".to_owned(),
                'đ' | 'ð' => "d".to_owned(),
                'ı' => "i".to_owned(),
                _ => std::iter::once(c).nfd().filter(|d| !is_combining_mark(*d)).collect(),
            };
            out.extend(base.chars().filter(|&d| is_gsm7(d) && d != '\n' && d != '\r'));
        }
    }
    let out: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    out.chars()
        .take(SMS_NAME_CHARS)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Escapes text for HTML content and double-quoted attribute values (`&`,
/// `<`, `>`, `"`, `'`): the SMTP notifier's HTML part uses it, and so can a
/// portal that renders users' names or messages.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Builds a message (used by the service; public for adapter tests).
pub fn build_message(
    config: &MessageConfig,
    user_id: UserId,
    display_name: &str,
    channel: Channel,
    purpose: PinPurpose,
    pin: Pin,
    expires_at: DateTime<Utc>,
) -> ActivationMessage {
    let input = RenderInput {
        name: display_name,
        pin: pin.expose_secret(),
        expires_at,
        purpose,
    };
    let (subject, body) = config.templates.render(config, &channel, &input);
    ActivationMessage {
        user_id,
        channel,
        purpose,
        subject,
        expires_at,
        body,
        pin,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A message to Alice Smith (PIN 004271, valid until 2026-12-06 16:38:00 UTC).
    pub(crate) fn msg(channel: Channel) -> ActivationMessage {
        build_message(
            &MessageConfig::default(),
            UserId::new("u1").unwrap(),
            "Alice Smith",
            channel,
            PinPurpose::Activation,
            Pin::new("004271"),
            Utc.with_ymd_and_hms(2026, 12, 6, 16, 38, 0).unwrap(),
        )
    }

    /// [`msg`] by email to alice@example.com.
    pub(crate) fn email_msg() -> ActivationMessage {
        msg(Channel::Email(Email::parse("alice@example.com").unwrap()))
    }

    #[test]
    fn an_sms_with_the_name_fits_one_segment_for_every_name() {
        let mut cfg = MessageConfig::default();
        cfg.templates.sms_body = "Hi {name}, {operator} PIN {pin}, valid until {expires}. {sign_in_url}".to_owned();
        cfg.templates.validate(&cfg, 6).unwrap();
        let phone = || Channel::Sms(Phone::parse("+13125550123", crate::identity::Region::US).unwrap());
        for (name, shown) in [
            ("Zoë Łukasiewicz-Ørsted", "Zoe Lukasiewicz-Ørsted"),
            ("Émile Brontë", "Émile Bronte"),
            ("李小龍 Bruce", "Bruce"),
            ("Ada\nLovelace", "Ada Lovelace"),
        ] {
            let m = build_message(
                &cfg,
                UserId::new("u1").unwrap(),
                name,
                phone(),
                PinPurpose::Activation,
                Pin::new("004271"),
                Utc.with_ymd_and_hms(2026, 12, 6, 16, 38, 0).unwrap(),
            );
            let text = m.body().expose_secret();
            assert!(text.starts_with(&format!("Hi {shown}, ")), "{text}");
            assert_eq!(sms_segment_problem(text), None, "{text}");
        }
        let long = "Bartholomew ".repeat(16);
        let m = build_message(
            &cfg,
            UserId::new("u1").unwrap(),
            &long,
            phone(),
            PinPurpose::Activation,
            Pin::new("004271"),
            Utc.with_ymd_and_hms(2026, 12, 6, 16, 38, 0).unwrap(),
        );
        let text = m.body().expose_secret();
        assert_eq!(
            sms_segment_problem(text),
            None,
            "{} characters: {text}",
            text.chars().count()
        );
        assert!(text.contains("PIN 004271"));
    }

    #[test]
    fn default_templates_render_pin_name_and_expiry() {
        let m = msg(Channel::Email(Email::parse("alice@example.com").unwrap()));
        let body = m.body().expose_secret();
        assert!(body.starts_with("Hello Alice Smith,"));
        assert!(body.contains("Your one-time PIN is: 004271\n"));
        assert!(body.contains("valid until 2026-12-06 16:38:00 UTC"));
        assert!(body.contains("https://portal.example.com/sign-in"));
        assert_eq!(m.subject.as_deref(), Some("Your Self Storage Portal sign-in PIN"));
        let dbg = format!("{m:?}");
        assert!(!dbg.contains("004271"), "{dbg}");

        let sms = msg(Channel::Sms(
            Phone::parse("+13125550123", crate::identity::Region::US).unwrap(),
        ));
        let text = sms.body().expose_secret();
        assert!(text.contains("004271") && text.chars().count() <= 160, "{text}");
    }

    #[test]
    fn html_escaping_covers_content_and_attributes() {
        assert_eq!(
            escape_html(r#"<b a="1" b='2'>Tom & Jerry</b>"#),
            "&lt;b a=&quot;1&quot; b=&#39;2&#39;&gt;Tom &amp; Jerry&lt;/b&gt;"
        );
        assert_eq!(escape_html("Zoë 004271"), "Zoë 004271");
    }

    #[test]
    fn templates_are_validated() {
        let base = MessageConfig::default();
        base.templates.validate(&base, 6).unwrap();
        let mut no_pin = base.clone();
        no_pin.templates.email_body = "Hello {name}".into();
        assert!(
            no_pin
                .templates
                .validate(&no_pin, 6)
                .unwrap_err()
                .reason
                .contains("{pin}")
        );
        let mut unknown = base.clone();
        unknown.templates.sms_body = "{pin} {password}".into();
        assert!(
            unknown
                .templates
                .validate(&unknown, 6)
                .unwrap_err()
                .reason
                .contains("unknown placeholder")
        );
        let mut long = base.clone();
        long.templates.sms_body = format!("{{pin}} {}", "x".repeat(160));
        assert!(long.templates.validate(&long, 6).is_err());
        let mut in_subject = base.clone();
        in_subject.templates.email_subject = "PIN {pin}".into();
        assert!(in_subject.templates.validate(&in_subject, 6).is_err());
    }

    #[test]
    fn a_name_containing_a_placeholder_is_not_expanded() {
        let cfg = MessageConfig::default();
        let m = build_message(
            &cfg,
            UserId::new("u").unwrap(),
            "{pin}",
            Channel::Email(Email::parse("a@example.com").unwrap()),
            PinPurpose::Reset,
            Pin::new("123987"),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        );
        assert!(m.body().expose_secret().starts_with("Hello {pin},"));
    }

    #[tokio::test]
    async fn outbox_records_and_fails_on_request() {
        let outbox = OutboxNotifier::new_ok();
        let m = msg(Channel::Email(Email::parse("alice@example.com").unwrap()));
        outbox.send(&m).await.unwrap();
        outbox.fail_next(1);
        assert!(outbox.send(&m).await.is_err());
        outbox.send(&m).await.unwrap();
        assert_eq!(outbox.messages().len(), 2);
        let failing = OutboxNotifier::new_error(DeliveryErrorKind::Transient);
        assert!(failing.send(&m).await.unwrap_err().is_transient());
        assert!(failing.messages().is_empty());
    }
}
