//! Fault injection: the whole story once for every call it makes, with that
//! call failing (as an error, then as a timeout). After each run, with the
//! faults disarmed, the contract's invariants must hold.

mod common;
#[cfg(feature = "postgres")]
mod sql_support;

use chrono::TimeDelta;
use pin_activation::UserStore;
use pin_activation::faults::{FaultKind, FaultPlan, FaultyNotifier, FaultyPinStore, FaultyUserStore};
use pin_activation::{
    AccountState, ActivationService, ChannelChoice, Error, FirstActivation, InMemoryPinStore, InMemoryUserStore,
    ManualClock, NewUser, OutboxNotifier, Password, PinStore, ResetTicket, SignIn, UserId,
};

type Svc<U, P> = ActivationService<FaultyUserStore<U>, FaultyPinStore<P>, FaultyNotifier<OutboxNotifier>, ManualClock>;

struct World<U: UserStore, P: PinStore> {
    svc: Svc<U, P>,
    plan: FaultPlan,
    outbox: OutboxNotifier,
    clock: ManualClock,
}

fn world<U: UserStore, P: PinStore>(users: U, pins: P) -> World<U, P> {
    let plan = FaultPlan::new();
    let outbox = OutboxNotifier::new_ok();
    let clock = ManualClock::new(common::t0());
    let svc = ActivationService::builder(plan.users(users), plan.pins(pins), plan.notifier(outbox.clone()))
        .config(common::config())
        .clock(clock.clone())
        .build()
        .unwrap();
    World {
        svc,
        plan,
        outbox,
        clock,
    }
}

/// What the story got done before it stopped.
#[derive(Default)]
struct Progress {
    user: Option<UserId>,
    used_tickets: Vec<ResetTicket>,
    password: Option<&'static str>,
    error: Option<Error>,
    step: &'static str,
}

const PW1: &str = "first story password";
const PW2: &str = "second story password";

async fn story<U: UserStore, P: PinStore>(w: &World<U, P>, p: &mut Progress) -> Result<(), Error> {
    let staff = common::staff();
    p.step = "create";
    let created = w
        .svc
        .create_user(
            NewUser::new("Faye").email("faye@example.com").phone("+1 312 555 0177"),
            Some(&staff),
        )
        .await?;
    p.user = Some(created.user.id.clone());
    if let FirstActivation::Failed(e) = created.activation {
        return Err(e);
    }
    let id = created.user.id;
    let pin = w.outbox.last_pin_for(&id).unwrap().expose_secret().to_owned();
    p.step = "wrong pin";
    match w
        .svc
        .login(
            "faye@example.com",
            &Password::new(common::Harness::<U, P>::wrong(&pin, 1)),
        )
        .await
    {
        Err(Error::InvalidCredentials) => {}
        Err(e) => return Err(e),
        Ok(s) => panic!("a wrong PIN signed in: {s:?}"),
    }
    p.step = "pin sign-in";
    let SignIn::ResetRequired { ticket, .. } = w.svc.login("faye@example.com", &Password::new(pin.as_str())).await?
    else {
        panic!("PIN sign-in did not ask for a password")
    };
    p.step = "complete reset";
    w.svc.complete_reset(&id, &ticket, &Password::new(PW1)).await?;
    p.used_tickets.push(ticket);
    p.password = Some(PW1);
    p.step = "password sign-in";
    w.svc.login("faye@example.com", &Password::new(PW1)).await?;
    w.clock.advance(TimeDelta::minutes(2));
    p.step = "lost-password re-send";
    w.svc
        .resend_activation(&id, ChannelChoice::Only(pin_activation::ChannelKind::Sms), &staff)
        .await?;
    let pin2 = w.outbox.last_pin_for(&id).unwrap().expose_secret().to_owned();
    p.step = "reset pin sign-in";
    let SignIn::ResetRequired { ticket, .. } = w.svc.login("+13125550177", &Password::new(pin2.as_str())).await? else {
        panic!()
    };
    p.step = "second reset";
    w.svc.complete_reset(&id, &ticket, &Password::new(PW2)).await?;
    p.used_tickets.push(ticket);
    p.password = Some(PW2);
    p.step = "contact change";
    w.svc
        .update_contact(&id, Some("faye.new@example.com"), Some("+1 312 555 0177"), Some(&staff))
        .await?;
    p.step = "unlock";
    w.svc.unlock(&id, &staff).await?;
    w.clock.advance(TimeDelta::minutes(2));
    p.step = "re-send, then the password after all";
    w.svc.resend_activation(&id, ChannelChoice::Preferred, &staff).await?;
    match w.svc.login("faye.new@example.com", &Password::new(PW2)).await? {
        SignIn::SignedIn { .. } => {}
        other => panic!("the password did not sign in: {other:?}"),
    }
    p.step = "status";
    w.svc.activation_status(&id).await?;
    Ok(())
}

async fn check_invariants<U: UserStore, P: PinStore>(w: &World<U, P>, p: &Progress, n: usize, kind: FaultKind) {
    let ctx = format!(
        "fault at call {n} ({kind:?}) in step {:?}, fired {:?}",
        p.step,
        w.plan.fired()
    );
    // the error names the failing part
    if let Some(e) = &p.error {
        match e {
            Error::Store(_) | Error::Delivery(_) => {
                let mut chain = String::new();
                let mut s: Option<&dyn std::error::Error> = Some(e);
                while let Some(x) = s {
                    chain.push_str(&x.to_string());
                    s = x.source();
                }
                let part = w.plan.fired().unwrap_or("?");
                assert!(
                    chain.contains(part),
                    "{ctx}: error chain {chain:?} does not name {part}"
                );
            }
            other => panic!("{ctx}: unexpected error kind {other:?}"),
        }
    }
    let Some(id) = &p.user else { return };
    let Some(user) = w.svc.user(id).await.ok() else {
        assert_eq!(p.step, "create", "{ctx}: the user vanished");
        return;
    };
    let snapshot = w.svc.pin_store().snapshot(id).await.unwrap();
    // never active with a live PIN that signs in
    if user.state == AccountState::Active {
        for m in w.outbox.messages() {
            let r = w
                .svc
                .login(m.channel.address(), &Password::new(m.pin().expose_secret()))
                .await;
            assert!(
                matches!(r, Err(Error::InvalidCredentials)),
                "{ctx}: an active user signed in with a PIN: {r:?}"
            );
        }
        assert!(user.password_hash.is_some(), "{ctx}: active without a password");
    }
    // a stored password means its PIN was consumed
    if user.password_hash.is_some() && user.state == AccountState::Active {
        assert!(
            snapshot.pin.is_none(),
            "{ctx}: password stored but the PIN is still there"
        );
    }
    // no ticket is usable twice
    for t in &p.used_tickets {
        let r = w
            .svc
            .complete_reset(id, t, &Password::new("a third story password"))
            .await;
        assert!(
            matches!(r, Err(Error::InvalidTicket)),
            "{ctx}: a used ticket worked again: {r:?}"
        );
    }
    // the last password that was set still works (a failed lost-password
    // re-send in keep mode leaves it alone)
    if let Some(pw) = p.password {
        let identifier = user.email.as_ref().map(|e| e.as_str().to_owned()).unwrap();
        let r = w.svc.login(&identifier, &Password::new(pw)).await;
        assert!(
            matches!(r, Ok(SignIn::SignedIn { .. })),
            "{ctx}: the password set earlier no longer works: {r:?}"
        );
    }
    // a failed re-send leaves the user as before: the PIN of the last
    // accepted delivery still signs in while the account takes PINs
    if p.step == "lost-password re-send" && user.state != AccountState::ResetRequired {
        assert_eq!(user.state, AccountState::Active, "{ctx}");
    }
}

async fn run_all<U, P, F, Fut>(kind: FaultKind, make: F) -> usize
where
    U: UserStore,
    P: PinStore,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (U, P)>,
{
    let calls = {
        let (u, p) = make().await;
        let w = world(u, p);
        let mut p = Progress::default();
        w.plan.reset_count();
        story(&w, &mut p).await.unwrap();
        w.plan.calls()
    };
    assert!(calls > 20, "the story makes {calls} calls");
    for n in 1..=calls {
        let (u, p) = make().await;
        let w = world(u, p);
        let mut p = Progress::default();
        w.plan.fail_call(n, kind);
        let result = story(&w, &mut p).await;
        w.plan.disarm();
        if let Err(e) = result {
            p.error = Some(e);
        } else {
            // only best-effort delivery tracking, or a permanent email
            // failure that fell back to SMS, may absorb a fault
            let fired = w.plan.fired();
            let fell_back = fired == Some("Notifier::send") && kind == FaultKind::Error;
            // the clean-up after a completed reset is best effort too
            let best_effort = matches!(fired, Some("PinStore::record_delivery" | "PinStore::revoke_pin"));
            assert!(best_effort || fell_back, "fault at call {n} ({fired:?}) vanished");
        }
        check_invariants(&w, &p, n, kind).await;
    }
    calls
}

#[tokio::test]
async fn every_call_of_the_story_failing_as_an_error() {
    let calls = run_all(FaultKind::Error, memory).await;
    println!("the story makes {calls} store and notifier calls; each was failed once");
}

#[tokio::test]
async fn every_call_of_the_story_failing_as_a_timeout() {
    run_all(FaultKind::Timeout, memory).await;
}

#[tokio::test]
async fn a_failed_resend_leaves_the_old_pin_working() {
    // for every call inside a re-send of a pending user
    let probe = world(InMemoryUserStore::new(), InMemoryPinStore::new());
    let u = probe
        .svc
        .create_user(NewUser::new("Gil").email("gil@example.com"), None)
        .await
        .unwrap()
        .user;
    probe.clock.advance(TimeDelta::minutes(2));
    probe.plan.reset_count();
    probe
        .svc
        .resend_activation(&u.id, ChannelChoice::Preferred, &common::staff())
        .await
        .unwrap();
    let calls = probe.plan.calls();
    for n in 1..=calls {
        let w = world(InMemoryUserStore::new(), InMemoryPinStore::new());
        let u = w
            .svc
            .create_user(NewUser::new("Gil").email("gil@example.com"), None)
            .await
            .unwrap()
            .user;
        let old = w.outbox.last_pin_for(&u.id).unwrap().expose_secret().to_owned();
        w.clock.advance(TimeDelta::minutes(2));
        w.plan.fail_call(n, FaultKind::Error);
        let r = w
            .svc
            .resend_activation(&u.id, ChannelChoice::Preferred, &common::staff())
            .await;
        w.plan.disarm();
        let fired = w.plan.fired();
        let newest = w.outbox.last_pin_for(&u.id).unwrap().expose_secret().to_owned();
        match r {
            Ok(_) => {
                assert_eq!(fired, Some("PinStore::record_delivery"), "call {n}");
                assert!(common::pin_accepted(
                    &w.svc.login("gil@example.com", &Password::new(newest)).await
                ));
            }
            Err(e) => {
                // A failure before the new PIN is stored (delivery
                // included) leaves the old PIN working; a store failure after
                // it was stored leaves the new, delivered one working. Either
                // way the user holds a PIN that signs in.
                assert!(matches!(e, Error::Store(_) | Error::Delivery(_)), "call {n}: {e:?}");
                let with_old = w.svc.login("gil@example.com", &Password::new(old.as_str())).await;
                let with_new = w.svc.login("gil@example.com", &Password::new(newest.as_str())).await;
                assert!(
                    common::pin_accepted(&with_old) || common::pin_accepted(&with_new),
                    "call {n} ({fired:?}): no PIN the user received works: {with_old:?} {with_new:?}"
                );
                if matches!(e, Error::Delivery(_)) {
                    assert!(
                        common::pin_accepted(&with_old),
                        "call {n}: a failed delivery must leave the old PIN"
                    );
                }
            }
        }
    }
}

async fn memory() -> (InMemoryUserStore, InMemoryPinStore) {
    (InMemoryUserStore::new(), InMemoryPinStore::new())
}

#[cfg(feature = "sqlite")]
async fn sqlite() -> (pin_activation::SqliteStore, pin_activation::SqliteStore) {
    let store = pin_activation::SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    (store.clone(), store)
}

/// The same story and invariants on SQLite: each call failing once.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn every_call_of_the_story_failing_on_sqlite() {
    run_all(FaultKind::Error, sqlite).await;
    run_all(FaultKind::Timeout, sqlite).await;
}

/// The same story and invariants on PostgreSQL: one schema, emptied before
/// each run, each call failing once.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn every_call_of_the_story_failing_on_postgres() {
    let Some(schema) = sql_support::pg::schema("faults_postgres").await else {
        return;
    };
    let store = schema.store("faults_postgres").await;
    let fresh = || {
        let store = store.clone();
        async move {
            sqlx::query("TRUNCATE activation_deliveries, activation_sends, activation_pins, activation_users")
                .execute(store.pool())
                .await
                .expect("empty the tables");
            (store.clone(), store)
        }
    };
    run_all(FaultKind::Error, &fresh).await;
    run_all(FaultKind::Timeout, &fresh).await;
    store.pool().close().await;
    schema.drop().await;
}
