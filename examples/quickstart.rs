//! The whole activation story on the in-memory stores, printed step by step
//! as a portal operator would see it.
//!
//! ```sh
//! cargo run --example quickstart
//! cargo run --features smtp --example quickstart -- --smtp 127.0.0.1:2525
//! ```
//!
//! With `--smtp HOST:PORT` (feature `smtp`) every email really goes out
//! through that relay over plain SMTP (see `examples/local_smtp/mod.rs` for
//! watching them arrive in a local aiosmtpd sink); SMS stay in the outbox.
//!
//! With `--database URL` the same story runs on real storage (a fresh
//! database: the story creates its users by email and phone, which must not
//! exist yet):
//!
//! ```sh
//! cargo run --example quickstart --features sqlite -- --database sqlite://activation-demo.db
//! cargo run --example quickstart --features postgres -- --database postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! Hashing uses the real OWASP preset (argon2id, 19 MiB, t=2). Time is a
//! manual clock, so the "three days later" step needs no waiting.

mod local_smtp;

use std::sync::Arc;

use chrono::{DurationRound, TimeDelta};
use pin_activation::notify::{format_expiry, render_for_display};
use pin_activation::store::User;
use pin_activation::{
    ActivationConfig, ActivationService, ActivationStatus, ChannelChoice, Clock, Error, FirstActivation,
    InMemoryPinStore, InMemoryUserStore, ManualClock, NewUser, Notifier, OutboxNotifier, Password, PinStore, Role,
    SignIn, SystemClock, UserId, UserStore,
};

type Service<U, P, N> = ActivationService<U, P, N, ManualClock>;

fn step(title: &str) {
    println!("\n== {title} ==");
}

fn describe(status: &ActivationStatus) -> String {
    match status {
        ActivationStatus::NoContact => "no email or phone: \"Activate Account\" is greyed out".into(),
        ActivationStatus::Locked { failures } => format!("locked after {failures} wrong PINs (staff must unlock)"),
        ActivationStatus::PinLive {
            purpose,
            channel,
            expires_at,
            attempts_left,
        } => format!(
            "{purpose:?} PIN sent by {channel}, valid until {}, {attempts_left} attempts left",
            format_expiry(*expires_at)
        ),
        ActivationStatus::PinExpired { expired_at } => {
            format!("PIN expired at {}: send a new one", format_expiry(*expired_at))
        }
        ActivationStatus::PinExhausted => "PIN used up by wrong guesses: send a new one".into(),
        ActivationStatus::NoPin => "reachable, no PIN sent yet".into(),
        ActivationStatus::Active => "active (signs in with a password)".into(),
        other => format!("{other:?}"),
    }
}

/// The last PIN the outbox received for `user` (the user reading their mail).
fn read_pin(outbox: &OutboxNotifier, user: &UserId) -> String {
    outbox
        .last_pin_for(user)
        .map(|p| p.expose_secret().to_owned())
        .unwrap_or_default()
}

fn show_last_message(outbox: &OutboxNotifier, user: &UserId) {
    if let Some(m) = outbox.last_for(user) {
        print!("{}", render_for_display(&m));
    }
}

async fn outcome(label: &str, r: Result<SignIn, Error>) -> Option<SignIn> {
    match r {
        Ok(s @ SignIn::ResetRequired { .. }) => {
            println!("  {label}: accepted -> must choose a new password now");
            Some(s)
        }
        Ok(s @ SignIn::SignedIn { .. }) => {
            println!("  {label}: signed in");
            Some(s)
        }
        Err(e) => {
            println!("  {label}: refused ({e})");
            None
        }
    }
}

/// The story, on any stores. `outbox` is where "the user's inbox" is read.
pub async fn run_story<U: UserStore, P: PinStore, N: Notifier>(
    svc: Service<U, P, N>,
    clock: ManualClock,
    outbox: OutboxNotifier,
) -> Result<(), Error> {
    let desk = UserId::new("staff-desk")?;

    step("1. Staff create users from the portal's Users tab");
    let nia = svc
        .create_user(
            NewUser::new("Nia Fong")
                .email("Fong.Nia@Example.com")
                .phone("7135550140"),
            Some(&desk),
        )
        .await?;
    println!(
        "Created tenant {} <{}>, phone {} (the PIN goes by email, the preferred channel)",
        nia.user.display_name,
        nia.user.email.as_ref().map_or("", |e| e.as_str()),
        nia.user.phone.as_ref().map_or("", |p| p.as_str())
    );
    show_last_message(&outbox, &nia.user.id);
    let bo = svc
        .create_user(
            NewUser::new("Bo Garcia").phone("+1 843 555 0117").role(Role::Staff),
            Some(&desk),
        )
        .await?;
    println!(
        "Created staff member {} ({})",
        bo.user.display_name,
        bo.user.phone.as_ref().map_or("", |p| p.as_str())
    );
    show_last_message(&outbox, &bo.user.id);
    let oskar = svc.create_user(NewUser::new("Oskar Zimmer"), Some(&desk)).await?;
    assert!(matches!(oskar.activation, FirstActivation::NoContact));
    println!("Created tenant {} with no email and no phone.", oskar.user.display_name);
    println!("  can_activate: {}", svc.can_activate(&oskar.user.id).await?);
    match svc
        .resend_activation(&oskar.user.id, ChannelChoice::Preferred, &desk)
        .await
    {
        Err(e) => println!("  \"Activate Account\" -> {e}"),
        Ok(_) => println!("  unexpected: a PIN was sent"),
    }

    step("2. Nia signs in with her email and the PIN from the message");
    let pin = read_pin(&outbox, &nia.user.id);
    let Some(SignIn::ResetRequired { user_id, ticket, .. }) = outcome(
        "\"  FONG.Nia@example.com \" + PIN",
        svc.login("  FONG.Nia@example.com ", &Password::new(pin.as_str())).await,
    )
    .await
    else {
        return Ok(());
    };

    step("3. The forced new password");
    for attempt in ["password123", "fong.nia@example.com", "copper lantern harbour"] {
        match svc.complete_reset(&user_id, &ticket, &Password::new(attempt)).await {
            Ok(done) => println!(
                "  {attempt:?}: accepted; account active (credential version {})",
                done.credential_version
            ),
            Err(e) => println!("  {attempt:?}: {e}"),
        }
    }

    step("4. Nia signs in with her new password (email or phone)");
    outcome(
        "email + password",
        svc.login("fong.nia@example.com", &Password::new("copper lantern harbour"))
            .await,
    )
    .await;
    outcome(
        "phone + password",
        svc.login("(713) 555-0140", &Password::new("copper lantern harbour"))
            .await,
    )
    .await;
    outcome(
        "the old PIN",
        svc.login("fong.nia@example.com", &Password::new(pin.as_str())).await,
    )
    .await;

    step("5. Staff re-send Bo's activation: the old PIN stops working");
    let old_pin = read_pin(&outbox, &bo.user.id);
    clock.advance(TimeDelta::minutes(2)); // past the 60 s re-send cooldown
    let sent = svc
        .resend_activation(&bo.user.id, ChannelChoice::Preferred, &desk)
        .await?;
    println!(
        "  sent a new PIN by {}, valid until {}",
        sent.channel,
        format_expiry(sent.expires_at)
    );
    show_last_message(&outbox, &bo.user.id);
    let new_pin = read_pin(&outbox, &bo.user.id);
    outcome(
        "Bo + old PIN",
        svc.login("+18435550117", &Password::new(old_pin.as_str())).await,
    )
    .await;
    outcome(
        "Bo + new PIN",
        svc.login("843-555-0117", &Password::new(new_pin.as_str())).await,
    )
    .await;
    match svc
        .resend_activation(&bo.user.id, ChannelChoice::Preferred, &desk)
        .await
    {
        Err(e) => println!("  a second click right away: {e}"),
        Ok(_) => println!("  unexpected: not throttled"),
    }

    step("6. Three days later, a PIN nobody used has expired");
    let late = svc
        .create_user(NewUser::new("Uma Ueda").email("ueda.uma@example.com"), Some(&desk))
        .await?;
    println!(
        "  staff create tenant {} <{}>; the PIN goes out, valid for 72 hours, and nobody uses it",
        late.user.display_name,
        late.user.email.as_ref().map_or("", |e| e.as_str())
    );
    let late_pin = read_pin(&outbox, &late.user.id);
    clock.advance(TimeDelta::hours(73));
    outcome(
        "Uma + PIN after 73 h",
        svc.login("ueda.uma@example.com", &Password::new(late_pin.as_str()))
            .await,
    )
    .await;

    step("7. What staff see beside each \"Activate Account\" button");
    let mut users: Vec<User> = svc.list_users().await?;
    // Users created in the same instant come in id order, and ids are
    // random: sort by name so every run reads the same.
    users.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    for u in users {
        let report = svc.activation_status(&u.id).await?;
        println!(
            "  {:<14} {:<8} {}",
            u.display_name,
            u.role.to_string(),
            describe(&report.status)
        );
    }
    Ok(())
}

/// The command line: `--smtp HOST:PORT` and `--database URL`, both optional.
#[derive(Default)]
struct Args {
    smtp: Option<String>,
    database: Option<String>,
}

const USAGE: &str = "usage: quickstart [--smtp HOST:PORT] [--database sqlite://FILE | postgres://URL]";

fn parse_args() -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--smtp" => parsed.smtp = Some(args.next().ok_or("--smtp needs HOST:PORT")?),
            "--database" => parsed.database = Some(args.next().ok_or("--database needs a URL")?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}; {USAGE}")),
        }
    }
    Ok(parsed)
}

/// Builds the service over `users` and `pins` and tells the story, unless
/// the stores already hold users (a database used before).
async fn run_on<U: UserStore, P: PinStore>(
    users: U,
    pins: P,
    storage: &str,
    smtp: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    if !users.list().await?.is_empty() {
        return Err(format!(
            "{storage} already holds users (from an earlier run?): the story creates its users anew, \
             so give it a fresh database (delete the SQLite file, or name another)"
        )
        .into());
    }
    let start = SystemClock.now().duration_trunc(TimeDelta::seconds(1))?;
    let clock = ManualClock::new(start);
    let outbox = OutboxNotifier::new_ok();
    let from = "Lakeside Self Storage <no-reply@lakeside-storage.example>";
    let notifier: Arc<dyn Notifier> = local_smtp::notifier(smtp, from, &outbox)?;
    let mut config = ActivationConfig::default(); // OWASP argon2id
    config.messages.operator_name = "Lakeside Self Storage".into();
    config.messages.sign_in_url = "https://lakeside-storage.example/signin".into();
    let svc = ActivationService::builder(users, pins, notifier)
        .config(config)
        .clock(clock.clone())
        .build()?;
    println!("pin-activation quickstart: {storage}, OWASP argon2id, outbox delivery");
    if let Some(addr) = smtp {
        println!("email also goes out for real through SMTP at {addr} (plain); SMS stay in the outbox");
    }
    run_story(svc, clock, outbox).await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("error: {}", sentences(e.as_ref()));
        std::process::exit(1);
    }
}

/// An error and its causes, as sentences (not a Debug dump).
fn sentences(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let smtp = args.smtp.as_deref();
    match args.database {
        None => {
            run_on(
                InMemoryUserStore::new(),
                InMemoryPinStore::new(),
                "in-memory stores",
                smtp,
            )
            .await
        }
        Some(url) if url.starts_with("sqlite:") => {
            #[cfg(feature = "sqlite")]
            {
                let store = pin_activation::SqliteStore::connect(&url)
                    .await
                    .map_err(|e| format!("cannot open {url}: {}", sentences(&e)))?;
                store.migrate().await?;
                run_on(store.clone(), store, &format!("SQLite at {url}"), smtp).await
            }
            #[cfg(not(feature = "sqlite"))]
            {
                Err("SQLite support is not built in: run with `--features sqlite`".into())
            }
        }
        Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
            #[cfg(feature = "postgres")]
            {
                let store = pin_activation::PostgresStore::connect(&url)
                    .await
                    .map_err(|e| format!("cannot open {url}: {}", sentences(&e)))?;
                store.migrate().await?;
                run_on(store.clone(), store, &format!("PostgreSQL at {url}"), smtp).await
            }
            #[cfg(not(feature = "postgres"))]
            {
                Err("PostgreSQL support is not built in: run with `--features postgres`".into())
            }
        }
        Some(_) => Err("--database takes a sqlite:// or postgres:// URL".into()),
    }
}
