//! Users, passwords, login and logout, and the managers' shorter timeout.
//!
//! The user id given to the session is the username.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::request::{FlashMessage, FromRequest, Outcome};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, Orbit, Request, Rocket, Route};
use rocket_db_pools::{Connection, Database};
use rocket_dyn_templates::{context, Template};
use rocket_session_security::{
    after_login, local_path, Authenticated, Config, CsrfForm, CsrfFormError, Relogin, Session,
    UserTimeouts,
};
use serde::Serialize;

use crate::db::{AppResult, Crm};
use crate::layout::{Confirmation, Reply};

/// Hashes a password with argon2id and a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// Checks a password against a stored PHC string.
fn password_matches(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash no password matches in practice, checked for unknown usernames
/// so a wrong username takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no user has this password").unwrap_or_default())
}

/// The signed-in user, loaded from the CRM's `users` table.
///
/// Built on the library's [`Authenticated`] guard: without a live session it
/// forwards with 401 as that guard does, so the library's catcher answers
/// (login redirect for browsers, JSON for background requests).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CurrentUser {
    /// The login name, also the session's user id and the deals' `owner`.
    pub username: String,
    /// Shown in the header.
    pub display_name: String,
    /// `sales` or `manager`.
    pub role: String,
}

impl CurrentUser {
    /// Managers see every deal; sales reps see their own.
    pub fn is_manager(&self) -> bool {
        self.role == "manager"
    }
}

async fn find_user(
    db: &sqlx::SqlitePool,
    username: &str,
) -> Result<Option<CurrentUser>, sqlx::Error> {
    sqlx::query_as("SELECT username, display_name, role FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(db)
        .await
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        let user = match request.guard::<Authenticated>().await {
            Outcome::Success(user) => user,
            Outcome::Forward(status) => return Outcome::Forward(status),
            Outcome::Error((status, _)) => return Outcome::Error((status, ())),
        };
        let Some(db) = Crm::fetch(request.rocket()) else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        match find_user(db, &user.user_id).await {
            Ok(Some(user)) => Outcome::Success(user),
            // A session of a user who no longer exists is no sign-in.
            Ok(None) => Outcome::Forward(Status::Unauthorized),
            Err(e) => {
                rocket::error!("loading user {}: {e}", user.user_id);
                Outcome::Error((Status::InternalServerError, ()))
            }
        }
    }
}

/// Managers see every deal, so an unattended manager session is worth more
/// to an intruder: they get half the configured `expire_after` (the
/// library raises it to at least the warning lead plus one second).
pub struct ManagerTimeouts;

#[rocket::async_trait]
impl UserTimeouts for ManagerTimeouts {
    async fn expire_after(&self, rocket: &Rocket<Orbit>, user_id: &str) -> Option<u64> {
        let db = Crm::fetch(rocket)?;
        let user = find_user(db, user_id).await.ok().flatten()?;
        if !user.is_manager() {
            return None;
        }
        let configured = Config::from_figment(rocket.figment()).map_or(600, |c| c.expire_after);
        Some(configured / 2)
    }
}

/// The login form; every field defaults to empty so a missing one is a
/// failed login, not a 422 page.
#[derive(Debug, FromForm)]
struct LoginForm {
    #[field(default = "")]
    username: String,
    #[field(default = "")]
    password: String,
    #[field(default = "")]
    next: String,
}

/// Renders the login form; `relogin` pages post back to `/login/1`.
fn login_page(
    session: &Session<'_>,
    relogin: bool,
    next: Option<&str>,
    username: &str,
    error: Option<&str>,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    Template::render(
        "login",
        context! {
            action: if relogin { "/login/1" } else { "/login" },
            relogin,
            next: next.and_then(local_path).unwrap_or(""),
            username,
            error,
            flash: flash.map(|f| context! { kind: f.kind().to_owned(), message: f.message().to_owned() }),
            csrf_token: session.csrf_token(),
            session_security: session.page(),
        },
    )
}

/// The login page; `next` is where to go afterwards (the 401 catcher sets it).
#[get("/login?<next>")]
fn login_form(
    session: Session<'_>,
    next: Option<&str>,
    flash: Option<FlashMessage<'_>>,
) -> Template {
    login_page(&session, false, next, "", None, flash)
}

/// The login page inside the library's relogin dialog (`relogin_url`).
#[get("/login/<relogin>")]
fn relogin_form(session: Session<'_>, relogin: Relogin) -> Template {
    login_page(&session, relogin.into(), None, "", None, None)
}

/// A login form whose CSRF check failed: most likely a login page left
/// open until its anonymous session was purged. Refused (403), with a fresh
/// form rather than a bare error page.
type LoginSubmission<'r> = Result<CsrfForm<LoginForm>, CsrfFormError<'r>>;

/// Signs in and goes to `next`.
#[post("/login", data = "<form>")]
async fn login<'r>(
    session: Session<'_>,
    db: Connection<Crm>,
    form: LoginSubmission<'r>,
) -> AppResult<Reply> {
    sign_in(session, db, form, false).await
}

/// Signs in from the relogin dialog and ends at the library's
/// `after_relogin`, which restores the session data if the user is the same.
#[post("/login/<relogin>", data = "<form>")]
async fn relogin<'r>(
    session: Session<'_>,
    db: Connection<Crm>,
    relogin: Relogin,
    form: LoginSubmission<'r>,
) -> AppResult<Reply> {
    sign_in(session, db, form, relogin.into()).await
}

/// Checks the password and logs in; a failure changes nothing in the session.
async fn sign_in(
    session: Session<'_>,
    mut db: Connection<Crm>,
    form: LoginSubmission<'_>,
    relogin: bool,
) -> AppResult<Reply> {
    let form = match form {
        Ok(form) => form.into_inner(),
        Err(_) => {
            let error = "The sign-in form had expired. Please try again.";
            return Ok(Reply::Forbidden(login_page(
                &session,
                relogin,
                None,
                "",
                Some(error),
                None,
            )));
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
    // Argon2 is deliberately slow: keep it off the async workers.
    let password = form.password;
    let matches = rocket::tokio::task::spawn_blocking(move || match &hash {
        Some(hash) => password_matches(&password, hash),
        None => password_matches(&password, dummy_hash()),
    })
    .await
    .unwrap_or(false);
    let display_name = display_name.unwrap_or_default();
    if !(known && matches) {
        let error = "That username and password do not match.";
        let page = login_page(
            &session,
            relogin,
            Some(&form.next),
            &username,
            Some(error),
            None,
        );
        return Ok(Reply::Invalid(page));
    }

    session.login(&username).await?;
    if relogin {
        // The library's after_relogin restores the session for the same user.
        return Ok(Reply::Redirect(after_login(true, None)));
    }
    Ok(Reply::Flash(Flash::success(
        after_login(false, Some(&form.next)),
        format!("Welcome, {display_name}."),
    )))
}

/// Logs out. A wrong CSRF token is refused while signed in (another site
/// must not sign users out); without a session there is nothing to protect.
#[post("/logout", data = "<form>")]
async fn logout<'r>(
    session: Session<'_>,
    form: Result<CsrfForm<Confirmation>, CsrfFormError<'r>>,
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
    routes![login_form, relogin_form, login, relogin, logout]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("s3cret").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password_matches("s3cret", &hash));
        assert!(!password_matches("S3cret", &hash));
    }
}
