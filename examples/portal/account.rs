//! The user side: sign in (password or PIN), the forced new password, the
//! self-service "send me a new code", the signed-in page, sign out, and the
//! demo outbox that stands in for the users' mail and SMS inboxes.
//!
//! Sign-in and request pages answer byte for byte the same whether or not
//! the identifier belongs to anyone (the CSRF token aside); the identifier
//! is not echoed back, so an unknown one cannot show through either.

use axum::Extension;
use axum::Form;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pin_activation::notify::format_expiry;
use pin_activation::{Channel, Error, Password, PinStore, SignIn, UserStore};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::html::{self, Nav, Tone, csrf_field, esc, note};
use super::session::{PendingReset, set_cookie};
use super::{App, Current, is_staff, redirect_with_cookie, server_error, start_signed_in};

/// What every refused sign-in says, whatever the reason.
const REFUSED: &str = "The email address or phone number, or the password, is not right.";

/// What every "send me a new code" answers, whatever the identifier.
const REQUESTED: &str = "If this email address or phone number belongs to an account, a new code is on its way \
                         to the email address or phone number on record. Sign in with it as your password.";

fn flash_html<U: UserStore, P: PinStore>(app: &App<U, P>, cur: &Current) -> String {
    app.sessions
        .take_flash(&cur.sid)
        .map(|f| note(f.tone, &f.text))
        .unwrap_or_default()
}

fn sign_in_body(csrf: &str, message: &str) -> String {
    format!(
        r#"{message}
<form method="post" action="/signin" class="card" id="sign-in">
{csrf}
<label for="identifier">Email address or phone number</label>
<input type="text" id="identifier" name="identifier" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<p class="hint">Did the facility just create your account, or send you a code? Enter the 6-digit PIN from the
email or text message as your password; you will then choose your own.</p>
<button type="submit">Sign in</button>
</form>
<p><a href="/request-pin">Forgot your password? Send me a new code</a></p>
"#,
        csrf = csrf_field(csrf),
    )
}

pub(crate) async fn sign_in_page<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
) -> Response {
    let flash = flash_html(&app, &cur);
    Html(html::page(
        "Sign in",
        cur.nav(),
        &cur.csrf,
        &sign_in_body(&cur.csrf, &flash),
    ))
    .into_response()
}

/// The password is wrapped in a zeroizing [`Password`] at once; the form
/// type has no `Debug`, so it cannot end up in a log.
#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn sign_in<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Form(form): Form<SignInForm>,
) -> Response {
    let password = Password::new(form.password);
    match app.svc.login(&form.identifier, &password).await {
        Ok(SignIn::SignedIn {
            user_id,
            credential_version,
        }) => {
            let cookie = start_signed_in(&app, &cur, user_id, credential_version);
            redirect_with_cookie("/", &cookie)
        }
        Ok(SignIn::ResetRequired {
            user_id,
            ticket,
            expires_at,
        }) => {
            let now = app.clock.now();
            let id = app.sessions.rotate(&cur.sid, now, |s| {
                s.user = None;
                s.reset = Some(PendingReset {
                    user_id,
                    ticket,
                    expires_at,
                });
            });
            redirect_with_cookie("/new-password", &set_cookie(&id, app.secure))
        }
        Err(Error::InvalidCredentials) => {
            let body = sign_in_body(&cur.csrf, &note(Tone::Error, REFUSED));
            Html(html::page("Sign in", Nav::Public, &cur.csrf, &body)).into_response()
        }
        Err(e) => server_error(&cur, &e),
    }
}

fn new_password_body<U: UserStore, P: PinStore>(app: &App<U, P>, csrf: &str, message: &str) -> String {
    let policy = &app.svc.config().password;
    format!(
        r#"{message}
<form method="post" action="/new-password" class="card" id="new-password">
{csrf}
<p>Your PIN is accepted. Choose the password you will sign in with from now on.</p>
<ul class="hint">
<li>{min} to {max} characters; spaces are fine, a few unrelated words make a good one.</li>
<li>Not your email address, phone number or name, and not a commonly used password.</li>
</ul>
<label for="password">New password</label>
<input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="confirm">New password again</label>
<input type="password" id="confirm" name="confirm" autocomplete="new-password" required>
<button type="submit">Set my password</button>
</form>
"#,
        csrf = csrf_field(csrf),
        min = policy.min_length,
        max = policy.max_length,
    )
}

/// The reset waiting on this session, if it is still usable.
fn pending_reset<U: UserStore, P: PinStore>(app: &App<U, P>, cur: &Current) -> Option<PendingReset> {
    let reset = cur.reset.clone()?;
    if app.clock.now() >= reset.expires_at {
        app.sessions.update(&cur.sid, |s| s.reset = None);
        app.sessions.flash(
            &cur.sid,
            Tone::Warn,
            "The time to choose a password ran out. Sign in with your PIN again.",
        );
        return None;
    }
    Some(reset)
}

pub(crate) async fn new_password_page<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
) -> Response {
    if pending_reset(&app, &cur).is_none() {
        return Redirect::to("/signin").into_response();
    }
    let body = new_password_body(&app, &cur.csrf, "");
    Html(html::page("Create your new password", Nav::Public, &cur.csrf, &body)).into_response()
}

#[derive(Deserialize)]
pub(crate) struct NewPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub(crate) async fn new_password<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Form(form): Form<NewPasswordForm>,
) -> Response {
    let password = Password::new(form.password);
    let confirm = Password::new(form.confirm);
    let Some(reset) = pending_reset(&app, &cur) else {
        return Redirect::to("/signin").into_response();
    };
    let refuse = |text: &str| {
        let body = new_password_body(&app, &cur.csrf, &note(Tone::Error, text));
        Html(html::page("Create your new password", Nav::Public, &cur.csrf, &body)).into_response()
    };
    let same: bool = password
        .expose_secret()
        .as_bytes()
        .ct_eq(confirm.expose_secret().as_bytes())
        .into();
    if !same {
        return refuse("The two passwords are not the same.");
    }
    match app.svc.complete_reset(&reset.user_id, &reset.ticket, &password).await {
        Ok(done) => {
            let cookie = start_signed_in(&app, &cur, done.user_id, done.credential_version);
            redirect_with_cookie("/", &cookie)
        }
        Err(Error::WeakPassword(reason)) => refuse(&format!("Please choose another password: {reason}.")),
        Err(Error::InvalidTicket | Error::IllegalTransition(_)) => {
            app.sessions.update(&cur.sid, |s| s.reset = None);
            app.sessions.flash(
                &cur.sid,
                Tone::Warn,
                "This password change can no longer be completed. Sign in with your PIN again.",
            );
            Redirect::to("/signin").into_response()
        }
        Err(e) => server_error(&cur, &e),
    }
}

fn request_body(csrf: &str, message: &str) -> String {
    format!(
        r#"{message}
<form method="post" action="/request-pin" class="card" id="request-pin">
{csrf}
<p>Forgot your password, or your code expired? Enter the email address or phone number of your account.
We send a new code to the email address or phone number the facility has on record.</p>
<label for="identifier">Email address or phone number</label>
<input type="text" id="identifier" name="identifier" autocomplete="username" required autofocus>
<button type="submit">Send me a new code</button>
</form>
<p><a href="/signin">Back to sign in</a></p>
"#,
        csrf = csrf_field(csrf),
    )
}

pub(crate) async fn request_pin_page(Extension(cur): Extension<Current>) -> Response {
    let body = request_body(&cur.csrf, "");
    Html(html::page("Send me a new code", Nav::Public, &cur.csrf, &body)).into_response()
}

#[derive(Deserialize)]
pub(crate) struct RequestForm {
    #[serde(default)]
    identifier: String,
}

pub(crate) async fn request_pin<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Form(form): Form<RequestForm>,
) -> Response {
    // The service answers at once and the same for any identifier; the
    // sending runs in the background.
    let message = match app.svc.request_pin(&form.identifier).await {
        Ok(_) => note(Tone::Ok, REQUESTED),
        Err(_) => note(Tone::Error, "Enter an email address or a phone number."),
    };
    let body = request_body(&cur.csrf, &message);
    Html(html::page("Send me a new code", Nav::Public, &cur.csrf, &body)).into_response()
}

pub(crate) async fn account_page<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
) -> Response {
    let Some(user) = &cur.user else {
        return Redirect::to("/signin").into_response();
    };
    let flash = flash_html(&app, &cur);
    let contact = [
        user.email.as_ref().map(|e| e.as_str().to_owned()),
        user.phone.as_ref().map(|p| p.as_str().to_owned()),
    ]
    .into_iter()
    .flatten()
    .map(|c| esc(&c))
    .collect::<Vec<_>>()
    .join(" · ");
    let staff_link = if is_staff(user) {
        r#"<p><a href="/users">Go to the Users tab</a></p>"#
    } else {
        ""
    };
    let body = format!(
        r#"{flash}
<section class="card" id="signed-in">
<p>You are signed in as <strong>{name}</strong>.</p>
<p class="hint">{contact}</p>
<p>Your account is active: from now on, sign in with your email address or phone number and your password.</p>
</section>
{staff_link}
"#,
        name = esc(&user.display_name),
    );
    Html(html::page("Welcome", cur.nav(), &cur.csrf, &body)).into_response()
}

pub(crate) async fn sign_out<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
) -> Response {
    app.sessions.remove(&cur.sid);
    redirect_with_cookie("/signin", &super::session::clear_cookie(app.secure))
}

/// The demo inbox. It shows PINs: that is its purpose, in place of the
/// users' mail and phones. A real portal has no such page.
pub(crate) async fn outbox_page<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
) -> Response {
    let messages = app.outbox.messages();
    let mut list = String::new();
    for m in messages.iter().rev() {
        let (kind, to) = match &m.channel {
            Channel::Email(e) => ("Email", e.as_str()),
            Channel::Sms(p) => ("SMS", p.as_str()),
        };
        let subject = m
            .subject
            .as_deref()
            .map(|s| format!("<br><strong>Subject:</strong> {}", esc(s)))
            .unwrap_or_default();
        list.push_str(&format!(
            r#"<article class="message" data-to="{to}">
<p><strong>{kind} to</strong> {to}{subject}<br><span class="muted">PIN valid until {expires}</span></p>
<pre class="message">{body}</pre>
</article>
"#,
            to = esc(to),
            expires = esc(&format_expiry(m.expires_at)),
            body = esc(m.body().expose_secret()),
        ));
    }
    if list.is_empty() {
        list.push_str(r#"<p class="muted">Nothing sent yet.</p>"#);
    }
    let nav = match cur.nav() {
        Nav::Staff(_) => Nav::Staff(html::StaffTab::Outbox),
        other => other,
    };
    let how = if app.real_delivery {
        "The emails also went out by SMTP; these are the portal's copies."
    } else {
        "A real portal sends them by SMTP or an SMS gateway and has no such page."
    };
    let body = format!(
        r#"<p class="demo"><strong>Demo page.</strong> This page stands in for the users' mailboxes and phones: it shows
every email and text message the portal sent, PINs included. {how}</p>
{list}"#
    );
    Html(html::page("Outbox", nav, &cur.csrf, &body)).into_response()
}
