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
//!    the `X-CSRF-Token` header instead (see The crate's routes).
//!
//! Configuration is optional; the defaults work (see Configuration below).
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
//! script `{"error":"session_expired","relogin_url":…}`. A wrong or missing
//! CSRF token is `403` before the handler runs.
//!
//! ## Which pages get the dialogs
//!
//! With `inject = true` (the default), the fairing puts the markup (a
//! stylesheet link, a JSON configuration element, the warning and relogin
//! dialogs, a script tag) just before the last `</body>` of a response when
//! the request's session is live and signed in as the response leaves, the
//! response is `text/html` with a known size (at most 8 MiB), it does not
//! carry the markup already (`id="session_security_warning"`), and it is not
//! one of the crate's own routes. Fragments without `</body>`, other types
//! and streamed bodies are left alone.
//!
//! To place the markup yourself, register the crate's templates into your
//! Tera, include them in the base template (inside `<body>`), and hand the
//! page its `session_security` value; without Tera, render
//! [`Dialogs::to_html`]:
//!
//! ```no_run
//! # use rocket::get;
//! use rocket_dyn_templates::{context, Template};
//! use rocket_session_security::{register_templates, Authenticated, Session};
//!
//! // At launch: .attach(templates())
//! fn templates() -> impl rocket::fairing::Fairing {
//!     Template::custom(|engines| {
//!         if let Err(e) = register_templates(&mut engines.tera) {
//!             rocket::error!("{e}");
//!         }
//!     })
//! }
//!
//! #[get("/")]
//! fn home(_user: Authenticated, session: Session<'_>) -> Template {
//!     Template::render("home", context! { session_security: session.dialogs() })
//! }
//! ```
//!
//! ```html
//! {% include "session_security/all.html" %}
//! ```
//!
//! A page with the include gets nothing twice. With `inject = false`, a debug
//! build warns once about a signed-in page that has no dialogs. The markup
//! renders nothing without a logged-in user and needs no inline script or
//! style, so pages keep working under `Content-Security-Policy: default-src
//! 'self'`; the script and stylesheet are served by the crate at
//! content-hashed URLs. The strings follow the browser's `Accept-Language`
//! (English and ten more locales), or [`SessionSecurity::with_locale`].
//!
//! ## The markup and the script
//!
//! For an application's own tests and CSS. Every top-level element has the
//! class `session_security`.
//!
//! - `dialog#session_security_warning`: the warning, modal while warned, with
//!   `#session_security_warning_title`, `#session_security_counter` (the real
//!   seconds left), `#session_security_warning_body`,
//!   `#session_security_unavailable` (shown while the server cannot be
//!   reached), the buttons `#session_security_stay` and
//!   `#session_security_logout` in `.session_security_actions`, and the live
//!   region `#session_security_announce`.
//! - `dialog#session_security_relogin`: after expiry, with
//!   `#session_security_relogin_title`, `#session_security_relogin_body`,
//!   `iframe#session_security_relogin_frame` (the page at `relogin_url`) and
//!   the link `#session_security_relogin_other` (log in as someone else).
//! - `script#session_security_config`: the script's configuration, JSON.
//!
//! While the relogin dialog is up, the page's own content is out of the
//! document and comes back exactly after a same-user relogin; every
//! `csrf_token` field and `<meta name="csrf-token">` is then refreshed.
//! The script's `window.sessionSecurity` has `activity()` (activity now, for
//! every tab), `ping()` (ask the server at once; a promise) and `stop()`
//! (end every timer and listener; the page stays).
//!
//! ## The crate's routes
//!
//! Mounted under `/session_security`:
//!
//! - `GET /ping?idleFor=N`: seconds since the real last activity, or
//!   `"logout"` (see below).
//! - `GET /status`: the session's timing as JSON ([`Timing`] plus
//!   `authenticated`), or `{"authenticated":false}`. Passive.
//! - `POST /keepalive` with the `X-CSRF-Token` header: counts as activity,
//!   answers like `status`.
//! - `POST /logout` with the `X-CSRF-Token` header: the warning's "Log out"
//!   button. Answers `{"logged_out":true}`; `403` without the token; `503`
//!   when the store is down (`{"error":"store_unavailable",…}` to scripts).
//! - `GET /after_relogin`: where [`after_login`] sends a relogin.
//! - `GET /assets/<hash>/…`: the script and stylesheet, cached for a year.
//!
//! ## What counts as activity
//!
//! Every request that carries a live session counts, except:
//! - paths listed in `passive_paths` and routes named in `passive_routes`;
//! - the crate's own routes under `/session_security`, but for the keepalive,
//!   which counts once it has checked the page's user and CSRF token;
//! - a request that another site's page made and that is not a navigation
//!   (`Sec-Fetch-Site` other than `same-origin` or `none`, and `Sec-Fetch-Mode`
//!   other than `navigate`), so a sibling subdomain's script or image cannot
//!   keep a session alive; browsers that send no Fetch Metadata count as
//!   before;
//! - a request whose CSRF check failed.
//!
//! Passive requests never extend a session, but an expired session is still
//! logged out by them. The ping `GET /session_security/ping?idleFor=N`
//! reports that the user was idle for `N` seconds in the browser: it may only
//! move the last activity **forward** (towards now), never past now and
//! never backwards, and it cannot revive a session that already expired.
//! `N` must be whole seconds written with digits only; anything else is
//! answered with `400` and changes nothing. The answer is the number of
//! seconds since the real last activity across all tabs, or `"logout"`.
//!
//! Last-activity writes are coalesced: memory sees every request at once,
//! the store gets at most one write per `activity_write_grace` seconds per
//! session (one batch for all sessions), and the stored value only ever
//! moves forward in one SQL statement, so a slow request cannot overwrite
//! newer activity. The last batch is written at shutdown.
//!
//! ## The read path: memory for speed, the store for truth
//!
//! Each instance keeps up to `cache_capacity` live sessions in memory, so a
//! request that changes nothing costs no store round trip. Every change of
//! a session (login, logout, data, rotation, revocation, expiry, purge)
//! goes through one component that writes the store, tells the other
//! instances and the event streams, and reports the start or end to the
//! audit hook and the metrics; a change that fails turns the request's
//! answer into the `503` below. Memory may say a session is alive; only
//! the store may say it is dead: before a session is ended for idleness,
//! and before a ping answer would make the browser warn, the session is
//! read from the store again, since another instance may have seen the user
//! meanwhile.
//!
//! A session in memory is trusted for at most `cache_max_age` seconds (15)
//! since it was last read from the store, and only while the instance is
//! sure to hear the others' changes; the next request after that reads it
//! again. A read that started before a logout or revocation never puts the
//! old row back. So an ended session is refused everywhere within a second
//! normally, and within `cache_max_age` under any single fault.
//!
//! - **SQLite** (the default): one process owns the file. Run one
//!   instance per file; the file runs in WAL mode with `synchronous=NORMAL`
//!   and a busy timeout of `connect_timeout` seconds.
//! - **PostgreSQL**: any number of instances share one database. They keep
//!   their caches coherent with `LISTEN`/`NOTIFY` on the channel
//!   `session_security`: the statement that ends or changes a session
//!   notifies in its own transaction, and every other instance evicts it
//!   within a second. A notification names only the first 64 bits of the
//!   token's hash (never a token or data); activity is never announced.
//!   Each instance sends itself a heartbeat through the channel every 2 s
//!   over a connection of its own and must hear it within 1.5 s; until it
//!   does (at start-up, after a silently dropped listener), it trusts
//!   nothing in memory and reads every session from the store. Every listen
//!   starts from an empty cache. Each instance holds two connections of its own
//!   besides its pool: one listening and one for heartbeats.
//!
//! ## When the store is down
//!
//! An outage is not a logout. A request whose session cannot be read, or
//! whose change cannot be written, is answered within `store_timeout` with
//! `503 Service Unavailable` and `Retry-After`: a short HTML page for
//! browsers, `{"error":"store_unavailable"}` for background requests.
//! Such a response sets no cookie, so the browser's live session cookie is
//! never replaced or cleared, the login page included. A session read from
//! the store less than `cache_max_age` ago goes on being served while
//! nothing must be written (an older one gets the `503`), activity is kept
//! for the next flush, and service comes back with the store. The
//! browser script treats a 503 or a network error as "unavailable": it
//! keeps the page and retries. A [`Session::login`] or
//! [`Session::logout`] that fails returns an error whose
//! [`Error::is_store_failure`] is true, and the response becomes a `503`
//! whatever the handler answers.
//!
//! ## What a relogin brings back
//!
//! The backed-up data comes back to the same user, except the keys named in
//! `not_restorable`: markers that a password-only relogin must not restore,
//! such as a second factor's confirmation.
//!
//! ```toml
//! [default.session_security]
//! not_restorable = ["mfa_verified_at", "confirmed_*"]  # `*`: any key with that prefix
//! ```
//!
//! ```
//! # use rocket::get;
//! use rocket_session_security::{Authenticated, Session};
//!
//! /// After the second factor: a marker the relogin will not bring back.
//! #[get("/mfa/done")]
//! fn mfa_done(_user: Authenticated, session: Session<'_>) {
//!     let now = chrono::Utc::now().timestamp();
//!     session.insert("mfa_verified_at", now).ok();
//! }
//! ```
//!
//! ## Configuration
//!
//! Every key is optional; these are the defaults.
//!
//! ```toml
//! [default.session_security]
//! warn_after = 540        # browser warns after 9 idle minutes
//! expire_after = 600      # server logs out after 10
//! absolute_after = 43200  # and after 12 hours whatever happens; 0 disables
//! passive_paths = []      # e.g. ["/notifications/count"]: never activity
//! passive_routes = []     # e.g. ["unread_badge"]: route names, never activity
//! relogin = true          # false: reload, or go to logout_url, on expiry
//! relogin_url = "/login/1"
//! login_url = "/login"
//! # logout_url = "/goodbye"  # unset by default: where expiry goes when relogin is off
//! backup_ttl = 3600       # seconds a backup waits for its relogin
//! activity_write_grace = 1
//! cookie_secure = true    # Secure, __Host- cookies; see below
//! cache_capacity = 100000 # live sessions in memory per instance; 0 turns it off
//! cache_max_age = 15      # seconds a session in memory is trusted without the store
//! not_restorable = []     # data keys a relogin does not bring back
//! store_timeout = 2       # seconds before a request that needs the store gets 503
//! max_data_bytes = 65536  # largest session data, as JSON
//! inject = true           # put the dialogs into every signed-in HTML page
//!
//! [default.databases.session_security]
//! url = "sqlite://session_security.sqlite"   # or postgres://… for several instances
//! connect_timeout = 5     # also SQLite's busy timeout
//! max_connections = 16
//! ```
//!
//! Or from the environment: `ROCKET_SESSION_SECURITY='{warn_after=5,expire_after=10}'`.
//! A bad value aborts launch with a message naming the key; see [`Config`].
//! Per-user limits come from a [`UserTimeouts`] hook.
//!
//! `cookie_secure` gives the cookies `Secure` and `__Host-` names
//! (`__Host-session_security`, …). Keep it on for development on
//! `http://localhost` and `http://127.0.0.1`: Chromium accepts such cookies
//! from both, and Firefox from localhost. Turn it off only for plain HTTP on
//! another host; the cookies then lose `Secure` and the prefix.
//!
//! ## Security
//!
//! The README's Security section maps these to OWASP ASVS 5.0 V7, names the
//! test that shows each, and lists the residual risks.
//!
//! - The session token has 256 random bits and lives in an `HttpOnly`,
//!   `SameSite=Lax` cookie, `Secure` and `__Host-` prefixed with
//!   `cookie_secure`; the store keeps only its SHA-256. A cookie that matches
//!   nothing is no session, never an error.
//! - Login, the restore after a relogin and [`Session::cycle_id`] issue a new
//!   token and end the old one; logout deletes the session and its relogin
//!   backup on the server.
//! - Expiry is decided on the server before anything else in the request.
//! - Responses to authenticated requests, and every response that sets a
//!   cookie or holds a CSRF token, carry `Cache-Control: no-store`.
//! - A visitor's CSRF token (a login form) lives in a `SameSite=Strict`
//!   cookie of its own, [`CSRF_COOKIE`], so visitors cost no stored session.
//! - A store failure never logs anyone out and never grants anything: the
//!   request is answered `503` and changes nothing (see above).
//! - Each page knows its user by a tag: HMAC-SHA256 of the user id under a
//!   key the store creates once (table `session_security_keys`, shared by
//!   every instance on it), so the tag tells nothing about the user to
//!   someone without the key. The tabs ignore messages of another tag; a
//!   ping or keepalive sent with another user's tag answers `"logout"` and
//!   leaves that user's session alone.
//! - The script-readable cookie [`USER_COOKIE`] holds the signed-in user's
//!   tag, [`SIGNED_OUT`] after [`Session::logout`], and is removed when a
//!   session ends otherwise. The tabs of the browser watch it, so a
//!   sign-out in one reaches the others within a second, with no request.
//!
//! ## Sessions per user
//!
//! [`Session::sessions`] lists the signed-in user's live sessions
//! ([`SessionInfo`]: an opaque id, never the token or its hash; start,
//! last activity, absolute end, device, current), [`Session::revoke`] ends
//! one of their own, [`Session::revoke_others`] all but the current, and
//! [`SessionAdmin::revoke_user`] every session of a user from outside a
//! request (a password change, an administrator). A revoked session stays
//! as a tombstone until the purge, so every instance refuses it, and is
//! never backed up; the other instances drop it within a second,
//! and its open tabs leave the page within 2 s through
//! `GET /session_security/events`, a server-sent event stream that one tab
//! per browser holds.
//!
//! Every start and end is reported with its reason ([`SessionStart`],
//! [`SessionEnd`]) to a [`SessionEvents`] hook
//! ([`SessionSecurity::with_events`]), as a log line on the target
//! `session_security::audit`, and counted through the `metrics` facade;
//! none carries a token or session data.
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
    Authenticated, CsrfChecked, CsrfError, CsrfForm, CsrfFormError, NoFields,
};
pub use session::per_user::SessionInfo;
pub use session::{Session, SessionAdmin};
pub use store::{
    BackupRecord, Purged, Removed, SessionRecord, SessionStore, SqlStore, StoreStats,
    UserSessionStore,
};
