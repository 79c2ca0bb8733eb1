//! Pages are bound to their user: the user tag is an HMAC under a key the
//! store keeps, ping and keepalive with another user's tag answer
//! `"logout"` and leave that user's session alone, and the user cookie
//! tells the other tabs who is signed in.

use crate::common::{figment, LibraryApp, TestApp};
use rocket::http::{Header, Status};
use rocket::serde::json::Value;
use rocket_session_security::{SIGNED_OUT, USER_COOKIE};

/// What these tests ask of the app, beyond [`LibraryApp`].
trait Binding {
    fn user_cookie(&self) -> Option<String>;
    async fn tag_of(&self, user: &str) -> String;
    async fn json(&self, path: &str) -> Value;
    async fn keepalive(&self, csrf: &str, tag: &str) -> (Status, Option<Value>);
}

impl Binding for TestApp {
    /// The user cookie's value in this browser, if any.
    fn user_cookie(&self) -> Option<String> {
        self.client
            .cookies()
            .get(USER_COOKIE)
            .map(|c| c.value().to_owned())
    }

    /// Logs in and answers the user tag the cookie now holds.
    async fn tag_of(&self, user: &str) -> String {
        self.login(user).await;
        self.user_cookie().expect("a user cookie after login")
    }

    async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), Status::Ok, "{path}");
        response.into_json().await.expect("json")
    }

    async fn keepalive(&self, csrf: &str, tag: &str) -> (Status, Option<Value>) {
        let response = self
            .client
            .post(format!("/session_security/keepalive?tag={tag}"))
            .header(Header::new("X-CSRF-Token", csrf.to_owned()))
            .dispatch()
            .await;
        (response.status(), response.into_json().await)
    }
}

#[rocket::async_test]
async fn a_ping_with_another_users_tag_is_logout_and_changes_nothing() {
    let app = TestApp::new().await;
    let alice = app.tag_of("alice").await;
    let bob = app.tag_of("bob").await;
    assert_ne!(alice, bob);
    app.advance(3);
    assert_eq!(
        app.json(&format!("/session_security/ping?idleFor=0&tag={alice}"))
            .await,
        Value::from("logout")
    );
    assert_eq!(app.server_idle().await, Some(3), "bob's idle time kept");
    assert_eq!(
        app.json(&format!("/session_security/ping?idleFor=0&tag={bob}"))
            .await,
        Value::from(0),
        "his own page's ping merges"
    );
}

#[rocket::async_test]
async fn a_ping_with_a_tag_and_no_session_is_logout() {
    let app = TestApp::new().await;
    let alice = app.tag_of("alice").await;
    app.get("/logout").await;
    assert_eq!(
        app.json(&format!("/session_security/ping?tag={alice}"))
            .await,
        Value::from("logout")
    );
}

#[rocket::async_test]
async fn a_bad_idle_for_is_refused_whatever_the_tag() {
    let app = TestApp::new().await;
    app.tag_of("alice").await;
    let response = app
        .get("/session_security/ping?idleFor=-1&tag=nobody")
        .await;
    assert_eq!(response.status(), Status::BadRequest);
}

#[rocket::async_test]
async fn a_keepalive_from_another_users_page_does_not_extend_the_session() {
    let app = TestApp::new().await;
    let alice = app.tag_of("alice").await;
    let bob = app.tag_of("bob").await;
    let csrf = app.csrf().await;
    app.advance(3);
    assert_eq!(
        app.keepalive(&csrf, &alice).await,
        (Status::Ok, Some(Value::from("logout")))
    );
    assert_eq!(app.server_idle().await, Some(3));
    let (status, answer) = app.keepalive(&csrf, &bob).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(answer.expect("json")["idle"], 0);
}

#[rocket::async_test]
async fn a_keepalive_without_the_csrf_token_is_still_refused() {
    let app = TestApp::new().await;
    let alice = app.tag_of("alice").await;
    app.advance(3);
    let response = app
        .client
        .post(format!("/session_security/keepalive?tag={alice}"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Forbidden);
    assert_eq!(app.server_idle().await, Some(3), "no activity");
}

#[rocket::async_test]
async fn the_user_cookie_follows_sign_in_and_sign_out() {
    let app = TestApp::new().await;
    assert_eq!(app.user_cookie(), None);
    app.csrf().await; // an anonymous session
    assert_eq!(app.user_cookie(), None, "anonymous: no tag");
    let alice = app.tag_of("alice").await;
    assert_eq!(alice.len(), 32, "128 bits, hex");
    app.get("/logout").await;
    assert_eq!(app.user_cookie().as_deref(), Some(SIGNED_OUT));
    app.csrf().await;
    assert_eq!(
        app.user_cookie().as_deref(),
        Some(SIGNED_OUT),
        "the login page keeps the marker for the other tabs"
    );
    assert_eq!(app.tag_of("alice").await, alice, "a stable tag");
}

#[rocket::async_test]
async fn the_crates_logout_route_signs_out_too() {
    let app = TestApp::new().await;
    app.tag_of("alice").await;
    let csrf = app.csrf().await;
    let response = app
        .client
        .post("/session_security/logout")
        .header(Header::new("X-CSRF-Token", csrf))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(app.user_cookie().as_deref(), Some(SIGNED_OUT));
}

#[rocket::async_test]
async fn expiry_removes_the_user_cookie() {
    let app = TestApp::new().await;
    app.tag_of("alice").await;
    app.advance(11);
    assert_eq!(app.whoami().await, None);
    assert_eq!(app.user_cookie(), None);
}

#[rocket::async_test]
async fn the_cookie_is_readable_by_the_page() {
    let app = TestApp::new().await;
    let response = app.get("/login/alice").await;
    let set = response
        .headers()
        .get("Set-Cookie")
        .find(|c| c.starts_with(USER_COOKIE))
        .expect("a user cookie")
        .to_owned();
    assert!(!set.contains("HttpOnly"), "{set}");
    assert!(
        set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );
}

#[rocket::async_test]
async fn instances_on_one_store_tag_alike_and_other_stores_do_not() {
    let shared = figment();
    let one = TestApp::with(shared.clone()).await;
    let two = TestApp::with(shared).await;
    let other = TestApp::new().await;
    let tag = one.tag_of("alice").await;
    assert_eq!(two.tag_of("alice").await, tag);
    assert_ne!(other.tag_of("alice").await, tag, "a key per store");
}

#[rocket::async_test]
async fn the_page_config_names_the_tag_and_the_cookie() {
    let app = TestApp::new().await;
    let tag = app.tag_of("alice").await;
    let config: Value = app.json("/dialogs-config").await;
    assert_eq!(config["userTag"], Value::from(tag));
    assert_eq!(config["userCookie"], Value::from(USER_COOKIE));
    assert_eq!(config["loginUrl"], Value::from("/login"));
}
