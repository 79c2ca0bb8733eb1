//! # rocket_session_security
//!
//! Log out users who walk away, without punishing the ones who stayed.
//!
//! An authenticated session that sees no activity for `expire_after` seconds
//! is logged out **by the server**, whatever the browser does. The browser
//! warns at `warn_after` with a countdown, every tab of the user agrees on
//! when they were last active, and on expiry the page is hidden behind a
//! login dialog instead of being thrown away, so the same user logs in again
//! and carries on with every unsaved input in place.
//!
//! ## Usage
//!
//! Four one-time steps, and nothing per page. The code below is the code of
//! `examples/minimal` (`cargo run --example minimal`), whose login flow
//! `tests/http/login_flow.rs` tests.
//!
//! 1. Add the dependency. The crate is not on crates.io yet: use a path, or
//!    a git URL once it is published.
//!
//!    ```toml
//!    [dependencies]
//!    rocket = "0.5"
//!    rocket_dyn_templates = { version = "0.2", features = ["tera"] }  # step 3's login page
//!    rocket_session_security = { path = "../rocket_session_security" }
//!    # PostgreSQL instead of SQLite:
//!    # rocket_session_security = { path = "…", default-features = false, features = ["postgres"] }
//!    ```
//!
//!    The Cargo features pick the store drivers: `sqlite` (the default) and
//!    `postgres` (several instances sharing sessions); a store URL whose
//!    driver is not compiled in aborts launch. The crate turns on Rocket's
//!    `json` feature; your app needs no other. It uses no private cookies,
//!    so it needs no `secret_key` (its tokens are random, the store keeps
//!    their hashes, and the key of the user tag lives in the store).
//!
//! 2. Attach the fairing and register the 401 catcher:
//!
//!    ```no_run
//!    # use rocket::launch;
//!    use rocket_session_security::{catchers, SessionSecurity};
//!
//!    #[launch]
//!    fn rocket() -> _ {
//!        rocket::build()
//!            .attach(SessionSecurity::fairing())
//!            .register("/", catchers())
//!    }
//!    ```
//!
//!    The fairing opens the `session_security` database (SQLite file
//!    `session_security.sqlite` unless `databases.session_security.url` says
//!    otherwise; `postgres://…` when several instances share sessions),
//!    creates its tables, mounts its routes under `/session_security`, and
//!    puts the dialogs into every signed-in HTML page. The keys under
//!    `databases.session_security` are `rocket_db_pools`' own (`url`,
//!    `max_connections`, `connect_timeout`, …). The catcher cannot come with
//!    the fairing: Rocket refuses two catchers for one status, and the
//!    application may have its own. Launch logs a warning when nothing at `/`
//!    catches a 401.
//!
//! 3. A login handler: one GET and one POST route at `/login/<relogin..>`,
//!    which serves `/login` and `/login/1`, the URL the relogin dialog opens.
//!    [`Relogin::form_action`] gives the form's `action`, [`Relogin::retry`]
//!    the redirect after a failed attempt; both keep the relogin flag and
//!    `next`. Check the password, call [`Session::login`] (a new session
//!    token, so a token planted before login is worthless afterwards), and
//!    answer with [`after_login`]:
//!
//!    ```
//!    # use rocket::{get, post, FromForm};
//!    use rocket::response::Redirect;
//!    use rocket_dyn_templates::{context, Template};
//!    use rocket_session_security::{after_login, CsrfForm, Relogin, Session};
//!
//!    # const USERS: [(&str, &str); 1] = [("carol", "carol-pass")];
//!    #[get("/login/<relogin..>?<next>")]
//!    fn login_form(relogin: Relogin, next: Option<&str>, session: Session<'_>) -> Template {
//!        let (action, csrf_field) = (relogin.form_action("/login", next), session.csrf_field());
//!        Template::render("login", context! { action, csrf_field })
//!    }
//!
//!    #[derive(FromForm)]
//!    struct Login {
//!        username: String,
//!        password: String,
//!    }
//!
//!    #[post("/login/<relogin..>?<next>", data = "<form>")]
//!    async fn login(
//!        relogin: Relogin,
//!        next: Option<&str>,
//!        form: CsrfForm<Login>,
//!        session: Session<'_>,
//!    ) -> Redirect {
//!        let known = USERS.contains(&(form.username.as_str(), form.password.as_str()));
//!        if !known || session.login(&form.username).await.is_err() {
//!            return relogin.retry("/login", next);
//!        }
//!        after_login(relogin, next)
//!    }
//!    ```
//!
//!    ```html
//!    <form method="post" action="{{ action }}">
//!      {{ csrf_field | safe }}
//!      <input name="username"> <input name="password" type="password">
//!      <button type="submit">Sign in</button>
//!    </form>
//!    ```
//!
//!    [`after_login`] sends a relogin to `/session_security/after_relogin`,
//!    which gives the session data backed up at expiry back to the **same**
//!    user only (under yet another new token), refreshes the CSRF token in
//!    every open tab and closes their dialogs; another user gets nothing and
//!    a fresh page. Otherwise it follows `next` when that is a local path
//!    (see [`local_path`]), else `/`. Put real password checks behind the
//!    `rocket_login_throttle` crate (this repository's `login-throttle/`).
//!
//! 4. A logout: a POST that carries only its CSRF token.
//!
//!    ```
//!    # use rocket::post;
//!    use rocket::response::Redirect;
//!    use rocket_session_security::{CsrfForm, NoFields, Session};
//!
//!    #[post("/logout", data = "<_form>")]
//!    async fn logout(_form: CsrfForm<NoFields>, session: Session<'_>) -> Redirect {
//!        session.logout().await.ok();
//!        Redirect::to("/login")
//!    }
//!    ```
//!
//!    A script may use the crate's own `POST /session_security/logout` with
//!    the `X-CSRF-Token` header instead (the README's "The crate's routes").
//!
//! Configuration is optional; the defaults work (the README's
//! Configuration section lists every key).
//!
//! Nothing is repeated per page: the dialogs come by themselves. What a
//! protected route and a form need is the application's own security, and it
//! is short: an [`Authenticated`] parameter, [`CsrfForm`] instead of
//! `Form`, and [`Session::csrf_field`] rendered in the form
//! (`{{ csrf_field | safe }}` in Tera):
//!
//! ```
//! # use rocket::{get, post, FromForm};
//! use rocket::response::Redirect;
//! use rocket_dyn_templates::{context, Template};
//! use rocket_session_security::{Authenticated, CsrfForm, Session};
//!
//! #[get("/notes")]
//! fn notes(user: Authenticated, session: Session<'_>) -> Template {
//!     let notes: Vec<String> = session.get("notes").unwrap_or_default();
//!     let csrf_field = session.csrf_field();
//!     Template::render("notes", context! { user: user.user_id, notes, csrf_field })
//! }
//!
//! #[derive(FromForm)]
//! struct Note {
//!     text: String,
//! }
//!
//! #[post("/notes", data = "<note>")]
//! fn add_note(_user: Authenticated, note: CsrfForm<Note>, session: Session<'_>) -> Redirect {
//!     let mut notes: Vec<String> = session.get("notes").unwrap_or_default();
//!     notes.push(note.into_inner().text);
//!     session.insert("notes", notes).ok();
//!     Redirect::to("/notes")
//! }
//! ```
//!
//! Without a live session, [`Authenticated`] forwards with `401`: the
//! catcher sends a browser to `login_url?next=<the page>` and answers a
//! script `{"error":"session_expired","relogin_url":…}` (or
//! `{"error":"not_signed_in","login_url":…}` when it had no session). A wrong or missing
//! CSRF token is `403` before the handler runs.
//!
//! ## Where to read on
//!
//! The [README](https://github.com/rocket-session-security/rocket_session_security#readme)
//! is the manual: which pages get the dialogs and how to opt out, the
//! markup and its element ids, the crate's routes, what counts as activity,
//! the read path (memory for speed, the store for truth, at most
//! `cache_max_age` seconds apart) and what a store outage does, what a
//! relogin brings back, every configuration key with its default, the
//! security controls with the tests that show them, and what it costs.
//! `examples/minimal` is the quick start as an application; `demo-app/` (a
//! small CRM) shows everything at once. The browser's side fires
//! `session-security:*` events on `document`
//! (`docs/client-events.md`).
//!
//! ## The API at a glance
//!
//! Every public item, by where it is used:
//!
//! - Wiring: [`SessionSecurity`] (the fairing), its hooks
//!   [`SessionEvents`], [`UserTimeouts`] and [`ChooseLocale`] and its
//!   [`Clock`] ([`SystemClock`]); [`catchers`]; [`Config`] (the
//!   `session_security` table) and [`ConfigError`].
//! - In a handler: [`Session`] (login, logout, data, the CSRF token,
//!   [`Timing`], the user's sessions as [`SessionInfo`]); the guards
//!   [`Authenticated`], [`AuthenticatedApi`], [`CsrfChecked`] (failing with
//!   [`CsrfError`]) and [`CsrfForm`] (with [`CsrfFormError`], and
//!   [`NoFields`] for a form that carries only its token); the login
//!   route's [`Relogin`] and [`after_login`]; [`local_path`] for `next`;
//!   [`CSRF_FIELD`] and [`CSRF_HEADER`]; [`Dialogs`] and
//!   [`register_templates`] for a template that places the dialogs itself.
//! - Outside a request: [`SessionAdmin`] (end every session of a user, list
//!   them, the store's [`StoreStats`], the [`CookieNames`] as the browser
//!   gets them). The cookies' base names are [`SESSION_COOKIE`],
//!   [`BACKUP_COOKIE`], [`USER_COOKIE`] and [`CSRF_COOKIE`];
//!   [`SIGNED_OUT`] is the user cookie's value after a sign-out.
//! - Storage: [`SqlStore`] (SQLite, PostgreSQL), or your own
//!   [`SessionStore`] and [`UserSessionStore`] over [`SessionRecord`] and
//!   [`BackupRecord`] (with [`Removed`] and [`Purged`]); errors are
//!   [`Error`], a store's own wrapped in [`StoreError`].
//! - Reports: [`SessionStart`] and [`SessionEnd`] of every
//!   [`SessionEvent`], also as the log target `session_security::audit` and
//!   through the `metrics` facade.
//! - Tests (feature `test-util`): `ManualClock`, so expiry is a matter of
//!   moving time, not of sleeping.
//!
//! Password checks belong behind a login throttle: the `rocket_login_throttle`
//! crate (this repository's `login-throttle/`).
//!
//! ## Layout, for contributors
//!
//! Folders by feature, one concern per file, no import circle between
//! files or folders (`scripts/check-imports` fails the build on one); the
//! README's "Layout" section maps them. Users import everything from the
//! crate root.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "rocket_session_security needs a store: enable the `sqlite` (default) or `postgres` feature"
);

mod classify;
mod client;
mod clock;
mod config;
mod error;
mod fairing;
mod lifecycle;
mod paths;
mod relogin;
mod routes;
mod runtime;
mod secret;
mod session;
mod store;

pub use client::dialogs::{register_templates, Dialogs};
#[cfg(feature = "test-util")]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};
pub use config::Config;
pub use error::{ConfigError, Error, StoreError};
pub use fairing::SessionSecurity;
pub use lifecycle::{SessionEnd, SessionEvent, SessionEvents, SessionStart};
pub use paths::{local_path, CSRF_FIELD, CSRF_HEADER};
pub use relogin::{after_login, Relogin};
pub use routes::catchers;
pub use runtime::{ChooseLocale, UserTimeouts};
pub use session::cookies::{
    CookieNames, BACKUP_COOKIE, CSRF_COOKIE, SESSION_COOKIE, SIGNED_OUT, USER_COOKIE,
};
pub use session::expiry::Timing;
pub use session::guards::{
    Authenticated, AuthenticatedApi, CsrfChecked, CsrfError, CsrfForm, CsrfFormError, NoFields,
};
pub use session::per_user::SessionInfo;
pub use session::{Session, SessionAdmin};
pub use store::{
    BackupRecord, Purged, Removed, SessionRecord, SessionStore, SqlStore, StoreStats,
    UserSessionStore,
};
