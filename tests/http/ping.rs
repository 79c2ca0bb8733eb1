//! The ping protocol: the original's table, and what `idleFor` may not do.

use crate::common::{LibraryApp, TestApp};
use rocket::http::Status;
use rocket::serde::json::Value;

/// Logs in, waits `server_idle` seconds, pings with `idle_for`.
async fn ping_after(server_idle: i64, idle_for: &str) -> (TestApp, Status, Value) {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(server_idle);
    let (status, answer) = app.ping(Some(idle_for)).await;
    (app, status, answer)
}

#[rocket::async_test]
async fn the_original_ping_table() {
    for (server_idle, idle_for, expected) in [
        (1, "4", Value::from(1)),
        (3, "2", 2.into()),
        (5, "5", 5.into()),
    ] {
        let (app, status, answer) = ping_after(server_idle, idle_for).await;
        assert_eq!(status, Status::Ok);
        assert_eq!(
            answer, expected,
            "server idle {server_idle}, idleFor {idle_for}"
        );
        assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    }
    let (app, status, answer) = ping_after(12, "14").await;
    assert_eq!((status, answer), (Status::Ok, Value::from("logout")));
    assert_eq!(app.whoami().await, None, "logged out");
}

#[rocket::async_test]
async fn anonymous_ping_answers_logout() {
    let app = TestApp::new().await;
    assert_eq!(app.ping(None).await, (Status::Ok, Value::from("logout")));
    assert_eq!(
        app.ping(Some("0")).await,
        (Status::Ok, Value::from("logout"))
    );
}

#[rocket::async_test]
async fn ping_is_passive() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(4);
    assert_eq!(app.ping(None).await.1, Value::from(4));
    app.advance(1);
    assert_eq!(
        app.ping(None).await.1,
        Value::from(5),
        "the ping did not count"
    );
}

#[rocket::async_test]
async fn idle_for_cannot_revive_an_expired_session() {
    let (app, _, answer) = ping_after(10, "0").await;
    assert_eq!(answer, Value::from("logout"));
    assert_eq!(app.whoami().await, None);
}

#[rocket::async_test]
async fn idle_for_never_moves_last_activity_backwards() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(6);
    app.get("/whoami").await;
    app.advance(2);
    // A tab that slept reports a long idle: the newer activity stands.
    assert_eq!(app.ping(Some("8")).await.1, Value::from(2));
    assert_eq!(app.server_idle().await, Some(2));
}

#[rocket::async_test]
async fn bad_idle_for_values_answer_400_and_change_nothing() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(6);
    for bad in [
        "-1",
        "-0",
        "abc",
        "1.5",
        "0.0",
        "1e9",
        "1E3",
        "+3",
        "0x1",
        "%201",
        "",
        "3000000000",
        "18446744073709551616",
        "340282366920938463463374607431768211456",
    ] {
        let (status, answer) = app.ping(Some(bad)).await;
        assert_eq!(status, Status::BadRequest, "idleFor={bad:?}");
        assert_eq!(answer["error"], "invalid_idle_for");
        assert!(answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("idleFor")));
        assert_eq!(
            app.server_idle().await,
            Some(6),
            "idleFor={bad:?} changed last activity"
        );
    }
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
}

#[rocket::async_test]
async fn status_reports_the_timing() {
    let app = TestApp::new().await;
    let anonymous: Value = app
        .get("/session_security/status")
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(
        anonymous,
        rocket::serde::json::json!({ "authenticated": false })
    );
    app.login("alice").await;
    app.advance(3);
    let status: Value = app
        .get("/session_security/status")
        .await
        .into_json()
        .await
        .unwrap();
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["idle"], 3);
    assert_eq!(status["warn_in"], 2);
    assert_eq!(status["expire_in"], 7);
    assert_eq!(status["absolute_in"], Value::Null);
    assert_eq!(app.server_idle().await, Some(3), "status is passive");
}

#[rocket::async_test]
async fn the_query_reads_as_a_form_would_and_a_repeated_idle_for_is_refused() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(6);
    // An encoded key is the same key; an unknown one is ignored.
    let encoded = app.get("/session_security/ping?idle%46or=4&x=1").await;
    assert_eq!(encoded.status(), Status::Ok);
    assert_eq!(encoded.into_json::<Value>().await, Some(Value::from(4)));
    let twice = app.get("/session_security/ping?idleFor=1&idleFor=2").await;
    assert_eq!(twice.status(), Status::BadRequest);
    assert_eq!(
        app.server_idle().await,
        Some(4),
        "the refused ping changed nothing"
    );
}
