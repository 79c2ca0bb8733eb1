//! Relogin at the HTTP level: the backup taken at expiry goes back to the
//! same user only, once, in time, and never to a forged cookie.

use crate::common::{figment, LibraryApp, TestApp};
use rocket::http::{Cookie, Status};
use rocket::serde::json::{serde_json, Value};
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

/// The message the `after_relogin` page posts to the relogin dialog.
async fn relogin_message(app: &TestApp, backup: Option<Cookie<'static>>) -> Value {
    let mut request = app.client.get("/session_security/after_relogin");
    if let Some(cookie) = backup {
        request = request.cookie(cookie);
    }
    let response = request.dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        response.headers().get_one("X-Frame-Options"),
        Some("SAMEORIGIN")
    );
    let html = response.into_string().await.expect("html");
    let marker = "id=\"session_security_relogin_result\">";
    let start = html.find(marker).expect("message") + marker.len();
    let end = start + html[start..].find("</script>").expect("end of message");
    serde_json::from_str(&html[start..end]).expect("message JSON")
}

/// What the server says of the user: `Some(true)` same, `Some(false)`
/// another, `None` unknown (no usable backup).
async fn after_relogin(app: &TestApp) -> Option<bool> {
    relogin_message(app, None).await["sameUser"].as_bool()
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
    assert_eq!(after_relogin(&app).await, Some(true));
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
    assert_eq!(after_relogin(&app).await, Some(true));
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
    let message = relogin_message(&app, None).await;
    assert_eq!(message["sameUser"], false);
    assert_eq!(message["restored"], false);
    assert_eq!(draft(&app).await, "");

    // Even with the cookie put back, alice's backup no longer exists.
    app.login("alice").await;
    let message = relogin_message(&app, Some(backup)).await;
    assert_eq!(message["sameUser"], Value::Null);
    assert_eq!(message["restored"], false);
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
    assert_eq!(relogin_message(&app, None).await["restored"], true);
    app.get("/set/draft/changed").await;
    let replay = relogin_message(&app, Some(backup)).await;
    assert_eq!(replay["restored"], false, "second use restores nothing");
    assert_eq!(draft(&app).await, "changed");
}

#[rocket::async_test]
async fn an_expired_backup_restores_nothing() {
    let app = TestApp::with(figment().merge(("session_security.backup_ttl", 60))).await;
    app.login("alice").await;
    app.get("/set/draft/half-typed").await;
    // Ended at 10 s idle; the browser only comes back at 30 s. The backup's
    // 60 s run from the end: it is void at 70 s, not at 90 s.
    app.advance(30);
    assert_eq!(app.whoami().await, None);
    app.advance(40);
    app.login("alice").await;
    let message = relogin_message(&app, None).await;
    assert_eq!(
        message["sameUser"], true,
        "still the same user: the page stays"
    );
    assert_eq!(message["restored"], false, "but the data waited too long");
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
        .find(|c| c.starts_with("__Host-session_security_backup="))
        .expect("backup cookie, __Host- prefixed");
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
        let message = relogin_message(&app, Some(Cookie::new(BACKUP_COOKIE, forged))).await;
        assert_eq!(message["restored"], false);
        assert_eq!(message["sameUser"], Value::Null);
    }
    assert_eq!(draft(&app).await, "");
}

#[rocket::async_test]
async fn the_message_tags_the_user_for_pages_without_a_backup() {
    let alice = TestApp::new().await;
    alice.login("alice").await;
    let bob = TestApp::new().await;
    bob.login("bob").await;
    let (a, b) = (
        relogin_message(&alice, None).await,
        relogin_message(&bob, None).await,
    );
    let tag = |m: &Value| m["userTag"].as_str().expect("tag").to_owned();
    assert_ne!(tag(&a), tag(&b));
    assert!(!tag(&a).contains("alice"), "opaque");
    assert_eq!(tag(&a), tag(&relogin_message(&alice, None).await), "stable");
}

#[rocket::async_test]
async fn a_visit_without_the_backup_cookie_leaves_it_alone() {
    // A cross-site link carries the Lax session cookie but not the Strict
    // backup cookie: that visit must not tell the browser to drop it.
    let app = TestApp::new().await;
    app.login("alice").await;
    let response = app.get("/session_security/after_relogin").await;
    let cookies: Vec<_> = response.headers().get("Set-Cookie").collect();
    assert!(
        !cookies
            .iter()
            .any(|c| c.starts_with("session_security_backup=")),
        "{cookies:?}"
    );
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
    for page in ["/login/1", "/login/true", "/login"] {
        let response = app.get(page).await;
        let headers = response.headers();
        assert_eq!(
            headers.get_one("X-Frame-Options"),
            Some("SAMEORIGIN"),
            "{page}"
        );
        let policy = headers.get_one("Content-Security-Policy");
        assert_eq!(policy, Some("frame-ancestors 'self'"), "{page}");
    }
    let other = app.get("/get/draft").await;
    assert_eq!(
        other.headers().get_one("Content-Security-Policy"),
        None,
        "login pages only"
    );
}

#[test]
fn after_login_redirects() {
    let location = |r: rocket::response::Redirect| format!("{r:?}");
    assert!(location(after_login(true, Some("/x"))).contains("/session_security/after_relogin"));
    assert!(location(after_login(false, Some("/contacts"))).contains("/contacts"));
    assert!(!location(after_login(false, Some("//evil.example"))).contains("evil"));
}

#[test]
fn the_relogin_parameter_reads_common_spellings() {
    use rocket::request::FromParam;
    use rocket_session_security::Relogin;
    for yes in ["1", "true", "True", "yes", "on"] {
        assert_eq!(Relogin::from_param(yes), Ok(Relogin(true)), "{yes}");
    }
    for no in ["0", "false", "no", "off"] {
        assert_eq!(Relogin::from_param(no), Ok(Relogin(false)), "{no}");
    }
    assert!(Relogin::from_param("2").is_err());
    assert!(Relogin::from_param("").is_err());
}

#[rocket::async_test]
async fn an_explicit_logout_deletes_the_backup_and_its_cookie() {
    let app = TestApp::new().await;
    alice_expired_with_a_draft(&app).await;
    let backup = app.client.cookies().get(BACKUP_COOKIE).cloned();
    app.login("alice").await;
    app.get("/logout").await;
    assert!(
        app.client.cookies().get(BACKUP_COOKIE).is_none(),
        "backup cookie cleared at logout"
    );
    app.login("alice").await;
    assert_eq!(
        relogin_message(&app, backup).await["restored"],
        Value::from(false),
        "nothing left to restore, even with the old cookie"
    );
    assert_eq!(draft(&app).await, "");
}

#[rocket::async_test]
async fn keys_marked_not_restorable_stay_out_of_the_relogin() {
    let figment = crate::common::figment().merge((
        "session_security.not_restorable",
        ["mfa_verified_at", "confirmed_*"],
    ));
    let app = TestApp::with(figment).await;
    app.login("alice").await;
    app.get("/set/draft/half-typed").await;
    app.get("/set/mfa_verified_at/1700000000").await;
    app.get("/set/confirmed_transfer/yes").await;
    app.advance(11);
    assert_eq!(app.whoami().await, None, "expired, backed up");
    app.login("alice").await;
    assert_eq!(after_relogin(&app).await, Some(true));
    assert_eq!(draft(&app).await, "half-typed", "ordinary data comes back");
    for key in ["mfa_verified_at", "confirmed_transfer"] {
        assert_eq!(
            app.page(&format!("/get/{key}")).await.1,
            "",
            "{key} must be earned again"
        );
    }
}
