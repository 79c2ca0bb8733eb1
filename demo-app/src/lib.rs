//! Harbor CRM: a small customer-relationship app that shows
//! `rocket_session_security` used exactly as an application would use it.
//!
//! - [`SessionSecurity`] is attached with a
//!   [`UserTimeouts`](rocket_session_security::UserTimeouts) hook
//!   ([`users::ManagerTimeouts`]): managers, who see every deal, are signed
//!   out sooner than sales reps.
//! - The crate's 401 catcher sends browsers to `/login?next=…` and answers
//!   background requests in JSON: `session_expired` when their session has
//!   just ended, `not_signed_in` when they had none.
//! - The fairing puts the warning and relogin dialogs into every signed-in
//!   page by itself: no template includes them. Every form carries the
//!   CSRF token and every POST handler takes a `CsrfForm`.
//! - The login is one GET and one POST at `/login/<relogin..>?<next>`:
//!   `/login` and `/login/1`, which the relogin dialog opens in place,
//!   with `next` in the query; it ends in the library's `after_login`. It
//!   checks passwords through `rocket_login_throttle`'s [`LoginThrottle`]:
//!   a few argon2 hashes at a time, and a backoff for a username failing
//!   again and again from one address.
//! - `/account/sessions` ([`account`]) lists where the user is signed in and
//!   ends one session or all the others, through the library's
//!   `Session::sessions`, `revoke` and `revoke_others`.
//! - With `metrics = true` in the configuration, `/metrics` ([`metrics`])
//!   serves the library's counters in the Prometheus text format.
//!
//! `cargo run -p demo-app` from the repository root serves it on
//! <http://127.0.0.1:8000>; sign in as `alice` / `alice-demo-pass` or
//! `bob` / `bob-demo-pass`.

#![forbid(unsafe_code)]

pub mod account;
pub mod auth;
pub mod companies;
pub mod contacts;
pub mod crud;
pub mod dashboard;
pub mod db;
pub mod deals;
pub mod headers;
pub mod layout;
pub mod metrics;
pub mod notes;
pub mod password;
pub mod users;
pub mod validation;

use rocket::figment::Figment;
use rocket::fs::FileServer;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;
use rocket_login_throttle::{LoginThrottle, ThrottleFairing};
use rocket_session_security::{catchers, SessionSecurity};

/// The demo's own templates; the repository root has a `templates/` folder
/// for the library, so the relative default would pick the wrong one.
const TEMPLATE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
/// The stylesheet and icon, served at `/static`.
const STATIC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/static");

/// Rocket's usual configuration (`Rocket.toml`, `ROCKET_*` variables) with
/// the demo's defaults underneath, so it also runs with no `Rocket.toml`.
pub fn figment() -> Figment {
    rocket::Config::figment()
        .join(("template_dir", TEMPLATE_DIR))
        .join(("databases.crm.url", "sqlite://crm.sqlite"))
        .join((
            "databases.session_security.url",
            "sqlite://session_security.sqlite",
        ))
}

/// Whether this run is the demo: sample data with two accounts whose
/// passwords the login page prints, served over plain HTTP. On in debug
/// builds (`cargo run -p demo-app`); a release build is a real deployment
/// unless configured with `demo = true` (`ROCKET_DEMO=true`): no sample
/// accounts, and `Secure` cookies as the library defaults to.
pub fn is_demo(figment: &Figment) -> bool {
    figment
        .extract_inner::<bool>("demo")
        .unwrap_or(cfg!(debug_assertions))
}

/// The demo with the wall clock and the usual configuration.
pub fn rocket() -> Rocket<Build> {
    rocket_with(
        SessionSecurity::fairing(),
        LoginThrottle::fairing(),
        figment(),
    )
}

/// The demo with given session-security and login-throttle fairings (tests
/// pass both on one `ManualClock`) and configuration (tests point the
/// databases at a temporary directory). The managers' shorter timeout is
/// added here, so it applies whatever fairing comes in.
pub fn rocket_with(
    security: SessionSecurity,
    throttle: ThrottleFairing,
    figment: Figment,
) -> Rocket<Build> {
    let demo = is_demo(&figment);
    // The demo is served over plain HTTP, where a Secure cookie would never
    // come back; an explicit `cookie_secure` still wins.
    let figment = match demo {
        true => figment.join(("session_security.cookie_secure", false)),
        false => figment,
    };
    rocket::custom(figment)
        .attach(security.with_user_timeouts(users::ManagerTimeouts))
        .attach(throttle)
        .attach(db::stage())
        .attach(Template::custom(move |engines| {
            layout::configure_tera(&mut engines.tera);
            // The login page lists the sample accounts only in the demo.
            engines
                .tera
                .register_function("demo_accounts", move |_: &_| {
                    Ok(rocket_dyn_templates::tera::Value::Bool(demo))
                });
        }))
        .attach(headers::SecurityHeaders)
        .attach(metrics::stage())
        .mount("/", auth::routes())
        .mount("/", dashboard::routes())
        .mount("/", companies::routes())
        .mount("/", contacts::routes())
        .mount("/", deals::routes())
        .mount("/", notes::routes())
        .mount("/", account::routes())
        .mount("/static", FileServer::from(STATIC_DIR))
        .register("/", catchers())
        .register("/", layout::catchers())
}
