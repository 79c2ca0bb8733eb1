//! Reads that race an eviction on the same instance: a store read that
//! started before a logout or a revocation must never put the old row back
//! into memory, whether or not the session was cached when it ended, and
//! whether the read was a cache miss or a re-read (`reload`) before an
//! answer. A pausable store holds one read until the test has ended the
//! session.

use std::sync::Arc;

use crate::common::{app_with, figment, LibraryApp, TestApp, T0};
use rocket::http::{Cookie, Header, Status};
use rocket_session_security::{ManualClock, SessionSecurity};
use test_support::pausable::{PausableStore, Pause, PausePoint};

/// An app whose store can hold a read, with the given settings.
async fn held_app(settings: &[(&str, i64)]) -> (TestApp, Arc<Pause>) {
    let mut figment = figment();
    for (key, value) in settings {
        figment = figment.merge((format!("session_security.{key}"), *value));
    }
    let url: String = figment
        .extract_inner("databases.session_security.url")
        .expect("url");
    let (store, hold) = PausableStore::connect(&url).await;
    let clock = ManualClock::new(T0);
    let fairing = SessionSecurity::fairing()
        .with_clock(clock.clone())
        .with_store(store);
    (
        TestApp::launch(app_with(figment, fairing), clock).await,
        hold,
    )
}

/// `/whoami` with `cookie` as the session: the user, or `None` (401).
async fn whoami_with(app: &TestApp, cookie: &Cookie<'static>) -> Option<String> {
    let response = app
        .client
        .get("/whoami")
        .cookie(cookie.clone())
        .header(Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    match response.status() {
        Status::Ok => response.into_string().await,
        Status::Unauthorized => None,
        other => panic!("unexpected {other}"),
    }
}

/// Runs `request` with its store read held until `meanwhile` is done.
async fn with_read_held<R, M>(hold: &Pause, request: R, meanwhile: M)
where
    R: std::future::Future,
    M: std::future::Future<Output = ()>,
{
    hold.arm(PausePoint::AfterLoad);
    let between = async {
        hold.reached.notified().await;
        meanwhile.await;
        hold.go.notify_one();
    };
    rocket::tokio::join!(request, between);
}

#[rocket::async_test]
async fn a_miss_read_before_a_revocation_does_not_cache_the_revoked_session() {
    // Alice signs in on another instance on the same store, so this one
    // has nothing of hers in memory: her next request here is a miss.
    let (app, hold) = held_app(&[]).await;
    let other = TestApp::launch(
        app_with(
            app.figment(),
            SessionSecurity::fairing().with_clock(app.clock.clone()),
        ),
        app.clock.clone(),
    )
    .await;
    other.login("alice").await;
    let alice = other.session_cookie().expect("alice");
    let read = whoami_with(&app, &alice);
    let revoke = async {
        let rocket = app.client.rocket();
        let ended = test_support::admin(rocket).revoke_user("alice", None).await;
        assert_eq!(ended.expect("revoke"), 1);
    };
    with_read_held(&hold, read, revoke).await;
    let replay = whoami_with(&app, &alice).await;
    assert_eq!(replay, None, "the revoked row read before was not cached");
}

#[rocket::async_test]
async fn a_reload_before_a_revocation_does_not_cache_the_revoked_session() {
    // A ping inside the warning window re-reads the session before it
    // answers (another instance may have seen activity).
    let (app, hold) = held_app(&[]).await;
    app.login("alice").await;
    let alice = app.session_cookie().expect("alice");
    app.advance(6); // past warn_after (5), before expire_after (10)
    let ping = app.ping(None);
    let revoke = async {
        let rocket = app.client.rocket();
        let ended = test_support::admin(rocket).revoke_user("alice", None).await;
        assert_eq!(ended.expect("revoke"), 1);
    };
    with_read_held(&hold, ping, revoke).await;
    assert_eq!(whoami_with(&app, &alice).await, None);
}
