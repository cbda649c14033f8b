//! In-memory [`UserStore`] and [`PinStore`]: thread-safe, atomic per the
//! contract (every method is one mutex section), always compiled so users'
//! own test suites can use them. Clones share one store.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use subtle::ConstantTimeEq;

use crate::identity::{Email, Login, Phone, UserId};
use crate::state::{AccountState, is_expired};
use crate::store::{
    AttemptLimits, AttemptReservation, DeliveryRecord, PinRecord, PinSnapshot, PinStore, SendLimits, SendReservation,
    StoreError, TicketRecord, User, UserStore,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Users in a map, with a unique index of logins.
#[derive(Clone, Default)]
pub struct InMemoryUserStore {
    inner: Arc<Mutex<Users>>,
}

/// Counts only: the table holds password hashes and contact details.
impl fmt::Debug for InMemoryUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryUserStore")
            .field("users", &lock(&self.inner).by_id.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Users {
    by_id: HashMap<UserId, User>,
    by_login: HashMap<Login, UserId>,
}

impl InMemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Users {
    fn taken_by_other(&self, login: &Login, me: &UserId) -> bool {
        self.by_login.get(login).is_some_and(|owner| owner != me)
    }
}

fn conflict_field(login: &Login) -> &'static str {
    match login {
        Login::Email(_) => "email",
        Login::Phone(_) => "phone",
    }
}

#[async_trait]
impl UserStore for InMemoryUserStore {
    async fn insert(&self, user: User) -> Result<(), StoreError> {
        let mut users = lock(&self.inner);
        if users.by_id.contains_key(&user.id) {
            return Err(StoreError::conflict("id"));
        }
        let logins = user.logins();
        if let Some(taken) = logins.iter().find(|l| users.by_login.contains_key(l)) {
            return Err(StoreError::conflict(conflict_field(taken)));
        }
        for login in logins {
            users.by_login.insert(login, user.id.clone());
        }
        users.by_id.insert(user.id.clone(), user);
        Ok(())
    }

    async fn get(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(lock(&self.inner).by_id.get(id).cloned())
    }

    async fn find_by_login(&self, login: &Login) -> Result<Option<User>, StoreError> {
        let users = lock(&self.inner);
        Ok(users.by_login.get(login).and_then(|id| users.by_id.get(id)).cloned())
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let mut all: Vec<User> = lock(&self.inner).by_id.values().cloned().collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    async fn update_contact(
        &self,
        id: &UserId,
        email: Option<Email>,
        phone: Option<Phone>,
    ) -> Result<User, StoreError> {
        let mut users = lock(&self.inner);
        let old = users.by_id.get(id).cloned().ok_or_else(StoreError::not_found)?;
        let mut new = old.clone();
        new.email = email;
        new.phone = phone;
        let new_logins = new.logins();
        if let Some(taken) = new_logins.iter().find(|l| users.taken_by_other(l, id)) {
            return Err(StoreError::conflict(conflict_field(taken)));
        }
        for login in old.logins() {
            users.by_login.remove(&login);
        }
        for login in new_logins {
            users.by_login.insert(login, id.clone());
        }
        users.by_id.insert(id.clone(), new.clone());
        Ok(new)
    }

    async fn transition(
        &self,
        id: &UserId,
        from: AccountState,
        to: AccountState,
        revoke_password: bool,
    ) -> Result<bool, StoreError> {
        let mut users = lock(&self.inner);
        match users.by_id.get_mut(id) {
            Some(u)
                if u.state == from
                    && (to != AccountState::Active || (u.password_hash.is_some() && !revoke_password)) =>
            {
                u.state = to;
                if revoke_password {
                    u.password_hash = None;
                    u.credential_version += 1;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn set_password(
        &self,
        id: &UserId,
        from: AccountState,
        password_hash: String,
    ) -> Result<Option<u64>, StoreError> {
        let mut users = lock(&self.inner);
        match users.by_id.get_mut(id) {
            Some(u) if u.state == from => {
                u.state = AccountState::Active;
                u.password_hash = Some(password_hash);
                u.credential_version += 1;
                Ok(Some(u.credential_version))
            }
            _ => Ok(None),
        }
    }

    async fn replace_password_hash(&self, id: &UserId, old: &str, new: String) -> Result<bool, StoreError> {
        let mut users = lock(&self.inner);
        match users.by_id.get_mut(id) {
            Some(u) if u.password_hash.as_deref() == Some(old) => {
                u.password_hash = Some(new);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// PINs, tickets, failure counts and send history per user.
#[derive(Clone, Default)]
pub struct InMemoryPinStore {
    inner: Arc<Mutex<PinTables>>,
}

/// Counts only: the tables hold PIN and ticket hashes.
impl fmt::Debug for InMemoryPinStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables = lock(&self.inner);
        f.debug_struct("InMemoryPinStore")
            .field("users", &tables.entries.len())
            .field(
                "live_pins",
                &tables.entries.values().filter(|e| e.pin.is_some()).count(),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct PinTables {
    entries: HashMap<UserId, PinEntry>,
    /// Live tickets by hash, as the SQL stores index them (see the `sql`
    /// module docs on why equality on a ticket hash may take variable time).
    tickets: HashMap<String, UserId>,
}

impl PinTables {
    /// Drops `user`'s ticket, from the entry and the index.
    fn clear_ticket(&mut self, user: &UserId) {
        if let Some(old) = self.entries.get_mut(user).and_then(|e| e.ticket.take()) {
            self.tickets.remove(&old.hash);
        }
    }
}

#[derive(Debug, Default)]
struct PinEntry {
    pin: Option<PinRecord>,
    previous_hash: Option<String>,
    ticket: Option<TicketRecord>,
    failures: u32,
    sends: Vec<DateTime<Utc>>,
    deliveries: Vec<DeliveryRecord>,
}

impl PinEntry {
    /// Replaces the live PIN, remembering the hash of the one it replaces.
    fn replace_pin(&mut self, pin: Option<PinRecord>) {
        if let Some(old) = std::mem::replace(&mut self.pin, pin) {
            self.previous_hash = Some(old.hash);
        }
    }
}

impl InMemoryPinStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[async_trait]
impl PinStore for InMemoryPinStore {
    async fn reserve_send(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: SendLimits,
    ) -> Result<SendReservation, StoreError> {
        let mut all = lock(&self.inner);
        let entry = all.entries.entry(user.clone()).or_default();
        let day = TimeDelta::hours(24);
        entry.sends.retain(|at| *at > now - day);
        if let Some(last) = entry.sends.iter().max()
            && now < *last + limits.cooldown
        {
            return Ok(SendReservation::Throttled {
                retry_at: *last + limits.cooldown,
            });
        }
        if entry.sends.len() >= limits.daily_cap as usize {
            let oldest = entry.sends.iter().min().copied().unwrap_or(now);
            return Ok(SendReservation::Throttled { retry_at: oldest + day });
        }
        entry.sends.push(now);
        Ok(SendReservation::Granted)
    }

    async fn release_send(&self, user: &UserId, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(entry) = lock(&self.inner).entries.get_mut(user)
            && let Some(i) = entry.sends.iter().position(|s| *s == at)
        {
            entry.sends.remove(i);
        }
        Ok(())
    }

    async fn put_pin(&self, user: &UserId, pin: PinRecord) -> Result<(), StoreError> {
        let mut all = lock(&self.inner);
        all.clear_ticket(user);
        all.entries.entry(user.clone()).or_default().replace_pin(Some(pin));
        Ok(())
    }

    async fn snapshot(&self, user: &UserId) -> Result<PinSnapshot, StoreError> {
        Ok(lock(&self.inner)
            .entries
            .get(user)
            .map(|e| PinSnapshot {
                pin: e.pin.clone(),
                previous_hash: e.previous_hash.clone(),
                failures: e.failures,
                deliveries: e.deliveries.clone(),
            })
            .unwrap_or_default())
    }

    async fn reserve_attempt(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
        limits: AttemptLimits,
    ) -> Result<AttemptReservation, StoreError> {
        let mut all = lock(&self.inner);
        let Some(entry) = all.entries.get_mut(user) else {
            return Ok(AttemptReservation::NoPin);
        };
        if entry.failures >= limits.max_account_failures {
            return Ok(AttemptReservation::Locked);
        }
        let Some(pin) = entry.pin.as_mut() else {
            return Ok(AttemptReservation::NoPin);
        };
        if is_expired(pin.expires_at, now) {
            return Ok(AttemptReservation::Expired);
        }
        if pin.attempts >= limits.max_attempts {
            return Ok(AttemptReservation::Exhausted);
        }
        pin.attempts += 1;
        entry.failures += 1;
        Ok(AttemptReservation::Granted {
            pin: pin.clone(),
            failures: entry.failures,
        })
    }

    async fn record_success(&self, user: &UserId, pin_id: &str, ticket: TicketRecord) -> Result<bool, StoreError> {
        let mut all = lock(&self.inner);
        let matches = all
            .entries
            .get(user)
            .and_then(|e| e.pin.as_ref())
            .is_some_and(|pin| pin.pin_id == pin_id);
        if !matches {
            return Ok(false);
        }
        // as the SQL stores' UNIQUE(ticket_hash): another user's live ticket
        // hash is refused, never overwritten in the index
        if all.tickets.get(&ticket.hash).is_some_and(|holder| holder != user) {
            return Err(StoreError::conflict("ticket_hash"));
        }
        all.clear_ticket(user);
        all.tickets.insert(ticket.hash.clone(), user.clone());
        if let Some(entry) = all.entries.get_mut(user) {
            if let Some(pin) = entry.pin.as_mut() {
                pin.attempts = pin.attempts.saturating_sub(1);
            }
            entry.failures = 0;
            entry.ticket = Some(ticket);
        }
        Ok(true)
    }

    async fn find_ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError> {
        let all = lock(&self.inner);
        Ok(all
            .tickets
            .get(ticket_hash)
            .and_then(|user| all.entries.get(user))
            .and_then(|e| e.ticket.clone())
            .filter(|t| ct_eq(&t.hash, ticket_hash)))
    }

    async fn consume_ticket(&self, user: &UserId, ticket_hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut all = lock(&self.inner);
        let Some(entry) = all.entries.get(user) else {
            return Ok(false);
        };
        let valid = match (&entry.ticket, &entry.pin) {
            (Some(t), Some(pin)) => {
                ct_eq(&t.hash, ticket_hash) && !is_expired(t.expires_at, now) && t.pin_id == pin.pin_id
            }
            _ => false,
        };
        if valid {
            all.clear_ticket(user);
            if let Some(entry) = all.entries.get_mut(user) {
                entry.replace_pin(None);
            }
        }
        Ok(valid)
    }

    async fn revoke_pin(&self, user: &UserId) -> Result<(), StoreError> {
        let mut all = lock(&self.inner);
        all.clear_ticket(user);
        if let Some(entry) = all.entries.get_mut(user) {
            entry.replace_pin(None);
        }
        Ok(())
    }

    async fn record_delivery(&self, user: &UserId, record: DeliveryRecord) -> Result<(), StoreError> {
        let mut all = lock(&self.inner);
        let deliveries = &mut all.entries.entry(user.clone()).or_default().deliveries;
        deliveries.retain(|d| d.channel != record.channel);
        deliveries.push(record);
        deliveries.sort_by_key(|d| d.channel);
        Ok(())
    }

    async fn clear_failures(&self, user: &UserId) -> Result<(), StoreError> {
        if let Some(entry) = lock(&self.inner).entries.get_mut(user) {
            entry.failures = 0;
        }
        Ok(())
    }
}
