//! The portal example in a real browser: Debian's `chromium` driven by
//! `chromedriver` over WebDriver (fantoccini), the portal on SQLite (a file
//! in a temporary directory), as `cargo run --example portal` runs it.
//! Outside CI a missing browser or driver skips the test with the reason;
//! with `CI=true` it fails.
//!
//! Screenshots of the Users tab and of the new-password page are written to
//! `<target>/portal-artifacts/`.

#[allow(dead_code)]
#[path = "../examples/portal/app.rs"]
mod app;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use pin_activation::{ActivationConfig, ManualClock, OutboxNotifier, Password, SqliteStore};

const STAFF_EMAIL: &str = "desk@lakeside.example";
const STAFF_PASSWORD: &str = "copper kettle harbour gate";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Bound on every wait for the browser (page loads, elements).
const WAIT: Duration = Duration::from_secs(15);

fn find_program(name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// The browser and driver, or why they are unusable. Under `CI=true` a
/// missing one fails the test.
fn browser_tools() -> Option<PathBuf> {
    let chromium = find_program(CHROMIUM);
    let driver = find_program("chromedriver");
    match (chromium, driver) {
        (Some(_), Some(driver)) => Some(driver),
        (chromium, driver) => {
            let reason = format!(
                "needs {CHROMIUM} and chromedriver on PATH (found chromium: {}, chromedriver: {}); \
                 install with `apt-get install -y chromium chromium-driver`",
                chromium.is_some(),
                driver.is_some()
            );
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("browser test cannot run under CI: {reason}");
            }
            eprintln!("skipping the browser test: {reason}");
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver, killed when dropped; and the browser's profile directory,
/// removed.
struct Driver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl Driver {
    fn start(program: &Path) -> Self {
        let port = free_port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile,
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let ready = (0..150).any(|_| {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
            false
        });
        assert!(ready, "chromedriver did not listen on {addr}");
        driver
    }

    async fn client(&self) -> Client {
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", self.profile.path().display()),
                ]
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a WebDriver session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("portal-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The browser, with a few helpers that wait (bounded) for what they need.
/// A navigation replaced the page between finding an element and using it.
/// Chromium says so as a stale element reference, or, when the old
/// document is already gone, as an inspector error about the node.
fn is_stale(e: &fantoccini::error::CmdError) -> bool {
    use fantoccini::error::{CmdError, ErrorStatus};
    match e {
        CmdError::Standard(w) => {
            w.error == ErrorStatus::StaleElementReference || w.message.contains("does not belong to the document")
        }
        _ => false,
    }
}

struct Tab {
    c: Client,
    base: String,
}

impl Tab {
    async fn open(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.c.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.path().await),
        }
    }

    async fn fill(&self, css: &str, value: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let field = self.find(css).await;
            let result = match field.clear().await {
                Ok(()) => field.send_keys(value).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => return,
                Err(e) if is_stale(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("fill {css}: {e}"),
            }
        }
    }

    async fn click(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.find(css).await.click().await {
                Ok(_) => return,
                // the element belonged to the page that was being replaced
                Err(e) if is_stale(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    async fn text(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if is_stale(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("text of {css}: {e}"),
            }
        }
    }

    async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_owned()
    }

    /// Waits (bounded) until the page at `path` is shown, after a form post
    /// and its redirect.
    async fn wait_for_path(&self, path: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now_at = self.path().await;
            if now_at == path {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached {path}; still at {now_at}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) until the address carries `query` (a GET form's
    /// answer is shown).
    async fn wait_for_query(&self, query: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = self.c.current_url().await.unwrap();
            if url.query().is_some_and(|q| q.contains(query)) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached a page with {query}; still at {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn sign_in(&self, identifier: &str, password: &str) {
        self.open("/signin").await;
        self.fill("#identifier", identifier).await;
        self.fill("#password", password).await;
        self.click("#sign-in button[type=submit]").await;
    }

    async fn sign_out(&self) {
        self.click("header form[action='/signout'] button").await;
        self.wait_for_path("/signin").await;
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.c.screenshot().await.unwrap();
        let path = artifacts().join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The PIN in the newest outbox message to `to`, read off the page.
    async fn pin_from_outbox(&self, to: &str) -> String {
        self.open("/outbox").await;
        assert!(self.text(".demo").await.contains("Demo page"));
        let body = self.text(&format!("article[data-to='{to}'] pre")).await;
        let marker = "Your one-time PIN is: ";
        let start = body.find(marker).unwrap_or_else(|| panic!("no PIN in {body}")) + marker.len();
        let pin: String = body[start..].chars().take_while(char::is_ascii_digit).collect();
        assert_eq!(pin.len(), 6, "{body}");
        pin
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_tenant_click_through_the_portal() {
    let Some(driver_program) = browser_tools() else {
        return;
    };

    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
    let config = app::AppConfig {
        activation: ActivationConfig::for_tests(),
        staff: app::StaffSeed {
            name: "Front Desk".into(),
            email: STAFF_EMAIL.into(),
            password: Password::new(STAFF_PASSWORD),
        },
        secure_cookies: false,
        clock: Arc::new(clock.clone()),
        outbox: OutboxNotifier::new_ok(),
        notifier: None,
    };
    let data = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", data.path().join("portal.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let portal = app::build(store.clone(), store, config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let service = portal.service.clone();
    let server = tokio::spawn(async move { axum::serve(listener, portal.router).await });

    let driver = Driver::start(&driver_program);
    let tab = Tab {
        c: driver.client().await,
        base,
    };

    // Staff sign in and create a tenant; the first activation goes out by email.
    tab.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    tab.wait_for_path("/users").await;
    tab.click("header nav a[href='/users/new']").await;
    tab.fill("#name", "Tess Tenant").await;
    tab.fill("#email", "tess.tenant@example.com").await;
    tab.click("#create-user button[type=submit]").await;
    let note = tab.text(".note").await;
    assert!(
        note.contains("Created Tess Tenant. Activation PIN sent by email"),
        "{note}"
    );

    // A user with no contact, and one more tenant for the re-send below.
    for (name, email) in [("Oskar Zimmer", ""), ("Uma Ueda", "uma.ueda@example.com")] {
        tab.open("/users/new").await;
        tab.fill("#name", name).await;
        if !email.is_empty() {
            tab.fill("#email", email).await;
        }
        tab.click("#create-user button[type=submit]").await;
        tab.find(".note").await;
    }

    // The Users tab: Oskar's "..." menu has Activate Account greyed out, with the reason.
    tab.open("/users").await;
    let users = service.list_users().await.unwrap();
    let oskar = users.iter().find(|u| u.display_name == "Oskar Zimmer").unwrap();
    let oskar_row = format!("#users tr[data-user='{}']", oskar.id);
    assert_eq!(tab.text(&format!("{oskar_row} a.row")).await, "Oskar Zimmer");
    tab.click(&format!("{oskar_row} summary")).await;
    let item = tab.find(&format!("{oskar_row} button.activate")).await;
    assert!(item.is_displayed().await.unwrap());
    assert!(!item.is_enabled().await.unwrap(), "greyed out");
    assert!(item.attr("disabled").await.unwrap().is_some());
    let tooltip = item.attr("title").await.unwrap().unwrap_or_default();
    assert!(
        tooltip.starts_with("No email address or phone number on record"),
        "{tooltip}"
    );
    let users_png = tab.screenshot("portal-users.png").await;

    // The outbox (the tenant's mailbox in this demo) shows the email with the PIN.
    let pin = tab.pin_from_outbox("tess.tenant@example.com").await;
    tab.sign_out().await;

    // The tenant signs in with the PIN and must choose a password; a weak one is refused first.
    tab.sign_in("Tess.Tenant@Example.com", &pin).await;
    tab.wait_for_path("/new-password").await;
    assert!(!tab.c.current_url().await.unwrap().as_str().contains(&pin));
    tab.fill("#password", "password123").await;
    tab.fill("#confirm", "password123").await;
    tab.click("#new-password button[type=submit]").await;
    let refusal = tab.text(".note.error").await;
    assert!(refusal.contains("too common"), "{refusal}");
    assert_eq!(tab.path().await, "/new-password");
    let new_password_png = tab.screenshot("portal-new-password.png").await;
    tab.fill("#password", "quiet orchard lantern").await;
    tab.fill("#confirm", "quiet orchard lantern").await;
    tab.click("#new-password button[type=submit]").await;
    tab.wait_for_path("/account").await;
    assert!(tab.text("#signed-in").await.contains("Tess Tenant"));
    tab.sign_out().await;

    // From now on, email + password (the PIN is spent).
    tab.sign_in("tess.tenant@example.com", &pin).await;
    assert!(tab.text(".note.error").await.contains("is not right"));
    tab.sign_in("tess.tenant@example.com", "quiet orchard lantern").await;
    tab.wait_for_path("/account").await;
    tab.sign_out().await;

    // Staff re-send Uma's activation from her details page (gear -> Activate Account).
    let old_pin = tab.pin_from_outbox("uma.ueda@example.com").await;
    clock.advance(TimeDelta::minutes(2)); // past the re-send cooldown
    tab.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    tab.wait_for_path("/users").await;
    tab.fill("input[name=q]", "uma").await;
    tab.click("form.search button").await;
    // the first row of the unfiltered list must not be clicked by mistake
    tab.wait_for_query("q=uma").await;
    tab.click("#users a.row").await;
    tab.click("a.gear").await;
    let status = tab.text("#activation-status").await;
    assert!(status.contains("Activation PIN sent by email, live until"), "{status}");
    assert!(status.contains("5 attempts left"), "{status}");
    tab.click("#activate button.activate").await;
    let note = tab.text(".note[role=status]").await;
    assert!(note.contains("Activation PIN for Uma Ueda sent by email"), "{note}");
    assert!(tab.text("#deliveries").await.contains("Delivered"));
    let settings_png = tab.screenshot("portal-settings.png").await;
    let new_pin = tab.pin_from_outbox("uma.ueda@example.com").await;
    assert_ne!(new_pin, old_pin);
    let outbox_png = tab.screenshot("portal-outbox.png").await;
    tab.sign_out().await;

    // The old PIN is dead, the new one works.
    tab.sign_in("uma.ueda@example.com", &old_pin).await;
    assert!(tab.text(".note.error").await.contains("is not right"));
    assert_eq!(tab.path().await, "/signin");
    tab.sign_in("uma.ueda@example.com", &new_pin).await;
    tab.wait_for_path("/new-password").await;

    tab.c.close().await.unwrap();
    drop(driver);
    server.abort();
    for png in [users_png, new_password_png, settings_png, outbox_png] {
        let len = std::fs::metadata(&png).unwrap().len();
        assert!(len > 10_000, "{} is only {len} bytes", png.display());
        println!("screenshot: {}", png.display());
    }
}
