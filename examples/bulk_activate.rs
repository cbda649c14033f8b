//! Bulk activation from a portal's user export.
//!
//! ```sh
//! cargo run --release --example bulk_activate -- [PATH.csv] [--preset testing|owasp]
//! cargo run --release --features smtp --example bulk_activate -- --smtp 127.0.0.1:2525
//! ```
//!
//! Reads `name,email,phone,role,unit` rows (default:
//! `examples/data/tenants.csv`), creates every user and sends activation
//! through the outbox notifier, hashing with the real OWASP preset unless
//! `--preset testing` is given, on all cores. Never stops on a bad row: each
//! is reported with its line number and reason.
//!
//! With `--smtp HOST:PORT` (feature `smtp`) every email really goes out
//! through that relay over plain SMTP (see `examples/local_smtp/mod.rs` for
//! watching them arrive in a local aiosmtpd sink); SMS stay in the outbox.

mod local_smtp;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use pin_activation::notify::render_for_display;
use pin_activation::{
    ActivationConfig, ActivationService, ChannelKind, Email, Error, FirstActivation, HashPreset, InMemoryPinStore,
    InMemoryUserStore, Login, NewUser, Notifier, OutboxNotifier, Phone, Role,
};
use tokio::sync::Semaphore;

#[derive(Debug)]
enum RowOutcome {
    Sent(ChannelKind),
    NoContact,
    Duplicate(String),
    Invalid(String),
    SendFailed(String),
}

struct Args {
    path: String,
    preset: HashPreset,
    smtp: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut path = "examples/data/tenants.csv".to_owned();
    let mut preset = HashPreset::Owasp;
    let mut smtp = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--preset" => preset = args.next().ok_or("--preset needs a value")?.parse()?,
            "--smtp" => smtp = Some(args.next().ok_or("--smtp needs HOST:PORT")?),
            "-h" | "--help" => {
                return Err(
                    "usage: bulk_activate [PATH.csv] [--preset testing|owasp|rfc9106-low-memory] [--smtp HOST:PORT]"
                        .into(),
                );
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => path = other.to_owned(),
        }
    }
    Ok(Args { path, preset, smtp })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut config = ActivationConfig::default();
    config.hashing.preset = args.preset;
    let region = config.default_region;
    let cores = config.hashing.concurrency();
    let outbox = OutboxNotifier::new_ok();
    let from = "Self Storage Portal <no-reply@portal.example.com>";
    let notifier: Arc<dyn Notifier> = local_smtp::notifier(args.smtp.as_deref(), from, &outbox)?;
    if let Some(addr) = &args.smtp {
        println!("Email goes out for real through SMTP at {addr} (plain); SMS stay in the outbox");
    }
    let svc = ActivationService::builder(InMemoryUserStore::new(), InMemoryPinStore::new(), notifier)
        .config(config)
        .build()?;

    let started = Instant::now();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::None)
        .from_path(&args.path)?;
    // Rows are read in order; each is created in its own task, at most
    // `cores * 2` in flight (hashing itself is bounded to `cores`).
    let gate = Arc::new(Semaphore::new(cores * 2));
    let mut tasks = Vec::new();
    // Duplicates are found in file order, with the same normalization the
    // service uses, so the report names the first row deterministically.
    let mut first_seen: HashMap<Login, usize> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2; // 1-based, after the header
        let row = match record {
            Ok(r) if r.len() == 5 => r,
            Ok(r) => {
                tasks.push(tokio::spawn(async move {
                    (
                        line,
                        RowOutcome::Invalid(format!("expected 5 columns, found {}", r.len())),
                    )
                }));
                continue;
            }
            Err(e) => {
                tasks.push(tokio::spawn(async move {
                    (line, RowOutcome::Invalid(format!("unreadable CSV: {e}")))
                }));
                continue;
            }
        };
        let logins: Vec<(Login, &str)> = [
            Email::parse(&row[1]).ok().map(|e| (Login::Email(e), "email")),
            Phone::parse(&row[2], region).ok().map(|p| (Login::Phone(p), "phone")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Some((field, earlier)) = logins.iter().find_map(|(l, f)| first_seen.get(l).map(|n| (*f, *n))) {
            let why = format!("same {field} as line {earlier}");
            tasks.push(tokio::spawn(async move { (line, RowOutcome::Duplicate(why)) }));
            continue;
        }
        let row_valid = (row[1].trim().is_empty() || Email::parse(&row[1]).is_ok())
            && (row[2].trim().is_empty() || Phone::parse(&row[2], region).is_ok());
        if row_valid {
            for (login, _) in logins {
                first_seen.insert(login, line);
            }
        }
        let mut new = NewUser::new(&row[0]);
        new.email = Some(row[1].to_owned());
        new.phone = Some(row[2].to_owned());
        let role = row[3].parse::<Role>();
        let (svc, gate) = (svc.clone(), Arc::clone(&gate));
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let outcome = match role {
                Err(e) => RowOutcome::Invalid(format!("role: {e}")),
                Ok(role) => match svc.create_user(new.role(role), None).await {
                    Ok(c) => match c.activation {
                        FirstActivation::Sent(d) => RowOutcome::Sent(d.channel),
                        FirstActivation::NoContact => RowOutcome::NoContact,
                        FirstActivation::Failed(e) => RowOutcome::SendFailed(e.to_string()),
                    },
                    Err(Error::Duplicate(field)) => RowOutcome::Duplicate(format!("same {field} as an earlier row")),
                    Err(e) => RowOutcome::Invalid(e.to_string()),
                },
            };
            (line, outcome)
        }));
    }
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await?);
    }
    results.sort_by_key(|(line, _)| *line);
    let elapsed = started.elapsed();

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for (line, outcome) in &results {
        let key = match outcome {
            RowOutcome::Sent(ChannelKind::Email) => "sent by email",
            RowOutcome::Sent(ChannelKind::Sms) => "sent by SMS",
            RowOutcome::NoContact => "no contact (Activate Account unavailable)",
            RowOutcome::Duplicate(why) => {
                problems.push(format!("  line {line:>4}: duplicate: {why}"));
                "duplicates after normalization"
            }
            RowOutcome::Invalid(why) => {
                problems.push(format!("  line {line:>4}: invalid: {why}"));
                "invalid rows"
            }
            RowOutcome::SendFailed(why) => {
                problems.push(format!("  line {line:>4}: created, sending failed: {why}"));
                "created, sending failed"
            }
        };
        *counts.entry(key).or_default() += 1;
    }
    let created = results
        .iter()
        .filter(|(_, o)| {
            matches!(
                o,
                RowOutcome::Sent(_) | RowOutcome::NoContact | RowOutcome::SendFailed(_)
            )
        })
        .count();

    println!(
        "Bulk activation of {} ({} rows, preset {:?}, {cores} hashing threads)",
        args.path,
        results.len(),
        args.preset
    );
    println!("  created: {created}");
    for (k, v) in &counts {
        println!("  {k}: {v}");
    }
    if !problems.is_empty() {
        println!("Rows needing attention:");
        for p in &problems {
            println!("{p}");
        }
    }
    if let Some(sample) = outbox.messages().first() {
        println!("One sample message:");
        print!("{}", render_for_display(sample));
    }
    println!(
        "Elapsed: {:.2?} ({:.1} ms per created user)",
        elapsed,
        elapsed.as_secs_f64() * 1000.0 / created.max(1) as f64
    );
    Ok(())
}
