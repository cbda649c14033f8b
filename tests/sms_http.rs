//! `HttpSmsNotifier` against a local HTTP server (wiremock) standing in for
//! the SMS gateway.

mod peers;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use peers::{RecordedPauses, everything_said, pin_after, service};
use pin_activation::config::MessageConfig;
use pin_activation::notify::{FallbackNotifier, HttpSmsConfig, HttpSmsNotifier, SmsSender, build_message};
use pin_activation::service::FirstActivation;
use pin_activation::{
    ActivationMessage, Channel, Credential, DeliveryErrorKind, NewUser, Notifier, Password, Phone, Pin, PinPurpose,
    Region, RetryPolicy, Retrying, SignIn, UserId,
};
use serde_json::json;
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SID: &str = "AC0123456789";
const TOKEN: &str = "tok-7f3a-SECRET";
const MESSAGES: &str = "/2010-04-01/Accounts/AC0123456789/Messages.json";

fn config(server: &MockServer) -> HttpSmsConfig {
    HttpSmsConfig::new(SID, Credential::new(TOKEN), SmsSender::From("+13125550100".into()))
        .base_url(server.uri())
        .timeout(Duration::from_secs(10))
}

fn retrying(config: HttpSmsConfig, pauses: &RecordedPauses) -> Retrying<HttpSmsNotifier> {
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    Retrying::new(HttpSmsNotifier::new(config).unwrap(), policy)
        .unwrap()
        .with_sleeper(pauses.clone())
}

fn message(pin: &str) -> ActivationMessage {
    build_message(
        &MessageConfig::default(),
        UserId::new("u-1").unwrap(),
        "Alice",
        Channel::Sms(Phone::parse("+13125550123", Region::US).unwrap()),
        PinPurpose::Activation,
        Pin::new(pin),
        Utc.with_ymd_and_hms(2026, 12, 6, 16, 38, 0).unwrap(),
    )
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn a_201_delivers_with_form_body_basic_auth_and_the_providers_sid() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(basic_auth(SID, TOKEN))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM42", "status": "queued"})))
        .expect(1)
        .mount(&server)
        .await;
    let (service, _clock, _audit) = service(HttpSmsNotifier::new(config(&server)).unwrap());
    let created = service
        .create_user(NewUser::new("Alice").phone("(312) 555-0123"), None)
        .await
        .unwrap();
    let FirstActivation::Sent(delivery) = created.activation else {
        panic!("{:?}", created.activation)
    };
    assert_eq!(delivery.provider_id.as_deref(), Some("SM42"));

    let received = server.received_requests().await.unwrap();
    let request = &received[0];
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    let form = form(&request.body);
    assert_eq!(field(&form, "To"), Some("+13125550123"));
    assert_eq!(field(&form, "From"), Some("+13125550100"));
    assert_eq!(field(&form, "MessagingServiceSid"), None);
    let body = field(&form, "Body").unwrap();
    assert!(body.chars().count() <= 160, "{body}");
    let pin = pin_after(body, "your PIN is ");
    assert!(pin.starts_with('0'), "leading zero kept: {body}");
    let signed = service
        .login("+1 312 555 0123", &Password::new(pin.as_str()))
        .await
        .unwrap();
    assert!(matches!(signed, SignIn::ResetRequired { .. }));
}

#[tokio::test]
async fn a_messaging_service_replaces_from() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM43"})))
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.sender = SmsSender::MessagingService("MG99".into());
    let notifier = HttpSmsNotifier::new(config).unwrap();
    notifier.send(&message("004271")).await.unwrap();
    let form = form(&server.received_requests().await.unwrap()[0].body);
    assert_eq!(field(&form, "MessagingServiceSid"), Some("MG99"));
    assert_eq!(field(&form, "From"), None);
}

#[tokio::test]
async fn a_400_with_an_error_code_is_permanent_not_retried_and_not_echoed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211,
            "message": "The 'To' number is not valid. Body was: your PIN is 004271",
            "status": 400
        })))
        .mount(&server)
        .await;
    let pauses = RecordedPauses::default();
    let notifier = retrying(config(&server), &pauses);
    let err = notifier.send(&message("004271")).await.unwrap_err();
    assert_eq!(err.kind(), DeliveryErrorKind::Permanent);
    assert_eq!(requests(&server).await, 1);
    assert_eq!(pauses.count(), 0);
    let said = everything_said(&err);
    assert!(said.contains("21211") && said.contains("400"), "{said}");
    assert!(!said.contains("004271") && !said.contains("not valid"), "{said}");
    assert!(!said.contains(TOKEN), "{said}");
}

#[tokio::test]
async fn a_401_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"code": 20003})))
        .mount(&server)
        .await;
    let pauses = RecordedPauses::default();
    let err = retrying(config(&server), &pauses)
        .send(&message("004271"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), DeliveryErrorKind::Permanent);
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn a_429_is_transient_and_retried_until_the_gateway_takes_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"code": 20429})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM44"})))
        .mount(&server)
        .await;
    let pauses = RecordedPauses::default();
    let receipt = retrying(config(&server), &pauses)
        .send(&message("004271"))
        .await
        .unwrap();
    assert_eq!(receipt.provider_id.as_deref(), Some("SM44"));
    assert_eq!(requests(&server).await, 2);
    assert_eq!(pauses.count(), 1);
}

#[tokio::test]
async fn a_503_is_transient_and_retried_a_bounded_number_of_times() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>down: your PIN is 004271</html>"))
        .mount(&server)
        .await;
    let pauses = RecordedPauses::default();
    let err = retrying(config(&server), &pauses)
        .send(&message("004271"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), DeliveryErrorKind::Transient);
    assert_eq!(requests(&server).await, 3);
    assert_eq!(pauses.count(), 2);
    let said = everything_said(&err);
    assert!(said.contains("503") && !said.contains("004271"), "{said}");
}

#[tokio::test]
async fn a_slow_gateway_times_out_as_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"sid": "SM45"}))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let notifier = HttpSmsNotifier::new(config(&server).timeout(Duration::from_millis(300))).unwrap();
    let err = notifier.send(&message("004271")).await.unwrap_err();
    assert_eq!(err.kind(), DeliveryErrorKind::Transient);
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn a_text_that_does_not_fit_one_segment_is_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let notifier = HttpSmsNotifier::new(config(&server)).unwrap();
    let mut long = MessageConfig::default();
    long.templates.sms_body = format!("{{pin}} {}", "x".repeat(154));
    let mut unicode = MessageConfig::default();
    unicode.templates.sms_body = "Votre code : {pin} ✓".to_owned();
    for cfg in [long, unicode] {
        let m = build_message(
            &cfg,
            UserId::new("u-1").unwrap(),
            "Alice",
            Channel::Sms(Phone::parse("+13125550123", Region::US).unwrap()),
            PinPurpose::Activation,
            Pin::new("004271"),
            Utc.with_ymd_and_hms(2026, 12, 6, 16, 38, 0).unwrap(),
        );
        let err = notifier.send(&m).await.unwrap_err();
        assert_eq!(err.kind(), DeliveryErrorKind::Permanent, "{err}");
        assert!(!err.to_string().contains("004271"));
    }
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let config = HttpSmsConfig::new(SID, Credential::new(TOKEN), SmsSender::From("+13125550100".into()))
        .base_url(format!("http://127.0.0.1:{}", peers::free_port()));
    let err = HttpSmsNotifier::new(config)
        .unwrap()
        .send(&message("004271"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), DeliveryErrorKind::Transient, "{err}");
    assert!(!everything_said(&err).contains(TOKEN));
}

#[tokio::test]
async fn a_backup_gateway_takes_the_text_when_the_first_one_is_down() {
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&down)
        .await;
    let backup = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(basic_auth(SID, TOKEN))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM77"})))
        .expect(1)
        .mount(&backup)
        .await;
    let pauses = RecordedPauses::default();
    let notifier = FallbackNotifier::new(
        retrying(config(&down), &pauses),
        HttpSmsNotifier::new(config(&backup)).unwrap(),
    );
    let receipt = notifier.send(&message("004271")).await.unwrap();
    assert_eq!(receipt.provider_id.as_deref(), Some("SM77"));
    // The first gateway was retried to its limit before the backup was tried.
    assert_eq!(requests(&down).await, 3);
    let sent = backup.received_requests().await.unwrap();
    let body = form(&sent[0].body);
    assert_eq!(field(&body, "To"), Some("+13125550123"));
    assert!(field(&body, "Body").unwrap().contains("004271"));

    // A permanent refusal at the backup is what the caller sees when both fail.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"code": 21211, "message": "bad To"})))
        .mount(&refusing)
        .await;
    let err = FallbackNotifier::new(
        HttpSmsNotifier::new(config(&down)).unwrap(),
        HttpSmsNotifier::new(config(&refusing)).unwrap(),
    )
    .send(&message("004271"))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), DeliveryErrorKind::Permanent, "{err}");
    assert!(!everything_said(&err).contains("004271"));
}
