//! The failure cases of `docs/cases.md`, generic over the stores so
//! every adapter runs them. Each function takes fresh, empty stores.

use chrono::TimeDelta;
use pin_activation::{
    ActivationStatus, ChannelChoice, Error, Password, PasswordRejection, PinStore, SignIn, UserStore,
};

use super::{Harness, ScriptedDigits, config, harness, harness_with, is_refusal, pin_accepted, signed_in, staff};

/// C01: 50 concurrent wrong guesses get at most `max_attempts` checks.
pub async fn case_c01<U: UserStore, P: PinStore>(users: U, pins: P) {
    let mut cfg = config();
    cfg.max_attempts = 5;
    let h = harness(users, pins, cfg);
    let bob = h.create("Bob", Some("bob@example.com"), None).await;
    let pin = h.pin(&bob);
    let before = h.svc.hash_stats();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let svc = h.svc.clone();
        let guess = Harness::<U, P>::wrong(&pin, i);
        tasks.push(tokio::spawn(async move {
            svc.login("bob@example.com", &Password::new(guess)).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert!(is_refusal(&r), "every wrong guess gets the same refusal: {r:?}");
    }
    let after = h.svc.hash_stats();
    assert!(
        after.verified - before.verified <= 5,
        "{} PIN checks ran",
        after.verified - before.verified
    );
    assert_eq!(after.verified - before.verified, 5, "exactly the 5 allowed checks ran");
    assert_eq!(h.attempts(&bob).await, Some(5));
    assert_eq!(
        h.svc.activation_status(&bob.id).await.unwrap().status,
        ActivationStatus::PinExhausted
    );
    assert!(
        is_refusal(&h.login("bob@example.com", &pin).await),
        "the right PIN is refused once the PIN is dead"
    );
}

/// C02: 20 concurrent sign-ins with the right PIN leave one usable ticket,
/// and completing with all of them sets exactly one password.
pub async fn case_c02<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let dana = h.create("Dana", Some("dana@example.com"), None).await;
    let pin = h.pin(&dana);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let svc = h.svc.clone();
        let pin = pin.clone();
        tasks.push(tokio::spawn(async move {
            svc.login("dana@example.com", &Password::new(pin)).await
        }));
    }
    let mut tickets = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(SignIn::ResetRequired { ticket, .. }) => tickets.push(ticket),
            Err(Error::InvalidCredentials) => {} // refused while 5 checks were in flight
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(!tickets.is_empty(), "at least one sign-in got a ticket");
    // One live ticket per user: probed with a weak password (which leaves a
    // live ticket usable), exactly one is accepted as a ticket.
    let mut live = 0;
    for ticket in &tickets {
        match h.svc.complete_reset(&dana.id, ticket, &Password::new("password")).await {
            Err(Error::WeakPassword(_)) => live += 1,
            Err(Error::InvalidTicket) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(live, 1, "of {} tickets handed out, exactly one is live", tickets.len());
    let mut tasks = Vec::new();
    for (i, ticket) in tickets.into_iter().enumerate() {
        let svc = h.svc.clone();
        let id = dana.id.clone();
        tasks.push(tokio::spawn(async move {
            let pw = format!("river stone lamp {i}");
            svc.complete_reset(&id, &ticket, &Password::new(pw.clone()))
                .await
                .map(|_| pw)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(pw) => winners.push(pw),
            Err(Error::InvalidTicket) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one ticket was usable: {winners:?}");
    assert!(signed_in(&h.login("dana@example.com", &winners[0]).await));
    let user = h.svc.user(&dana.id).await.unwrap();
    assert_eq!(user.credential_version, 1, "exactly one password was set");
}

/// C03: the limit is exact.
pub async fn case_c03<U: UserStore, P: PinStore>(users: U, pins: P) {
    let mut cfg = config();
    cfg.max_attempts = 3;
    let h = harness(users, pins, cfg);
    let a = h.create("Ann", Some("ann@example.com"), None).await;
    let pin = h.pin(&a);
    for i in 0..3 {
        assert!(is_refusal(
            &h.login("ann@example.com", &Harness::<U, P>::wrong(&pin, i)).await
        ));
    }
    assert!(
        is_refusal(&h.login("ann@example.com", &pin).await),
        "three wrong, then right: refused"
    );

    let b = h.create("Ben", Some("ben@example.com"), None).await;
    let pin = h.pin(&b);
    for i in 0..2 {
        assert!(is_refusal(
            &h.login("ben@example.com", &Harness::<U, P>::wrong(&pin, i)).await
        ));
    }
    assert!(
        pin_accepted(&h.login("ben@example.com", &pin).await),
        "two wrong, then right: accepted"
    );
}

/// C04: re-sends never wipe the account's failure history.
pub async fn case_c04<U: UserStore, P: PinStore>(users: U, pins: P) {
    let mut cfg = config();
    cfg.max_attempts = 5;
    cfg.max_account_failures = 20;
    let h = harness(users, pins, cfg);
    let u = h.create("Cleo", Some("cleo@example.com"), None).await;
    // a success resets the count
    let pin = h.pin(&u);
    for i in 0..3 {
        assert!(is_refusal(
            &h.login("cleo@example.com", &Harness::<U, P>::wrong(&pin, i)).await
        ));
    }
    assert_eq!(h.failures(&u).await, 3);
    assert!(pin_accepted(&h.login("cleo@example.com", &pin).await));
    assert_eq!(h.failures(&u).await, 0, "a successful sign-in clears the count");

    let mut expected = 0;
    for round in 0..5 {
        h.clock.advance(TimeDelta::seconds(61));
        h.svc
            .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
            .await
            .unwrap();
        let pin = h.pin(&u);
        for i in 0..4 {
            assert!(is_refusal(
                &h.login("cleo@example.com", &Harness::<U, P>::wrong(&pin, i)).await
            ));
        }
        expected += 4;
        assert_eq!(
            h.failures(&u).await,
            expected,
            "round {round}: the count keeps growing across re-sends"
        );
    }
    assert_eq!(
        h.svc.activation_status(&u.id).await.unwrap().status,
        ActivationStatus::Locked { failures: 20 }
    );
    h.clock.advance(TimeDelta::seconds(61));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    let pin = h.pin(&u);
    let before = h.svc.hash_stats().verified;
    assert!(
        is_refusal(&h.login("cleo@example.com", &pin).await),
        "locked: even the right PIN is refused"
    );
    assert_eq!(
        h.svc.hash_stats().verified,
        before,
        "a locked account's PIN is not even checked"
    );
    assert_eq!(h.failures(&u).await, 20, "a re-send does not unlock");
    h.svc.unlock(&u.id, &staff()).await.unwrap();
    assert_eq!(h.failures(&u).await, 0);
    assert!(
        pin_accepted(&h.login("cleo@example.com", &pin).await),
        "after a staff unlock the PIN works"
    );
}

/// C05: a re-send kills the old PIN.
pub async fn case_c05<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let erin = h.create("Erin", Some("erin@example.com"), None).await;
    let pin1 = h.pin(&erin);
    h.clock.advance(TimeDelta::minutes(1));
    h.svc
        .resend_activation(&erin.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    let pin2 = h.pin(&erin);
    assert_ne!(pin1, pin2);
    assert!(
        is_refusal(&h.login("erin@example.com", &pin1).await),
        "PIN1 after the re-send"
    );
    assert!(pin_accepted(&h.login("erin@example.com", &pin2).await), "PIN2");
    assert!(is_refusal(&h.login("erin@example.com", &pin1).await), "PIN1 again");
}

/// C06: one ticket, two racing password changes: exactly one wins.
pub async fn case_c06<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Finn", Some("finn@example.com"), None).await;
    let ticket = h.ticket("finn@example.com", &h.pin(&u)).await;
    let (a, b) = ("amber falcon orbit", "cobalt meadow tune");
    let (svc1, svc2) = (h.svc.clone(), h.svc.clone());
    let (t1, t2) = (ticket.clone(), ticket);
    let (id1, id2) = (u.id.clone(), u.id.clone());
    let r1 = tokio::spawn(async move { svc1.complete_reset(&id1, &t1, &Password::new(a)).await });
    let r2 = tokio::spawn(async move { svc2.complete_reset(&id2, &t2, &Password::new(b)).await });
    let (r1, r2) = (r1.await.unwrap(), r2.await.unwrap());
    assert_eq!(u8::from(r1.is_ok()) + u8::from(r2.is_ok()), 1, "{r1:?} {r2:?}");
    let (winner, loser) = if r1.is_ok() { (a, b) } else { (b, a) };
    assert!(matches!(if r1.is_ok() { &r2 } else { &r1 }, Err(Error::InvalidTicket)));
    assert!(signed_in(&h.login("finn@example.com", winner).await));
    assert!(is_refusal(&h.login("finn@example.com", loser).await));
}

/// C07: a PIN does not replay after activation.
pub async fn case_c07<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Gina", Some("gina@example.com"), None).await;
    let pin = h.pin(&u);
    h.activate(&u, "gina@example.com", "violet harbor seven").await;
    assert!(
        is_refusal(&h.login("gina@example.com", &pin).await),
        "the PIN after activation"
    );
    assert!(signed_in(&h.login("gina@example.com", "violet harbor seven").await));
    assert_eq!(
        h.svc.activation_status(&u.id).await.unwrap().status,
        ActivationStatus::Active
    );
}

/// C08 (and C09's body): expiry at exactly `expires_at`, no grace. Returns
/// the instant stored and the message text for C09.
pub async fn case_c08<U: UserStore, P: PinStore>(users: U, pins: P) -> (chrono::DateTime<chrono::Utc>, String) {
    let mut cfg = config();
    cfg.activation_ttl = std::time::Duration::from_secs(15 * 60);
    let h = harness(users, pins, cfg);
    let u = h.create("Hugo", Some("hugo@example.com"), None).await;
    let pin = h.pin(&u);
    let message = h.outbox.last_for(&u.id).unwrap();
    assert_eq!(message.expires_at, super::t0() + TimeDelta::minutes(15));
    h.clock.advance(TimeDelta::minutes(14) + TimeDelta::seconds(59));
    assert!(
        pin_accepted(&h.login("hugo@example.com", &pin).await),
        "+14:59 accepted"
    );
    h.clock.advance(TimeDelta::seconds(1));
    assert!(is_refusal(&h.login("hugo@example.com", &pin).await), "+15:00 refused");
    h.clock.advance(TimeDelta::seconds(1));
    assert!(is_refusal(&h.login("hugo@example.com", &pin).await), "+15:01 refused");
    let stored = h.svc.pin_store().snapshot(&u.id).await.unwrap().pin.unwrap().expires_at;
    assert_eq!(stored, message.expires_at);
    (stored, message.body().expose_secret().to_owned())
}

/// C10: an upper-case email from a bulk import.
pub async fn case_c10<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Alice Smith", Some("Alice.Smith@Example.COM"), None).await;
    assert_eq!(u.email.as_ref().unwrap().as_str(), "alice.smith@example.com");
    assert!(pin_accepted(&h.login("alice.smith@example.com", &h.pin(&u)).await));
    let dup = h
        .svc
        .create_user(
            pin_activation::NewUser::new("Alice again").email("alice.smith@example.com"),
            None,
        )
        .await;
    assert!(matches!(dup, Err(Error::Duplicate("email"))), "{dup:?}");
}

/// C11: phone formats normalize through one function.
pub async fn case_c11<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Ivan", None, Some("+1 (312) 555-0123")).await;
    assert_eq!(u.phone.as_ref().unwrap().as_str(), "+13125550123");
    let pin = h.pin(&u);
    for form in ["+13125550123", "+1 312 555 0123", "(312) 555-0123", "312.555.0123"] {
        assert!(pin_accepted(&h.login(form, &pin).await), "{form}");
    }
    assert!(is_refusal(&h.login("+1 312 555 0124", &pin).await));
    let found = h.svc.find_user("312.555.0123").await.unwrap().map(|u| u.id);
    assert_eq!(found, Some(u.id.clone()));
}

/// C12: leading zeros survive everywhere; near-misses are refused.
pub async fn case_c12<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness_with(users, pins, config(), |b| b.pin_rng(ScriptedDigits::new(&["004271"])));
    let u = h.create("Jo", Some("jo@example.com"), None).await;
    let message = h.outbox.last_for(&u.id).unwrap();
    assert_eq!(message.pin().expose_secret(), "004271");
    assert!(
        message
            .body()
            .expose_secret()
            .contains("Your one-time PIN is: 004271\n")
    );
    let before = h.svc.hash_stats();
    for near_miss in [
        "4271",
        "04271",
        "\u{ff10}\u{ff10}\u{ff14}\u{ff12}\u{ff17}\u{ff11}", // fullwidth 004271
        "\u{660}\u{660}\u{664}\u{662}\u{667}\u{661}",       // Arabic-Indic 004271
    ] {
        assert!(is_refusal(&h.login("jo@example.com", near_miss).await), "{near_miss:?}");
    }
    assert_eq!(
        h.svc.hash_stats().computed,
        before.computed,
        "near-misses never reach argon2"
    );
    assert_eq!(
        h.attempts(&u).await,
        Some(0),
        "and never count as attempts (documented in `pin`)"
    );
    assert!(pin_accepted(&h.login("jo@example.com", "004271").await));
    assert!(
        pin_accepted(&h.login("jo@example.com", " 004-271 ").await),
        "spaces and dashes are accepted"
    );
}

/// C13 (service half): a fresh PIN never equals the previous one, even when
/// the RNG draws it again: neither the live PIN it replaces nor, after a
/// completed reset, the PIN that reset consumed.
pub async fn case_c13_fresh_pin<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness_with(users, pins, config(), |b| {
        b.pin_rng(ScriptedDigits::new(&["728639", "728639", "004271", "004271", "385920"]))
    });
    let u = h.create("Kai", Some("kai@example.com"), None).await;
    assert_eq!(h.pin(&u), "728639");
    h.clock.advance(TimeDelta::minutes(2));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    assert_eq!(h.pin(&u), "004271", "the repeated draw was thrown away");

    // After the PIN is gone (the reset completed), the lost-password PIN
    // still never repeats it: the script draws 004271 once more.
    h.activate(&u, "kai@example.com", "kite over the harbour").await;
    assert!(h.svc.pin_store().snapshot(&u.id).await.unwrap().pin.is_none());
    h.clock.advance(TimeDelta::minutes(2));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    assert_eq!(h.pin(&u), "385920", "the consumed PIN was not drawn again");
}

/// C14: the policy applies at the forced change.
pub async fn case_c14<U: UserStore, P: PinStore>(users: U, pins: P) {
    let mut cfg = config();
    cfg.password.min_length = 12;
    cfg.password.blocklist = true;
    let h = harness(users, pins, cfg);
    let u = h.create("Lena Park", Some("lena.park@example.com"), None).await;
    let pin = h.pin(&u);
    let ticket = h.ticket("lena.park@example.com", &pin).await;
    let refused: [(&str, PasswordRejection); 5] = [
        ("password", PasswordRejection::TooShort { min: 12 }),
        ("Summer2024", PasswordRejection::TooShort { min: 12 }),
        ("lena.park@example.com", PasswordRejection::ContainsIdentifier),
        (&pin, PasswordRejection::TooShort { min: 12 }),
        ("abcdefghijk", PasswordRejection::TooShort { min: 12 }),
    ];
    for (pw, reason) in refused {
        match h.svc.complete_reset(&u.id, &ticket, &Password::new(pw)).await {
            Err(Error::WeakPassword(r)) => assert_eq!(r, reason, "{pw}"),
            other => panic!("{pw}: {other:?}"),
        }
    }
    // the blocklist at this length
    match h
        .svc
        .complete_reset(&u.id, &ticket, &Password::new("passwordpassword"))
        .await
    {
        Err(Error::WeakPassword(PasswordRejection::Common)) => {}
        other => panic!("{other:?}"),
    }
    let cjk = "秘密の合言葉🔑🌏山川海空星";
    assert_eq!(cjk.chars().count(), 13);
    h.svc.complete_reset(&u.id, &ticket, &Password::new(cjk)).await.unwrap();
    assert!(signed_in(&h.login("lena.park@example.com", cjk).await));
}

/// C15: no way to the password step without a valid ticket.
pub async fn case_c15<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let jack = h.create("Jack", Some("jack@example.com"), None).await;
    let kim = h.create("Kim", Some("kim@example.com"), None).await;
    let pw = Password::new("silver canyon drift");
    let random = pin_activation::ResetTicket::new("ab".repeat(32));
    let garbage = pin_activation::ResetTicket::new("not a ticket");
    let jacks = h.ticket("jack@example.com", &h.pin(&jack)).await;
    for (who, ticket) in [(&jack.id, &random), (&jack.id, &garbage), (&kim.id, &jacks)] {
        let r = h.svc.complete_reset(who, ticket, &pw).await;
        assert!(matches!(r, Err(Error::InvalidTicket)), "{r:?}");
    }
    let kim_now = h.svc.user(&kim.id).await.unwrap();
    assert_eq!(
        (kim_now.state, kim_now.credential_version),
        (pin_activation::AccountState::Pending, 0)
    );
    // Trying Jack's ticket on Kim did not spend it: it is still Jack's (a
    // weak password is refused by the policy, which only a live ticket
    // reaches).
    assert!(matches!(
        h.svc.complete_reset(&jack.id, &jacks, &Password::new("password")).await,
        Err(Error::WeakPassword(_))
    ));
    // expired
    h.clock.advance(TimeDelta::minutes(15));
    assert!(matches!(
        h.svc.complete_reset(&jack.id, &jacks, &pw).await,
        Err(Error::InvalidTicket)
    ));
    // a fresh one works once, then is used
    let fresh = h.ticket("jack@example.com", &h.pin(&jack)).await;
    h.svc.complete_reset(&jack.id, &fresh, &pw).await.unwrap();
    assert!(matches!(
        h.svc
            .complete_reset(&jack.id, &fresh, &Password::new("other long phrase"))
            .await,
        Err(Error::InvalidTicket)
    ));
    assert!(signed_in(&h.login("jack@example.com", "silver canyon drift").await));
    assert_eq!(
        h.svc.user(&jack.id).await.unwrap().credential_version,
        1,
        "nothing else changed"
    );
}

/// C16: a PIN is checked against its own user only.
pub async fn case_c16<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness_with(users, pins, config(), |b| {
        b.pin_rng(ScriptedDigits::new(&["771204", "385920"]))
    });
    let jack = h.create("Jack", Some("jack@example.com"), None).await;
    let kim = h.create("Kim", Some("kim@example.com"), None).await;
    assert_eq!(h.pin(&jack), "771204");
    assert_ne!(h.pin(&kim), "771204");
    assert!(is_refusal(&h.login("kim@example.com", "771204").await));
    assert_eq!(
        (h.attempts(&kim).await, h.failures(&kim).await),
        (Some(1), 1),
        "a failure for kim"
    );
    assert_eq!(
        (h.attempts(&jack).await, h.failures(&jack).await),
        (Some(0), 0),
        "nothing for jack"
    );
}

/// C17: blank and malformed secrets never reach argon2 and never panic.
pub async fn case_c17<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h.create("Liv", Some("liv@example.com"), None).await;
    h.activate(&u, "liv@example.com", "quiet lantern field").await;
    let before = h.svc.hash_stats();
    let big = "7".repeat(1 << 20);
    for secret in ["", "      ", "12345", "1234567", "12a456", "12345\0", big.as_str()] {
        assert!(
            is_refusal(&h.login("liv@example.com", secret).await),
            "{:?}",
            &secret[..secret.len().min(10)]
        );
    }
    assert_eq!(
        h.svc.hash_stats().computed,
        before.computed,
        "no hash for malformed secrets"
    );
    // a PIN-shaped guess for an active user with no live PIN costs one (dummy) hash
    assert!(is_refusal(&h.login("liv@example.com", "123987").await));
    assert_eq!(h.svc.hash_stats().computed, before.computed + 1);
    let big_id = "a".repeat(1 << 20);
    assert!(is_refusal(&h.login(&big_id, "quiet lantern field").await));
}

/// C04, "a successful sign-in resets it", for a right password too: during
/// a lost-password reset (keep mode) the owner's password sign-in clears
/// the PIN failures an attacker built up, and ends the reset (its PIN dies,
/// the account is `Active` again), whoever asked for it, an anonymous
/// `request_pin` included.
pub async fn case_c04_password_sign_in_ends_a_pending_reset<U: UserStore, P: PinStore>(users: U, pins: P) {
    use pin_activation::{AccountState, AuditEvent};
    let h = harness(users, pins, config());
    let u = h.create("Remy", Some("remy@example.com"), None).await;
    h.activate(&u, "remy@example.com", "quiet river lantern").await;
    h.clock.advance(TimeDelta::seconds(61));
    h.svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &staff())
        .await
        .unwrap();
    let reset_pin = h.pin(&u);
    for i in 0..4 {
        assert!(is_refusal(
            &h.login("remy@example.com", &Harness::<U, P>::wrong(&reset_pin, i))
                .await
        ));
    }
    assert_eq!(h.failures(&u).await, 4);
    assert!(signed_in(&h.login("remy@example.com", "quiet river lantern").await));
    assert_eq!(h.failures(&u).await, 0, "a right password clears the PIN failures");
    assert_eq!(h.svc.user(&u.id).await.unwrap().state, AccountState::Active);
    assert_eq!(
        h.svc.activation_status(&u.id).await.unwrap().status,
        ActivationStatus::Active
    );
    assert!(h.svc.pin_store().snapshot(&u.id).await.unwrap().pin.is_none());
    assert!(
        is_refusal(&h.login("remy@example.com", &reset_pin).await),
        "the reset's PIN died with it"
    );
    assert!(
        h.audit
            .events()
            .contains(&AuditEvent::ResetCancelled { user: u.id.clone() })
    );
    // the version stays: the password did not change, sessions live on
    assert_eq!(h.svc.user(&u.id).await.unwrap().credential_version, 1);

    // anyone's "forgot password" parks the account only until the owner signs in
    h.clock.advance(TimeDelta::seconds(61));
    h.svc.request_pin("remy@example.com").await.unwrap().finished().await;
    assert_eq!(h.svc.user(&u.id).await.unwrap().state, AccountState::ResetRequired);
    let requested = h.pin(&u);
    assert_ne!(requested, reset_pin);
    assert!(signed_in(&h.login("remy@example.com", "quiet river lantern").await));
    assert_eq!(h.svc.user(&u.id).await.unwrap().state, AccountState::Active);
    assert!(is_refusal(&h.login("remy@example.com", &requested).await));
    // a plain sign-in of an active user changes nothing
    assert!(signed_in(&h.login("remy@example.com", "quiet river lantern").await));
    assert_eq!(
        h.audit
            .events()
            .iter()
            .filter(|e| matches!(e, AuditEvent::ResetCancelled { .. }))
            .count(),
        2
    );
}

/// C04's lock and self-service: a user whose PIN sign-in is locked gets no
/// PIN from an anonymous request (it could not work before a staff unlock,
/// and each one would spend an SMS); after the unlock the request sends.
pub async fn case_c04_locked_account_gets_no_self_service_pin<U: UserStore, P: PinStore>(users: U, pins: P) {
    use pin_activation::AuditEvent;
    let mut cfg = config();
    cfg.max_account_failures = 3;
    let h = harness(users, pins, cfg);
    let u = h.create("Lena", Some("lena@example.com"), None).await;
    let pin = h.pin(&u);
    for i in 0..3 {
        assert!(is_refusal(
            &h.login("lena@example.com", &Harness::<U, P>::wrong(&pin, i)).await
        ));
    }
    assert_eq!(
        h.svc.activation_status(&u.id).await.unwrap().status,
        ActivationStatus::Locked { failures: 3 }
    );
    let sent = h.outbox.messages().len();
    h.clock.advance(TimeDelta::seconds(61));
    h.svc.request_pin("lena@example.com").await.unwrap().finished().await;
    assert_eq!(h.outbox.messages().len(), sent, "no PIN for a locked account");
    assert_eq!(
        h.audit.events().last(),
        Some(&AuditEvent::RequestIgnored {
            user: Some(u.id.clone())
        })
    );
    h.svc.unlock(&u.id, &staff()).await.unwrap();
    h.svc.request_pin("lena@example.com").await.unwrap().finished().await;
    assert_eq!(h.outbox.messages().len(), sent + 1, "unlocked: the request sends");
    assert!(pin_accepted(&h.login("lena@example.com", &h.pin(&u)).await));
}

/// C08 with an issue time that is not a whole second: the stored expiry is
/// a whole second (the message shows exactly it) rounded up, so the PIN
/// lives at least its TTL, and is refused from that instant on.
pub async fn case_c08_pin_lives_its_full_ttl<U: UserStore, P: PinStore>(users: U, pins: P) {
    let mut cfg = config();
    cfg.activation_ttl = std::time::Duration::from_secs(15 * 60);
    let h = harness(users, pins, cfg);
    let issued = super::t0() + TimeDelta::milliseconds(900);
    h.clock.set(issued);
    let u = h.create("Ines", Some("ines@example.com"), None).await;
    let pin = h.pin(&u);
    let message = h.outbox.last_for(&u.id).unwrap();
    assert_eq!(
        message.expires_at,
        super::t0() + TimeDelta::minutes(15) + TimeDelta::seconds(1)
    );
    let stored = h.svc.pin_store().snapshot(&u.id).await.unwrap().pin.unwrap().expires_at;
    assert_eq!(stored, message.expires_at);
    h.clock
        .set(issued + TimeDelta::minutes(15) - TimeDelta::milliseconds(500));
    assert!(
        pin_accepted(&h.login("ines@example.com", &pin).await),
        "half a second before the TTL is up"
    );
    h.clock.set(message.expires_at - TimeDelta::microseconds(1));
    assert!(
        pin_accepted(&h.login("ines@example.com", &pin).await),
        "until the instant shown"
    );
    h.clock.set(message.expires_at);
    assert!(
        is_refusal(&h.login("ines@example.com", &pin).await),
        "from the instant shown"
    );
}

/// C10's kind: other spellings of one mailbox never open a second account.
/// A punycode domain is the same address; a quoted local part is refused.
pub async fn case_c10_one_mailbox_one_account<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    h.create("Alice", Some("alice2@bücher.example"), None).await;
    let again = |email: &'static str| {
        h.svc
            .create_user(pin_activation::NewUser::new("Again").email(email), None)
    };
    assert!(matches!(
        again("ALICE2@xn--bcher-kva.example").await,
        Err(Error::Duplicate("email"))
    ));
    assert!(matches!(
        again("\"alice2\"@bücher.example").await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        again("alice2(home)@bücher.example").await,
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(h.svc.list_users().await.unwrap().len(), 1);
}

/// C14's "not the identifier" in every spelling that signs in: the phone as
/// people type it, the email with its punycode domain. Each is refused with
/// its reason and the ticket stays usable.
pub async fn case_c14_identifier_in_any_spelling<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let u = h
        .create("Bo", Some("bo@bücher.example"), Some("+1 (312) 555-0123"))
        .await;
    let ticket = h.ticket("bo@bücher.example", &h.pin(&u)).await;
    for spelling in [
        "(312) 555-0123",
        "312.555.0123",
        "312-555-0123",
        "+1 312 555 0123",
        "bo@xn--bcher-kva.example",
        "BO@BÜCHER.EXAMPLE",
    ] {
        let r = h.svc.complete_reset(&u.id, &ticket, &Password::new(spelling)).await;
        assert!(
            matches!(r, Err(Error::WeakPassword(PasswordRejection::ContainsIdentifier))),
            "{spelling}: {r:?}"
        );
    }
    h.svc
        .complete_reset(&u.id, &ticket, &Password::new("copper kettle meadow"))
        .await
        .unwrap();
}
