//! The cookies the crate sets, written as `Set-Cookie` headers in
//! `on_response`: the cookie jar's changes are already in the response by
//! then, and an error response keeps only what its catcher set.

use rocket::http::{Cookie, Header, SameSite};
use rocket::time::Duration;

use crate::config::Config;

/// What the response does to one of the crate's cookies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum CookieChange {
    /// Leave the browser's cookie as it is.
    #[default]
    Keep,
    /// Send this new value.
    Set(String),
    /// Tell the browser to drop it.
    Clear,
}

/// Holds the session token. Every cookie name here is the base name: with
/// `cookie_secure` (the default) the browser gets it with the `__Host-`
/// prefix, e.g. `__Host-session_security`.
pub const SESSION_COOKIE: &str = "session_security";
/// Names the relogin backup of a session that expired in this browser.
pub const BACKUP_COOKIE: &str = "session_security_backup";
/// Tells the browser's tabs who is signed in, without a request: the user
/// tag of the live session, [`SIGNED_OUT`] after an explicit sign-out, and
/// absent once a session ended otherwise. Readable by the script (it holds
/// nothing the page does not show already); the script polls it, so a
/// sign-out in one tab reaches every other tab within a second.
pub const USER_COOKIE: &str = "session_security_user";
/// Holds the CSRF token of a visitor who has no session row yet (a login
/// form): visitors cost no store write until they log in or keep data.
pub const CSRF_COOKIE: &str = "session_security_csrf";
/// The [`USER_COOKIE`] value after an explicit sign-out.
pub const SIGNED_OUT: &str = "signed-out";

/// The name a cookie goes by: with `cookie_secure`, the `__Host-` form,
/// which browsers accept only from this host, over HTTPS, for path `/`.
/// A sibling subdomain can then neither plant a session cookie of ours nor
/// have our removal answer delete the real one; a plain-named cookie it
/// plants is not even read.
pub(crate) fn named(base: &'static str, config: &Config) -> &'static str {
    match (config.cookie_secure, base) {
        (false, _) => base,
        (true, SESSION_COOKIE) => "__Host-session_security",
        (true, BACKUP_COOKIE) => "__Host-session_security_backup",
        (true, USER_COOKIE) => "__Host-session_security_user",
        (true, CSRF_COOKIE) => "__Host-session_security_csrf",
        (true, other) => other,
    }
}

/// The names of the crate's cookies as the browser really gets them: with
/// `cookie_secure` (the default) the base names above carry the `__Host-`
/// prefix. From [`Session::cookie_names`](crate::Session::cookie_names) or
/// [`SessionAdmin::cookie_names`](crate::SessionAdmin::cookie_names), so
/// that `cookies.get(names.session)` finds the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieNames {
    /// The session token's cookie ([`SESSION_COOKIE`]).
    pub session: &'static str,
    /// The relogin backup's cookie ([`BACKUP_COOKIE`]).
    pub backup: &'static str,
    /// The user tag's cookie ([`USER_COOKIE`]).
    pub user: &'static str,
    /// A visitor's CSRF cookie ([`CSRF_COOKIE`]).
    pub csrf: &'static str,
}

impl CookieNames {
    pub(crate) fn of(config: &Config) -> Self {
        CookieNames {
            session: named(SESSION_COOKIE, config),
            backup: named(BACKUP_COOKIE, config),
            user: named(USER_COOKIE, config),
            csrf: named(CSRF_COOKIE, config),
        }
    }
}

/// The crate's cookies a request carries, found in one pass over the jar
/// (each `CookieJar::get` hashes the name with SipHash).
#[derive(Default)]
pub(crate) struct Sent<'r> {
    pub session: Option<&'r str>,
    pub backup: Option<&'r str>,
    pub csrf: Option<&'r str>,
}

impl<'r> Sent<'r> {
    pub fn of(jar: &'r rocket::http::CookieJar<'_>, config: &Config) -> Self {
        let [session, backup, csrf] =
            [SESSION_COOKIE, BACKUP_COOKIE, CSRF_COOKIE].map(|base| named(base, config));
        let mut sent = Sent::default();
        for cookie in jar.iter() {
            let slot = match cookie.name() {
                name if name == session => &mut sent.session,
                name if name == backup => &mut sent.backup,
                name if name == csrf => &mut sent.csrf,
                _ => continue,
            };
            *slot = Some(cookie.value());
        }
        sent
    }
}

fn build(
    name: &'static str,
    value: String,
    same_site: SameSite,
    config: &Config,
) -> Cookie<'static> {
    Cookie::build((named(name, config), value))
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

/// The visitor's CSRF cookie: Strict, so no other site's form brings it.
pub(crate) fn csrf(token: String, config: &Config) -> Header<'static> {
    header(build(CSRF_COOKIE, token, SameSite::Strict, config))
}

/// The user cookie: script-readable, for the tabs of this browser.
pub(crate) fn user(value: String, config: &Config) -> Header<'static> {
    let mut cookie = build(USER_COOKIE, value, SameSite::Lax, config);
    cookie.set_http_only(false);
    header(cookie)
}

/// What a response does to the user cookie, given what the request brought
/// (`sent`), the live session's user tag, and whether the user signed out.
/// An anonymous request keeps [`SIGNED_OUT`], so the marker outlives the
/// login page the signing-out tab goes to.
pub(crate) fn user_change(sent: Option<&str>, tag: Option<&str>, signed_out: bool) -> CookieChange {
    let wanted = match (tag, signed_out) {
        (Some(tag), _) => Some(tag),
        (None, true) => Some(SIGNED_OUT),
        (None, false) if sent == Some(SIGNED_OUT) => return CookieChange::Keep,
        (None, false) => None,
    };
    match (sent, wanted) {
        (sent, Some(value)) if sent == Some(value) => CookieChange::Keep,
        (_, Some(value)) => CookieChange::Set(value.to_owned()),
        (Some(_), None) => CookieChange::Clear,
        (None, None) => CookieChange::Keep,
    }
}

/// A cookie that tells the browser to drop `name` at once.
pub(crate) fn removal(name: &'static str, config: &Config) -> Header<'static> {
    let same_site = if name == BACKUP_COOKIE || name == CSRF_COOKIE {
        SameSite::Strict
    } else {
        SameSite::Lax
    };
    let mut cookie = build(name, String::new(), same_site, config);
    cookie.set_http_only(name != USER_COOKIE);
    cookie.make_removal();
    header(cookie)
}

fn header(cookie: Cookie<'static>) -> Header<'static> {
    Header::new("Set-Cookie", cookie.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_cookie_follows_the_session() {
        let tag = || Some("t1");
        assert_eq!(
            user_change(None, tag(), false),
            CookieChange::Set("t1".into())
        );
        assert_eq!(user_change(Some("t1"), tag(), false), CookieChange::Keep);
        assert_eq!(
            user_change(Some("t0"), tag(), false),
            CookieChange::Set("t1".into())
        );
        assert_eq!(
            user_change(Some("t1"), None, true),
            CookieChange::Set(SIGNED_OUT.into())
        );
        // The login page after a sign-out keeps the marker for the other tabs.
        assert_eq!(
            user_change(Some(SIGNED_OUT), None, false),
            CookieChange::Keep
        );
        // A session that ended otherwise (expiry) leaves no tag behind.
        assert_eq!(user_change(Some("t1"), None, false), CookieChange::Clear);
        assert_eq!(user_change(None, None, false), CookieChange::Keep);
    }
}
