//! The names the browser and the server agree on: the paths of the crate's
//! routes and the CSRF field and header (a leaf, so every module can name
//! them without importing the routes), and the local-path check that keeps
//! `next=` and configured URLs from becoming open redirects.

/// The name of the form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// The name of the header that carries the CSRF token.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// Where the crate's routes are mounted.
pub(crate) const BASE: &str = "/session_security";
/// The ping (contract with the browser script).
pub(crate) const PING_PATH: &str = "/session_security/ping";
/// The one route of ours that counts as activity.
pub(crate) const KEEPALIVE_PATH: &str = "/session_security/keepalive";
/// The server-sent event stream one tab per browser holds.
pub(crate) const EVENTS_PATH: &str = "/session_security/events";
/// Logout for the warning dialog's button.
pub(crate) const LOGOUT_PATH: &str = "/session_security/logout";
/// Where a login handler sends the browser after a relogin.
pub(crate) const AFTER_RELOGIN_PATH: &str = "/session_security/after_relogin";
/// Prefix of the content-hashed static assets.
pub(crate) const ASSETS_PATH: &str = "/session_security/assets/";

/// Returns `target` when it is a path on this site (`/contacts?page=2`),
/// `None` for anything a browser could read as another origin
/// (`//evil.example`, `/\evil.example`, `https://…`, `javascript:`…).
///
/// Use it on the `next` parameter of a login handler before redirecting.
///
/// ```
/// use rocket_session_security::local_path;
/// assert_eq!(local_path("/contacts?page=2"), Some("/contacts?page=2"));
/// assert_eq!(local_path("//evil.example/"), None);
/// assert_eq!(local_path("https://evil.example/"), None);
/// ```
pub fn local_path(target: &str) -> Option<&str> {
    let rest = target.strip_prefix('/')?;
    let suspicious = rest.starts_with('/')
        || rest.starts_with('\\')
        || target.chars().any(|c| c.is_control() || c == '\\');
    (!suspicious).then_some(target)
}
