//! The fairing: loads and judges the session before routing, persists and
//! sets cookies after the handler.

use std::sync::Arc;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Status;
use rocket::{Build, Data, Orbit, Request, Response, Rocket};

use crate::classify::is_html;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::fairing::background;
use crate::fairing::load::evaluate;
use crate::fairing::save::{persist, set_headers};
use crate::lifecycle::{Reports, SessionEvents};
use crate::paths::{self, BASE};
use crate::routes;
use crate::runtime::{ChooseLocale, Runtime, UserTimeouts};
use crate::secret;
use crate::session::cookies::{self};
use crate::session::state::{BrowserCookies, RequestSession};
use crate::session::SessionAdmin;
use crate::store::{SessionStore, Sessions, SqlStore, Store, StorePool, Tuning, UserSessionStore};

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
/// or configured with the `with_…` methods:
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
///     rocket::build().attach(SessionSecurity::fairing().with_user_timeouts(Managers))
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
    locale: Option<Arc<dyn ChooseLocale>>,
    store: Option<Arc<dyn Store>>,
    events: Option<Arc<dyn SessionEvents>>,
}

impl SessionSecurity {
    /// The fairing as configured in `Rocket.toml`, with the real clock and
    /// the `session_security` database; the `with_…` methods below change
    /// that.
    pub fn fairing() -> Self {
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
    pub fn with_store(mut self, store: impl SessionStore + UserSessionStore) -> Self {
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
    /// the user's profile (see [`ChooseLocale`]; a closure will do);
    /// returning `None` falls back to `Accept-Language`.
    pub fn with_locale(mut self, choose: impl ChooseLocale) -> Self {
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
                        let store: Arc<dyn Store> = Arc::new(sql);
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
        let runtime = Arc::new(Runtime {
            config,
            clock: self.clock.clone(),
            sessions: Arc::new(sessions),
            pool,
            instance,
            timeouts: self.timeouts.clone(),
            locale: self.locale.clone(),
        });
        Ok(rocket
            .manage(SessionAdmin::new(runtime.clone()))
            .manage(runtime)
            .manage(Arc::new(routes::OpenStreams::default()))
            .mount(BASE, routes::routes()))
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        warn_without_401_catcher(rocket);
        if let Some(runtime) = rocket.state::<Arc<Runtime>>() {
            background::start(runtime.clone(), rocket.shutdown());
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        if let Some(runtime) = rocket.state::<Arc<Runtime>>() {
            background::stop(runtime).await;
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let Some(runtime) = Self::runtime(request).cloned() else {
            return;
        };
        let now = runtime.clock.now();
        let sent = cookies::Sent::of(request.cookies(), &runtime.config);
        let state = match evaluate(&runtime, sent.session, now).await {
            Ok(state) => state,
            Err(e) => {
                // Not a logout: the request is answered 503 and the
                // browser's cookie is left alone.
                rocket::warn!("session security: {e}");
                request.local_cache(|| RequestSession::unavailable(runtime, now));
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
        request.local_cache(|| RequestSession::new(runtime, now, cookies, state));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let session = RequestSession::of(request);
        let Some(runtime) = session.runtime.as_ref() else {
            return;
        };
        if !session.unreadable() && !session.store_failed() {
            if let Err(e) = persist(runtime, request, session).await {
                rocket::warn!("session security: could not save the session: {e}");
            }
        }
        let refused = response.status() == Status::ServiceUnavailable;
        if session.store_failed() || (session.unreadable() && refused) {
            crate::fairing::outage::respond(request, response);
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
        set_headers(runtime, request, session, response);
        // Only a signed-in HTML page can get the dialogs; most responses
        // are neither, and parsing their media type is no small part of
        // the fairing's cost.
        let signed_in = session.lock().user_id().is_some();
        // The crate's own pages (the relogin result) run their own script.
        let own = request.uri().path().starts_with(BASE);
        if signed_in && !own && is_html(response) {
            crate::client::inject::dialogs(runtime, request, session, response).await;
        }
    }
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
