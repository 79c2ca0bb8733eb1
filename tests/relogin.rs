//! Relogin at the HTTP level: the backup taken at expiry goes back to the
//! same user only, once, in time, and never to a forged cookie.

mod common;

use common::{figment, TestApp};
use rocket::http::{Cookie, Status};
use rocket_session_security::{after_login, BACKUP_COOKIE};

/// Alice stores a draft, then idles past the limit; the next request
/// logs her out and backs the draft up.
async fn alice_expired_with_a_draft(app: &TestApp) {
    app.login("alice").await;
    app.get("/set/draft/half-typed").await;
    app.advance(10);
    assert_eq!(app.whoami().await, None);
    assert!(
        app.client.cookies().get(BACKUP_COOKIE).is_some(),
        "backup cookie set"
    );
}

/// Calls `after_relogin`; returns whether the page reports the same user.
async fn after_relogin(app: &TestApp) -> bool {
    let response = app.get("/session_security/after_relogin").await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        response.headers().get_one("X-Frame-Options"),
        Some("SAMEORIGIN")
    );
    let html = response.into_string().await.expect("html");
    match (
        html.contains(r#""sameUser":true"#),
        html.contains(r#""sameUser":false"#),
    ) {
        (true, false) => true,
        (false, true) => false,
        _ => panic!("page does not say who came back: {html}"),
    }
}

async fn draft(app: &TestApp) -> String {
    app.get("/get/draft")
        .await
        .into_string()
        .await
        .unwrap_or_default()
}

#[rocket::async_test]
async fn same_user_gets_the_data_back_under_a_new_token() {
    let app = TestApp::new().await;
    alice_expired_with_a_draft(&app).await;
    app.login("alice").await;
    let after_login = app.session_cookie().expect("session");
    assert!(after_relogin(&app).await);
    assert_eq!(draft(&app).await, "half-typed");
    let after_restore = app.session_cookie().expect("session");
    assert_ne!(
        after_login.value(),
        after_restore.value(),
        "new token after restore"
    );
    assert!(
        app.client.cookies().get(BACKUP_COOKIE).is_none(),
        "backup cookie cleared"
    );
}

#[rocket::async_test]
async fn keys_written_at_login_win_over_the_backup() {
    let app = TestApp::new().await;
    alice_expired_with_a_draft(&app).await;
    app.get("/set/draft/newer").await;
    app.login("alice").await;
    assert!(after_relogin(&app).await);
    assert_eq!(draft(&app).await, "newer");
}

#[rocket::async_test]
async fn another_user_gets_nothing_and_the_backup_is_gone() {
    let app = TestApp::new().await;
    alice_expired_with_a_draft(&app).await;
    let backup = app
        .client
        .cookies()
        .get(BACKUP_COOKIE)
        .cloned()
        .expect("backup");
    app.login("bob").await;
    assert!(!after_relogin(&app).await);
    assert_eq!(draft(&app).await, "");

    // Even with the cookie put back, alice's backup no longer exists.
    app.login("alice").await;
    let response = app
        .client
        .get("/session_security/after_relogin")
        .cookie(backup)
        .dispatch();
    let html = response.await.into_string().await.unwrap_or_default();
    assert!(html.contains(r#""sameUser":false"#));
    assert_eq!(draft(&app).await, "");
}

#[rocket::async_test]
async fn a_backup_is_single_use() {
    let app = TestApp::new().await;
    alice_expired_with_a_draft(&app).await;
    let backup = app
        .client
        .cookies()
        .get(BACKUP_COOKIE)
        .cloned()
        .expect("backup");
    app.login("alice").await;
    assert!(after_relogin(&app).await);
    app.get("/set/draft/changed").await;
    let replay = app
        .client
        .get("/session_security/after_relogin")
        .cookie(backup)
        .dispatch();
    let html = replay.await.into_string().await.unwrap_or_default();
    assert!(
        html.contains(r#""sameUser":false"#),
        "second use restores nothing"
    );
    assert_eq!(draft(&app).await, "changed");
}

#[rocket::async_test]
async fn an_expired_backup_restores_nothing() {
    let app = TestApp::with(figment().merge(("session_security.backup_ttl", 60))).await;
    alice_expired_with_a_draft(&app).await;
    app.advance(60);
    app.login("alice").await;
    assert!(!after_relogin(&app).await);
    assert_eq!(draft(&app).await, "");
}

#[rocket::async_test]
async fn backup_cookie_flags() {
    let app = TestApp::with(figment().merge(("session_security.cookie_secure", true))).await;
    app.login("alice").await;
    app.advance(10);
    let response = app.get("/get/draft").await;
    let cookies: Vec<_> = response.headers().get("Set-Cookie").collect();
    let backup = cookies
        .iter()
        .find(|c| c.starts_with("session_security_backup="))
        .expect("backup cookie");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Max-Age=3600",
        "Path=/",
    ] {
        assert!(backup.contains(flag), "{flag} missing in {backup}");
    }
}

#[rocket::async_test]
async fn no_backup_when_relogin_is_off() {
    let app = TestApp::with(figment().merge(("session_security.relogin", false))).await;
    app.login("alice").await;
    app.get("/set/draft/x").await;
    app.advance(10);
    assert_eq!(app.whoami().await, None);
    assert!(app.client.cookies().get(BACKUP_COOKIE).is_none());
}

#[rocket::async_test]
async fn a_forged_backup_cookie_gets_nothing() {
    let app = TestApp::new().await;
    alice_expired_with_a_draft(&app).await;
    app.login("alice").await;
    for forged in ["A".repeat(43), "garbage".into(), String::new()] {
        let cookie = Cookie::new(BACKUP_COOKIE, forged);
        let response = app
            .client
            .get("/session_security/after_relogin")
            .cookie(cookie)
            .dispatch();
        let html = response.await.into_string().await.unwrap_or_default();
        assert!(html.contains(r#""sameUser":false"#));
    }
    assert_eq!(draft(&app).await, "");
}

#[rocket::async_test]
async fn after_relogin_needs_a_logged_in_user() {
    let app = TestApp::new().await;
    let response = app.get("/session_security/after_relogin").await;
    assert_eq!(response.status(), Status::SeeOther);
}

#[rocket::async_test]
async fn the_login_page_may_be_framed_by_its_own_origin_only() {
    let app = TestApp::new().await;
    let response = app.get("/login/1").await;
    assert_eq!(
        response.headers().get_one("X-Frame-Options"),
        Some("SAMEORIGIN")
    );
    assert_eq!(
        response.headers().get_one("Content-Security-Policy"),
        Some("frame-ancestors 'self'")
    );
}

#[test]
fn after_login_redirects() {
    let location = |r: rocket::response::Redirect| format!("{r:?}");
    assert!(location(after_login(true, Some("/x"))).contains("/session_security/after_relogin"));
    assert!(location(after_login(false, Some("/contacts"))).contains("/contacts"));
    assert!(!location(after_login(false, Some("//evil.example"))).contains("evil"));
}
