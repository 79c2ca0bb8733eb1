//! The demo's login and relogin forms check passwords through
//! `rocket_login_throttle`: a username failing again and again from one
//! address gets 429 with `Retry-After` and the form again, unknown
//! usernames alike. How the throttle counts, waits and sheds load is
//! tested in `login-throttle/tests/throttle.rs`.

use std::net::SocketAddr;

use crate::common::{csrf_token, DemoApp, TestApp};
use rocket::http::{ContentType, Status};
use rocket::local::asynchronous::LocalResponse;
use test_support::html::form_body;

const HOME: &str = "192.0.2.10:50000";

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

/// Fails `n` logins of `username` at `/login`.
async fn fail(app: &TestApp, username: &str, n: usize) {
    for i in 0..n {
        let response = login_at(app, "/login", HOME, username, "not-the-password").await;
        assert_eq!(
            response.status(),
            Status::UnprocessableEntity,
            "failure {}",
            i + 1
        );
    }
}

#[rocket::async_test]
async fn the_login_form_is_throttled_for_known_and_unknown_usernames() {
    let app = TestApp::start("throttle-login").await;
    fail(&app, "alice", 5).await;

    let response = login_at(&app, "/login", HOME, "alice", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    assert_eq!(response.headers().get_one("Retry-After"), Some("30"));
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

    // An unknown username is checked against the dummy hash, and waits alike.
    fail(&app, "mallory", 5).await;
    let response = login_at(&app, "/login", HOME, "mallory", "anything").await;
    assert_eq!(response.status(), Status::TooManyRequests);
}

#[rocket::async_test]
async fn the_relogin_form_is_throttled_too() {
    let app = TestApp::start("throttle-relogin").await;
    fail(&app, "alice", 5).await;

    let response = login_at(&app, "/login/1", HOME, "alice", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    let page = response.into_string().await.unwrap_or_default();
    assert!(
        page.contains("action=\"/login/1\""),
        "the relogin form again"
    );
}
