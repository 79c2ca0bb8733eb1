//! The cookies the crate sets, written as `Set-Cookie` headers in
//! `on_response`: the cookie jar's changes are already in the response by
//! then, and an error response keeps only what its catcher set.

use rocket::http::{Cookie, Header, SameSite};
use rocket::time::Duration;

use crate::config::Config;

/// Holds the session token.
pub const SESSION_COOKIE: &str = "session_security";
/// Names the relogin backup of a session that expired in this browser.
pub const BACKUP_COOKIE: &str = "session_security_backup";

fn build(
    name: &'static str,
    value: String,
    same_site: SameSite,
    config: &Config,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(same_site)
        .secure(config.cookie_secure)
        .build()
}

/// The session cookie: a browser-session cookie, so it also ends with the browser.
pub(crate) fn session(token: String, config: &Config) -> Header<'static> {
    header(build(SESSION_COOKIE, token, SameSite::Lax, config))
}

/// The backup cookie: Strict, so no other site can make the browser use it.
pub(crate) fn backup(id: String, config: &Config) -> Header<'static> {
    let mut cookie = build(BACKUP_COOKIE, id, SameSite::Strict, config);
    cookie.set_max_age(Duration::seconds(config.backup_ttl as i64));
    header(cookie)
}

/// A cookie that tells the browser to drop `name` at once.
pub(crate) fn removal(name: &'static str, config: &Config) -> Header<'static> {
    let same_site = if name == BACKUP_COOKIE {
        SameSite::Strict
    } else {
        SameSite::Lax
    };
    let mut cookie = build(name, String::new(), same_site, config);
    cookie.make_removal();
    header(cookie)
}

fn header(cookie: Cookie<'static>) -> Header<'static> {
    Header::new("Set-Cookie", cookie.to_string())
}
