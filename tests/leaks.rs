//! C18: no secret in any log line, error, event or `Debug` output.
//!
//! A capturing `tracing` subscriber at TRACE watches the whole story,
//! including failures; every PIN, password and ticket that passes through is
//! collected and then searched for everywhere except the message handed to
//! the notifier.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use pin_activation::{
    ChannelChoice, DeliveryErrorKind, FirstActivation, InMemoryPinStore, InMemoryUserStore, NewUser, Password,
    PinStore, SignIn,
};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Captures every `tracing` event at TRACE, on every thread (the
    /// blocking hash threads and spawned tasks included), for the whole
    /// test process: both tests search everything either of them logged.
    /// Without timestamps, whose microseconds could look like a PIN.
    fn trace() -> Self {
        static GLOBAL: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let capture = Capture::default();
                let subscriber = tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::TRACE)
                    .with_writer(capture.clone())
                    .with_ansi(false)
                    .without_time()
                    .finish();
                tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
                capture
            })
            .clone()
    }

    /// What was logged so far.
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn case_c18_no_secret_in_logs_errors_events_or_debug() {
    let capture = Capture::trace();

    // Every PIN the service can draw in this story is known in advance, so
    // the one handed to the failing notifier (which keeps no copy) is
    // searched for too.
    const PINS: [&str; 8] = [
        "604271", "913582", "275930", "481726", "390517", "728164", "159372", "846205",
    ];
    let h = common::harness_with(
        InMemoryUserStore::new(),
        InMemoryPinStore::new(),
        common::config(),
        |b| b.pin_rng(common::ScriptedDigits::new(&PINS)),
    );
    let mut secrets: Vec<String> = PINS.iter().map(|p| (*p).to_owned()).collect();
    let mut seen: Vec<String> = Vec::new(); // everything that must be secret-free

    // creation with a failing notifier: the error must not carry the PIN
    h.outbox.set_failing(Some(DeliveryErrorKind::Permanent));
    let created = h
        .svc
        .create_user(
            NewUser::new("Mia").email("mia@example.com").phone("+1 312 555 0142"),
            None,
        )
        .await
        .unwrap();
    match &created.activation {
        FirstActivation::Failed(e) => seen.extend([e.to_string(), format!("{e:?}"), error_chain(e)]),
        other => panic!("{other:?}"),
    }
    seen.push(format!("{created:?}"));
    h.outbox.set_failing(None);
    let mia = created.user;

    // re-send: throttled? no, the failed delivery did not count
    let d = h
        .svc
        .resend_activation(&mia.id, ChannelChoice::Preferred, &common::staff())
        .await
        .unwrap();
    seen.push(format!("{d:?}"));
    let pin = h.pin(&mia);
    assert_eq!(
        pin, PINS[1],
        "the failed creation drew PINS[0], the re-send the next one"
    );
    secrets.push(pin.clone());
    // a throttled re-send
    let throttled = h
        .svc
        .resend_activation(&mia.id, ChannelChoice::Preferred, &common::staff())
        .await
        .unwrap_err();
    seen.extend([throttled.to_string(), format!("{throttled:?}")]);

    // wrong PIN, then the right one
    let wrong = common::Harness::<InMemoryUserStore, InMemoryPinStore>::wrong(&pin, 3);
    secrets.push(wrong.clone());
    let refused = h.login("mia@example.com", &wrong).await.unwrap_err();
    seen.extend([refused.to_string(), format!("{refused:?}")]);
    let signin = h.login("mia@example.com", &pin).await.unwrap();
    seen.push(format!("{signin:?}"));
    let SignIn::ResetRequired { ticket, .. } = signin else {
        panic!()
    };
    secrets.push(ticket.expose_secret().to_owned());

    // a weak password, then a good one
    let weak = "mia@example.com-1";
    secrets.push(weak.to_owned());
    let e = h
        .svc
        .complete_reset(&mia.id, &ticket, &Password::new(weak))
        .await
        .unwrap_err();
    seen.extend([e.to_string(), format!("{e:?}")]);
    let good = "tangerine observatory 42";
    secrets.push(good.to_owned());
    let done = h
        .svc
        .complete_reset(&mia.id, &ticket, &Password::new(good))
        .await
        .unwrap();
    seen.push(format!("{done:?}"));
    let reused = h
        .svc
        .complete_reset(&mia.id, &ticket, &Password::new(good))
        .await
        .unwrap_err();
    seen.extend([reused.to_string(), format!("{reused:?}")]);

    // password sign-in, wrong and right; a lost-password re-send
    let bad_pw = "wrong horse battery";
    secrets.push(bad_pw.to_owned());
    seen.push(format!("{:?}", h.login("mia@example.com", bad_pw).await));
    seen.push(format!("{:?}", h.login("mia@example.com", good).await));
    h.clock.advance(TimeDelta::minutes(2));
    h.svc
        .resend_activation(
            &mia.id,
            ChannelChoice::Only(pin_activation::ChannelKind::Sms),
            &common::staff(),
        )
        .await
        .unwrap();
    secrets.push(h.pin(&mia));
    h.svc.request_pin("mia@example.com").await.unwrap().finished().await;

    // Debug of every public value that held or touched a secret
    let user = h.svc.user(&mia.id).await.unwrap();
    assert!(user.password_hash.is_some());
    seen.push(format!("{user:?}"));
    let snapshot = h.svc.pin_store().snapshot(&mia.id).await.unwrap();
    seen.push(format!("{snapshot:?}"));
    seen.push(format!("{:?}", h.svc.activation_status(&mia.id).await.unwrap()));
    seen.push(format!("{:?}", h.svc));
    seen.push(format!("{:?}", h.outbox)); // Debug of the outbox itself stays redacted
    for m in h.outbox.messages() {
        seen.push(format!("{m:?}"));
    }
    for e in h.audit.events() {
        seen.push(format!("{e:?}"));
        seen.push(serde_json::to_string(&e).unwrap());
    }
    seen.push(format!("{:?}", Password::new(good)));
    seen.push(format!("{}", Password::new(good)));
    let logs = capture.text();
    assert!(
        logs.contains("pin_activation::audit"),
        "the capture saw the audit events"
    );
    assert!(logs.lines().count() > 10);
    seen.push(logs);

    // the password hash is not a secret in the sense of the contract but must
    // not be in logs either
    secrets.push(user.password_hash.clone().unwrap());
    for secret in &secrets {
        for text in &seen {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {}",
                &text[..text.len().min(300)]
            );
        }
    }
    // and the notifier did get the PINs
    assert!(
        h.outbox
            .messages()
            .iter()
            .any(|m| m.body().expose_secret().contains(&pin))
    );
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        out.push_str(&format!("{s} / {s:?}\n"));
        source = s.source();
    }
    out
}

/// The pepper and an SMTP password, the two long-lived secrets a deployment
/// configures, stay out of every log line, error and `Debug` output too.
#[tokio::test]
async fn pepper_and_smtp_password_never_leak() {
    use pin_activation::{Keyring, Pepper};
    const PEPPER: &str = "pepper-secret-6a1f9c";
    let capture = Capture::trace();

    let keyring = Keyring::with_current(Pepper::new("k1", PEPPER.as_bytes().to_vec()).unwrap());
    let mut seen = vec![format!("{keyring:?}")];
    let h = common::harness_with(
        InMemoryUserStore::new(),
        InMemoryPinStore::new(),
        common::config(),
        |b| b.keyring(keyring),
    );
    let u = h.create("Pia", Some("pia@example.com"), None).await;
    let pin = h.pin(&u);
    let wrong = h.login("pia@example.com", "111229").await;
    seen.push(format!("{wrong:?}"));
    let ticket = h.ticket("pia@example.com", &pin).await;
    h.svc
        .complete_reset(&u.id, &ticket, &Password::new("copper lantern harbour"))
        .await
        .unwrap();
    let signed_in = h.login("pia@example.com", "copper lantern harbour").await;
    assert!(matches!(signed_in, Ok(SignIn::SignedIn { .. })), "{signed_in:?}");
    seen.push(format!("{signed_in:?}"));
    seen.push(format!("{:?}", h.svc));
    let stored = h.svc.find_user("pia@example.com").await.unwrap().unwrap();
    let hash = stored.password_hash.clone().unwrap();
    assert!(hash.contains("keyid="), "the pepper was used: {hash}");
    seen.push(format!("{stored:?}"));

    #[cfg(feature = "smtp")]
    {
        use pin_activation::notify::build_message;
        use pin_activation::secret::Credential;
        use pin_activation::{Channel, Email, Notifier, Pin, PinPurpose, SmtpConfig, SmtpNotifier, SmtpSecurity};
        const SMTP_PASSWORD: &str = "hunter2-smtp-secret";
        // a closed port: the send fails after the credentials were handed to lettre
        let config = SmtpConfig::new("127.0.0.1", "Portal <no-reply@example.com>")
            .port(1)
            .security(SmtpSecurity::Plain)
            .credentials("portal", Credential::new(SMTP_PASSWORD));
        seen.push(format!("{config:?}"));
        let notifier = SmtpNotifier::new(config).unwrap();
        seen.push(format!("{notifier:?}"));
        let message = build_message(
            &common::config().messages,
            u.id.clone(),
            "Pia",
            Channel::Email(Email::parse("pia@example.com").unwrap()),
            PinPurpose::Activation,
            Pin::new("004271"),
            common::t0(),
        );
        let err = notifier.send(&message).await.unwrap_err();
        seen.push(error_chain(&err));
        let logs = capture.text();
        for text in seen.iter().chain([&logs]) {
            assert!(!text.contains(SMTP_PASSWORD), "the SMTP password leaked into: {text}");
            assert!(!text.contains("004271"), "the PIN leaked into: {text}");
        }
    }

    let logs = capture.text();
    assert!(logs.lines().count() > 5, "the capture saw the story");
    seen.push(logs);
    for text in &seen {
        assert!(!text.contains(PEPPER), "the pepper leaked into: {text}");
        assert!(!text.contains(&pin), "the PIN leaked into: {text}");
        assert!(
            !text.contains("copper lantern harbour"),
            "the password leaked into: {text}"
        );
    }
}
