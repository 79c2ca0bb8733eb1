//! Relogin in place: the session's data is backed up when it expires, and
//! goes back to the same user, and to nobody else, after the relogin.

use rocket::response::Redirect;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::lifecycle::SessionEnd;
use crate::paths::{local_path, AFTER_RELOGIN_PATH};
use crate::runtime::Runtime;
use crate::secret;
use crate::session::expiry::Expiry;
use crate::session::state::SessionState;
use crate::session::Session;
use crate::store::{BackupRecord, Caller};

/// The `relogin` route parameter of a login handler: whether the login
/// came through the relogin dialog. `1`, `true`, `yes` or `on` say it did;
/// `0`, `false`, `no` or `off` that it did not.
///
/// As a trailing parameter, `/login/<relogin..>`, one handler serves both
/// `/login` (no segment: not a relogin) and `/login/1` (the URL the
/// dialog opens). [`Relogin::form_action`] and [`Relogin::retry`] keep the
/// flag (and `next`) through the form and a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relogin(pub bool);

impl Relogin {
    fn parse(param: &str) -> Option<Self> {
        match param.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(Relogin(true)),
            "0" | "false" | "no" | "off" => Some(Relogin(false)),
            _ => None,
        }
    }

    /// Where the login form at `login_path` (e.g. `/login`) posts to:
    /// `/login/1` inside the relogin dialog, else `/login`, with `next`
    /// when it is a local path (see [`local_path`]).
    pub fn form_action(&self, login_path: &str, next: Option<&str>) -> String {
        let base = login_path.trim_end_matches('/');
        match (self.0, next.and_then(local_path)) {
            (true, _) => format!("{base}/1"),
            (false, Some(next)) => format!("{base}?next={}", urlencoded(next)),
            (false, None) => base.to_owned(),
        }
    }

    /// Back to the login form after a failed attempt, keeping the relogin
    /// flag, so a second try inside the dialog still ends in a relogin.
    pub fn retry(&self, login_path: &str, next: Option<&str>) -> Redirect {
        Redirect::to(self.form_action(login_path, next))
    }
}

/// Percent-encodes everything but unreserved characters and `/`.
fn urlencoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl<'a> rocket::request::FromParam<'a> for Relogin {
    type Error = &'a str;

    fn from_param(param: &'a str) -> Result<Self, Self::Error> {
        Relogin::parse(param).ok_or(param)
    }
}

impl<'r> rocket::request::FromSegments<'r> for Relogin {
    type Error = String;

    fn from_segments(
        segments: rocket::http::uri::Segments<'r, rocket::http::uri::fmt::Path>,
    ) -> Result<Self, Self::Error> {
        let all: Vec<&str> = segments.collect();
        match all.as_slice() {
            [] => Ok(Relogin(false)),
            [one] => Relogin::parse(one).ok_or_else(|| one.to_string()),
            more => Err(more.join("/")),
        }
    }
}

impl From<Relogin> for bool {
    fn from(relogin: Relogin) -> bool {
        relogin.0
    }
}

/// Where a login handler sends the browser after a successful login:
/// `/session_security/after_relogin` when the login came through the
/// relogin dialog (`/login/<relogin>`), else `next` when it is a local path,
/// else `/`.
///
/// ```
/// # use rocket::{post, FromForm};
/// use rocket::response::Redirect;
/// use rocket_session_security::{after_login, CsrfForm, Relogin, Session};
///
/// #[derive(FromForm)]
/// struct Login { username: String, password: String, next: Option<String> }
///
/// #[post("/login/<relogin>", data = "<form>")]
/// async fn login(relogin: Relogin, form: CsrfForm<Login>, session: Session<'_>) -> Redirect {
///     // … check the password first …
///     session.login(&form.username).await.ok();
///     after_login(relogin, form.next.as_deref())
/// }
/// ```
pub fn after_login(relogin: impl Into<bool>, next: Option<&str>) -> Redirect {
    if relogin.into() {
        return Redirect::to(AFTER_RELOGIN_PATH);
    }
    Redirect::to(next.and_then(local_path).unwrap_or("/").to_owned())
}

/// What `after_relogin` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The backup belonged to this user and is restored.
    Restored,
    /// The backup belonged to this user but waited past `backup_ttl`.
    TooLate,
    /// The backup belonged to another user: nothing restored.
    OtherUser,
    /// No usable backup cookie: the page decides by the user tag.
    NoBackup,
}

impl Outcome {
    /// Whether the server knows the same user is back.
    pub fn same_user(self) -> Option<bool> {
        match self {
            Outcome::Restored | Outcome::TooLate => Some(true),
            Outcome::OtherUser => Some(false),
            Outcome::NoBackup => None,
        }
    }
}

/// Takes the browser's backup (single use) and restores it when it belongs
/// to the logged-in user. Keys the login wrote win over backed-up keys.
pub(crate) async fn restore(session: &Session<'_>, user_id: &str) -> Result<Outcome, Error> {
    let request = session.request();
    let runtime = session.runtime();
    let Some(id) = request.backup_id.as_deref() else {
        return Ok(Outcome::NoBackup);
    };
    if !secret::well_formed(id) {
        request.lock().clear_backup_cookie();
        return Ok(Outcome::NoBackup);
    }
    let id_hash = secret::hash(id);
    let taken = runtime.sessions.take_backup(request.caller(), &id_hash);
    let Some(backup) = taken.await? else {
        request.lock().clear_backup_cookie();
        return Ok(Outcome::NoBackup);
    };
    // Used up either way: the browser may forget it.
    request.lock().clear_backup_cookie();
    if backup.user_id != user_id {
        return Ok(Outcome::OtherUser);
    }
    if backup.expires_at <= request.now {
        return Ok(Outcome::TooLate);
    }
    let saved: Map<String, Value> = serde_json::from_str(&backup.data).unwrap_or_default();
    {
        let mut state = request.lock();
        if let Some(data) = state.data() {
            let restorable = saved
                .into_iter()
                .filter(|(key, _)| runtime.config.restorable(key));
            for (key, value) in restorable {
                data.entry(key).or_insert(value);
            }
        }
        state.data_changed();
    }
    // A fresh token for the restored session (ASVS 7.2.4); the rotation
    // is reported as the old id's end and the new id's start.
    session.cycle_id().await?;
    Ok(Outcome::Restored)
}

/// The session's data without the keys a relogin must not bring back
/// (`not_restorable`), as JSON.
fn restorable_data(
    config: &crate::config::Config,
    state: &mut SessionState,
) -> Result<String, Error> {
    let Some(data) = state.data() else {
        return Ok(String::from("{}"));
    };
    let kept: Map<String, Value> = data
        .iter()
        .filter(|(key, _)| config.restorable(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok(serde_json::to_string(&kept)?)
}

/// Logs an expired session out, backing its data up for a relogin.
pub(crate) async fn expire(
    runtime: &Runtime,
    mut state: SessionState,
    expiry: Expiry,
    now: i64,
) -> Result<SessionState, Error> {
    let Some(record) = state.record().cloned() else {
        return Ok(SessionState::default());
    };
    let config = &runtime.config;
    let sessions = &runtime.sessions;
    // The backup first, so a store failure in between leaves the session
    // as it was rather than ended without its backup.
    let backup = match (config.relogin, &record.user_id) {
        (true, Some(user_id)) => {
            // The backup's time runs from the session's end, not from the next request.
            let ended = expiry.ended_at(config.absolute_after).min(now);
            let id = secret::random_secret();
            let backup = BackupRecord {
                id_hash: secret::hash(&id),
                user_id: user_id.clone(),
                data: restorable_data(config, &mut state)?,
                expires_at: ended + config.backup_ttl as i64,
            };
            sessions.insert_backup(Caller::Background, &backup).await?;
            Some((id, backup.id_hash))
        }
        _ => None,
    };
    let absolute = expiry.absolute_end(config.absolute_after);
    let why = match absolute == Some(expiry.ended_at(config.absolute_after)) {
        true => SessionEnd::Absolute,
        false => SessionEnd::Idle,
    };
    if !sessions
        .end(Caller::Background, &record.token_hash, why)
        .await?
    {
        // A concurrent request ended this session first and answers for it;
        // leave the cookies to that request, and its backup is the one.
        if let Some((_, id_hash)) = backup {
            sessions.take_backup(Caller::Background, &id_hash).await?;
        }
        return Ok(SessionState::expired(false));
    }
    let mut expired = SessionState::expired(true);
    if let Some((id, _)) = backup {
        expired.set_backup_cookie(id);
        // Every tab's relogin frame then shares one CSRF token for the
        // login form (a cookie, not a stored session).
        expired.visitor_csrf(None);
    }
    Ok(expired)
}
