//! Bob is a manager: the `UserTimeouts` hook halves his idle limit, the UI
//! says so, and the server enforces it. Time moves on a `ManualClock`.

use crate::common::{accept_json, element_text, location, DemoApp, TestApp};
use rocket::http::Status;

#[rocket::async_test]
async fn the_header_states_each_users_idle_limit() {
    let app = TestApp::start("timeouts-ui").await;
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    let (_, page) = app.page("/").await;
    assert_eq!(
        element_text(&page, "session-note"),
        Some("You are signed out after 10 minutes of inactivity.")
    );

    let bob = app.second_browser().await;
    assert_eq!(
        bob.login("bob", "bob-demo-pass").await.status(),
        Status::SeeOther
    );
    let (_, page) = bob.page("/").await;
    assert_eq!(
        element_text(&page, "session-note"),
        Some("As a manager you are signed out after 5 minutes of inactivity.")
    );
}

#[rocket::async_test]
async fn bob_is_signed_out_sooner_than_alice() {
    let app = TestApp::start("timeouts-enforced").await;
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    let bob = app.second_browser().await;
    assert_eq!(
        bob.login("bob", "bob-demo-pass").await.status(),
        Status::SeeOther
    );

    // Just inside bob's 300 s: both still signed in (and both active again).
    app.clock.advance(299);
    assert_eq!(bob.page("/deals").await.0, Status::Ok);
    assert_eq!(app.page("/deals").await.0, Status::Ok);

    // 400 s idle: past bob's limit, well inside alice's 600 s.
    app.clock.advance(400);
    let response = bob.get("/deals").await;
    assert_eq!(response.status(), Status::SeeOther, "bob is signed out");
    assert_eq!(location(&response), "/login?next=%2Fdeals");
    let response = bob
        .client
        .get("/deals")
        .header(accept_json())
        .dispatch()
        .await;
    assert_eq!(
        response.status(),
        Status::Unauthorized,
        "and stays signed out"
    );
    assert_eq!(app.page("/deals").await.0, Status::Ok, "alice is not");

    // Alice too, once she has been idle for her own 600 s.
    app.clock.advance(600);
    assert_eq!(app.page("/deals").await.0, Status::SeeOther);
}
