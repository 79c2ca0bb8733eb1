//! The application the browser tests drive: a login form, a page with a
//! long form, and counters the tests read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rocket::fairing::AdHoc;
use rocket::form::FromForm;
use rocket::http::Header;
use rocket::response::Redirect;
use rocket::{get, post, routes, Request, State};
use rocket_dyn_templates::{context, Template};
use rocket_session_security::{
    after_login, catchers, register_templates, Authenticated, CsrfForm, Session, SessionSecurity,
};
use test_support::browser::Browser;

/// Timings and switches for one served application.
#[derive(Clone, Debug)]
pub struct Settings {
    pub warn_after: u64,
    pub expire_after: u64,
    pub relogin: bool,
    /// Where the browser goes on expiry when relogin is off.
    pub logout_url: Option<&'static str>,
    /// The locale the application hook picks, instead of Accept-Language.
    pub locale: Option<&'static str>,
    /// The session store's URL (`databases.session_security.url`), e.g. a
    /// `pg_server::PgServer` a test stops; `None`: a fresh SQLite file.
    pub store_url: Option<String>,
    /// The port to serve on; 0: a free one. A restarted application takes
    /// the port (and `store_url`) of the one it replaces.
    pub port: u16,
    /// Whether the crate's event stream is reachable; `false`: blocked
    /// (404), as by a proxy that refuses streams, which leaves the pings
    /// alone to tell.
    pub push: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            warn_after: 4,
            expire_after: 8,
            relogin: true,
            logout_url: None,
            locale: None,
            store_url: None,
            port: 0,
            push: true,
        }
    }
}

impl Settings {
    /// The defaults, but for a warning after `warn_after` seconds idle and
    /// the expiry after `expire_after`.
    pub fn timed(warn_after: u64, expire_after: u64) -> Settings {
        Settings {
            warn_after,
            expire_after,
            ..Settings::default()
        }
    }
}

/// What the tests observe on the server side.
#[derive(Default)]
pub struct Counters {
    pub pings: AtomicUsize,
    pub saves: Mutex<Vec<String>>,
    pub csp_reports: AtomicUsize,
    /// Requests for the crate's event stream.
    pub streams: AtomicUsize,
    /// Requests for `POST /save`, answered or refused.
    pub save_requests: AtomicUsize,
}

/// A running application.
pub struct Served {
    pub port: u16,
    pub counters: Arc<Counters>,
    shutdown: rocket::Shutdown,
    launched: Option<rocket::tokio::task::JoinHandle<()>>,
}

impl Served {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pings(&self) -> usize {
        self.counters.pings.load(Ordering::SeqCst)
    }

    pub fn saves(&self) -> Vec<String> {
        self.counters.saves.lock().expect("saves").clone()
    }

    /// How many times `POST /save` was asked for, whatever the answer.
    pub fn save_requests(&self) -> usize {
        self.counters.save_requests.load(Ordering::SeqCst)
    }

    /// How many Content-Security-Policy violations the pages reported.
    pub fn csp_reports(&self) -> usize {
        self.counters.csp_reports.load(Ordering::SeqCst)
    }

    /// How many times the event stream was asked for.
    pub fn streams(&self) -> usize {
        self.counters.streams.load(Ordering::SeqCst)
    }

    /// Shuts the application down and waits until it has let go of its
    /// port, as a server being restarted would.
    pub async fn stop(mut self) {
        self.shutdown.clone().notify();
        if let Some(launched) = self.launched.take() {
            let _ = launched.await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.clone().notify();
    }
}

#[derive(FromForm)]
struct Login {
    username: String,
    password: String,
    next: Option<String>,
}

#[get("/login")]
fn login_page(session: Session<'_>) -> Template {
    Template::render(
        "login",
        context! { csrf_token: session.csrf_token(), action: "/login" },
    )
}

#[get("/login/<_relogin>")]
fn relogin_page(_relogin: u8, session: Session<'_>) -> Template {
    Template::render(
        "login",
        context! { csrf_token: session.csrf_token(), action: "/login/1" },
    )
}

async fn check_login(form: &Login, session: &Session<'_>) -> bool {
    if form.password != format!("{}-pass", form.username) {
        return false;
    }
    session.login(&form.username).await.is_ok()
}

#[post("/login", data = "<form>")]
async fn login(form: CsrfForm<Login>, session: Session<'_>) -> Result<Redirect, Redirect> {
    match check_login(&form, &session).await {
        true => Ok(after_login(false, form.next.as_deref())),
        false => Err(Redirect::to("/login")),
    }
}

#[post("/login/<_relogin>", data = "<form>")]
async fn relogin(
    _relogin: u8,
    form: CsrfForm<Login>,
    session: Session<'_>,
) -> Result<Redirect, Redirect> {
    match check_login(&form, &session).await {
        true => Ok(after_login(true, None)),
        false => Err(Redirect::to("/login/1")),
    }
}

#[get("/")]
fn home(user: Authenticated, session: Session<'_>) -> Template {
    Template::render(
        "page",
        context! {
            user: user.user_id,
            draft: session.get::<String>("draft").unwrap_or_default(),
            csrf_token: session.csrf_token(),
            session_security: session.dialogs(),
        },
    )
}

/// The same page under `Content-Security-Policy: default-src 'self'`, with
/// violations reported back to the server.
#[derive(rocket::Responder)]
struct WithPolicy {
    page: Template,
    policy: Header<'static>,
}

#[get("/csp")]
fn csp_page(user: Authenticated, session: Session<'_>) -> WithPolicy {
    let policy = "default-src 'self'; report-uri /csp-report";
    WithPolicy {
        page: home(user, session),
        policy: Header::new("Content-Security-Policy", policy),
    }
}

#[post("/csp-report", data = "<_report>")]
fn csp_report(_report: &str, counters: &State<Arc<Counters>>) {
    counters.csp_reports.fetch_add(1, Ordering::SeqCst);
}

#[get("/set/<key>/<value>")]
fn set(_user: Authenticated, key: &str, value: &str, session: Session<'_>) -> &'static str {
    session.insert(key, value).expect("insert");
    "set"
}

#[derive(FromForm)]
struct Save {
    title: String,
    notes: String,
}

#[post("/save", data = "<form>")]
fn save(user: Authenticated, form: CsrfForm<Save>, counters: &State<Arc<Counters>>) -> Template {
    let form = form.into_inner();
    counters
        .saves
        .lock()
        .expect("saves")
        .push(format!("{}|{}", form.title, form.notes));
    Template::render("saved", context! { user: user.user_id, title: form.title })
}

/// The page in a browser without BroadcastChannel: tabs must fall back to
/// storage events.
#[get("/nobc")]
fn no_broadcast_page(user: Authenticated, session: Session<'_>) -> Template {
    Template::render(
        "page",
        context! {
            user: user.user_id,
            draft: "",
            csrf_token: session.csrf_token(),
            session_security: session.dialogs(),
            no_broadcast: true,
        },
    )
}

#[get("/no-broadcast.js")]
fn no_broadcast_js() -> (rocket::http::ContentType, &'static str) {
    let script = "delete window.BroadcastChannel; window.BroadcastChannel = undefined;";
    (rocket::http::ContentType::JavaScript, script)
}

#[get("/bye")]
fn bye() -> &'static str {
    "signed out"
}

/// The application's own sign-out page: a form that posts to `/signout`.
#[get("/signout")]
fn signout_page(session: Session<'_>) -> Template {
    Template::render("signout", context! { csrf_token: session.csrf_token() })
}

/// A form with nothing but its CSRF token.
#[derive(FromForm)]
struct Confirmation {
    #[field(name = "csrf_token")]
    _token: Option<String>,
}

/// The application's own sign-out handler: `Session::logout`, as any
/// application would call it, not the crate's route.
#[post("/signout", data = "<_form>")]
async fn signout(_form: CsrfForm<Confirmation>, session: Session<'_>) -> Redirect {
    session.logout().await.expect("logout");
    Redirect::to("/bye")
}

/// Revokes every other session of the signed-in user
/// (`Session::revoke_others`): "sign out everywhere else".
#[get("/revoke-others")]
async fn revoke_others(_user: Authenticated, session: Session<'_>) -> String {
    let ended = session.revoke_others().await.expect("revoke");
    format!("revoked {ended}")
}

/// The running application, as code outside any request would hold it.
struct Launched<'r>(&'r rocket::Rocket<rocket::Orbit>);

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for Launched<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> rocket::request::Outcome<Self, Self::Error> {
        rocket::request::Outcome::Success(Launched(request.rocket()))
    }
}

/// Revokes every session of `user` from outside any session of theirs
/// (`SessionSecurity::revoke_user`), as an administrator would.
#[get("/revoke-user/<user>")]
async fn revoke_user(user: &str, rocket: Launched<'_>) -> String {
    let ended = test_support::admin(rocket.0)
        .revoke_user(user, Some("admin"))
        .await
        .expect("revoke");
    format!("revoked {ended}")
}

/// Loaded by the test page before the crate's script (same origin, so
/// `script-src 'self'` holds). Two probes the tests read:
/// - `__listeners()`: the event listeners the crate's script has added and
///   not removed, by wrapping `addEventListener`/`removeEventListener`
///   (an aborted `signal` removes them too); a listener is the crate's when
///   the call comes from a script under `/session_security/`;
/// - `__announced`: every text the screen-reader region took, with when;
/// - `__streams()`: how many event streams of the page are not closed
///   (each `EventSource` made is recorded).
///
/// And `pagehide` writes the time the page was left to sessionStorage
/// (`__left`), which the next page of the tab can still read.
const PROBE_JS: &str = r#"
(function () {
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  const live = [];
  const capture = (options) => typeof options === 'boolean' ? options : !!(options && options.capture);
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    const stack = String(new Error().stack).split('\n').slice(2).join('\n');
    if (stack.indexOf('/session_security/') !== -1 && listener) {
      const signal = options && options.signal;
      const entry = { target: this, type: type, listener: listener, capture: capture(options) };
      if (!signal || !signal.aborted) live.push(entry);
      if (signal) add.call(signal, 'abort', () => {
        const i = live.indexOf(entry);
        if (i !== -1) live.splice(i, 1);
      });
    }
    return add.call(this, type, listener, options);
  };
  EventTarget.prototype.removeEventListener = function (type, listener, options) {
    const i = live.findIndex((e) => e.target === this && e.type === type &&
      e.listener === listener && e.capture === capture(options));
    if (i !== -1) live.splice(i, 1);
    return remove.call(this, type, listener, options);
  };
  window.__listeners = () => live.map((e) => e.type);
  window.__announced = [];
  const Source = window.EventSource;
  const sources = [];
  window.EventSource = function (url, init) {
    const source = new Source(url, init);
    sources.push(source);
    return source;
  };
  window.__streams = () => sources.filter((s) => s.readyState !== 2).length;
  add.call(document, 'DOMContentLoaded', () => {
    const region = document.getElementById('session_security_announce');
    if (!region) return;
    new MutationObserver(() => window.__announced.push({ at: Date.now(), text: region.textContent }))
      .observe(region, { childList: true, characterData: true, subtree: true });
  });
  add.call(window, 'pagehide', () => sessionStorage.setItem('__left', String(Date.now())));
})();
"#;

#[get("/probe.js")]
fn probe_js() -> (rocket::http::ContentType, &'static str) {
    (rocket::http::ContentType::JavaScript, PROBE_JS)
}

#[get("/errors.js")]
fn errors_js() -> (rocket::http::ContentType, &'static str) {
    // Loaded first by the test page: records script errors for the tests,
    // in `window.__errors` and in the tab's sessionStorage (`__errors`),
    // which the next page of the tab, the login page say, can still read.
    let script = "window.__errors = []; sessionStorage.setItem('__errors', '[]'); \
        window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); \
          sessionStorage.setItem('__errors', JSON.stringify(window.__errors)); });";
    (rocket::http::ContentType::JavaScript, script)
}

/// Serves the application on a free port of 127.0.0.1.
pub async fn serve(settings: Settings) -> Served {
    let counters = Arc::new(Counters::default());
    let figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", settings.port))
        .merge(("log_level", "off"))
        .merge(("shutdown.grace", 0))
        .merge(("shutdown.mercy", 0))
        .merge(("shutdown.ctrlc", false))
        .merge((
            "template_dir",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/templates"),
        ))
        .merge((
            "databases.session_security.url",
            settings
                .store_url
                .clone()
                .unwrap_or_else(crate::common::temp_sqlite_url),
        ))
        .merge(("session_security.warn_after", settings.warn_after))
        .merge(("session_security.expire_after", settings.expire_after))
        .merge(("session_security.relogin", settings.relogin))
        .merge(("session_security.cookie_secure", false))
        .merge(("session_security.logout_url", settings.logout_url));
    let (port_tx, port_rx) = rocket::tokio::sync::oneshot::channel();
    let port_tx = Mutex::new(Some(port_tx));
    let request_counter = counters.clone();
    let push = settings.push;
    let rocket = rocket::custom(figment)
        .attach(match settings.locale {
            Some(locale) => SessionSecurity::fairing()
                .with_locale(move |_: &rocket::Request<'_>| Some(locale.into())),
            None => SessionSecurity::fairing(),
        })
        .attach(Template::custom(|engines| {
            register_templates(&mut engines.tera).expect("crate templates");
        }))
        .attach(AdHoc::on_request(
            "count pings, streams and saves",
            move |request: &mut Request<'_>, _| {
                let counters = request_counter.clone();
                Box::pin(async move {
                    let path = request.uri().path();
                    if path == "/session_security/ping" {
                        counters.pings.fetch_add(1, Ordering::SeqCst);
                    } else if path == "/save" && request.method() == rocket::http::Method::Post {
                        counters.save_requests.fetch_add(1, Ordering::SeqCst);
                    } else if path == "/session_security/events" {
                        counters.streams.fetch_add(1, Ordering::SeqCst);
                        if !push {
                            // No route there: a 404. Still under the
                            // crate's prefix, so no activity either.
                            request.set_uri(
                                rocket::http::uri::Origin::parse("/session_security/blocked")
                                    .expect("a path"),
                            );
                        }
                    }
                })
            },
        ))
        .attach(AdHoc::on_liftoff("report port", move |rocket| {
            let port = rocket.config().port;
            let sender = port_tx.lock().expect("port").take();
            Box::pin(async move {
                if let Some(sender) = sender {
                    let _ = sender.send(port);
                }
            })
        }))
        .manage(counters.clone())
        .register("/", catchers())
        .mount(
            "/",
            routes![
                login_page,
                relogin_page,
                login,
                relogin,
                home,
                csp_page,
                csp_report,
                set,
                save,
                errors_js,
                no_broadcast_page,
                no_broadcast_js,
                bye,
                signout_page,
                signout,
                revoke_others,
                revoke_user,
                probe_js
            ],
        );
    let ignited = rocket.ignite().await.expect("ignite");
    let shutdown = ignited.shutdown();
    let launched = rocket::tokio::spawn(async move {
        let _ = ignited.launch().await;
    });
    let port = port_rx.await.expect("port");
    Served {
        port,
        counters,
        shutdown,
        launched: Some(launched),
    }
}

/// The positive control of "no CSP violation reported": a violation made
/// on purpose in the current page (an inline script, which its
/// `default-src 'self'` forbids) is reported, and counted, within 5 s.
pub async fn a_violation_is_reported(browser: &Browser, served: &Served) {
    let before = served.csp_reports();
    let ran = browser
        .js("const s = document.createElement('script'); \
             s.textContent = 'window.__inline = true;'; document.head.append(s); \
             return window.__inline === true;")
        .await;
    assert_eq!(ran, false, "an inline script ran under the policy");
    let reported = browser
        .wait_for(std::time::Duration::from_secs(5), || async {
            served.csp_reports() > before
        })
        .await;
    assert!(reported, "a violation made on purpose was not reported");
}

/// Logging in to this test application, whose password for `user` is
/// `<user>-pass`.
#[allow(async_fn_in_trait)] // used by these tests only, never across threads
pub trait LogsIn {
    /// Logs in through this application's login form.
    async fn login(&self, served: &Served, user: &str);
    /// Logs in again inside the relogin dialog.
    async fn relogin(&self, user: &str);
}

impl LogsIn for Browser {
    async fn login(&self, served: &Served, user: &str) {
        self.login_with(&served.url("/login"), user, &format!("{user}-pass"))
            .await;
    }

    async fn relogin(&self, user: &str) {
        self.relogin_in_dialog(user, &format!("{user}-pass")).await;
    }
}
