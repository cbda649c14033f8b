//! The PIN input parser: never panics; whatever it accepts is exactly the
//! configured number of ASCII digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pin_activation::pin::parse_pin_input;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    for len in [6, 8, 12] {
        if let Some(pin) = parse_pin_input(input, len) {
            let digits = pin.expose_secret();
            assert_eq!(digits.len(), len);
            assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        }
    }
});
