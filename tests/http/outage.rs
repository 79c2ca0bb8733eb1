//! A store outage is not a logout: requests that need the store answer
//! `503` with `Retry-After` within `store_timeout` and set no cookie, cached
//! sessions go on being served while nothing must be written, and service
//! and sessions come back with the store.
//!
//! PostgreSQL tests stop and restart a real server of their own
//! (`pg_server`); the SQLite test locks the file with another connection.

use std::time::{Duration, Instant};

#[cfg(feature = "postgres")]
use crate::common::eventually;
use crate::common::{figment, LibraryApp, TestApp};
#[cfg(feature = "postgres")]
use crate::pg_server::PgServer;
#[cfg(feature = "postgres")]
use rocket::http::Header;
use rocket::http::Status;
use rocket::local::asynchronous::LocalResponse;
#[cfg(feature = "postgres")]
use rocket_session_security::SESSION_COOKIE;

/// How long service may take to come back once the store is up again.
#[cfg(feature = "postgres")]
const RECOVERY: Duration = Duration::from_secs(10);

/// Seconds the tests give the store before a request answers 503.
const STORE_TIMEOUT: u64 = 1;

fn on_store(url: &str) -> rocket::figment::Figment {
    figment()
        .merge(("databases.session_security.url", url))
        .merge(("databases.session_security.connect_timeout", 1))
        .merge(("session_security.store_timeout", STORE_TIMEOUT))
}

/// Checks the contract of a refused request: 503, `Retry-After`, no cookie.
fn assert_unavailable(response: &LocalResponse<'_>, what: &str) {
    assert_eq!(response.status(), Status::ServiceUnavailable, "{what}");
    assert!(
        response.headers().get_one("Retry-After").is_some(),
        "{what}: Retry-After"
    );
    assert!(
        response.headers().get("Set-Cookie").next().is_none(),
        "{what}: a 503 sets no cookie"
    );
}

/// Runs `request` and checks it was answered within the store timeout.
async fn timed<'c>(
    request: impl std::future::Future<Output = LocalResponse<'c>>,
) -> LocalResponse<'c> {
    let start = Instant::now();
    let response = request.await;
    let bound = Duration::from_secs(STORE_TIMEOUT + 2);
    assert!(
        start.elapsed() < bound,
        "answered after {:?}",
        start.elapsed()
    );
    response
}

#[cfg(feature = "postgres")]
#[rocket::async_test]
#[ignore = "needs PostgreSQL's server binaries (apt-get install postgresql); run with -- --include-ignored, as scripts/test-all does"]
async fn a_postgresql_outage_is_not_a_logout() {
    let Some(pg) = PgServer::start() else { return };
    let app = TestApp::with(on_store(&pg.url())).await;
    // Every LISTEN starts from an empty cache: cache only once listening.
    eventually(Duration::from_secs(10), "the instance listens", || async {
        app.stats().coherent
    })
    .await;
    app.login("alice").await;
    app.get("/set/draft/kept").await;
    let cookie = app.session_cookie().expect("cookie").value().to_owned();
    let csrf = app.csrf().await;

    pg.stop();
    // Served from memory while nothing must be written.
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    let (status, _) = app.ping(Some("0")).await;
    assert_eq!(status, Status::Ok);
    // A write that cannot be made fails whole.
    let write = timed(app.get("/set/draft/lost")).await;
    assert_unavailable(&write, "a data change");
    let page = write.into_string().await.unwrap_or_default();
    assert!(page.contains("still signed in"), "an HTML page: {page}");
    // A background request gets JSON.
    let api = timed(
        app.client
            .get("/set/draft/lost")
            .header(Header::new("Accept", "application/json"))
            .dispatch(),
    )
    .await;
    assert_unavailable(&api, "a background data change");
    let body: rocket::serde::json::Value = api.into_json().await.expect("json");
    assert_eq!(body["error"], "store_unavailable");
    // The warning's "Log out" button: a generic answer, not the store's words.
    let logout = timed(
        app.client
            .post("/session_security/logout")
            .header(Header::new("X-CSRF-Token", csrf))
            .header(Header::new("Accept", "application/json"))
            .dispatch(),
    )
    .await;
    assert_unavailable(&logout, "the logout route");
    let body: rocket::serde::json::Value = logout.into_json().await.expect("json");
    assert_eq!(body["error"], "store_unavailable");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("pool") && !message.contains("database"),
        "{message}"
    );
    // Past the idle limit only the store may say "dead", and it cannot.
    app.advance(11);
    let ping = timed(app.get("/session_security/ping?idleFor=0")).await;
    assert_unavailable(&ping, "the ping");
    let page = timed(app.get("/whoami")).await;
    assert_unavailable(&page, "a page past the idle limit");
    assert_eq!(
        app.session_cookie().expect("cookie").value(),
        cookie,
        "the live cookie survives"
    );
    app.advance(-11);

    pg.restart();
    // Service comes back by itself, with the session and its data.
    eventually(RECOVERY, "the session and its data come back", || async {
        let response = app.get("/get/draft").await;
        response.into_string().await.as_deref() == Some("kept")
    })
    .await;
    assert_eq!(app.session_cookie().expect("cookie").value(), cookie);
    app.get("/set/draft/saved").await;
    let draft = app.get("/get/draft").await.into_string().await;
    assert_eq!(draft.as_deref(), Some("saved"));
}

#[cfg(feature = "postgres")]
#[rocket::async_test]
#[ignore = "needs PostgreSQL's server binaries (apt-get install postgresql); run with -- --include-ignored, as scripts/test-all does"]
async fn an_instance_that_never_saw_the_session_answers_503_not_login() {
    let Some(pg) = PgServer::start() else { return };
    let first = TestApp::with(on_store(&pg.url())).await;
    first.login("alice").await;
    let cookie = first.session_cookie().expect("cookie");
    let cold = TestApp::with(on_store(&pg.url())).await;

    pg.stop();
    let whoami = timed(
        cold.client
            .get("/whoami")
            .cookie(cookie.clone())
            .header(Header::new("Accept", "application/json"))
            .dispatch(),
    )
    .await;
    assert_unavailable(&whoami, "a session the cache never held");
    // The login page the browser would land on mints no cookie either.
    let login_page = timed(cold.client.get("/csrf").cookie(cookie.clone()).dispatch()).await;
    assert_unavailable(&login_page, "the login page");
    // A cookieless visitor's login form needs no store at all (its CSRF
    // token is a cookie of its own): it is served, with no session cookie.
    let fresh = timed(first_visit(&cold)).await;
    assert_eq!(fresh.status(), Status::Ok, "a visitor's login form");
    let cookies: Vec<_> = fresh.headers().get("Set-Cookie").collect();
    assert!(
        cookies.iter().all(|c| !c.starts_with("session_security=")),
        "{cookies:?}"
    );

    pg.restart();
    eventually(RECOVERY, "the cold instance serves the session", || async {
        let response = cold
            .client
            .get("/whoami")
            .cookie(cookie.clone())
            .dispatch()
            .await;
        response.into_string().await.as_deref() == Some("alice")
    })
    .await;
}

/// A cookieless visit to a login form; this client's jar is empty, since
/// a 503 sets no cookie.
#[cfg(feature = "postgres")]
async fn first_visit(app: &TestApp) -> LocalResponse<'_> {
    assert!(app.client.cookies().get(SESSION_COOKIE).is_none());
    app.client.get("/csrf").dispatch().await
}

#[rocket::async_test]
async fn a_locked_sqlite_store_answers_503_and_recovers() {
    use sqlx::Connection;
    let url = crate::common::temp_sqlite_url();
    let app = TestApp::with(on_store(&url)).await;
    app.login("alice").await;
    // Another process holds the write lock: writes wait, then time out.
    let mut holder = sqlx::SqliteConnection::connect(&url).await.expect("open");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .expect("lock");
    assert_eq!(
        app.whoami().await.as_deref(),
        Some("alice"),
        "reads from memory"
    );
    let write = timed(app.get("/set/draft/x")).await;
    assert_unavailable(&write, "a write to a locked file");
    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("unlock");
    let saved = app.get("/set/draft/y").await;
    assert_eq!(saved.status(), Status::Ok);
    let draft = app.get("/get/draft").await.into_string().await;
    assert_eq!(draft.as_deref(), Some("y"));
}

#[rocket::async_test]
async fn a_sqlite_store_that_cannot_be_opened_stops_launch() {
    let url = "sqlite:///proc/no-such-dir/sessions.sqlite";
    let clock = rocket_session_security::ManualClock::new(crate::common::T0);
    let rocket = crate::common::app(
        figment().merge(("databases.session_security.url", url)),
        &clock,
    );
    match rocket::local::asynchronous::Client::tracked(rocket).await {
        Ok(_) => panic!("a store that cannot be opened must stop launch"),
        Err(e) => assert!(
            matches!(e.kind(), rocket::error::ErrorKind::FailedFairings(_)),
            "{e}"
        ),
    }
}
