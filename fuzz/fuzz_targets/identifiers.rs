//! Email, phone, login and display-name normalizers: never panic, and a
//! normalized value parses back to itself (normalization is idempotent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pin_activation::identity::normalize_display_name;
use pin_activation::{Email, Login, Phone, Region};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(email) = Email::parse(input) {
        assert_eq!(Email::parse(email.as_str()).as_ref(), Ok(&email));
        assert_eq!(email.as_str(), email.as_str().trim());
    }
    let gb: Region = "GB".parse().expect("a known region");
    for region in [Region::US, gb] {
        if let Ok(phone) = Phone::parse(input, region) {
            assert!(phone.as_str().starts_with('+'), "{}", phone.as_str());
            assert!(phone.as_str()[1..].bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(Phone::parse(phone.as_str(), region).as_ref(), Ok(&phone));
        }
        let _ = Login::parse(input, region);
    }
    if let Ok(name) = normalize_display_name(input) {
        assert_eq!(normalize_display_name(&name).as_deref(), Ok(name.as_str()));
    }
});
