//! [`ChannelRouter`]: one notifier for email, another for SMS, behind the
//! single [`Notifier`] the service takes.
//!
//! It only dispatches. Falling back from one channel to the other is the
//! service's job (`ActivationConfig::channel_fallback`), because the message
//! must be rendered anew for the other channel (an email body is no SMS).

use async_trait::async_trait;

use super::{ActivationMessage, Channel, DeliveryError, DeliveryReceipt, Notifier};

/// Sends [`Channel::Email`] messages through `email` and [`Channel::Sms`]
/// messages through `sms`.
///
/// ```
/// use pin_activation::notify::{ChannelRouter, OutboxNotifier};
///
/// let mail = OutboxNotifier::new_ok();
/// let sms = OutboxNotifier::new_ok();
/// let notifier = ChannelRouter::new(mail.clone(), sms.clone());
/// # let _ = notifier;
/// ```
#[derive(Debug, Clone)]
pub struct ChannelRouter<E, S> {
    email: E,
    sms: S,
}

impl<E: Notifier, S: Notifier> ChannelRouter<E, S> {
    /// Routes email to `email` and SMS to `sms`.
    pub fn new(email: E, sms: S) -> Self {
        Self { email, sms }
    }

    /// The email notifier.
    pub fn email(&self) -> &E {
        &self.email
    }

    /// The SMS notifier.
    pub fn sms(&self) -> &S {
        &self.sms
    }
}

#[async_trait]
impl<E: Notifier, S: Notifier> Notifier for ChannelRouter<E, S> {
    async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
        match message.channel {
            Channel::Email(_) => self.email.send(message).await,
            Channel::Sms(_) => self.sms.send(message).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Email, Phone, Region};
    use crate::notify::tests::msg as message;
    use crate::notify::{ChannelKind, DeliveryErrorKind, OutboxNotifier};

    #[tokio::test]
    async fn each_channel_goes_to_its_own_notifier() {
        let mail = OutboxNotifier::new_ok();
        let sms = OutboxNotifier::new_error(DeliveryErrorKind::Permanent);
        let router = ChannelRouter::new(mail.clone(), sms.clone());
        let email = message(Channel::Email(Email::parse("alice@example.com").unwrap()));
        assert_eq!(router.send(&email).await.unwrap().channel, ChannelKind::Email);
        let text = message(Channel::Sms(Phone::parse("+13125550123", Region::US).unwrap()));
        let e = router.send(&text).await.unwrap_err();
        assert_eq!(
            (e.channel(), e.kind()),
            (ChannelKind::Sms, DeliveryErrorKind::Permanent)
        );
        assert_eq!(mail.messages().len(), 1);
        sms.set_failing(None);
        router.send(&text).await.unwrap();
        assert_eq!((mail.messages().len(), sms.messages().len()), (1, 1));
    }
}
