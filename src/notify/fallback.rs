//! [`FallbackNotifier`]: a second transport for the same channel, tried
//! when the first one fails (a backup SMTP relay, a second SMS gateway).
//!
//! Falling back from one *channel* to the other (email to SMS or the
//! reverse) is the service's job (`ActivationConfig::channel_fallback` and
//! `preferred_channel`), because the message must be rendered anew for the
//! other channel; a notifier only ever sees one channel's message. This
//! type covers the other half: the same rendered message, the same address,
//! another provider.

use async_trait::async_trait;

use super::{ActivationMessage, DeliveryError, DeliveryErrorKind, DeliveryReceipt, Notifier};

/// Which failures of the primary transport send the message through the
/// secondary one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FallbackOn {
    /// Every failure (the default): the backup is there for when the
    /// primary provider is down or refuses.
    #[default]
    AnyFailure,
    /// Only permanent ones (the primary provider refused the message or the
    /// address); a transient failure is returned as is, to be retried.
    Permanent,
}

/// Sends through `primary`; when that fails (see [`FallbackOn`]), sends the
/// same message through `secondary`. Put [`Retrying`](super::Retrying)
/// inside either side to retry it before falling back.
///
/// When both fail, the secondary's error is returned (the primary's is
/// logged at `warn` without the message). A transient primary failure can
/// be a message that did arrive after all (a timeout after the data was
/// sent): the user then gets the same PIN twice, which is harmless.
///
/// ```
/// use pin_activation::notify::{FallbackNotifier, OutboxNotifier};
///
/// let main_relay = OutboxNotifier::new_ok();
/// let backup_relay = OutboxNotifier::new_ok();
/// let notifier = FallbackNotifier::new(main_relay, backup_relay);
/// # let _ = notifier;
/// ```
#[derive(Debug, Clone)]
pub struct FallbackNotifier<A, B> {
    primary: A,
    secondary: B,
    on: FallbackOn,
}

impl<A: Notifier, B: Notifier> FallbackNotifier<A, B> {
    /// `secondary` takes every message `primary` fails to send.
    pub fn new(primary: A, secondary: B) -> Self {
        Self {
            primary,
            secondary,
            on: FallbackOn::default(),
        }
    }

    /// Which primary failures fall back.
    #[must_use]
    pub fn fall_back_on(mut self, on: FallbackOn) -> Self {
        self.on = on;
        self
    }

    /// The primary transport.
    pub fn primary(&self) -> &A {
        &self.primary
    }

    /// The secondary transport.
    pub fn secondary(&self) -> &B {
        &self.secondary
    }
}

#[async_trait]
impl<A: Notifier, B: Notifier> Notifier for FallbackNotifier<A, B> {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        let first = match self.primary.send(message).await {
            Ok(receipt) => return Ok(receipt),
            Err(e) => e,
        };
        if self.on == FallbackOn::Permanent && first.kind() == DeliveryErrorKind::Transient {
            return Err(first);
        }
        tracing::warn!(
            user = %message.user_id,
            channel = %first.channel(),
            error = %first,
            "primary transport failed; trying the secondary"
        );
        self.secondary.send(message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::email_msg as message;
    use crate::notify::{ChannelKind, OutboxNotifier};

    #[tokio::test]
    async fn the_primary_sends_when_it_can() {
        let (a, b) = (OutboxNotifier::new_ok(), OutboxNotifier::new_ok());
        let n = FallbackNotifier::new(a.clone(), b.clone());
        let receipt = n.send(&message()).await.unwrap();
        assert_eq!(receipt.provider_id.as_deref(), Some("outbox-1"));
        assert_eq!((a.messages().len(), b.messages().len()), (1, 0));
    }

    #[tokio::test]
    async fn any_primary_failure_goes_to_the_secondary_by_default() {
        for kind in [DeliveryErrorKind::Transient, DeliveryErrorKind::Permanent] {
            let (a, b) = (OutboxNotifier::new_error(kind), OutboxNotifier::new_ok());
            let n = FallbackNotifier::new(a.clone(), b.clone());
            n.send(&message()).await.unwrap();
            let sent = b.messages();
            assert_eq!(sent.len(), 1, "{kind:?}");
            assert_eq!(sent[0].pin.expose_secret(), "004271");
            assert_eq!(a.messages().len(), 0);
        }
    }

    #[tokio::test]
    async fn permanent_only_returns_a_transient_failure_untouched() {
        let (a, b) = (
            OutboxNotifier::new_error(DeliveryErrorKind::Transient),
            OutboxNotifier::new_ok(),
        );
        let n = FallbackNotifier::new(a.clone(), b.clone()).fall_back_on(FallbackOn::Permanent);
        let e = n.send(&message()).await.unwrap_err();
        assert_eq!(e.kind(), DeliveryErrorKind::Transient);
        assert_eq!(b.messages().len(), 0);

        a.set_failing(Some(DeliveryErrorKind::Permanent));
        n.send(&message()).await.unwrap();
        assert_eq!(b.messages().len(), 1);
    }

    #[tokio::test]
    async fn both_failing_returns_the_secondary_error() {
        let a = OutboxNotifier::new_error(DeliveryErrorKind::Transient);
        let b = OutboxNotifier::new_error(DeliveryErrorKind::Permanent);
        let e = FallbackNotifier::new(a, b).send(&message()).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.channel()),
            (DeliveryErrorKind::Permanent, ChannelKind::Email)
        );
    }
}
