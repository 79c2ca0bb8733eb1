//! CSRF tokens: checked on unsafe methods, rotated at login, keepalive.

use crate::common::{LibraryApp, TestApp};
use rocket::http::{ContentType, Header, Status};
use rocket::serde::json::Value;
use rocket_session_security::{SessionStore, SqlStore};

async fn post_note(app: &TestApp, body: String) -> (Status, Option<String>) {
    let response = app
        .client
        .post("/note")
        .header(ContentType::Form)
        .body(body)
        .dispatch()
        .await;
    (response.status(), response.into_string().await)
}

#[rocket::async_test]
async fn form_with_the_session_token_goes_through() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let token = app.csrf().await;
    let (status, body) = post_note(&app, format!("text=hello+world%21&csrf_token={token}")).await;
    assert_eq!(
        (status, body.as_deref()),
        (Status::Ok, Some("hello world!"))
    );
}

#[rocket::async_test]
async fn missing_or_wrong_token_is_refused_before_the_handler() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let token = app.csrf().await;
    for body in [
        "text=x".to_owned(),
        "text=x&csrf_token=".to_owned(),
        format!("text=x&csrf_token={}x", token),
        format!("text=x&csrf_token={}", &token[1..]),
    ] {
        assert_eq!(
            post_note(&app, body.clone()).await.0,
            Status::Forbidden,
            "{body}"
        );
    }
}

#[rocket::async_test]
async fn token_rotates_at_login() {
    let app = TestApp::new().await;
    let before = app.csrf().await;
    app.login("alice").await;
    let after = app.csrf().await;
    assert_ne!(before, after);
    let (status, _) = post_note(&app, format!("text=x&csrf_token={before}")).await;
    assert_eq!(status, Status::Forbidden, "pre-login token no longer valid");
}

#[rocket::async_test]
async fn header_token_for_scripts() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let token = app.csrf().await;
    let ok = app
        .client
        .post("/api/note")
        .header(Header::new("X-CSRF-Token", token))
        .dispatch();
    assert_eq!(ok.await.status(), Status::Ok);
    let bad = app
        .client
        .post("/api/note")
        .header(Header::new("X-CSRF-Token", "nope"))
        .dispatch();
    assert_eq!(bad.await.status(), Status::Forbidden);
    assert_eq!(
        app.client.post("/api/note").dispatch().await.status(),
        Status::Forbidden
    );
}

#[rocket::async_test]
async fn keepalive_counts_as_activity_and_needs_the_token() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let token = app.csrf().await;
    app.advance(4);
    let refused = app
        .client
        .post("/session_security/keepalive")
        .dispatch()
        .await;
    assert_eq!(refused.status(), Status::Forbidden);
    assert_eq!(app.server_idle().await, Some(4));
    let response = app
        .client
        .post("/session_security/keepalive")
        .header(Header::new("X-CSRF-Token", token))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    let answer: Value = response.into_json().await.unwrap();
    assert_eq!(answer["idle"], 0);
    assert_eq!(app.server_idle().await, Some(0));
}

#[rocket::async_test]
async fn logout_route_needs_the_token() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let token = app.csrf().await;
    let refused = app.client.post("/session_security/logout").dispatch().await;
    assert_eq!(refused.status(), Status::Forbidden);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    let response = app
        .client
        .post("/session_security/logout")
        .header(Header::new("X-CSRF-Token", token))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(app.whoami().await, None);
}

#[rocket::async_test]
async fn the_token_is_masked_anew_in_every_response_and_each_form_works() {
    // BREACH: a compressed page that also reflects input must not carry the
    // same token bytes twice.
    let app = TestApp::new().await;
    app.login("alice").await;
    let (one, two) = (app.csrf().await, app.csrf().await);
    assert_ne!(one, two, "masked with fresh bytes each time");
    let config = app.page("/dialogs-config").await.1;
    assert!(
        !config.contains(&one) && !config.contains(&two),
        "the page's copy differs too"
    );
    for token in [&one, &two] {
        let (status, _) = post_note(&app, format!("text=x&csrf_token={token}")).await;
        assert_eq!(status, Status::Ok);
    }
    let url: String = app
        .figment()
        .extract_inner("databases.session_security.url")
        .expect("url");
    let store = SqlStore::connect(&url).await.expect("store");
    let stored = store
        .load(&app.token_hash())
        .await
        .unwrap()
        .unwrap()
        .csrf_token;
    let (status, _) = post_note(&app, format!("text=x&csrf_token={stored}")).await;
    assert_eq!(
        status,
        Status::Ok,
        "the plain token, as older pages send it"
    );
    let mut forged = one.clone().into_bytes();
    forged[50] = if forged[50] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let (status, _) = post_note(&app, format!("text=x&csrf_token={forged}")).await;
    assert_eq!(status, Status::Forbidden, "one byte changed");
}
