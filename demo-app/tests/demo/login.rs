//! Login, logout, and what an anonymous request gets.

use crate::common::{accept_json, csrf_token, location, DemoApp, TestApp};
use rocket::http::{ContentType, Status};

#[rocket::async_test]
async fn the_right_password_signs_in_and_goes_to_next() {
    let app = TestApp::start("login-ok").await;
    let (status, page) = app.page("/login?next=/contacts").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("name=\"username\"") && page.contains("name=\"password\""));
    assert!(
        page.contains("action=\"/login?next=/contacts\""),
        "next stays in the query of the form's action"
    );
    let token = csrf_token(&page).expect("token");

    let fields = [
        ("csrf_token", token.as_str()),
        ("username", "alice"),
        ("password", "alice-demo-pass"),
    ];
    let response = app.post_form("/login?next=/contacts", &fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/contacts");

    let (status, page) = app.page("/contacts").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Alice Archer"), "the header names the user");
    assert!(
        page.contains("Welcome, Alice Archer."),
        "flash message after login"
    );
}

#[rocket::async_test]
async fn a_wrong_password_leaves_you_anonymous() {
    let app = TestApp::start("login-wrong").await;
    let response = app.login("alice", "not-her-password").await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let page = response.into_string().await.unwrap_or_default();
    assert!(page.contains("That username and password do not match."));
    assert!(page.contains("value=\"alice\""), "the username is kept");

    let response = app.client.get("/").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/login?next=%2F");
}

#[rocket::async_test]
async fn an_unknown_user_is_refused_like_a_wrong_password() {
    let app = TestApp::start("login-unknown").await;
    let response = app.login("mallory", "alice-demo-pass").await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let page = response.into_string().await.unwrap_or_default();
    assert!(page.contains("That username and password do not match."));
    assert_eq!(app.page("/").await.0, Status::SeeOther);
}

#[rocket::async_test]
async fn next_never_leaves_the_site() {
    let app = TestApp::start("login-next").await;
    let (_, page) = app.page("/login").await;
    let token = csrf_token(&page).expect("token");
    let fields = [
        ("csrf_token", token.as_str()),
        ("username", "alice"),
        ("password", "alice-demo-pass"),
    ];
    let response = app
        .post_form("/login?next=//evil.example/phish", &fields)
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/");
}

#[rocket::async_test]
async fn a_relogin_ends_at_the_librarys_after_relogin_page() {
    let app = TestApp::start("login-relogin").await;
    let (status, page) = app.page("/login/1").await;
    assert_eq!(status, Status::Ok);
    assert!(
        page.contains("action=\"/login/1\""),
        "the relogin form posts back to /login/1"
    );
    let token = csrf_token(&page).expect("token");
    let fields = [
        ("csrf_token", token.as_str()),
        ("username", "alice"),
        ("password", "alice-demo-pass"),
    ];
    let response = app.post_form("/login/1", &fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/session_security/after_relogin");
}

#[rocket::async_test]
async fn protected_pages_send_browsers_to_login_and_scripts_get_json() {
    let app = TestApp::start("login-required").await;
    for path in [
        "/",
        "/contacts",
        "/companies/1",
        "/deals?stage=won",
        "/contacts/new",
    ] {
        let response = app.client.get(path).dispatch().await;
        assert_eq!(response.status(), Status::SeeOther, "{path}");
        assert!(
            location(&response).starts_with("/login?next=%2F"),
            "{path}: {}",
            location(&response)
        );
    }

    // A script that never signed in is sent to the login; one whose
    // session has just ended, to the relogin.
    let body = script_asks_for_deals(&app).await;
    assert_eq!(body["error"], "not_signed_in");
    assert_eq!(body["login_url"], "/login");

    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    app.clock.advance(601);
    let body = script_asks_for_deals(&app).await;
    assert_eq!(body["error"], "session_expired");
    assert_eq!(body["relogin_url"], "/login/1");
}

/// `GET /deals` as a script asks for it: its 401 answer.
async fn script_asks_for_deals(app: &TestApp) -> serde_json::Value {
    let response = app
        .client
        .get("/deals")
        .header(accept_json())
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Unauthorized);
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    response.into_json().await.expect("JSON body")
}

#[rocket::async_test]
async fn logout_ends_the_session() {
    let app = TestApp::start("logout").await;
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    let token = app.csrf().await;

    // Without the token, another site cannot sign the user out.
    let response = app.post_form("/logout", &[]).await;
    assert_eq!(response.status(), Status::Forbidden);
    assert_eq!(app.page("/").await.0, Status::Ok, "still signed in");

    let response = app.post_form("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/login");
    let (status, page) = app.page("/login").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("You are signed out."));

    let response = app.client.get("/").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther, "signed out for good");
}

#[rocket::async_test]
async fn pages_carry_the_security_headers_and_the_stylesheet_is_served() {
    let app = TestApp::start("headers").await;
    let response = app.client.get("/login").dispatch().await;
    let csp = response
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap_or_default();
    assert_eq!(csp, "default-src 'self'; frame-ancestors 'self'");
    assert_eq!(
        response.headers().get_one("X-Frame-Options"),
        Some("SAMEORIGIN")
    );
    let page = response.into_string().await.unwrap_or_default();
    assert!(!page.contains("style=\""), "no inline styles under the CSP");
    assert!(
        !page.contains("<script>"),
        "no inline scripts under the CSP"
    );

    let response = app.client.get("/static/app.css").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::CSS));
}
