//! The 401 catcher: JSON for background requests, a login redirect with a
//! local `next` for browsers, and no open redirect.

mod common;

use common::TestApp;
use rocket::http::{Header, Status};
use rocket::serde::json::Value;
use rocket_session_security::local_path;

#[rocket::async_test]
async fn browsers_are_sent_to_the_login_page_with_next() {
    let app = TestApp::new().await;
    let response = app.get("/whoami?tab=2").await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(
        response.headers().get_one("Location"),
        Some("/login?next=%2Fwhoami%3Ftab%3D2")
    );
}

#[rocket::async_test]
async fn background_requests_get_json_not_a_redirect() {
    let app = TestApp::new().await;
    for header in [
        Header::new("Accept", "application/json"),
        Header::new("X-Requested-With", "XMLHttpRequest"),
    ] {
        let response = app.client.get("/whoami").header(header).dispatch().await;
        assert_eq!(response.status(), Status::Unauthorized);
        assert_eq!(response.headers().get_one("Location"), None);
        let body: Value = response.into_json().await.expect("json");
        assert_eq!(body["error"], "session_expired");
        assert_eq!(body["relogin_url"], "/login/1");
    }
}

#[rocket::async_test]
async fn expired_background_request_gets_the_json_contract() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(10);
    let response = app
        .client
        .get("/whoami")
        .header(Header::new("Accept", "application/json"))
        .dispatch();
    let response = response.await;
    assert_eq!(response.status(), Status::Unauthorized);
    let cookies: Vec<_> = response.headers().get("Set-Cookie").collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("session_security=;")),
        "the dead session cookie is cleared even on a 401: {cookies:?}"
    );
}

#[rocket::async_test]
async fn open_redirect_attempts_are_refused() {
    let app = TestApp::new().await;
    for path in ["//evil.example/whoami", "/\\evil.example/whoami"] {
        let response = app.get(path).await;
        // Rocket may not route such a path at all; if it does, `next` stays local.
        let Some(location) = response.headers().get_one("Location") else {
            continue;
        };
        if let Some(next) = location.strip_prefix("/login?next=") {
            let next = rocket::http::RawStr::new(next).url_decode_lossy();
            assert!(local_path(&next).is_some(), "{location}");
        } else {
            assert_eq!(location, "/login");
        }
    }
    for evil in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/ok\r\nLocation: https://evil.example",
        "",
    ] {
        assert_eq!(local_path(evil), None, "{evil:?}");
    }
    assert_eq!(local_path("/contacts?q=a//b"), Some("/contacts?q=a//b"));
}
