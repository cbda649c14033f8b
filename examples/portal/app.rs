//! The portal as a library the binary and the tests share: configuration,
//! the staff seed, the router and the middleware that every request goes
//! through (session, CSRF, credential version, security headers).
//!
//! Tests include this file with `#[path = "../examples/portal/app.rs"] mod app;`;
//! the sibling files are declared with `#[path]` so they resolve the same way
//! from `main.rs` and from a test.

#[path = "account.rs"]
mod account;
#[path = "html.rs"]
pub(crate) mod html;
#[path = "session.rs"]
pub(crate) mod session;
#[path = "staff.rs"]
mod staff;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pin_activation::{
    ActivationConfig, ActivationService, Clock, Error, FirstActivation, Notifier, OutboxNotifier, Password, PinStore,
    Role, SignIn, User, UserId, UserStore,
};

use self::html::{Nav, Tone};
use self::session::{Flash, PendingReset, Sessions, SignedIn};

/// The service as the portal builds it: any stores, a boxed notifier and a
/// shared clock (the system clock, or a manual one in tests).
pub type Service<U, P> = ActivationService<U, P, Arc<dyn Notifier>, Arc<dyn Clock>>;

/// Largest form body read (the CSRF check reads the whole body).
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The strictest policy the pages allow: no script at all, styles and
/// images from the portal only, forms posting to the portal only, never
/// framed.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The staff account created at start.
pub struct StaffSeed {
    /// Display name.
    pub name: String,
    /// Sign-in email.
    pub email: String,
    /// Sign-in password (checked against the password policy first).
    pub password: Password,
}

impl fmt::Debug for StaffSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffSeed")
            .field("name", &self.name)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// Everything the portal needs; `main` fills it from the command line,
/// tests build it directly (with `ActivationConfig::for_tests()` and a
/// manual clock).
pub struct AppConfig {
    /// The activation rules (hashing preset, TTLs, throttles, messages).
    pub activation: ActivationConfig,
    /// The staff account to seed.
    pub staff: StaffSeed,
    /// Mark the session cookie `Secure` (and `__Host-` prefixed): set it when
    /// users reach the portal over HTTPS (directly or through a proxy).
    pub secure_cookies: bool,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// Every message sent lands here: the demo inbox of the Outbox page.
    pub outbox: OutboxNotifier,
    /// What the service sends through; `None` for the outbox alone. A real
    /// transport must also leave a copy in `outbox` (the staff account is
    /// activated with the PIN found there).
    pub notifier: Option<Arc<dyn Notifier>>,
}

/// A refusal to start, with the reason for the operator.
#[derive(Debug)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// A built portal: its router, the service behind it, the outbox (the demo
/// inbox) and the seeded staff member. The binary only serves the router;
/// the tests use the rest.
#[allow(dead_code)]
pub struct Portal<U: UserStore, P: PinStore> {
    /// Serve it with `axum::serve`, or drive it with `tower::ServiceExt`.
    pub router: Router,
    /// The same service the pages use.
    pub service: Service<U, P>,
    /// Every message "sent".
    pub outbox: OutboxNotifier,
    /// The seeded staff member.
    pub staff_id: UserId,
}

/// The state every handler sees.
pub(crate) struct App<U: UserStore, P: PinStore> {
    pub(crate) svc: Service<U, P>,
    pub(crate) outbox: OutboxNotifier,
    pub(crate) sessions: Sessions,
    pub(crate) secure: bool,
    pub(crate) clock: Arc<dyn Clock>,
    /// Messages really went out (SMTP); the outbox holds copies.
    pub(crate) real_delivery: bool,
}

impl<U: UserStore, P: PinStore> Clone for App<U, P> {
    fn clone(&self) -> Self {
        Self {
            svc: self.svc.clone(),
            outbox: self.outbox.clone(),
            sessions: self.sessions.clone(),
            secure: self.secure,
            clock: Arc::clone(&self.clock),
            real_delivery: self.real_delivery,
        }
    }
}

/// What the middleware found out about the request, for the handlers.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    /// The session id (possibly created for this request).
    pub(crate) sid: String,
    /// The session's CSRF token, for the forms of the page.
    pub(crate) csrf: String,
    /// The signed-in user, as stored now (its credential version checked).
    pub(crate) user: Option<User>,
    /// A PIN sign-in waiting for its new password.
    pub(crate) reset: Option<PendingReset>,
}

impl Current {
    /// The navigation for a signed-in or anonymous visitor.
    pub(crate) fn nav(&self) -> Nav {
        match &self.user {
            Some(u) if is_staff(u) => Nav::Staff(html::StaffTab::None),
            Some(_) => Nav::Member,
            None => Nav::Public,
        }
    }
}

pub(crate) fn is_staff(user: &User) -> bool {
    matches!(user.role, Role::Staff | Role::Manager)
}

/// Builds the service, seeds the staff account and returns the router.
///
/// # Errors
/// [`StartError`] when the config is invalid, the staff email or password
/// is refused, or the store fails.
pub async fn build<U: UserStore, P: PinStore>(
    users: U,
    pins: P,
    config: AppConfig,
) -> Result<Portal<U, P>, StartError> {
    let outbox = config.outbox;
    let real_delivery = config.notifier.is_some();
    let notifier = config.notifier.unwrap_or_else(|| Arc::new(outbox.clone()));
    let service = ActivationService::builder(users, pins, notifier)
        .config(config.activation)
        .clock(Arc::clone(&config.clock))
        .build()
        .map_err(|e| StartError(format!("invalid activation settings: {e}")))?;
    let staff_id = seed_staff(&service, &outbox, &config.staff).await?;
    let app = App {
        svc: service.clone(),
        outbox: outbox.clone(),
        sessions: Sessions::default(),
        secure: config.secure_cookies,
        clock: config.clock,
        real_delivery,
    };
    Ok(Portal {
        router: router(app),
        service,
        outbox,
        staff_id,
    })
}

/// Creates the staff account through the service, the way any user is
/// created, and completes its activation with the PIN from the outbox. An
/// existing account (a persistent database) must accept the password.
async fn seed_staff<U: UserStore, P: PinStore>(
    svc: &Service<U, P>,
    outbox: &OutboxNotifier,
    seed: &StaffSeed,
) -> Result<UserId, StartError> {
    let c = svc.config();
    let existing = svc
        .find_user(&seed.email)
        .await
        .map_err(|e| StartError(format!("the staff email {:?} is not usable: {e}", seed.email)))?;
    if let Some(user) = existing {
        return match svc.login(&seed.email, &seed.password).await {
            Ok(SignIn::SignedIn { .. }) if is_staff(&user) => Ok(user.id),
            _ => Err(StartError(format!(
                "a user {} already exists in this database and does not accept the given staff password \
                 (or is not staff); use its password or another --staff-email",
                seed.email
            ))),
        };
    }
    let identifiers = [seed.email.as_str(), seed.name.as_str()];
    c.password
        .check(&seed.password, &identifiers, c.pin_length)
        .map_err(|r| StartError(format!("the staff password is refused: {r}")))?;
    let created = svc
        .create_user(
            pin_activation::NewUser::new(seed.name.as_str())
                .email(seed.email.as_str())
                .role(Role::Staff),
            None,
        )
        .await
        .map_err(|e| StartError(format!("could not create the staff account: {e}")))?;
    let id = created.user.id.clone();
    if let FirstActivation::Failed(e) = created.activation {
        return Err(StartError(format!("could not activate the staff account: {e}")));
    }
    let pin = outbox
        .last_pin_for(&id)
        .ok_or_else(|| StartError("the staff activation PIN did not reach the outbox".into()))?;
    let ticket = match svc.login(&seed.email, &Password::new(pin.expose_secret())).await {
        Ok(SignIn::ResetRequired { ticket, .. }) => ticket,
        _ => return Err(StartError("the staff activation PIN was refused".into())),
    };
    svc.complete_reset(&id, &ticket, &seed.password)
        .await
        .map_err(|e| StartError(format!("could not set the staff password: {e}")))?;
    Ok(id)
}

fn router<U: UserStore, P: PinStore>(app: App<U, P>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/portal.css", get(stylesheet))
        .route(
            "/signin",
            get(account::sign_in_page::<U, P>).post(account::sign_in::<U, P>),
        )
        .route(
            "/new-password",
            get(account::new_password_page::<U, P>).post(account::new_password::<U, P>),
        )
        .route(
            "/request-pin",
            get(account::request_pin_page).post(account::request_pin::<U, P>),
        )
        .route("/account", get(account::account_page::<U, P>))
        .route("/signout", post(account::sign_out::<U, P>))
        .route("/outbox", get(account::outbox_page::<U, P>))
        .route("/users", get(staff::users_page::<U, P>))
        .route(
            "/users/new",
            get(staff::create_page::<U, P>).post(staff::create::<U, P>),
        )
        .route("/users/{id}", get(staff::details_page::<U, P>))
        .route("/users/{id}/settings", get(staff::settings_page::<U, P>))
        .route("/users/{id}/activate", post(staff::activate::<U, P>))
        .route("/users/{id}/unlock", post(staff::unlock::<U, P>))
        .route("/users/{id}/contact", post(staff::contact::<U, P>))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard::<U, P>))
        .with_state(app)
}

async fn home(axum::Extension(cur): axum::Extension<Current>) -> Redirect {
    match &cur.user {
        Some(u) if is_staff(u) => Redirect::to("/users"),
        Some(_) => Redirect::to("/account"),
        None => Redirect::to("/signin"),
    }
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], html::CSS).into_response()
}

async fn not_found(axum::Extension(cur): axum::Extension<Current>) -> Response {
    let body = html::page(
        "Not found",
        cur.nav(),
        &cur.csrf,
        r#"<p>There is no such page. <a href="/">Start again</a>.</p>"#,
    );
    (StatusCode::NOT_FOUND, Html(body)).into_response()
}

/// The generic error page. The error goes to the log (the crate's errors
/// never carry a PIN, password or ticket); the page says nothing about it.
pub(crate) fn server_error(cur: &Current, e: &Error) -> Response {
    tracing::error!(error = %e, "request failed");
    let body = html::page(
        "Something went wrong",
        cur.nav(),
        &cur.csrf,
        r#"<p>The portal could not complete this request. Please try again in a moment.</p>"#,
    );
    (StatusCode::INTERNAL_SERVER_ERROR, Html(body)).into_response()
}

/// Staff pages: signed out visitors go to sign in, others are refused.
/// The error is the page to return as is (once per request: not worth a box).
#[allow(clippy::result_large_err)]
pub(crate) fn require_staff(cur: &Current) -> Result<&User, Response> {
    match &cur.user {
        Some(u) if is_staff(u) => Ok(u),
        Some(_) => {
            let body = html::page(
                "Staff only",
                cur.nav(),
                &cur.csrf,
                "<p>This page is for the facility's staff.</p>",
            );
            Err((StatusCode::FORBIDDEN, Html(body)).into_response())
        }
        None => Err(Redirect::to("/signin").into_response()),
    }
}

#[derive(serde::Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

/// Every request: load or start the session, refuse a POST without the
/// session's CSRF token, end the session when the user's credential
/// version moved on, and add the security headers. Bodies are never logged.
async fn guard<U: UserStore, P: PinStore>(State(app): State<App<U, P>>, req: Request, next: Next) -> Response {
    let now = app.clock.now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let loaded =
        session::session_id_from(req.headers(), app.secure).and_then(|id| app.sessions.load(&id, now).map(|s| (id, s)));
    let (sid, session, fresh) = match loaded {
        Some((id, s)) => (id, s, false),
        None => {
            let (id, s) = app.sessions.create(now);
            (id, s, true)
        }
    };

    let mut req = req;
    let response = 'handle: {
        // Every method that may change something carries the token (the
        // pages only use POST; anything else is refused the same way).
        if method != Method::GET && method != Method::HEAD {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
                break 'handle (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
            };
            let submitted = serde_urlencoded::from_bytes::<CsrfOnly>(&bytes)
                .ok()
                .and_then(|f| f.csrf);
            if !session::csrf_matches(&session.csrf, submitted.as_deref()) {
                let body = html::page(
                    "Form expired",
                    Nav::Public,
                    &session.csrf,
                    r#"<p>This form has expired or did not come from this portal. <a href="/">Go back</a>, reload the page and try again.</p>"#,
                );
                break 'handle (StatusCode::FORBIDDEN, Html(body)).into_response();
            }
            req = Request::from_parts(parts, Body::from(bytes));
        }

        let mut user = None;
        if let Some(signed) = &session.user {
            match app.svc.user(&signed.user_id).await {
                Ok(u) if u.credential_version == signed.credential_version => user = Some(u),
                Ok(_) | Err(Error::UnknownUser) => {
                    app.sessions.update(&sid, |s| {
                        s.user = None;
                        s.flash = Some(Flash {
                            tone: Tone::Warn,
                            text: "You were signed out because the account's password changed. Please sign in again."
                                .into(),
                        });
                    });
                }
                Err(e) => {
                    let cur = Current {
                        sid: sid.clone(),
                        csrf: session.csrf.clone(),
                        user: None,
                        reset: None,
                    };
                    break 'handle server_error(&cur, &e);
                }
            }
        }
        req.extensions_mut().insert(Current {
            sid: sid.clone(),
            csrf: session.csrf.clone(),
            user,
            reset: session.reset.clone(),
        });
        next.run(req).await
    };

    let mut response = response;
    let headers = response.headers_mut();
    if fresh
        && !headers.contains_key(header::SET_COOKIE)
        && let Ok(v) = HeaderValue::from_str(&session::set_cookie(&sid, app.secure))
    {
        headers.append(header::SET_COOKIE, v);
    }
    for (name, value) in [
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    tracing::info!(%method, %path, status = response.status().as_u16(), "request");
    response
}

/// A redirect that also replaces the session cookie (after a rotation).
pub(crate) fn redirect_with_cookie(to: &str, cookie: &str) -> Response {
    let mut r = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Signs the session in (a fresh session id) and returns the cookie.
pub(crate) fn start_signed_in<U: UserStore, P: PinStore>(
    app: &App<U, P>,
    cur: &Current,
    user_id: UserId,
    credential_version: u64,
) -> String {
    let now = app.clock.now();
    let id = app.sessions.rotate(&cur.sid, now, |s| {
        s.reset = None;
        s.user = Some(SignedIn {
            user_id,
            credential_version,
        });
    });
    session::set_cookie(&id, app.secure)
}
