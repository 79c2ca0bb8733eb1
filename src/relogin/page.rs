//! `GET /session_security/after_relogin`: where a login handler sends the
//! browser after a login inside the relogin dialog.

use rocket::http::{ContentType, Header, Status};
use rocket::{get, Responder};
use serde_json::json;

use crate::client::dialogs::after_relogin_page;
use crate::client::locales;
use crate::relogin::{restore, Outcome};
use crate::session::guards::Authenticated;
use crate::session::Session;

/// The small page shown in the relogin frame, framed by our origin only.
#[derive(Responder)]
pub(crate) struct ReloginResult {
    body: (ContentType, String),
    frame: Header<'static>,
    csp: Header<'static>,
}

/// Restores the backup for the same user, then tells the parent window
/// (same origin only) whether the same user is back, with the new CSRF
/// token. A store failure is a `503`, dressed by the fairing.
#[get("/after_relogin")]
pub(crate) async fn after_relogin(
    user: Authenticated,
    session: Session<'_>,
) -> Result<ReloginResult, Status> {
    let unavailable = |e: crate::Error| {
        rocket::error!("session security: {e}");
        Status::ServiceUnavailable
    };
    let outcome = restore(&session, &user.user_id)
        .await
        .map_err(unavailable)?;
    // The login reported the session's start, a relogin or not.
    let same_user = outcome.same_user();
    let message = json!({
        "type": "session_security:relogin",
        "sameUser": same_user,
        "restored": outcome == Outcome::Restored,
        "userTag": session.runtime().user_tag(&user.user_id),
        "csrfToken": session.csrf_token(),
    });
    let locale = locales::of_request(session.request(), session.runtime(), session.http());
    let html = after_relogin_page(&message, same_user != Some(false), locale).map_err(|e| {
        rocket::error!("session security: {e}");
        Status::InternalServerError
    })?;
    Ok(ReloginResult {
        body: (ContentType::HTML, html),
        frame: Header::new("X-Frame-Options", "SAMEORIGIN"),
        csp: Header::new(
            "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'self'",
        ),
    })
}
