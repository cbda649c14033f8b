//! Model-checked concurrency stress: many tasks doing random operations on a
//! few users at once, on a multi-thread runtime; afterwards the contract's
//! invariants are checked. Generic over the stores.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use pin_activation::{AccountState, ChannelChoice, Error, Password, PinStore, ResetTicket, SignIn, User, UserStore};
use rand::{RngExt, SeedableRng};

use super::{Harness, config, harness, staff};

#[derive(Default)]
struct Shared {
    tickets: HashMap<usize, Vec<ResetTicket>>,
    used: Vec<String>,
    completed: HashMap<usize, u64>,
    /// The last password a completed reset set, per user.
    passwords: HashMap<usize, String>,
}

pub async fn stress<U: UserStore, P: PinStore>(users: U, pins: P, tasks: usize, ops_per_task: usize) {
    let mut cfg = config();
    cfg.max_attempts = 5;
    cfg.max_account_failures = 20;
    cfg.daily_send_cap = 100;
    let h = Arc::new(harness(users, pins, cfg));
    let mut people: Vec<User> = Vec::new();
    for i in 0..3 {
        people.push(
            h.create(&format!("Tenant Number {i}"), Some(&format!("s{i}@example.com")), None)
                .await,
        );
    }
    let people = Arc::new(people);
    let shared = Arc::new(Mutex::new(Shared::default()));
    // Rounds of concurrent tasks until at least one reset completed: how
    // the tasks interleave is up to the scheduler, and now and then a round
    // ends with every ticket superseded before its completion ran.
    for round in 0..MAX_ROUNDS {
        if !shared.lock().unwrap().used.is_empty() {
            break;
        }
        run_round(&h, &people, &shared, round, tasks, ops_per_task).await;
    }
    check_invariants(&h, &people, &shared).await;
}

const MAX_ROUNDS: usize = 6;

async fn run_round<U: UserStore, P: PinStore>(
    h: &Arc<Harness<U, P>>,
    people: &Arc<Vec<User>>,
    shared: &Arc<Mutex<Shared>>,
    round: usize,
    tasks: usize,
    ops_per_task: usize,
) {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (h, people, shared) = (Arc::clone(h), Arc::clone(people), Arc::clone(shared));
        handles.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64((round * 1000 + task) as u64);
            for n in 0..ops_per_task {
                let i: usize = rng.random_range(0..3);
                let u = &people[i];
                let email = format!("s{i}@example.com");
                match rng.random_range(0..9u8) {
                    0..=2 => {
                        let pin = h.pin(u);
                        match h.login(&email, &pin).await {
                            Ok(SignIn::ResetRequired { ticket, .. }) => {
                                shared.lock().unwrap().tickets.entry(i).or_default().push(ticket)
                            }
                            Ok(SignIn::SignedIn { .. }) => panic!("a PIN signed in as a password"),
                            Err(Error::InvalidCredentials) => {}
                            Err(e) => panic!("right PIN: {e:?}"),
                        }
                    }
                    3 => {
                        let wrong = Harness::<U, P>::wrong(&h.pin(u), (task * 1000 + n) as u32);
                        match h.login(&email, &wrong).await {
                            Err(Error::InvalidCredentials) => {}
                            other => panic!("wrong PIN: {other:?}"),
                        }
                    }
                    4 => match h.svc.resend_activation(&u.id, ChannelChoice::Preferred, &staff()).await {
                        Ok(_) | Err(Error::Throttled { .. } | Error::IllegalTransition(_)) => {}
                        Err(e) => panic!("re-send: {e:?}"),
                    },
                    5 | 6 => {
                        let ticket = shared.lock().unwrap().tickets.get_mut(&i).and_then(Vec::pop);
                        if let Some(ticket) = ticket {
                            let text = format!("river glass kite {task} {n}");
                            match h
                                .svc
                                .complete_reset(&u.id, &ticket, &Password::new(text.as_str()))
                                .await
                            {
                                Ok(done) => {
                                    let mut s = shared.lock().unwrap();
                                    s.passwords.insert(i, text);
                                    s.used.push(ticket.expose_secret().to_owned());
                                    *s.completed.entry(i).or_default() += 1;
                                    assert!(done.credential_version >= 1);
                                }
                                Err(Error::InvalidTicket | Error::IllegalTransition(_)) => {}
                                Err(e) => panic!("complete: {e:?}"),
                            }
                        }
                    }
                    // a password sign-in, which ends a pending reset
                    7 => {
                        let pw = shared.lock().unwrap().passwords.get(&i).cloned();
                        if let Some(pw) = pw {
                            match h.login(&email, &pw).await {
                                Ok(SignIn::SignedIn { .. }) | Err(Error::InvalidCredentials) => {}
                                other => panic!("password sign-in: {other:?}"),
                            }
                        }
                    }
                    _ if n % 2 == 0 => h.clock.advance(TimeDelta::seconds(61)),
                    _ => h.svc.unlock(&u.id, &staff()).await.unwrap(),
                }
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
}

async fn check_invariants<U: UserStore, P: PinStore>(h: &Harness<U, P>, people: &[User], shared: &Mutex<Shared>) {
    let (used_all, completed) = {
        let s = shared.lock().unwrap();
        (s.used.clone(), s.completed.clone())
    };
    assert!(
        !used_all.is_empty(),
        "{MAX_ROUNDS} rounds completed no reset: the stress exercised too little"
    );
    let mut used = used_all.clone();
    used.sort();
    used.dedup();
    assert_eq!(used.len(), used_all.len(), "a ticket was used twice");
    for (i, u) in people.iter().enumerate() {
        let user = h.svc.user(&u.id).await.unwrap();
        let snap = h.svc.pin_store().snapshot(&u.id).await.unwrap();
        if let Some(pin) = &snap.pin {
            assert!(pin.attempts <= 5, "attempts {} above the limit", pin.attempts);
        }
        assert_eq!(
            user.credential_version,
            completed.get(&i).copied().unwrap_or(0),
            "one credential version per completed reset"
        );
        if user.state == AccountState::Active {
            assert!(snap.pin.is_none(), "active with a stored PIN");
        }
    }
    for (i, u) in people.iter().enumerate() {
        for t in &used_all {
            let r = h
                .svc
                .complete_reset(&u.id, &ResetTicket::new(t.as_str()), &Password::new("after the storm"))
                .await;
            assert!(
                matches!(r, Err(Error::InvalidTicket)),
                "user {i}: a used ticket works again: {r:?}"
            );
        }
    }
}
