//! Relogin in place: the backup taken at expiry goes back to the same user,
//! and to nobody else.

use rocket::http::{ContentType, Header, Status};
use rocket::response::Redirect;
use rocket::{get, Responder};
use rocket_dyn_templates::tera::{Context, Tera};
use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::guard::Authenticated;
use crate::page::script_safe_json;
use crate::redirect::local_path;
use crate::routes::AFTER_RELOGIN_PATH;
use crate::session::Session;
use crate::token;

/// The `relogin` route parameter of a login handler (`/login/<relogin>`):
/// `1`, `true`, `yes` or `on` mean the login came through the relogin
/// dialog; `0`, `false`, `no` or `off` that it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relogin(pub bool);

impl<'a> rocket::request::FromParam<'a> for Relogin {
    type Error = &'a str;

    fn from_param(param: &'a str) -> Result<Self, Self::Error> {
        match param.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Relogin(true)),
            "0" | "false" | "no" | "off" => Ok(Relogin(false)),
            _ => Err(param),
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
    fn same_user(self) -> Option<bool> {
        match self {
            Outcome::Restored | Outcome::TooLate => Some(true),
            Outcome::OtherUser => Some(false),
            Outcome::NoBackup => None,
        }
    }
}

/// A stable, opaque tag of a user id, so a page can tell whether the user
/// logging in again is the one it was rendered for without the backup.
pub(crate) fn user_tag(user_id: &str) -> String {
    token::hash(&format!("session_security user {user_id}"))
}

/// Takes the browser's backup (single use) and restores it when it belongs
/// to the logged-in user. Keys the login wrote win over backed-up keys.
pub(crate) async fn restore(session: &Session<'_>, user_id: &str) -> Result<Outcome, Error> {
    let request = session.request();
    let runtime = session.runtime();
    let Some(id) = request.backup_id.as_deref() else {
        return Ok(Outcome::NoBackup);
    };
    if !token::well_formed(id) {
        request.lock().clear_backup_cookie();
        return Ok(Outcome::NoBackup);
    }
    let taken = runtime.sessions.take_backup(&token::hash(id)).await;
    let Some(backup) = request.note(taken)? else {
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
            for (key, value) in saved {
                data.entry(key).or_insert(value);
            }
        }
        state.data_changed();
    }
    // A fresh token for the restored session (ASVS 7.2.4).
    session.cycle_id().await?;
    Ok(Outcome::Restored)
}

const PAGE: (&str, &str) = (
    "session_security/after_relogin.html",
    include_str!("../templates/session_security/after_relogin.html"),
);

/// The small page shown in the relogin frame.
#[derive(Responder)]
pub(crate) struct AfterReloginPage {
    body: (ContentType, String),
    frame: Header<'static>,
    csp: Header<'static>,
}

/// `GET /session_security/after_relogin`: the login handler redirects here
/// after a relogin. Tells the parent window (same origin only) whether the
/// same user is back, with the new CSRF token.
#[get("/after_relogin")]
pub(crate) async fn after_relogin(
    user: Authenticated,
    session: Session<'_>,
) -> Result<AfterReloginPage, (Status, String)> {
    let outcome = restore(&session, &user.user_id)
        .await
        .map_err(unavailable)?;
    let same_user = outcome.same_user();
    let message = json!({
        "type": "session_security:relogin",
        "sameUser": same_user,
        "restored": outcome == Outcome::Restored,
        "userTag": user_tag(&user.user_id),
        "csrfToken": session.csrf_token(),
    });
    let mut tera = Tera::default();
    tera.add_raw_templates([PAGE])
        .map_err(|e| unavailable(Error::Template(e.to_string())))?;
    let mut context = Context::new();
    context.insert("message_json", &script_safe_json(&message));
    context.insert("script_url", &crate::assets::after_relogin_url());
    context.insert("same_user", &(same_user != Some(false)));
    context.insert("t", crate::i18n::strings(&session.request().locale));
    let html = tera
        .render(PAGE.0, &context)
        .map_err(|e| unavailable(Error::Template(e.to_string())))?;
    Ok(AfterReloginPage {
        body: (ContentType::HTML, html),
        frame: Header::new("X-Frame-Options", "SAMEORIGIN"),
        csp: Header::new(
            "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'self'",
        ),
    })
}

fn unavailable(e: Error) -> (Status, String) {
    rocket::error!("session security: {e}");
    (
        Status::ServiceUnavailable,
        "the session store is unavailable, please retry".into(),
    )
}
