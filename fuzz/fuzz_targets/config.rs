//! Config deserialization and validation: never panic; a config that
//! validates survives a JSON round trip unchanged and still validates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pin_activation::ActivationConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = serde_json::from_slice::<ActivationConfig>(data) else { return };
    if config.validate().is_ok() {
        let json = serde_json::to_string(&config).expect("a valid config serializes");
        let back: ActivationConfig = serde_json::from_str(&json).expect("and parses back");
        assert_eq!(back, config);
        assert!(back.validate().is_ok());
    }
});
