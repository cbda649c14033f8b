//! [`Retrying`]: retries transient delivery failures a bounded number of
//! times with exponential backoff; permanent failures go back to the caller
//! at once.
//!
//! The service waits for delivery (a staff member is looking at the
//! "Activate Account" dialog), so the policy bounds the attempts and the
//! longest pause, and the validation keeps both small. Waiting goes through
//! a [`Sleeper`] so tests can record the pauses instead of taking them.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{ActivationMessage, DeliveryError, DeliveryReceipt, Notifier};
use crate::config::ConfigError;

/// How often and how patiently [`Retrying`] retries.
///
/// The pause before retry `k` (1-based) is `base_delay * 2^(k-1)`, capped at
/// `max_delay`; with `jitter` it is drawn uniformly from the upper half of
/// that, so many failed sends do not all come back at the same instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included, 1 to 10. Default 3.
    pub max_attempts: u32,
    /// Pause before the first retry. Default 500 ms.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// Longest pause between two attempts, at most 60 s. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Randomize each pause within its upper half. Default on.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(5),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Checks the bounds.
    ///
    /// # Errors
    /// [`ConfigError`] for zero or more than 10 attempts, a `max_delay`
    /// above 60 s, or a `base_delay` above `max_delay`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=10).contains(&self.max_attempts) {
            return Err(ConfigError::new(
                "retry.max_attempts",
                format!("{} is outside 1..=10", self.max_attempts),
            ));
        }
        if self.max_delay > Duration::from_secs(60) {
            return Err(ConfigError::new(
                "retry.max_delay",
                "must be at most 60s: the caller waits for delivery",
            ));
        }
        if self.base_delay > self.max_delay {
            return Err(ConfigError::new("retry.base_delay", "must not exceed max_delay"));
        }
        Ok(())
    }

    /// The pause before retry `retry` (1 for the first retry), without
    /// jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    fn pause(&self, retry: u32) -> Duration {
        let full = self.backoff(retry);
        if !self.jitter || full.is_zero() {
            return full;
        }
        let half = full / 2;
        half + rand::rng().random_range(Duration::ZERO..=full - half)
    }
}

/// Waits between attempts. [`TokioSleeper`] really waits; tests inject one
/// that records the pauses and returns at once.
#[async_trait]
pub trait Sleeper: Send + Sync + 'static {
    /// Waits for `duration`.
    async fn sleep(&self, duration: Duration);
}

/// Waits with [`tokio::time::sleep`] (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Wraps a notifier and retries its transient failures (timeouts, refused
/// connections, SMTP 4xx, HTTP 429/5xx) per a [`RetryPolicy`]. A permanent
/// failure, or the last transient one, is returned as the inner notifier
/// gave it, with the number of attempts added to its reason.
///
/// ```
/// use pin_activation::notify::{OutboxNotifier, RetryPolicy, Retrying};
///
/// let notifier = Retrying::new(OutboxNotifier::new_ok(), RetryPolicy::default())?;
/// # Ok::<(), pin_activation::ConfigError>(())
/// ```
pub struct Retrying<N> {
    inner: N,
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
}

impl<N: std::fmt::Debug> std::fmt::Debug for Retrying<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrying")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<N: Notifier> Retrying<N> {
    /// Retries `inner`'s transient failures per `policy`, pausing with
    /// [`TokioSleeper`].
    ///
    /// # Errors
    /// [`ConfigError`] when the policy is out of bounds (see
    /// [`RetryPolicy::validate`]).
    pub fn new(inner: N, policy: RetryPolicy) -> Result<Self, ConfigError> {
        policy.validate()?;
        Ok(Self {
            inner,
            policy,
            sleeper: Arc::new(TokioSleeper),
        })
    }

    /// Pauses with `sleeper` instead (tests).
    pub fn with_sleeper(mut self, sleeper: impl Sleeper) -> Self {
        self.sleeper = Arc::new(sleeper);
        self
    }

    /// The wrapped notifier.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

#[async_trait]
impl<N: Notifier> Notifier for Retrying<N> {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let mut attempt = 1;
        loop {
            match self.inner.send(message).await {
                Ok(receipt) => return Ok(receipt),
                Err(e) if e.is_transient() && attempt < self.policy.max_attempts => {
                    let pause = self.policy.pause(attempt);
                    tracing::warn!(
                        user = %message.user_id,
                        channel = %e.channel(),
                        attempt,
                        pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                        error = %e,
                        "transient delivery failure; retrying"
                    );
                    self.sleeper.sleep(pause).await;
                    attempt += 1;
                }
                Err(mut e) => {
                    if attempt > 1 {
                        e.reason = format!("{} (after {attempt} attempts)", e.reason);
                    }
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::notify::tests::email_msg as message;
    use crate::notify::{ChannelKind, DeliveryErrorKind};

    /// Fails with the scripted kinds, then succeeds.
    struct Scripted {
        script: Mutex<Vec<DeliveryErrorKind>>,
        calls: Mutex<u32>,
    }

    impl Scripted {
        fn new(mut failures: Vec<DeliveryErrorKind>) -> Self {
            failures.reverse();
            Self {
                script: Mutex::new(failures),
                calls: Mutex::new(0),
            }
        }
        fn calls(&self) -> u32 {
            *self.calls.lock().unwrap()
        }
    }

    #[async_trait]
    impl Notifier for Scripted {
        async fn send(&self, _: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
            *self.calls.lock().unwrap() += 1;
            match self.script.lock().unwrap().pop() {
                Some(kind) => Err(DeliveryError::new(kind, ChannelKind::Email, "scripted")),
                None => Ok(DeliveryReceipt {
                    channel: ChannelKind::Email,
                    provider_id: None,
                }),
            }
        }
    }

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Duration>>>);

    #[async_trait]
    impl Sleeper for Recorder {
        async fn sleep(&self, d: Duration) {
            self.0.lock().unwrap().push(d);
        }
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            jitter: false,
        }
    }

    use DeliveryErrorKind::{Permanent, Transient};

    #[tokio::test]
    async fn transient_failures_are_retried_with_exponential_backoff() {
        let pauses = Recorder::default();
        let n = Retrying::new(Scripted::new(vec![Transient, Transient, Transient]), policy(4))
            .unwrap()
            .with_sleeper(pauses.clone());
        n.send(&message()).await.unwrap();
        assert_eq!(n.inner().calls(), 4);
        let ms: Vec<u128> = pauses.0.lock().unwrap().iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 350]);
    }

    #[tokio::test]
    async fn retries_are_bounded_and_the_last_error_is_returned() {
        let pauses = Recorder::default();
        let n = Retrying::new(Scripted::new(vec![Transient; 5]), policy(3))
            .unwrap()
            .with_sleeper(pauses.clone());
        let e = n.send(&message()).await.unwrap_err();
        assert!(e.is_transient());
        assert!(e.to_string().contains("after 3 attempts"), "{e}");
        assert_eq!(n.inner().calls(), 3);
        assert_eq!(pauses.0.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn permanent_failures_are_never_retried() {
        let pauses = Recorder::default();
        let n = Retrying::new(Scripted::new(vec![Transient, Permanent]), policy(5))
            .unwrap()
            .with_sleeper(pauses.clone());
        let e = n.send(&message()).await.unwrap_err();
        assert_eq!(e.kind(), Permanent);
        assert_eq!(n.inner().calls(), 2);
        assert_eq!(pauses.0.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_default_sleeper_waits_on_tokio_time() {
        let n = Retrying::new(Scripted::new(vec![Transient]), RetryPolicy::default()).unwrap();
        let start = tokio::time::Instant::now();
        n.send(&message()).await.unwrap();
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(250) && waited <= Duration::from_millis(500),
            "{waited:?}"
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half_and_policies_are_validated() {
        let p = RetryPolicy {
            jitter: true,
            ..policy(3)
        };
        for _ in 0..100 {
            let d = p.pause(2);
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(200),
                "{d:?}"
            );
        }
        assert_eq!(p.backoff(40), Duration::from_millis(350));
        assert!(RetryPolicy::default().validate().is_ok());
        assert!(policy(0).validate().is_err());
        assert!(policy(11).validate().is_err());
        let mut slow = policy(3);
        slow.max_delay = Duration::from_secs(61);
        assert!(slow.validate().is_err());
        slow.max_delay = Duration::from_millis(50);
        assert!(slow.validate().is_err());
    }
}
