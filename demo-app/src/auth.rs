//! Login and logout: the forms, the password check (behind
//! `rocket_login_throttle`) and the relogin flag.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rocket::form::FromForm;
use rocket::http::{Header, Status};
use rocket::request::FlashMessage;
use rocket::response::status::Custom;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Responder, Route, State};
use rocket_db_pools::Connection;
use rocket_dyn_templates::{context, Template};
use rocket_login_throttle::{LoginRefused, LoginThrottle};
use rocket_session_security::{after_login, CsrfForm, CsrfFormError, NoFields, Relogin, Session};

use crate::db::{AppResult, Crm};
use crate::layout::Reply;
use crate::password;

/// The login form; every field defaults to empty so a missing one is a
/// failed login, not a 422 page.
#[derive(Debug, FromForm)]
struct LoginForm {
    #[field(default = "")]
    username: String,
    #[field(default = "")]
    password: String,
}

/// Renders the login form. It posts back to where it was served,
/// `/login/1` inside the relogin dialog and `/login?next=…` otherwise, so
/// the POST sees the same relogin flag and `next` as the GET did.
fn login_page(
    session: &Session<'_>,
    relogin: Relogin,
    next: Option<&str>,
    username: &str,
    error: Option<&str>,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    Template::render(
        "login",
        context! {
            action: relogin.form_action("/login", next),
            relogin: relogin.0,
            username,
            error,
            flash: flash.map(|f| context! { kind: f.kind().to_owned(), message: f.message().to_owned() }),
            csrf_token: session.csrf_token(),
        },
    )
}

/// The login page at `/login`, and at `/login/1` inside the library's
/// relogin dialog (`relogin_url`); `next` is where to go afterwards (the
/// 401 catcher sets it).
#[get("/login/<relogin..>?<next>")]
fn login_form(
    session: Session<'_>,
    relogin: Relogin,
    next: Option<&str>,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    login_page(&session, relogin, next, "", None, flash)
}

/// A login form whose CSRF check failed: most likely a login page left
/// open until its anonymous session was purged. Refused (403), with a fresh
/// form rather than a bare error page.
type LoginSubmission<'r> = Result<CsrfForm<LoginForm>, CsrfFormError<'r>>;

/// What a login POST answers: the usual replies, or the form again with
/// `429`/`503` and `Retry-After` when the throttle would not check the
/// password (too many failures of this username from this address, or too
/// many checks running).
#[derive(Responder)]
enum SignIn {
    Reply(Reply),
    Refused(Custom<Template>, Header<'static>),
}

impl From<Reply> for SignIn {
    fn from(reply: Reply) -> Self {
        SignIn::Reply(reply)
    }
}

/// Who is signing in, as the throttle counts them: the peer address. The
/// demo is reached directly, so the peer is the client, and no header a
/// client writes (`X-Real-IP`) can make it someone else. Only a local test
/// request may come without one.
fn client(peer: Option<SocketAddr>) -> IpAddr {
    peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.ip())
}

/// What the login form says when the throttle refused it.
fn refusal_message(refused: LoginRefused) -> String {
    match refused {
        LoginRefused::TooManyFailures { retry_after } => {
            let wait = match retry_after {
                0..=119 => format!("{retry_after} seconds"),
                _ => format!("{} minutes", retry_after.div_ceil(60)),
            };
            format!("Too many failed sign-ins for this username. Please try again in {wait}.")
        }
        LoginRefused::Busy { .. } => {
            "Many people are signing in right now. Please try again in a moment.".to_owned()
        }
    }
}

/// Signs in and goes to `next`; from the relogin dialog (`/login/1`) it
/// ends at the library's `after_relogin`, which restores the session data
/// if the user is the same. The password is checked through the throttle,
/// and a failure changes nothing in the session.
#[post("/login/<relogin..>?<next>", data = "<form>")]
async fn login<'r>(
    session: Session<'_>,
    mut db: Connection<Crm>,
    throttle: &State<LoginThrottle>,
    peer: Option<SocketAddr>,
    relogin: Relogin,
    next: Option<&str>,
    form: LoginSubmission<'r>,
) -> AppResult<SignIn> {
    let form = match form {
        Ok(form) => form.into_inner(),
        Err(_) => {
            let error = "The sign-in form had expired. Please try again.";
            return Ok(Reply::Forbidden(login_page(
                &session,
                relogin,
                next,
                "",
                Some(error),
                None,
            ))
            .into());
        }
    };
    let username = form.username.trim().to_owned();
    let stored: Option<(String, String)> =
        sqlx::query_as("SELECT display_name, password_hash FROM users WHERE username = ?")
            .bind(&username)
            .fetch_optional(&mut **db)
            .await?;
    let (display_name, hash) = stored.unzip();
    let known = hash.is_some();
    // An unknown username is checked too, against the dummy hash: it takes
    // as long and is throttled alike, so neither tells who has an account.
    let password = form.password;
    let check = move || match &hash {
        Some(hash) => password::matches(&password, hash),
        None => password::matches(&password, password::dummy_hash()),
    };
    let matches = match throttle.attempt(&username, client(peer), check).await {
        Ok(matches) => matches,
        Err(refused) => {
            let message = refusal_message(refused);
            let page = login_page(&session, relogin, next, &username, Some(&message), None);
            let retry_after = Header::new("Retry-After", refused.retry_after().to_string());
            return Ok(SignIn::Refused(Custom(refused.status(), page), retry_after));
        }
    };
    let display_name = display_name.unwrap_or_default();
    if !(known && matches) {
        let error = "That username and password do not match.";
        let page = login_page(&session, relogin, next, &username, Some(error), None);
        return Ok(Reply::Invalid(page).into());
    }

    session.login(&username).await?;
    let onward = after_login(relogin, next);
    if relogin.0 {
        // The library's page closes the dialog and restores the page under
        // it; a welcome message would only turn up on some later page.
        return Ok(Reply::Redirect(onward).into());
    }
    Ok(Reply::Flash(Flash::success(onward, format!("Welcome, {display_name}."))).into())
}

/// Logs out. A wrong CSRF token is refused while signed in (another site
/// must not sign users out); without a session there is nothing to protect.
#[post("/logout", data = "<form>")]
async fn logout<'r>(
    session: Session<'_>,
    form: Result<CsrfForm<NoFields>, CsrfFormError<'r>>,
) -> AppResult<Result<Flash<Redirect>, Status>> {
    if !session.is_authenticated() {
        return Ok(Ok(Flash::success(
            Redirect::to("/login"),
            "You are signed out.",
        )));
    }
    if form.is_err() {
        return Ok(Err(Status::Forbidden));
    }
    session.logout().await?;
    Ok(Ok(Flash::success(
        Redirect::to("/login"),
        "You are signed out.",
    )))
}

/// `/login`, `/login/<relogin>` (GET and POST) and `/logout`.
pub fn routes() -> Vec<Route> {
    routes![login_form, login, logout]
}
