//! Fault injection for tests (feature `testing`): wrappers around any
//! [`UserStore`], [`PinStore`] or [`Notifier`] that fail one chosen call.
//!
//! All wrappers built from one [`FaultPlan`] share its call counter, so
//! "fail call N" means the Nth call to any of the wrapped parts, in the order
//! the service makes them. Run a flow once with no fault to learn how many
//! calls it makes ([`FaultPlan::calls`]), then once for every N.
//!
//! Failures are immediate and panic-free: an error whose source names the
//! part and method (`injected fault: PinStore::put_pin`), either a plain
//! error or a simulated timeout ([`FaultKind`]).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::identity::{Email, Login, Phone, UserId};
use crate::notify::{ActivationMessage, DeliveryError, DeliveryErrorKind, DeliveryReceipt, Notifier};
use crate::state::AccountState;
use crate::store::{
    AttemptLimits, AttemptReservation, DeliveryRecord, PinRecord, PinSnapshot, PinStore, SendLimits, SendReservation,
    StoreError, TicketRecord, User, UserStore,
};

/// How the chosen call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A backend error.
    Error,
    /// A timeout (reported at once; nothing sleeps).
    Timeout,
}

/// The error an injected fault carries as its source.
#[derive(Debug, thiserror::Error)]
#[error("injected fault ({kind:?}): {part}")]
pub struct InjectedFault {
    /// `"PinStore::put_pin"` and the like.
    pub part: &'static str,
    /// Error or timeout.
    pub kind: FaultKind,
}

/// Which call fails, and the record of calls made. Cheap to clone; clones
/// share the counter.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    inner: Arc<PlanInner>,
}

#[derive(Debug, Default)]
struct PlanInner {
    calls: AtomicUsize,
    fail_at: AtomicUsize,
    kind: Mutex<Option<FaultKind>>,
    failed: Mutex<Option<&'static str>>,
}

impl FaultPlan {
    /// No fault planned.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fail the `n`th call from now (1-based) with `kind`; resets the count.
    pub fn fail_call(&self, n: usize, kind: FaultKind) {
        self.inner.calls.store(0, Ordering::SeqCst);
        self.inner.fail_at.store(n, Ordering::SeqCst);
        *self
            .inner
            .kind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(kind);
        *self
            .inner
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// No more faults; the count goes on.
    pub fn disarm(&self) {
        self.inner.fail_at.store(0, Ordering::SeqCst);
    }

    /// Resets the call count (to measure a flow).
    pub fn reset_count(&self) {
        self.inner.calls.store(0, Ordering::SeqCst);
    }

    /// Calls made since the last reset.
    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// The part whose call was failed, if the fault fired.
    pub fn fired(&self) -> Option<&'static str> {
        *self
            .inner
            .failed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check(&self, part: &'static str) -> Result<(), InjectedFault> {
        let n = self.inner.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.inner.fail_at.load(Ordering::SeqCst) {
            let kind = (*self
                .inner
                .kind
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner))
            .unwrap_or(FaultKind::Error);
            *self
                .inner
                .failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(part);
            return Err(InjectedFault { part, kind });
        }
        Ok(())
    }

    fn store(&self, part: &'static str) -> Result<(), StoreError> {
        self.check(part).map_err(StoreError::backend)
    }

    /// Wraps a user store.
    pub fn users<U: UserStore>(&self, inner: U) -> FaultyUserStore<U> {
        FaultyUserStore {
            inner,
            plan: self.clone(),
        }
    }

    /// Wraps a PIN store.
    pub fn pins<P: PinStore>(&self, inner: P) -> FaultyPinStore<P> {
        FaultyPinStore {
            inner,
            plan: self.clone(),
        }
    }

    /// Wraps a notifier.
    pub fn notifier<N: Notifier>(&self, inner: N) -> FaultyNotifier<N> {
        FaultyNotifier {
            inner,
            plan: self.clone(),
        }
    }
}

/// A [`UserStore`] that fails when its plan says so.
#[derive(Debug, Clone)]
pub struct FaultyUserStore<U> {
    inner: U,
    plan: FaultPlan,
}

/// A [`PinStore`] that fails when its plan says so.
#[derive(Debug, Clone)]
pub struct FaultyPinStore<P> {
    inner: P,
    plan: FaultPlan,
}

/// A [`Notifier`] that fails when its plan says so (a transient delivery
/// failure for a timeout, a permanent one otherwise).
#[derive(Debug, Clone)]
pub struct FaultyNotifier<N> {
    inner: N,
    plan: FaultPlan,
}

#[async_trait]
impl<U: UserStore> UserStore for FaultyUserStore<U> {
    async fn insert(&self, user: User) -> Result<(), StoreError> {
        self.plan.store("UserStore::insert")?;
        self.inner.insert(user).await
    }
    async fn get(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.plan.store("UserStore::get")?;
        self.inner.get(id).await
    }
    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        self.plan.store("UserStore::find_by_login")?;
        self.inner.find_by_login(login).await
    }
    async fn list(&self) -> Result<Vec<User>, StoreError> {
        self.plan.store("UserStore::list")?;
        self.inner.list().await
    }
    async fn update_contact(
        &self,
        id: &UserId,
        email: Option<Email>,
        phone: Option<Phone>,
    ) -> Result<User, StoreError> {
        self.plan.store("UserStore::update_contact")?;
        self.inner.update_contact(id, email, phone).await
    }
    async fn transition(
        &self,
        id: &UserId,
        from: AccountState,
        to: AccountState,
        revoke: bool,
    ) -> Result<bool, StoreError> {
        self.plan.store("UserStore::transition")?;
        self.inner.transition(id, from, to, revoke).await
    }
    async fn set_password(&self, id: &UserId, from: AccountState, hash: String) -> Result<Option<u64>, StoreError> {
        self.plan.store("UserStore::set_password")?;
        self.inner.set_password(id, from, hash).await
    }
    async fn replace_password_hash(&self, id: &UserId, old: &str, new: String) -> Result<bool, StoreError> {
        self.plan.store("UserStore::replace_password_hash")?;
        self.inner.replace_password_hash(id, old, new).await
    }
}

#[async_trait]
impl<P: PinStore> PinStore for FaultyPinStore<P> {
    async fn reserve_send(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: SendLimits,
    ) -> Result<SendReservation, StoreError> {
        self.plan.store("PinStore::reserve_send")?;
        self.inner.reserve_send(user, now, limits).await
    }
    async fn release_send(&self, user: &UserId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.plan.store("PinStore::release_send")?;
        self.inner.release_send(user, at).await
    }
    async fn put_pin(&self, user: &UserId, pin: PinRecord) -> Result<(), StoreError> {
        self.plan.store("PinStore::put_pin")?;
        self.inner.put_pin(user, pin).await
    }
    async fn snapshot(&self, user: &UserId) -> Result<PinSnapshot, StoreError> {
        self.plan.store("PinStore::snapshot")?;
        self.inner.snapshot(user).await
    }
    async fn reserve_attempt(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: AttemptLimits,
    ) -> Result<AttemptReservation, StoreError> {
        self.plan.store("PinStore::reserve_attempt")?;
        self.inner.reserve_attempt(user, now, limits).await
    }
    async fn record_success(&self, user: &UserId, pin_id: &str, ticket: TicketRecord) -> Result<bool, StoreError> {
        self.plan.store("PinStore::record_success")?;
        self.inner.record_success(user, pin_id, ticket).await
    }
    async fn find_ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError> {
        self.plan.store("PinStore::find_ticket")?;
        self.inner.find_ticket(ticket_hash).await
    }
    async fn consume_ticket(&self, user: &UserId, ticket_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.plan.store("PinStore::consume_ticket")?;
        self.inner.consume_ticket(user, ticket_hash, now).await
    }
    async fn revoke_pin(&self, user: &UserId) -> Result<(), StoreError> {
        self.plan.store("PinStore::revoke_pin")?;
        self.inner.revoke_pin(user).await
    }
    async fn record_delivery(&self, user: &UserId, record: DeliveryRecord) -> Result<(), StoreError> {
        self.plan.store("PinStore::record_delivery")?;
        self.inner.record_delivery(user, record).await
    }
    async fn clear_failures(&self, user: &UserId) -> Result<(), StoreError> {
        self.plan.store("PinStore::clear_failures")?;
        self.inner.clear_failures(user).await
    }
}

#[async_trait]
impl<N: Notifier> Notifier for FaultyNotifier<N> {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        if let Err(fault) = self.plan.check("Notifier::send") {
            let kind = match fault.kind {
                FaultKind::Timeout => DeliveryErrorKind::Transient,
                FaultKind::Error => DeliveryErrorKind::Permanent,
            };
            return Err(DeliveryError::new(kind, message.channel.kind(), "injected fault").with_source(fault));
        }
        self.inner.send(message).await
    }
}
