//! The staff side: the Users tab (search, the "..." quick options with
//! Activate Account), a user's details page, its settings (gear) with the
//! Activate Account section, the staff view of the activation, unlock and
//! contact changes, and creating users.

use axum::Extension;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use pin_activation::notify::format_expiry;
use pin_activation::store::DeliveryOutcome;
use pin_activation::{
    AccountState, ActivationStatus, ChannelChoice, ChannelKind, Delivery, Error, FirstActivation, NewUser, PinPurpose,
    PinStore, Role, User, UserId, UserStore,
};
use serde::Deserialize;

use super::html::{self, Nav, StaffTab, Tone, csrf_field, esc, note, path_segment};
use super::{App, Current, require_staff, server_error};

/// Why the Activate Account button is greyed out.
const NO_CONTACT: &str = "No email address or phone number on record: add one in the user's settings first.";

fn flash_html<U: UserStore, P: PinStore>(app: &App<U, P>, cur: &Current) -> String {
    app.sessions
        .take_flash(&cur.sid)
        .map(|f| note(f.tone, &f.text))
        .unwrap_or_default()
}

fn state_badge(state: AccountState) -> String {
    let label = match state {
        AccountState::Pending => "Pending",
        AccountState::Active => "Active",
        AccountState::ResetRequired => "Reset required",
    };
    format!(r#"<span class="state {}">{label}</span>"#, state.as_str())
}

fn or_dash(value: Option<&str>) -> String {
    value.map_or_else(|| r#"<span class="muted">—</span>"#.to_owned(), esc)
}

fn user_href(user: &UserId) -> String {
    format!("/users/{}", path_segment(user.as_str()))
}

/// The Activate Account button: live, or disabled with the reason as its
/// tooltip (on a wrapper too, since some browsers show no tooltip on a
/// disabled control) and, in `detail`, spelled out below it.
fn activate_button(user: &User, detail: bool) -> String {
    if user.can_activate() {
        r#"<button type="submit" class="activate">Activate Account</button>"#.to_owned()
    } else {
        format!(
            r#"<span title="{why}"><button type="submit" class="activate" disabled title="{why}">Activate Account</button></span>{small}"#,
            why = esc(NO_CONTACT),
            small = if detail {
                "<small>No email or phone on record</small>"
            } else {
                ""
            },
        )
    }
}

fn page(cur: &Current, tab: StaffTab, title: &str, body: &str) -> Response {
    Html(html::page(title, Nav::Staff(tab), &cur.csrf, body)).into_response()
}

fn not_found(cur: &Current) -> Response {
    let body = r#"<p>There is no such user. <a href="/users">Back to Users</a>.</p>"#;
    (StatusCode::NOT_FOUND, page(cur, StaffTab::None, "No such user", body)).into_response()
}

/// The user named in the path, or the page to show instead.
async fn load_user<U: UserStore, P: PinStore>(app: &App<U, P>, cur: &Current, raw: &str) -> Result<User, Response> {
    let Ok(id) = UserId::new(raw) else {
        return Err(not_found(cur));
    };
    match app.svc.user(&id).await {
        Ok(u) => Ok(u),
        Err(Error::UnknownUser) => Err(not_found(cur)),
        Err(e) => Err(server_error(cur, &e)),
    }
}

/// The acting staff member's id and the user a staff action is about, or
/// the page that refuses it (not staff, unknown user).
async fn staff_action<U: UserStore, P: PinStore>(
    app: &App<U, P>,
    cur: &Current,
    raw: &str,
) -> Result<(UserId, User), Response> {
    let staff = require_staff(cur)?.id.clone();
    Ok((staff, load_user(app, cur, raw).await?))
}

#[derive(Deserialize)]
pub(crate) struct Search {
    #[serde(default)]
    q: String,
}

/// Users whose name contains `q` (any case), plus the user whose email or
/// phone is `q` normalized the way sign-in normalizes it.
async fn search<U: UserStore, P: PinStore>(app: &App<U, P>, q: &str) -> Result<Vec<User>, Error> {
    let mut users = app.svc.list_users().await?;
    let q = q.trim();
    if !q.is_empty() {
        // A malformed identifier is simply not an email or phone search.
        let exact = app.svc.find_user(q).await.ok().flatten().map(|u| u.id);
        let needle = q.to_lowercase();
        users.retain(|u| u.display_name.to_lowercase().contains(&needle) || exact.as_ref() == Some(&u.id));
    }
    users.sort_by(|a, b| {
        a.display_name
            .to_lowercase()
            .cmp(&b.display_name.to_lowercase())
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(users)
}

pub(crate) async fn users_page<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Query(query): Query<Search>,
) -> Response {
    if let Err(r) = require_staff(&cur) {
        return r;
    }
    let users = match search(&app, &query.q).await {
        Ok(u) => u,
        Err(e) => return server_error(&cur, &e),
    };
    let mut rows = String::new();
    for u in &users {
        let href = user_href(&u.id);
        rows.push_str(&format!(
            r#"<tr data-user="{id}">
<td><a class="row" href="{href}">{name}</a></td>
<td>{email}</td>
<td>{phone}</td>
<td>{role}</td>
<td>{state}</td>
<td class="menu"><details class="menu"><summary title="Quick options" aria-label="Quick options for {name}">…</summary>
<div class="items">
<form method="post" action="{href}/activate">{csrf}<input type="hidden" name="from" value="list">{button}</form>
<a href="{href}">Details</a>
<a href="{href}/settings">Settings</a>
</div></details></td>
</tr>
"#,
            id = esc(u.id.as_str()),
            name = esc(&u.display_name),
            email = or_dash(u.email.as_ref().map(|e| e.as_str())),
            phone = or_dash(u.phone.as_ref().map(|p| p.as_str())),
            role = esc(&u.role.to_string()),
            state = state_badge(u.state),
            csrf = csrf_field(&cur.csrf),
            button = activate_button(u, true),
        ));
    }
    if users.is_empty() {
        rows.push_str(r#"<tr><td colspan="6" class="muted">No user matches.</td></tr>"#);
    }
    let body = format!(
        r#"{flash}
<form method="get" action="/users" class="search" role="search">
<input type="search" name="q" value="{q}" placeholder="Name, email or phone" aria-label="Search users">
<button type="submit">Search</button>
</form>
<table id="users">
<thead><tr><th>Name</th><th>Email</th><th>Phone</th><th>Role</th><th>State</th><th><span class="muted">Options</span></th></tr></thead>
<tbody>
{rows}</tbody>
</table>
<p><a class="button" href="/users/new">Create user</a></p>
"#,
        flash = flash_html(&app, &cur),
        q = esc(&query.q),
    );
    page(&cur, StaffTab::Users, "Users", &body)
}

pub(crate) async fn details_page<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = require_staff(&cur) {
        return r;
    }
    let user = match load_user(&app, &cur, &id).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let href = user_href(&user.id);
    let body = format!(
        r#"{flash}
<p><a href="/users">← Users</a></p>
<dl class="facts" id="details">
<dt>Name</dt><dd>{name}</dd>
<dt>Email</dt><dd>{email}</dd>
<dt>Phone</dt><dd>{phone}</dd>
<dt>Role</dt><dd>{role}</dd>
<dt>State</dt><dd>{state}</dd>
<dt>Created</dt><dd>{created}</dd>
<dt>User id</dt><dd><code>{id}</code></dd>
</dl>
<a class="gear" href="{href}/settings" title="Settings" aria-label="Settings">⚙ Settings</a>
"#,
        flash = flash_html(&app, &cur),
        name = esc(&user.display_name),
        email = or_dash(user.email.as_ref().map(|e| e.as_str())),
        phone = or_dash(user.phone.as_ref().map(|p| p.as_str())),
        role = esc(&user.role.to_string()),
        state = state_badge(user.state),
        created = esc(&format_expiry(user.created_at)),
        id = esc(user.id.as_str()),
    );
    page(&cur, StaffTab::None, &user.display_name, &body)
}

/// The staff view of `activation_status`, in words.
fn describe_status(status: &ActivationStatus) -> (Tone, String) {
    match status {
        ActivationStatus::NoContact => (
            Tone::Warn,
            "No email address or phone number on record: Activate Account is unavailable until one is added.".into(),
        ),
        ActivationStatus::Locked { failures } => (
            Tone::Error,
            format!("Locked: {failures} wrong PINs in a row. PIN sign-in is blocked until staff unlock the account."),
        ),
        ActivationStatus::PinLive {
            purpose,
            channel,
            expires_at,
            attempts_left,
        } => (
            Tone::Ok,
            format!(
                "{} PIN sent by {channel}, live until {}; {attempts_left} {} left.",
                purpose_label(*purpose),
                format_expiry(*expires_at),
                if *attempts_left == 1 { "attempt" } else { "attempts" }
            ),
        ),
        ActivationStatus::PinExpired { expired_at } => (
            Tone::Warn,
            format!(
                "The PIN expired unused at {}: send a new one.",
                format_expiry(*expired_at)
            ),
        ),
        ActivationStatus::PinExhausted => (
            Tone::Warn,
            "The PIN's attempts are used up by wrong guesses: send a new one.".into(),
        ),
        ActivationStatus::NoPin => (
            Tone::Warn,
            "No live PIN (none sent yet, the last delivery failed, or the contact changed).".into(),
        ),
        ActivationStatus::Active => (Tone::Ok, "Active: signs in with a password.".into()),
        other => (Tone::Warn, format!("{other:?}")),
    }
}

fn purpose_label(purpose: PinPurpose) -> &'static str {
    match purpose {
        PinPurpose::Activation => "Activation",
        PinPurpose::Reset => "Password reset",
    }
}

pub(crate) async fn settings_page<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = require_staff(&cur) {
        return r;
    }
    let user = match load_user(&app, &cur, &id).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let report = match app.svc.activation_status(&user.id).await {
        Ok(r) => r,
        Err(e) => return server_error(&cur, &e),
    };
    let href = user_href(&user.id);
    let csrf = csrf_field(&cur.csrf);
    let (tone, status) = describe_status(&report.status);
    let unlock = if matches!(report.status, ActivationStatus::Locked { .. }) {
        format!(
            r#"<form method="post" action="{href}/unlock" id="unlock">{csrf}<button type="submit" class="secondary">Unlock</button></form>"#
        )
    } else {
        String::new()
    };
    let mut deliveries = String::new();
    for d in &report.deliveries {
        let outcome = match &d.outcome {
            DeliveryOutcome::Delivered { .. } => "Delivered".to_owned(),
            DeliveryOutcome::Failed { kind } => format!("Failed ({})", format!("{kind:?}").to_lowercase()),
        };
        deliveries.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&d.channel.to_string()),
            esc(&format_expiry(d.at)),
            esc(&outcome)
        ));
    }
    let deliveries = if deliveries.is_empty() {
        r#"<p class="muted">Nothing sent yet.</p>"#.to_owned()
    } else {
        format!(
            r#"<table id="deliveries"><thead><tr><th>Channel</th><th>Last attempt</th><th>Outcome</th></tr></thead><tbody>{deliveries}</tbody></table>"#
        )
    };
    let mut options = String::from(r#"<option value="preferred">Email, else SMS</option>"#);
    if let Some(e) = &user.email {
        options.push_str(&format!(
            r#"<option value="email">Email to {}</option>"#,
            esc(e.as_str())
        ));
    }
    if let Some(p) = &user.phone {
        options.push_str(&format!(r#"<option value="sms">SMS to {}</option>"#, esc(p.as_str())));
    }
    let body = format!(
        r#"{flash}
<p><a href="{href}">← {name}</a></p>
<section class="card" id="activate">
<h2>Activate Account</h2>
<p class="note {tone}" id="activation-status">{status}</p>
{unlock}
<h3>Last delivery per channel</h3>
{deliveries}
<form method="post" action="{href}/activate">
{csrf}<input type="hidden" name="from" value="settings">
<label for="channel">Send by</label>
<select id="channel" name="channel"{select_disabled}>{options}</select>
{button}
</form>
<p class="hint">Sends a fresh PIN; the previous PIN stops working at once. For an active user this is the lost-password
reset: they sign in with the PIN and choose a new password.</p>
</section>
<section class="card" id="contact">
<h2>Contact</h2>
<form method="post" action="{href}/contact">
{csrf}
<label for="email">Email address</label>
<input type="email" id="email" name="email" value="{email}">
<label for="phone">Phone number</label>
<input type="tel" id="phone" name="phone" value="{phone}">
<button type="submit" class="secondary">Save contact</button>
</form>
<p class="hint">Changing the email address or phone number cancels the live PIN: a PIN only works with the address it
was sent to.</p>
</section>
"#,
        flash = flash_html(&app, &cur),
        name = esc(&user.display_name),
        tone = match tone {
            Tone::Ok => "ok",
            Tone::Warn => "warn",
            Tone::Error => "error",
        },
        status = esc(&status),
        select_disabled = if user.can_activate() { "" } else { " disabled" },
        button = activate_button(&user, false),
        email = esc(user.email.as_ref().map_or("", |e| e.as_str())),
        phone = esc(user.phone.as_ref().map_or("", |p| p.as_str())),
    );
    page(
        &cur,
        StaffTab::None,
        &format!("Settings · {}", user.display_name),
        &body,
    )
}

#[derive(Deserialize)]
pub(crate) struct ActivateForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    channel: String,
}

/// "in 45 seconds", "in 3 minutes".
fn wait_words(until: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (until - now).num_seconds().max(1);
    if secs < 120 {
        format!("in {secs} seconds")
    } else {
        format!("in {} minutes", (secs + 59) / 60)
    }
}

/// The result of a re-send in words; faults (store, hashing) are returned
/// for the error page.
fn describe_resend(name: &str, result: Result<Delivery, Error>, now: DateTime<Utc>) -> Result<(Tone, String), Error> {
    Ok(match result {
        Ok(d) => (
            Tone::Ok,
            format!(
                "{} PIN for {name} sent by {}, valid until {}. The previous PIN no longer works.",
                purpose_label(d.purpose),
                d.channel,
                format_expiry(d.expires_at)
            ),
        ),
        Err(Error::Throttled { retry_at }) => (
            Tone::Warn,
            format!(
                "Not sent: {name} was sent a PIN too recently. Try again after {} ({}).",
                format_expiry(retry_at),
                wait_words(retry_at, now)
            ),
        ),
        Err(Error::Delivery(e)) => (
            Tone::Error,
            format!(
                "Not sent: delivery by {} failed ({}). The previous PIN, if any, still works.",
                e.channel(),
                if e.is_transient() {
                    "a temporary problem; try again later"
                } else {
                    "the provider refused it; check the address"
                }
            ),
        ),
        Err(Error::NoContactChannel) => (Tone::Warn, format!("Not sent: {NO_CONTACT}")),
        Err(Error::ChannelUnavailable(kind)) => (Tone::Warn, format!("Not sent: {name} has no {kind} on record.")),
        Err(Error::IllegalTransition(why)) => (Tone::Warn, format!("Not sent: {why}.")),
        Err(e) => return Err(e),
    })
}

pub(crate) async fn activate<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
    Form(form): Form<ActivateForm>,
) -> Response {
    let (staff, user) = match staff_action(&app, &cur, &id).await {
        Ok(both) => both,
        Err(r) => return r,
    };
    let choice = match form.channel.as_str() {
        "email" => ChannelChoice::Only(ChannelKind::Email),
        "sms" => ChannelChoice::Only(ChannelKind::Sms),
        _ => ChannelChoice::Preferred,
    };
    let result = app.svc.resend_activation(&user.id, choice, &staff).await;
    let (tone, text) = match describe_resend(&user.display_name, result, app.clock.now()) {
        Ok(described) => described,
        Err(e) => return server_error(&cur, &e),
    };
    app.sessions.flash(&cur.sid, tone, text);
    // Only two fixed places to go back to: never a URL from the request.
    if form.from == "settings" {
        Redirect::to(&format!("{}/settings", user_href(&user.id))).into_response()
    } else {
        Redirect::to("/users").into_response()
    }
}

pub(crate) async fn unlock<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
) -> Response {
    let (staff, user) = match staff_action(&app, &cur, &id).await {
        Ok(both) => both,
        Err(r) => return r,
    };
    if let Err(e) = app.svc.unlock(&user.id, &staff).await {
        return server_error(&cur, &e);
    }
    app.sessions.flash(
        &cur.sid,
        Tone::Ok,
        format!(
            "Unlocked {}: PIN sign-in works again. Send a new PIN if the last one is used up or expired.",
            user.display_name
        ),
    );
    Redirect::to(&format!("{}/settings", user_href(&user.id))).into_response()
}

#[derive(Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

pub(crate) async fn contact<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Path(id): Path<String>,
    Form(form): Form<ContactForm>,
) -> Response {
    let (staff, user) = match staff_action(&app, &cur, &id).await {
        Ok(both) => both,
        Err(r) => return r,
    };
    let (tone, text) = match app
        .svc
        .update_contact(&user.id, Some(&form.email), Some(&form.phone), Some(&staff))
        .await
    {
        Ok(_) => (Tone::Ok, "Contact saved.".to_owned()),
        Err(e @ (Error::InvalidInput(_) | Error::Duplicate(_))) => (Tone::Error, format!("Not saved: {e}.")),
        Err(e) => return server_error(&cur, &e),
    };
    app.sessions.flash(&cur.sid, tone, text);
    Redirect::to(&format!("{}/settings", user_href(&user.id))).into_response()
}

#[derive(Deserialize, Default)]
pub(crate) struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    role: String,
}

fn create_body(csrf: &str, form: &CreateForm, message: &str) -> String {
    let role_option = |value: &str, label: &str| {
        let selected = if form.role == value || (form.role.is_empty() && value == "tenant") {
            " selected"
        } else {
            ""
        };
        format!(r#"<option value="{value}"{selected}>{label}</option>"#)
    };
    format!(
        r#"{message}
<form method="post" action="/users/new" class="card" id="create-user">
{csrf}
<label for="name">Name</label>
<input type="text" id="name" name="name" value="{name}" required>
<label for="email">Email address</label>
<input type="email" id="email" name="email" value="{email}">
<label for="phone">Phone number</label>
<input type="tel" id="phone" name="phone" value="{phone}" placeholder="+1 713 555 0140">
<label for="role">Role</label>
<select id="role" name="role">{tenant}{staff}{manager}</select>
<p class="hint">With an email address or phone number, the user gets a PIN at once (by email when both are given).
Without either, the user is created but cannot be activated until a contact is added.</p>
<button type="submit">Create user</button>
</form>
"#,
        csrf = csrf_field(csrf),
        name = esc(&form.name),
        email = esc(&form.email),
        phone = esc(&form.phone),
        tenant = role_option("tenant", "Tenant"),
        staff = role_option("staff", "Staff"),
        manager = role_option("manager", "Manager"),
    )
}

pub(crate) async fn create_page<U: UserStore, P: PinStore>(
    State(_app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
) -> Response {
    if let Err(r) = require_staff(&cur) {
        return r;
    }
    let body = create_body(&cur.csrf, &CreateForm::default(), "");
    page(&cur, StaffTab::Create, "Create user", &body)
}

pub(crate) async fn create<U: UserStore, P: PinStore>(
    State(app): State<App<U, P>>,
    Extension(cur): Extension<Current>,
    Form(form): Form<CreateForm>,
) -> Response {
    let staff = match require_staff(&cur) {
        Ok(s) => s.id.clone(),
        Err(r) => return r,
    };
    let refuse = |text: String| {
        let body = create_body(&cur.csrf, &form, &note(Tone::Error, &text));
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&cur, StaffTab::Create, "Create user", &body),
        )
            .into_response()
    };
    let role = match form.role.parse::<Role>() {
        Ok(r @ (Role::Tenant | Role::Staff | Role::Manager)) => r,
        _ => return refuse("Choose a role.".into()),
    };
    let mut new = NewUser::new(form.name.as_str()).role(role);
    new.email = Some(form.email.clone());
    new.phone = Some(form.phone.clone());
    let created = match app.svc.create_user(new, Some(&staff)).await {
        Ok(c) => c,
        Err(e @ (Error::InvalidInput(_) | Error::Duplicate(_))) => return refuse(format!("Not created: {e}.")),
        Err(e) => return server_error(&cur, &e),
    };
    let name = &created.user.display_name;
    let (tone, text) = match &created.activation {
        FirstActivation::Sent(d) => (
            Tone::Ok,
            format!(
                "Created {name}. Activation PIN sent by {}, valid until {}.",
                d.channel,
                format_expiry(d.expires_at)
            ),
        ),
        FirstActivation::NoContact => (
            Tone::Warn,
            format!("Created {name}, with no email address or phone number: nothing was sent. {NO_CONTACT}"),
        ),
        FirstActivation::Failed(e) => (
            Tone::Error,
            format!("Created {name}, but the activation PIN could not be sent ({e}). Use Activate Account to retry."),
        ),
    };
    app.sessions.flash(&cur.sid, tone, text);
    Redirect::to(&user_href(&created.user.id)).into_response()
}
