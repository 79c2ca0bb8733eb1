//! The demo's login behind the library's throttle: a username failing
//! again and again from one address waits (429 with `Retry-After`, the
//! form shown again), others do not; too many password checks at once get
//! 503.

mod common;

use std::net::SocketAddr;

use common::{csrf_token, location, DemoApp, TestApp};
use rocket::figment::providers::Serialized;
use rocket::futures::future::join_all;
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::LocalResponse;
use rocket_session_security::{ManualClock, SessionSecurity};
use test_support::html::form_body;
use test_support::TempDir;

const HOME: &str = "192.0.2.10:50000";
const ELSEWHERE: &str = "198.51.100.20:50000";

/// Logs in through the form at `path`, from `peer`.
async fn login_at<'c>(
    app: &'c TestApp,
    path: &str,
    peer: &str,
    username: &str,
    password: &str,
) -> LocalResponse<'c> {
    let (status, page) = app.page(path).await;
    assert_eq!(status, Status::Ok);
    let token = csrf_token(&page).expect("the login form has a CSRF token");
    let peer: SocketAddr = peer.parse().expect("a socket address");
    app.client
        .post(path.to_owned())
        .remote(peer)
        .header(ContentType::Form)
        .body(form_body(&[
            ("csrf_token", &token),
            ("username", username),
            ("password", password),
        ]))
        .dispatch()
        .await
}

async fn login_from<'c>(
    app: &'c TestApp,
    peer: &str,
    username: &str,
    password: &str,
) -> LocalResponse<'c> {
    login_at(app, "/login", peer, username, password).await
}

/// Fails `n` logins of `username` from `peer`.
async fn fail(app: &TestApp, peer: &str, username: &str, n: usize) {
    for i in 0..n {
        let response = login_from(app, peer, username, "not-the-password").await;
        assert_eq!(
            response.status(),
            Status::UnprocessableEntity,
            "failure {}",
            i + 1
        );
    }
}

fn retry_after(response: &LocalResponse<'_>) -> Option<u64> {
    let value = response.headers().get_one("Retry-After")?;
    Some(value.parse().expect("whole seconds"))
}

#[rocket::async_test]
async fn five_wrong_passwords_make_the_sixth_login_wait_even_with_the_right_one() {
    let app = TestApp::start("throttle-sixth").await;
    fail(&app, HOME, "alice", 5).await;

    let response = login_from(&app, HOME, "alice", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    assert_eq!(retry_after(&response), Some(30));
    let page = response.into_string().await.unwrap_or_default();
    assert!(
        page.contains(
            "Too many failed sign-ins for this username. Please try again in 30 seconds."
        ),
        "{page}"
    );
    assert!(
        page.contains("value=\"alice\""),
        "the form again, username kept"
    );
    assert_eq!(app.page("/").await.0, Status::SeeOther, "not signed in");
}

#[rocket::async_test]
async fn other_users_and_other_addresses_still_sign_in_meanwhile() {
    let app = TestApp::start("throttle-others").await;
    fail(&app, HOME, "alice", 5).await;

    let response = login_from(&app, HOME, "bob", "bob-demo-pass").await;
    assert_eq!(response.status(), Status::SeeOther, "another username");
    let response = login_from(&app, ELSEWHERE, "alice", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::SeeOther, "another address");
    assert_eq!(location(&response), "/");

    let response = login_from(&app, HOME, "alice", "alice-demo-pass").await;
    assert_eq!(
        response.status(),
        Status::TooManyRequests,
        "the pair still waits"
    );
}

#[rocket::async_test]
async fn after_the_wait_the_right_password_signs_in() {
    let app = TestApp::start("throttle-wait").await;
    fail(&app, HOME, "alice", 5).await;

    app.advance(29);
    let response = login_from(&app, HOME, "alice", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    assert_eq!(retry_after(&response), Some(1));

    app.advance(1);
    let response = login_from(&app, HOME, "alice", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(app.page("/").await.0, Status::Ok, "signed in");
}

#[rocket::async_test]
async fn a_failure_after_the_wait_doubles_it() {
    let app = TestApp::start("throttle-double").await;
    fail(&app, HOME, "alice", 5).await;
    app.advance(30);
    fail(&app, HOME, "alice", 1).await;

    let response = login_from(&app, HOME, "alice", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    assert_eq!(retry_after(&response), Some(60));
}

#[rocket::async_test]
async fn unknown_usernames_are_throttled_alike() {
    let app = TestApp::start("throttle-unknown").await;
    fail(&app, HOME, "mallory", 5).await;
    let response = login_from(&app, HOME, "mallory", "anything").await;
    assert_eq!(response.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn the_relogin_form_is_throttled_too() {
    let app = TestApp::start("throttle-relogin").await;
    fail(&app, HOME, "alice", 5).await;

    let response = login_at(&app, "/login/1", HOME, "alice", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    let page = response.into_string().await.unwrap_or_default();
    assert!(
        page.contains("action=\"/login/1\""),
        "the relogin form again"
    );
}

#[rocket::async_test]
async fn logins_beyond_the_password_checks_at_once_get_503() {
    // One check at a time and no waiting for it: argon2 takes long enough
    // that logins sent together find the one permit taken.
    let dir = TempDir::new("demo-app-throttle-busy");
    let figment = demo_app::figment()
        .merge(Serialized::global(
            "databases.crm.url",
            dir.sqlite_url("crm.sqlite"),
        ))
        .merge(Serialized::global(
            "databases.session_security.url",
            dir.sqlite_url("session_security.sqlite"),
        ))
        .merge(Serialized::global("login_throttle.concurrent_hashes", 1))
        .merge(Serialized::global("login_throttle.hash_wait_ms", 0))
        .merge(Serialized::global("log_level", "off"));
    let clock = ManualClock::new(common::START);
    let security = SessionSecurity::fairing().with_clock(clock.clone());
    let app = TestApp::launch(demo_app::rocket_with(security, figment), clock)
        .await
        .holding(dir);

    let (_, page) = app.page("/login").await;
    let token = csrf_token(&page).expect("token");
    let logins = (0..4).map(|n| {
        let peer: SocketAddr = format!("203.0.113.{n}:50000").parse().expect("address");
        app.client
            .post("/login")
            .remote(peer)
            .header(ContentType::Form)
            .body(form_body(&[
                ("csrf_token", &token),
                ("username", "alice"),
                ("password", "not-the-password"),
            ]))
            .dispatch()
    });
    let responses = join_all(logins).await;
    let busy: Vec<_> = responses
        .iter()
        .filter(|r| r.status() == Status::ServiceUnavailable)
        .collect();
    assert!(!busy.is_empty(), "one check at a time");
    assert!(busy.iter().all(|r| retry_after(r).is_some()));
    assert!(responses.iter().all(|r| {
        [Status::UnprocessableEntity, Status::ServiceUnavailable].contains(&r.status())
    }));
}
