//! `SmtpNotifier` against a real SMTP server on loopback (Debian's aiosmtpd
//! writing to a Maildir): what arrives, and how refusals and a dead server
//! are reported through the service.

mod peers;

use std::time::Duration;

use chrono::TimeDelta;
use peers::{RecordedPauses, SmtpSink, everything_said, free_port, pin_after, service};
use pin_activation::notify::{SmtpConfig, SmtpNotifier, SmtpSecurity, format_expiry};
use pin_activation::service::FirstActivation;
use pin_activation::store::DeliveryOutcome;
use pin_activation::{
    ChannelChoice, ChannelKind, Credential, DeliveryErrorKind, Error, NewUser, Password, RetryPolicy, Retrying, SignIn,
    UserId,
};

fn smtp(port: u16) -> SmtpNotifier {
    SmtpNotifier::new(
        SmtpConfig::new("127.0.0.1", "Self Storage Portal <no-reply@portal.example.com>")
            .security(SmtpSecurity::Plain)
            .port(port)
            .reply_to("Front Desk <help@portal.example.com>")
            .timeout(Duration::from_secs(10)),
    )
    .unwrap()
}

fn retrying(port: u16, pauses: &RecordedPauses) -> Retrying<SmtpNotifier> {
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    Retrying::new(smtp(port), policy).unwrap().with_sleeper(pauses.clone())
}

fn staff() -> UserId {
    UserId::new("staff-1").unwrap()
}

#[tokio::test]
async fn the_pin_arrives_in_both_parts_with_its_leading_zeros_and_quiet_headers() {
    let Some(sink) = SmtpSink::start() else { return };
    let (service, _clock, _audit) = service(smtp(sink.port));
    let created = service
        .create_user(NewUser::new("Alice O'Hara & Sons").email("Alice@Example.com"), None)
        .await
        .unwrap();
    let FirstActivation::Sent(delivery) = created.activation else {
        panic!("not sent: {:?}", created.activation)
    };
    assert_eq!(delivery.channel, ChannelKind::Email);

    let mails = sink.messages();
    assert_eq!(mails.len(), 1);
    let mail = mail_parser::MessageParser::default().parse(&mails[0]).unwrap();
    let to = mail.to().unwrap().first().unwrap();
    assert_eq!(to.address(), Some("alice@example.com"));
    assert_eq!(mail.subject(), Some("Your Self Storage Portal sign-in PIN"));
    assert_eq!(
        mail.from().unwrap().first().unwrap().address(),
        Some("no-reply@portal.example.com")
    );
    assert_eq!(
        mail.reply_to().unwrap().first().unwrap().address(),
        Some("help@portal.example.com")
    );
    assert_eq!(mail.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    assert_eq!(mail.header_raw("X-Auto-Response-Suppress").map(str::trim), Some("All"));
    assert_eq!(mail.header_raw("Precedence").map(str::trim), Some("bulk"));
    let id = mail.message_id().unwrap();
    assert!(id.ends_with("@portal.example.com"), "{id}");
    assert_eq!(delivery.provider_id, Some(format!("<{id}>")));

    let text = mail.body_text(0).unwrap();
    let html = mail.body_html(0).unwrap();
    let pin = pin_after(&text, "Your one-time PIN is: ");
    assert!(pin.starts_with('0'), "the seeded PIN keeps its leading zero: {pin}");
    assert!(html.contains(&format!(">{pin}</span>")), "{html}");
    assert!(html.contains("font-family:&#39;Courier New&#39;") || html.contains("monospace"));
    assert!(html.contains("Alice O&#39;Hara &amp; Sons"), "escaped name: {html}");
    let expires = format_expiry(delivery.expires_at);
    assert!(text.contains(&expires) && html.contains(&expires), "{expires}");

    // The PIN from the mailbox signs the user in.
    let signed = service
        .login("alice@example.com", &Password::new(pin.as_str()))
        .await
        .unwrap();
    assert!(matches!(signed, SignIn::ResetRequired { .. }));
}

#[tokio::test]
async fn a_dead_server_is_transient_and_the_old_pin_still_works() {
    let Some(mut sink) = SmtpSink::start() else { return };
    let pauses = RecordedPauses::default();
    let (service, clock, _audit) = service(retrying(sink.port, &pauses));
    let created = service
        .create_user(NewUser::new("Bob").email("bob@example.com"), None)
        .await
        .unwrap();
    assert!(matches!(created.activation, FirstActivation::Sent(_)));
    let raw = sink.messages();
    let mail = mail_parser::MessageParser::default().parse(&raw[0]).unwrap();
    let old_pin = pin_after(&mail.body_text(0).unwrap(), "Your one-time PIN is: ");

    sink.stop();
    clock.advance(TimeDelta::minutes(5));
    let err = service
        .resend_activation(&created.user.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap_err();
    let Error::Delivery(delivery) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(delivery.kind(), DeliveryErrorKind::Transient);
    assert_eq!(pauses.count(), 2, "refused connections are retried");
    assert!(
        std::error::Error::source(delivery).is_some(),
        "the lettre error is chained"
    );
    let said = everything_said(&err);
    assert!(said.contains("after 3 attempts"), "{said}");
    assert!(!said.contains(&old_pin), "{said}");

    let report = service.activation_status(&created.user.id).await.unwrap();
    assert_eq!(
        report.deliveries[0].outcome,
        DeliveryOutcome::Failed {
            kind: DeliveryErrorKind::Transient
        }
    );
    let signed = service
        .login("bob@example.com", &Password::new(old_pin.as_str()))
        .await
        .unwrap();
    assert!(matches!(signed, SignIn::ResetRequired { .. }));
}

#[tokio::test]
async fn connection_refused_without_any_server_is_transient() {
    let pauses = RecordedPauses::default();
    let (service, _clock, _audit) = service(retrying(free_port(), &pauses));
    let created = service
        .create_user(NewUser::new("Carol").email("carol@example.com"), None)
        .await
        .unwrap();
    let FirstActivation::Failed(Error::Delivery(e)) = created.activation else {
        panic!("{:?}", created.activation)
    };
    assert!(e.is_transient(), "{e}");
    assert_eq!(pauses.count(), 2);
}

#[tokio::test]
async fn a_4xx_reply_is_transient_and_retried_a_5xx_reply_is_permanent_and_not() {
    let Some(sink) = SmtpSink::start() else { return };
    let pauses = RecordedPauses::default();
    let (service, _clock, audit) = service(retrying(sink.port, &pauses));

    let later = service
        .create_user(NewUser::new("Dave").email("tempfail@example.com"), None)
        .await
        .unwrap();
    let FirstActivation::Failed(Error::Delivery(e)) = &later.activation else {
        panic!("{:?}", later.activation)
    };
    assert_eq!(e.kind(), DeliveryErrorKind::Transient);
    assert!(e.to_string().contains("451"), "{e}");
    assert_eq!(pauses.count(), 2);

    let never = service
        .create_user(NewUser::new("Erin").email("reject@example.com"), None)
        .await
        .unwrap();
    let FirstActivation::Failed(Error::Delivery(e)) = &never.activation else {
        panic!("{:?}", never.activation)
    };
    assert_eq!(e.kind(), DeliveryErrorKind::Permanent);
    assert!(e.to_string().contains("550"), "{e}");
    assert_eq!(pauses.count(), 2, "a permanent refusal is not retried");
    assert!(sink.messages().is_empty());

    let failures = audit
        .events()
        .into_iter()
        .filter(|e| matches!(e, pin_activation::AuditEvent::DeliveryFailed { .. }))
        .count();
    assert_eq!(failures, 2);
    let report = service.activation_status(&never.user.id).await.unwrap();
    assert_eq!(
        report.deliveries[0].outcome,
        DeliveryOutcome::Failed {
            kind: DeliveryErrorKind::Permanent
        }
    );
}

#[tokio::test]
async fn no_password_or_pin_in_any_error_or_debug_output() {
    let Some(sink) = SmtpSink::start() else { return };
    let password = "smtp-Pa55word-XYZ";
    let config = SmtpConfig::new("127.0.0.1", "no-reply@portal.example.com")
        .security(SmtpSecurity::Plain)
        .port(sink.port)
        .credentials("portal", Credential::new(password));
    let notifier = SmtpNotifier::new(config.clone()).unwrap();
    assert!(!format!("{config:?} {notifier:?}").contains(password));

    // The sink offers no AUTH on a plain connection, so the client gives up
    // (permanently) before sending; the error must not quote the password.
    let (with_auth, _clock, _audit) = service(notifier);
    let created = with_auth
        .create_user(NewUser::new("Frank").email("frank@example.com"), None)
        .await
        .unwrap();
    let FirstActivation::Failed(err) = &created.activation else {
        panic!("{:?}", created.activation)
    };
    let said = everything_said(err);
    assert!(!said.contains(password), "{said}");

    // A refused recipient: the error carries the code, not the message.
    let (service, _clock, _audit) = service(smtp(sink.port));
    let created = service
        .create_user(NewUser::new("Grace").email("reject.grace@example.com"), None)
        .await
        .unwrap();
    let FirstActivation::Failed(err) = &created.activation else {
        panic!("{:?}", created.activation)
    };
    let said = everything_said(err);
    assert!(said.contains("550") && !said.contains("one-time PIN"), "{said}");
    let seeded_pin = pin_activation::pin::draw_pin(
        &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(peers::seed_with_leading_zero()),
        6,
        true,
    );
    assert!(!said.contains(seeded_pin.expose_secret()), "{said}");
}
