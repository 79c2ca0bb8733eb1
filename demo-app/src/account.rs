//! Where the signed-in user is signed in: `/account/sessions` lists their
//! live sessions (browser, login, last activity) through the library's
//! [`Session::sessions`](rocket_session_security::Session::sessions), and
//! ends one ([`revoke`](rocket_session_security::Session::revoke)) or all
//! but the current one
//! ([`revoke_others`](rocket_session_security::Session::revoke_others)).
//! An ended session's open tabs leave their page within seconds; its next
//! request goes to the login.
//!
//! The page's markup is a contract (see the design notes, "Sessions per
//! user"): each session is one element with `data-session="<id>"`, the
//! current one also has `data-current`; every other session has a POST
//! form whose action ends in `/revoke`, and one POST form ending in
//! `/revoke-others` ends all the others.

use chrono::DateTime;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Route};
use rocket_session_security::{CsrfForm, NoFields, SessionInfo};
use serde::Serialize;

use crate::db::AppResult;
use crate::layout::{Page, Reply};

/// The page's address; every POST comes back to it.
const SESSIONS: &str = "/account/sessions";

/// One session as the page shows it.
#[derive(Debug, Serialize)]
struct SessionView {
    /// The library's opaque public id (never the token).
    id: String,
    /// "Firefox on Linux"; "Unknown browser" when the login sent no
    /// User-Agent.
    device: String,
    current: bool,
    /// RFC 3339, for `<time datetime>`.
    started_iso: String,
    /// "Nov 14, 2023 22:13 UTC".
    started: String,
    /// "3 hours ago".
    started_ago: String,
    last_active_iso: String,
    last_active: String,
    /// "just now" for the current one.
    last_active_ago: String,
    /// When the absolute limit ends it, if one is configured.
    ends: Option<String>,
}

impl SessionView {
    fn new(info: SessionInfo, now: i64) -> SessionView {
        SessionView {
            device: info.device.unwrap_or_else(|| "Unknown browser".to_owned()),
            current: info.current,
            started_iso: iso(info.started_at),
            started: when(info.started_at),
            started_ago: since(info.started_at, now),
            last_active_iso: iso(info.last_active),
            last_active: when(info.last_active),
            last_active_ago: since(info.last_active, now),
            ends: info.absolute_end.map(when),
            id: info.id,
        }
    }
}

/// `2023-11-14T22:13:20+00:00`.
fn iso(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0).map_or_else(String::new, |t| t.to_rfc3339())
}

/// `Nov 14, 2023 22:13 UTC`: the demo shows times in UTC throughout.
fn when(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0).map_or_else(String::new, |t| {
        t.format("%b %-d, %Y %H:%M UTC").to_string()
    })
}

/// `just now`, `1 minute ago`, `5 hours ago`, `2 days ago`.
pub fn since(unix: i64, now: i64) -> String {
    let seconds = (now - unix).max(0);
    let (count, unit) = match seconds {
        0..=59 => return "just now".to_owned(),
        60..=3_599 => (seconds / 60, "minute"),
        3_600..=86_399 => (seconds / 3_600, "hour"),
        _ => (seconds / 86_400, "day"),
    };
    match count {
        1 => format!("1 {unit} ago"),
        n => format!("{n} {unit}s ago"),
    }
}

/// "Signed out of 1 session.", "Signed out of 3 sessions."
fn signed_out(count: usize) -> String {
    match count {
        1 => "Signed out of 1 session.".to_owned(),
        n => format!("Signed out of {n} sessions."),
    }
}

/// The signed-in user's live sessions, the current one first.
#[get("/account/sessions")]
async fn list(page: Page<'_>) -> AppResult<Reply> {
    let mut sessions = page.session.sessions().await?;
    // The library's clock (which tests move) says what "now" is: the
    // current session's last activity is this request.
    let now = sessions
        .iter()
        .find(|s| s.current)
        .map_or_else(crate::db::now, |s| s.last_active);
    // Oldest login first from the library; this browser on top.
    sessions.sort_by_key(|s| !s.current);
    let sessions: Vec<SessionView> = sessions
        .into_iter()
        .map(|info| SessionView::new(info, now))
        .collect();
    let others = sessions.iter().filter(|s| !s.current).count();
    Ok(Reply::Page(page.render(
        "account/sessions",
        "account",
        rocket_dyn_templates::context! { sessions, others },
    )))
}

/// Ends one of the user's sessions. An id that is not one of their live
/// sessions (forged, another user's, already ended) changes nothing.
#[post("/account/sessions/<id>/revoke", data = "<_form>")]
async fn revoke(page: Page<'_>, id: &str, _form: CsrfForm<NoFields>) -> AppResult<Reply> {
    if !page.session.revoke(id).await? {
        return Ok(Reply::refused(
            SESSIONS,
            "That session is no longer active.",
        ));
    }
    // The page offers no button for the current session, but a hand-made
    // request may end it: that is a sign-out.
    if !page.session.is_authenticated() {
        return Ok(Reply::Flash(Flash::success(
            Redirect::to("/login"),
            "You are signed out.",
        )));
    }
    Ok(Reply::done(SESSIONS, signed_out(1)))
}

/// Ends every session of the user but this one.
#[post("/account/sessions/revoke-others", data = "<_form>")]
async fn revoke_others(page: Page<'_>, _form: CsrfForm<NoFields>) -> AppResult<Reply> {
    match page.session.revoke_others().await? {
        0 => Ok(Reply::done(SESSIONS, "No other session was active.")),
        n => Ok(Reply::done(SESSIONS, signed_out(n))),
    }
}

/// `GET /account/sessions`, `POST /account/sessions/<id>/revoke` and
/// `POST /account/sessions/revoke-others`.
pub fn routes() -> Vec<Route> {
    routes![list, revoke, revoke_others]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(since(100, 100), "just now");
        assert_eq!(since(200, 100), "just now", "never in the future");
        assert_eq!(since(0, 60), "1 minute ago");
        assert_eq!(since(0, 150), "2 minutes ago");
        assert_eq!(since(0, 7_200), "2 hours ago");
        assert_eq!(since(0, 86_400), "1 day ago");
        assert_eq!(since(0, 86_400 * 9), "9 days ago");
    }

    #[test]
    fn absolute_times_are_utc() {
        assert_eq!(when(1_700_000_000), "Nov 14, 2023 22:13 UTC");
        assert_eq!(iso(1_700_000_000), "2023-11-14T22:13:20+00:00");
    }

    #[test]
    fn counts() {
        assert_eq!(signed_out(1), "Signed out of 1 session.");
        assert_eq!(signed_out(2), "Signed out of 2 sessions.");
    }
}
