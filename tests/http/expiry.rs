//! Server-side inactivity expiry, ported from the original's suite and
//! extended: absolute limit, passive routes, token rotation, bad cookies.

use crate::common::{figment, LibraryApp, TestApp};
use rocket::http::{Cookie, Status};

#[rocket::async_test]
async fn auto_logout_once_expire_after_has_passed() {
    let app = TestApp::new().await;
    app.login("alice").await;
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    app.advance(10);
    assert_eq!(app.whoami().await, None);
    app.advance(-10);
    assert_eq!(app.whoami().await, None, "an expired session stays dead");
}

#[rocket::async_test]
async fn just_inside_the_limit_is_still_logged_in() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(9);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
}

#[rocket::async_test]
async fn browsing_without_javascript_keeps_the_session() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.get("/whoami").await;
    app.advance(9);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    app.advance(5);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
}

#[rocket::async_test]
async fn ping_with_idle_for_keeps_the_session() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.get("/whoami").await;
    app.advance(9);
    let (status, idle) = app.ping(Some("1")).await;
    assert_eq!((status, idle.as_i64()), (Status::Ok, Some(1)));
    app.advance(5);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
}

#[rocket::async_test]
async fn passive_route_name_does_not_update_last_activity() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(2);
    app.get("/whoami").await;
    assert_eq!(app.server_idle().await, Some(0));
    app.advance(2);
    assert_eq!(app.get("/passive").await.status(), Status::Ok);
    assert_eq!(
        app.server_idle().await,
        Some(2),
        "stamp still that of /whoami"
    );
    app.advance(2);
    app.get("/whoami").await;
    assert_eq!(
        app.server_idle().await,
        Some(0),
        "an active route does update it"
    );
}

#[rocket::async_test]
async fn passive_path_does_not_update_last_activity() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(3);
    assert_eq!(app.get("/passive-path").await.status(), Status::Ok);
    assert_eq!(app.server_idle().await, Some(3));
}

#[rocket::async_test]
async fn passive_request_still_logs_an_expired_session_out() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(10);
    let response = app.get("/passive").await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(app.whoami().await, None);
}

#[rocket::async_test]
async fn absolute_limit_ends_a_busy_session() {
    let app = TestApp::with(figment().merge(("session_security.absolute_after", 30))).await;
    app.login("alice").await;
    for _ in 0..5 {
        app.advance(5);
        assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    }
    app.advance(5);
    assert_eq!(
        app.whoami().await,
        None,
        "30 s after login, activity or not"
    );
}

#[rocket::async_test]
async fn login_issues_a_new_token_and_kills_the_old_one() {
    let app = TestApp::new().await;
    app.get("/set/cart/3").await;
    let anonymous = app.session_cookie().expect("anonymous session cookie");
    app.login("alice").await;
    let first = app.session_cookie().expect("session cookie");
    assert_ne!(anonymous.value(), first.value(), "session fixation");
    assert_eq!(
        app.get("/get/cart").await.into_string().await.as_deref(),
        Some("3")
    );

    app.login("alice").await;
    let second = app.session_cookie().expect("session cookie");
    assert_ne!(first.value(), second.value());

    let replay = app
        .client
        .get("/whoami")
        .cookie(first.clone())
        .dispatch()
        .await;
    assert_eq!(replay.status(), Status::SeeOther, "old token is dead");
}

#[rocket::async_test]
async fn logout_deletes_the_session_server_side() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let cookie = app.session_cookie().expect("session cookie");
    app.get("/logout").await;
    assert_eq!(app.whoami().await, None);
    let replay = app.client.get("/whoami").cookie(cookie).dispatch().await;
    assert_eq!(
        replay.status(),
        Status::SeeOther,
        "the token is gone from the store"
    );
}

#[rocket::async_test]
async fn forged_or_garbled_cookies_are_anonymous_never_an_error() {
    let app = TestApp::new().await;
    let forged = [
        "x".repeat(43),
        "A".repeat(43),
        "not a token".into(),
        "%00%ff".into(),
        "é".repeat(40),
        "a".repeat(5000),
        String::new(),
    ];
    for value in forged {
        let cookie = Cookie::new(rocket_session_security::SESSION_COOKIE, value.clone());
        let response = app.client.get("/whoami").cookie(cookie).dispatch().await;
        assert_eq!(response.status(), Status::SeeOther, "cookie {value:?}");
    }
    let (status, answer) = app.ping(Some("1")).await;
    assert_eq!((status, answer.as_str()), (Status::Ok, Some("logout")));
}

#[rocket::async_test]
async fn session_data_survives_between_requests() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.get("/set/draft/hello").await;
    assert_eq!(
        app.get("/get/draft").await.into_string().await.as_deref(),
        Some("hello")
    );
}

#[rocket::async_test]
async fn authenticated_responses_are_not_cached() {
    let app = TestApp::new().await;
    let anonymous = app.get("/get/x").await;
    assert_eq!(anonymous.headers().get_one("Cache-Control"), None);
    app.login("alice").await;
    let response = app.get("/whoami").await;
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
    app.advance(10);
    let expired = app.get("/get/x").await;
    assert_eq!(expired.headers().get_one("Cache-Control"), Some("no-store"));
}

#[rocket::async_test]
async fn session_cookie_flags() {
    let app = TestApp::with(figment().merge(("session_security.cookie_secure", true))).await;
    let response = app.get("/login/alice").await;
    let set_cookie: Vec<_> = response.headers().get("Set-Cookie").collect();
    let ours = set_cookie
        .iter()
        .find(|c| c.starts_with("__Host-session_security="))
        .expect("session cookie set, __Host- prefixed");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(ours.contains(flag), "{flag} missing in {ours}");
    }
    let value = ours
        .trim_start_matches("__Host-session_security=")
        .split(';')
        .next()
        .unwrap_or("");
    assert!(value.len() >= 22, "at least 128 bits of token");
}

/// Managers get 6 s, everyone else the configured 10 s.
struct Managers;

#[rocket::async_trait]
impl rocket_session_security::UserTimeouts for Managers {
    async fn expire_after(&self, _: &rocket::Rocket<rocket::Orbit>, user: &str) -> Option<u64> {
        match user {
            "boss" => Some(6),
            "hasty" => Some(1),
            _ => None,
        }
    }
}

#[rocket::async_test]
async fn per_user_timeouts_come_from_the_hook() {
    let boss = TestApp::with_fairing(figment(), |f| f.with_user_timeouts(Managers)).await;
    let clerk = TestApp::with_fairing(figment(), |f| f.with_user_timeouts(Managers)).await;
    boss.login("boss").await;
    clerk.login("clerk").await;
    for app in [&boss, &clerk] {
        app.advance(5);
        assert!(app.whoami().await.is_some());
        app.advance(6);
    }
    assert_eq!(boss.whoami().await, None, "6 s for managers");
    clerk.advance(3);
    assert_eq!(
        clerk.whoami().await.as_deref(),
        Some("clerk"),
        "9 s idle is fine for a clerk"
    );
}

#[rocket::async_test]
async fn a_per_user_limit_never_cuts_the_warning_short() {
    let app = TestApp::with_fairing(figment(), |f| f.with_user_timeouts(Managers)).await;
    app.login("hasty").await;
    let status: rocket::serde::json::Value = app
        .get("/session_security/status")
        .await
        .into_json()
        .await
        .unwrap();
    // The configured lead is 10 - 5 = 5 s: a 1 s limit is raised to 6.
    assert_eq!(status["expire_after"], 6);
    assert_eq!(status["warn_after"], 1);
}

#[rocket::async_test]
async fn logging_in_over_another_users_session_drops_their_data() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.get("/set/draft/alice-secret").await;
    app.login("bob").await;
    assert_eq!(
        app.get("/get/draft").await.into_string().await.as_deref(),
        Some("")
    );
    app.login("bob").await;
    app.get("/set/draft/bobs").await;
    app.login("bob").await;
    assert_eq!(
        app.get("/get/draft").await.into_string().await.as_deref(),
        Some("bobs"),
        "the same user logging in again keeps their data"
    );
}

#[rocket::async_test]
async fn an_open_login_form_keeps_its_anonymous_session_alive() {
    let app = TestApp::with(figment().merge(("session_security.relogin", false))).await;
    let token = app.csrf().await;
    for _ in 0..4 {
        app.advance(8);
        app.csrf().await;
    }
    // 32 s later, the form first served still posts (tokens are masked
    // anew in every response, so the bytes differ, not the token).
    let posted = app
        .client
        .post("/visitor-form")
        .header(rocket::http::ContentType::Form)
        .body(format!("csrf_token={token}&text=hi"))
        .dispatch()
        .await;
    assert_eq!(posted.status(), rocket::http::Status::Ok);
}

#[rocket::async_test]
async fn an_idle_anonymous_session_ends_on_its_next_request() {
    let app = TestApp::new().await;
    app.get("/set/draft/visitor").await;
    let visitor = app.session_cookie().expect("an anonymous session");
    assert_eq!(app.page("/get/draft").await.1, "visitor");
    app.advance(10);
    assert_eq!(app.page("/get/draft").await.1, "", "ended: nothing served");
    assert!(app.session_cookie().is_none(), "its cookie cleared");
    app.advance(-10);
    let replay = app
        .client
        .get("/get/draft")
        .cookie(visitor)
        .dispatch()
        .await;
    let body = replay.into_string().await.unwrap_or_default();
    assert_eq!(body, "", "not touched alive again: the row is gone");
}
