//! [`HttpSmsNotifier`]: the PIN by text message through an HTTP gateway
//! that speaks the widely used Messages API form:
//!
//! ```text
//! POST {base}/2010-04-01/Accounts/{account_sid}/Messages.json
//! Authorization: Basic base64(account_sid:auth_token)
//! Content-Type: application/x-www-form-urlencoded
//!
//! To=+13125550123&From=+13125550100&Body=...      (or MessagingServiceSid=... instead of From)
//! ```
//!
//! A 2xx answer is success, with the JSON body's `sid` as the receipt's
//! `provider_id`. 429, 408 and 5xx answers, timeouts and connection
//! failures are [transient](DeliveryErrorKind::Transient); any other 4xx
//! (a 400 with the provider's error code for a bad number, 401/403 for bad
//! credentials) is [permanent](DeliveryErrorKind::Permanent). Errors carry
//! the HTTP status and the provider's numeric error code, never the response
//! body (it can quote the message) nor the request URL.
//!
//! Before any request, a text that does not fit one GSM-7 segment (160
//! characters of the GSM 03.38 basic set) is refused as permanent: a
//! longer or Unicode text would be split and billed as several messages.
//! The default template always fits; custom ones are checked when the
//! config is validated.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    ActivationMessage, Channel, ChannelKind, DeliveryError, DeliveryErrorKind, DeliveryReceipt, Notifier,
    sms_segment_problem,
};
use crate::config::ConfigError;
use crate::secret::Credential;

/// The well-known provider's API host; compatible gateways take its place
/// through [`HttpSmsConfig::base_url`].
pub const DEFAULT_SMS_API_BASE: &str = "https://api.twilio.com";

/// Largest response body read (to find `sid` or the error code).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Who the text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSender {
    /// A sender number (E.164) or alphanumeric sender id: the `From` field.
    From(String),
    /// A messaging service that picks the sender: the `MessagingServiceSid`
    /// field.
    MessagingService(String),
}

/// Settings of an [`HttpSmsNotifier`]. `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct HttpSmsConfig {
    /// Scheme and host (and optional path prefix) of the gateway, without a
    /// trailing `/2010-04-01`. Default [`DEFAULT_SMS_API_BASE`].
    pub base_url: String,
    /// The account id: the basic-auth user name and part of the path.
    pub account_sid: String,
    /// The auth token: the basic-auth password.
    pub auth_token: Credential,
    /// `From` number or messaging service.
    pub sender: SmsSender,
    /// Limit for the whole request, connection included. Default 10 s.
    pub timeout: Duration,
}

impl HttpSmsConfig {
    /// The default gateway with these credentials and sender, 10 s timeout.
    pub fn new(account_sid: impl Into<String>, auth_token: Credential, sender: SmsSender) -> Self {
        Self {
            base_url: DEFAULT_SMS_API_BASE.to_owned(),
            account_sid: account_sid.into(),
            auth_token,
            sender,
            timeout: Duration::from_secs(10),
        }
    }

    /// Uses another gateway (a compatible provider, a local test server).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Uses `timeout` for each request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Sends activation messages as SMS through an HTTP gateway. Cheap to
/// clone (one connection pool).
///
/// ```no_run
/// use pin_activation::notify::{HttpSmsConfig, HttpSmsNotifier, SmsSender};
/// use pin_activation::secret::Credential;
///
/// let sms = HttpSmsNotifier::new(HttpSmsConfig::new(
///     "AC0123456789abcdef0123456789abcdef",
///     Credential::new("from a secret store"),
///     SmsSender::From("+13125550100".into()),
/// ))?;
/// # Ok::<(), pin_activation::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct HttpSmsNotifier {
    client: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: Credential,
    sender: SmsSender,
}

impl fmt::Debug for HttpSmsNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSmsNotifier")
            .field("url", &self.url)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

/// What the gateway said, without its body: the error a failed send chains
/// as its source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the SMS gateway answered HTTP {status}{}", code.map(|c| format!(", error code {c}")).unwrap_or_default())]
pub struct GatewayAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The provider's numeric error code, when the body had one.
    pub code: Option<i64>,
}

#[derive(Deserialize)]
struct Answer {
    sid: Option<String>,
    code: Option<i64>,
}

impl HttpSmsNotifier {
    /// Builds the notifier (and its HTTP client); no request is made.
    ///
    /// # Errors
    /// [`ConfigError`] for a base URL that is not `http(s)://`, an account
    /// id that is empty or not alphanumeric, an empty sender, a zero
    /// timeout, or an HTTP client that cannot be built.
    pub fn new(config: HttpSmsConfig) -> Result<Self, ConfigError> {
        let base = config.base_url.trim().trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) || base.contains(['?', '#', ' ']) {
            return Err(ConfigError::new("sms.base_url", "must be an http:// or https:// URL"));
        }
        let sid = config.account_sid.trim();
        if sid.is_empty() || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::new(
                "sms.account_sid",
                "must be non-empty ASCII letters and digits",
            ));
        }
        if config.auth_token.expose_secret().is_empty() {
            return Err(ConfigError::new("sms.auth_token", "must not be empty"));
        }
        let (SmsSender::From(s) | SmsSender::MessagingService(s)) = &config.sender;
        if s.trim().is_empty() {
            return Err(ConfigError::new("sms.sender", "must not be empty"));
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::new("sms.timeout", "must not be zero"));
        }
        let url = format!("{base}/2010-04-01/Accounts/{sid}/Messages.json");
        if reqwest::Url::parse(&url).is_err() {
            return Err(ConfigError::new("sms.base_url", "not a valid URL"));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirected POST would become a GET or carry the credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pin-activation/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| ConfigError::new("sms", "the HTTP client could not be built"))?;
        Ok(Self {
            client,
            url,
            account_sid: sid.to_owned(),
            auth_token: config.auth_token,
            sender: config.sender,
        })
    }

    async fn post(&self, to: &str, body: &str) -> Result<DeliveryReceipt, DeliveryError> {
        let fail = |kind, reason: &'static str| DeliveryError::new(kind, ChannelKind::Sms, reason);
        let mut form = vec![("To", to)];
        match &self.sender {
            SmsSender::From(from) => form.push(("From", from.as_str())),
            SmsSender::MessagingService(id) => form.push(("MessagingServiceSid", id.as_str())),
        }
        form.push(("Body", body));
        let mut response = self
            .client
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                let (kind, reason) = if e.is_builder() {
                    (DeliveryErrorKind::Permanent, "the SMS request could not be built")
                } else if e.is_timeout() {
                    (DeliveryErrorKind::Transient, "the SMS gateway timed out")
                } else if e.is_connect() {
                    (DeliveryErrorKind::Transient, "could not connect to the SMS gateway")
                } else {
                    (DeliveryErrorKind::Transient, "the request to the SMS gateway failed")
                };
                fail(kind, reason).with_source(e.without_url())
            })?;
        let status = response.status();
        // The body is read only for `sid` and `code`; it is never logged or
        // echoed, since it may quote the message.
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() <= MAX_RESPONSE_BYTES => bytes.extend_from_slice(&chunk),
                Ok(Some(_)) => break,
                Ok(None) => break,
                Err(e) if status.is_success() => {
                    // Accepted, but the answer broke off: the message is on
                    // its way; only its id is lost.
                    tracing::debug!(error = %e.without_url(), "SMS gateway answer cut short");
                    break;
                }
                Err(e) => {
                    let kind = if e.is_timeout() || status.is_server_error() || status.as_u16() == 429 {
                        DeliveryErrorKind::Transient
                    } else {
                        DeliveryErrorKind::Permanent
                    };
                    return Err(fail(kind, "the SMS gateway's answer could not be read").with_source(e.without_url()));
                }
            }
        }
        let answer: Option<Answer> = serde_json::from_slice(&bytes).ok();
        bytes.fill(0);
        if status.is_success() {
            return Ok(DeliveryReceipt {
                channel: ChannelKind::Sms,
                provider_id: answer.and_then(|a| a.sid),
            });
        }
        let code = answer.and_then(|a| a.code);
        let source = GatewayAnswer {
            status: status.as_u16(),
            code,
        };
        let (kind, reason) = match status.as_u16() {
            408 | 429 => (DeliveryErrorKind::Transient, "the SMS gateway asked to try later"),
            500..=599 => (DeliveryErrorKind::Transient, "the SMS gateway failed"),
            401 | 403 => (DeliveryErrorKind::Permanent, "the SMS gateway refused the credentials"),
            400..=499 => (DeliveryErrorKind::Permanent, "the SMS gateway refused the message"),
            _ => (
                DeliveryErrorKind::Permanent,
                "the SMS gateway gave an unexpected answer",
            ),
        };
        Err(DeliveryError::new(kind, ChannelKind::Sms, format!("{reason} ({source})")).with_source(source))
    }
}

#[async_trait]
impl Notifier for HttpSmsNotifier {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let Channel::Sms(to) = &message.channel else {
            return Err(DeliveryError::new(
                DeliveryErrorKind::Permanent,
                message.channel.kind(),
                "the SMS notifier sends text messages only",
            ));
        };
        let body = message.body().expose_secret();
        if let Some(problem) = sms_segment_problem(body) {
            let e = DeliveryError::new(
                DeliveryErrorKind::Permanent,
                ChannelKind::Sms,
                format!("the text does not fit one SMS segment: it {problem}"),
            );
            tracing::warn!(user = %message.user_id, error = %e, "activation SMS not sent");
            return Err(e);
        }
        match self.post(to.as_str(), body).await {
            Ok(receipt) => {
                tracing::debug!(user = %message.user_id, provider_id = ?receipt.provider_id, "activation SMS accepted by the gateway");
                Ok(receipt)
            }
            Err(e) => {
                tracing::warn!(user = %message.user_id, error = %e, "activation SMS not sent");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::config::MessageConfig;
    use crate::identity::{Phone, Region, UserId};
    use crate::notify::{PinPurpose, build_message};
    use crate::secret::Pin;

    fn config() -> HttpSmsConfig {
        HttpSmsConfig::new(
            "AC123",
            Credential::new("tok-secret-1"),
            SmsSender::From("+13125550100".into()),
        )
        .base_url("http://127.0.0.1:9")
    }

    fn message(sms_body: &str) -> ActivationMessage {
        let mut cfg = MessageConfig::default();
        cfg.templates.sms_body = sms_body.to_owned();
        build_message(
            &cfg,
            UserId::new("u1").unwrap(),
            "Alice",
            Channel::Sms(Phone::parse("+13125550123", Region::US).unwrap()),
            PinPurpose::Activation,
            Pin::new("004271"),
            Utc.with_ymd_and_hms(2026, 12, 6, 16, 38, 0).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_text_beyond_one_gsm7_segment_is_refused_before_any_request() {
        // Port 9 (discard) is closed: a request would fail as transient.
        let n = HttpSmsNotifier::new(config()).unwrap();
        let long = n
            .send(&message(&format!("{{pin}} {}", "x".repeat(160))))
            .await
            .unwrap_err();
        assert_eq!(long.kind(), DeliveryErrorKind::Permanent);
        assert!(long.to_string().contains("167 characters"), "{long}");
        assert!(!long.to_string().contains("004271"));
        let unicode = n.send(&message("Ihr Code {pin} — danke")).await.unwrap_err();
        assert_eq!(unicode.kind(), DeliveryErrorKind::Permanent);
        assert!(unicode.to_string().contains("non-GSM-7"), "{unicode}");
        let exactly = format!("{{pin}}{}", "x".repeat(154));
        let fits = n.send(&message(&exactly)).await.unwrap_err();
        assert_eq!(fits.kind(), DeliveryErrorKind::Transient, "160 characters fit: {fits}");
    }

    #[test]
    fn config_is_checked_and_debug_hides_the_token() {
        let n = HttpSmsNotifier::new(config()).unwrap();
        assert_eq!(n.url, "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Messages.json");
        assert!(!format!("{n:?} {:?}", config()).contains("tok-secret"));
        let mut bad = config();
        bad.base_url = "ftp://x".into();
        assert_eq!(HttpSmsNotifier::new(bad).unwrap_err().field, "sms.base_url");
        let mut bad = config();
        bad.account_sid = "AC/../x".into();
        assert_eq!(HttpSmsNotifier::new(bad).unwrap_err().field, "sms.account_sid");
        let mut bad = config();
        bad.sender = SmsSender::MessagingService(" ".into());
        assert_eq!(HttpSmsNotifier::new(bad).unwrap_err().field, "sms.sender");
    }

    #[test]
    fn the_gateway_answer_shows_status_and_code_only() {
        let a = GatewayAnswer {
            status: 400,
            code: Some(21211),
        };
        assert_eq!(a.to_string(), "the SMS gateway answered HTTP 400, error code 21211");
    }
}
