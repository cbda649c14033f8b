//! Hostile input, table-driven, for every public entry: each gets a clear
//! error or a documented normalization, none panics, none reaches argon2
//! when malformed.

mod common;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_support;

use common::{config, harness, staff};
use pin_activation::{
    Error, InMemoryPinStore, InMemoryUserStore, NewUser, Password, PinStore, ResetTicket, SignIn, UserStore,
};

fn hostile() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("whitespace", "   \t  ".into()),
        ("1 MB", "a".repeat(1 << 20)),
        ("1 MB of digits", "7".repeat(1 << 20)),
        ("NUL", "alice\0@example.com".into()),
        ("control", "alice\u{7}@example.com".into()),
        ("RTL mark", "alice\u{200F}@example.com".into()),
        ("RTL override", "\u{202E}moc.elpmaxe@ecila".into()),
        ("zero-width space", "ali\u{200B}ce@example.com".into()),
        ("combining only", "\u{301}\u{301}\u{301}".into()),
        ("phone with letters", "+1 312 FLOWERS".into()),
        ("phone too short", "12345".into()),
        ("phone too long", "+1 312 555 0123 4567 8901".into()),
        ("emoji", "🔑🔑🔑🔑🔑🔑".into()),
        (
            "arabic-indic digits",
            "\u{661}\u{662}\u{663}\u{664}\u{665}\u{666}".into(),
        ),
        ("SQL", "' OR 1=1 --".into()),
        ("HTML", "<script>alert(1)</script>".into()),
    ]
}

#[tokio::test]
async fn every_entry_survives_hostile_input() {
    every_entry_survives(InMemoryUserStore::new(), InMemoryPinStore::new()).await;
}

/// The same table against SQLite: names such as `' OR 1=1 --` are stored
/// as data, and nothing malformed reaches the database or argon2.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn every_entry_survives_hostile_input_on_sqlite() {
    let store = pin_activation::SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    every_entry_survives(store.clone(), store).await;
}

/// The same table against PostgreSQL, which refuses NUL bytes in text: the
/// crate must refuse them first, as invalid input, not as a store error.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn every_entry_survives_hostile_input_on_postgres() {
    let Some(schema) = sql_support::pg::schema("hostile_postgres").await else {
        return;
    };
    let store = schema.store("hostile_postgres").await;
    every_entry_survives(store.clone(), store.clone()).await;
    store.pool().close().await;
    schema.drop().await;
}

async fn every_entry_survives<U: UserStore, P: PinStore>(users: U, pins: P) {
    let h = harness(users, pins, config());
    let known = h
        .create("Known", Some("known@example.com"), Some("+1 312 555 0123"))
        .await;
    let before = h.svc.hash_stats();
    for (label, input) in hostile() {
        // create_user: every field
        for new in [
            NewUser::new(input.as_str()).email("x1@example.com"),
            NewUser::new("Name").email(input.as_str()),
            NewUser::new("Name").phone(input.as_str()),
            NewUser::new("Name").id(input.as_str()),
        ] {
            match h.svc.create_user(new, Some(&staff())).await {
                Err(Error::InvalidInput(_) | Error::Duplicate(_)) => {}
                // a few inputs are legitimate names ("' OR 1=1 --", emoji, HTML)
                Ok(c) => assert!(!c.user.display_name.is_empty(), "{label}"),
                Err(e) => panic!("{label}: create_user: {e:?}"),
            }
        }
        // sign-in: identifier and secret
        assert!(
            matches!(h.login(&input, "123987").await, Err(Error::InvalidCredentials)),
            "{label}"
        );
        assert!(
            matches!(
                h.login("known@example.com", &input).await,
                Err(Error::InvalidCredentials)
            ),
            "{label}"
        );
        // self-service request and staff search
        match h.svc.request_pin(&input).await {
            Ok(req) => req.finished().await,
            Err(Error::InvalidInput(_)) => {}
            Err(e) => panic!("{label}: request_pin: {e:?}"),
        }
        assert!(
            matches!(h.svc.find_user(&input).await, Ok(None) | Err(Error::InvalidInput(_))),
            "{label}"
        );
        // contact update
        match h.svc.update_contact(&known.id, Some(&input), None, None).await {
            Err(Error::InvalidInput(_)) | Ok(_) => {}
            Err(e) => panic!("{label}: update_contact: {e:?}"),
        }
        // complete_reset: ticket
        let r = h
            .svc
            .complete_reset(
                &known.id,
                &ResetTicket::new(input.as_str()),
                &Password::new("long enough pw"),
            )
            .await;
        assert!(matches!(r, Err(Error::InvalidTicket)), "{label}: {r:?}");
    }
    // none of the malformed sign-ins hashed; the PIN-shaped ones did, once each
    let after = h.svc.hash_stats();
    assert_eq!(after.verified, before.verified, "no PIN or password was checked");
    assert!(after.hashed >= before.hashed, "creations hashed their PINs");
}

#[tokio::test]
async fn a_megabyte_password_is_refused_before_hashing() {
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), config());
    let u = h.create("Mo", Some("mo@example.com"), None).await;
    let ticket = h.ticket("mo@example.com", &h.pin(&u)).await;
    let before = h.svc.hash_stats().computed;
    let r = h
        .svc
        .complete_reset(&u.id, &ticket, &Password::new("x".repeat(1 << 20)))
        .await;
    assert!(matches!(
        r,
        Err(Error::WeakPassword(pin_activation::PasswordRejection::TooLong {
            max: 64
        }))
    ));
    assert_eq!(h.svc.hash_stats().computed, before);
    // NFKC expansion cannot sneak past the byte cap: U+FDFA expands to 18 code points
    let r = h
        .svc
        .complete_reset(&u.id, &ticket, &Password::new("\u{FDFA}".repeat(60)))
        .await;
    assert!(matches!(r, Err(Error::WeakPassword(_))), "{r:?}");
    assert_eq!(h.svc.hash_stats().computed, before);
    h.svc
        .complete_reset(&u.id, &ticket, &Password::new("still a usable ticket"))
        .await
        .unwrap();
}

#[tokio::test]
async fn lookalike_and_normalization_forms_of_one_email() {
    let h = harness(InMemoryUserStore::new(), InMemoryPinStore::new(), config());
    // NFC and NFD of one address are one user
    let u = h.create("José", Some("jos\u{e9}@example.com"), None).await;
    let pin = h.pin(&u);
    assert!(common::pin_accepted(&h.login("jose\u{301}@example.com", &pin).await));
    // the Kelvin sign folds to K under NFC: a duplicate, not a second account
    let k = h.create("Kim", Some("kim@example.com"), None).await;
    let dup = h
        .svc
        .create_user(NewUser::new("Fake Kim").email("\u{212A}im@example.com"), None)
        .await;
    assert!(matches!(dup, Err(Error::Duplicate("email"))), "{dup:?}");
    // a dotless i is a different letter: a different address, not Kim's
    let other = h
        .svc
        .create_user(NewUser::new("Dotless").email("k\u{131}m@example.com"), None)
        .await
        .unwrap();
    assert_ne!(other.user.id, k.id);
    assert!(matches!(
        h.login("k\u{131}m@example.com", &h.pin(&k)).await,
        Err(Error::InvalidCredentials)
    ));
    // an IDN domain is kept in Unicode, lower-cased, and its punycode form
    // is the same address
    let idn = h.create("Müller", Some("Anna@Bücher.Example"), None).await;
    assert_eq!(idn.email.as_ref().unwrap().as_str(), "anna@bücher.example");
    assert!(matches!(
        h.svc
            .create_user(NewUser::new("Anna again").email("anna@XN--BCHER-KVA.example"), None)
            .await,
        Err(Error::Duplicate("email"))
    ));
    assert!(matches!(
        h.login("anna@xn--bcher-kva.example", &h.pin(&idn)).await,
        Ok(SignIn::ResetRequired { .. })
    ));
    // a punycode label that decodes to nothing valid is not an address
    assert!(matches!(
        h.svc
            .create_user(NewUser::new("Bad").email("a@xn--zz.example"), None)
            .await,
        Err(Error::InvalidInput(_))
    ));
    // 00 and + prefixes are one number
    let p = h.create("Pia", None, Some("0044 7911 123456")).await;
    assert!(matches!(
        h.login("+44 7911 123456", &h.pin(&p)).await,
        Ok(SignIn::ResetRequired { .. })
    ));
}
