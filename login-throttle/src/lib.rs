//! # rocket_login_throttle
//!
//! A login guard for Rocket 0.5: a bound on the password hashes running at
//! once, and an exponential backoff per (username, client address) pair, so
//! a flood of wrong passwords can neither exhaust memory and CPU nor guess
//! on at full speed.
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
//! clears the pair. At most 100,000 pairs are remembered (no usernames,
//! only their hashes), so made-up usernames cannot grow memory.
//!
//! The crate knows nothing of sessions: it works with any login handler.
//! It was written for `rocket_session_security` (inactivity expiry with an
//! in-place relogin), whose login handler the example below guards.
//!
//! ## Usage
//!
//! Attach [`LoginThrottle::fairing`]: it reads the `login_throttle` table
//! of Rocket's configuration (see [`ThrottleConfig`]; a bad value aborts
//! launch with a message naming the key) and manages the throttle. Then
//! the login handler takes `&State<LoginThrottle>` and puts its password
//! check into [`LoginThrottle::attempt`], which runs it on a blocking
//! thread and answers whether it passed, or why it was refused before any
//! hash ran:
//!
//! ```
//! use std::net::SocketAddr;
//!
//! use rocket::response::Redirect;
//! use rocket::{post, routes, Build, FromForm, Rocket, State};
//! use rocket_login_throttle::{LoginRefused, LoginThrottle};
//! use rocket_session_security::{
//!     after_login, catchers, CsrfForm, Relogin, Session, SessionSecurity,
//! };
//!
//! #[derive(FromForm)]
//! struct Login { username: String, password: String }
//!
//! # fn password_ok(_: &str, _: &str) -> bool { true }
//! #[post("/login/<relogin..>?<next>", data = "<form>")]
//! async fn login(
//!     relogin: Relogin,
//!     next: Option<&str>,
//!     throttle: &State<LoginThrottle>,
//!     peer: SocketAddr,
//!     form: CsrfForm<Login>,
//!     session: Session<'_>,
//! ) -> Result<Redirect, LoginRefused> {
//!     let (username, password) = (form.username.clone(), form.password.clone());
//!     let check = move || password_ok(&username, &password);
//!     let known = throttle.attempt(&form.username, peer.ip(), check).await?;
//!     if !known || session.login(&form.username).await.is_err() {
//!         return Ok(relogin.retry("/login", next));
//!     }
//!     Ok(after_login(relogin, next))
//! }
//!
//! fn rocket() -> Rocket<Build> {
//!     rocket::build()
//!         .attach(SessionSecurity::fairing())
//!         .attach(LoginThrottle::fairing())
//!         .register("/", catchers())
//!         .mount("/", routes![login])
//! }
//! # let _ = rocket();
//! ```
//!
//! Check unknown usernames too, against a dummy hash: a shortcut would
//! tell which usernames exist, by time and by which pairs get throttled.
//! An application that builds the throttle itself manages
//! [`LoginThrottle::new`] instead of attaching the fairing.
//!
//! ## The answer to a refused login
//!
//! [`LoginRefused`] is a responder: `429 Too Many Requests` or
//! `503 Service Unavailable`, with `Retry-After` and `Cache-Control:
//! no-store`; JSON `{"error": "too_many_failures" | "busy", "retry_after":
//! seconds}` to scripts (an `Accept` that prefers JSON, or
//! `X-Requested-With`), a short page to browsers. An application that
//! would rather show its login form again takes [`LoginRefused::status`]
//! and [`LoginRefused::retry_after`] from it.
//!
//! ## Which address
//!
//! The peer address is right for a server that clients reach directly.
//! Behind a proxy, set Rocket's `ip_header` to the header the proxy writes
//! and pass `client_ip()`; see [`LoginThrottle::attempt`] on which address
//! to trust. IPv6 addresses count per /64.
//!
//! ## Configuration
//!
//! Every key of the `login_throttle` table (`[default.login_throttle]` in
//! `Rocket.toml`, or `ROCKET_LOGIN_THROTTLE='{concurrent_hashes=4}'`) is a
//! field of [`ThrottleConfig`], with its default: `allowed_failures` (5),
//! `backoff` (30 s), `max_backoff` (900 s), `forget_after` (3600 s),
//! `tracked_pairs` (100,000), `concurrent_hashes` (the number of CPUs),
//! `hash_wait_ms` (2000) and `hashes_per_address` (half of
//! `concurrent_hashes`).
//!
//! ## In tests
//!
//! The throttle runs on the wall clock. A test that moves time through a
//! backoff gives it a clock with [`ThrottleFairing::with_clock`] (or
//! [`LoginThrottle::with_clock`]): any `Fn() -> i64` answering whole Unix
//! seconds, such as a closure that reads the manual clock the session
//! fairing runs on.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod pairs;
mod refused;
mod throttle;

pub use config::{ThrottleConfig, ThrottleConfigError};
pub use refused::LoginRefused;
pub use throttle::{LoginThrottle, ThrottleFairing};
