//! Contract behaviour of the service beyond the numbered cases.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use chrono::TimeDelta;
use common::{config, harness, harness_with, is_refusal, pin_accepted, signed_in, staff, t0};
use pin_activation::audit::RefusalReason;
use pin_activation::hash::HashProbe;
use pin_activation::store::DeliveryOutcome;
use pin_activation::{
    AccountState, ActivationStatus, AuditEvent, ChannelChoice, ChannelKind, DeliveryErrorKind, Error, FirstActivation,
    HashPreset, InMemoryPinStore, InMemoryUserStore, Keyring, NewUser, Password, Pepper, PinPurpose, ResetMode, SignIn,
};

type H = common::Harness<InMemoryUserStore, InMemoryPinStore>;

fn h() -> H {
    harness(InMemoryUserStore::new(), InMemoryPinStore::new(), config())
}

#[derive(Default)]
struct ThreadProbe {
    threads: Mutex<HashSet<ThreadId>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    /// Extra work per hash (on its blocking thread), so that hashes of the
    /// fast `Testing` preset overlap the way real ones do.
    hold: Option<std::time::Duration>,
}

impl HashProbe for ThreadProbe {
    fn started(&self) {
        self.threads.lock().unwrap().insert(std::thread::current().id());
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        if let Some(hold) = self.hold {
            std::thread::sleep(hold);
        }
    }
    fn finished(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Hashes never run on the runtime's worker: on a current-thread runtime
/// the worker is this test's thread, and no hash ran on it.
#[tokio::test(flavor = "current_thread")]
async fn hashes_run_off_the_runtime_worker_threads() {
    let probe = Arc::new(ThreadProbe::default());
    let p = Arc::clone(&probe);
    let h = harness_with(InMemoryUserStore::new(), InMemoryPinStore::new(), config(), |b| {
        b.hash_probe(p)
    });
    let u = h.create("Nia", Some("nia@example.com"), None).await;
    let pin = h.pin(&u);
    assert!(pin_accepted(&h.login("nia@example.com", &pin).await));
    assert!(is_refusal(&h.login("nobody@example.com", &pin).await));
    let threads = probe.threads.lock().unwrap().clone();
    assert!(!threads.is_empty(), "the probe saw the hashes");
    assert!(
        !threads.contains(&std::thread::current().id()),
        "a hash ran on the runtime worker thread"
    );
}

/// 50 sign-ins in flight never run more hashes at once than the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hash_concurrency_is_bounded_under_a_burst() {
    let mut cfg = config();
    cfg.hashing.max_concurrent = Some(2);
    let probe = Arc::new(ThreadProbe {
        hold: Some(std::time::Duration::from_millis(5)),
        ..ThreadProbe::default()
    });
    let p = Arc::clone(&probe);
    let h = harness_with(InMemoryUserStore::new(), InMemoryPinStore::new(), cfg, |b| {
        b.hash_probe(p)
    });
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(
            h.create(&format!("U{i}"), Some(&format!("u{i}@example.com")), None)
                .await,
        );
    }
    let before = h.svc.hash_stats().computed;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let svc = h.svc.clone();
        let pin = h.pin(&users[i % 10]);
        tasks.push(tokio::spawn(async move {
            svc.login(&format!("u{}@example.com", i % 10), &Password::new(pin))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().ok();
    }
    let stats = h.svc.hash_stats();
    assert_eq!(stats.computed - before, 50, "one hash per sign-in");
    assert_eq!(stats.limit, 2);
    // The limit was reached (50 sign-ins did queue) and never passed.
    assert_eq!(stats.peak_in_flight, 2);
    assert_eq!(probe.max_running.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_whole_story_with_states() {
    let h = h();
    let u = h.create("Olga", Some("olga@example.com"), None).await;
    assert_eq!(u.state, AccountState::Pending);
    let report = h.svc.activation_status(&u.id).await.unwrap();
    assert!(matches!(
        report.status,
        ActivationStatus::PinLive {
            purpose: PinPurpose::Activation,
            channel: ChannelKind::Email,
            attempts_left: 5,
            ..
        }
    ));
    assert!(matches!(
        report.deliveries[0].outcome,
        DeliveryOutcome::Delivered { .. }
    ));
    let msg = h.outbox.last_for(&u.id).unwrap();
    assert_eq!(msg.expires_at, t0() + TimeDelta::hours(72), "activation PINs live 72 h");
    let pin = h.pin(&u);
    let SignIn::ResetRequired {
        user_id,
        ticket,
        expires_at,
    } = h.login("olga@example.com", &pin).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (user_id.clone(), expires_at),
        (u.id.clone(), t0() + TimeDelta::minutes(15))
    );
    // the PIN stays usable until the reset completes
    assert!(pin_accepted(&h.login("olga@example.com", &pin).await));
    let done = h
        .svc
        .complete_reset(&u.id, &ticket, &Password::new("paper kite summit"))
        .await;
    assert!(
        matches!(done, Err(Error::InvalidTicket)),
        "the second PIN sign-in replaced the first ticket"
    );
    let ticket = h.ticket("olga@example.com", &pin).await;
    let done = h
        .svc
        .complete_reset(&u.id, &ticket, &Password::new("paper kite summit"))
        .await
        .unwrap();
    assert_eq!(done.credential_version, 1);
    let SignIn::SignedIn { credential_version, .. } = h.login("olga@example.com", "paper kite summit").await.unwrap()
    else {
        panic!()
    };
    assert_eq!(credential_version, 1);
    assert_eq!(
        h.svc.activation_status(&u.id).await.unwrap().status,
        ActivationStatus::Active
    );
}

#[tokio::test]
async fn no_contact_user_cannot_be_activated() {
    let h = h();
    let u = h.create("Pat", None, None).await;
    assert!(!h.svc.can_activate(&u.id).await.unwrap());
    assert!(h.svc.channels(&u.id).await.unwrap().is_empty());
    assert_eq!(
        h.svc.activation_status(&u.id).await.unwrap().status,
        ActivationStatus::NoContact
    );
    let e = h
        .svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoContactChannel));
    assert!(h.outbox.messages().is_empty());
    // adding a phone makes it possible
    h.svc
        .update_contact(&u.id, None, Some("(415) 555-0199"), Some(&staff()))
        .await
        .unwrap();
    assert!(h.svc.can_activate(&u.id).await.unwrap());
    let d = h
        .svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    assert_eq!(d.channel, ChannelKind::Sms);
    let e = h
        .svc
        .resend_activation(&u.id, ChannelChoice::Only(ChannelKind::Email), &staff())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ChannelUnavailable(ChannelKind::Email)));
}

#[tokio::test]
async fn resend_is_throttled_with_a_retry_time_and_a_daily_cap() {
    let mut cfg = config();
    cfg.daily_send_cap = 3;
    cfg.self_service_daily_cap = 2;
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), cfg);
    let u = h.create("Quinn", Some("quinn@example.com"), None).await;
    let e = h
        .svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Throttled { retry_at } if retry_at == t0() + TimeDelta::seconds(60)),
        "{e:?}"
    );
    h.clock.advance(TimeDelta::seconds(60));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    h.clock.advance(TimeDelta::seconds(60));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    h.clock.advance(TimeDelta::seconds(60));
    let e = h
        .svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Throttled { retry_at } if retry_at == t0() + TimeDelta::hours(24)),
        "{e:?}"
    );
    assert!(
        h.audit
            .events()
            .iter()
            .any(|e| matches!(e, AuditEvent::Throttled { .. }))
    );
}

#[tokio::test]
async fn failed_delivery_leaves_the_user_as_before() {
    let h = h();
    let u = h.create("Rosa", Some("rosa@example.com"), None).await;
    let pin = h.pin(&u);
    h.clock.advance(TimeDelta::minutes(5));
    h.outbox.set_failing(Some(DeliveryErrorKind::Transient));
    let e = h
        .svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap_err();
    let Error::Delivery(source) = &e else { panic!("{e:?}") };
    assert!(source.is_transient());
    assert!(std::error::Error::source(&e).is_some(), "the delivery error is chained");
    h.outbox.set_failing(None);
    assert!(
        pin_accepted(&h.login("rosa@example.com", &pin).await),
        "the old PIN still works"
    );
    // and the failed send did not use up the cooldown
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    let report = h.svc.activation_status(&u.id).await.unwrap();
    assert!(matches!(
        report.deliveries[0].outcome,
        DeliveryOutcome::Delivered { .. }
    ));
}

#[tokio::test]
async fn permanent_email_failure_falls_back_to_sms() {
    let h = h();
    h.outbox.fail_next(1);
    let created = h
        .svc
        .create_user(
            NewUser::new("Sam").email("sam@example.com").phone("+1 312 555 0150"),
            None,
        )
        .await
        .unwrap();
    let FirstActivation::Sent(d) = created.activation else {
        panic!()
    };
    assert_eq!(d.channel, ChannelKind::Sms);
    let report = h.svc.activation_status(&created.user.id).await.unwrap();
    assert_eq!(report.deliveries.len(), 2);
    assert_eq!(
        report.deliveries[0].outcome,
        DeliveryOutcome::Failed {
            kind: DeliveryErrorKind::Permanent
        }
    );
    assert!(matches!(
        report.deliveries[1].outcome,
        DeliveryOutcome::Delivered { .. }
    ));
    assert!(matches!(
        report.status,
        ActivationStatus::PinLive {
            channel: ChannelKind::Sms,
            ..
        }
    ));
    assert!(pin_accepted(&h.login("+13125550150", &h.pin(&created.user)).await));
}

#[tokio::test]
async fn the_preferred_channel_is_configurable_and_falls_back_to_the_other() {
    let mut c = config();
    c.preferred_channel = ChannelKind::Sms;
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), c.clone());
    let both = NewUser::new("Sam").email("sam@example.com").phone("+1 312 555 0150");
    let sam = h.svc.create_user(both.clone(), None).await.unwrap();
    let FirstActivation::Sent(d) = sam.activation else {
        panic!()
    };
    assert_eq!(d.channel, ChannelKind::Sms);
    assert_eq!(
        h.outbox.last_for(&sam.user.id).unwrap().channel.kind(),
        ChannelKind::Sms
    );

    // Only an email: the preference cannot be met, the email goes.
    let eve = h
        .svc
        .create_user(NewUser::new("Eve").email("eve@example.com"), None)
        .await
        .unwrap();
    let FirstActivation::Sent(d) = eve.activation else {
        panic!()
    };
    assert_eq!(d.channel, ChannelKind::Email);

    // SMS refused for good: the same PIN by email, which signs in.
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), c.clone());
    h.outbox.fail_next(1);
    let sam = h.svc.create_user(both.clone(), None).await.unwrap();
    let FirstActivation::Sent(d) = sam.activation else {
        panic!()
    };
    assert_eq!(d.channel, ChannelKind::Email);
    assert!(pin_accepted(&h.login("sam@example.com", &h.pin(&sam.user)).await));

    // With fallback off, a refused SMS is the end of it.
    c.channel_fallback = false;
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), c);
    h.outbox.fail_next(1);
    let sam = h.svc.create_user(both, None).await.unwrap();
    assert!(
        matches!(sam.activation, FirstActivation::Failed(_)),
        "{:?}",
        sam.activation
    );
    assert!(h.outbox.messages().is_empty());
}

#[tokio::test]
async fn contact_change_kills_the_live_pin() {
    let h = h();
    let u = h.create("Tom", Some("tom@example.com"), None).await;
    let pin = h.pin(&u);
    let ticket = h.ticket("tom@example.com", &pin).await;
    h.svc
        .update_contact(&u.id, Some("tom.new@example.com"), None, Some(&staff()))
        .await
        .unwrap();
    assert!(is_refusal(&h.login("tom.new@example.com", &pin).await));
    assert!(matches!(
        h.svc
            .complete_reset(&u.id, &ticket, &Password::new("golden ratio bridge"))
            .await,
        Err(Error::InvalidTicket)
    ));
    assert_eq!(
        h.svc.activation_status(&u.id).await.unwrap().status,
        ActivationStatus::NoPin
    );
    let other = h.create("Uma", Some("uma@example.com"), None).await;
    let e = h
        .svc
        .update_contact(&other.id, Some("TOM.NEW@example.com"), None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Duplicate("email")));
    assert!(matches!(
        h.svc.update_contact(&other.id, Some("not an email"), None, None).await,
        Err(Error::InvalidInput(_))
    ));
}

async fn lost_password(mode: ResetMode) -> (H, pin_activation::User) {
    let mut cfg = config();
    cfg.reset_mode = mode;
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), cfg);
    let u = h.create("Vera", Some("vera@example.com"), None).await;
    h.activate(&u, "vera@example.com", "first long password").await;
    h.clock.advance(TimeDelta::minutes(5));
    let d = h
        .svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    assert_eq!(d.purpose, PinPurpose::Reset);
    assert_eq!(d.expires_at, h.clock_now() + TimeDelta::hours(1), "reset PINs live 1 h");
    (h, u)
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}
impl ClockNow for H {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use pin_activation::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn lost_password_reset_keep_mode() {
    let (h, u) = lost_password(ResetMode::Keep).await;
    assert_eq!(h.svc.user(&u.id).await.unwrap().state, AccountState::ResetRequired);
    let reset_pin = h.pin(&u);
    assert!(
        signed_in(&h.login("vera@example.com", "first long password").await),
        "keep: the old password works"
    );
    // and, being right, ends the reset: the user has their password
    assert_eq!(h.svc.user(&u.id).await.unwrap().state, AccountState::Active);
    assert!(is_refusal(&h.login("vera@example.com", &reset_pin).await));
    // a user who really lost it gets another PIN and completes the reset
    h.clock.advance(TimeDelta::minutes(2));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    let ticket = h.ticket("vera@example.com", &h.pin(&u)).await;
    let done = h
        .svc
        .complete_reset(&u.id, &ticket, &Password::new("second long password"))
        .await
        .unwrap();
    assert_eq!(done.credential_version, 2);
    assert!(
        is_refusal(&h.login("vera@example.com", "first long password").await),
        "the old password stops after the reset"
    );
    assert!(signed_in(&h.login("vera@example.com", "second long password").await));
}

#[tokio::test]
async fn lost_password_reset_revoke_mode() {
    let (h, u) = lost_password(ResetMode::Revoke).await;
    let user = h.svc.user(&u.id).await.unwrap();
    assert_eq!(
        (user.state, user.credential_version, user.password_hash.is_none()),
        (AccountState::ResetRequired, 2, true)
    );
    assert!(
        is_refusal(&h.login("vera@example.com", "first long password").await),
        "revoke: the old password is dead at once"
    );
    let ticket = h.ticket("vera@example.com", &h.pin(&u)).await;
    let done = h
        .svc
        .complete_reset(&u.id, &ticket, &Password::new("second long password"))
        .await
        .unwrap();
    assert_eq!(done.credential_version, 3);
}

#[tokio::test]
async fn active_users_do_not_sign_in_with_pin_guesses() {
    let h = h();
    let u = h.create("Wes", Some("wes@example.com"), None).await;
    let pin = h.pin(&u);
    h.activate(&u, "wes@example.com", "marble castle oath").await;
    let before = h.svc.hash_stats();
    assert!(is_refusal(&h.login("wes@example.com", &pin).await));
    let after = h.svc.hash_stats();
    assert_eq!(
        (after.computed - before.computed, after.equal_work - before.equal_work),
        (1, 1)
    );
    assert!(h.audit.events().contains(&AuditEvent::SignInRefused {
        user: Some(u.id.clone()),
        reason: RefusalReason::NoLivePin
    }));
}

/// Every refusal kind: the same error and exactly one argon2 computation.
#[tokio::test]
async fn refusals_look_alike_and_cost_the_same() {
    let mut cfg = config();
    cfg.max_attempts = 1;
    cfg.max_account_failures = 3;
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), cfg);
    let expired = h.create("Exp", Some("exp@example.com"), None).await;
    h.clock.advance(TimeDelta::hours(72));
    let exhausted = h.create("Exh", Some("exh@example.com"), None).await;
    let locked = h.create("Loc", Some("loc@example.com"), None).await;
    let wrong = h.create("Wro", Some("wro@example.com"), None).await;
    let guess = |u: &pin_activation::User| H::wrong(&h.pin(u), 1);
    assert!(is_refusal(&h.login("exh@example.com", &guess(&exhausted)).await));
    for _ in 0..3 {
        assert!(is_refusal(&h.login("loc@example.com", &guess(&locked)).await));
        h.clock.advance(TimeDelta::seconds(61));
        h.svc
            .resend_activation(&locked.id, ChannelChoice::Preferred, &staff())
            .await
            .unwrap();
    }
    let cases = [
        ("nobody@example.com", "123987".to_owned(), RefusalReason::UnknownUser),
        ("exp@example.com", h.pin(&expired), RefusalReason::PinExpired),
        ("exh@example.com", h.pin(&exhausted), RefusalReason::PinExhausted),
        ("loc@example.com", h.pin(&locked), RefusalReason::AccountLocked),
        ("wro@example.com", guess(&wrong), RefusalReason::WrongPin),
    ];
    for (who, secret, reason) in cases {
        let before = h.svc.hash_stats().computed;
        let r = h.login(who, &secret).await;
        assert!(is_refusal(&r), "{who}: {r:?}");
        assert_eq!(
            h.svc.hash_stats().computed - before,
            1,
            "{who}: exactly one argon2 computation"
        );
        let last = h
            .audit
            .events()
            .into_iter()
            .rev()
            .find(|e| matches!(e, AuditEvent::SignInRefused { .. }));
        assert!(
            matches!(last, Some(AuditEvent::SignInRefused { reason: r, .. }) if r == reason),
            "{who}: {last:?}"
        );
    }
}

#[tokio::test]
async fn a_self_service_request_never_revokes_a_password_even_in_revoke_mode() {
    let mut cfg = config();
    cfg.reset_mode = ResetMode::Revoke;
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), cfg);
    let u = h.create("Vic", Some("vic@example.com"), None).await;
    h.activate(&u, "vic@example.com", "copper lantern harbour").await;
    h.clock.advance(TimeDelta::minutes(2));
    // Anyone who knows the email can ask; the owner keeps the password.
    h.svc.request_pin("vic@example.com").await.unwrap().finished().await;
    let user = h.svc.user(&u.id).await.unwrap();
    assert_eq!((user.state, user.credential_version), (AccountState::ResetRequired, 1));
    assert!(user.password_hash.is_some());
    assert!(h.audit.events().contains(&AuditEvent::ResetStarted {
        user: u.id.clone(),
        password_revoked: false
    }));
    // The PIN from the request works (it was not the owner who asked, or
    // it was and they forgot the password) ...
    assert!(pin_accepted(&h.login("vic@example.com", &h.pin(&u)).await));
    // ... and so does the password, which ends the reset the request began.
    assert!(signed_in(&h.login("vic@example.com", "copper lantern harbour").await));
    assert_eq!(h.svc.user(&u.id).await.unwrap().state, AccountState::Active);
    // Staff revoking is still a revocation.
    h.clock.advance(TimeDelta::minutes(2));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    assert!(is_refusal(&h.login("vic@example.com", "copper lantern harbour").await));
    assert_eq!(h.svc.user(&u.id).await.unwrap().credential_version, 2);
}

#[tokio::test]
async fn self_service_requests_cannot_use_up_the_staff_sends() {
    let h = h();
    let cfg = h.svc.config().clone();
    assert_eq!((cfg.daily_send_cap, cfg.self_service_daily_cap), (10, 5));
    let u = h.create("Wyn", Some("wyn@example.com"), None).await; // send 1 of 10
    for _ in 0..10 {
        h.clock.advance(TimeDelta::seconds(61));
        h.svc.request_pin("wyn@example.com").await.unwrap().finished().await;
    }
    // The creation and four requests reached the self-service budget of 5.
    assert_eq!(h.outbox.messages().len(), 5);
    let throttled = h
        .audit
        .events()
        .iter()
        .filter(|e| matches!(e, AuditEvent::Throttled { .. }))
        .count();
    assert_eq!(throttled, 6);
    // Staff still have the other five.
    for _ in 0..5 {
        h.clock.advance(TimeDelta::seconds(61));
        h.svc
            .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
            .await
            .unwrap();
    }
    h.clock.advance(TimeDelta::seconds(61));
    assert!(matches!(
        h.svc.resend_activation(&u.id, ChannelChoice::Preferred, &staff()).await,
        Err(Error::Throttled { .. })
    ));
    assert_eq!(h.outbox.messages().len(), 10);
}

#[tokio::test]
async fn self_service_request_answers_alike_and_sends_only_on_record() {
    let h = h();
    let u = h.create("Xan", Some("xan@example.com"), None).await;
    h.clock.advance(TimeDelta::minutes(2));
    let known = h.svc.request_pin("XAN@example.com").await.unwrap();
    let unknown = h.svc.request_pin("ghost@example.com").await.unwrap();
    known.finished().await;
    unknown.finished().await;
    let msgs = h.outbox.messages();
    assert_eq!(msgs.len(), 2, "the creation PIN and the requested one");
    assert_eq!(msgs[1].channel.address(), "xan@example.com");
    assert!(h.audit.events().contains(&AuditEvent::RequestIgnored { user: None }));
    // throttled like a staff re-send
    h.svc.request_pin("xan@example.com").await.unwrap().finished().await;
    assert_eq!(h.outbox.messages().len(), 2);
    assert!(matches!(
        h.svc.request_pin("not an identifier").await,
        Err(Error::InvalidInput(_))
    ));
    assert!(pin_accepted(&h.login("xan@example.com", &h.pin(&u)).await));
}

#[tokio::test]
async fn create_user_checks_input_and_accepts_portal_ids() {
    let h = h();
    let created = h
        .svc
        .create_user(
            NewUser::new("  Yara  ")
                .id("portal-77")
                .email(" YARA@example.com ")
                .role("staff".parse().unwrap()),
            Some(&staff()),
        )
        .await
        .unwrap();
    assert_eq!(created.user.id.as_str(), "portal-77");
    assert_eq!(created.user.display_name, "Yara");
    assert!(matches!(
        h.svc.create_user(NewUser::new("Dup").id("portal-77"), None).await,
        Err(Error::Duplicate("id"))
    ));
    for bad in [
        NewUser::new(""),
        NewUser::new("Z").email("nope"),
        NewUser::new("Z").phone("12345"),
        NewUser::new("Z").id("bad id"),
    ] {
        assert!(matches!(
            h.svc.create_user(bad, None).await,
            Err(Error::InvalidInput(_))
        ));
    }
    // blank contact fields from a CSV count as absent
    let blank = h
        .svc
        .create_user(NewUser::new("Zed").email("  ").phone(""), None)
        .await
        .unwrap();
    assert!(matches!(blank.activation, FirstActivation::NoContact));
    assert!(h.audit.events().contains(&AuditEvent::UserCreated {
        user: created.user.id.clone(),
        by: Some(staff())
    }));
}

#[tokio::test]
async fn passwords_are_rehashed_when_parameters_change() {
    let users = InMemoryUserStore::new();
    let pins = InMemoryPinStore::new();
    let old = harness(users.clone(), pins.clone(), config());
    let u = old.create("Ada", Some("ada@example.com"), None).await;
    old.activate(&u, "ada@example.com", "lovelace engine notes").await;
    let before = old.svc.user(&u.id).await.unwrap().password_hash.unwrap();

    let mut cfg = config();
    cfg.hashing.preset = HashPreset::Custom {
        m_kib: 7168,
        t: 5,
        p: 1,
    };
    let pepper = Pepper::new("k1", [5u8; 32]).unwrap();
    let new = harness_with(users, pins, cfg, |b| b.keyring(Keyring::with_current(pepper)));
    assert!(signed_in(&new.login("ada@example.com", "lovelace engine notes").await));
    let after = new.svc.user(&u.id).await.unwrap().password_hash.unwrap();
    assert_ne!(before, after);
    assert!(after.contains("m=7168,t=5") && after.contains("keyid="), "{after}");
    assert!(
        new.audit
            .events()
            .contains(&AuditEvent::PasswordRehashed { user: u.id.clone() })
    );
    let computed = new.svc.hash_stats().computed;
    assert!(signed_in(&new.login("ada@example.com", "lovelace engine notes").await));
    assert_eq!(new.svc.hash_stats().computed - computed, 1, "no second rehash");
    assert_eq!(
        new.svc.user(&u.id).await.unwrap().credential_version,
        1,
        "a rehash ends no session"
    );
}

/// A pepper key retired from the keyring while hashes still use it: the
/// operator's mistake must not tell callers which accounts exist.
#[tokio::test]
async fn a_hash_whose_pepper_left_the_keyring_is_refused_like_a_wrong_secret() {
    let (users, pins) = (InMemoryUserStore::new(), InMemoryPinStore::new());
    let pepper = || Pepper::new("k1", [7u8; 32]).unwrap();
    let old = harness_with(users.clone(), pins.clone(), config(), |b| {
        b.keyring(Keyring::with_current(pepper()))
    });
    let ada = old.create("Ada", Some("ada@example.com"), None).await;
    old.activate(&ada, "ada@example.com", "lovelace engine notes").await;
    let bea = old.create("Bea", Some("bea@example.com"), None).await;
    let bea_pin = old.pin(&bea);

    let new = h_over(users, pins);
    for (who, login, secret, reason) in [
        (
            "password",
            "ada@example.com",
            "lovelace engine notes",
            RefusalReason::UnverifiableHash,
        ),
        (
            "PIN",
            "bea@example.com",
            bea_pin.as_str(),
            RefusalReason::UnverifiableHash,
        ),
        (
            "unknown",
            "nobody@example.com",
            "lovelace engine notes",
            RefusalReason::UnknownUser,
        ),
    ] {
        let before = new.svc.hash_stats().computed;
        let r = new.login(login, secret).await;
        assert!(matches!(r, Err(Error::InvalidCredentials)), "{who}: {r:?}");
        assert_eq!(new.svc.hash_stats().computed - before, 1, "{who}: one computation");
        assert!(
            new.audit
                .events()
                .iter()
                .any(|e| matches!(e, AuditEvent::SignInRefused { reason: r, .. } if *r == reason)),
            "{who}"
        );
    }
}

fn h_over(users: InMemoryUserStore, pins: InMemoryPinStore) -> H {
    harness(users, pins, config())
}

#[tokio::test]
async fn passwords_are_nfkc_normalized() {
    let h = h();
    let u = h.create("Ben", Some("ben@example.com"), None).await;
    h.activate(&u, "ben@example.com", "ｆｕｌｌｗｉｄｔｈ phrase").await;
    assert!(signed_in(&h.login("ben@example.com", "fullwidth phrase").await));
}

#[tokio::test]
async fn invalid_configs_are_refused_at_build() {
    let mut cfg = config();
    cfg.max_attempts = 0;
    let r = pin_activation::ActivationService::builder(
        InMemoryUserStore::new(),
        InMemoryPinStore::new(),
        pin_activation::OutboxNotifier::new_ok(),
    )
    .config(cfg)
    .build();
    assert!(matches!(r, Err(Error::Config(c)) if c.field == "max_attempts"));
    let mut cfg = config();
    cfg.messages.templates.email_body = "no pin here".into();
    let r = pin_activation::ActivationService::builder(
        InMemoryUserStore::new(),
        InMemoryPinStore::new(),
        pin_activation::OutboxNotifier::new_ok(),
    )
    .config(cfg)
    .build();
    assert!(matches!(r, Err(Error::Config(_))));
}
