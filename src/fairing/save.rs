//! After the handler: what it changed goes to the store and to the
//! browser. The request counts as activity unless it is passive or came
//! from another site; the crate's cookies leave as the session now is; the
//! login page may be framed by its own origin only; anything personal is
//! `no-store`.

use rocket::{Request, Response};

use crate::classify::is_cross_origin;
use crate::config::Config;
use crate::error::Error;
use crate::paths::BASE;
use crate::runtime::Runtime;
use crate::session::cookies::{
    self, CookieChange, BACKUP_COOKIE, CSRF_COOKIE, SESSION_COOKIE, USER_COOKIE,
};
use crate::session::state::{RequestSession, SessionState};

/// Saves what the handler changed and records activity unless passive.
pub(super) async fn persist(
    runtime: &Runtime,
    request: &Request<'_>,
    session: &RequestSession,
) -> Result<(), Error> {
    let writes = session.lock().take_writes()?;
    let sessions = &runtime.sessions;
    if let Some(record) = &writes.insert {
        sessions.insert(session.caller(), record).await?;
    }
    if let Some((hash, data)) = &writes.save {
        sessions.save_data(session.caller(), hash, data).await?;
    }
    let Some(hash) = writes.token_hash else {
        return Ok(());
    };
    let stamp = match writes.activity_refused {
        true => None,
        false if is_passive(&runtime.config, request) => writes.stamp,
        false => Some(session.now),
    };
    // Checked last: reading headers is a large part of the fairing's cost.
    let stamp = stamp.filter(|_| !is_cross_origin(request));
    if let Some(at) = stamp {
        // Activity that cannot be written yet is kept for the next flush;
        // it is no reason to refuse the request.
        if let Err(e) = sessions.touch(&hash, at).await {
            rocket::warn!("session security: activity not recorded yet: {e}");
        }
    }
    Ok(())
}

/// Passive requests never count as activity: configured paths and route
/// names, and the crate's own routes (the keepalive records its own
/// activity, once it knows the page's user).
fn is_passive(config: &Config, request: &Request<'_>) -> bool {
    let path = request.uri().path();
    let own = path.starts_with(BASE);
    let route_name = request.route().and_then(|r| r.name.as_deref());
    own || config.passive_paths.iter().any(|p| p == path.as_str())
        || route_name.is_some_and(|name| config.passive_routes.iter().any(|n| n == name))
}

/// The cookies, framing and caching headers of a response.
pub(super) fn set_headers(
    runtime: &Runtime,
    request: &Request<'_>,
    session: &RequestSession,
    response: &mut Response<'_>,
) {
    let state = session.lock();
    write_cookies(runtime, request, session, &state, response);
    if is_login_page(&runtime.config, request.uri().path().as_str()) {
        // The relogin dialog frames the login page: our origin only.
        response.set_raw_header("X-Frame-Options", "SAMEORIGIN");
        if !response.headers().contains("Content-Security-Policy") {
            response.set_raw_header("Content-Security-Policy", "frame-ancestors 'self'");
        }
    }
    // Nothing personal may be kept by a cache: a signed-in page, a
    // response that sets a cookie, a form that holds a CSRF token.
    let authenticated = session.was_authenticated || state.user_id().is_some();
    if authenticated || state.csrf_issued() || response.headers().contains("Set-Cookie") {
        response.set_raw_header("Cache-Control", "no-store");
    }
}

/// The crate's cookies as this response leaves them.
fn write_cookies(
    runtime: &Runtime,
    request: &Request<'_>,
    session: &RequestSession,
    state: &SessionState,
    response: &mut Response<'_>,
) {
    let config = &runtime.config;
    match state.csrf_cookie() {
        // A stored session holds the token itself.
        CookieChange::Set(token) if state.record().is_none() => {
            response.adjoin_header(cookies::csrf(token.clone(), config))
        }
        // Logged in: the visitor's token is void.
        _ if state.user_id().is_some() && session.visitor_csrf.is_some() => {
            response.adjoin_header(cookies::removal(CSRF_COOKIE, config))
        }
        _ => {}
    }
    match state.session_cookie() {
        CookieChange::Set(token) => response.adjoin_header(cookies::session(token.clone(), config)),
        CookieChange::Clear => response.adjoin_header(cookies::removal(SESSION_COOKIE, config)),
        CookieChange::Keep => {}
    }
    match state.backup_cookie() {
        CookieChange::Set(id) => response.adjoin_header(cookies::backup(id.clone(), config)),
        CookieChange::Clear => response.adjoin_header(cookies::removal(BACKUP_COOKIE, config)),
        CookieChange::Keep => {}
    }
    let tag = state
        .user_id()
        .map(|id| runtime.sessions.reports().user_tag(id));
    let sent = request.cookies().get(cookies::named(USER_COOKIE, config));
    match cookies::user_change(sent.map(|c| c.value()), tag.as_deref(), state.signed_out()) {
        CookieChange::Set(value) => response.adjoin_header(cookies::user(value, config)),
        CookieChange::Clear => response.adjoin_header(cookies::removal(USER_COOKIE, config)),
        CookieChange::Keep => {}
    }
}

/// The login pages: `login_url`, `relogin_url` and anything below them
/// (`/login/1`, `/login/true`).
fn is_login_page(config: &Config, path: &str) -> bool {
    [&config.login_url, &config.relogin_url]
        .into_iter()
        .any(|url| {
            let page = url.split('?').next().unwrap_or_default();
            path == page
                || path
                    .strip_prefix(page)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}
