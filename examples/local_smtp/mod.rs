//! `--smtp HOST:PORT` for the examples (feature `smtp`): email goes out for
//! real through a local relay over plain SMTP, and is also kept in the
//! outbox so the example can read the PIN "from the user's inbox". SMS
//! messages stay in the outbox (there is no local SMS gateway).
//!
//! Watch the mails arrive with Debian's aiosmtpd as the relay:
//!
//! ```sh
//! apt-get install -y python3-aiosmtpd
//! mkdir -p /tmp/mail/{tmp,new,cur}
//! /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:2525 -c aiosmtpd.handlers.Mailbox /tmp/mail &
//! cargo run --features smtp --example quickstart -- --smtp 127.0.0.1:2525
//! ls /tmp/mail/new && cat /tmp/mail/new/*    # or: -c aiosmtpd.handlers.Debugging stdout
//! ```

use std::sync::Arc;

use pin_activation::{Notifier, OutboxNotifier};

/// The examples' notifier: the outbox alone, or with `smtp` (`HOST:PORT`)
/// email through that relay as well.
pub fn notifier(smtp: Option<&str>, from: &str, outbox: &OutboxNotifier) -> Result<Arc<dyn Notifier>, String> {
    match smtp {
        None => Ok(Arc::new(outbox.clone())),
        #[cfg(feature = "smtp")]
        Some(addr) => relay::notifier(addr, from, outbox),
        #[cfg(not(feature = "smtp"))]
        Some(_) => {
            let _ = from;
            Err("--smtp needs the `smtp` feature: cargo run --features smtp --example ...".into())
        }
    }
}

#[cfg(feature = "smtp")]
mod relay {
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use pin_activation::notify::{ChannelRouter, SmtpConfig, SmtpNotifier, SmtpSecurity};
    use pin_activation::{ActivationMessage, DeliveryError, DeliveryReceipt, Notifier, OutboxNotifier};

    /// Sends through SMTP, then keeps a copy in the outbox.
    struct SmtpThenOutbox {
        smtp: SmtpNotifier,
        outbox: OutboxNotifier,
    }

    #[async_trait]
    impl Notifier for SmtpThenOutbox {
        async fn send(&self, message: &ActivationMessage) -> Result<DeliveryReceipt, DeliveryError> {
            let receipt = self.smtp.send(message).await?;
            self.outbox.send(message).await?;
            Ok(receipt)
        }
    }

    /// Email through plain SMTP at `addr` (`HOST:PORT`), SMS to `outbox`.
    pub fn notifier(addr: &str, from: &str, outbox: &OutboxNotifier) -> Result<Arc<dyn Notifier>, String> {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| format!("--smtp wants HOST:PORT, got {addr:?}"))?;
        let port: u16 = port.parse().map_err(|_| format!("--smtp: bad port {port:?}"))?;
        let smtp = SmtpNotifier::new(
            SmtpConfig::new(host, from)
                .security(SmtpSecurity::Plain)
                .port(port)
                .timeout(Duration::from_secs(10)),
        )
        .map_err(|e| e.to_string())?;
        let email = SmtpThenOutbox {
            smtp,
            outbox: outbox.clone(),
        };
        Ok(Arc::new(ChannelRouter::new(email, outbox.clone())))
    }
}
