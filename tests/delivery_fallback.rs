//! Channel fallback through the service with real transports: SMTP (the
//! aiosmtpd sink) for email, wiremock as the SMS gateway, joined by a
//! `ChannelRouter`. The fallback itself is the service's
//! (`channel_fallback`, on by default).

mod peers;

use std::time::Duration;

use chrono::TimeDelta;
use peers::{RecordedPauses, SmtpSink, everything_said, pin_after, service};
use pin_activation::notify::{HttpSmsConfig, HttpSmsNotifier, SmsSender, SmtpConfig, SmtpNotifier, SmtpSecurity};
use pin_activation::service::FirstActivation;
use pin_activation::store::DeliveryOutcome;
use pin_activation::{
    AuditEvent, ChannelChoice, ChannelKind, ChannelRouter, Credential, DeliveryErrorKind, Error, NewUser, Password,
    RetryPolicy, Retrying, SignIn, UserId,
};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

type Router = ChannelRouter<Retrying<SmtpNotifier>, Retrying<HttpSmsNotifier>>;

fn router(smtp_port: u16, gateway: &MockServer, pauses: &RecordedPauses) -> Router {
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let smtp = SmtpNotifier::new(
        SmtpConfig::new("127.0.0.1", "no-reply@portal.example.com")
            .security(SmtpSecurity::Plain)
            .port(smtp_port)
            .timeout(Duration::from_secs(10)),
    )
    .unwrap();
    let sms = HttpSmsNotifier::new(
        HttpSmsConfig::new(
            "AC1",
            Credential::new("tok-fallback"),
            SmsSender::From("+13125550100".into()),
        )
        .base_url(gateway.uri()),
    )
    .unwrap();
    ChannelRouter::new(
        Retrying::new(smtp, policy.clone())
            .unwrap()
            .with_sleeper(pauses.clone()),
        Retrying::new(sms, policy).unwrap().with_sleeper(pauses.clone()),
    )
}

async fn gateway_answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    answer(&server, status).await;
    server
}

async fn answer(server: &MockServer, status: u16) {
    server.reset().await;
    let body = if status < 300 {
        json!({"sid": "SM-fallback-1"})
    } else {
        json!({"code": 21614})
    };
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

async fn last_sms_pin(server: &MockServer) -> String {
    let requests = server.received_requests().await.unwrap();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&requests.last().unwrap().body).unwrap();
    let body = &form.iter().find(|(k, _)| k == "Body").unwrap().1;
    pin_after(body, "your PIN is ")
}

#[tokio::test]
async fn a_permanently_failing_email_falls_back_to_sms() {
    let Some(sink) = SmtpSink::start() else { return };
    let gateway = gateway_answering(201).await;
    let pauses = RecordedPauses::default();
    let (service, _clock, audit) = service(router(sink.port, &gateway, &pauses));
    let created = service
        .create_user(
            NewUser::new("Heidi")
                .email("reject.heidi@example.com")
                .phone("+1 312 555 0123"),
            None,
        )
        .await
        .unwrap();
    let FirstActivation::Sent(delivery) = created.activation else {
        panic!("{:?}", created.activation)
    };
    assert_eq!(delivery.channel, ChannelKind::Sms);
    assert_eq!(delivery.provider_id.as_deref(), Some("SM-fallback-1"));
    assert_eq!(pauses.count(), 0, "550 is not retried");

    let report = service.activation_status(&created.user.id).await.unwrap();
    let outcomes: Vec<_> = report
        .deliveries
        .iter()
        .map(|d| (d.channel, d.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                ChannelKind::Email,
                DeliveryOutcome::Failed {
                    kind: DeliveryErrorKind::Permanent
                }
            ),
            (
                ChannelKind::Sms,
                DeliveryOutcome::Delivered {
                    provider_id: Some("SM-fallback-1".into())
                }
            ),
        ]
    );
    let events = audit.events();
    assert!(events.iter().any(|e| matches!(
        e,
        AuditEvent::DeliveryFailed {
            channel: ChannelKind::Email,
            ..
        }
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        AuditEvent::Delivered {
            channel: ChannelKind::Sms,
            ..
        }
    )));

    // The SMS carries a working PIN.
    let pin = last_sms_pin(&gateway).await;
    let signed = service
        .login("reject.heidi@example.com", &Password::new(pin.as_str()))
        .await
        .unwrap();
    assert!(matches!(signed, SignIn::ResetRequired { .. }));
}

#[tokio::test]
async fn a_transient_email_failure_does_not_fall_back() {
    let Some(sink) = SmtpSink::start() else { return };
    let gateway = gateway_answering(201).await;
    let pauses = RecordedPauses::default();
    let (service, _clock, _audit) = service(router(sink.port, &gateway, &pauses));
    let created = service
        .create_user(
            NewUser::new("Ivan")
                .email("tempfail@example.com")
                .phone("+1 312 555 0124"),
            None,
        )
        .await
        .unwrap();
    let FirstActivation::Failed(Error::Delivery(e)) = created.activation else {
        panic!("{:?}", created.activation)
    };
    assert_eq!(
        (e.channel(), e.kind()),
        (ChannelKind::Email, DeliveryErrorKind::Transient)
    );
    assert_eq!(pauses.count(), 2);
    assert!(gateway.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn when_both_channels_fail_the_old_pin_still_works() {
    let Some(sink) = SmtpSink::start() else { return };
    let gateway = gateway_answering(201).await;
    let pauses = RecordedPauses::default();
    let (service, clock, _audit) = service(router(sink.port, &gateway, &pauses));
    let created = service
        .create_user(
            NewUser::new("Judy")
                .email("reject.judy@example.com")
                .phone("+1 312 555 0125"),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(created.activation, FirstActivation::Sent(_)));
    let old_pin = last_sms_pin(&gateway).await;

    answer(&gateway, 400).await;
    clock.advance(TimeDelta::minutes(5));
    let staff = UserId::new("staff-1").unwrap();
    let err = service
        .resend_activation(&created.user.id, ChannelChoice::Preferred, &staff)
        .await
        .unwrap_err();
    let Error::Delivery(delivery) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (delivery.channel(), delivery.kind()),
        (ChannelKind::Sms, DeliveryErrorKind::Permanent)
    );
    let said = everything_said(&err);
    assert!(
        said.contains("21614") && !said.contains(&old_pin) && !said.contains("tok-fallback"),
        "{said}"
    );

    let report = service.activation_status(&created.user.id).await.unwrap();
    assert!(
        report
            .deliveries
            .iter()
            .all(|d| matches!(d.outcome, DeliveryOutcome::Failed { .. })),
        "{report:?}"
    );
    assert!(sink.messages().is_empty());

    // Sign in with the PIN from before the failed re-send.
    let signed = service
        .login("+1 312 555 0125", &Password::new(old_pin.as_str()))
        .await
        .unwrap();
    assert!(matches!(signed, SignIn::ResetRequired { .. }));
}
