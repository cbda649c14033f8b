//! Every case of `docs/cases.md` against the in-memory stores.
//! (C09 and C18 need a process of their own or a log capture: see
//! `cases_process.rs` and `leaks.rs`; C13's uniformity half is in
//! `proptests.rs`.)

mod common;

use common::cases;
use pin_activation::{InMemoryPinStore, InMemoryUserStore};

fn stores() -> (InMemoryUserStore, InMemoryPinStore) {
    (InMemoryUserStore::new(), InMemoryPinStore::new())
}

macro_rules! memory_case {
    ($($name:ident => $case:path),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (u, p) = stores();
            $case(u, p).await;
        }
    )*};
}

memory_case! {
    case_c01_concurrent_guesses => cases::case_c01,
    case_c02_right_pin_twice_at_once => cases::case_c02,
    case_c03_off_by_one => cases::case_c03,
    case_c04_resend_keeps_failures => cases::case_c04,
    case_c05_old_pin_dies => cases::case_c05,
    case_c06_one_ticket_two_passwords => cases::case_c06,
    case_c07_no_replay_after_activation => cases::case_c07,
    case_c10_uppercase_email => cases::case_c10,
    case_c11_phone_formats => cases::case_c11,
    case_c12_leading_zeros => cases::case_c12,
    case_c13_fresh_pin_differs => cases::case_c13_fresh_pin,
    case_c14_policy_at_forced_change => cases::case_c14,
    case_c15_no_ticket_no_password => cases::case_c15,
    case_c16_pin_bound_to_user => cases::case_c16,
    case_c17_malformed_secrets => cases::case_c17,
    case_c04_password_sign_in_ends_a_pending_reset => cases::case_c04_password_sign_in_ends_a_pending_reset,
    case_c04_locked_account_gets_no_self_service_pin => cases::case_c04_locked_account_gets_no_self_service_pin,
    case_c08_pin_lives_its_full_ttl => cases::case_c08_pin_lives_its_full_ttl,
    case_c10_one_mailbox_one_account => cases::case_c10_one_mailbox_one_account,
    case_c14_identifier_in_any_spelling => cases::case_c14_identifier_in_any_spelling,
}

#[tokio::test]
async fn case_c08_expiry_without_grace() {
    let (u, p) = stores();
    cases::case_c08(u, p).await;
}
