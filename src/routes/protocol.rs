//! The session protocol the browser half speaks: ping, status, keepalive
//! and logout, and the JSON answer of a refused request.

use std::borrow::Cow;
use std::io::Cursor;

use rocket::http::{ContentType, RawStr, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, status::Custom, Responder, Response};
use rocket::serde::json::{json, Json, Value};
use rocket::{get, post};

use crate::session::expiry::parse_idle_for;
use crate::session::guards::{Authenticated, CsrfChecked, CsrfError};
use crate::session::Session;

/// Answer of a refused request: `{"error": code, "message": why}`.
pub(crate) fn refusal(status: Status, code: &str, message: String) -> Custom<Json<Value>> {
    Custom(status, Json(json!({ "error": code, "message": message })))
}

/// The ping's answer, a bare JSON value: built with one header, where
/// `Json` sets its content type twice (the ping is the hottest route).
pub(crate) struct PingAnswer(Value);

impl<'r> Responder<'r, 'static> for PingAnswer {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = self.0.to_string();
        Response::build()
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}

/// The ping's query, `idleFor=N&tag=T`, read by hand from the raw query:
/// Rocket's form machinery cost more than the rest of the ping (the
/// hottest route) together. Keys and values are URL-decoded as a form's.
pub(crate) struct PingQuery<'r> {
    /// Whole seconds, digits only; `None` when absent; why when invalid.
    idle_for: Result<Option<u64>, String>,
    /// The page's user tag.
    tag: Option<Cow<'r, str>>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PingQuery<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let mut query = PingQuery {
            idle_for: Ok(None),
            tag: None,
        };
        let raw = request.uri().query().map_or("", |q| q.as_str());
        let fields = raw.split('&').filter(|field| !field.is_empty());
        for field in fields {
            let (key, value) = field.split_once('=').unwrap_or((field, ""));
            let value = decoded(value);
            match &*decoded(key) {
                "idleFor" if matches!(query.idle_for, Ok(Some(_))) => {
                    query.idle_for = Err("idleFor was given twice".into());
                }
                "idleFor" if query.idle_for.is_ok() => {
                    query.idle_for = parse_idle_for(&value).map(Some).map_err(|e| e.message());
                }
                "tag" => query.tag = Some(value),
                _ => {}
            }
        }
        Outcome::Success(query)
    }
}

/// A query key or value as a form field would read it (`+` and `%XX`).
fn decoded(raw: &str) -> Cow<'_, str> {
    match raw.contains(['%', '+']) {
        true => Cow::Owned(RawStr::new(raw).url_decode_lossy().into_owned()),
        false => Cow::Borrowed(raw),
    }
}

/// `GET /session_security/ping?idleFor=N&tag=T`: seconds since the real
/// last activity (all tabs), or `"logout"`. Passive: it never counts as
/// activity, and `idleFor` (whole seconds, digits only) may only move the
/// last activity towards now. The fairing has already ended an expired
/// session, so `idleFor` cannot revive one. With `tag` (the page's user
/// tag), a live session of another user is `"logout"` for this page, and
/// its activity is left alone.
#[get("/ping")]
pub(crate) async fn ping(
    query: PingQuery<'_>,
    session: Session<'_>,
) -> Result<PingAnswer, Custom<Json<Value>>> {
    let idle_for = query
        .idle_for
        .map_err(|why| refusal(Status::BadRequest, "invalid_idle_for", why))?;
    metrics::counter!("session_security_pings_total").increment(1);
    if query.tag.is_some_and(|tag| !session.is_user_tag(&tag)) {
        return Ok(PingAnswer(json!("logout")));
    }
    if let Some(idle_for) = idle_for {
        session.merge_idle_for(idle_for);
    }
    let Some(timing) = session.timing() else {
        return Ok(PingAnswer(json!("logout")));
    };
    if timing.idle >= timing.warn_after {
        // The answer would warn: first make sure no other instance saw
        // the user active meanwhile.
        session.catch_up().await;
    }
    Ok(PingAnswer(match session.timing() {
        Some(timing) => json!(timing.idle),
        None => json!("logout"),
    }))
}

/// `GET /session_security/status`: passive JSON about the session's timing.
#[get("/status")]
pub(crate) fn status(session: Session<'_>) -> Json<Value> {
    Json(timing(&session))
}

/// `POST /session_security/keepalive?tag=T` with the `X-CSRF-Token`
/// header: counts as activity, answers like `status`. With `tag`, a live
/// session of another user answers `"logout"` and is not extended (checked
/// first: that page's CSRF token cannot match the other user's).
#[post("/keepalive?<tag>")]
pub(crate) fn keepalive(
    _user: Authenticated,
    csrf: Result<CsrfChecked, CsrfError>,
    tag: Option<&str>,
    session: Session<'_>,
) -> Result<Json<Value>, Status> {
    if tag.is_some_and(|tag| !session.is_user_tag(tag)) {
        return Ok(Json(json!("logout")));
    }
    if csrf.is_err() {
        return Err(Status::Forbidden);
    }
    session.record_activity();
    Ok(Json(timing(&session)))
}

/// `POST /session_security/logout` with the `X-CSRF-Token` header: the
/// warning dialog's "Log out" button.
#[post("/logout")]
pub(crate) async fn logout(
    _user: Authenticated,
    _csrf: CsrfChecked,
    session: Session<'_>,
) -> Result<Json<Value>, Custom<Json<Value>>> {
    match session.logout().await {
        Ok(()) => Ok(Json(json!({ "logged_out": true }))),
        Err(e) => {
            // The store's own words stay in the log, not in the answer.
            rocket::warn!("session security: logout failed: {e}");
            Err(refusal(
                Status::ServiceUnavailable,
                "store_unavailable",
                "The session store is unavailable; try again shortly.".to_owned(),
            ))
        }
    }
}

/// The session's timing as JSON; `{"authenticated": false}` without one.
fn timing(session: &Session<'_>) -> Value {
    let Some(timing) = session.timing() else {
        return json!({ "authenticated": false });
    };
    let mut answer = json!(timing);
    answer["authenticated"] = json!(true);
    answer
}
