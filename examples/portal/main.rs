//! The operator's portal: staff create users and re-send activation, users
//! sign in with the PIN, choose a password and sign in with it.
//!
//! ```sh
//! PORTAL_STAFF_EMAIL=desk@lakeside.example PORTAL_STAFF_PASSWORD='a long staff phrase' \
//!   cargo run --example portal --features portal,sqlite
//! ```
//!
//! Then open <http://127.0.0.1:3000>. Users and PINs are kept in SQLite (a
//! file in the system's temporary directory unless `--data-dir` or
//! `--database` says otherwise; `--database postgres://...` with the
//! `postgres` feature). Messages go to the outbox (the "Outbox (demo)"
//! tab), which stands in for the users' mail and phones.

mod app;
#[path = "../local_smtp/mod.rs"]
mod local_smtp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use pin_activation::{
    ActivationConfig, HashPreset, InMemoryPinStore, InMemoryUserStore, OutboxNotifier, Password, PinStore, SqliteStore,
    SystemClock, UserStore,
};

use app::{AppConfig, StaffSeed, StartError};

const HELP: &str = "\
The operator's portal (pin-activation example).

Usage: cargo run --example portal --features portal,sqlite -- [options]

Options (each also read from the environment variable shown):
  --staff-email EMAIL       PORTAL_STAFF_EMAIL     the staff account to create at start (required)
  --staff-password PHRASE   PORTAL_STAFF_PASSWORD  its password (required; prefer the variable: arguments
                                                   show in the process list)
  --staff-name NAME         PORTAL_STAFF_NAME      its display name (default \"Front Desk\")
  --listen ADDR             PORTAL_LISTEN          address to serve on (default 127.0.0.1:3000)
  --public-url URL          PORTAL_PUBLIC_URL      the portal's address in messages (default http://ADDR)
  --data-dir DIR            PORTAL_DATA_DIR        directory of the SQLite file portal.db (default: the
                                                   system temp directory + /pin-activation-portal)
  --database URL            PORTAL_DATABASE        instead: sqlite://FILE, sqlite::memory:, memory (the
                                                   crate's in-memory stores) or, built with the postgres
                                                   feature, postgres://USER@HOST/DB
  --smtp HOST:PORT          PORTAL_SMTP            with the smtp feature: send the emails for real through
                                                   this relay (plain SMTP, a local MTA or test sink; see
                                                   examples/local_smtp/mod.rs); SMS stay in the outbox
  --smtp-from MAILBOX       PORTAL_SMTP_FROM       the sender (default Lakeside Self Storage
                                                   <no-reply@lakeside-storage.example>)
  --secure-cookies          PORTAL_SECURE_COOKIES  mark the session cookie Secure: set it when users reach
                                                   the portal over HTTPS (directly or through a proxy)
  --fast-insecure-hashing                          argon2 Testing preset instead of OWASP (demos only)
  -h, --help                                       this text
";

struct Options {
    staff_email: Option<String>,
    staff_password: Option<String>,
    staff_name: String,
    listen: SocketAddr,
    public_url: Option<String>,
    data_dir: PathBuf,
    database: Option<String>,
    secure_cookies: bool,
    fast_hashing: bool,
    smtp: Option<String>,
    smtp_from: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        staff_email: env("PORTAL_STAFF_EMAIL"),
        staff_password: env("PORTAL_STAFF_PASSWORD"),
        staff_name: env("PORTAL_STAFF_NAME").unwrap_or_else(|| "Front Desk".into()),
        listen: "127.0.0.1:3000".parse().map_err(|e| format!("{e}"))?,
        public_url: env("PORTAL_PUBLIC_URL"),
        data_dir: env("PORTAL_DATA_DIR")
            .map_or_else(|| std::env::temp_dir().join("pin-activation-portal"), PathBuf::from),
        database: env("PORTAL_DATABASE"),
        secure_cookies: env("PORTAL_SECURE_COOKIES").is_some_and(|v| v != "0" && v != "false"),
        fast_hashing: false,
        smtp: env("PORTAL_SMTP"),
        smtp_from: env("PORTAL_SMTP_FROM")
            .unwrap_or_else(|| "Lakeside Self Storage <no-reply@lakeside-storage.example>".into()),
    };
    if let Some(l) = env("PORTAL_LISTEN") {
        o.listen = l.parse().map_err(|e| format!("PORTAL_LISTEN {l:?}: {e}"))?;
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--staff-email" => o.staff_email = Some(value("--staff-email")?),
            "--staff-password" => o.staff_password = Some(value("--staff-password")?),
            "--staff-name" => o.staff_name = value("--staff-name")?,
            "--listen" => {
                let v = value("--listen")?;
                o.listen = v.parse().map_err(|e| format!("--listen {v:?}: {e}"))?;
            }
            "--public-url" => o.public_url = Some(value("--public-url")?),
            "--data-dir" => o.data_dir = PathBuf::from(value("--data-dir")?),
            "--database" => o.database = Some(value("--database")?),
            "--smtp" => o.smtp = Some(value("--smtp")?),
            "--smtp-from" => o.smtp_from = value("--smtp-from")?,
            "--secure-cookies" => o.secure_cookies = true,
            "--fast-insecure-hashing" => o.fast_hashing = true,
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(o)
}

async fn serve<U: UserStore, P: PinStore>(
    users: U,
    pins: P,
    config: AppConfig,
    listen: SocketAddr,
) -> Result<(), Box<dyn std::error::Error>> {
    let staff_email = config.staff.email.clone();
    let portal = app::build(users, pins, config).await?;
    println!("Staff account ready: sign in as {staff_email}");
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("Portal on http://{}  (Ctrl-C to stop)", listener.local_addr()?);
    axum::serve(listener, portal.router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn sqlite(url: &str, config: AppConfig, listen: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::connect(url)
        .await
        .map_err(|e| StartError(format!("cannot open {url}: {e}")))?;
    store
        .migrate()
        .await
        .map_err(|e| StartError(format!("cannot create the tables in {url}: {e}")))?;
    println!("Users and PINs in {url}");
    serve(store.clone(), store, config, listen).await
}

#[cfg(feature = "postgres")]
async fn postgres(url: &str, config: AppConfig, listen: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let store = pin_activation::PostgresStore::connect(url)
        .await
        .map_err(|e| StartError(format!("cannot connect to PostgreSQL: {e}")))?;
    store
        .migrate()
        .await
        .map_err(|e| StartError(format!("cannot create the tables in PostgreSQL: {e}")))?;
    println!("Users and PINs in PostgreSQL");
    serve(store.clone(), store, config, listen).await
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_url: &str, _config: AppConfig, _listen: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    Err(StartError("PostgreSQL support is not built in: run with --features portal,sqlite,postgres".into()).into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // colours only on a terminal, not in a log file
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let o = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("portal: {e}");
            std::process::exit(2);
        }
    };
    let (Some(staff_email), Some(staff_password)) = (o.staff_email, o.staff_password) else {
        eprintln!(
            "portal: no staff account. The portal has no default password: give the staff account to create with\n  \
             PORTAL_STAFF_EMAIL=desk@example.com PORTAL_STAFF_PASSWORD='a long private phrase' cargo run --example portal --features portal,sqlite\n\
             (or --staff-email / --staff-password; see --help)"
        );
        std::process::exit(2);
    };
    let outbox = OutboxNotifier::new_ok();
    let notifier = match o.smtp.as_deref() {
        None => None,
        Some(relay) => match local_smtp::notifier(Some(relay), &o.smtp_from, &outbox) {
            Ok(n) => {
                println!("Emails go out through SMTP at {relay} (plain); SMS stay in the outbox");
                Some(n)
            }
            Err(e) => {
                eprintln!("portal: {e}");
                std::process::exit(2);
            }
        },
    };
    let mut activation = ActivationConfig::default();
    if o.fast_hashing {
        activation.hashing.preset = HashPreset::Testing;
    }
    activation.messages.operator_name = "Lakeside Self Storage".into();
    activation.messages.sign_in_url = format!(
        "{}/signin",
        o.public_url
            .unwrap_or_else(|| format!("http://{}", o.listen))
            .trim_end_matches('/')
    );
    let config = AppConfig {
        activation,
        staff: StaffSeed {
            name: o.staff_name,
            email: staff_email,
            password: Password::new(staff_password),
        },
        secure_cookies: o.secure_cookies,
        clock: Arc::new(SystemClock),
        outbox,
        notifier,
    };
    let database = match o.database {
        Some(url) => url,
        None => {
            if let Err(e) = std::fs::create_dir_all(&o.data_dir) {
                eprintln!("portal: cannot create {}: {e}", o.data_dir.display());
                std::process::exit(1);
            }
            format!("sqlite://{}", o.data_dir.join("portal.db").display())
        }
    };
    let result = match database.as_str() {
        "memory" => {
            println!("Users and PINs in memory (gone when the portal stops)");
            serve(InMemoryUserStore::new(), InMemoryPinStore::new(), config, o.listen).await
        }
        url if url.starts_with("sqlite:") => sqlite(url, config, o.listen).await,
        url if url.starts_with("postgres:") || url.starts_with("postgresql:") => postgres(url, config, o.listen).await,
        other => Err(Box::new(StartError(format!(
            "--database {other:?}: expected sqlite://FILE, sqlite::memory:, memory or postgres://..."
        ))) as Box<dyn std::error::Error>),
    };
    if let Err(e) = result {
        eprintln!("portal: {e}");
        std::process::exit(1);
    }
    Ok(())
}
