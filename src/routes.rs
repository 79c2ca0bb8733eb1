//! The routes the fairing mounts under `/session_security`.

use rocket::http::Status;
use rocket::response::status::Custom;
use rocket::serde::json::{json, Json, Value};
use rocket::{get, post, routes, Route};

use crate::guard::{Authenticated, CsrfChecked};
use crate::session::Session;

/// Where the crate's routes are mounted.
pub(crate) const BASE: &str = "/session_security";
/// The ping (contract with the browser script).
pub(crate) const PING_PATH: &str = "/session_security/ping";
/// The one route of ours that counts as activity.
pub(crate) const KEEPALIVE_PATH: &str = "/session_security/keepalive";
/// Logout for the warning dialog's button.
pub(crate) const LOGOUT_PATH: &str = "/session_security/logout";
/// Where a login handler sends the browser after a relogin.
pub(crate) const AFTER_RELOGIN_PATH: &str = "/session_security/after_relogin";
/// Prefix of the content-hashed static assets.
pub(crate) const ASSETS_PATH: &str = "/session_security/assets/";

pub(crate) fn routes() -> Vec<Route> {
    routes![
        ping,
        status,
        keepalive,
        logout,
        crate::assets::script,
        crate::assets::style,
        crate::assets::after_relogin,
        crate::relogin::after_relogin
    ]
}

/// Answer of a refused request: `{"error": code, "message": why}`.
pub(crate) fn refusal(status: Status, code: &str, message: String) -> Custom<Json<Value>> {
    Custom(status, Json(json!({ "error": code, "message": message })))
}

/// `GET /session_security/ping?idleFor=N`: seconds since the real last
/// activity (all tabs), or `"logout"`. Passive: it never counts as activity,
/// and `idleFor` (whole seconds, digits only) may only move the last
/// activity towards now.
#[get("/ping")]
fn ping(session: Session<'_>) -> Result<Json<Value>, Custom<Json<Value>>> {
    let verdict = session.verdict();
    let state = verdict.lock();
    if let Some(Err(e)) = state.idle_for {
        return Err(refusal(Status::BadRequest, "invalid_idle_for", e.message()));
    }
    Ok(Json(match state.times() {
        Some(times) => json!(times.idle(verdict.now)),
        None => json!("logout"),
    }))
}

/// `GET /session_security/status`: passive JSON about the session's timing.
#[get("/status")]
fn status(session: Session<'_>) -> Json<Value> {
    Json(timing(&session))
}

/// `POST /session_security/keepalive` with the `X-CSRF-Token` header: counts
/// as activity, answers like `status`.
#[post("/keepalive")]
fn keepalive(_user: Authenticated, _csrf: CsrfChecked, session: Session<'_>) -> Json<Value> {
    let verdict = session.verdict();
    {
        let mut state = verdict.lock();
        state.force_touch = true;
        if let Some(record) = state.record.as_mut() {
            record.last_activity = record.last_activity.max(verdict.now);
        }
    }
    Json(timing(&session))
}

/// `POST /session_security/logout` with the `X-CSRF-Token` header: the
/// warning dialog's "Log out" button.
#[post("/logout")]
async fn logout(
    _user: Authenticated,
    _csrf: CsrfChecked,
    session: Session<'_>,
) -> Result<Json<Value>, Custom<Json<Value>>> {
    match session.logout().await {
        Ok(()) => Ok(Json(json!({ "logged_out": true }))),
        Err(e) => Err(refusal(
            Status::ServiceUnavailable,
            "store_unavailable",
            e.to_string(),
        )),
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
