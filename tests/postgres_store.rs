//! `PostgresStore`: the store conformance suite; two service instances with
//! pools of their own over one schema (as two portal servers behind a load
//! balancer); and connections killed mid-flow.
//!
//! PostgreSQL comes from `PIN_ACTIVATION_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Each test works in a schema
//! of its own. Without a server the tests skip with a reason on stderr,
//! except under `CI=true`, where they fail.

mod sql_support;

use std::sync::Arc;

use chrono::TimeDelta;
use pin_activation::audit::{AuditEvent, RefusalReason};
use pin_activation::{
    AccountState, ActivationConfig, ActivationStatus, ChannelChoice, Durability, Error, ManualClock, MemoryAudit,
    NewUser, Password, PinStore, PostgresStore, SignIn, UserId, testing,
};
use sql_support::{TestService, assert_store_error, last_pin, pg, service_with, t0};

type Service = TestService<PostgresStore, PostgresStore>;

fn service(store: PostgresStore, clock: &ManualClock, audit: &MemoryAudit) -> Service {
    service_with(
        store.clone(),
        store,
        ActivationConfig::for_tests(),
        clock.clone(),
        audit.clone(),
    )
}

/// Two instances, each with a pool of its own, over one schema.
async fn two_instances(schema: &pg::Schema, clock: &ManualClock) -> (Service, MemoryAudit, Service, MemoryAudit) {
    let (audit_a, audit_b) = (MemoryAudit::new(), MemoryAudit::new());
    let a = service(schema.store("instance_a").await, clock, &audit_a);
    let b = service(schema.store("instance_b").await, clock, &audit_b);
    (a, audit_a, b, audit_b)
}

fn refusals(audit: &MemoryAudit, reason: RefusalReason) -> usize {
    audit
        .events()
        .iter()
        .filter(|e| matches!(e, AuditEvent::SignInRefused { reason: r, .. } if *r == reason))
        .count()
}

const STAFF: &str = "staff-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keeps_the_store_contract() {
    let Some(schema) = pg::schema("postgres_keeps_the_store_contract").await else {
        return;
    };
    let store = schema.store("conformance").await;
    store.migrate().await.expect("a second migrate is a no-op");
    testing::run_all(Arc::new(store.clone()), Arc::new(store.clone())).await;
    let shown = format!("{store:?}");
    assert!(shown.contains("127.0.0.1") || shown.contains("host"), "{shown}");
    store.pool().close().await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relaxed_durability_drops_only_the_commit_wait_and_keeps_the_contract() {
    let Some(schema) = pg::schema("relaxed_durability").await else {
        return;
    };
    let show = |store: PostgresStore| async move {
        sqlx::query_scalar::<_, String>("SHOW synchronous_commit")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let full = PostgresStore::connect_with(schema.options("full"), Durability::Full)
        .await
        .unwrap();
    assert_eq!(show(full.clone()).await, "on");
    let relaxed = PostgresStore::connect_with(schema.options("relaxed"), Durability::Relaxed)
        .await
        .unwrap();
    assert_eq!(show(relaxed.clone()).await, "off");
    // The schema's search_path, set in the same options, still applies.
    relaxed.migrate().await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'activation_pins'",
    )
    .fetch_one(relaxed.pool())
    .await
    .unwrap();
    assert_eq!(tables, 1);
    testing::run_all(Arc::new(relaxed.clone()), Arc::new(relaxed.clone())).await;
    full.pool().close().await;
    relaxed.pool().close().await;
    schema.drop().await;
}

#[tokio::test]
async fn debug_never_shows_the_password() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://portal:s3cret-pw@db.invalid:5432/portal")
        .unwrap();
    let shown = format!("{:?}", PostgresStore::from_pool(pool));
    assert!(!shown.contains("s3cret-pw"), "{shown}");
    assert!(shown.contains("db.invalid") && shown.contains("portal"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_wrong_guesses_across_two_instances_check_at_most_max_attempts() {
    let Some(schema) = pg::schema("fifty_wrong_guesses").await else {
        return;
    };
    let clock = ManualClock::new(t0());
    let (a, audit_a, b, audit_b) = two_instances(&schema, &clock).await;
    let max_attempts = a.config().max_attempts;
    assert_eq!(max_attempts, 5);
    let created = a
        .create_user(NewUser::new("Bob Twoservers").email("bob@example.com"), None)
        .await
        .unwrap();
    let id = created.user.id.clone();
    let pin = last_pin(&a, &id);
    let right: u32 = pin.parse().unwrap();
    let before = (a.hash_stats(), b.hash_stats());

    let mut tasks = Vec::new();
    for k in 1..=50u32 {
        let instance = if k % 2 == 0 { a.clone() } else { b.clone() };
        let wrong = format!("{:06}", (right + k) % 1_000_000);
        tasks.push(tokio::spawn(async move {
            instance.login("bob@example.com", &Password::new(wrong)).await
        }));
    }
    for task in tasks {
        let result = task.await.unwrap();
        assert!(
            matches!(result, Err(Error::InvalidCredentials)),
            "every guess gets the same refusal: {result:?}"
        );
    }

    // A wrong-PIN refusal is the only outcome that checked the PIN's hash.
    let checked = refusals(&audit_a, RefusalReason::WrongPin) + refusals(&audit_b, RefusalReason::WrongPin);
    let exhausted = refusals(&audit_a, RefusalReason::PinExhausted) + refusals(&audit_b, RefusalReason::PinExhausted);
    assert_eq!(
        (checked, exhausted),
        (5, 45),
        "50 guesses over two instances: max_attempts checks, the rest refused unchecked"
    );
    let (after_a, after_b) = (a.hash_stats(), b.hash_stats());
    let verified = after_a.verified + after_b.verified - before.0.verified - before.1.verified;
    let equal_work = after_a.equal_work + after_b.equal_work - before.0.equal_work - before.1.equal_work;
    assert_eq!(
        (verified, equal_work),
        (5, 45),
        "at most max_attempts hash checks; every other refusal costs one dummy hash"
    );
    let snapshot = a.pin_store().snapshot(&id).await.unwrap();
    assert_eq!(
        (snapshot.pin.unwrap().attempts, snapshot.failures),
        (5, 5),
        "both instances counted on one row"
    );
    assert!(matches!(
        b.login("bob@example.com", &Password::new(pin)).await,
        Err(Error::InvalidCredentials)
    ));
    assert_eq!(
        a.activation_status(&id).await.unwrap().status,
        ActivationStatus::PinExhausted
    );
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resend_on_one_instance_kills_the_pin_on_the_other() {
    let Some(schema) = pg::schema("resend_across_instances").await else {
        return;
    };
    let clock = ManualClock::new(t0());
    let (a, _, b, _) = two_instances(&schema, &clock).await;
    let created = a
        .create_user(NewUser::new("Erin Twoservers").email("erin@example.com"), None)
        .await
        .unwrap();
    let id = created.user.id.clone();
    let pin1 = last_pin(&a, &id);
    let staff = UserId::new(STAFF).unwrap();

    let throttled = b.resend_activation(&id, ChannelChoice::Preferred, &staff).await;
    assert!(
        matches!(throttled, Err(Error::Throttled { retry_at }) if retry_at == t0() + TimeDelta::seconds(60)),
        "the cooldown started by instance A holds on instance B: {throttled:?}"
    );

    clock.advance(TimeDelta::minutes(1));
    b.resend_activation(&id, ChannelChoice::Preferred, &staff)
        .await
        .unwrap();
    let pin2 = last_pin(&b, &id);
    assert_ne!(pin1, pin2);
    assert!(
        matches!(
            a.login("erin@example.com", &Password::new(pin1.clone())).await,
            Err(Error::InvalidCredentials)
        ),
        "the old PIN is dead on the other instance"
    );
    let signed_in = a.login("erin@example.com", &Password::new(pin2)).await.unwrap();
    assert!(matches!(signed_in, SignIn::ResetRequired { .. }));
    assert!(matches!(
        b.login("erin@example.com", &Password::new(pin1)).await,
        Err(Error::InvalidCredentials)
    ));
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_ticket_completed_on_two_instances_wins_once() {
    let Some(schema) = pg::schema("ticket_across_instances").await else {
        return;
    };
    let clock = ManualClock::new(t0());
    let (a, _, b, _) = two_instances(&schema, &clock).await;
    for round in 0..5 {
        let email = format!("dana{round}@example.com");
        let created = a
            .create_user(NewUser::new("Dana Twoservers").email(email.clone()), None)
            .await
            .unwrap();
        let id = created.user.id.clone();
        let pin = last_pin(&a, &id);
        let SignIn::ResetRequired { ticket, .. } = b.login(&email, &Password::new(pin)).await.unwrap() else {
            panic!("a right PIN asks for a new password");
        };
        let (ta, tb) = (ticket.clone(), ticket);
        let (ida, idb) = (id.clone(), id.clone());
        let on_a = tokio::spawn({
            let a = a.clone();
            async move {
                a.complete_reset(&ida, &ta, &Password::new("amber harbour lantern"))
                    .await
            }
        });
        let on_b = tokio::spawn({
            let b = b.clone();
            async move {
                b.complete_reset(&idb, &tb, &Password::new("violet meadow compass"))
                    .await
            }
        });
        let (ra, rb) = (on_a.await.unwrap(), on_b.await.unwrap());
        let winner = match (&ra, &rb) {
            (Ok(_), Err(Error::InvalidTicket)) => "amber harbour lantern",
            (Err(Error::InvalidTicket), Ok(_)) => "violet meadow compass",
            other => panic!("exactly one completion wins, the other's ticket is invalid: {other:?}"),
        };
        let loser = if winner.starts_with("amber") {
            "violet meadow compass"
        } else {
            "amber harbour lantern"
        };
        let user = a.user(&id).await.unwrap();
        assert_eq!((user.state, user.credential_version), (AccountState::Active, 1));
        assert!(matches!(
            b.login(&email, &Password::new(winner)).await,
            Ok(SignIn::SignedIn { .. })
        ));
        assert!(matches!(
            a.login(&email, &Password::new(loser)).await,
            Err(Error::InvalidCredentials)
        ));
    }
    schema.drop().await;
}

/// A session of the `locker` pool holds a row lock until dropped.
async fn lock_row(locker: &sqlx::PgPool, sql: &'static str, id: &UserId) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = locker.begin().await.unwrap();
    let locked = sqlx::query(sql).bind(id.as_str()).execute(&mut *tx).await.unwrap();
    assert_eq!(locked.rows_affected(), 1, "the row to lock exists");
    tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_killed_during_sign_in_leaves_nothing_half_done() {
    let Some(schema) = pg::schema("killed_during_sign_in").await else {
        return;
    };
    let clock = ManualClock::new(t0());
    let service = service(schema.store("victim_sign_in").await, &clock, &MemoryAudit::new());
    let locker = schema.pool("locker_sign_in").await;
    let created = service
        .create_user(NewUser::new("Kim Killed").email("kim@example.com"), None)
        .await
        .unwrap();
    let id = created.user.id.clone();
    let pin = last_pin(&service, &id);

    // Hold the PIN row so the attempt's statement is in flight, then kill
    // the service's connections under it.
    let held = lock_row(
        &locker,
        "SELECT 1 FROM activation_pins WHERE user_id = $1 FOR UPDATE",
        &id,
    )
    .await;
    let login = tokio::spawn({
        let service = service.clone();
        let pin = pin.clone();
        async move { service.login("kim@example.com", &Password::new(pin)).await }
    });
    schema.wait_until_blocked("victim_sign_in").await;
    assert!(schema.terminate("victim_sign_in").await >= 1);
    let err = login.await.unwrap().expect_err("the sign-in's connection died");
    assert_store_error(&err, &["administrator", "closed", "reset", "eof", "terminat"]);
    held.rollback().await.unwrap();

    // No attempt was counted; the pool reconnects and the same PIN works.
    let status = service.activation_status(&id).await.unwrap().status;
    assert!(
        matches!(status, ActivationStatus::PinLive { attempts_left: 5, .. }),
        "{status:?}"
    );
    let signed_in = service.login("kim@example.com", &Password::new(pin)).await.unwrap();
    assert!(matches!(signed_in, SignIn::ResetRequired { .. }));
    locker.close().await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_killed_between_ticket_and_password_leaves_a_safe_state() {
    let Some(schema) = pg::schema("killed_during_reset").await else {
        return;
    };
    let clock = ManualClock::new(t0());
    let service = service(schema.store("victim_reset").await, &clock, &MemoryAudit::new());
    let locker = schema.pool("locker_reset").await;
    let created = service
        .create_user(NewUser::new("Lou Killed").email("lou@example.com"), None)
        .await
        .unwrap();
    let id = created.user.id.clone();
    let pin = last_pin(&service, &id);
    let SignIn::ResetRequired { ticket, .. } = service
        .login("lou@example.com", &Password::new(pin.clone()))
        .await
        .unwrap()
    else {
        panic!("a right PIN asks for a new password");
    };

    // The ticket and PIN are consumed first; the password write then waits
    // on the user's row and its connection is killed.
    let held = lock_row(&locker, "SELECT 1 FROM activation_users WHERE id = $1 FOR UPDATE", &id).await;
    let reset = tokio::spawn({
        let service = service.clone();
        let (ticket, id) = (ticket.clone(), id.clone());
        async move {
            service
                .complete_reset(&id, &ticket, &Password::new("granite willow beacon"))
                .await
        }
    });
    schema.wait_until_blocked("victim_reset").await;
    assert!(schema.terminate("victim_reset").await >= 1);
    let err = reset.await.unwrap().expect_err("the reset's connection died");
    assert_store_error(&err, &["administrator", "closed", "reset", "eof", "terminat"]);
    held.rollback().await.unwrap();

    // The documented safe side: never active with a live PIN; the user is
    // still pending, without PIN, ticket or password, and staff re-send.
    let user = service.user(&id).await.unwrap();
    assert_eq!(
        (user.state, user.password_hash.is_none(), user.credential_version),
        (AccountState::Pending, true, 0)
    );
    assert_eq!(
        service.activation_status(&id).await.unwrap().status,
        ActivationStatus::NoPin
    );
    assert!(matches!(
        service
            .complete_reset(&id, &ticket, &Password::new("granite willow beacon"))
            .await,
        Err(Error::InvalidTicket)
    ));
    assert!(matches!(
        service.login("lou@example.com", &Password::new(pin)).await,
        Err(Error::InvalidCredentials)
    ));

    clock.advance(TimeDelta::minutes(2));
    service
        .resend_activation(&id, ChannelChoice::Preferred, &UserId::new(STAFF).unwrap())
        .await
        .unwrap();
    let fresh = last_pin(&service, &id);
    let SignIn::ResetRequired { ticket, .. } = service.login("lou@example.com", &Password::new(fresh)).await.unwrap()
    else {
        panic!("the fresh PIN works");
    };
    let done = service
        .complete_reset(&id, &ticket, &Password::new("granite willow beacon"))
        .await
        .unwrap();
    assert_eq!(done.credential_version, 1);
    locker.close().await;
    schema.drop().await;
}
