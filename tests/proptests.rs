//! Property tests: PIN drawing and parsing, identifier normalization, config
//! and template robustness, and a model-based test of the whole state
//! machine against a small reference model.
//!
//! Failures are persisted to `tests/proptests.proptest-regressions`
//! (committed), so a shrunk counterexample is replayed on every run.

mod common;

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};
use common::{config, harness, staff};
use pin_activation::identity::Region;
use pin_activation::pin::{draw_pin, is_trivial, parse_pin_input};
use pin_activation::{
    AccountState, ActivationConfig, ChannelChoice, Email, Error, InMemoryPinStore, InMemoryUserStore, Password, Phone,
    ResetTicket, SignIn,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use rand::SeedableRng;

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptests.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// C13: one million PINs: every position uniform (chi-square, 9 degrees of
/// freedom, p = 0.001 critical value 27.88), about 10% start with 0, all six
/// ASCII digits.
#[test]
fn case_c13_pins_are_uniform() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x05EE_DC13);
    let n = 1_000_000u32;
    let mut counts = [[0u32; 10]; 6];
    for _ in 0..n {
        let pin = draw_pin(&mut rng, 6, true);
        let s = pin.expose_secret().as_bytes();
        assert_eq!(s.len(), 6);
        for (pos, b) in s.iter().enumerate() {
            assert!(b.is_ascii_digit());
            counts[pos][usize::from(b - b'0')] += 1;
        }
    }
    let expected = f64::from(n) / 10.0;
    for (pos, row) in counts.iter().enumerate() {
        let chi2: f64 = row.iter().map(|&c| (f64::from(c) - expected).powi(2) / expected).sum();
        assert!(chi2 < 27.88, "position {pos}: chi-square {chi2:.2} for {row:?}");
    }
    let leading_zero = f64::from(counts[0][0]) / f64::from(n);
    assert!((0.095..0.105).contains(&leading_zero), "{leading_zero}");
}

proptest! {
    #![proptest_config(cfg(4096))]

    #[test]
    fn drawn_pins_have_their_length_and_parse_back(seed: u64, len in 6usize..=12, seps in proptest::collection::vec(0u8..3, 12)) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let pin = draw_pin(&mut rng, len, true);
        let s = pin.expose_secret();
        prop_assert_eq!(s.len(), len);
        prop_assert!(s.bytes().all(|b| b.is_ascii_digit()));
        prop_assert!(!is_trivial(s));
        // the same digits typed with spaces and dashes read back exactly
        let mut typed = String::from("  ");
        for (i, c) in s.chars().enumerate() {
            typed.push(c);
            match seps[i] { 1 => typed.push(' '), 2 => typed.push('-'), _ => {} }
        }
        let parsed = parse_pin_input(&typed, len).expect("typed PIN parses");
        prop_assert_eq!(parsed.expose_secret(), s);
        // one digit more or less is not a PIN
        prop_assert!(parse_pin_input(&s[1..], len).is_none());
        let longer = format!("{s}0");
        prop_assert!(parse_pin_input(&longer, len).is_none());
    }

    #[test]
    fn pin_parser_never_panics(input in ".{0,64}") {
        let _ = parse_pin_input(&input, 6);
    }

    #[test]
    fn email_normalization_is_idempotent_and_case_blind(local in "[a-zA-Z0-9][a-zA-Z0-9._]{0,15}", domain in "[a-zA-Z]{1,10}", tld in "(com|org|net)") {
        let raw = format!(" {local}@{domain}.{tld} ");
        if let Ok(e) = Email::parse(&raw) {
            prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e.clone());
            prop_assert_eq!(Email::parse(&raw.to_uppercase()).unwrap(), e.clone());
            prop_assert_eq!(e.as_str(), e.as_str().to_lowercase());
        }
    }

    #[test]
    fn identifier_parsers_never_panic(input in "\\PC{0,80}") {
        let _ = Email::parse(&input);
        let _ = Phone::parse(&input, Region::US);
        let _ = pin_activation::Login::parse(&input, Region::US);
    }

    #[test]
    fn formats_of_one_phone_number_agree(area in prop::sample::select(vec![212u16, 312, 415, 713, 805, 913]), line in 100u16..200) {
        let want = Phone::parse(&format!("+1{area}555{line:04}"), Region::US).unwrap();
        for form in [
            format!("({area}) 555-{line:04}"),
            format!("{area}.555.{line:04}"),
            format!("+1 {area} 555 {line:04}"),
            format!("1-{area}-555-{line:04}"),
            format!("001{area}555{line:04}"),
        ] {
            prop_assert_eq!(Phone::parse(&form, Region::US).unwrap(), want.clone(), "{}", form);
        }
        prop_assert_eq!(Phone::parse(want.as_str(), Region::US).unwrap(), want.clone());
    }

    #[test]
    fn config_deserialization_never_panics(json in "\\PC{0,200}") {
        let _ = serde_json::from_str::<ActivationConfig>(&json);
    }

    #[test]
    fn template_validation_never_panics(operator in "\\PC{0,80}", body in "\\PC{0,200}") {
        let mut c = ActivationConfig::default();
        c.messages.operator_name = operator;
        c.messages.templates.sms_body = body;
        let _ = c.validate();
    }
}

// ---------------------------------------------------------------------------
// Model-based test of the state machine.

#[derive(Debug, Clone)]
enum Op {
    PinRight,
    PinWrong,
    Resend,
    Complete { latest: bool, strong: bool },
    PasswordRight,
    PasswordWrong,
    Advance(i64),
    Unlock,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::PinRight),
        4 => Just(Op::PinWrong),
        3 => Just(Op::Resend),
        3 => (any::<bool>(), prop::bool::weighted(0.8)).prop_map(|(latest, strong)| Op::Complete { latest, strong }),
        2 => Just(Op::PasswordRight),
        1 => Just(Op::PasswordWrong),
        3 => prop_oneof![0i64..120, 500i64..4000, Just(3600), Just(86_400)].prop_map(Op::Advance),
        1 => Just(Op::Unlock),
    ]
}

const MAX_ATTEMPTS: u32 = 3;
const MAX_FAILURES: u32 = 5;
const DAILY_CAP: usize = 4;

/// What the contract says should be true, kept by hand.
#[derive(Debug)]
struct Model {
    now: DateTime<Utc>,
    state: AccountState,
    pin: Option<(DateTime<Utc>, u32)>, // expiry, attempts
    failures: u32,
    ticket_expiry: Option<DateTime<Utc>>,
    password: Option<String>,
    sends: VecDeque<DateTime<Utc>>,
    version: u64,
}

impl Model {
    fn pin_checkable(&self) -> bool {
        matches!(self.state, AccountState::Pending | AccountState::ResetRequired)
            && self.failures < MAX_FAILURES
            && self
                .pin
                .is_some_and(|(exp, attempts)| self.now < exp && attempts < MAX_ATTEMPTS)
    }

    fn send_allowed(&mut self) -> Result<(), DateTime<Utc>> {
        while self
            .sends
            .front()
            .is_some_and(|t| *t <= self.now - TimeDelta::hours(24))
        {
            self.sends.pop_front();
        }
        if let Some(last) = self.sends.back()
            && self.now < *last + TimeDelta::seconds(60)
        {
            return Err(*last + TimeDelta::seconds(60));
        }
        if self.sends.len() >= DAILY_CAP {
            return Err(self.sends[0] + TimeDelta::hours(24));
        }
        Ok(())
    }
}

fn run_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut c = config();
        c.max_attempts = MAX_ATTEMPTS;
        c.max_account_failures = MAX_FAILURES;
        c.daily_send_cap = DAILY_CAP as u32;
        c.self_service_daily_cap = 2;
        c.activation_ttl = std::time::Duration::from_secs(2 * 3600);
        let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), c);
        let u = h.create("Model", Some("model@example.com"), None).await;
        let mut m = Model {
            now: common::t0(),
            state: AccountState::Pending,
            pin: Some((common::t0() + TimeDelta::hours(2), 0)),
            failures: 0,
            ticket_expiry: None,
            password: None,
            sends: VecDeque::from([common::t0()]),
            version: 0,
        };
        let mut tickets: Vec<ResetTicket> = Vec::new();
        let mut n = 0;
        for op in ops {
            n += 1;
            match op {
                Op::PinRight | Op::PinWrong => {
                    let pin = h.pin(&u);
                    let secret = if matches!(op, Op::PinRight) { pin } else { common::Harness::<InMemoryUserStore, InMemoryPinStore>::wrong(&pin, n) };
                    let r = h.login("model@example.com", &secret).await;
                    let checkable = m.pin_checkable();
                    match (&op, checkable) {
                        (Op::PinRight, true) => {
                            let Ok(SignIn::ResetRequired { ticket, .. }) = r else {
                                return Err(TestCaseError::fail(format!("{op:?}: expected a ticket, got {r:?}; {m:?}")));
                            };
                            tickets.push(ticket);
                            m.failures = 0;
                            m.ticket_expiry = Some(m.now + TimeDelta::minutes(15));
                        }
                        (_, checkable) => {
                            prop_assert!(matches!(r, Err(Error::InvalidCredentials)), "{:?}: {:?}; {:?}", op, r, m);
                            if checkable {
                                m.failures += 1;
                                if let Some((_, a)) = m.pin.as_mut() {
                                    *a += 1;
                                }
                            }
                        }
                    }
                }
                Op::Resend => {
                    let r = h.svc.resend_activation(&u.id, ChannelChoice::Preferred, &staff()).await;
                    match m.send_allowed() {
                        Ok(()) => {
                            prop_assert!(r.is_ok(), "resend: {:?}; {:?}", r, m);
                            m.sends.push_back(m.now);
                            let ttl = if m.state == AccountState::Pending { TimeDelta::hours(2) } else { TimeDelta::hours(1) };
                            m.pin = Some((m.now + ttl, 0));
                            m.ticket_expiry = None;
                            if m.state == AccountState::Active {
                                m.state = AccountState::ResetRequired;
                            }
                        }
                        Err(retry_at) => {
                            prop_assert!(matches!(r, Err(Error::Throttled { retry_at: t }) if t == retry_at), "resend: {:?}; {:?}", r, m);
                        }
                    }
                }
                Op::Complete { latest, strong } => {
                    let Some(ticket) = (if latest { tickets.last() } else { tickets.first() }).cloned() else { continue };
                    let is_latest = tickets.len() == 1 || latest;
                    let pw = if strong { format!("spruce lantern {n}") } else { "password".to_owned() };
                    let r = h.svc.complete_reset(&u.id, &ticket, &Password::new(pw.clone())).await;
                    let valid = is_latest
                        && m.ticket_expiry.is_some_and(|e| m.now < e)
                        && matches!(m.state, AccountState::Pending | AccountState::ResetRequired);
                    match (valid, strong) {
                        (true, true) => {
                            prop_assert!(r.is_ok(), "complete: {:?}; {:?}", r, m);
                            m.version += 1;
                            prop_assert_eq!(r.unwrap().credential_version, m.version);
                            m.state = AccountState::Active;
                            m.password = Some(pw);
                            m.pin = None;
                            m.ticket_expiry = None;
                        }
                        (true, false) => prop_assert!(matches!(r, Err(Error::WeakPassword(_))), "{:?}", r),
                        (false, _) => prop_assert!(matches!(r, Err(Error::InvalidTicket)), "complete: {:?}; {:?}", r, m),
                    }
                }
                Op::PasswordRight | Op::PasswordWrong => {
                    let Some(pw) = m.password.clone() else { continue };
                    let secret = if matches!(op, Op::PasswordRight) { pw } else { "not the password at all".to_owned() };
                    let r = h.login("model@example.com", &secret).await;
                    if matches!(op, Op::PasswordRight) {
                        prop_assert!(matches!(r, Ok(SignIn::SignedIn { credential_version, .. }) if credential_version == m.version), "{:?}; {:?}", r, m);
                        // a right password ends a pending (keep-mode) reset
                        if m.state == AccountState::ResetRequired {
                            m.state = AccountState::Active;
                            m.pin = None;
                            m.ticket_expiry = None;
                            m.failures = 0;
                        }
                    } else {
                        prop_assert!(matches!(r, Err(Error::InvalidCredentials)));
                    }
                }
                Op::Advance(secs) => {
                    h.clock.advance(TimeDelta::seconds(secs));
                    m.now += TimeDelta::seconds(secs);
                }
                Op::Unlock => {
                    h.svc.unlock(&u.id, &staff()).await.unwrap();
                    m.failures = 0;
                }
            }
            // invariants after every step
            let user = h.svc.user(&u.id).await.unwrap();
            prop_assert_eq!(user.state, m.state);
            prop_assert_eq!(user.credential_version, m.version);
            prop_assert_eq!(h.failures(&u).await, m.failures);
            let stored = h.svc.pin_store().snapshot(&u.id).await.unwrap().pin;
            prop_assert_eq!(stored.as_ref().map(|p| (p.expires_at, p.attempts)), m.pin);
            if let Some(p) = stored {
                prop_assert!(p.attempts <= MAX_ATTEMPTS, "attempts never above the limit");
            }
            prop_assert!(!(user.state == AccountState::Active && m.pin.is_some()), "never active with a live PIN");
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(cfg(96))]

    #[test]
    fn state_machine_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run_model(ops)?;
    }
}

use pin_activation::PinStore as _;
