//! Visitors cost nothing to store: a cookieless visit to a login form
//! writes no session row (its CSRF token lives in a cookie of its own),
//! and its token still protects the form, across tabs and into the login.

use crate::common::{figment, temp_sqlite_url, LibraryApp, TestApp};
use rocket::http::{ContentType, Cookie, Status};
use rocket::local::asynchronous::Client;
use rocket_session_security::{ManualClock, CSRF_COOKIE, SESSION_COOKIE};
use sqlx::Connection;

async fn session_rows(url: &str) -> i64 {
    let mut db = sqlx::SqliteConnection::connect(url).await.expect("open");
    sqlx::query_scalar("SELECT COUNT(*) FROM session_security_sessions")
        .fetch_one(&mut db)
        .await
        .expect("count")
}

#[rocket::async_test]
async fn a_thousand_cookieless_login_forms_store_nothing() {
    let url = temp_sqlite_url();
    let rocket = crate::common::app(
        figment().merge(("databases.session_security.url", url.clone())),
        &ManualClock::new(crate::common::T0),
    );
    // Untracked: every request comes without cookies, as in a flood.
    let client = Client::untracked(rocket).await.expect("rocket");
    for _ in 0..1000 {
        let response = client.get("/csrf").dispatch().await;
        assert_eq!(response.status(), Status::Ok);
        let cookies: Vec<_> = response.headers().get("Set-Cookie").collect();
        assert!(
            cookies.iter().all(|c| !c.starts_with("session_security=")),
            "no session for a visitor: {cookies:?}"
        );
    }
    assert_eq!(session_rows(&url).await, 0);
    let admin = test_support::admin(client.rocket());
    let stats = admin.stats();
    assert_eq!(stats.writes, 0, "{stats:?}");
    // The same counts see a login: its row and its write.
    let login = client.get("/login/alice").dispatch().await;
    assert_eq!(login.status(), Status::Ok);
    assert_eq!(session_rows(&url).await, 1, "a login's row");
    let stats = admin.stats();
    assert!(stats.writes > 0, "a login's write: {stats:?}");
}

#[rocket::async_test]
async fn the_visitors_token_protects_the_form_and_lets_them_log_in() {
    let app = TestApp::new().await;
    let token = app.csrf().await;
    assert!(app.client.cookies().get(CSRF_COOKIE).is_some());
    assert!(app.session_cookie().is_none(), "no session yet");
    let second_tab = app.csrf().await;
    assert!(
        posts(&app, &second_tab).await,
        "a second tab's form works too"
    );
    let forged = app
        .client
        .post("/visitor-form")
        .header(ContentType::Form)
        .body("csrf_token=forged&text=hi")
        .dispatch()
        .await;
    assert_eq!(forged.status(), Status::Forbidden);
    let posted = app
        .client
        .post("/visitor-form")
        .header(ContentType::Form)
        .body(format!("csrf_token={token}&text=hi"))
        .dispatch()
        .await;
    assert_eq!(posted.status(), Status::Ok);
    app.login("alice").await;
    assert!(
        app.client.cookies().get(CSRF_COOKIE).is_none(),
        "the visitor's token goes at login"
    );
    assert!(!posts(&app, &token).await, "the session has its own token");
    assert!(posts(&app, &app.csrf().await).await);
}

/// Whether a form with `token` posts.
async fn posts(app: &TestApp, token: &str) -> bool {
    let response = app
        .client
        .post("/visitor-form")
        .header(ContentType::Form)
        .body(format!("csrf_token={token}&text=hi"))
        .dispatch()
        .await;
    response.status() == Status::Ok
}

#[rocket::async_test]
async fn a_forged_cookie_and_a_matching_field_from_another_browser_fail() {
    let app = TestApp::new().await;
    let token = app.csrf().await;
    let other = Client::untracked(crate::common::app(
        figment(),
        &ManualClock::new(crate::common::T0),
    ))
    .await
    .expect("rocket");
    // Another browser without the cookie cannot use the token.
    let response = other
        .post("/visitor-form")
        .header(ContentType::Form)
        .body(format!("csrf_token={token}&text=hi"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Forbidden);
    // A malformed cookie is no token at all.
    let response = other
        .post("/visitor-form")
        .cookie(Cookie::new(CSRF_COOKIE, "short"))
        .header(ContentType::Form)
        .body("csrf_token=short&text=hi")
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Forbidden);
}

#[rocket::async_test]
async fn data_stored_for_a_visitor_makes_a_session_that_keeps_the_token() {
    let app = TestApp::new().await;
    let token = app.csrf().await;
    app.get("/set/cart/3").await;
    assert!(app.client.cookies().get(SESSION_COOKIE).is_some());
    assert!(posts(&app, &token).await, "forms already out stay valid");
}
