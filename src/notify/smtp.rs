//! [`SmtpNotifier`]: the PIN by email over SMTP (lettre, tokio, rustls).
//!
//! Each message is `multipart/alternative`: the rendered plain-text body and
//! a small HTML part made from it (everything escaped, the PIN in a large
//! monospace span). It carries a `Message-ID` in the sender's domain (also
//! the receipt's `provider_id`, so a message can be found in mail logs) and
//! the headers that keep out-of-office and other auto-responders quiet:
//! `Auto-Submitted: auto-generated` (RFC 3834),
//! `X-Auto-Response-Suppress: All` (Exchange) and `Precedence: bulk`.
//!
//! Each send opens its own connection (lettre's pool is not enabled): a
//! PIN is a rare, single message, and a fresh connection never trips over
//! one the server has quietly closed.
//!
//! Failures: SMTP 5xx replies, an address SMTP cannot carry, TLS failures
//! (a certificate or protocol mismatch does not mend itself) and client
//! errors are [permanent](DeliveryErrorKind::Permanent); 4xx replies,
//! timeouts, refused or dropped connections are
//! [transient](DeliveryErrorKind::Transient). The lettre error is chained as
//! the source.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::{ActivationMessage, Channel, ChannelKind, DeliveryError, DeliveryErrorKind, DeliveryReceipt, Notifier};
use crate::config::ConfigError;
use crate::pin::hex;
use crate::secret::Credential;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (the
    /// message is never sent in clear). Default port 587.
    #[default]
    StartTls,
    /// TLS from the first byte ("SMTPS"). Default port 465.
    ImplicitTls,
    /// No encryption at all. Only for a relay on the same host or network
    /// (a local MTA, a test sink). Default port 25.
    Plain,
}

/// User name and password for SMTP AUTH. `Debug` shows the user name only.
#[derive(Debug, Clone)]
pub struct SmtpCredentials {
    /// The user name.
    pub username: String,
    /// The password (redacted in `Debug`).
    pub password: Credential,
}

/// Settings of an [`SmtpNotifier`]. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The server's host name (also the name its TLS certificate must carry).
    pub host: String,
    /// The port; `None` for the default of [`security`](Self::security).
    pub port: Option<u16>,
    /// STARTTLS, implicit TLS or plain.
    pub security: SmtpSecurity,
    /// SMTP AUTH credentials, if the server wants them.
    pub credentials: Option<SmtpCredentials>,
    /// The sender, `"Self Storage Portal <no-reply@example.com>"` or a bare
    /// address. Its domain also names the `Message-ID`.
    pub from: String,
    /// Where replies go, if not to `from`.
    pub reply_to: Option<String>,
    /// Limit for each network step (connect, each SMTP command). Default 30 s.
    pub timeout: Duration,
}

impl SmtpConfig {
    /// STARTTLS to `host` on its default port, sending as `from`, no
    /// credentials, 30 s timeout.
    pub fn new(host: impl Into<String>, from: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: None,
            security: SmtpSecurity::StartTls,
            credentials: None,
            from: from.into(),
            reply_to: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Uses `port`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Uses `security`.
    pub fn security(mut self, security: SmtpSecurity) -> Self {
        self.security = security;
        self
    }

    /// Authenticates with this user name and password.
    pub fn credentials(mut self, username: impl Into<String>, password: Credential) -> Self {
        self.credentials = Some(SmtpCredentials {
            username: username.into(),
            password,
        });
        self
    }

    /// Sets a `Reply-To` address.
    pub fn reply_to(mut self, reply_to: impl Into<String>) -> Self {
        self.reply_to = Some(reply_to.into());
        self
    }

    /// Uses `timeout` for each network step.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Sends activation messages by email over SMTP. Cheap to clone.
///
/// ```no_run
/// use pin_activation::notify::{SmtpConfig, SmtpNotifier};
/// use pin_activation::secret::Credential;
///
/// let smtp = SmtpNotifier::new(
///     SmtpConfig::new("smtp.example.com", "Self Storage Portal <no-reply@example.com>")
///         .credentials("portal", Credential::new("from a secret store"))
///         .reply_to("support@example.com"),
/// )?;
/// # Ok::<(), pin_activation::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    host: String,
    port: Option<u16>,
    security: SmtpSecurity,
}

impl fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpNotifier")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpNotifier {
    /// Builds the notifier; no connection is made until the first send
    /// (see [`test_connection`](Self::test_connection)).
    ///
    /// # Errors
    /// [`ConfigError`] for a `from` or `reply_to` that is not a mailbox, an
    /// empty host, a zero timeout, or a host lettre cannot use for TLS.
    pub fn new(config: SmtpConfig) -> Result<Self, ConfigError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| ConfigError::new("smtp.from", "not an email address or mailbox"))?;
        let reply_to = config
            .reply_to
            .as_deref()
            .map(str::parse::<Mailbox>)
            .transpose()
            .map_err(|_| ConfigError::new("smtp.reply_to", "not an email address or mailbox"))?;
        let host = config.host.trim().to_owned();
        if host.is_empty() {
            return Err(ConfigError::new("smtp.host", "must not be empty"));
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::new("smtp.timeout", "must not be zero"));
        }
        let mut builder = match config.security {
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .map_err(|_| ConfigError::new("smtp.host", "not usable as a TLS server name"))?,
            SmtpSecurity::ImplicitTls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
                .map_err(|_| ConfigError::new("smtp.host", "not usable as a TLS server name"))?,
            SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str()),
        };
        if let Some(port) = config.port {
            builder = builder.port(port);
        }
        if let Some(c) = config.credentials {
            builder = builder.credentials(Credentials::new(c.username, c.password.expose_secret().to_owned()));
        }
        let transport = builder.timeout(Some(config.timeout)).build();
        Ok(Self {
            transport,
            from,
            reply_to,
            host,
            port: config.port,
            security: config.security,
        })
    }

    /// Connects, greets the server and quits: a health check for start-up.
    ///
    /// # Errors
    /// [`DeliveryError`] classified as for a send.
    pub async fn test_connection(&self) -> Result<(), DeliveryError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(DeliveryError::new(
                DeliveryErrorKind::Transient,
                ChannelKind::Email,
                "the SMTP server did not accept a connection",
            )),
            Err(e) => Err(classify(e)),
        }
    }

    fn compose(&self, message: &ActivationMessage, to: &str) -> Result<(Message, String), DeliveryError> {
        let permanent =
            |reason: &'static str| DeliveryError::new(DeliveryErrorKind::Permanent, ChannelKind::Email, reason);
        let address: Address = to
            .parse()
            .map_err(|e| permanent("the recipient address cannot be used over SMTP").with_source(e))?;
        let mut id = [0u8; 16];
        rand::fill(&mut id[..]);
        let message_id = format!("<{}@{}>", hex(&id), self.from.email.domain());
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, address))
            .subject(message.subject.clone().unwrap_or_default())
            .message_id(Some(message_id.clone()))
            .raw_header(raw("Auto-Submitted", "auto-generated"))
            .raw_header(raw("X-Auto-Response-Suppress", "All"))
            .raw_header(raw("Precedence", "bulk"));
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let plain = message.body().expose_secret().to_owned();
        let html = html_part(message);
        let email = builder
            .multipart(MultiPart::alternative_plain_html(plain, html))
            .map_err(|e| permanent("the message could not be built").with_source(e))?;
        Ok((email, message_id))
    }
}

fn raw(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_owned())
}

/// Sorts a lettre error into transient or permanent, with a reason that
/// carries the SMTP code but nothing of the message.
fn classify(e: lettre::transport::smtp::Error) -> DeliveryError {
    let (kind, reason) = if let Some(code) = e.status().filter(|_| e.is_permanent()) {
        (
            DeliveryErrorKind::Permanent,
            format!("the SMTP server refused the message ({code})"),
        )
    } else if let Some(code) = e.status().filter(|_| e.is_transient()) {
        (
            DeliveryErrorKind::Transient,
            format!("the SMTP server deferred the message ({code})"),
        )
    } else if e.is_timeout() {
        (DeliveryErrorKind::Transient, "the SMTP server timed out".to_owned())
    } else if e.is_tls() {
        (
            DeliveryErrorKind::Permanent,
            "TLS with the SMTP server failed (certificate or protocol)".to_owned(),
        )
    } else if e.is_client() {
        (
            DeliveryErrorKind::Permanent,
            "the SMTP client could not send the message".to_owned(),
        )
    } else {
        (
            DeliveryErrorKind::Transient,
            "could not talk to the SMTP server".to_owned(),
        )
    };
    DeliveryError::new(kind, ChannelKind::Email, reason).with_source(e)
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let Channel::Email(to) = &message.channel else {
            return Err(DeliveryError::new(
                DeliveryErrorKind::Permanent,
                message.channel.kind(),
                "the SMTP notifier sends email only",
            ));
        };
        let (email, message_id) = self.compose(message, to.as_str())?;
        match self.transport.send(email).await {
            Ok(_) => {
                tracing::debug!(user = %message.user_id, message_id, "activation email accepted by the SMTP server");
                Ok(DeliveryReceipt {
                    channel: ChannelKind::Email,
                    provider_id: Some(message_id),
                })
            }
            Err(e) => {
                let e = classify(e);
                tracing::warn!(user = %message.user_id, error = %e, "activation email not sent");
                Err(e)
            }
        }
    }
}

const PIN_STYLE: &str =
    "font-family:'Courier New',Courier,monospace;font-size:28px;font-weight:bold;letter-spacing:4px";

/// `line` (already escaped) with each stand-alone occurrence of `pin` (not
/// inside a longer run of digits) in the PIN span. Returns whether one was
/// found.
fn highlight(line: &str, pin: &str, out: &mut String) -> bool {
    let mut found = false;
    let mut rest = line;
    while let Some(at) = rest.find(pin) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + pin.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(|c| c.is_ascii_digit()) || after.is_some_and(|c| c.is_ascii_digit()) {
            out.push_str(pin);
        } else {
            out.push_str(&format!("<span style=\"{PIN_STYLE}\">{pin}</span>"));
            found = true;
        }
        rest = &rest[at + pin.len()..];
    }
    out.push_str(rest);
    found
}

/// The HTML part: the plain body, escaped, paragraph by paragraph, with the
/// PIN set large in a monospace span (and shown on top if the template
/// somehow buries it in other digits).
fn html_part(message: &ActivationMessage) -> String {
    let pin = message.pin().expose_secret();
    let mut body = String::new();
    let mut shown = false;
    for paragraph in message.body().expose_secret().split("\n\n") {
        let paragraph = paragraph.trim_matches('\n');
        if paragraph.trim().is_empty() {
            continue;
        }
        body.push_str("<p>");
        for (i, line) in paragraph.lines().enumerate() {
            if i > 0 {
                body.push_str("<br>\n");
            }
            shown |= highlight(&super::escape_html(line), pin, &mut body);
        }
        body.push_str("</p>\n");
    }
    let title = super::escape_html(message.subject.as_deref().unwrap_or_default());
    let top = if shown {
        String::new()
    } else {
        format!(
            "<p><span style=\"{PIN_STYLE}\">{}</span></p>\n",
            super::escape_html(pin)
        )
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5\">\n{top}{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::config::MessageConfig;
    use crate::identity::{Email, Phone, Region, UserId};
    use crate::notify::{PinPurpose, build_message};
    use crate::secret::Pin;

    fn message(name: &str, pin: &str) -> ActivationMessage {
        build_message(
            &MessageConfig::default(),
            UserId::new("u1").unwrap(),
            name,
            Channel::Email(Email::parse("alice@example.com").unwrap()),
            PinPurpose::Activation,
            Pin::new(pin),
            Utc.with_ymd_and_hms(2026, 12, 6, 16, 38, 0).unwrap(),
        )
    }

    #[test]
    fn the_html_part_escapes_everything_and_sets_the_pin_apart() {
        let html = html_part(&message("<script>alert('x')</script> & Co", "004271"));
        assert!(
            html.contains("Hello &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co,"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(
            html.contains(&format!("<span style=\"{PIN_STYLE}\">004271</span>")),
            "{html}"
        );
        assert!(html.contains("2026-12-06 16:38:00 UTC"));
        assert_eq!(html.matches("<span").count(), 1);
    }

    #[test]
    fn a_pin_inside_other_digits_is_not_highlighted_there() {
        let mut out = String::new();
        assert!(!highlight("ref 1004271 and 0042719", "004271", &mut out));
        assert_eq!(out, "ref 1004271 and 0042719");
        let mut out = String::new();
        assert!(highlight("PIN: 004271.", "004271", &mut out));
        assert!(out.starts_with("PIN: <span"));
    }

    #[test]
    fn config_is_checked_and_debug_hides_the_password() {
        let config = SmtpConfig::new("smtp.example.com", "Portal <no-reply@example.com>")
            .credentials("portal", Credential::new("hunter2-smtp"))
            .reply_to("support@example.com");
        assert!(!format!("{config:?}").contains("hunter2"));
        let n = SmtpNotifier::new(config.clone()).unwrap();
        let dbg = format!("{n:?}");
        assert!(dbg.contains("smtp.example.com") && !dbg.contains("hunter2"), "{dbg}");
        let bad_from = SmtpConfig {
            from: "not an address".into(),
            ..config.clone()
        };
        assert_eq!(SmtpNotifier::new(bad_from).unwrap_err().field, "smtp.from");
        let bad_reply = config.clone().reply_to("@@");
        assert_eq!(SmtpNotifier::new(bad_reply).unwrap_err().field, "smtp.reply_to");
        assert_eq!(
            SmtpNotifier::new(config.timeout(Duration::ZERO)).unwrap_err().field,
            "smtp.timeout"
        );
    }

    #[tokio::test]
    async fn an_sms_message_is_refused_permanently_without_a_connection() {
        let n = SmtpNotifier::new(
            SmtpConfig::new("127.0.0.1", "a@example.com")
                .security(SmtpSecurity::Plain)
                .port(9),
        )
        .unwrap();
        let mut m = message("Alice", "004271");
        m.channel = Channel::Sms(Phone::parse("+13125550123", Region::US).unwrap());
        let e = n.send(&m).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.channel()),
            (DeliveryErrorKind::Permanent, ChannelKind::Sms)
        );
    }

    #[test]
    fn compose_builds_a_multipart_message_with_quiet_headers() {
        let n = SmtpNotifier::new(
            SmtpConfig::new("localhost", "Portal <no-reply@example.com>")
                .security(SmtpSecurity::Plain)
                .reply_to("support@example.com"),
        )
        .unwrap();
        let (email, id) = n.compose(&message("Alice", "004271"), "alice@example.com").unwrap();
        let raw = String::from_utf8(email.formatted()).unwrap();
        for header in [
            "Auto-Submitted: auto-generated",
            "X-Auto-Response-Suppress: All",
            "Precedence: bulk",
            "Reply-To: support@example.com",
            "To: alice@example.com",
            "multipart/alternative",
        ] {
            assert!(raw.contains(header), "{header} missing in\n{raw}");
        }
        assert!(id.ends_with("@example.com>") && raw.contains(&format!("Message-ID: {id}")));
    }
}
