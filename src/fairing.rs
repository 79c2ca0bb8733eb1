//! The fairing: loads and judges the session before routing, persists and
//! sets cookies after the handler.

use std::sync::Arc;

use rocket::fairing::{AdHoc, Fairing, Info, Kind};
use rocket::http::Method;
use rocket::{Build, Data, Orbit, Request, Response, Rocket};
use rocket_db_pools::Database;
use serde_json::Map;

use crate::activity::{merge_idle_for, parse_idle_for, Times};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::cookie::{self, BACKUP_COOKIE, SESSION_COOKIE};
use crate::error::Error;
use crate::routes::{self, BASE, PING_PATH};
use crate::runtime::{LocaleHook, Runtime, UserTimeouts};
use crate::store::{BackupRecord, SessionDb, SessionRecord, SessionStore, SqlStore};
use crate::token;
use crate::verdict::{State, Verdict};

/// Seconds WCAG 2.2.1 gives a user to extend a time limit.
const WCAG_LEAD: u64 = 20;

/// The session-security fairing. Attach it once:
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
/// It reads the `session_security` configuration, attaches the
/// `session_security` database, mounts its routes under `/session_security`
/// and purges expired rows in the background.
pub struct SessionSecurity {
    clock: Arc<dyn Clock>,
    timeouts: Option<Arc<dyn UserTimeouts>>,
    locale: Option<LocaleHook>,
}

impl SessionSecurity {
    /// The fairing with the real clock and the configured timeouts.
    pub fn fairing() -> Self {
        SessionSecurity {
            clock: Arc::new(SystemClock),
            timeouts: None,
            locale: None,
        }
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

    fn runtime<'r>(request: &'r Request<'_>) -> Option<&'r Arc<Runtime>> {
        request.rocket().state::<Arc<Runtime>>()
    }
}

#[rocket::async_trait]
impl Fairing for SessionSecurity {
    fn info(&self) -> Info {
        Info {
            name: "Session Security",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Request | Kind::Response,
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
        let clock = self.clock.clone();
        let timeouts = self.timeouts.clone();
        let locale = self.locale.clone();
        let connect = AdHoc::try_on_ignite("Session Security store", move |rocket| async move {
            let Some(db) = SessionDb::fetch(&rocket) else {
                return Err(rocket);
            };
            let store = SqlStore::new((**db).clone());
            if let Err(e) = store.migrate().await {
                rocket::error!("session store schema could not be created: {e}");
                return Err(rocket);
            }
            let store: Arc<dyn SessionStore> = Arc::new(store);
            Ok(rocket.manage(Arc::new(Runtime {
                config,
                clock,
                store,
                timeouts,
                locale,
            })))
        });
        Ok(rocket
            .attach(SessionDb::init())
            .attach(connect)
            .mount(BASE, routes::routes()))
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        if let Some(runtime) = rocket.state::<Arc<Runtime>>() {
            tokio_purge(runtime.clone(), rocket.shutdown());
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let Some(runtime) = Self::runtime(request).cloned() else {
            return;
        };
        let now = runtime.clock.now();
        let state = match evaluate(&runtime, request, now).await {
            Ok(state) => state,
            Err(e) => {
                // Fail closed: a store error means no session for this request.
                rocket::error!("session security: {e}");
                State::default()
            }
        };
        let locale = match state.user_id() {
            Some(_) => runtime.locale_for(request),
            None => crate::i18n::DEFAULT_LOCALE.to_owned(),
        };
        let backup_id = request
            .cookies()
            .get(BACKUP_COOKIE)
            .map(|c| c.value().to_owned());
        request.local_cache(|| Verdict::new(runtime, now, locale, backup_id, state));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let verdict = Verdict::of(request);
        let Some(runtime) = verdict.runtime.as_ref() else {
            return;
        };
        if let Err(e) = persist(runtime, request, verdict).await {
            rocket::error!("session security: could not save the session: {e}");
        }
        let config = &runtime.config;
        let state = verdict.lock();
        if let Some(token) = &state.set_token {
            response.adjoin_header(cookie::session(token.clone(), config));
        } else if state.clear_token {
            response.adjoin_header(cookie::removal(SESSION_COOKIE, config));
        }
        if let Some(id) = &state.backup_token {
            response.adjoin_header(cookie::backup(id.clone(), config));
        } else if state.clear_backup {
            response.adjoin_header(cookie::removal(BACKUP_COOKIE, config));
        }
        if is_login_page(config, request.uri().path().as_str()) {
            // The relogin dialog frames the login page: our origin only.
            response.set_raw_header("X-Frame-Options", "SAMEORIGIN");
            if !response.headers().contains("Content-Security-Policy") {
                response.set_raw_header("Content-Security-Policy", "frame-ancestors 'self'");
            }
        }
        let authenticated = verdict.was_authenticated || state.user_id().is_some();
        if authenticated && !request.uri().path().starts_with(routes::ASSETS_PATH) {
            response.set_raw_header("Cache-Control", "no-store");
        }
    }
}

/// Loads the session and applies the rules in order: expiry first, then the
/// ping's `idleFor`. Ordinary activity is recorded after routing, in
/// `persist`, where the route (and so its name) is known.
async fn evaluate(runtime: &Runtime, request: &Request<'_>, now: i64) -> Result<State, Error> {
    let mut state = State::default();
    if request.uri().path() == PING_PATH && request.method() == Method::Get {
        state.idle_for = request.query_value::<&str>("idleFor").map(|raw| {
            let raw = raw.unwrap_or_default();
            parse_idle_for(raw)
        });
    }
    let token = request
        .cookies()
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned());
    let Some(token) = token.filter(|t| token::well_formed(t)) else {
        return Ok(state);
    };
    let Some(mut record) = runtime.store.load(&token::hash(&token)).await? else {
        state.clear_token = true;
        return Ok(state);
    };
    let data = serde_json::from_str(&record.data).unwrap_or_else(|_| Map::new());
    state.record = Some(record.clone());
    state.data = data;
    let Some(times) = state.times() else {
        return Ok(state);
    };

    if times.is_expired(now, runtime.config.absolute_after) {
        return expire(runtime, state, times, now).await;
    }
    if let Some(Ok(idle_for)) = state.idle_for {
        let merged = merge_idle_for(record.last_activity, now, idle_for);
        if merged > record.last_activity {
            runtime.store.touch(&record.token_hash, merged).await?;
            record.last_activity = merged;
            state.record = Some(record);
        }
    }
    Ok(state)
}

/// Logs an expired session out, backing its data up for a relogin.
async fn expire(runtime: &Runtime, state: State, times: Times, now: i64) -> Result<State, Error> {
    let Some(record) = state.record else {
        return Ok(State::default());
    };
    if !runtime.store.delete(&record.token_hash).await? {
        // A concurrent request ended this session first and answers for it;
        // leave the cookies to that request.
        return Ok(State {
            expired: true,
            ..State::default()
        });
    }
    let mut expired = State {
        clear_token: true,
        expired: true,
        ..State::default()
    };
    if let (true, Some(user_id)) = (runtime.config.relogin, record.user_id) {
        let config = &runtime.config;
        // The backup's time runs from the session's end, not from the next request.
        let ended = times.ended_at(config.absolute_after).min(now);
        let id = token::random_secret();
        let backup = BackupRecord {
            id_hash: token::hash(&id),
            user_id,
            data: serde_json::to_string(&state.data)?,
            expires_at: ended + config.backup_ttl as i64,
        };
        runtime.store.insert_backup(&backup).await?;
        expired.backup_token = Some(id);
        // Every tab's relogin frame then shares one anonymous session, and
        // so one CSRF token for the login form.
        expired.start_anonymous(now, config.expire_after);
    }
    Ok(expired)
}

/// Saves what the handler changed and records activity unless passive.
async fn persist(runtime: &Runtime, request: &Request<'_>, verdict: &Verdict) -> Result<(), Error> {
    let (insert, save, touch) = {
        let mut state = verdict.lock();
        let Some(record) = state.record.as_ref() else {
            return Ok(());
        };
        let hash = record.token_hash.clone();
        // Serialise the data only when it has to be written.
        let data = match state.pending_insert || state.data_dirty {
            true => Some(serde_json::to_string(&state.data)?),
            false => None,
        };
        let idle_long_enough =
            verdict.now - record.last_activity >= runtime.config.activity_write_grace as i64;
        // Anonymous sessions too, so a login form left open keeps its CSRF token.
        let touch = !state.pending_insert
            && !state.csrf_refused
            && (idle_long_enough || state.force_touch)
            && !is_passive(&runtime.config, request);
        let (insert, save) = match (state.pending_insert, data) {
            (true, Some(data)) => (
                Some(SessionRecord {
                    data,
                    ..record.clone()
                }),
                None,
            ),
            (false, Some(data)) => (None, Some((hash.clone(), data))),
            (_, None) => (None, None),
        };
        state.pending_insert = false;
        state.data_dirty = false;
        (insert, save, touch.then_some(hash))
    };
    if let Some(record) = insert {
        runtime.store.insert(&record).await?;
    }
    if let Some((hash, data)) = save {
        runtime.store.save_data(&hash, &data).await?;
    }
    if let Some(hash) = touch {
        runtime.store.touch(&hash, verdict.now).await?;
    }
    Ok(())
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

/// Passive requests never count as activity: configured paths and route
/// names, and the crate's own routes except `keepalive`.
fn is_passive(config: &Config, request: &Request<'_>) -> bool {
    let path = request.uri().path();
    let own = path.starts_with(BASE) && path != routes::KEEPALIVE_PATH;
    let route_name = request.route().and_then(|r| r.name.as_deref());
    own || config.passive_paths.iter().any(|p| p == path.as_str())
        || route_name.is_some_and(|name| config.passive_routes.iter().any(|n| n == name))
}

/// Deletes expired sessions and backups every so often until shutdown.
fn tokio_purge(runtime: Arc<Runtime>, shutdown: rocket::Shutdown) {
    let every = std::time::Duration::from_secs((runtime.config.expire_after / 2).clamp(1, 60));
    // An expired session must outlive its end until the browser's next
    // request, which backs it up for the relogin.
    let config = &runtime.config;
    let retain = if config.relogin { config.backup_ttl } else { 0 };
    rocket::tokio::spawn(async move {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            rocket::tokio::select! {
                _ = &mut shutdown => break,
                _ = rocket::tokio::time::sleep(every) => {}
            }
            let now = runtime.clock.now();
            if let Err(e) = runtime
                .store
                .purge(now, runtime.config.absolute_after, retain)
                .await
            {
                rocket::warn!("session security: purge failed: {e}");
            }
        }
    });
}
