//! Template validation and rendering: never panic; a template set that
//! validates renders a message carrying the PIN on both channels.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use pin_activation::notify::build_message;
use pin_activation::{ActivationConfig, Channel, Email, Phone, Pin, PinPurpose, Region, UserId};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    // Fields separated by 0x1F: operator name, subject, email body, SMS body, display name.
    let mut parts = input.split('\u{1f}');
    let mut config = ActivationConfig::default();
    let mut next = |field: &mut String| {
        if let Some(p) = parts.next() {
            *field = p.to_owned();
        }
    };
    next(&mut config.messages.operator_name);
    next(&mut config.messages.templates.email_subject);
    next(&mut config.messages.templates.email_body);
    next(&mut config.messages.templates.sms_body);
    let mut name = "Alice".to_owned();
    next(&mut name);
    if config.validate().is_err() {
        return;
    }
    let expires = Utc.with_ymd_and_hms(2026, 12, 6, 16, 38, 0).unwrap();
    for channel in [
        Channel::Email(Email::parse("alice@example.com").unwrap()),
        Channel::Sms(Phone::parse("+12125550123", Region::US).unwrap()),
    ] {
        for purpose in [PinPurpose::Activation, PinPurpose::Reset] {
            let message = build_message(
                &config.messages,
                UserId::new("u1").unwrap(),
                &name,
                channel.clone(),
                purpose,
                Pin::new("004271"),
                expires,
            );
            assert!(message.body().expose_secret().contains("004271"));
        }
    }
});
