//! [`ActivationService`]: loads, asks the pure rules in [`crate::state`],
//! stores, notifies. Nothing else.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use blake2::{Blake2b256, Digest};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rand::Rng;
use tracing::instrument;

use crate::audit::{AuditEvent, AuditSink, NoAudit, RefusalReason, ResetRefusal};
use crate::clock::{Clock, SystemClock};
use crate::config::{ActivationConfig, ResetMode, delta};
use crate::error::{Error, Result};
use crate::hash::{HashErrorKind, HashProbe, HashStats, Hasher, Keyring, Verification};
use crate::identity::{Email, Login, Phone, Role, UserId, normalize_display_name};
use crate::notify::{Channel, ChannelKind, Notifier, PinPurpose, build_message};
use crate::password::normalize;
use crate::pin::{draw_pin, hex, parse_pin_input};
use crate::secret::{Password, Pin, ResetTicket};
use crate::state::{self, AccountState, ActivationStatus};
use crate::store::{
    AttemptLimits, AttemptReservation, ChannelChoice, DeliveryOutcome, DeliveryRecord, PinRecord, PinStore, SendLimits,
    SendReservation, StoreError, StoreErrorKind, TicketRecord, User, UserStore,
};

/// A user to create. Empty strings count as absent, so CSV rows map
/// directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The portal's own id for the user; a random one when `None`.
    pub id: Option<String>,
    /// The name used in greetings.
    pub display_name: String,
    /// Email address, any case and spacing.
    pub email: Option<String>,
    /// Phone number, any common format; national numbers use the configured
    /// default region.
    pub phone: Option<String>,
    /// Tenant, staff, ...
    pub role: Role,
}

impl NewUser {
    /// A tenant with this name and no contact yet.
    pub fn new(display_name: impl Into<String>) -> Self {
        Self {
            id: None,
            display_name: display_name.into(),
            email: None,
            phone: None,
            role: Role::Tenant,
        }
    }

    /// Sets the email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// Sets the role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Uses the portal's own id.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// A PIN that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Email or SMS.
    pub channel: ChannelKind,
    /// Activation or reset.
    pub purpose: PinPurpose,
    /// When the PIN stops working.
    pub expires_at: DateTime<Utc>,
    /// The provider's message id, where there is one.
    pub provider_id: Option<String>,
}

/// What happened to the first activation of a created user.
#[derive(Debug)]
pub enum FirstActivation {
    /// A PIN was delivered.
    Sent(Delivery),
    /// The user has neither email nor phone; nothing was sent.
    NoContact,
    /// Sending failed; the user exists and staff can re-send.
    Failed(Error),
}

/// Who asked for a PIN: decides the send budget and whether a reset of an
/// active account may revoke its password.
#[derive(Debug, Clone, Copy)]
enum Requester<'a> {
    /// Staff (a re-send, or creating the user; `None` when no staff member
    /// is named, as in a bulk import).
    Staff(Option<&'a UserId>),
    /// The user, anonymously (`request_pin`).
    SelfService,
}

impl<'a> Requester<'a> {
    fn staff(self) -> Option<&'a UserId> {
        match self {
            Requester::Staff(by) => by,
            Requester::SelfService => None,
        }
    }
}

/// The result of [`ActivationService::create_user`].
#[derive(Debug)]
pub struct CreatedUser {
    /// The stored user.
    pub user: User,
    /// The first activation.
    pub activation: FirstActivation,
}

/// A successful sign-in.
#[derive(Debug)]
pub enum SignIn {
    /// Right password: the user is signed in. Sessions should remember
    /// `credential_version` and end when it changes.
    SignedIn {
        /// The user.
        user_id: UserId,
        /// The user's credential version.
        credential_version: u64,
    },
    /// Right PIN: the user must choose a new password now, with this
    /// single-use ticket, before `expires_at`.
    ResetRequired {
        /// The user.
        user_id: UserId,
        /// Pass it to [`ActivationService::complete_reset`].
        ticket: ResetTicket,
        /// When the ticket stops working.
        expires_at: DateTime<Utc>,
    },
}

/// The result of [`ActivationService::complete_reset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetCompleted {
    /// The user, now active.
    pub user_id: UserId,
    /// The new credential version: end sessions with an older one.
    pub credential_version: u64,
}

/// The staff view of a user's activation: the state, and the last delivery
/// attempt per channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationReport {
    /// Where the activation stands.
    pub status: ActivationStatus,
    /// The last delivery attempt per channel, email first.
    pub deliveries: Vec<DeliveryRecord>,
}

/// A self-service PIN request running in the background. Dropping it lets the
/// work go on; [`finished`](Self::finished) waits for it (tests, CLI tools).
/// It says nothing about whether the identifier exists.
#[derive(Debug)]
pub struct PinRequest {
    handle: tokio::task::JoinHandle<()>,
}

impl PinRequest {
    /// Waits until the request has been handled (sent, ignored or failed;
    /// see the audit events for which).
    pub async fn finished(self) {
        let _ = self.handle.await;
    }
}

type PinRng = Mutex<Box<dyn Rng + Send>>;

/// Builds an [`ActivationService`].
pub struct ServiceBuilder<U, P, N, C = SystemClock> {
    users: U,
    pins: P,
    notifier: N,
    clock: C,
    config: ActivationConfig,
    audit: Arc<dyn AuditSink>,
    keyring: Keyring,
    probe: Option<Arc<dyn HashProbe>>,
    pin_rng: Option<PinRng>,
}

impl<U, P, N, C> fmt::Debug for ServiceBuilder<U, P, N, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBuilder")
            .field("config", &self.config)
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

impl<U, P, N, C> ServiceBuilder<U, P, N, C>
where
    U: UserStore,
    P: PinStore,
    N: Notifier,
    C: Clock,
{
    /// Uses `config` (validated by [`build`](Self::build)).
    pub fn config(mut self, config: ActivationConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses another clock (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn clock<C2: Clock>(self, clock: C2) -> ServiceBuilder<U, P, N, C2> {
        ServiceBuilder {
            users: self.users,
            pins: self.pins,
            notifier: self.notifier,
            clock,
            config: self.config,
            audit: self.audit,
            keyring: self.keyring,
            probe: self.probe,
            pin_rng: self.pin_rng,
        }
    }

    /// Sends audit events to `sink` (default: none; they still reach `tracing`).
    pub fn audit(mut self, sink: impl AuditSink) -> Self {
        self.audit = Arc::new(sink);
        self
    }

    /// Peppers hashes with the keyring's current key.
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = keyring;
        self
    }

    /// Observes every argon2 computation (tests, metrics).
    pub fn hash_probe(mut self, probe: Arc<dyn HashProbe>) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Draws PINs from `rng` instead of the thread-local CSPRNG. For tests
    /// that need known PINs (seed a `StdRng`); never in production.
    pub fn pin_rng(mut self, rng: impl Rng + Send + 'static) -> Self {
        self.pin_rng = Some(Mutex::new(Box::new(rng)));
        self
    }

    /// Validates the config and builds the service. Computes one hash (a
    /// dummy for equal-work refusals).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid config, [`Error::Hashing`] for an
    /// unusable preset or pepper.
    pub fn build(self) -> Result<ActivationService<U, P, N, C>> {
        self.config.validate()?;
        let hasher = Hasher::new(
            self.config.hashing.preset,
            self.keyring,
            self.config.hashing.concurrency(),
            self.probe,
        )?;
        Ok(ActivationService {
            inner: Arc::new(Inner {
                users: self.users,
                pins: self.pins,
                notifier: self.notifier,
                clock: self.clock,
                config: self.config,
                hasher,
                audit: self.audit,
                pin_rng: self.pin_rng,
            }),
        })
    }
}

/// The activation service. Cheap to clone (one `Arc`); share it between
/// request handlers.
pub struct ActivationService<U, P, N, C = SystemClock> {
    inner: Arc<Inner<U, P, N, C>>,
}

struct Inner<U, P, N, C> {
    users: U,
    pins: P,
    notifier: N,
    clock: C,
    config: ActivationConfig,
    hasher: Hasher,
    audit: Arc<dyn AuditSink>,
    pin_rng: Option<PinRng>,
}

impl<U, P, N, C> Clone for ActivationService<U, P, N, C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U, P, N, C> fmt::Debug for ActivationService<U, P, N, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivationService")
            .field("config", &self.inner.config)
            .field("hasher", &self.inner.hasher)
            .finish_non_exhaustive()
    }
}

impl<U, P, N> ActivationService<U, P, N, SystemClock>
where
    U: UserStore,
    P: PinStore,
    N: Notifier,
{
    /// Starts building a service over these stores and notifier, with the
    /// default config (OWASP hashing), the system clock and no audit sink.
    pub fn builder(users: U, pins: P, notifier: N) -> ServiceBuilder<U, P, N, SystemClock> {
        ServiceBuilder {
            users,
            pins,
            notifier,
            clock: SystemClock,
            config: ActivationConfig::default(),
            audit: Arc::new(NoAudit),
            keyring: Keyring::none(),
            probe: None,
            pin_rng: None,
        }
    }
}

fn store_err(e: StoreError) -> Error {
    match e.kind() {
        StoreErrorKind::Conflict(field) => Error::Duplicate(field),
        StoreErrorKind::NotFound => Error::UnknownUser,
        _ => Error::Store(e),
    }
}

fn optional(input: Option<&str>) -> Option<&str> {
    input.filter(|s| !s.trim().is_empty())
}

/// Tickets are 32 random bytes in hex; only their BLAKE2b-256 is stored
/// (they are random, so a fast hash is enough).
fn ticket_hash(ticket: &str) -> String {
    hex(&Blake2b256::digest(ticket.as_bytes()))
}

fn is_ticket_shaped(ticket: &str) -> bool {
    ticket.len() == 64 && ticket.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl<U, P, N, C> ActivationService<U, P, N, C>
where
    U: UserStore,
    P: PinStore,
    N: Notifier,
    C: Clock,
{
    /// Now, to the microsecond: the precision every store keeps.
    fn now(&self) -> DateTime<Utc> {
        let now = self.inner.clock.now();
        now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
    }

    fn audit(&self, event: AuditEvent) {
        tracing::info!(target: "pin_activation::audit", event = ?event);
        self.inner.audit.record(self.now(), &event);
    }

    /// The validated config.
    pub fn config(&self) -> &ActivationConfig {
        &self.inner.config
    }

    /// Hashing counters (for tests, metrics and benchmarks).
    pub fn hash_stats(&self) -> HashStats {
        self.inner.hasher.stats()
    }

    /// The user store.
    pub fn user_store(&self) -> &U {
        &self.inner.users
    }

    /// The PIN store.
    pub fn pin_store(&self) -> &P {
        &self.inner.pins
    }

    /// The notifier.
    pub fn notifier(&self) -> &N {
        &self.inner.notifier
    }

    fn attempt_limits(&self) -> AttemptLimits {
        AttemptLimits {
            max_attempts: self.inner.config.max_attempts,
            max_account_failures: self.inner.config.max_account_failures,
        }
    }

    /// Creates a user and, when they have an email or phone, sends the first
    /// activation PIN (by email when both are present).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed name, id, email or phone;
    /// [`Error::Duplicate`] when another user has the id, email or phone;
    /// [`Error::Store`]. A failed first delivery is not an error: see
    /// [`FirstActivation::Failed`].
    #[instrument(skip_all)]
    pub async fn create_user(&self, new: NewUser, by: Option<&UserId>) -> Result<CreatedUser> {
        let region = self.inner.config.default_region;
        let user = User {
            id: match &new.id {
                Some(id) => UserId::new(id.trim())?,
                None => UserId::random(),
            },
            display_name: normalize_display_name(&new.display_name)?,
            role: new.role,
            email: optional(new.email.as_deref()).map(Email::parse).transpose()?,
            phone: optional(new.phone.as_deref())
                .map(|p| Phone::parse(p, region))
                .transpose()?,
            state: AccountState::Pending,
            password_hash: None,
            credential_version: 0,
            created_at: self.now(),
        };
        self.inner.users.insert(user.clone()).await.map_err(store_err)?;
        self.audit(AuditEvent::UserCreated {
            user: user.id.clone(),
            by: by.cloned(),
        });
        let activation = if user.can_activate() {
            match self.issue(&user, ChannelChoice::Preferred, Requester::Staff(by)).await {
                Ok(d) => FirstActivation::Sent(d),
                Err(e) => FirstActivation::Failed(e),
            }
        } else {
            FirstActivation::NoContact
        };
        Ok(CreatedUser { user, activation })
    }

    /// The user with `id`.
    ///
    /// # Errors
    /// [`Error::UnknownUser`], [`Error::Store`].
    pub async fn user(&self, id: &UserId) -> Result<User> {
        self.inner.users.get(id).await?.ok_or(Error::UnknownUser)
    }

    /// The user an email or phone belongs to (staff search; normalized as at
    /// sign-in).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed identifier, [`Error::Store`].
    pub async fn find_user(&self, identifier: &str) -> Result<Option<User>> {
        let login = Login::parse(identifier, self.inner.config.default_region)?;
        Ok(self.inner.users.find_by_login(&login).await?)
    }

    /// All users (staff lists).
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.inner.users.list().await?)
    }

    /// Whether "Activate Account" is available: the user has an email or a
    /// phone.
    ///
    /// # Errors
    /// [`Error::UnknownUser`], [`Error::Store`].
    pub async fn can_activate(&self, id: &UserId) -> Result<bool> {
        Ok(self.user(id).await?.can_activate())
    }

    /// The channels that can reach the user, email first.
    ///
    /// # Errors
    /// [`Error::UnknownUser`], [`Error::Store`].
    pub async fn channels(&self, id: &UserId) -> Result<Vec<Channel>> {
        Ok(self.user(id).await?.channels())
    }

    /// The staff view of the user's activation. Not for anonymous callers:
    /// it tells whether an account exists and how it stands.
    ///
    /// # Errors
    /// [`Error::UnknownUser`], [`Error::Store`].
    pub async fn activation_status(&self, id: &UserId) -> Result<ActivationReport> {
        let user = self.user(id).await?;
        let pins = self.inner.pins.snapshot(id).await?;
        let c = &self.inner.config;
        let status = state::activation_status(&user, &pins, self.now(), c.max_attempts, c.max_account_failures);
        Ok(ActivationReport {
            status,
            deliveries: pins.deliveries,
        })
    }

    /// Staff "Activate Account": sends a fresh PIN over `choice`; the old PIN
    /// stops working. For an active user this is the lost-password reset:
    /// the user moves to `ResetRequired`, and in
    /// [`ResetMode::Revoke`] the old password stops working too.
    ///
    /// # Errors
    /// [`Error::UnknownUser`]; [`Error::NoContactChannel`];
    /// [`Error::ChannelUnavailable`]; [`Error::Throttled`] with the time to
    /// retry; [`Error::Delivery`] (the user is left as before);
    /// [`Error::Store`], [`Error::Hashing`].
    #[instrument(skip_all, fields(user = %id))]
    pub async fn resend_activation(&self, id: &UserId, choice: ChannelChoice, by: &UserId) -> Result<Delivery> {
        let user = self.user(id).await?;
        self.issue(&user, choice, Requester::Staff(Some(by))).await
    }

    /// Self-service "send me a new code" / "forgot password". Answers the
    /// same, at once, whether or not the identifier belongs to anyone: the
    /// work runs in the background, and only the user's contact on record
    /// ever receives a PIN. Throttled like a staff re-send. A user whose PIN
    /// sign-in is locked gets nothing (the PIN could not work before a staff
    /// unlock), audited as [`AuditEvent::RequestIgnored`].
    ///
    /// Must be called within a tokio runtime.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the identifier is neither an email
    /// address nor a phone number (a fact about the input, not the account).
    pub async fn request_pin(&self, identifier: &str) -> Result<PinRequest> {
        let login = Login::parse(identifier, self.inner.config.default_region)?;
        let this = self.clone();
        let handle = tokio::spawn(async move {
            let user = match this.inner.users.find_by_login(&login).await {
                Ok(Some(user)) if user.can_activate() && !this.locked(&user.id).await => user,
                Ok(user) => {
                    this.audit(AuditEvent::RequestIgnored {
                        user: user.map(|u| u.id),
                    });
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "self-service PIN request: store failed");
                    return;
                }
            };
            if let Err(e) = this
                .issue(&user, ChannelChoice::Preferred, Requester::SelfService)
                .await
            {
                // Throttling and delivery failures are already audited.
                tracing::info!(user = %user.id, error = %e, "self-service PIN request not sent");
            }
        });
        Ok(PinRequest { handle })
    }

    /// Whether PIN sign-in is locked for the user (a store failure counts
    /// as not locked: the send throttle still applies).
    async fn locked(&self, id: &UserId) -> bool {
        self.inner
            .pins
            .snapshot(id)
            .await
            .is_ok_and(|s| state::is_locked(s.failures, self.inner.config.max_account_failures))
    }

    /// The channels to try, in order: the chosen one alone, or the
    /// configured preferred kind first, followed (with fallback on) by the
    /// other.
    fn channels_to_try(&self, user: &User, choice: ChannelChoice) -> Result<Vec<Channel>> {
        let mut channels = user.channels();
        if channels.is_empty() {
            return Err(Error::NoContactChannel);
        }
        match choice {
            ChannelChoice::Preferred => {
                let preferred = self.inner.config.preferred_channel;
                channels.sort_by_key(|c| c.kind() != preferred);
                if !self.inner.config.channel_fallback {
                    channels.truncate(1);
                }
                Ok(channels)
            }
            ChannelChoice::Only(kind) => channels
                .into_iter()
                .find(|c| c.kind() == kind)
                .map(|c| vec![c])
                .ok_or(Error::ChannelUnavailable(kind)),
        }
    }

    fn draw(&self) -> Pin {
        let c = &self.inner.config;
        match &self.inner.pin_rng {
            Some(rng) => {
                let mut rng = rng.lock().unwrap_or_else(PoisonError::into_inner);
                draw_pin(&mut **rng, c.pin_length, c.exclude_trivial_pins)
            }
            None => draw_pin(&mut rand::rng(), c.pin_length, c.exclude_trivial_pins),
        }
    }

    /// Draws a PIN that differs from the one it replaces. Only the old hash
    /// is known, so each candidate costs one verification (re-sends only).
    async fn draw_fresh(&self, previous: Option<&str>) -> Result<Pin> {
        let mut pin = self.draw();
        if let Some(prev) = previous {
            // Equal draws happen one time in a million; the bound only
            // guards against a broken injected RNG.
            for _ in 0..16 {
                match self.inner.hasher.verify(pin.expose_secret().as_bytes(), prev).await {
                    Ok(v) if v.matches => pin = self.draw(),
                    _ => break,
                }
            }
        }
        Ok(pin)
    }

    async fn issue(&self, user: &User, choice: ChannelChoice, requester: Requester<'_>) -> Result<Delivery> {
        let channels = self.channels_to_try(user, choice)?;
        let now = self.now();
        let c = &self.inner.config;
        let limits = SendLimits {
            cooldown: delta(c.resend_cooldown),
            // Anonymous requests draw on a smaller budget, so they can never
            // use up the sends staff have for the user.
            daily_cap: match requester {
                Requester::Staff(_) => c.daily_send_cap,
                Requester::SelfService => c.self_service_daily_cap.min(c.daily_send_cap),
            },
        };
        if let SendReservation::Throttled { retry_at } = self.inner.pins.reserve_send(&user.id, now, limits).await? {
            self.audit(AuditEvent::Throttled {
                user: user.id.clone(),
                retry_at,
            });
            return Err(Error::Throttled { retry_at });
        }
        match self.issue_reserved(user, channels, requester, now).await {
            Err(e @ (Error::Delivery(_) | Error::Hashing(_))) => {
                // Nothing went out: the send does not count.
                self.inner.pins.release_send(&user.id, now).await?;
                Err(e)
            }
            other => other,
        }
    }

    async fn issue_reserved(
        &self,
        user: &User,
        channels: Vec<Channel>,
        requester: Requester<'_>,
        now: DateTime<Utc>,
    ) -> Result<Delivery> {
        let c = &self.inner.config;
        let by = requester.staff();
        let (purpose, next_state) = state::on_pin_issued(user.state);
        let ttl = match purpose {
            PinPurpose::Activation => c.activation_ttl,
            PinPurpose::Reset => c.reset_ttl,
        };
        // Whole seconds, so the instant in the message is exactly the stored
        // one; rounded up, so a PIN never lives less than its TTL.
        let expires_at = (now + delta(ttl))
            .duration_round_up(TimeDelta::seconds(1))
            .unwrap_or(now + delta(ttl));

        let snapshot = self.inner.pins.snapshot(&user.id).await?;
        let previous = snapshot.pin.map(|p| p.hash).or(snapshot.previous_hash);
        let pin = self.draw_fresh(previous.as_deref()).await?;
        let hash = self.inner.hasher.hash(pin.expose_secret().as_bytes()).await?;

        let (channel, receipt) = self.deliver(user, channels, purpose, &pin, expires_at).await?;
        drop(pin);
        let kind = channel.kind();
        let record = PinRecord {
            pin_id: UserId::random().as_str()[2..].to_owned(),
            hash,
            purpose,
            channel,
            issued_at: now,
            expires_at,
            attempts: 0,
            issued_by: by.cloned(),
        };
        // Revoking the password is a staff decision about a compromised
        // account; an anonymous "forgot password" must never end someone
        // else's password and sessions.
        // (A user already in ResetRequired after such a request still has
        // the password, and a staff re-send in revoke mode ends it.)
        let revoke = c.reset_mode == ResetMode::Revoke
            && user.password_hash.is_some()
            && matches!(requester, Requester::Staff(_));
        if next_state == user.state {
            // Pending or ResetRequired: confirm the state before the old PIN
            // is replaced (a failure here leaves the old PIN working), then
            // check again after: a reset that completed in between must not
            // keep a new PIN beside its new password.
            if !self
                .inner
                .users
                .transition(&user.id, user.state, next_state, revoke)
                .await?
            {
                return Err(Error::IllegalTransition(
                    "the account changed during the re-send; reload and retry",
                ));
            }
            self.inner.pins.put_pin(&user.id, record).await?;
            let now_state = self.inner.users.get(&user.id).await?.map(|u| u.state);
            if now_state != Some(user.state) {
                self.inner.pins.revoke_pin(&user.id).await?;
                return Err(Error::IllegalTransition(
                    "the account changed during the re-send; reload and retry",
                ));
            }
        } else {
            // Active -> ResetRequired: an active account has no live PIN, so
            // the PIN goes in first and is taken out again if the move fails.
            self.inner.pins.put_pin(&user.id, record).await?;
            let moved = self
                .inner
                .users
                .transition(&user.id, user.state, next_state, revoke)
                .await;
            if !matches!(moved, Ok(true)) {
                if let Err(e) = self.inner.pins.revoke_pin(&user.id).await {
                    tracing::warn!(user = %user.id, error = %e, "could not remove the PIN of a failed re-send");
                }
                moved?;
                return Err(Error::IllegalTransition(
                    "the account changed during the re-send; reload and retry",
                ));
            }
        }
        if next_state != user.state || revoke {
            self.audit(AuditEvent::ResetStarted {
                user: user.id.clone(),
                password_revoked: revoke,
            });
        }
        self.audit(AuditEvent::PinIssued {
            user: user.id.clone(),
            purpose,
            channel: kind,
            expires_at,
            by: by.cloned(),
        });
        Ok(Delivery {
            channel: kind,
            purpose,
            expires_at,
            provider_id: receipt.provider_id,
        })
    }

    /// Sends the PIN over the first channel that takes it. A permanent
    /// failure moves on to the next channel; a transient one (already
    /// retried by the transport) ends the attempt.
    async fn deliver(
        &self,
        user: &User,
        channels: Vec<Channel>,
        purpose: PinPurpose,
        pin: &Pin,
        expires_at: DateTime<Utc>,
    ) -> Result<(Channel, crate::notify::DeliveryReceipt)> {
        let mut last_error = None;
        for channel in channels {
            let kind = channel.kind();
            let message = build_message(
                &self.inner.config.messages,
                user.id.clone(),
                &user.display_name,
                channel.clone(),
                purpose,
                pin.clone(),
                expires_at,
            );
            let result = self.inner.notifier.send(&message).await;
            drop(message);
            let outcome = match &result {
                Ok(receipt) => DeliveryOutcome::Delivered {
                    provider_id: receipt.provider_id.clone(),
                },
                Err(e) => DeliveryOutcome::Failed { kind: e.kind() },
            };
            self.track_delivery(&user.id, kind, outcome).await;
            match result {
                Ok(receipt) => {
                    self.audit(AuditEvent::Delivered {
                        user: user.id.clone(),
                        channel: kind,
                        provider_id: receipt.provider_id.clone(),
                    });
                    return Ok((channel, receipt));
                }
                Err(e) => {
                    self.audit(AuditEvent::DeliveryFailed {
                        user: user.id.clone(),
                        channel: kind,
                        kind: e.kind(),
                    });
                    let transient = e.is_transient();
                    last_error = Some(e);
                    if transient {
                        break;
                    }
                }
            }
        }
        match last_error {
            Some(e) => Err(Error::Delivery(e)),
            None => Err(Error::NoContactChannel),
        }
    }

    /// Delivery tracking is best effort: a store failure here must not turn
    /// a delivered PIN into an error.
    async fn track_delivery(&self, user: &UserId, channel: ChannelKind, outcome: DeliveryOutcome) {
        let record = DeliveryRecord {
            channel,
            at: self.now(),
            outcome,
        };
        if let Err(e) = self.inner.pins.record_delivery(user, record).await {
            tracing::warn!(user = %user, error = %e, "could not record the delivery outcome");
        }
    }

    async fn refuse(&self, user: Option<&UserId>, reason: RefusalReason, spend: bool) -> Result<SignIn> {
        if spend {
            self.inner.hasher.spend_equal_work().await?;
        }
        self.audit(AuditEvent::SignInRefused {
            user: user.cloned(),
            reason,
        });
        Err(Error::InvalidCredentials)
    }

    /// Signs a user in with an email address or phone number and a secret.
    /// A secret that is exactly the PIN's length in digits (spaces and
    /// dashes allowed) is checked as a PIN, anything else as a password. Every
    /// refusal is the same [`Error::InvalidCredentials`] and costs one hash,
    /// except for input that could be neither a PIN nor a password (refused
    /// before any lookup).
    ///
    /// # Errors
    /// [`Error::InvalidCredentials`]; [`Error::Store`] and
    /// [`Error::Hashing`] for faults.
    #[instrument(skip_all)]
    pub async fn login(&self, identifier: &str, secret: &Password) -> Result<SignIn> {
        let c = &self.inner.config;
        let Ok(login) = Login::parse(identifier, c.default_region) else {
            return self.refuse(None, RefusalReason::MalformedIdentifier, false).await;
        };
        let pin = parse_pin_input(secret.expose_secret(), c.pin_length);
        if pin.is_none() && !c.password.length_ok(secret.expose_secret()) {
            return self.refuse(None, RefusalReason::MalformedSecret, false).await;
        }
        let Some(user) = self.inner.users.find_by_login(&login).await? else {
            return self.refuse(None, RefusalReason::UnknownUser, true).await;
        };
        match pin {
            Some(pin) => self.login_with_pin(&user, &pin).await,
            None => self.login_with_password(&user, secret).await,
        }
    }

    /// Checks `secret` against a user's stored hash. `None` when the hash
    /// cannot be checked (its pepper key left the keyring, or it is not a
    /// PHC string this crate reads): no computation ran, and the caller
    /// refuses after the same work as a wrong secret, so a known user with
    /// such a hash looks like any other refusal. The operator sees an error
    /// log and the audit reason.
    async fn verify_stored(&self, user: &UserId, secret: &[u8], stored: &str) -> Result<Option<Verification>> {
        match self.inner.hasher.verify(secret, stored).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if matches!(e.kind(), HashErrorKind::UnknownKey | HashErrorKind::MalformedHash) => {
                tracing::error!(user = %user, error = %e, "a stored hash cannot be checked; keep retired pepper keys in the keyring");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn login_with_pin(&self, user: &User, pin: &Pin) -> Result<SignIn> {
        let id = Some(&user.id);
        if !state::accepts_pin(user.state) {
            return self.refuse(id, RefusalReason::NoLivePin, true).await;
        }
        let now = self.now();
        let limits = self.attempt_limits();
        let (record, failures) = match self.inner.pins.reserve_attempt(&user.id, now, limits).await? {
            AttemptReservation::Granted { pin, failures } => (pin, failures),
            AttemptReservation::NoPin => return self.refuse(id, RefusalReason::NoLivePin, true).await,
            AttemptReservation::Expired => return self.refuse(id, RefusalReason::PinExpired, true).await,
            AttemptReservation::Exhausted => return self.refuse(id, RefusalReason::PinExhausted, true).await,
            AttemptReservation::Locked => return self.refuse(id, RefusalReason::AccountLocked, true).await,
        };
        if !user.has_contact(&record.channel) {
            return self.refuse(id, RefusalReason::ContactChanged, true).await;
        }
        let Some(verified) = self
            .verify_stored(&user.id, pin.expose_secret().as_bytes(), &record.hash)
            .await?
        else {
            return self.refuse(id, RefusalReason::UnverifiableHash, true).await;
        };
        if !verified.matches {
            if record.attempts >= limits.max_attempts {
                self.audit(AuditEvent::AttemptsExhausted { user: user.id.clone() });
            }
            if failures == limits.max_account_failures {
                self.audit(AuditEvent::AccountLocked {
                    user: user.id.clone(),
                    failures,
                });
            }
            return self.refuse(id, RefusalReason::WrongPin, false).await;
        }
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        rand::fill(&mut bytes[..]);
        let ticket = ResetTicket::new(hex(bytes.as_ref()));
        let expires_at = now + delta(self.inner.config.ticket_ttl);
        let stored = TicketRecord {
            user_id: user.id.clone(),
            pin_id: record.pin_id.clone(),
            hash: ticket_hash(ticket.expose_secret()),
            expires_at,
        };
        if !self.inner.pins.record_success(&user.id, &record.pin_id, stored).await? {
            return self.refuse(id, RefusalReason::PinReplaced, false).await;
        }
        self.audit(AuditEvent::PinAccepted { user: user.id.clone() });
        Ok(SignIn::ResetRequired {
            user_id: user.id.clone(),
            ticket,
            expires_at,
        })
    }

    async fn login_with_password(&self, user: &User, secret: &Password) -> Result<SignIn> {
        let id = Some(&user.id);
        let (true, Some(stored)) = (state::accepts_password(user), user.password_hash.as_deref()) else {
            return self.refuse(id, RefusalReason::NoPassword, true).await;
        };
        let normalized = Password::new(normalize(secret.expose_secret()));
        let bytes = normalized.expose_secret().as_bytes();
        let Some(verified) = self.verify_stored(&user.id, bytes, stored).await? else {
            return self.refuse(id, RefusalReason::UnverifiableHash, true).await;
        };
        if !verified.matches {
            return self.refuse(id, RefusalReason::WrongPassword, false).await;
        }
        if verified.needs_rehash {
            // Once per user after a parameter or pepper change: the one
            // sign-in that costs two hashes.
            let fresh = self.inner.hasher.hash(bytes).await?;
            if self.inner.users.replace_password_hash(&user.id, stored, fresh).await? {
                self.audit(AuditEvent::PasswordRehashed { user: user.id.clone() });
            }
        }
        if user.state == AccountState::ResetRequired {
            self.end_pending_reset(&user.id).await?;
        }
        self.audit(AuditEvent::SignedIn { user: user.id.clone() });
        Ok(SignIn::SignedIn {
            user_id: user.id.clone(),
            credential_version: user.credential_version,
        })
    }

    /// A right password during a keep-mode reset: the user has their
    /// password, so the reset's PIN, its ticket and the PIN failures it
    /// collected go, and the account is `Active` again (a "forgot password"
    /// typed by anyone must not park an account in daily use in
    /// `ResetRequired`). The PIN goes first, as in `complete_reset`: a store
    /// failure leaves a pending reset without a PIN, never an active account
    /// beside one. The move is compare-and-set and needs a stored password,
    /// so a racing revoke-mode re-send wins; a keep-mode re-send that stored
    /// its PIN in between loses it to the second removal.
    async fn end_pending_reset(&self, id: &UserId) -> Result<()> {
        let pins = &self.inner.pins;
        pins.revoke_pin(id).await?;
        pins.clear_failures(id).await?;
        let ended = self
            .inner
            .users
            .transition(id, AccountState::ResetRequired, AccountState::Active, false)
            .await?;
        if ended {
            pins.revoke_pin(id).await?;
            self.audit(AuditEvent::ResetCancelled { user: id.clone() });
        }
        Ok(())
    }

    fn refuse_reset(&self, user: Option<&UserId>, reason: ResetRefusal, error: Error) -> Error {
        self.audit(AuditEvent::ResetRefused {
            user: user.cloned(),
            reason,
        });
        error
    }

    /// Sets the new password of `user_id` (from [`SignIn::ResetRequired`])
    /// with the ticket a right PIN earned; a ticket of another user is
    /// refused. Checks the policy, stores the argon2id hash, consumes the PIN and the ticket, and
    /// makes the user active with a bumped credential version.
    ///
    /// The ticket and PIN are consumed first, then the password is stored;
    /// if the store fails between the two, the user stays `Pending` or
    /// `ResetRequired` without a PIN (never active with a live PIN) and staff
    /// re-send.
    ///
    /// # Errors
    /// [`Error::InvalidTicket`] for an unknown, expired, used or foreign
    /// ticket; [`Error::WeakPassword`] (the ticket stays usable);
    /// [`Error::IllegalTransition`]; [`Error::Store`], [`Error::Hashing`].
    #[instrument(skip_all)]
    pub async fn complete_reset(
        &self,
        user_id: &UserId,
        ticket: &ResetTicket,
        new_password: &Password,
    ) -> Result<ResetCompleted> {
        let now = self.now();
        let raw = ticket.expose_secret();
        if !is_ticket_shaped(raw) {
            return Err(self.refuse_reset(None, ResetRefusal::InvalidTicket, Error::InvalidTicket));
        }
        let hash = ticket_hash(raw);
        match self.inner.pins.find_ticket(&hash).await? {
            Some(r) if &r.user_id == user_id && !state::is_expired(r.expires_at, now) => {}
            _ => return Err(self.refuse_reset(Some(user_id), ResetRefusal::InvalidTicket, Error::InvalidTicket)),
        }
        let user_id = user_id.clone();
        let user = self.user(&user_id).await?;
        if state::on_reset_completed(user.state).is_err() {
            return Err(self.refuse_reset(Some(&user_id), ResetRefusal::InvalidTicket, Error::InvalidTicket));
        }
        let identifiers: Vec<&str> = [
            user.email.as_ref().map(Email::as_str),
            user.phone.as_ref().map(Phone::as_str),
            Some(user.display_name.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let c = &self.inner.config;
        let password = c
            .password
            .check(new_password, &identifiers, c.pin_length)
            .map_err(|r| self.refuse_reset(Some(&user_id), ResetRefusal::WeakPassword, Error::WeakPassword(r)))?;
        let password_hash = self.inner.hasher.hash(password.expose_secret().as_bytes()).await?;
        if !self.inner.pins.consume_ticket(&user_id, &hash, now).await? {
            return Err(self.refuse_reset(Some(&user_id), ResetRefusal::InvalidTicket, Error::InvalidTicket));
        }
        let Some(credential_version) = self
            .inner
            .users
            .set_password(&user_id, user.state, password_hash)
            .await?
        else {
            return Err(Error::IllegalTransition(
                "the account changed while the password was being set",
            ));
        };
        // The ticket's PIN is gone; a PIN that a racing re-send stored in the
        // meantime must not outlive the activation (an active account never
        // signs in with a PIN, but staff would see a live one).
        if let Err(e) = self.inner.pins.revoke_pin(&user_id).await {
            tracing::warn!(user = %user_id, error = %e, "could not remove a PIN left beside the new password");
        }
        self.audit(AuditEvent::ResetCompleted {
            user: user_id.clone(),
            credential_version,
        });
        Ok(ResetCompleted {
            user_id,
            credential_version,
        })
    }

    /// Replaces the user's email and phone (`None` or blank removes one).
    /// Any change revokes the live PIN: a PIN is bound to the address it
    /// was sent to.
    ///
    /// # Errors
    /// [`Error::InvalidInput`], [`Error::Duplicate`], [`Error::UnknownUser`],
    /// [`Error::Store`].
    #[instrument(skip_all, fields(user = %id))]
    pub async fn update_contact(
        &self,
        id: &UserId,
        email: Option<&str>,
        phone: Option<&str>,
        by: Option<&UserId>,
    ) -> Result<User> {
        let region = self.inner.config.default_region;
        let email = optional(email).map(Email::parse).transpose()?;
        let phone = optional(phone).map(|p| Phone::parse(p, region)).transpose()?;
        let user = self.user(id).await?;
        if user.email == email && user.phone == phone {
            return Ok(user);
        }
        let updated = self
            .inner
            .users
            .update_contact(id, email, phone)
            .await
            .map_err(store_err)?;
        self.inner.pins.revoke_pin(id).await?;
        self.audit(AuditEvent::ContactChanged {
            user: id.clone(),
            by: by.cloned(),
        });
        Ok(updated)
    }

    /// Staff unlock: clears the account's consecutive PIN failures.
    ///
    /// # Errors
    /// [`Error::UnknownUser`], [`Error::Store`].
    #[instrument(skip_all, fields(user = %id))]
    pub async fn unlock(&self, id: &UserId, by: &UserId) -> Result<()> {
        self.user(id).await?;
        self.inner.pins.clear_failures(id).await?;
        self.audit(AuditEvent::AccountUnlocked {
            user: id.clone(),
            by: by.clone(),
        });
        Ok(())
    }
}
