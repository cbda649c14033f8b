//! Drawing PINs and reading what users type.
//!
//! A PIN is drawn digit by digit with `rand`'s uniform integer sampling
//! (rejection sampling, so no modulo bias) from a CSPRNG, and kept as a
//! string so leading zeros survive. Trivial patterns are redrawn, which keeps
//! the remaining PINs exactly uniform.
//!
//! What a user types is accepted as a PIN when, after removing surrounding
//! whitespace and inner spaces or dashes (`"728 639"`, `"728-639"`), it is
//! exactly the PIN length in ASCII digits. Nothing else is read as a PIN:
//! fullwidth (`０４２７１`) and other-script digits are not folded, and a PIN
//! typed with a digit too few or too many (`4271` for `004271`) is not one.
//! Such input never reaches argon2 and never counts as a wrong attempt; at
//! sign-in it is treated as a password attempt, which the password length
//! rules refuse before any hashing.

use rand::{Rng, RngExt};

use crate::secret::Pin;

/// Shortest PIN the crate accepts in its configuration.
pub const MIN_PIN_LENGTH: usize = 6;
/// Longest PIN the crate accepts in its configuration.
pub const MAX_PIN_LENGTH: usize = 12;

/// Draws one PIN of `len` digits, redrawing trivial patterns when
/// `exclude_trivial` is set. Every digit string that is not excluded has the
/// same probability.
pub fn draw_pin<R: Rng + ?Sized>(rng: &mut R, len: usize, exclude_trivial: bool) -> Pin {
    let mut digits = String::with_capacity(len);
    loop {
        digits.clear();
        for _ in 0..len {
            let d: u8 = rng.random_range(0..10);
            digits.push(char::from(b'0' + d));
        }
        if !exclude_trivial || !is_trivial(&digits) {
            let pin = Pin::new(digits.as_str());
            zeroize::Zeroize::zeroize(&mut digits);
            return pin;
        }
    }
}

/// True for PINs a person would guess first: one digit repeated
/// (`000000`), or a run stepping by one up or down, wrapping at 9/0
/// (`123456`, `987654`, `890123`).
pub fn is_trivial(pin: &str) -> bool {
    let d: Vec<i16> = pin.bytes().map(|b| i16::from(b) - i16::from(b'0')).collect();
    if d.len() < 2 {
        return true;
    }
    let step = |delta: i16| d.windows(2).all(|w| (w[1] - w[0]).rem_euclid(10) == delta);
    step(0) || step(1) || step(9)
}

/// Reads user input as a PIN of `len` digits (see the module docs). `None`
/// when the input is not PIN-shaped.
pub fn parse_pin_input(input: &str, len: usize) -> Option<Pin> {
    // Bound the work before looking at every character of a hostile input.
    if input.len() > 4 * len + 16 {
        return None;
    }
    let mut digits = String::with_capacity(len);
    for c in input.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' => {}
            _ => {
                zeroize::Zeroize::zeroize(&mut digits);
                return None;
            }
        }
    }
    let pin = (digits.len() == len).then(|| Pin::new(digits.as_str()));
    zeroize::Zeroize::zeroize(&mut digits);
    pin
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn trivial_patterns() {
        for t in ["000000", "999999", "123456", "987654", "890123", "210987", "012345"] {
            assert!(is_trivial(t), "{t}");
        }
        for ok in ["004271", "728639", "121212", "135790", "112233"] {
            assert!(!is_trivial(ok), "{ok}");
        }
    }

    #[test]
    fn input_normalization() {
        let p = |s| parse_pin_input(s, 6).map(|p| p.expose_secret().to_owned());
        assert_eq!(p(" 728 639 ").as_deref(), Some("728639"));
        assert_eq!(p("728-639").as_deref(), Some("728639"));
        assert_eq!(p("004271").as_deref(), Some("004271"));
        for bad in [
            "",
            "      ",
            "12345",
            "1234567",
            "12a456",
            "12345\0",
            "4271",
            "04271",
            "\u{ff10}\u{ff10}\u{ff14}\u{ff12}\u{ff17}\u{ff11}",
            "\u{660}\u{660}\u{664}\u{662}\u{667}\u{661}",
        ] {
            assert!(p(bad).is_none(), "{bad:?}");
        }
        assert!(parse_pin_input(&"1".repeat(1 << 20), 6).is_none());
    }

    #[test]
    fn draws_keep_length_and_leading_zeros() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut saw_leading_zero = false;
        for _ in 0..2000 {
            let pin = draw_pin(&mut rng, 6, true);
            let s = pin.expose_secret();
            assert_eq!(s.len(), 6);
            assert!(s.bytes().all(|b| b.is_ascii_digit()));
            assert!(!is_trivial(s));
            saw_leading_zero |= s.starts_with('0');
        }
        assert!(saw_leading_zero);
    }
}
