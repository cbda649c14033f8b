//! HTTP-level tests of the portal example (no browser): the router is driven
//! request by request with `tower::ServiceExt::oneshot`, with a tiny cookie
//! jar and the CSRF token read from each page.

#[allow(dead_code)]
#[path = "../examples/portal/app.rs"]
mod app;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use chrono::{TimeDelta, TimeZone, Utc};
use pin_activation::{
    ActivationConfig, InMemoryPinStore, InMemoryUserStore, ManualClock, NewUser, OutboxNotifier, Password, SignIn,
    SqliteStore, UserId,
};
use tower::ServiceExt;

const STAFF_EMAIL: &str = "desk@lakeside.example";
const STAFF_PASSWORD: &str = "copper kettle harbour gate";

type Portal = app::Portal<InMemoryUserStore, InMemoryPinStore>;

async fn portal_with(secure_cookies: bool) -> (Portal, ManualClock) {
    portal_configured(secure_cookies, ActivationConfig::for_tests()).await
}

async fn portal_configured(secure_cookies: bool, activation: ActivationConfig) -> (Portal, ManualClock) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
    let config = app::AppConfig {
        activation,
        staff: app::StaffSeed {
            name: "Front Desk".into(),
            email: STAFF_EMAIL.into(),
            password: Password::new(STAFF_PASSWORD),
        },
        secure_cookies,
        clock: Arc::new(clock.clone()),
        outbox: OutboxNotifier::new_ok(),
        notifier: None,
    };
    let portal = app::build(InMemoryUserStore::new(), InMemoryPinStore::new(), config)
        .await
        .unwrap();
    (portal, clock)
}

async fn portal() -> (Portal, ManualClock) {
    portal_with(false).await
}

/// A response, read whole.
struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self.body.find(marker).expect("a form with a CSRF field") + marker.len();
        let len = self.body[start..].find('"').unwrap();
        self.body[start..start + len].to_owned()
    }

    /// The body with every CSRF token replaced, for comparisons.
    fn masked(&self) -> String {
        let mut out = self.body.clone();
        if self.body.contains(r#"name="csrf""#) {
            out = out.replace(&self.csrf(), "CSRF");
        }
        out
    }
}

/// One browser: a cookie jar holding the session cookie, and every
/// `Location` it was sent to.
struct Browser {
    router: Router,
    cookie: Option<String>,
    locations: Vec<String>,
}

impl Browser {
    fn new(portal: &Portal) -> Self {
        Self {
            router: portal.router.clone(),
            cookie: None,
            locations: Vec::new(),
        }
    }

    async fn send(&mut self, req: Request<Body>) -> Page {
        let mut req = req;
        if let Some(c) = &self.cookie {
            req.headers_mut().insert(header::COOKIE, c.parse().unwrap());
        }
        let res: Response<Body> = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        if let Some(set) = parts.headers.get(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        if let Some(l) = parts.headers.get(header::LOCATION) {
            self.locations.push(l.to_str().unwrap().to_owned());
        }
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).unwrap()).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(form).unwrap();
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Loads `page` for its token, then posts `form` with it.
    async fn submit(&mut self, page: &str, action: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(page).await.csrf();
        let mut fields = vec![("csrf", token.as_str())];
        fields.extend_from_slice(form);
        self.post(action, &fields).await
    }

    async fn sign_in(&mut self, identifier: &str, password: &str) -> Page {
        self.submit(
            "/signin",
            "/signin",
            &[("identifier", identifier), ("password", password)],
        )
        .await
    }
}

/// A tenant who has finished activation, with this password.
async fn active_tenant(portal: &Portal, email: &str, password: &str) -> UserId {
    let svc = &portal.service;
    let created = svc
        .create_user(NewUser::new("Nia Fong").email(email), None)
        .await
        .unwrap();
    let pin = portal.outbox.last_pin_for(&created.user.id).unwrap();
    let SignIn::ResetRequired { ticket, .. } = svc.login(email, &Password::new(pin.expose_secret())).await.unwrap()
    else {
        panic!("a right PIN asks for a new password");
    };
    svc.complete_reset(&created.user.id, &ticket, &Password::new(password))
        .await
        .unwrap();
    created.user.id
}

#[tokio::test]
async fn a_post_without_the_session_csrf_token_is_refused() {
    let (portal, _) = portal().await;
    let mut b = Browser::new(&portal);
    let page = b.get("/signin").await;
    assert_eq!(page.status, StatusCode::OK);
    let token = page.csrf();
    assert_eq!(token.len(), 64);

    let creds = [("identifier", STAFF_EMAIL), ("password", STAFF_PASSWORD)];
    let missing = b.post("/signin", &creds).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let wrong_token = "0".repeat(64);
    let wrong = b
        .post("/signin", &[("csrf", wrong_token.as_str()), creds[0], creds[1]])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let short = b.post("/signin", &[("csrf", &token[..10]), creds[0], creds[1]]).await;
    assert_eq!(short.status, StatusCode::FORBIDDEN);

    // Another browser's token does not work on this session either.
    let mut other = Browser::new(&portal);
    let other_token = other.get("/signin").await.csrf();
    assert_ne!(other_token, token);
    let foreign = b
        .post("/signin", &[("csrf", other_token.as_str()), creds[0], creds[1]])
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);

    // A request with no session cookie at all gets a fresh session, whose token it cannot know.
    let mut cookieless = Browser::new(&portal);
    let forged = cookieless
        .post("/signin", &[("csrf", token.as_str()), creds[0], creds[1]])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // The right token goes through.
    let ok = b.post("/signin", &[("csrf", token.as_str()), creds[0], creds[1]]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), Some("/"));

    // Staff forms too: signed in, a forged create or re-send is refused and changes nothing.
    let before = portal.service.list_users().await.unwrap().len();
    let forged = b
        .post(
            "/users/new",
            &[
                ("csrf", wrong_token.as_str()),
                ("name", "Mallory"),
                ("email", "m@example.com"),
                ("role", "staff"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let staff = portal.staff_id.as_str().to_owned();
    let forged = b.post(&format!("/users/{staff}/activate"), &[("from", "list")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(portal.service.list_users().await.unwrap().len(), before);
    assert_eq!(portal.outbox.messages().len(), 1, "only the staff seeding message");
}

#[tokio::test]
async fn sign_in_refusals_are_identical_for_unknown_and_known_users() {
    let (portal, _) = portal().await;
    active_tenant(&portal, "nia.fong@example.com", "copper lantern harbour").await;
    let pending = portal
        .service
        .create_user(NewUser::new("Bo Garcia").phone("+1 843 555 0117"), None)
        .await
        .unwrap();
    assert!(portal.outbox.last_pin_for(&pending.user.id).is_some());

    let attempts = [
        ("nobody@example.com", "copper lantern harbour"), // unknown user, password
        ("nia.fong@example.com", "not the right password"), // known user, wrong password
        ("nobody@example.com", "000111"),                 // unknown user, a PIN
        ("+1 843 555 0117", "000111"),                    // known pending user, wrong PIN
        ("+1 713 555 0199", "000111"),                    // unknown phone
    ];
    let mut pages = Vec::new();
    for (identifier, secret) in attempts {
        let mut b = Browser::new(&portal);
        pages.push(b.sign_in(identifier, secret).await);
    }
    let first = &pages[0];
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("is not right"), "{}", first.body);
    for (page, attempt) in pages.iter().zip(attempts).skip(1) {
        assert_eq!(page.status, first.status, "{attempt:?}");
        assert_eq!(page.masked(), first.masked(), "{attempt:?}");
        let names = |p: &Page| {
            let mut n: Vec<(String, String)> = p
                .headers
                .iter()
                .filter(|(k, _)| *k != header::SET_COOKIE)
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            n.sort();
            n
        };
        assert_eq!(names(page), names(first), "{attempt:?}");
    }
    // The identifier is never echoed back.
    assert!(!pages[1].body.contains("nia.fong"));
}

#[tokio::test]
async fn request_pin_answers_identically_for_any_identifier() {
    let (portal, _) = portal().await;
    active_tenant(&portal, "nia.fong@example.com", "copper lantern harbour").await;
    let mut pages = Vec::new();
    for identifier in ["nia.fong@example.com", "nobody@example.com", "+1 713 555 0199"] {
        let mut b = Browser::new(&portal);
        let page = b
            .submit("/request-pin", "/request-pin", &[("identifier", identifier)])
            .await;
        assert_eq!(page.status, StatusCode::OK);
        pages.push(page);
    }
    assert!(
        pages[0]
            .body
            .contains("If this email address or phone number belongs to an account")
    );
    assert_eq!(pages[0].masked(), pages[1].masked());
    assert_eq!(pages[0].masked(), pages[2].masked());
}

#[tokio::test]
async fn cookies_are_http_only_same_site_lax_and_secure_when_asked() {
    let (portal, _) = portal().await;
    let mut b = Browser::new(&portal);
    let page = b.get("/signin").await;
    let cookie = page
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("portal_session="), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let id = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(id.len(), 64, "256-bit ids in hex");

    // A sign-in replaces the session id (no fixation), with the same flags.
    let signed = b.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    let rotated = signed.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        rotated.contains("; HttpOnly") && rotated.contains("; SameSite=Lax"),
        "{rotated}"
    );
    assert!(!rotated.contains(id));

    let (secure, _) = portal_with(true).await;
    let mut b = Browser::new(&secure);
    let page = b.get("/signin").await;
    let cookie = page.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cookie.starts_with("__Host-portal_session="), "{cookie}");
    assert!(cookie.contains("; Secure") && cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Lax"));
}

#[tokio::test]
async fn every_page_sends_the_security_headers() {
    let (portal, _) = portal().await;
    let mut b = Browser::new(&portal);
    for path in ["/signin", "/request-pin", "/outbox", "/portal.css", "/nowhere"] {
        let page = b.get(path).await;
        let h = |name: header::HeaderName| page.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(h(header::REFERRER_POLICY).as_deref(), Some("no-referrer"), "{path}");
        assert_eq!(h(header::X_CONTENT_TYPE_OPTIONS).as_deref(), Some("nosniff"), "{path}");
        assert_eq!(h(header::X_FRAME_OPTIONS).as_deref(), Some("DENY"), "{path}");
        assert_eq!(h(header::CACHE_CONTROL).as_deref(), Some("no-store"), "{path}");
        let csp = h(header::CONTENT_SECURITY_POLICY).unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"), "{csp}");
    }
    let page = b.get("/signin").await;
    assert!(!page.body.contains("<script"), "no script at all");
    assert!(!page.body.contains("style="), "no inline style (the CSP forbids it)");
}

#[tokio::test]
async fn the_whole_story_over_http_puts_no_secret_in_any_url() {
    let (portal, clock) = portal().await;
    let mut staff = Browser::new(&portal);
    let signed = staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    assert_eq!(signed.location(), Some("/"));
    assert_eq!(staff.get("/").await.location(), Some("/users"));

    let created = staff
        .submit(
            "/users/new",
            "/users/new",
            &[
                ("name", "Tess Tenant"),
                ("email", "Tess@Example.com"),
                ("phone", ""),
                ("role", "tenant"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let details = staff.get(created.location().unwrap()).await;
    assert!(
        details.body.contains("Activation PIN sent by email"),
        "{}",
        details.body
    );
    let tess = portal.service.find_user("tess@example.com").await.unwrap().unwrap();
    let pin = portal.outbox.last_pin_for(&tess.id).unwrap().expose_secret().to_owned();

    let mut tenant = Browser::new(&portal);
    let with_pin = tenant.sign_in("tess@example.com", &pin).await;
    assert_eq!(with_pin.location(), Some("/new-password"));
    let form = tenant.get("/new-password").await;
    assert!(form.body.contains("Create your new password"));
    assert!(!form.body.contains(&pin));
    let weak = tenant
        .post(
            "/new-password",
            &[
                ("csrf", form.csrf().as_str()),
                ("password", "password123"),
                ("confirm", "password123"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::OK);
    assert!(weak.body.contains("too common"), "{}", weak.body);
    let done = tenant
        .post(
            "/new-password",
            &[
                ("csrf", weak.csrf().as_str()),
                ("password", "quiet orchard lantern"),
                ("confirm", "quiet orchard lantern"),
            ],
        )
        .await;
    assert_eq!(done.location(), Some("/"));
    assert_eq!(tenant.get("/").await.location(), Some("/account"));
    let welcome = tenant.get("/account").await;
    assert!(
        welcome
            .body
            .contains("You are signed in as <strong>Tess Tenant</strong>")
    );
    // A tenant is not staff.
    assert_eq!(tenant.get("/users").await.status, StatusCode::FORBIDDEN);

    let mut again = Browser::new(&portal);
    assert_eq!(
        again
            .sign_in("tess@example.com", "quiet orchard lantern")
            .await
            .location(),
        Some("/")
    );

    // Staff re-send (lost password) from the settings page.
    clock.advance(TimeDelta::minutes(2));
    let id = tess.id.as_str();
    let sent = staff
        .submit(
            &format!("/users/{id}/settings"),
            &format!("/users/{id}/activate"),
            &[("from", "settings"), ("channel", "email")],
        )
        .await;
    assert_eq!(sent.location(), Some(format!("/users/{id}/settings").as_str()));
    let settings = staff.get(&format!("/users/{id}/settings")).await;
    assert!(
        settings
            .body
            .contains("Password reset PIN for Tess Tenant sent by email"),
        "{}",
        settings.body
    );
    assert!(settings.body.contains("Password reset PIN sent by email, live until"));
    let reset_pin = portal.outbox.last_pin_for(&tess.id).unwrap().expose_secret().to_owned();

    let mut secrets = vec![
        pin.clone(),
        reset_pin.clone(),
        "quiet orchard lantern".into(),
        "quiet%20orchard".into(),
    ];
    secrets.push(STAFF_PASSWORD.into());
    for b in [&staff, &tenant, &again] {
        assert!(!b.locations.is_empty());
        for l in &b.locations {
            for s in &secrets {
                assert!(!l.contains(s.as_str()), "{l} holds a secret");
            }
            assert!(!l.contains('?'), "no query strings in redirects: {l}");
        }
    }
}

#[tokio::test]
async fn a_completed_reset_ends_the_other_sessions() {
    let (portal, clock) = portal().await;
    let id = active_tenant(&portal, "nia.fong@example.com", "copper lantern harbour").await;
    let mut laptop = Browser::new(&portal);
    laptop.sign_in("nia.fong@example.com", "copper lantern harbour").await;
    assert_eq!(laptop.get("/account").await.status, StatusCode::OK);

    // Lost password: staff re-send, and the user completes the reset elsewhere.
    clock.advance(TimeDelta::minutes(2));
    portal
        .service
        .resend_activation(&id, pin_activation::ChannelChoice::Preferred, &portal.staff_id)
        .await
        .unwrap();
    let pin = portal.outbox.last_pin_for(&id).unwrap().expose_secret().to_owned();
    let mut phone = Browser::new(&portal);
    assert_eq!(
        phone.sign_in("nia.fong@example.com", &pin).await.location(),
        Some("/new-password")
    );
    let done = phone
        .submit(
            "/new-password",
            "/new-password",
            &[
                ("password", "brand new phrase here"),
                ("confirm", "brand new phrase here"),
            ],
        )
        .await;
    assert_eq!(done.location(), Some("/"));

    // The laptop's session was opened under the old credential version.
    let ended = laptop.get("/account").await;
    assert_eq!(ended.location(), Some("/signin"));
    let sign_in = laptop.get("/signin").await;
    assert!(
        sign_in.body.contains("signed out because the account"),
        "{}",
        sign_in.body
    );
    assert_eq!(phone.get("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn user_values_are_escaped_everywhere() {
    let (portal, _) = portal().await;
    let mut staff = Browser::new(&portal);
    staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    let nasty = r#"<script>alert("x")</script> O'Hara & Co"#;
    let created = staff
        .submit(
            "/users/new",
            "/users/new",
            &[("name", nasty), ("email", ""), ("phone", ""), ("role", "tenant")],
        )
        .await;
    let details = staff.get(created.location().unwrap()).await;
    let list = staff.get("/users").await;
    let search = staff.get("/users?q=%3Cscript%3E").await;
    for page in [&details, &list, &search] {
        assert!(!page.body.contains("<script"), "{}", page.body);
        assert!(
            page.body
                .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#39;Hara &amp; Co")
        );
    }
}

#[tokio::test]
async fn the_users_tab_searches_names_and_normalized_contacts() {
    let (portal, _) = portal().await;
    let svc = &portal.service;
    svc.create_user(NewUser::new("Nia Fong").email("Fong.Nia@Example.com"), None)
        .await
        .unwrap();
    svc.create_user(NewUser::new("Bo Garcia").phone("+1 843 555 0117"), None)
        .await
        .unwrap();
    svc.create_user(NewUser::new("Oskar Zimmer"), None).await.unwrap();
    let mut staff = Browser::new(&portal);
    staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    let rows = |p: &Page| p.body.matches("<tr data-user=").count();

    assert_eq!(rows(&staff.get("/users").await), 4);
    let by_name = staff.get("/users?q=garc").await;
    assert_eq!(rows(&by_name), 1);
    assert!(by_name.body.contains("Bo Garcia"));
    let by_email = staff.get("/users?q=%20FONG.nia%40example.COM%20").await;
    assert_eq!(rows(&by_email), 1);
    assert!(by_email.body.contains("Nia Fong"));
    let by_phone = staff.get("/users?q=(843)%20555-0117").await;
    assert_eq!(rows(&by_phone), 1);
    assert!(by_phone.body.contains("Bo Garcia"));
    let none = staff.get("/users?q=nobody%40example.com").await;
    assert_eq!(rows(&none), 0);

    // Oskar has no contact: his Activate Account is disabled, with the reason.
    let list = staff.get("/users").await;
    let oskar = list
        .body
        .split("<tr data-user=")
        .find(|r| r.contains("Oskar Zimmer"))
        .unwrap();
    assert!(
        oskar.contains("disabled title=\"No email address or phone number on record"),
        "{oskar}"
    );
    let nia = list
        .body
        .split("<tr data-user=")
        .find(|r| r.contains("Nia Fong"))
        .unwrap();
    assert!(!nia.contains("disabled"));
}

#[tokio::test]
async fn a_resend_reports_throttling_with_the_time_to_wait() {
    let (portal, _) = portal().await;
    let created = portal
        .service
        .create_user(NewUser::new("Bo Garcia").phone("+1 843 555 0117"), None)
        .await
        .unwrap();
    let id = created.user.id.as_str().to_owned();
    let mut staff = Browser::new(&portal);
    staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    let r = staff
        .submit("/users", &format!("/users/{id}/activate"), &[("from", "list")])
        .await;
    assert_eq!(r.location(), Some("/users"));
    let list = staff.get("/users").await;
    assert!(
        list.body.contains(
            "Not sent: Bo Garcia was sent a PIN too recently. Try again after 2026-12-03 09:01:00 UTC (in 60 seconds)."
        ),
        "{}",
        list.body
    );
    // The message is shown once.
    assert!(!staff.get("/users").await.body.contains("Not sent"));
}

#[tokio::test]
async fn the_portal_refuses_to_start_with_a_weak_staff_password() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());
    let config = app::AppConfig {
        activation: ActivationConfig::for_tests(),
        staff: app::StaffSeed {
            name: "Front Desk".into(),
            email: STAFF_EMAIL.into(),
            password: Password::new("password"),
        },
        secure_cookies: false,
        clock: Arc::new(clock),
        outbox: OutboxNotifier::new_ok(),
        notifier: None,
    };
    let Err(e) = app::build(InMemoryUserStore::new(), InMemoryPinStore::new(), config).await else {
        panic!("a common password must be refused");
    };
    assert!(e.to_string().contains("the staff password is refused"), "{e}");
}

#[tokio::test]
async fn a_locked_account_shows_the_unlock_button_and_staff_unlock_it() {
    let mut config = ActivationConfig::for_tests();
    config.max_account_failures = 2;
    let (portal, _) = portal_configured(false, config).await;
    let created = portal
        .service
        .create_user(NewUser::new("Bo Garcia").phone("+1 843 555 0117"), None)
        .await
        .unwrap();
    let pin = portal
        .outbox
        .last_pin_for(&created.user.id)
        .unwrap()
        .expose_secret()
        .to_owned();
    let wrong = if pin == "135792" { "135793" } else { "135792" };
    let mut tenant = Browser::new(&portal);
    for _ in 0..2 {
        assert!(
            tenant
                .sign_in("843 555 0117", wrong)
                .await
                .body
                .contains("is not right")
        );
    }
    // Locked: even the right PIN is refused now, with the same answer.
    assert!(tenant.sign_in("843 555 0117", &pin).await.body.contains("is not right"));

    let mut staff = Browser::new(&portal);
    staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    let settings_path = format!("/users/{}/settings", created.user.id);
    let settings = staff.get(&settings_path).await;
    assert!(
        settings.body.contains("Locked: 2 wrong PINs in a row."),
        "{}",
        settings.body
    );
    assert!(settings.body.contains(r#"id="unlock""#));
    let unlocked = staff
        .submit(&settings_path, &format!("/users/{}/unlock", created.user.id), &[])
        .await;
    assert_eq!(unlocked.location(), Some(settings_path.as_str()));
    let settings = staff.get(&settings_path).await;
    assert!(settings.body.contains("Unlocked Bo Garcia"), "{}", settings.body);
    assert!(
        settings.body.contains("Activation PIN sent by SMS, live until"),
        "{}",
        settings.body
    );
    assert!(!settings.body.contains(r#"id="unlock""#));
    assert_eq!(
        tenant.sign_in("843 555 0117", &pin).await.location(),
        Some("/new-password")
    );
}

#[tokio::test]
async fn a_failed_delivery_is_reported_and_the_old_pin_still_works() {
    let (portal, clock) = portal().await;
    let created = portal
        .service
        .create_user(NewUser::new("Uma Ueda").email("uma.ueda@example.com"), None)
        .await
        .unwrap();
    let pin = portal
        .outbox
        .last_pin_for(&created.user.id)
        .unwrap()
        .expose_secret()
        .to_owned();
    clock.advance(TimeDelta::minutes(2));
    portal.outbox.fail_next(1);
    let mut staff = Browser::new(&portal);
    staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    staff
        .submit(
            "/users",
            &format!("/users/{}/activate", created.user.id),
            &[("from", "list")],
        )
        .await;
    let list = staff.get("/users").await;
    assert!(
        list.body
            .contains("Not sent: delivery by email failed (the provider refused it; check the address)."),
        "{}",
        list.body
    );
    let settings = staff.get(&format!("/users/{}/settings", created.user.id)).await;
    assert!(settings.body.contains("Failed (permanent)"), "{}", settings.body);
    let mut tenant = Browser::new(&portal);
    assert_eq!(
        tenant.sign_in("uma.ueda@example.com", &pin).await.location(),
        Some("/new-password")
    );
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_and_sign_out_ends_the_session() {
    let (portal, _) = portal().await;
    let mut b = Browser::new(&portal);
    for path in ["/users", "/users/new", "/account", "/new-password"] {
        assert_eq!(b.get(path).await.location(), Some("/signin"), "{path}");
    }
    b.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    assert_eq!(b.get("/users").await.status, StatusCode::OK);
    let old_cookie = b.cookie.clone().unwrap();
    let out = b.submit("/users", "/signout", &[]).await;
    assert_eq!(out.location(), Some("/signin"));
    assert!(out.headers[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    // Replaying the old cookie does not bring the session back.
    b.cookie = Some(old_cookie);
    assert_eq!(b.get("/users").await.location(), Some("/signin"));
}

fn sqlite_config(password: &str, clock: &ManualClock) -> app::AppConfig {
    app::AppConfig {
        activation: ActivationConfig::for_tests(),
        staff: app::StaffSeed {
            name: "Front Desk".into(),
            email: STAFF_EMAIL.into(),
            password: Password::new(password),
        },
        secure_cookies: false,
        clock: Arc::new(clock.clone()),
        outbox: OutboxNotifier::new_ok(),
        notifier: None,
    }
}

async fn sqlite_store(url: &str) -> SqliteStore {
    let store = SqliteStore::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn on_sqlite_users_outlive_a_restart_and_the_staff_seed_must_match() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap());

    let store = sqlite_store(&url).await;
    let first = app::build(store.clone(), store, sqlite_config(STAFF_PASSWORD, &clock))
        .await
        .unwrap();
    let mut staff = Browser {
        router: first.router.clone(),
        cookie: None,
        locations: Vec::new(),
    };
    staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    let created = staff
        .submit(
            "/users/new",
            "/users/new",
            &[
                ("name", "Tess Tenant"),
                ("email", "tess@example.com"),
                ("phone", "713 555 0140"),
                ("role", "tenant"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let tess = first.service.find_user("+17135550140").await.unwrap().unwrap();
    let pin = first.outbox.last_pin_for(&tess.id).unwrap().expose_secret().to_owned();
    drop(first);

    // A restart on the same file: the staff account is found, not created again.
    let store = sqlite_store(&url).await;
    let second = app::build(store.clone(), store, sqlite_config(STAFF_PASSWORD, &clock))
        .await
        .unwrap();
    let mut staff = Browser {
        router: second.router.clone(),
        cookie: None,
        locations: Vec::new(),
    };
    staff.sign_in(STAFF_EMAIL, STAFF_PASSWORD).await;
    let list = staff.get("/users").await;
    assert_eq!(list.body.matches("<tr data-user=").count(), 2);
    assert!(list.body.contains("Tess Tenant") && list.body.contains("+17135550140"));
    // The PIN sent before the restart still works (it is in the database, not in memory).
    let mut tenant = Browser {
        router: second.router.clone(),
        cookie: None,
        locations: Vec::new(),
    };
    assert_eq!(
        tenant.sign_in("(713) 555-0140", &pin).await.location(),
        Some("/new-password")
    );
    drop(second);

    // Another staff password for the same database is refused, loudly.
    let store = sqlite_store(&url).await;
    let Err(e) = app::build(store.clone(), store, sqlite_config("some other long phrase", &clock)).await else {
        panic!("the existing staff account has another password");
    };
    assert!(e.to_string().contains("already exists in this database"), "{e}");
}
