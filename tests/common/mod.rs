//! A small application around the fairing, driven with a manual clock.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use rocket::figment::Figment;
use rocket::form::FromForm;
use rocket::http::{ContentType, Cookie, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::{json, Json, Value};
use rocket::{get, post, routes, Build, Rocket};
use rocket_session_security::{
    catchers, Authenticated, CsrfChecked, CsrfForm, ManualClock, Session, SessionSecurity,
    StoreStats, SESSION_COOKIE,
};
use sha2::{Digest, Sha256};

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
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("SESSION_SECURITY_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(
            std::env::var("SESSION_SECURITY_REQUIRE_POSTGRES").is_err(),
            "SESSION_SECURITY_REQUIRE_POSTGRES is set but SESSION_SECURITY_TEST_POSTGRES is not"
        );
        eprintln!("PostgreSQL store tests skipped: SESSION_SECURITY_TEST_POSTGRES is not set");
    }
    url
}

/// A fresh database on the test server; returns its URL.
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

/// The store key of a session token, as the crate computes it.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

#[get("/get/<key>")]
fn get_value(key: &str, session: Session<'_>) -> String {
    session.get::<String>(key).unwrap_or_default()
}

#[get("/csrf")]
fn csrf(session: Session<'_>) -> String {
    session.csrf_token()
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

#[post("/api/note")]
fn api_note(_user: Authenticated, _csrf: CsrfChecked) -> &'static str {
    "accepted"
}

/// The test application on `figment`, with the fairing on `clock`.
pub fn app(figment: Figment, clock: &ManualClock) -> Rocket<Build> {
    app_with(figment, SessionSecurity::new().with_clock(clock.clone()))
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
                get_value,
                csrf,
                dialogs_config,
                asset_urls,
                note,
                api_note
            ],
        )
}

/// A tracked client (it keeps cookies like a browser) and its clock.
pub struct TestApp {
    pub client: Client,
    pub clock: ManualClock,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(figment()).await
    }

    pub async fn with(figment: Figment) -> Self {
        Self::with_fairing(figment, |fairing| fairing).await
    }

    /// Lets the test configure the fairing (which already has the clock).
    pub async fn with_fairing(
        figment: Figment,
        setup: impl FnOnce(SessionSecurity) -> SessionSecurity,
    ) -> Self {
        Self::with_clock(figment, ManualClock::new(T0), setup).await
    }

    /// An instance on `clock`, which other instances may share.
    pub async fn with_clock(
        figment: Figment,
        clock: ManualClock,
        setup: impl FnOnce(SessionSecurity) -> SessionSecurity,
    ) -> Self {
        let fairing = setup(SessionSecurity::new().with_clock(clock.clone()));
        let client = Client::tracked(app_with(figment, fairing))
            .await
            .expect("valid rocket");
        TestApp { client, clock }
    }

    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    pub async fn get(&self, path: &str) -> LocalResponse<'_> {
        self.client.get(path.to_owned()).dispatch().await
    }

    pub async fn login(&self, user: &str) {
        let response = self.get(&format!("/login/{user}")).await;
        assert_eq!(response.status(), Status::Ok);
    }

    /// The user the server sees, or `None` when `/whoami` is refused.
    pub async fn whoami(&self) -> Option<String> {
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

    pub async fn ping(&self, idle_for: Option<&str>) -> (Status, Value) {
        let path = match idle_for {
            Some(n) => format!("/session_security/ping?idleFor={n}"),
            None => "/session_security/ping".to_owned(),
        };
        let response = self.get(&path).await;
        let status = response.status();
        assert_eq!(response.content_type(), Some(ContentType::JSON));
        (status, response.into_json().await.expect("json"))
    }

    /// Seconds idle according to the passive status route.
    pub async fn server_idle(&self) -> Option<i64> {
        let status: Value = self
            .get("/session_security/status")
            .await
            .into_json()
            .await?;
        status["idle"].as_i64()
    }

    pub fn session_cookie(&self) -> Option<Cookie<'static>> {
        self.client.cookies().get(SESSION_COOKIE).cloned()
    }

    /// The session's CSRF token (starting an anonymous session if needed).
    pub async fn csrf(&self) -> String {
        let response = self.get("/csrf").await;
        assert_eq!(response.status(), Status::Ok);
        response.into_string().await.expect("a token")
    }

    /// What the read path did so far.
    pub fn stats(&self) -> StoreStats {
        SessionSecurity::stats(self.client.rocket()).expect("fairing attached")
    }

    /// The store key of this client's session cookie.
    pub fn token_hash(&self) -> String {
        token_hash(self.session_cookie().expect("a session cookie").value())
    }
}
