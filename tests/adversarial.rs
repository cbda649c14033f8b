//! Adversarial tests from a fresh-eyes security review of the public API:
//! sequences, enumeration, throttle boundaries, config edges, normalization,
//! redaction, and the same scripted sequence on every store. `holds_*` are
//! promises the review tried to break and could not; `decided_*` pin down
//! a design choice the contract leaves open (see the README's security
//! section). What the review did break is fixed and tested in
//! `tests/common/cases.rs` (the `case_c04_*`, `case_c08_*`, `case_c10_*`,
//! `case_c14_*` additions) and the unit tests.
//!
//! Every store-generic scenario runs on the in-memory stores, SQLite and
//! (with the `postgres` feature and a server) PostgreSQL.

mod common;
#[cfg(feature = "postgres")]
mod sql_support;

use chrono::TimeDelta;
use common::{Harness, ScriptedDigits, config, harness, harness_with, is_refusal, pin_accepted, signed_in, staff, t0};
use pin_activation::{
    AccountState, ActivationConfig, AuditEvent, ChannelChoice, ChannelKind, DeliveryErrorKind, Error, InMemoryPinStore,
    InMemoryUserStore, Keyring, NewUser, Password, Pepper, PinStore, ResetMode, ResetTicket, SignIn, SqliteStore,
    UserStore,
};

async fn sqlite() -> SqliteStore {
    let s = SqliteStore::connect("sqlite::memory:").await.unwrap();
    s.migrate().await.unwrap();
    s
}

/// Runs a generic scenario on memory and on SQLite.
macro_rules! both {
    ($($name:ident => $f:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                $f(InMemoryUserStore::new(), InMemoryPinStore::new()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let s = super::sqlite().await;
                $f(s.clone(), s).await;
            }
            #[cfg(feature = "postgres")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(schema) = crate::sql_support::pg::schema(concat!("attack_", stringify!($name))).await else {
                    return;
                };
                let s = schema.store("attack").await;
                // drop the schema even when the scenario fails
                let run = tokio::spawn(async move { $f(s.clone(), s).await });
                let result = run.await;
                schema.drop().await;
                if let Err(e) = result {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        }
    )*};
}

const GOOD_PW: &str = "violet tapestry harbor 42";
const GOOD_PW2: &str = "amber orchard lantern 77";

async fn active_user<U: UserStore, P: PinStore>(
    h: &Harness<U, P>,
    email: &str,
    phone: Option<&str>,
) -> pin_activation::User {
    let u = h.create("Quinn Ortega", Some(email), phone).await;
    h.activate(&u, email, GOOD_PW).await;
    h.svc.user(&u.id).await.unwrap()
}

// ---------------------------------------------------------------------------
// Tickets: re-send, contact change, ttl boundary, second PIN sign-in
// ---------------------------------------------------------------------------

async fn tickets_die_correctly<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h
        .create("Quinn Ortega", Some("quinn@example.com"), Some("+13125550123"))
        .await;
    // a ticket from before a re-send
    let t1 = h.ticket("quinn@example.com", &h.pin(&u)).await;
    h.clock.advance(TimeDelta::minutes(2));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Only(ChannelKind::Sms), &staff())
        .await
        .unwrap();
    assert!(matches!(
        h.svc.complete_reset(&u.id, &t1, &Password::new(GOOD_PW)).await,
        Err(Error::InvalidTicket)
    ));
    // a ticket, then a contact change (email only: the PIN went by SMS)
    let t2 = h.ticket("+13125550123", &h.pin(&u)).await;
    h.svc
        .update_contact(&u.id, Some("quinn.o@example.com"), Some("+13125550123"), Some(&staff()))
        .await
        .unwrap();
    assert!(matches!(
        h.svc.complete_reset(&u.id, &t2, &Password::new(GOOD_PW)).await,
        Err(Error::InvalidTicket)
    ));
    // a re-formatted but equal contact changes nothing
    h.clock.advance(TimeDelta::minutes(2));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    let pin = h.pin(&u);
    let t3 = h.ticket("quinn.o@example.com", &pin).await;
    h.svc
        .update_contact(&u.id, Some(" QUINN.O@Example.com "), Some("(312) 555-0123"), None)
        .await
        .unwrap();
    // second PIN sign-in: earlier ticket dies, new one lives
    let t4 = h.ticket("quinn.o@example.com", &pin).await;
    assert!(matches!(
        h.svc.complete_reset(&u.id, &t3, &Password::new(GOOD_PW)).await,
        Err(Error::InvalidTicket)
    ));
    // ticket ttl boundary: 1 µs before expiry works (probe with a weak
    // password), at expiry refused
    let ttl = TimeDelta::from_std(h.svc.config().ticket_ttl).unwrap();
    h.clock.advance(ttl - TimeDelta::microseconds(1));
    assert!(matches!(
        h.svc.complete_reset(&u.id, &t4, &Password::new("password")).await,
        Err(Error::WeakPassword(_))
    ));
    h.clock.advance(TimeDelta::microseconds(1));
    assert!(matches!(
        h.svc.complete_reset(&u.id, &t4, &Password::new(GOOD_PW)).await,
        Err(Error::InvalidTicket)
    ));
    assert_eq!(h.svc.user(&u.id).await.unwrap().state, AccountState::Pending);
}

/// A ticket earned just before the PIN expires outlives the PIN by up to
/// `ticket_ttl`: the user proved the PIN in time, and the ticket has its own
/// lifetime.
async fn ticket_outlives_pin<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Quinn Ortega", Some("quinn@example.com"), None).await;
    h.clock.advance(TimeDelta::hours(72) - TimeDelta::seconds(1));
    let t = h.ticket("quinn@example.com", &h.pin(&u)).await;
    h.clock.advance(TimeDelta::minutes(10));
    let r = h.svc.complete_reset(&u.id, &t, &Password::new(GOOD_PW)).await;
    assert!(r.is_ok(), "{r:?}");
}

both! {
    holds_tickets_die_correctly => tickets_die_correctly,
    decided_ticket_outlives_its_pin => ticket_outlives_pin,
}

// ---------------------------------------------------------------------------
// Revoke mode and credential_version
// ---------------------------------------------------------------------------

async fn revoke_mode<U: UserStore, P: PinStore>(users: U, pins: P) {
    let mut cfg = config();
    cfg.reset_mode = ResetMode::Revoke;
    let h = harness(users, pins, cfg);
    let u = active_user(&h, "quinn@example.com", None).await;
    assert_eq!(u.credential_version, 1);

    // anonymous "forgot password" never revokes
    h.clock.advance(TimeDelta::minutes(2));
    h.svc.request_pin("quinn@example.com").await.unwrap().finished().await;
    assert_eq!(h.svc.user(&u.id).await.unwrap().state, AccountState::ResetRequired);
    assert!(matches!(
        h.login("quinn@example.com", GOOD_PW).await,
        Ok(SignIn::SignedIn {
            credential_version: 1,
            ..
        })
    ));

    // a staff re-send that fails to deliver leaves everything as before
    h.clock.advance(TimeDelta::minutes(2));
    h.outbox.set_failing(Some(DeliveryErrorKind::Permanent));
    assert!(matches!(
        h.svc.resend_activation(&u.id, ChannelChoice::Preferred, &staff()).await,
        Err(Error::Delivery(_))
    ));
    h.outbox.set_failing(None);
    assert!(signed_in(&h.login("quinn@example.com", GOOD_PW).await));
    assert_eq!(h.svc.user(&u.id).await.unwrap().credential_version, 1);

    // staff re-send in revoke mode (from ResetRequired): password ends now
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    let after = h.svc.user(&u.id).await.unwrap();
    assert_eq!(after.credential_version, 2);
    assert!(after.password_hash.is_none());
    assert!(is_refusal(&h.login("quinn@example.com", GOOD_PW).await));
    let t = h.ticket("quinn@example.com", &h.pin(&u)).await;
    let done = h.svc.complete_reset(&u.id, &t, &Password::new(GOOD_PW2)).await.unwrap();
    assert_eq!(done.credential_version, 3);
    assert!(is_refusal(&h.login("quinn@example.com", GOOD_PW).await));
    assert!(matches!(
        h.login("quinn@example.com", GOOD_PW2).await,
        Ok(SignIn::SignedIn {
            credential_version: 3,
            ..
        })
    ));
    // the completed reset's PIN cannot be replayed
    assert!(is_refusal(&h.login("quinn@example.com", &h.pin(&u)).await));
}

both! { holds_revoke_mode_and_versions => revoke_mode }

// ---------------------------------------------------------------------------
// Enumeration: same error and exactly one hash for every refusal
// ---------------------------------------------------------------------------

async fn enumeration_matrix<U: UserStore, P: PinStore>(users: U, pins: P) {
    let mut cfg = config();
    cfg.max_account_failures = 3;
    cfg.reset_mode = ResetMode::Revoke;
    let h = harness(users, pins, cfg);
    // pending, live PIN
    let p = h
        .create("Pen Ding", Some("pending@example.com"), Some("+13125550101"))
        .await;
    let ppin = h.pin(&p);
    // active
    let _a = active_user(&h, "active@example.com", Some("+13125550102")).await;
    // reset required, password revoked
    let r = active_user(&h, "revoked@example.com", None).await;
    h.clock.advance(TimeDelta::minutes(2));
    h.svc
        .resend_activation(&r.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    // locked
    let l = h.create("Lock Ed", Some("locked@example.com"), None).await;
    let lpin = h.pin(&l);
    for i in 0..3 {
        let _ = h.login("locked@example.com", &Harness::<U, P>::wrong(&lpin, i)).await;
    }
    // exhausted
    let x = h.create("Ex Hausted", Some("exhausted@example.com"), None).await;
    let xpin = h.pin(&x);
    for i in 0..5 {
        let _ = h
            .login("exhausted@example.com", &Harness::<U, P>::wrong(&xpin, i + 10))
            .await;
    }
    h.svc.unlock(&x.id, &staff()).await.unwrap();
    // expired
    let e = h.create("Ex Pired", Some("expired@example.com"), None).await;
    let epin = h.pin(&e);
    h.clock.advance(TimeDelta::hours(73));
    let probes: Vec<(&str, String)> = vec![
        ("nobody@example.com", "123457".into()),
        ("nobody@example.com", "a long wrong password".into()),
        ("+13125550199", "123457".into()),
        ("pending@example.com", Harness::<U, P>::wrong(&ppin, 1)),
        ("+13125550101", "a long wrong password".into()),
        ("active@example.com", "123457".into()),
        ("+13125550102", "a long wrong password".into()),
        ("revoked@example.com", GOOD_PW.into()),
        ("locked@example.com", lpin.clone()),
        ("exhausted@example.com", xpin.clone()),
        ("expired@example.com", epin.clone()),
    ];
    let mut rows = Vec::new();
    for (id, secret) in &probes {
        let before = h.svc.hash_stats().computed;
        let res = h.login(id, secret).await;
        let cost = h.svc.hash_stats().computed - before;
        rows.push((*id, format!("{res:?}"), cost));
    }
    for (id, res, cost) in &rows {
        assert_eq!(res, "Err(InvalidCredentials)", "{id}");
        assert_eq!(*cost, 1, "{id}: {cost} hashes");
    }
    // request_pin answers the same for known, unknown and unreachable
    for id in [
        "nobody@example.com",
        "pending@example.com",
        "+13125550199",
        "active@example.com",
    ] {
        let r = h.svc.request_pin(id).await;
        assert!(r.is_ok(), "{id}: {r:?}");
        r.unwrap().finished().await;
    }
}

both! { holds_enumeration_matrix => enumeration_matrix }

// ---------------------------------------------------------------------------
// Throttles
// ---------------------------------------------------------------------------

async fn throttle_boundaries<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Quinn Ortega", Some("quinn@example.com"), None).await; // send #1 at t0
    // cooldown: 1 µs short, then exactly
    h.clock.advance(TimeDelta::seconds(60) - TimeDelta::microseconds(1));
    match h.svc.resend_activation(&u.id, ChannelChoice::Preferred, &staff()).await {
        Err(Error::Throttled { retry_at }) => assert_eq!(retry_at, t0() + TimeDelta::seconds(60)),
        other => panic!("{other:?}"),
    }
    h.clock.advance(TimeDelta::microseconds(1));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap(); // #2 at t0+60s
    // a failed delivery does not count
    h.clock.advance(TimeDelta::minutes(2));
    h.outbox.set_failing(Some(DeliveryErrorKind::Transient));
    assert!(matches!(
        h.svc.resend_activation(&u.id, ChannelChoice::Preferred, &staff()).await,
        Err(Error::Delivery(_))
    ));
    h.outbox.set_failing(None);
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap(); // #3
    // self-service draws on its own budget of 5 (counting all sends)
    let mut self_sent = 0;
    for _ in 0..6 {
        h.clock.advance(TimeDelta::minutes(2));
        let n = h.outbox.messages().len();
        h.svc.request_pin("quinn@example.com").await.unwrap().finished().await;
        self_sent += h.outbox.messages().len() - n;
    }
    assert_eq!(self_sent, 2, "self-service stops at 5 sends in 24 h (3 staff + 2 self)");
    // staff still have theirs: up to 10
    let mut staff_sent = 0;
    for _ in 0..10 {
        h.clock.advance(TimeDelta::minutes(2));
        if h.svc
            .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
            .await
            .is_ok()
        {
            staff_sent += 1;
        }
    }
    assert_eq!(staff_sent, 5);
    // the 24 h window: the first send (t0) leaves at t0+24h exactly
    let r = h.svc.resend_activation(&u.id, ChannelChoice::Preferred, &staff()).await;
    let Err(Error::Throttled { retry_at }) = r else {
        panic!("{r:?}")
    };
    assert_eq!(retry_at, t0() + TimeDelta::hours(24));
    h.clock.set(retry_at - TimeDelta::microseconds(1));
    assert!(matches!(
        h.svc.resend_activation(&u.id, ChannelChoice::Preferred, &staff()).await,
        Err(Error::Throttled { .. })
    ));
    h.clock.set(retry_at);
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
}

both! { holds_throttle_boundaries => throttle_boundaries }

// ---------------------------------------------------------------------------
// Unlock racing guesses: per-PIN attempt limit still holds
// ---------------------------------------------------------------------------

async fn unlock_races_guesses<U: UserStore, P: PinStore>(users: U, pins: P) {
    let mut cfg = config();
    cfg.max_account_failures = 2;
    let h = harness(users, pins, cfg);
    let u = h.create("Quinn Ortega", Some("quinn@example.com"), None).await;
    let pin = h.pin(&u);
    let before = h.svc.hash_stats().verified;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let svc = h.svc.clone();
        let id = u.id.clone();
        let guess = Harness::<U, P>::wrong(&pin, i);
        tasks.push(tokio::spawn(async move {
            if i % 3 == 0 {
                svc.unlock(&id, &staff()).await.unwrap();
            }
            svc.login("quinn@example.com", &Password::new(guess)).await
        }));
    }
    for t in tasks {
        assert!(is_refusal(&t.await.unwrap()));
    }
    assert!(
        h.svc.hash_stats().verified - before <= 5,
        "more than max_attempts checks on one PIN"
    );
    assert!(h.attempts(&u).await.unwrap() <= 5);
}

both! { holds_unlock_races_guesses => unlock_races_guesses }

// ---------------------------------------------------------------------------
// Identifier normalization: one mailbox, one account
// ---------------------------------------------------------------------------

async fn one_mailbox_two_accounts<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let mut twins = Vec::new();
    for (a, b) in [
        ("alice@example.com", "alice@example.com."),
        ("alice2@example.com", "\"alice2\"@example.com"),
        ("alice3@example.com", "alice3@EXAMPLE.com"),
        ("alice4@example.com", "alice4@example\u{3002}com"),
    ] {
        let first = h.svc.create_user(NewUser::new("A").email(a), None).await;
        assert!(first.is_ok(), "{a}: {first:?}");
        match h.svc.create_user(NewUser::new("B").email(b), None).await {
            Err(Error::Duplicate(_)) | Err(Error::InvalidInput(_)) => {}
            Ok(c) => twins.push(format!("{a} / {b} -> {}", c.user.email.unwrap())),
            Err(other) => panic!("{b}: {other:?}"),
        }
    }
    assert!(twins.is_empty(), "one mailbox, two accounts: {twins:?}");
}

both! { holds_one_mailbox_one_account => one_mailbox_two_accounts }

// ---------------------------------------------------------------------------
// Debug / Display of public types never show a secret
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_debug_of_public_types_is_redacted() {
    let pepper_secret = "PEPPERPEPPERPEPPERPEPPER";
    let h = harness_with(InMemoryUserStore::new(), InMemoryPinStore::new(), config(), |b| {
        b.keyring(Keyring::with_current(
            Pepper::new("k1", pepper_secret.as_bytes().to_vec()).unwrap(),
        ))
        .pin_rng(ScriptedDigits::new(&["004271", "731904"]))
    });
    let created = h
        .svc
        .create_user(NewUser::new("Quinn").email("quinn@example.com"), Some(&staff()))
        .await
        .unwrap();
    let u = created.user.clone();
    let pin = h.pin(&u);
    assert_eq!(pin, "004271");
    let signin = h.login("quinn@example.com", &pin).await.unwrap();
    let SignIn::ResetRequired { ref ticket, .. } = signin else {
        panic!()
    };
    let ticket_text = ticket.expose_secret().to_owned();
    let weak = h
        .svc
        .complete_reset(&u.id, ticket, &Password::new("password"))
        .await
        .unwrap_err();
    let done = h
        .svc
        .complete_reset(&u.id, ticket, &Password::new(GOOD_PW))
        .await
        .unwrap();
    let user = h.svc.user(&u.id).await.unwrap();
    let hash = user.password_hash.clone().unwrap();
    let snap = h.svc.pin_store().snapshot(&u.id).await.unwrap();
    let report = h.svc.activation_status(&u.id).await.unwrap();
    let texts = vec![
        format!("{created:?}"),
        format!("{signin:?}"),
        format!("{weak:?} {weak}"),
        format!("{done:?}"),
        format!("{user:?}"),
        format!("{snap:?}"),
        format!("{report:?}"),
        format!("{:?}", h.outbox),
        format!("{:?}", h.outbox.messages()),
        format!("{:?}", h.svc),
        format!("{:?}", h.svc.user_store()),
        format!("{:?}", h.svc.pin_store()),
        format!("{:?}", h.audit.events()),
        format!("{:?}", Password::new(GOOD_PW)),
        format!("{}", ResetTicket::new(ticket_text.clone())),
    ];
    for t in &texts {
        for secret in [
            pin.as_str(),
            ticket_text.as_str(),
            GOOD_PW,
            pepper_secret,
            hash.as_str(),
            "$argon2",
        ] {
            assert!(!t.contains(secret), "{secret:?} in {t}");
        }
    }
}

/// `User`, `PinRecord` and `TicketRecord` are storage records: their serde
/// form carries the hashes (for adapters over document stores), and their
/// docs say never to hand them to a client; `Debug` shows none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decided_user_serde_form_is_a_storage_record() {
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), config());
    let u = active_user(&h, "quinn@example.com", None).await;
    let json = serde_json::to_string(&u).unwrap();
    assert!(json.contains("$argon2id$"));
    assert!(!format!("{u:?}").contains("$argon2"));
}

// ---------------------------------------------------------------------------
// Config edges
// ---------------------------------------------------------------------------

#[test]
fn holds_config_edges() {
    // round trip of odd but valid values
    let mut c = ActivationConfig::for_tests();
    c.ticket_ttl = std::time::Duration::new(60, 1);
    c.activation_ttl = std::time::Duration::from_secs(30 * 86_400);
    c.reset_ttl = std::time::Duration::from_millis(60_500);
    c.pin_length = 12;
    c.password.min_length = 13;
    c.max_account_failures = 100;
    c.hashing.max_concurrent = Some(1024);
    c.default_region = "gb".parse().unwrap();
    c.validate().unwrap();
    let back: ActivationConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    // absurd values: refused, never a panic
    for bad in [
        r#"{"activation_ttl":"500000years"}"#,
        r#"{"ticket_ttl":"0s"}"#,
        r#"{"max_account_failures":101}"#,
        r#"{"max_account_failures":4294967295}"#,
        r#"{"pin_length":6,"password":{"min_length":6}}"#,
        r#"{"pin_length":18446744073709551615}"#,
        r#"{"hashing":{"preset":"custom","m_kib":4294967295,"t":4294967295,"p":4294967295}}"#,
        r#"{"password":{"max_length":18446744073709551615}}"#,
    ] {
        let parsed: Result<ActivationConfig, _> = serde_json::from_str(bad);
        if let Ok(c) = parsed {
            assert!(c.validate().is_err(), "{bad} validated");
        }
    }
}

// ---------------------------------------------------------------------------
// Differential: the same sequence on every store
// ---------------------------------------------------------------------------

fn show<T: std::fmt::Debug>(r: &Result<T, Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => {
            let s = format!("{e:?}");
            s.split(['(', ' ', '{']).next().unwrap().to_owned()
        }
    }
}

#[allow(unused_must_use)]
async fn trace<U: UserStore, P: PinStore>(users: U, pins: P) -> Vec<String> {
    let mut cfg = config();
    cfg.max_attempts = 3;
    cfg.max_account_failures = 7;
    let h = harness_with(users, pins, cfg, |b| {
        b.pin_rng(ScriptedDigits::new(&[
            "004271", "731904", "558201", "640017", "902113", "318266",
        ]))
    });
    let mut out = Vec::new();
    let u = h
        .create("Quinn Ortega", Some("Quinn@Example.com"), Some("312 555 0123"))
        .await;
    let id = u.id.clone();
    macro_rules! rec {
        ($label:expr, $e:expr) => {{
            let r = $e;
            let status = h.svc.activation_status(&id).await.map(|r| format!("{:?}", r.status));
            let user = h.svc.user(&id).await.unwrap();
            let snap = h.svc.pin_store().snapshot(&id).await.unwrap();
            out.push(format!(
                "{} => {} | {:?} | {:?} v{} pw={} fail={} att={:?}",
                $label,
                show(&r),
                status.unwrap(),
                user.state,
                user.credential_version,
                user.password_hash.is_some(),
                snap.failures,
                snap.pin.as_ref().map(|p| p.attempts)
            ));
            r
        }};
    }
    let p1 = h.pin(&u);
    rec!("wrong1", h.login("quinn@example.com", "111112").await);
    rec!("wrong2", h.login("+13125550123", "111113").await);
    rec!("right", h.login("quinn@example.com", &p1).await);
    rec!("wrong3", h.login("quinn@example.com", "111114").await);
    rec!("wrong4", h.login("quinn@example.com", "111115").await);
    rec!("wrong5", h.login("quinn@example.com", "111116").await);
    rec!("right-exhausted", h.login("quinn@example.com", &p1).await);
    h.clock.advance(TimeDelta::seconds(30));
    rec!(
        "resend-throttled",
        h.svc.resend_activation(&id, ChannelChoice::Preferred, &staff()).await
    );
    h.clock.advance(TimeDelta::seconds(30));
    rec!(
        "resend-sms",
        h.svc
            .resend_activation(&id, ChannelChoice::Only(ChannelKind::Sms), &staff())
            .await
    );
    for i in 0..4 {
        rec!(format!("w{i}"), h.login("(312) 555-0123", &format!("22222{i}")).await);
    }
    h.clock.advance(TimeDelta::minutes(2));
    rec!(
        "resend",
        h.svc.resend_activation(&id, ChannelChoice::Preferred, &staff()).await
    );
    rec!("w-lock", h.login("(312) 555-0123", "333333").await);
    rec!("w-lock2", h.login("(312) 555-0123", "333334").await);
    let p = h.pin(&u);
    rec!("right-locked", h.login("quinn@example.com", &p).await);
    rec!("unlock", h.svc.unlock(&id, &staff()).await);
    let t = match rec!("right-unlocked", h.login("quinn@example.com", &p).await) {
        Ok(SignIn::ResetRequired { ticket, .. }) => ticket,
        other => panic!("{other:?}"),
    };
    rec!(
        "weak",
        h.svc.complete_reset(&id, &t, &Password::new("quinn ortega!")).await
    );
    rec!("complete", h.svc.complete_reset(&id, &t, &Password::new(GOOD_PW)).await);
    rec!("again", h.svc.complete_reset(&id, &t, &Password::new(GOOD_PW2)).await);
    rec!("pw", h.login("QUINN@example.com", GOOD_PW).await);
    rec!("pin-after", h.login("quinn@example.com", &p).await);
    h.clock.advance(TimeDelta::minutes(2));
    // wait for the background work before recording (it races otherwise)
    h.svc.request_pin("+1 312 555 0123").await.unwrap().finished().await;
    rec!("after-self", Ok::<(), Error>(()));
    rec!("pw-kept", h.login("quinn@example.com", GOOD_PW).await);
    h.clock.advance(TimeDelta::hours(1));
    rec!("expired", h.login("quinn@example.com", &h.pin(&u)).await);
    rec!(
        "contact",
        h.svc.update_contact(&id, None, Some("+13125550124"), None).await
    );
    rec!("old-email", h.login("quinn@example.com", GOOD_PW).await);
    rec!("new-phone", h.login("312-555-0124", GOOD_PW).await);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_memory_and_sqlite_agree() {
    let mem = trace(InMemoryUserStore::new(), InMemoryPinStore::new()).await;
    let s = sqlite().await;
    let sql = trace(s.clone(), s).await;
    for (a, b) in mem.iter().zip(&sql) {
        assert_eq!(a, b);
    }
    assert_eq!(mem.len(), sql.len());
}

/// Audit check for the throttled event carrying the right retry instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_throttle_is_audited() {
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), config());
    let u = h.create("Quinn Ortega", Some("quinn@example.com"), None).await;
    h.svc.request_pin("quinn@example.com").await.unwrap().finished().await;
    assert!(h.audit.events().iter().any(|e| matches!(e,
        AuditEvent::Throttled { user, retry_at } if *user == u.id && *retry_at == t0() + TimeDelta::seconds(60))));
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_memory_and_postgres_agree() {
    let Some(schema) = sql_support::pg::schema("attack_differential").await else {
        return;
    };
    let store = schema.store("attack").await;
    let pg = trace(store.clone(), store).await;
    schema.drop().await;
    let mem = trace(InMemoryUserStore::new(), InMemoryPinStore::new()).await;
    for (a, b) in mem.iter().zip(&pg) {
        assert_eq!(a, b);
    }
    assert_eq!(mem.len(), pg.len());
}

/// An anonymous "send me a new code" for someone who is on the password
/// step kills their ticket (a fresh PIN replaces the old one, and its
/// ticket with it, as the contract requires of every re-send): griefing
/// bounded by the cooldown and the self-service cap, and the fresh PIN goes
/// to the user's own inbox.
async fn self_service_kills_live_ticket<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Quinn Ortega", Some("quinn@example.com"), None).await;
    h.clock.advance(TimeDelta::minutes(2));
    let t = h.ticket("quinn@example.com", &h.pin(&u)).await;
    h.svc.request_pin("quinn@example.com").await.unwrap().finished().await; // anyone
    assert!(matches!(
        h.svc.complete_reset(&u.id, &t, &Password::new(GOOD_PW)).await,
        Err(Error::InvalidTicket)
    ));
}

/// One person's phone formats agree (US default region).
async fn phone_formats_agree<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Quinn Ortega", None, Some("+1 (312) 555-0123")).await;
    let pin = h.pin(&u);
    for f in [
        "1-312-555-0123",
        "001 312 555 0123",
        " +1.312.555.0123 ",
        "312 5550123",
        "(312)555-0123",
    ] {
        let found = h.svc.find_user(f).await;
        assert!(matches!(&found, Ok(Some(x)) if x.id == u.id), "{f}: {found:?}");
    }
    assert!(pin_accepted(&h.login("1 312 555 0123", &pin).await));
}

both! {
    decided_self_service_kills_a_live_ticket => self_service_kills_live_ticket,
    holds_phone_formats_agree => phone_formats_agree,
}
