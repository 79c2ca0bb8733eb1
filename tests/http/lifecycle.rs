//! Token rotation and data limits: `cycle_id` never brings back a session
//! another request logged out, nor moves its activity backwards; data past
//! `max_data_bytes` is refused with nothing half-saved.

use std::sync::Arc;

use crate::common::{app_with, figment, LibraryApp, TestApp, T0};
use rocket::http::Status;
use rocket::tokio::sync::Notify;
use rocket::{get, routes, State};
use rocket_session_security::{Error, ManualClock, Session, SessionSecurity};

/// Holds a rotation until the test has done something in between.
#[derive(Default)]
struct Gate {
    loaded: Notify,
    go: Notify,
}

/// Rotates the token once the test opens the gate, after this request
/// has read its session.
#[get("/cycle-later")]
async fn cycle_later(session: Session<'_>, gate: &State<Arc<Gate>>) -> (Status, String) {
    gate.loaded.notify_one();
    gate.go.notified().await;
    match session.cycle_id().await {
        Ok(()) => (Status::Ok, "rotated".into()),
        Err(e @ Error::SessionEnded) => (Status::Conflict, e.to_string()),
        Err(e) => (Status::InternalServerError, e.to_string()),
    }
}

#[get("/cycle")]
async fn cycle(session: Session<'_>) -> &'static str {
    session.cycle_id().await.expect("rotation");
    "rotated"
}

async fn gated_app() -> (TestApp, Arc<Gate>) {
    let clock = ManualClock::new(T0);
    let gate = Arc::new(Gate::default());
    let rocket = app_with(
        figment(),
        SessionSecurity::fairing().with_clock(clock.clone()),
    )
    .mount("/", routes![cycle_later, cycle])
    .manage(gate.clone());
    (TestApp::launch(rocket, clock).await, gate)
}

#[rocket::async_test]
async fn cycle_id_gives_a_new_token_and_keeps_the_session() {
    let (app, _) = gated_app().await;
    app.login("alice").await;
    app.get("/set/draft/kept").await;
    let before = app.session_cookie().expect("a session");
    assert_eq!(app.page("/cycle").await, (Status::Ok, "rotated".into()));
    let after = app.session_cookie().expect("a session");
    assert_ne!(before.value(), after.value());
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    assert_eq!(app.page("/get/draft").await.1, "kept");
}

#[rocket::async_test]
async fn cycle_id_does_not_undo_a_concurrent_logout() {
    let (app, gate) = gated_app().await;
    app.login("alice").await;
    let old = app.session_cookie().expect("a session");
    let rotate = app.page("/cycle-later");
    let logout = async {
        gate.loaded.notified().await;
        app.get("/logout").await;
        gate.go.notify_one();
    };
    let ((status, body), ()) = rocket::tokio::join!(rotate, logout);
    assert_eq!(status, Status::Conflict, "{body}");
    assert!(app.session_cookie().is_none(), "cookie cleared");
    assert_eq!(app.whoami().await, None, "still logged out");
    let replay = app
        .client
        .get("/whoami")
        .cookie(old)
        .header(rocket::http::Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(replay.status(), Status::Unauthorized, "old token dead too");
}

#[rocket::async_test]
async fn cycle_id_does_not_revive_a_session_revoked_meanwhile() {
    let (app, gate) = gated_app().await;
    app.login("alice").await;
    let old = app.session_cookie().expect("a session");
    let rotate = app.page("/cycle-later");
    let revoke = async {
        gate.loaded.notified().await;
        let rocket = app.client.rocket();
        let ended = test_support::admin(rocket)
            .revoke_user("alice", Some("admin"))
            .await;
        assert_eq!(ended.expect("revoked"), 1);
        gate.go.notify_one();
    };
    let ((status, body), ()) = rocket::tokio::join!(rotate, revoke);
    assert_eq!(status, Status::Conflict, "{body}");
    assert_eq!(app.whoami().await, None, "no live copy under a new token");
    let sessions = test_support::admin(app.client.rocket())
        .sessions_of("alice")
        .await;
    assert!(
        sessions.expect("listed").is_empty(),
        "nothing of alice lives"
    );
    let replay = app
        .client
        .get("/whoami")
        .cookie(old)
        .header(rocket::http::Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(replay.status(), Status::Unauthorized, "old token dead too");
}

#[rocket::async_test]
async fn cycle_id_keeps_activity_seen_meanwhile() {
    let (app, gate) = gated_app().await;
    app.login("alice").await;
    let rotate = app.page("/cycle-later");
    let active_later = async {
        gate.loaded.notified().await;
        app.advance(3);
        assert_eq!(app.whoami().await.as_deref(), Some("alice"));
        gate.go.notify_one();
    };
    let ((status, _), ()) = rocket::tokio::join!(rotate, active_later);
    assert_eq!(status, Status::Ok);
    assert_eq!(
        app.server_idle().await,
        Some(0),
        "the rotated session keeps the activity at T0 + 3"
    );
}

#[rocket::async_test]
async fn data_past_max_data_bytes_is_refused_and_nothing_changes() {
    let app = TestApp::with(figment().merge(("session_security.max_data_bytes", 64))).await;
    app.login("alice").await;
    assert_eq!(app.page("/set/note/short").await.0, Status::Ok);
    let long = "x".repeat(80);
    let (status, _) = app.page(&format!("/try-set/note/{long}")).await;
    assert_eq!(status, Status::PayloadTooLarge);
    assert_eq!(app.page("/get/note").await.1, "short", "the old value kept");
    let (status, _) = app.page(&format!("/try-set/other/{long}")).await;
    assert_eq!(status, Status::PayloadTooLarge);
    assert_eq!(app.page("/get/other").await.1, "", "no new key either");
}

#[rocket::async_test]
async fn the_error_names_the_key_to_change() {
    let message = Error::DataTooLarge {
        bytes: 90,
        limit: 64,
    }
    .to_string();
    assert!(
        message.contains("session_security.max_data_bytes"),
        "{message}"
    );
    assert!(
        message.contains("90") && message.contains("64"),
        "{message}"
    );
}
