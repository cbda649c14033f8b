//! Server-side sessions in memory: random 256-bit ids in an `HttpOnly`,
//! `SameSite=Lax` cookie, a CSRF token per session, the signed-in user with
//! the credential version it signed in under, and the reset ticket of a
//! PIN sign-in (which never leaves the server).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use pin_activation::{ResetTicket, UserId};
use subtle::ConstantTimeEq;

/// Sessions idle longer than this end.
const IDLE_LIMIT: TimeDelta = TimeDelta::hours(8);
/// At most this many sessions are kept; the least recently used go first.
const MAX_SESSIONS: usize = 10_000;

/// Who is signed in on a session.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    pub(crate) user_id: UserId,
    /// Compared with the user record on every request: a completed reset or
    /// a revocation bumps it and ends the session.
    pub(crate) credential_version: u64,
}

/// A PIN sign-in waiting for its new password. The ticket is a secret: it
/// stays here, never in a page or a URL.
#[derive(Debug, Clone)]
pub(crate) struct PendingReset {
    pub(crate) user_id: UserId,
    pub(crate) ticket: ResetTicket,
    pub(crate) expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Flash {
    pub(crate) tone: super::html::Tone,
    pub(crate) text: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) csrf: String,
    pub(crate) user: Option<SignedIn>,
    pub(crate) reset: Option<PendingReset>,
    pub(crate) flash: Option<Flash>,
    last_seen: DateTime<Utc>,
}

impl Session {
    fn new(now: DateTime<Utc>) -> Self {
        Self {
            csrf: random_token(),
            user: None,
            reset: None,
            flash: None,
            last_seen: now,
        }
    }
}

/// 32 random bytes from the OS-seeded CSPRNG, in hex.
pub(crate) fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares a submitted CSRF token with the session's in constant time.
pub(crate) fn csrf_matches(expected: &str, submitted: Option<&str>) -> bool {
    match submitted {
        Some(s) => bool::from(expected.as_bytes().ct_eq(s.as_bytes())),
        None => false,
    }
}

/// All sessions. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live session with this id, touched; `None` when unknown or idle
    /// too long.
    pub(crate) fn load(&self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        let mut map = self.lock();
        let session = map.get_mut(id)?;
        if now - session.last_seen >= IDLE_LIMIT {
            map.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// A fresh anonymous session; returns its id.
    pub(crate) fn create(&self, now: DateTime<Utc>) -> (String, Session) {
        let id = random_token();
        let session = Session::new(now);
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| now - s.last_seen < IDLE_LIMIT);
            while map.len() >= MAX_SESSIONS {
                let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone()) else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// Applies `f` to the session, if it still exists.
    pub(crate) fn update<T>(&self, id: &str, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        self.lock().get_mut(id).map(f)
    }

    /// Moves the session's content to a fresh id with a fresh CSRF token
    /// (at every sign-in, against session fixation) and applies `f` to it.
    /// Returns the new id.
    pub(crate) fn rotate(&self, old: &str, now: DateTime<Utc>, f: impl FnOnce(&mut Session)) -> String {
        let mut map = self.lock();
        let mut session = map.remove(old).unwrap_or_else(|| Session::new(now));
        session.csrf = random_token();
        session.last_seen = now;
        f(&mut session);
        let id = random_token();
        map.insert(id.clone(), session);
        id
    }

    /// Ends the session.
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Takes the one-off message, if any.
    pub(crate) fn take_flash(&self, id: &str) -> Option<Flash> {
        self.update(id, |s| s.flash.take()).flatten()
    }

    /// Sets the one-off message shown by the next page.
    pub(crate) fn flash(&self, id: &str, tone: super::html::Tone, text: impl Into<String>) {
        let text = text.into();
        self.update(id, |s| s.flash = Some(Flash { tone, text }));
    }
}

/// The cookie's name: `__Host-` prefixed when the cookie is `Secure`, so a
/// browser only accepts it from this origin over TLS, for path `/`.
pub(crate) fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-portal_session"
    } else {
        "portal_session"
    }
}

/// The `Set-Cookie` value for a session id (a session cookie: no expiry;
/// the server ends idle sessions).
pub(crate) fn set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Lax{}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that deletes the session cookie.
pub(crate) fn clear_cookie(secure: bool) -> String {
    format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    )
}

/// The session id from a `Cookie` header, if it has the right shape.
pub(crate) fn session_id_from(headers: &axum::http::HeaderMap, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}
