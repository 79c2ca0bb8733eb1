//! A small application around the fairing, driven with a manual clock.

use std::sync::atomic::{AtomicU32, Ordering};

use rocket::figment::Figment;
use rocket::form::FromForm;
use rocket::http::{ContentType, Header, Status};
use rocket::serde::json::{json, Json, Value};
use rocket::{get, post, routes, Build, Rocket};
use rocket_session_security::{
    catchers, Authenticated, CsrfChecked, CsrfForm, ManualClock, Session, SessionSecurity,
};

/// Where the manual clock starts.
pub const T0: i64 = 1_700_000_000;

/// A fresh SQLite file URL, in this process's test directory (removed by
/// the next run once this process is gone).
pub fn temp_sqlite_url() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = test_support::process_dir("session_security_test");
    let file = format!("sessions-{}.sqlite", N.fetch_add(1, Ordering::SeqCst));
    format!("sqlite://{}", dir.join(file).display())
}

/// The admin URL of the test server, if one is configured.
#[cfg(feature = "postgres")]
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("SESSION_SECURITY_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty());
    // The PostgreSQL tests are `#[ignore]`d with this reason, so they run
    // only when asked for; then a missing server is a failure.
    assert!(
        url.is_some(),
        "SESSION_SECURITY_TEST_POSTGRES is not set: this test needs a PostgreSQL server"
    );
    url
}

/// A fresh database on the test server; returns its URL.
#[cfg(feature = "postgres")]
pub async fn fresh_postgres_database() -> Option<String> {
    static N: AtomicU32 = AtomicU32::new(0);
    let admin_url = postgres_url()?;
    let name = format!(
        "ss_test_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("postgres server");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create db");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("url with a database");
    Some(format!("{base}/{name}"))
}

/// Polls `check` every 10 ms until it holds; panics with `what` if it
/// does not within `within`. Returns how long it took.
pub async fn eventually<F, Fut>(
    within: std::time::Duration,
    what: &str,
    mut check: F,
) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        rocket::tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// Rocket's figment with the original's test timings (warn 5, expire 10)
/// and a fresh store.
pub fn figment() -> Figment {
    rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("databases.session_security.url", temp_sqlite_url()))
        .merge(("session_security.warn_after", 5))
        .merge(("session_security.expire_after", 10))
        .merge(("session_security.absolute_after", 0))
        .merge(("session_security.passive_routes", ["passive_route"]))
        .merge(("session_security.passive_paths", ["/passive-path"]))
        .merge(("session_security.cookie_secure", false))
}

#[get("/login/<user>")]
async fn login(user: &str, session: Session<'_>) -> &'static str {
    session.login(user).await.expect("login");
    "logged in"
}

#[get("/logout")]
async fn logout(session: Session<'_>) -> &'static str {
    session.logout().await.expect("logout");
    "logged out"
}

#[get("/whoami")]
fn whoami(user: Authenticated) -> String {
    user.user_id
}

#[get("/passive")]
fn passive_route(user: Authenticated) -> String {
    user.user_id
}

#[get("/passive-path")]
fn passive_path(user: Authenticated) -> String {
    user.user_id
}

#[get("/set/<key>/<value>")]
fn set(key: &str, value: &str, session: Session<'_>) -> &'static str {
    session.insert(key, value).expect("insert");
    "set"
}

/// Like `/set`, but answers the error: 413 for data over the limit.
#[get("/try-set/<key>/<value>")]
fn try_set(key: &str, value: &str, session: Session<'_>) -> (Status, String) {
    match session.insert(key, value) {
        Ok(()) => (Status::Ok, "set".into()),
        Err(e @ rocket_session_security::Error::DataTooLarge { .. }) => {
            (Status::PayloadTooLarge, e.to_string())
        }
        Err(e) => (Status::InternalServerError, e.to_string()),
    }
}

#[get("/get/<key>")]
fn get_value(key: &str, session: Session<'_>) -> String {
    session.get::<String>(key).unwrap_or_default()
}

#[get("/csrf")]
fn csrf(session: Session<'_>) -> String {
    session.csrf_token()
}

/// The include's markup, as a page would carry it.
#[get("/page")]
fn page(session: Session<'_>) -> (ContentType, String) {
    (
        ContentType::HTML,
        session.dialogs().to_html().expect("render"),
    )
}

/// The browser script's configuration as the page would carry it.
#[get("/dialogs-config")]
fn dialogs_config(session: Session<'_>) -> (ContentType, String) {
    (ContentType::JSON, session.dialogs().config_json)
}

/// The script and stylesheet URLs a page links.
#[get("/asset-urls")]
fn asset_urls(session: Session<'_>) -> Json<Value> {
    let dialogs = session.dialogs();
    Json(json!({ "script": dialogs.script_url, "style": dialogs.style_url }))
}

#[derive(FromForm)]
struct Note {
    text: String,
}

#[post("/note", data = "<note>")]
fn note(_user: Authenticated, note: CsrfForm<Note>) -> String {
    note.into_inner().text
}

/// A form a visitor without a session posts (a login form, say).
#[post("/visitor-form", data = "<form>")]
fn visitor_form(form: CsrfForm<Note>) -> String {
    form.into_inner().text
}

#[post("/api/note")]
fn api_note(_user: Authenticated, _csrf: CsrfChecked) -> &'static str {
    "accepted"
}

/// The test application on `figment`, with the fairing on `clock`.
pub fn app(figment: Figment, clock: &ManualClock) -> Rocket<Build> {
    app_with(
        figment,
        SessionSecurity::fairing().with_clock(clock.clone()),
    )
}

/// The test application with a fairing set up by the test.
pub fn app_with(figment: Figment, fairing: SessionSecurity) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(fairing)
        .register("/", catchers())
        .mount(
            "/",
            routes![
                login,
                logout,
                whoami,
                passive_route,
                passive_path,
                set,
                try_set,
                get_value,
                csrf,
                page,
                dialogs_config,
                asset_urls,
                note,
                visitor_form,
                api_note
            ],
        )
}

pub use test_support::TestApp;

/// The library's test application on [`TestApp`]: how it starts, logs in
/// (`GET /login/<user>`), says who is signed in, and hands out the CSRF
/// token.
#[allow(async_fn_in_trait)] // used in this crate's tests only
pub trait LibraryApp: Sized {
    /// The app on [`figment`].
    async fn new() -> Self {
        Self::with(figment()).await
    }

    /// The app on `figment`.
    async fn with(figment: Figment) -> Self {
        Self::with_fairing(figment, |fairing| fairing).await
    }

    /// Lets the test configure the fairing (which already has the clock).
    async fn with_fairing(
        figment: Figment,
        setup: impl FnOnce(SessionSecurity) -> SessionSecurity,
    ) -> Self {
        Self::with_clock(figment, ManualClock::new(T0), setup).await
    }

    /// An instance on `clock`, which other instances may share.
    async fn with_clock(
        figment: Figment,
        clock: ManualClock,
        setup: impl FnOnce(SessionSecurity) -> SessionSecurity,
    ) -> Self;

    /// Logs `user` in.
    async fn login(&self, user: &str);

    /// The user the server sees, or `None` when `/whoami` is refused.
    async fn whoami(&self) -> Option<String>;

    /// The session's CSRF token (starting an anonymous session if needed).
    async fn csrf(&self) -> String;
}

impl LibraryApp for TestApp {
    async fn with_clock(
        figment: Figment,
        clock: ManualClock,
        setup: impl FnOnce(SessionSecurity) -> SessionSecurity,
    ) -> Self {
        let fairing = setup(SessionSecurity::fairing().with_clock(clock.clone()));
        TestApp::launch(app_with(figment, fairing), clock).await
    }

    async fn login(&self, user: &str) {
        let response = self.get(&format!("/login/{user}")).await;
        assert_eq!(response.status(), Status::Ok);
    }

    async fn whoami(&self) -> Option<String> {
        let response = self
            .client
            .get("/whoami")
            .header(Header::new("Accept", "application/json"))
            .dispatch()
            .await;
        match response.status() {
            Status::Ok => response.into_string().await,
            Status::Unauthorized => None,
            other => panic!("unexpected status {other}"),
        }
    }

    async fn csrf(&self) -> String {
        let response = self.get("/csrf").await;
        assert_eq!(response.status(), Status::Ok);
        response.into_string().await.expect("a token")
    }
}
