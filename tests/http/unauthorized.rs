//! The 401 catcher: JSON for background requests, a login redirect with a
//! local `next` for browsers, and no open redirect.

use crate::common::{app_with, figment, LibraryApp, TestApp, T0};
use rocket::http::{Header, Status};
use rocket::serde::json::Value;
use rocket::{get, routes};
use rocket_session_security::{local_path, AuthenticatedApi, ManualClock, SessionSecurity};

#[get("/api/me")]
fn api_me(user: AuthenticatedApi) -> String {
    user.user_id
}

#[rocket::async_test]
async fn an_api_route_answers_json_even_to_a_plain_client() {
    let clock = ManualClock::new(T0);
    let fairing = SessionSecurity::fairing().with_clock(clock.clone());
    let rocket = app_with(figment(), fairing).mount("/", routes![api_me]);
    let app = TestApp::launch(rocket, clock).await;
    // No Accept header, no X-Requested-With: what curl sends.
    let response = app.get("/api/me").await;
    assert_eq!(response.status(), Status::Unauthorized);
    assert_eq!(response.headers().get_one("Location"), None);
    let body: Value = response.into_json().await.expect("json");
    assert_eq!(body["error"], "not_signed_in");
    // The same client, signed in, gets the route; a plain page of the
    // same app still redirects a browser to the login page.
    app.login("alice").await;
    assert_eq!(
        app.get("/api/me").await.into_string().await.as_deref(),
        Some("alice")
    );
    let page = TestApp::new().await;
    assert_eq!(page.get("/whoami").await.status(), Status::SeeOther);
}

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
        assert_eq!(body["error"], "not_signed_in", "no session was ever there");
        assert_eq!(body["login_url"], "/login");
    }
}

#[rocket::async_test]
async fn script_or_browser_is_decided_by_the_fetch_mode_first() {
    let app = TestApp::new().await;
    let status = |headers: Vec<Header<'static>>| {
        let mut request = app.client.get("/whoami");
        for header in headers {
            request = request.header(header);
        }
        async move { request.dispatch().await.status() }
    };
    // htmx says so with its own header.
    let htmx = vec![Header::new("HX-Request", "true")];
    assert_eq!(status(htmx).await, Status::Unauthorized);
    // A navigation is a browser's, whatever it accepts.
    let navigation = vec![
        Header::new("Sec-Fetch-Mode", "navigate"),
        Header::new("Accept", "application/json"),
    ];
    assert_eq!(status(navigation).await, Status::SeeOther);
}

#[rocket::async_test]
async fn a_session_that_just_ended_is_session_expired_with_the_relogin_url() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(10);
    let response = app
        .client
        .get("/whoami")
        .header(Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Unauthorized);
    let body: Value = response.into_json().await.expect("json");
    assert_eq!(body["error"], "session_expired");
    assert_eq!(body["relogin_url"], "/login/1");
}

/// Expires alice's session with a background request; returns the
/// `Set-Cookie` headers of that 401.
async fn expire_in_background(app: &TestApp) -> Vec<String> {
    app.advance(10);
    let request = app
        .client
        .get("/whoami")
        .header(Header::new("Accept", "application/json"));
    let response = request.dispatch().await;
    assert_eq!(response.status(), Status::Unauthorized);
    response
        .headers()
        .get("Set-Cookie")
        .map(str::to_owned)
        .collect()
}

#[rocket::async_test]
async fn expiry_cookies_reach_the_browser_even_on_a_401() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let old = app.session_cookie().expect("session").value().to_owned();
    let cookies = expire_in_background(&app).await;
    let session = cookies
        .iter()
        .find(|c| c.starts_with("session_security="))
        .expect("session");
    assert!(
        !session.contains(&old),
        "a fresh anonymous session replaces the dead one"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("session_security_backup=")),
        "{cookies:?}"
    );
}

#[rocket::async_test]
async fn without_relogin_the_dead_session_cookie_is_cleared_on_a_401() {
    let app =
        TestApp::with(crate::common::figment().merge(("session_security.relogin", false))).await;
    app.login("alice").await;
    let cookies = expire_in_background(&app).await;
    assert!(
        cookies.iter().any(|c| c.starts_with("session_security=;")),
        "{cookies:?}"
    );
}

#[rocket::async_test]
async fn open_redirect_attempts_are_refused() {
    let app = TestApp::new().await;
    // The catcher only ever sends `next` = the requested path on this site.
    for path in [
        "/whoami?next=//evil.example",
        "/whoami?next=https://evil.example",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), Status::SeeOther);
        let location = response.headers().get_one("Location").expect("redirect");
        let next = location.strip_prefix("/login?next=").expect("next kept");
        let next = rocket::http::RawStr::new(next).url_decode_lossy();
        assert!(next.starts_with("/whoami?"), "{location}");
        assert_eq!(local_path(&next).map(str::len), Some(next.len()));
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
