//! The session protocol the browser half speaks: ping, status, keepalive
//! and logout, and the JSON answer of a refused request.

use std::io::Cursor;

use rocket::form::{self, FromFormField, ValueField};
use rocket::http::{ContentType, Status};
use rocket::request::Request;
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

/// The ping's `idleFor`: whole seconds, digits only.
pub(crate) struct IdleFor(u64);

impl<'v> FromFormField<'v> for IdleFor {
    fn from_value(field: ValueField<'v>) -> form::Result<'v, Self> {
        parse_idle_for(field.value)
            .map(IdleFor)
            .map_err(|e| form::Error::validation(e.message()).into())
    }
}

/// `GET /session_security/ping?idleFor=N&tag=T`: seconds since the real
/// last activity (all tabs), or `"logout"`. Passive: it never counts as
/// activity, and `idleFor` (whole seconds, digits only) may only move the
/// last activity towards now. The fairing has already ended an expired
/// session, so `idleFor` cannot revive one. With `tag` (the page's user
/// tag), a live session of another user is `"logout"` for this page, and
/// its activity is left alone.
#[get("/ping?<idleFor>&<tag>")]
#[allow(non_snake_case)] // the query key is the browser contract
pub(crate) async fn ping(
    idleFor: form::Result<'_, IdleFor>,
    tag: Option<&str>,
    session: Session<'_>,
) -> Result<PingAnswer, Custom<Json<Value>>> {
    let idle_for = match idleFor {
        Ok(IdleFor(idle_for)) => Some(idle_for),
        Err(errors)
            if errors
                .iter()
                .all(|e| matches!(e.kind, form::error::ErrorKind::Missing)) =>
        {
            None
        }
        Err(errors) => {
            let why = errors
                .iter()
                .map(|e| e.kind.to_string())
                .collect::<Vec<_>>();
            return Err(refusal(
                Status::BadRequest,
                "invalid_idle_for",
                why.join("; "),
            ));
        }
    };
    metrics::counter!("session_security_pings_total").increment(1);
    if tag.is_some_and(|tag| !session.is_user_tag(tag)) {
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
