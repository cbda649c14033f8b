//! Conformance suite for [`UserStore`] and [`PinStore`] adapters (feature
//! `testing`).
//!
//! A portal that keeps users in its own database implements the two traits
//! and runs this suite from one of its tests, on a multi-thread runtime, with
//! fresh empty stores:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn my_store_keeps_the_contract() {
//!     let (users, pins) = my_fresh_stores().await;
//!     pin_activation::testing::run_all(Arc::new(users), Arc::new(pins)).await;
//! }
//! ```
//!
//! Every check panics with a message naming the broken promise. The
//! concurrency checks spawn tasks, so an adapter that reads, changes and
//! writes back in separate steps fails them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::identity::{Email, Login, Phone, Region, Role, UserId};
use crate::notify::{Channel, ChannelKind, DeliveryErrorKind, PinPurpose};
use crate::state::AccountState;
use crate::store::{
    AttemptLimits, AttemptReservation, DeliveryOutcome, DeliveryRecord, PinRecord, PinSnapshot, PinStore, SendLimits,
    SendReservation, StoreErrorKind, TicketRecord, User, UserStore,
};

/// A fixed instant with microseconds, which adapters must keep exactly.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 9, 30, 0).unwrap() + TimeDelta::microseconds(123_456)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &UserId::random().as_str()[2..14])
}

/// Area codes whose 555-01xx numbers (reserved for fiction) are valid.
const AREA_CODES: [u16; 10] = [312, 212, 213, 415, 617, 202, 305, 404, 503, 206];

/// A phone number no other call in this process got (1000 before any
/// repeats; random draws from 100 numbers collided in about one run in ten).
fn unique_phone() -> Phone {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % (AREA_CODES.len() * 100);
    let area = AREA_CODES[n / 100];
    Phone::parse(&format!("+1{area}555{:04}", 100 + n % 100), Region::US).unwrap()
}

/// A pending user with a unique id, email and phone.
pub fn sample_user(with_phone: bool) -> User {
    let tag = unique("");
    User {
        id: UserId::new(format!("conf-{tag}")).unwrap(),
        display_name: "Dana Conformance".into(),
        role: Role::Tenant,
        email: Some(Email::parse(&format!("dana.{tag}@example.com")).unwrap()),
        phone: with_phone.then(unique_phone),
        state: AccountState::Pending,
        password_hash: None,
        credential_version: 0,
        created_at: t0(),
    }
}

/// A PIN record for `user`, expiring at `t0 + 1h`.
pub fn sample_pin(user: &User) -> PinRecord {
    PinRecord {
        pin_id: unique("pin-"),
        hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
        purpose: PinPurpose::Activation,
        channel: Channel::Email(user.email.clone().unwrap()),
        issued_at: t0(),
        expires_at: t0() + TimeDelta::hours(1),
        attempts: 0,
        issued_by: None,
    }
}

fn ticket(user: &User, pin: &PinRecord, hash: &str) -> TicketRecord {
    TicketRecord {
        user_id: user.id.clone(),
        pin_id: pin.pin_id.clone(),
        hash: hash.to_owned(),
        expires_at: t0() + TimeDelta::minutes(15),
    }
}

const LIMITS: AttemptLimits = AttemptLimits {
    max_attempts: 5,
    max_account_failures: 20,
};

/// Runs every check of both traits.
pub async fn run_all<U: UserStore, P: PinStore>(users: Arc<U>, pins: Arc<P>) {
    user_store_basics(&*users).await;
    user_store_uniqueness(&*users).await;
    user_store_contact_updates(&*users).await;
    user_store_compare_and_set(&*users).await;
    user_store_races(Arc::clone(&users)).await;
    pin_store_pins_and_attempts(&*users, &*pins).await;
    pin_store_attempt_race(&*users, Arc::clone(&pins)).await;
    pin_store_tickets(&*users, &*pins).await;
    pin_store_ticket_race(&*users, Arc::clone(&pins)).await;
    pin_store_previous_hash(&*users, &*pins).await;
    pin_store_sends(&*users, Arc::clone(&pins)).await;
    pin_store_deliveries(&*users, &*pins).await;
}

async fn insert<U: UserStore>(users: &U, with_phone: bool) -> User {
    let u = sample_user(with_phone);
    users.insert(u.clone()).await.expect("insert a new user");
    u
}

/// Insert, get, find by either login, list.
pub async fn user_store_basics<U: UserStore>(users: &U) {
    let u = insert(users, true).await;
    let got = users.get(&u.id).await.unwrap().expect("get finds the inserted user");
    assert_eq!(
        got, u,
        "a user reads back exactly as inserted (instants to the microsecond)"
    );
    let by_email = users
        .find_by_login(&Login::Email(u.email.clone().unwrap()))
        .await
        .unwrap();
    assert_eq!(by_email.map(|x| x.id), Some(u.id.clone()), "find_by_login(email)");
    let by_phone = users
        .find_by_login(&Login::Phone(u.phone.clone().unwrap()))
        .await
        .unwrap();
    assert_eq!(by_phone.map(|x| x.id), Some(u.id.clone()), "find_by_login(phone)");
    assert!(users.get(&UserId::new("conf-nobody").unwrap()).await.unwrap().is_none());
    let nobody = Login::Email(Email::parse("nobody.conformance@example.com").unwrap());
    assert!(users.find_by_login(&nobody).await.unwrap().is_none());
    let list = users.list().await.unwrap();
    assert!(list.iter().any(|x| x.id == u.id), "list contains the user");
    // a user with no contact at all
    let mut bare = sample_user(false);
    bare.email = None;
    users
        .insert(bare.clone())
        .await
        .expect("a user without contact can be stored");
    assert_eq!(users.get(&bare.id).await.unwrap().unwrap().email, None);
}

/// Ids, emails and phones are unique.
pub async fn user_store_uniqueness<U: UserStore>(users: &U) {
    let u = insert(users, true).await;
    let mut same_id = sample_user(false);
    same_id.id = u.id.clone();
    let e = users
        .insert(same_id)
        .await
        .expect_err("a second user with the same id is refused");
    assert_eq!(e.kind(), StoreErrorKind::Conflict("id"));
    let mut same_email = sample_user(false);
    same_email.email = u.email.clone();
    let e = users
        .insert(same_email)
        .await
        .expect_err("a second user with the same email is refused");
    assert_eq!(e.kind(), StoreErrorKind::Conflict("email"));
    let mut same_phone = sample_user(false);
    same_phone.phone = u.phone.clone();
    let e = users
        .insert(same_phone)
        .await
        .expect_err("a second user with the same phone is refused");
    assert_eq!(e.kind(), StoreErrorKind::Conflict("phone"));
}

/// Contact updates move the login index and respect uniqueness.
pub async fn user_store_contact_updates<U: UserStore>(users: &U) {
    let a = insert(users, true).await;
    let b = insert(users, true).await;
    let new_email = Email::parse(&format!("{}@example.org", unique("moved."))).unwrap();
    let updated = users
        .update_contact(&a.id, Some(new_email.clone()), None)
        .await
        .expect("update_contact");
    assert_eq!(
        (updated.email.clone(), updated.phone.clone()),
        (Some(new_email.clone()), None)
    );
    assert!(
        users
            .find_by_login(&Login::Email(a.email.clone().unwrap()))
            .await
            .unwrap()
            .is_none(),
        "the old email no longer finds the user"
    );
    assert!(
        users
            .find_by_login(&Login::Phone(a.phone.clone().unwrap()))
            .await
            .unwrap()
            .is_none(),
        "the removed phone no longer finds the user"
    );
    assert_eq!(
        users
            .find_by_login(&Login::Email(new_email))
            .await
            .unwrap()
            .map(|u| u.id),
        Some(a.id.clone())
    );
    let e = users
        .update_contact(&a.id, b.email.clone(), None)
        .await
        .expect_err("taking another user's email is refused");
    assert_eq!(e.kind(), StoreErrorKind::Conflict("email"));
    let e = users
        .update_contact(&UserId::new("conf-ghost").unwrap(), None, None)
        .await
        .expect_err("unknown user");
    assert_eq!(e.kind(), StoreErrorKind::NotFound);
}

/// `transition`, `set_password` and `replace_password_hash` are compare-and-set.
pub async fn user_store_compare_and_set<U: UserStore>(users: &U) {
    let u = insert(users, false).await;
    assert!(
        !users
            .transition(&u.id, AccountState::Active, AccountState::ResetRequired, false)
            .await
            .unwrap(),
        "transition from a state the user is not in"
    );
    assert_eq!(
        users
            .set_password(&u.id, AccountState::Active, "h0".into())
            .await
            .unwrap(),
        None,
        "set_password from the wrong state"
    );
    assert_eq!(
        users
            .set_password(&u.id, AccountState::Pending, "h1".into())
            .await
            .unwrap(),
        Some(1)
    );
    let got = users.get(&u.id).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.password_hash.as_deref(), got.credential_version),
        (AccountState::Active, Some("h1"), 1)
    );
    assert!(
        !users.replace_password_hash(&u.id, "other", "h2".into()).await.unwrap(),
        "rehash with a stale old hash"
    );
    assert!(users.replace_password_hash(&u.id, "h1", "h2".into()).await.unwrap());
    assert_eq!(
        users.get(&u.id).await.unwrap().unwrap().credential_version,
        1,
        "a rehash keeps the credential version"
    );
    assert!(
        users
            .transition(&u.id, AccountState::Active, AccountState::ResetRequired, false)
            .await
            .unwrap()
    );
    let kept = users.get(&u.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.state, kept.password_hash.as_deref(), kept.credential_version),
        (AccountState::ResetRequired, Some("h2"), 1)
    );
    // An active account always has a password: a revoking move to Active
    // is refused; a keeping one (a right password ending the reset) works.
    assert!(
        !users
            .transition(&u.id, AccountState::ResetRequired, AccountState::Active, true)
            .await
            .unwrap(),
        "a move to Active that revokes the password"
    );
    assert_eq!(
        users.get(&u.id).await.unwrap().unwrap().state,
        AccountState::ResetRequired
    );
    assert!(
        users
            .transition(&u.id, AccountState::ResetRequired, AccountState::Active, false)
            .await
            .unwrap()
    );
    assert!(
        users
            .transition(&u.id, AccountState::Active, AccountState::ResetRequired, false)
            .await
            .unwrap()
    );
    assert!(
        users
            .transition(&u.id, AccountState::ResetRequired, AccountState::ResetRequired, true)
            .await
            .unwrap()
    );
    let revoked = users.get(&u.id).await.unwrap().unwrap();
    assert_eq!(
        (revoked.password_hash, revoked.credential_version),
        (None, 2),
        "revoking removes the hash and bumps the version"
    );
    assert!(
        !users
            .transition(&u.id, AccountState::ResetRequired, AccountState::Active, false)
            .await
            .unwrap(),
        "a move to Active without a password"
    );
    assert_eq!(
        users.get(&u.id).await.unwrap().unwrap().state,
        AccountState::ResetRequired
    );
    assert_eq!(
        users
            .set_password(&u.id, AccountState::ResetRequired, "h3".into())
            .await
            .unwrap(),
        Some(3)
    );
}

/// Racing inserts and password sets: exactly one wins.
pub async fn user_store_races<U: UserStore>(users: Arc<U>) {
    let template = sample_user(false);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let users = Arc::clone(&users);
        let mut u = template.clone();
        u.id = UserId::new(format!("{}-{i}", template.id)).unwrap();
        tasks.push(tokio::spawn(async move { users.insert(u).await.is_ok() }));
    }
    let mut inserted = 0;
    for t in tasks {
        inserted += usize::from(t.await.unwrap());
    }
    assert_eq!(inserted, 1, "16 racing inserts of one email: exactly one succeeds");

    let u = insert(&*users, false).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let users = Arc::clone(&users);
        let id = u.id.clone();
        tasks.push(tokio::spawn(async move {
            users
                .set_password(&id, AccountState::Pending, format!("hash-{i}"))
                .await
                .unwrap()
                .is_some()
        }));
    }
    let mut set = 0;
    for t in tasks {
        set += usize::from(t.await.unwrap());
    }
    assert_eq!(
        set, 1,
        "16 racing set_password calls from Pending: exactly one succeeds"
    );
    assert_eq!(users.get(&u.id).await.unwrap().unwrap().credential_version, 1);
}

/// The hash of the PIN before the live one survives replacement,
/// consumption and revocation, so a fresh PIN can be kept from repeating it.
pub async fn pin_store_previous_hash<U: UserStore, P: PinStore>(users: &U, pins: &P) {
    let u = insert(users, false).await;
    let with_hash = |tag: &str| PinRecord {
        hash: sample_pin(&u).hash.replace("aGFzaGhh", tag),
        ..sample_pin(&u)
    };
    let (a, b, c, d) = (
        with_hash("QUFBQUFB"),
        with_hash("QkJCQkJC"),
        with_hash("Q0NDQ0ND"),
        with_hash("RERERERE"),
    );
    let previous = |snap: PinSnapshot| snap.previous_hash;
    pins.put_pin(&u.id, a.clone()).await.unwrap();
    assert_eq!(
        previous(pins.snapshot(&u.id).await.unwrap()),
        None,
        "a first PIN has no predecessor"
    );
    pins.put_pin(&u.id, b.clone()).await.unwrap();
    assert_eq!(
        previous(pins.snapshot(&u.id).await.unwrap()),
        Some(a.hash.clone()),
        "a replaced PIN's hash is kept"
    );
    let now = t0() + TimeDelta::minutes(1);
    assert!(
        pins.record_success(&u.id, &b.pin_id, ticket(&u, &b, "prev-ticket"))
            .await
            .unwrap()
    );
    assert!(pins.consume_ticket(&u.id, "prev-ticket", now).await.unwrap());
    let snap = pins.snapshot(&u.id).await.unwrap();
    assert_eq!(
        (snap.pin, snap.previous_hash),
        (None, Some(b.hash.clone())),
        "a PIN consumed by a reset is kept as the previous one"
    );
    pins.put_pin(&u.id, c.clone()).await.unwrap();
    assert_eq!(
        previous(pins.snapshot(&u.id).await.unwrap()),
        Some(b.hash.clone()),
        "replacing nothing live keeps the earlier predecessor"
    );
    pins.revoke_pin(&u.id).await.unwrap();
    assert_eq!(
        previous(pins.snapshot(&u.id).await.unwrap()),
        Some(c.hash.clone()),
        "a revoked PIN is kept"
    );
    pins.put_pin(&u.id, d).await.unwrap();
    assert_eq!(previous(pins.snapshot(&u.id).await.unwrap()), Some(c.hash));
}

/// PIN storage, replacement and the attempt rules.
pub async fn pin_store_pins_and_attempts<U: UserStore, P: PinStore>(users: &U, pins: &P) {
    let u = insert(users, false).await;
    assert_eq!(
        pins.snapshot(&u.id).await.unwrap(),
        PinSnapshot::default(),
        "no PIN, no failures"
    );
    let now = t0() + TimeDelta::minutes(1);
    assert_eq!(
        pins.reserve_attempt(&u.id, now, LIMITS).await.unwrap(),
        AttemptReservation::NoPin
    );

    let first = sample_pin(&u);
    pins.put_pin(&u.id, first.clone()).await.unwrap();
    assert_eq!(
        pins.snapshot(&u.id).await.unwrap().pin,
        Some(first.clone()),
        "the PIN reads back exactly"
    );
    for n in 1..=5u32 {
        match pins.reserve_attempt(&u.id, now, LIMITS).await.unwrap() {
            AttemptReservation::Granted { pin, failures } => {
                assert_eq!(
                    (pin.attempts, failures),
                    (n, n),
                    "attempt {n} is counted on the PIN and the account"
                );
                assert_eq!(pin.pin_id, first.pin_id);
            }
            other => panic!("attempt {n} should be granted, got {other:?}"),
        }
    }
    assert_eq!(
        pins.reserve_attempt(&u.id, now, LIMITS).await.unwrap(),
        AttemptReservation::Exhausted,
        "the 6th attempt of 5"
    );

    // a replacement PIN starts at zero attempts, the account count stays
    let second = sample_pin(&u);
    pins.put_pin(&u.id, second.clone()).await.unwrap();
    let snap = pins.snapshot(&u.id).await.unwrap();
    assert_eq!(
        (snap.pin.map(|p| p.pin_id), snap.failures),
        (Some(second.pin_id.clone()), 5),
        "put_pin keeps the account's failures"
    );

    // expiry: granted one second before, refused at and after expires_at
    let exp = second.expires_at;
    assert!(matches!(
        pins.reserve_attempt(&u.id, exp - TimeDelta::seconds(1), LIMITS)
            .await
            .unwrap(),
        AttemptReservation::Granted { .. }
    ));
    assert_eq!(
        pins.reserve_attempt(&u.id, exp, LIMITS).await.unwrap(),
        AttemptReservation::Expired,
        "refused at now == expires_at"
    );
    assert_eq!(
        pins.reserve_attempt(&u.id, exp + TimeDelta::seconds(1), LIMITS)
            .await
            .unwrap(),
        AttemptReservation::Expired
    );

    // the account lock
    let tight = AttemptLimits {
        max_attempts: 5,
        max_account_failures: 8,
    };
    let third = sample_pin(&u);
    pins.put_pin(&u.id, third).await.unwrap();
    assert!(matches!(
        pins.reserve_attempt(&u.id, now, tight).await.unwrap(),
        AttemptReservation::Granted { failures: 7, .. }
    ));
    assert!(matches!(
        pins.reserve_attempt(&u.id, now, tight).await.unwrap(),
        AttemptReservation::Granted { failures: 8, .. }
    ));
    assert_eq!(
        pins.reserve_attempt(&u.id, now, tight).await.unwrap(),
        AttemptReservation::Locked,
        "locked at the account limit"
    );
    pins.clear_failures(&u.id).await.unwrap();
    assert_eq!(
        pins.snapshot(&u.id).await.unwrap().failures,
        0,
        "clear_failures unlocks"
    );
    assert!(matches!(
        pins.reserve_attempt(&u.id, now, tight).await.unwrap(),
        AttemptReservation::Granted { .. }
    ));

    pins.revoke_pin(&u.id).await.unwrap();
    assert_eq!(
        pins.snapshot(&u.id).await.unwrap().pin,
        None,
        "revoke_pin removes the PIN"
    );
    assert_eq!(
        pins.reserve_attempt(&u.id, now, tight).await.unwrap(),
        AttemptReservation::NoPin
    );
}

/// 50 racing reservations grant exactly `max_attempts`.
pub async fn pin_store_attempt_race<U: UserStore, P: PinStore>(users: &U, pins: Arc<P>) {
    let u = insert(users, false).await;
    pins.put_pin(&u.id, sample_pin(&u)).await.unwrap();
    let now = t0() + TimeDelta::minutes(1);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let pins = Arc::clone(&pins);
        let id = u.id.clone();
        tasks.push(tokio::spawn(async move {
            matches!(
                pins.reserve_attempt(&id, now, LIMITS).await.unwrap(),
                AttemptReservation::Granted { .. }
            )
        }));
    }
    let mut granted = 0;
    for t in tasks {
        granted += usize::from(t.await.unwrap());
    }
    assert_eq!(granted, 5, "50 racing reserve_attempt calls grant exactly max_attempts");
    let snap = pins.snapshot(&u.id).await.unwrap();
    assert_eq!((snap.pin.unwrap().attempts, snap.failures), (5, 5));
}

/// Success, the one live ticket, consumption.
pub async fn pin_store_tickets<U: UserStore, P: PinStore>(users: &U, pins: &P) {
    let u = insert(users, false).await;
    let pin = sample_pin(&u);
    pins.put_pin(&u.id, pin.clone()).await.unwrap();
    let now = t0() + TimeDelta::minutes(1);
    pins.reserve_attempt(&u.id, now, LIMITS).await.unwrap();
    pins.reserve_attempt(&u.id, now, LIMITS).await.unwrap();
    assert!(
        !pins
            .record_success(&u.id, "not-the-pin", ticket(&u, &pin, "aa"))
            .await
            .unwrap(),
        "success for a replaced PIN"
    );
    assert!(
        pins.record_success(&u.id, &pin.pin_id, ticket(&u, &pin, &"a".repeat(64)))
            .await
            .unwrap()
    );
    let snap = pins.snapshot(&u.id).await.unwrap();
    assert_eq!(
        (snap.pin.unwrap().attempts, snap.failures),
        (1, 0),
        "success gives its attempt back and clears the account's failures"
    );
    assert_eq!(
        pins.find_ticket(&"a".repeat(64)).await.unwrap(),
        Some(ticket(&u, &pin, &"a".repeat(64)))
    );
    // a ticket hash another user holds is refused (a UNIQUE constraint in
    // SQL), and the holder's ticket stays theirs
    let rival = insert(users, false).await;
    let rival_pin = sample_pin(&rival);
    pins.put_pin(&rival.id, rival_pin.clone()).await.unwrap();
    assert!(
        pins.record_success(
            &rival.id,
            &rival_pin.pin_id,
            ticket(&rival, &rival_pin, &"a".repeat(64))
        )
        .await
        .is_err(),
        "another user's live ticket hash"
    );
    assert_eq!(
        pins.find_ticket(&"a".repeat(64)).await.unwrap(),
        Some(ticket(&u, &pin, &"a".repeat(64)))
    );

    // a second success replaces the first ticket
    assert!(
        pins.record_success(&u.id, &pin.pin_id, ticket(&u, &pin, &"b".repeat(64)))
            .await
            .unwrap()
    );
    assert_eq!(
        pins.find_ticket(&"a".repeat(64)).await.unwrap(),
        None,
        "one live ticket per user"
    );
    assert!(
        !pins.consume_ticket(&u.id, &"a".repeat(64), now).await.unwrap(),
        "the replaced ticket cannot be consumed"
    );
    assert!(
        !pins
            .consume_ticket(&u.id, &"b".repeat(64), t0() + TimeDelta::minutes(15))
            .await
            .unwrap(),
        "refused at its expiry instant"
    );
    let other = insert(users, false).await;
    assert!(
        !pins.consume_ticket(&other.id, &"b".repeat(64), now).await.unwrap(),
        "another user's ticket"
    );
    assert!(pins.consume_ticket(&u.id, &"b".repeat(64), now).await.unwrap());
    assert!(
        !pins.consume_ticket(&u.id, &"b".repeat(64), now).await.unwrap(),
        "a ticket is consumed once"
    );
    assert_eq!(
        pins.snapshot(&u.id).await.unwrap().pin,
        None,
        "consuming the ticket consumes its PIN"
    );
    assert_eq!(pins.find_ticket(&"b".repeat(64)).await.unwrap(), None);

    // a new PIN kills the ticket of the old one
    let p2 = sample_pin(&u);
    pins.put_pin(&u.id, p2.clone()).await.unwrap();
    assert!(
        pins.record_success(&u.id, &p2.pin_id, ticket(&u, &p2, &"c".repeat(64)))
            .await
            .unwrap()
    );
    pins.put_pin(&u.id, sample_pin(&u)).await.unwrap();
    assert!(
        !pins.consume_ticket(&u.id, &"c".repeat(64), now).await.unwrap(),
        "put_pin drops the ticket"
    );
    assert_eq!(
        pins.find_ticket(&"c".repeat(64)).await.unwrap(),
        None,
        "and it is not found"
    );
    // revoke_pin kills it too
    let p3 = sample_pin(&u);
    pins.put_pin(&u.id, p3.clone()).await.unwrap();
    assert!(
        pins.record_success(&u.id, &p3.pin_id, ticket(&u, &p3, &"d".repeat(64)))
            .await
            .unwrap()
    );
    pins.revoke_pin(&u.id).await.unwrap();
    assert!(
        !pins.consume_ticket(&u.id, &"d".repeat(64), now).await.unwrap(),
        "revoke_pin drops the ticket"
    );
    assert_eq!(
        pins.find_ticket(&"d".repeat(64)).await.unwrap(),
        None,
        "and it is not found"
    );
}

/// 20 racing consumptions of one ticket: exactly one wins.
pub async fn pin_store_ticket_race<U: UserStore, P: PinStore>(users: &U, pins: Arc<P>) {
    let u = insert(users, false).await;
    let pin = sample_pin(&u);
    pins.put_pin(&u.id, pin.clone()).await.unwrap();
    let hash = "e".repeat(64);
    assert!(
        pins.record_success(&u.id, &pin.pin_id, ticket(&u, &pin, &hash))
            .await
            .unwrap()
    );
    let now = t0() + TimeDelta::minutes(1);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let pins = Arc::clone(&pins);
        let (id, hash) = (u.id.clone(), hash.clone());
        tasks.push(tokio::spawn(async move {
            pins.consume_ticket(&id, &hash, now).await.unwrap()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "20 racing consume_ticket calls: exactly one succeeds");
}

/// Cooldown, daily cap, release, and racing sends.
pub async fn pin_store_sends<U: UserStore, P: PinStore>(users: &U, pins: Arc<P>) {
    let u = insert(users, false).await;
    let limits = SendLimits {
        cooldown: TimeDelta::seconds(60),
        daily_cap: 3,
    };
    let t = t0();
    assert_eq!(
        pins.reserve_send(&u.id, t, limits).await.unwrap(),
        SendReservation::Granted
    );
    assert_eq!(
        pins.reserve_send(&u.id, t + TimeDelta::seconds(59), limits)
            .await
            .unwrap(),
        SendReservation::Throttled {
            retry_at: t + TimeDelta::seconds(60)
        },
        "within the cooldown"
    );
    let t2 = t + TimeDelta::seconds(60);
    assert_eq!(
        pins.reserve_send(&u.id, t2, limits).await.unwrap(),
        SendReservation::Granted,
        "at the end of the cooldown"
    );
    pins.release_send(&u.id, t2).await.unwrap();
    assert_eq!(
        pins.reserve_send(&u.id, t2, limits).await.unwrap(),
        SendReservation::Granted,
        "a released send does not count"
    );
    let t3 = t + TimeDelta::minutes(5);
    assert_eq!(
        pins.reserve_send(&u.id, t3, limits).await.unwrap(),
        SendReservation::Granted
    );
    assert_eq!(
        pins.reserve_send(&u.id, t + TimeDelta::minutes(10), limits)
            .await
            .unwrap(),
        SendReservation::Throttled {
            retry_at: t + TimeDelta::hours(24)
        },
        "the daily cap, until the oldest send is 24 h old"
    );
    assert_eq!(
        pins.reserve_send(&u.id, t + TimeDelta::hours(24), limits)
            .await
            .unwrap(),
        SendReservation::Granted
    );

    let v = insert(users, false).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let pins = Arc::clone(&pins);
        let id = v.id.clone();
        tasks.push(tokio::spawn(async move {
            pins.reserve_send(&id, t, limits).await.unwrap() == SendReservation::Granted
        }));
    }
    let mut granted = 0;
    for task in tasks {
        granted += usize::from(task.await.unwrap());
    }
    assert_eq!(granted, 1, "10 racing re-sends: exactly one passes the cooldown");
}

/// The last delivery per channel.
pub async fn pin_store_deliveries<U: UserStore, P: PinStore>(users: &U, pins: &P) {
    let u = insert(users, true).await;
    let rec = |channel, minutes, outcome| DeliveryRecord {
        channel,
        at: t0() + TimeDelta::minutes(minutes),
        outcome,
    };
    let failed = DeliveryOutcome::Failed {
        kind: DeliveryErrorKind::Permanent,
    };
    let sent = DeliveryOutcome::Delivered {
        provider_id: Some("SM123".into()),
    };
    pins.record_delivery(&u.id, rec(ChannelKind::Sms, 1, sent.clone()))
        .await
        .unwrap();
    pins.record_delivery(&u.id, rec(ChannelKind::Email, 1, sent.clone()))
        .await
        .unwrap();
    pins.record_delivery(&u.id, rec(ChannelKind::Email, 2, failed.clone()))
        .await
        .unwrap();
    assert_eq!(
        pins.snapshot(&u.id).await.unwrap().deliveries,
        vec![rec(ChannelKind::Email, 2, failed), rec(ChannelKind::Sms, 1, sent)],
        "the latest record per channel, email first"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_phones_are_valid_and_distinct() {
        let phones: std::collections::HashSet<Phone> = (0..1000).map(|_| unique_phone()).collect();
        assert_eq!(phones.len(), 1000);
    }
}
