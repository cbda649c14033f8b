//! Enumeration timing: sign-in with an unknown identifier, with a known
//! identifier and a wrong PIN, and with an expired PIN, at the `Owasp`
//! preset. The three are interleaved so drift hits all alike; reports the
//! median and p90 of each and the unknown / wrong-PIN ratio of medians.
//!
//! ```sh
//! cargo bench --bench enumeration
//! ```

use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use pin_activation::{
    ActivationConfig, ActivationService, ChannelChoice, Error, InMemoryPinStore, InMemoryUserStore, ManualClock,
    NewUser, OutboxNotifier, Password, UserId,
};

const ROUNDS: usize = 150;

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.9))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = ActivationConfig {
            max_attempts: 10,
            max_account_failures: 100,
            daily_send_cap: 100,
            ..ActivationConfig::default()
        };
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
        let outbox = OutboxNotifier::new_ok();
        let svc = ActivationService::builder(InMemoryUserStore::new(), InMemoryPinStore::new(), outbox.clone())
            .config(config)
            .clock(clock.clone())
            .build()
            .unwrap();
        let expired = svc
            .create_user(NewUser::new("Exp").email("expired@example.com"), None)
            .await
            .unwrap()
            .user;
        let expired_pin = outbox.last_pin_for(&expired.id).unwrap().expose_secret().to_owned();
        clock.advance(TimeDelta::hours(73));
        let known = svc
            .create_user(NewUser::new("Known").email("known@example.com"), None)
            .await
            .unwrap()
            .user;
        let staff = UserId::new("staff").unwrap();
        let pin = outbox.last_pin_for(&known.id).unwrap().expose_secret().to_owned();
        let wrong = if pin == "135792" { "135793" } else { "135792" };

        let (mut unknown_t, mut wrong_t, mut expired_t) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // a fresh PIN every 9 wrong guesses keeps the known user's PIN live
            if round % 9 == 8 {
                clock.advance(TimeDelta::minutes(2));
                svc.resend_activation(&known.id, ChannelChoice::Preferred, &staff)
                    .await
                    .unwrap();
                svc.unlock(&known.id, &staff).await.unwrap();
            }
            for (who, secret, into) in [
                ("nobody@example.com", wrong, &mut unknown_t),
                ("known@example.com", wrong, &mut wrong_t),
                ("expired@example.com", expired_pin.as_str(), &mut expired_t),
            ] {
                let t = Instant::now();
                let r = svc.login(who, &Password::new(secret)).await;
                into.push(t.elapsed());
                assert!(matches!(r, Err(Error::InvalidCredentials)), "{who}: {r:?}");
            }
        }
        let (u, w, e) = (stats(unknown_t), stats(wrong_t), stats(expired_t));
        println!("| sign-in refused because | median ms | p90 ms |");
        println!("|---|---|---|");
        println!("| unknown identifier | {:.2} | {:.2} |", u.0, u.1);
        println!("| known user, wrong PIN | {:.2} | {:.2} |", w.0, w.1);
        println!("| expired PIN | {:.2} | {:.2} |", e.0, e.1);
        println!("unknown / wrong-PIN median ratio: {:.3}", u.0 / w.0);
    });
}
