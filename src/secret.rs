//! Secrets as types: [`Pin`], [`Password`], [`ResetTicket`], and the
//! transports' [`Credential`].
//!
//! Each wraps its text in a zeroizing buffer, prints as `[REDACTED]` through
//! both `Debug` and `Display`, has no `PartialEq` (compare with
//! [`subtle`] where a comparison is needed) and hands its text out only
//! through `expose_secret`, whose name makes every use easy to audit.

use std::fmt;

use zeroize::Zeroizing;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a secret string.
            pub fn new(secret: impl Into<String>) -> Self {
                Self(Zeroizing::new(secret.into()))
            }

            /// The secret text. Dangerous: whatever it is handed to must not
            /// log, store or echo it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([REDACTED])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[REDACTED]")
            }
        }

        impl From<String> for $name {
            fn from(secret: String) -> Self {
                Self::new(secret)
            }
        }

        impl From<&str> for $name {
            fn from(secret: &str) -> Self {
                Self::new(secret)
            }
        }
    };
}

secret_type!(
    /// A one-time PIN as drawn: always the configured number of ASCII digits,
    /// leading zeros included. It exists in plain text only between drawing
    /// and delivery, and is zeroized on drop.
    Pin
);

secret_type!(
    /// A password (or anything a user typed as one), zeroized on drop.
    Password
);

secret_type!(
    /// The single-use ticket that a right PIN earns: it lets its holder set a
    /// new password once, within `ticket_ttl`. Only its hash is stored.
    ResetTicket
);

secret_type!(
    /// A transport credential: an SMTP password, an SMS gateway's auth token.
    Credential
);

secret_type!(
    /// Text that carries a secret, such as a rendered message body with the
    /// PIN in it.
    SecretText
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let pin = Pin::new("004271");
        assert_eq!(format!("{pin:?}"), "Pin([REDACTED])");
        assert_eq!(format!("{pin}"), "[REDACTED]");
        assert_eq!(pin.expose_secret(), "004271");
        let ticket = ResetTicket::new("abc");
        assert_eq!(format!("{ticket:?} {ticket}"), "ResetTicket([REDACTED]) [REDACTED]");
    }
}
