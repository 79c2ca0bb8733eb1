//! # rocket_session_security
//!
//! Log out users who walk away, without punishing the ones who stayed.
//!
//! An authenticated session that sees no activity for `expire_after` seconds
//! is logged out **by the server**, whatever the browser does. The browser
//! warns at `warn_after` with a countdown, every tab of the user agrees on
//! when they were last active, and on expiry the page can be hidden behind a
//! login dialog instead of being thrown away, so the same user logs in again
//! and carries on with every unsaved input in place.
//!
//! ## Usage
//!
//! 1. Add the dependency:
//!
//!    ```toml
//!    [dependencies]
//!    rocket_session_security = "0.1"
//!    ```
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
//!    The fairing connects the `session_security` database (SQLite file
//!    `session_security.sqlite` unless `databases.session_security.url` says
//!    otherwise; `postgres://…` when several instances share sessions),
//!    creates its tables and mounts its routes under `/session_security`.
//!    The keys under `databases.session_security` are `rocket_db_pools`'
//!    own (`url`, `max_connections`, `connect_timeout`, …).
//!
//! 3. Protect routes with [`Authenticated`], work with data through
//!    [`Session`], and check forms with [`CsrfForm`]:
//!
//!    ```
//!    # use rocket::{get, post, FromForm};
//!    use rocket_session_security::{Authenticated, CsrfForm, Session};
//!
//!    #[get("/dashboard")]
//!    fn dashboard(user: Authenticated, session: Session<'_>) -> String {
//!        let visits: u32 = session.get("visits").unwrap_or(0) + 1;
//!        session.insert("visits", visits).ok();
//!        format!("hello {}, visit {visits}", user.user_id)
//!    }
//!
//!    #[derive(FromForm)]
//!    struct Note { text: String }
//!
//!    #[post("/notes", data = "<note>")]
//!    fn add_note(_user: Authenticated, note: CsrfForm<Note>) -> String {
//!        note.into_inner().text
//!    }
//!    ```
//!
//!    Put [`Session::csrf_token`] into every form as a hidden `csrf_token`
//!    field.
//!
//! 4. Bring in the warning and relogin dialogs: register the crate's
//!    templates into your Tera once, put one line in your base template
//!    (inside `<body>`), and hand each page its `session_security` value.
//!
//!    ```no_run
//!    # use rocket::get;
//!    use rocket_dyn_templates::{context, Template};
//!    use rocket_session_security::{register_templates, Authenticated, Session};
//!
//!    // At launch: .attach(templates())
//!    fn templates() -> impl rocket::fairing::Fairing {
//!        Template::custom(|engines| {
//!            if let Err(e) = register_templates(&mut engines.tera) {
//!                rocket::error!("{e}");
//!            }
//!        })
//!    }
//!
//!    #[get("/")]
//!    fn home(_user: Authenticated, session: Session<'_>) -> Template {
//!        Template::render("home", context! { session_security: session.dialogs() })
//!    }
//!    ```
//!
//!    ```html
//!    {% include "session_security/all.html" %}
//!    ```
//!
//!    The include renders nothing without a logged-in user. It needs no
//!    inline script or style, so pages keep working under
//!    `Content-Security-Policy: default-src 'self'`; the script and stylesheet
//!    are served by the crate at content-hashed URLs. Without Tera, put
//!    [`Dialogs::to_html`] into your pages instead. The strings follow the
//!    browser's `Accept-Language` (English and ten more locales), or
//!    [`SessionSecurity::with_locale`].
//!
//! 5. Your login handler: check the password, call [`Session::login`] (a
//!    new session token, so a token planted before login is worthless
//!    afterwards), and answer with [`after_login`]. Serve it at `/login` and
//!    at `/login/<relogin>`, the URL the relogin dialog opens; that one
//!    route parameter is all relogin needs:
//!
//!    ```
//!    # use rocket::{post, FromForm};
//!    use rocket::response::Redirect;
//!    use rocket_session_security::{after_login, CsrfForm, Relogin, Session};
//!
//!    #[derive(FromForm)]
//!    struct Login { username: String, password: String, next: Option<String> }
//!
//!    # fn password_ok(_: &str, _: &str) -> bool { true }
//!    #[post("/login/<relogin>", data = "<form>")]
//!    async fn login(relogin: Relogin, form: CsrfForm<Login>, session: Session<'_>) -> Redirect {
//!        if !password_ok(&form.username, &form.password) {
//!            return Redirect::to("/login");
//!        }
//!        if session.login(&form.username).await.is_err() {
//!            return Redirect::to("/login");
//!        }
//!        after_login(relogin, form.next.as_deref())
//!    }
//!    ```
//!
//!    [`after_login`] sends a relogin to `/session_security/after_relogin`,
//!    which gives the session data backed up at expiry back to the **same**
//!    user only (under yet another new token), refreshes the CSRF token in
//!    every open tab and closes their dialogs; another user gets nothing and
//!    a fresh page. Otherwise it follows `next` when that is a local path
//!    (see [`local_path`]), else `/`.
//!
//! ## What counts as activity
//!
//! Every request that carries a live session counts, except:
//! - paths listed in `passive_paths` and routes named in `passive_routes`;
//! - the crate's own `ping`, `status` and asset routes.
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
//! request that changes nothing costs no store round trip. Data changes,
//! logins, logouts and token rotations are written through at once.
//! Memory may say a session is alive; only the store may say it is dead:
//! before a session is ended for idleness, and before a ping answer would
//! make the browser warn, the session is read from the store again, since
//! another instance may have seen the user meanwhile.
//!
//! - **SQLite** (the default): one process owns the file. Run one
//!   instance per file; the file runs in WAL mode with `synchronous=NORMAL`
//!   and a busy timeout of `connect_timeout` seconds.
//! - **PostgreSQL**: any number of instances share one database. They keep
//!   their caches coherent with `LISTEN`/`NOTIFY` on the channel
//!   `session_security`: a logout, expiry, rotation or data change on one
//!   instance evicts the session on every other within a second. A
//!   notification names only the first 64 bits of the token's hash (never a
//!   token or data), many are batched into one `NOTIFY`, and activity is
//!   never announced. When the listening connection drops, the whole cache
//!   is dropped as soon as listening resumes. Each instance holds one pool
//!   connection for listening: count it in `max_connections`.
//!
//! ## When the store is down
//!
//! An outage is not a logout. A request whose session cannot be read, or
//! whose change cannot be written, is answered within `store_timeout` with
//! `503 Service Unavailable` and `Retry-After`: a short HTML page for
//! browsers, `{"error":"store_unavailable"}` for background requests.
//! Such a response sets no cookie, so the browser's live session cookie is
//! never replaced or cleared, the login page included. Sessions already in
//! memory go on being served while nothing must be written, activity is
//! kept for the next flush, and service comes back with the store. The
//! browser script treats a 503 or a network error as "unavailable": it
//! keeps the page and retries. A [`Session::login`] or
//! [`Session::logout`] that fails returns an error whose
//! [`Error::is_store_failure`] is true, and the response becomes a `503`
//! whatever the handler answers.
//!
//! ## Configuration
//!
//! ```toml
//! [default.session_security]
//! warn_after = 540        # browser warns after 9 idle minutes
//! expire_after = 600      # server logs out after 10
//! absolute_after = 43200  # and after 12 hours whatever happens; 0 disables
//! passive_paths = ["/notifications/count"]
//! passive_routes = ["unread_badge"]
//! relogin = true
//! relogin_url = "/login/1"
//! login_url = "/login"
//! backup_ttl = 3600
//! activity_write_grace = 1
//! cookie_secure = true    # false only for plain-HTTP development
//! cache_capacity = 100000 # live sessions in memory per instance; 0 turns it off
//! store_timeout = 2       # seconds before a request that needs the store gets 503
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
//! ## Security
//!
//! - The session token has 256 random bits and lives in an `HttpOnly`,
//!   `SameSite=Lax`, `Secure` cookie; the store keeps only its SHA-256.
//!   A cookie that matches nothing is no session, never an error.
//! - Login and [`Session::cycle_id`] issue a new token; logout deletes the
//!   session on the server.
//! - Expiry is decided on the server before anything else in the request.
//! - Responses to authenticated requests carry `Cache-Control: no-store`.
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
//! ## Login throttling
//!
//! A password hash is slow on purpose (argon2 holds 19 MiB and a CPU for
//! each check), so an unguarded login form lets a flood of wrong passwords
//! take the memory and the CPUs, and lets a guesser try as fast as the
//! server hashes. [`LoginThrottle`] guards the check: at most
//! `concurrent_hashes` run at once (a login that waits `hash_wait_ms` for
//! its turn gets `503` with `Retry-After`), and a username that failed 5
//! times in a row from one address gets `429` with `Retry-After`, without
//! a hash, for 30 s, twice as long after each further failure, up to
//! 15 minutes. Other usernames and other addresses carry on; a success
//! clears the pair. Attach [`LoginThrottle::fairing`] (it reads the
//! `login_throttle` table, see [`ThrottleConfig`], and runs on the session
//! fairing's clock) and put the password check into
//! [`LoginThrottle::attempt`]:
//!
//! ```
//! # use rocket::{post, FromForm, State};
//! use std::net::SocketAddr;
//! use rocket::response::Redirect;
//! use rocket_session_security::{CsrfForm, LoginRefused, LoginThrottle, Session};
//!
//! #[derive(FromForm)]
//! struct Login { username: String, password: String }
//!
//! # fn password_ok(_: &str, _: &str) -> bool { true }
//! #[post("/login", data = "<form>")]
//! async fn login(
//!     throttle: &State<LoginThrottle>,
//!     peer: SocketAddr,
//!     form: CsrfForm<Login>,
//!     session: Session<'_>,
//! ) -> Result<Redirect, LoginRefused> {
//!     let (username, password) = (form.username.clone(), form.password.clone());
//!     let check = move || password_ok(&username, &password);
//!     if !throttle.attempt(&form.username, peer.ip(), check).await? {
//!         return Ok(Redirect::to("/login"));
//!     }
//!     session.login(&form.username).await.ok();
//!     Ok(Redirect::to("/"))
//! }
//! ```
//!
//! [`LoginRefused`] answers JSON to scripts and a short page to browsers;
//! an application that would rather show its login form again takes
//! [`LoginRefused::status`] and [`LoginRefused::retry_after`] from it.
//! The peer address is right for a server that clients reach directly;
//! behind a proxy, see [`LoginThrottle::attempt`] on which address to trust.
//!
//! ## Layout, for contributors
//!
//! One concern per file; a module imports only modules listed above it
//! (`scripts/check-imports` fails the build on a circle). Users import
//! everything from the crate root.
//!
//! | module | what it holds |
//! |---|---|
//! | `paths` | route paths, CSRF field and header names, `local_path` |
//! | `secret` | random tokens, their hashes, the user tag, constant-time compare |
//! | `clock`, `error`, `i18n` | time source; error types; locales and strings |
//! | `config` | the `session_security` table, validated at launch |
//! | `activity` | expiry arithmetic ([`Timing`] is its public view) |
//! | `assets`, `cookie` | the embedded, minified script and style; the cookies, their changes and headers |
//! | `store/` | records, [`SessionStore`], [`SqlStore`], its pool, the cache, PostgreSQL notifications |
//! | `shared` | managed state and the application's hooks |
//! | `request` | the per-request session state, changed through [`Session`] |
//! | `templates` | Tera registration, [`Dialogs`], the relogin result page |
//! | `session` | the [`Session`] handle |
//! | `guard` | [`Authenticated`], [`CsrfChecked`], [`CsrfForm`] |
//! | `relogin` | the backup at expiry and the restore after a relogin |
//! | `routes/` | every handler the fairing mounts, and the catchers |
//! | `unavailable`, `background` | the 503 answer; flush, purge and peers |
//! | `inject` | the dialogs put into every signed-in HTML page |
//! | `throttle` | [`LoginThrottle`]: the bound on password hashes at once, the backoff per username and address |
//! | `fairing` | wiring at launch, and the rules applied to each request |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "rocket_session_security needs a store: enable the `sqlite` (default) or `postgres` feature"
);

mod activity;
mod assets;
mod background;
mod clock;
mod config;
mod cookie;
mod error;
mod fairing;
mod guard;
mod i18n;
mod inject;
mod paths;
mod relogin;
mod request;
mod routes;
mod secret;
mod session;
mod shared;
mod store;
mod templates;
mod throttle;
mod unavailable;

pub use activity::Timing;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use cookie::{BACKUP_COOKIE, CSRF_COOKIE, SESSION_COOKIE, SIGNED_OUT, USER_COOKIE};
pub use error::{ConfigError, Error};
pub use fairing::SessionSecurity;
pub use guard::{Authenticated, CsrfChecked, CsrfError, CsrfForm, CsrfFormError, NoFields};
pub use paths::{local_path, CSRF_FIELD, CSRF_HEADER};
pub use relogin::{after_login, Relogin};
pub use routes::catchers;
pub use session::Session;
pub use shared::{LocaleHook, UserTimeouts};
pub use store::{BackupRecord, SessionRecord, SessionStore, SqlStore, StoreStats};
pub use templates::{register_templates, Dialogs};
pub use throttle::{LoginRefused, LoginThrottle, ThrottleConfig};
