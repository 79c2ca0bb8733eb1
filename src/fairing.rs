//! The fairing: loads and judges the session before routing, persists and
//! sets cookies after the handler.

use std::borrow::Cow;
use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{HeaderMap, Status};
use rocket::{Build, Data, Orbit, Request, Response, Rocket};

use crate::audit::{Reports, SessionEnd, SessionEvents};
use crate::background;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::cookie::{self, CookieChange, BACKUP_COOKIE, CSRF_COOKIE, SESSION_COOKIE, USER_COOKIE};
use crate::error::Error;
use crate::paths::{self, BASE};
use crate::relogin;
use crate::request::{BrowserCookies, RequestSession, SessionState};
use crate::routes;
use crate::secret;
use crate::shared::{LocaleHook, Shared, UserTimeouts};
use crate::store::{Caller, SessionStore, Sessions, SqlStore, StorePool, StoreStats, Tuning};
use crate::user_sessions::{self, SessionInfo};

/// Seconds WCAG 2.2.1 gives a user to extend a time limit.
const WCAG_LEAD: u64 = 20;

/// The session-security fairing. Attach it once, as it is:
///
/// ```no_run
/// # use rocket::launch;
/// use rocket_session_security::SessionSecurity;
///
/// #[launch]
/// fn rocket() -> _ {
///     rocket::build().attach(SessionSecurity::fairing())
/// }
/// ```
///
/// or configured, starting from [`SessionSecurity::new`]:
///
/// ```no_run
/// # use rocket::launch;
/// # use rocket_session_security::UserTimeouts;
/// # struct Managers;
/// # #[rocket::async_trait]
/// # impl UserTimeouts for Managers {
/// #     async fn expire_after(&self, _: &rocket::Rocket<rocket::Orbit>, _: &str) -> Option<u64> { None }
/// # }
/// use rocket_session_security::SessionSecurity;
///
/// #[launch]
/// fn rocket() -> _ {
///     rocket::build().attach(SessionSecurity::new().with_user_timeouts(Managers))
/// }
/// ```
///
/// It reads the `session_security` configuration, connects the
/// `session_security` database, mounts its routes under `/session_security`,
/// flushes coalesced activity and purges expired rows in the background,
/// and with PostgreSQL keeps the instances' caches coherent.
pub struct SessionSecurity {
    clock: Arc<dyn Clock>,
    timeouts: Option<Arc<dyn UserTimeouts>>,
    locale: Option<LocaleHook>,
    store: Option<Arc<dyn SessionStore>>,
    events: Option<Arc<dyn SessionEvents>>,
}

impl Default for SessionSecurity {
    fn default() -> Self {
        SessionSecurity::new()
    }
}

impl SessionSecurity {
    /// The fairing as configured in `Rocket.toml`, with the real clock and
    /// the `session_security` database.
    pub fn fairing() -> impl Fairing {
        SessionSecurity::new()
    }

    /// The fairing to configure with the `with_…` methods below; it is a
    /// fairing itself.
    pub fn new() -> Self {
        SessionSecurity {
            clock: Arc::new(SystemClock),
            timeouts: None,
            locale: None,
            store: None,
            events: None,
        }
    }

    /// Reports every session start and end to `events` (see
    /// [`SessionEvents`]), besides the audit log line and the metrics.
    pub fn with_events(mut self, events: impl SessionEvents) -> Self {
        self.events = Some(Arc::new(events));
        self
    }

    /// Keeps sessions in `store` instead of the `session_security`
    /// database. Its tables are created at launch through
    /// [`SessionStore::migrate`]. The in-memory cache and the activity
    /// flush work as usual; the instances' caches are kept coherent only
    /// for the built-in PostgreSQL store, so a custom store shared by
    /// several instances wants `cache_capacity = 0`.
    pub fn with_store(mut self, store: impl SessionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Uses `clock` instead of the wall clock, so tests can move time.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Decides each user's idle limit at login (see [`UserTimeouts`]).
    pub fn with_user_timeouts(mut self, timeouts: impl UserTimeouts) -> Self {
        self.timeouts = Some(Arc::new(timeouts));
        self
    }

    /// Chooses the locale of the browser's strings per request, e.g. from
    /// the user's profile; returning `None` falls back to `Accept-Language`.
    pub fn with_locale<F>(mut self, choose: F) -> Self
    where
        F: Fn(&Request<'_>) -> Option<String> + Send + Sync + 'static,
    {
        self.locale = Some(Arc::new(choose));
        self
    }

    fn shared<'r>(request: &'r Request<'_>) -> Option<&'r Arc<Shared>> {
        request.rocket().state::<Arc<Shared>>()
    }

    /// Ends every session of `user_id`, from outside a request: after a
    /// password change, or from an administrator's tool (`by` names who
    /// acted, for the audit). Returns how many ended. Their open tabs
    /// leave the page within seconds.
    pub async fn revoke_user(
        rocket: &Rocket<Orbit>,
        user_id: &str,
        by: Option<&str>,
    ) -> Result<usize, Error> {
        let shared = Self::shared_state(rocket).ok_or(Error::NotAttached)?;
        user_sessions::revoke_user(shared, user_id, by).await
    }

    /// The live sessions of `user_id`, from outside a request (an
    /// administrator's view); none is `current`.
    pub async fn sessions_of(
        rocket: &Rocket<Orbit>,
        user_id: &str,
    ) -> Result<Vec<SessionInfo>, Error> {
        let shared = Self::shared_state(rocket).ok_or(Error::NotAttached)?;
        user_sessions::sessions_of(shared, user_id).await
    }

    /// The managed state, when the fairing is attached.
    pub(crate) fn shared_state(rocket: &Rocket<Orbit>) -> Option<&Arc<Shared>> {
        rocket.state::<Arc<Shared>>()
    }

    /// What the read path did since launch: store round trips, cache hits
    /// and misses, notifications sent. `None` without the fairing.
    pub fn stats(rocket: &Rocket<Orbit>) -> Option<StoreStats> {
        let shared = rocket.state::<Arc<Shared>>()?;
        Some(shared.sessions.stats())
    }

    /// How many sessions this instance holds in memory.
    pub fn cached_sessions(rocket: &Rocket<Orbit>) -> Option<usize> {
        Some(rocket.state::<Arc<Shared>>()?.sessions.len())
    }
}

#[rocket::async_trait]
impl Fairing for SessionSecurity {
    fn info(&self) -> Info {
        Info {
            name: "Session Security",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Request | Kind::Response | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        let config = match Config::from_figment(rocket.figment()) {
            Ok(config) => config,
            Err(e) => {
                rocket::error!("{e}");
                return Err(rocket);
            }
        };
        if config.warning_lead() < WCAG_LEAD {
            rocket::warn!(
                "session_security: the warning comes {} s before expiry; WCAG 2.2.1 asks for \
                 at least {WCAG_LEAD} s (expire_after - warn_after)",
                config.warning_lead()
            );
        }
        let (store, pool, instance) = match &self.store {
            Some(store) => (store.clone(), None, None),
            None => {
                let workers: usize = rocket
                    .figment()
                    .extract_inner(rocket::Config::WORKERS)
                    .unwrap_or_else(|_| rocket::Config::default().workers);
                match StorePool::from_figment(rocket.figment(), workers).await {
                    Ok(pool) => {
                        let sql = SqlStore::new(pool.clone());
                        let instance = sql.instance_id();
                        let store: Arc<dyn SessionStore> = Arc::new(sql);
                        (store, Some(pool), Some(instance))
                    }
                    Err(e) => {
                        rocket::error!(
                            "session store `databases.session_security` could not be opened: {e}"
                        );
                        return Err(rocket);
                    }
                }
            }
        };
        if let Err(e) = store.migrate().await {
            rocket::error!("session store schema could not be created: {e}");
            return Err(rocket);
        }
        let tag_key = match store.tag_key(&crate::secret::random_secret()).await {
            Ok(key) => key,
            Err(e) => {
                rocket::error!("session store: the user tag key could not be read: {e}");
                return Err(rocket);
            }
        };
        let tuning = Tuning {
            capacity: config.cache_capacity,
            grace: config.activity_write_grace,
            timeout: config.store_timeout,
            max_age: config.cache_max_age,
        };
        let reports = Reports::new(tag_key, self.events.clone());
        let sessions = Sessions::new(store, self.clock.clone(), tuning, reports);
        let shared = Shared {
            config,
            clock: self.clock.clone(),
            sessions: Arc::new(sessions),
            pool,
            instance,
            timeouts: self.timeouts.clone(),
            locale: self.locale.clone(),
        };
        Ok(rocket
            .manage(Arc::new(shared))
            .manage(Arc::new(routes::OpenStreams::default()))
            .mount(BASE, routes::routes()))
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        warn_without_401_catcher(rocket);
        if let Some(shared) = rocket.state::<Arc<Shared>>() {
            background::start(shared.clone(), rocket.shutdown());
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        if let Some(shared) = rocket.state::<Arc<Shared>>() {
            background::stop(shared).await;
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let Some(shared) = Self::shared(request).cloned() else {
            return;
        };
        let now = shared.clock.now();
        let sent = cookie::Sent::of(request.cookies(), &shared.config);
        let state = match evaluate(&shared, sent.session, now).await {
            Ok(state) => state,
            Err(e) => {
                // Not a logout: the request is answered 503 and the
                // browser's cookie is left alone.
                rocket::warn!("session security: {e}");
                request.local_cache(|| RequestSession::unavailable(shared, now));
                return;
            }
        };
        let cookies = BrowserCookies {
            backup_id: sent.backup.map(str::to_owned),
            visitor_csrf: sent
                .csrf
                .filter(|t| secret::well_formed(t))
                .map(str::to_owned),
        };
        request.local_cache(|| RequestSession::new(shared, now, cookies, state));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let session = RequestSession::of(request);
        let Some(shared) = session.shared.as_ref() else {
            return;
        };
        if !session.unreadable() && !session.store_failed() {
            if let Err(e) = persist(shared, request, session).await {
                rocket::warn!("session security: could not save the session: {e}");
            }
        }
        let refused = response.status() == Status::ServiceUnavailable;
        if session.store_failed() || (session.unreadable() && refused) {
            crate::unavailable::respond(request, response);
            return;
        }
        if session.unreadable() {
            // Served without the session (the route did not need it).
            return;
        }
        if request.uri().path().starts_with(paths::ASSETS_PATH) {
            // Cacheable for a year: no cookie may ride along.
            return;
        }
        set_headers(shared, request, session, response);
        // Only a signed-in HTML page can get the dialogs; most responses
        // are neither, and parsing their media type is no small part of
        // the fairing's cost.
        let signed_in = session.lock().user_id().is_some();
        let own = request.uri().path().starts_with(BASE);
        if signed_in && !own && is_html(response) {
            crate::inject::dialogs(shared, request, session, response).await;
        }
    }
}

/// Loads the session and ends it first if it expired. The ping's `idleFor`
/// is merged by the ping route, after this; ordinary activity is recorded
/// after routing, in `persist`, where the route (and so its name) is known.
async fn evaluate(shared: &Shared, token: Option<&str>, now: i64) -> Result<SessionState, Error> {
    let Some(token) = token.filter(|t| secret::well_formed(t)) else {
        return Ok(SessionState::default());
    };
    let sessions = &shared.sessions;
    let hash = sessions.token_hash(token);
    let Some(mut record) = sessions.load(&hash).await? else {
        return Ok(SessionState::unknown_cookie());
    };
    let idle_out = record.last_activity + record.expire_after <= now;
    let aged_out = record.authenticated_at.is_some_and(|at| {
        let absolute = shared.config.absolute_after as i64;
        absolute > 0 && at + absolute <= now
    });
    if idle_out || aged_out {
        // Memory may say "alive", only the store may say "dead": another
        // instance may have seen activity, or ended the session, since
        // this copy was read.
        match sessions.reload(&hash).await? {
            Some(fresh) => record = fresh,
            None => return Ok(SessionState::unknown_cookie()),
        }
    }
    if record.is_revoked() {
        // Ended on purpose elsewhere: nothing to back up, and this
        // browser's tabs leave the page (the user cookie says signed out).
        // The tombstone's end was reported at the revocation.
        let by = SessionEnd::Revoked { by: None };
        sessions.end(Caller::Background, &hash, by).await?;
        return Ok(SessionState::revoked());
    }
    if record.user_id.is_none() && record.last_activity + record.expire_after <= now {
        // An anonymous session ends like any other: nothing to report or
        // back up, and the browser's cookie goes.
        sessions
            .end(Caller::Background, &hash, SessionEnd::Idle)
            .await?;
        return Ok(SessionState::ended_here());
    }
    let state = SessionState::loaded(record);
    match state.expiry() {
        Some(expiry) if expiry.is_expired(now, shared.config.absolute_after) => {
            relogin::expire(shared, state, expiry, now).await
        }
        _ => Ok(state),
    }
}

/// The cookies, framing and caching headers of a response.
fn set_headers(
    shared: &Shared,
    request: &Request<'_>,
    session: &RequestSession,
    response: &mut Response<'_>,
) {
    let state = session.lock();
    write_cookies(shared, request, session, &state, response);
    if is_login_page(&shared.config, request.uri().path().as_str()) {
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
    shared: &Shared,
    request: &Request<'_>,
    session: &RequestSession,
    state: &SessionState,
    response: &mut Response<'_>,
) {
    let config = &shared.config;
    match state.csrf_cookie() {
        // A stored session holds the token itself.
        CookieChange::Set(token) if state.record().is_none() => {
            response.adjoin_header(cookie::csrf(token.clone(), config))
        }
        // Logged in: the visitor's token is void.
        _ if state.user_id().is_some() && session.visitor_csrf.is_some() => {
            response.adjoin_header(cookie::removal(CSRF_COOKIE, config))
        }
        _ => {}
    }
    match state.session_cookie() {
        CookieChange::Set(token) => response.adjoin_header(cookie::session(token.clone(), config)),
        CookieChange::Clear => response.adjoin_header(cookie::removal(SESSION_COOKIE, config)),
        CookieChange::Keep => {}
    }
    match state.backup_cookie() {
        CookieChange::Set(id) => response.adjoin_header(cookie::backup(id.clone(), config)),
        CookieChange::Clear => response.adjoin_header(cookie::removal(BACKUP_COOKIE, config)),
        CookieChange::Keep => {}
    }
    let tag = state
        .user_id()
        .map(|id| shared.sessions.reports().user_tag(id));
    let sent = request.cookies().get(cookie::named(USER_COOKIE, config));
    match cookie::user_change(sent.map(|c| c.value()), tag.as_deref(), state.signed_out()) {
        CookieChange::Set(value) => response.adjoin_header(cookie::user(value, config)),
        CookieChange::Clear => response.adjoin_header(cookie::removal(USER_COOKIE, config)),
        CookieChange::Keep => {}
    }
}

/// Saves what the handler changed and records activity unless passive.
async fn persist(
    shared: &Shared,
    request: &Request<'_>,
    session: &RequestSession,
) -> Result<(), Error> {
    let writes = session.lock().take_writes()?;
    let sessions = &shared.sessions;
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
        false if is_passive(&shared.config, request) => writes.stamp,
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

/// Rocket refuses two catchers for one code and base, so the crate cannot
/// register its own 401 catcher without clashing with an application's:
/// it asks for one instead when nothing at `/` answers a 401.
fn warn_without_401_catcher(rocket: &Rocket<Orbit>) {
    let covered = rocket
        .catchers()
        .any(|c| c.base.path() == "/" && matches!(c.code, Some(401) | None));
    if !covered {
        rocket::warn!(
            "session_security: no 401 catcher at `/`: requests without a session get Rocket's \
             default 401 page instead of a login redirect (browsers) or the JSON \
             `session_expired` answer (scripts); add `.register(\"/\", catchers())`"
        );
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

/// A request another site's page made that is not a navigation: a script
/// or an image of a sibling subdomain (whose requests carry `SameSite=Lax`
/// cookies) must not keep a session alive. Browsers without Fetch
/// Metadata send neither header, and count as before.
fn is_cross_origin(request: &Request<'_>) -> bool {
    let headers = request.headers();
    let site = header(headers, "Sec-Fetch-Site");
    if matches!(site, None | Some("same-origin") | Some("none")) {
        return false;
    }
    header(headers, "Sec-Fetch-Mode") != Some("navigate")
}

/// The first value of the header `name`. Rocket's `get_one` hashes the
/// name with SipHash a byte at a time (some 800 instructions); a scan of
/// a request's or response's few headers costs a fraction of that, and
/// the fairing reads headers on every request.
fn header<'h>(headers: &'h HeaderMap<'_>, name: &str) -> Option<&'h str> {
    let found = headers.iter().find(|h| h.name == name)?;
    match found.value {
        Cow::Borrowed(value) => Some(value),
        Cow::Owned(_) => headers.get_one(name),
    }
}

/// Whether the response says it is HTML, without parsing its media type.
fn is_html(response: &Response<'_>) -> bool {
    let content_type = header(response.headers(), "Content-Type");
    content_type.is_some_and(|t| {
        t.trim_start()
            .get(..9)
            .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
    })
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
