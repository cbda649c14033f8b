//! Shared test harness: a service on any stores, with a manual clock, the
//! outbox notifier and a memory audit log.
#![allow(dead_code, unreachable_pub)]

pub mod cases;
pub mod stress;

use std::convert::Infallible;

use chrono::{DateTime, TimeZone, Utc};
use pin_activation::{
    ActivationConfig, ActivationService, Error, FirstActivation, ManualClock, MemoryAudit, NewUser, OutboxNotifier,
    Password, PinStore, ResetTicket, SignIn, User, UserId, UserStore,
};

/// 2026-12-03 09:00:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap()
}

pub type Service<U, P> = ActivationService<U, P, OutboxNotifier, ManualClock>;

pub struct Harness<U: UserStore, P: PinStore> {
    pub svc: Service<U, P>,
    pub clock: ManualClock,
    pub outbox: OutboxNotifier,
    pub audit: MemoryAudit,
}

/// The config tests use: the `Testing` hash preset, the rest default.
pub fn config() -> ActivationConfig {
    ActivationConfig::for_tests()
}

pub fn staff() -> UserId {
    UserId::new("staff-1").unwrap()
}

/// An RNG that replays a script of digits, one `u32` per digit (how
/// `rand`'s uniform sampling of `0..10` consumes it), so a test can make
/// the service draw exactly the PINs it wants.
pub struct ScriptedDigits {
    values: Vec<u32>,
    next: usize,
}

impl ScriptedDigits {
    pub fn new(pins: &[&str]) -> Self {
        let values = pins
            .iter()
            .flat_map(|p| p.bytes())
            .map(|b| {
                let d = u64::from(b - b'0');
                // the middle of digit d's bucket: never in a rejection zone
                ((d * (1u64 << 32) + (1u64 << 31)) / 10) as u32
            })
            .collect();
        Self { values, next: 0 }
    }
}

impl rand::TryRng for ScriptedDigits {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let v = self.values[self.next % self.values.len()];
        self.next += 1;
        Ok(v)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from(self.try_next_u32()?))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            *b = self.try_next_u32()?.to_le_bytes()[3];
        }
        Ok(())
    }
}

pub fn harness<U: UserStore, P: PinStore>(users: U, pins: P, config: ActivationConfig) -> Harness<U, P> {
    harness_with(users, pins, config, |b| b)
}

pub fn harness_with<U: UserStore, P: PinStore>(
    users: U,
    pins: P,
    config: ActivationConfig,
    customize: impl FnOnce(
        pin_activation::service::ServiceBuilder<U, P, OutboxNotifier, ManualClock>,
    ) -> pin_activation::service::ServiceBuilder<U, P, OutboxNotifier, ManualClock>,
) -> Harness<U, P> {
    let clock = ManualClock::new(t0());
    let outbox = OutboxNotifier::new_ok();
    let audit = MemoryAudit::new();
    let builder = ActivationService::builder(users, pins, outbox.clone())
        .config(config)
        .clock(clock.clone())
        .audit(audit.clone());
    let svc = customize(builder).build().unwrap();
    Harness {
        svc,
        clock,
        outbox,
        audit,
    }
}

impl<U: UserStore, P: PinStore> Harness<U, P> {
    /// Creates a tenant and checks the first PIN went out when there is a
    /// contact.
    pub async fn create(&self, name: &str, email: Option<&str>, phone: Option<&str>) -> User {
        let mut new = NewUser::new(name);
        new.email = email.map(str::to_owned);
        new.phone = phone.map(str::to_owned);
        let created = self.svc.create_user(new, Some(&staff())).await.unwrap();
        match (&created.activation, created.user.can_activate()) {
            (FirstActivation::Sent(_), true) | (FirstActivation::NoContact, false) => {}
            (other, _) => panic!("unexpected first activation: {other:?}"),
        }
        created.user
    }

    /// The last PIN sent to `user`.
    pub fn pin(&self, user: &User) -> String {
        self.outbox
            .last_pin_for(&user.id)
            .expect("a PIN was sent")
            .expose_secret()
            .to_owned()
    }

    /// A 6-digit PIN different from `pin`.
    pub fn wrong(pin: &str, n: u32) -> String {
        let mut k = n;
        loop {
            let candidate = format!("{:06}", (u64::from(k) * 7919 + 13) % 1_000_000);
            if candidate != pin {
                return candidate;
            }
            k += 1;
        }
    }

    pub async fn login(&self, identifier: &str, secret: &str) -> Result<SignIn, Error> {
        self.svc.login(identifier, &Password::new(secret)).await
    }

    /// Signs in with the PIN and returns the ticket.
    pub async fn ticket(&self, identifier: &str, pin: &str) -> ResetTicket {
        match self.login(identifier, pin).await {
            Ok(SignIn::ResetRequired { ticket, .. }) => ticket,
            other => panic!("expected a reset ticket, got {other:?}"),
        }
    }

    /// Full activation: PIN sign-in, then the new password.
    pub async fn activate(&self, user: &User, identifier: &str, password: &str) {
        let pin = self.pin(user);
        let ticket = self.ticket(identifier, &pin).await;
        self.svc
            .complete_reset(&user.id, &ticket, &Password::new(password))
            .await
            .unwrap();
    }

    pub async fn failures(&self, user: &User) -> u32 {
        self.svc.pin_store().snapshot(&user.id).await.unwrap().failures
    }

    pub async fn attempts(&self, user: &User) -> Option<u32> {
        self.svc
            .pin_store()
            .snapshot(&user.id)
            .await
            .unwrap()
            .pin
            .map(|p| p.attempts)
    }
}

pub fn is_refusal<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::InvalidCredentials))
}

pub fn signed_in(r: &Result<SignIn, Error>) -> bool {
    matches!(r, Ok(SignIn::SignedIn { .. }))
}

pub fn pin_accepted(r: &Result<SignIn, Error>) -> bool {
    matches!(r, Ok(SignIn::ResetRequired { .. }))
}
