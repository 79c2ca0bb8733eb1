//! The event stream an open tab holds: it says `ended` within moments of
//! the session ending elsewhere (`signed-out` for a logout or revocation,
//! `expired` past the idle limit), and nothing while the session lives.

use std::time::Duration;

use crate::common::{figment, LibraryApp, TestApp};
use rocket::http::Status;
use rocket::local::asynchronous::LocalResponse;
use rocket::tokio::time::timeout;
use rocket_session_security::USER_COOKIE;

/// What the stream says within `limit`, or `None` if it stays open.
async fn said(response: LocalResponse<'_>, limit: Duration) -> Option<String> {
    timeout(limit, response.into_string()).await.ok().flatten()
}

async fn stream(app: &TestApp) -> LocalResponse<'_> {
    let tag = app
        .client
        .cookies()
        .get(USER_COOKIE)
        .expect("signed in")
        .value()
        .to_owned();
    let response = app
        .get(&format!("/session_security/events?tag={tag}"))
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        response.content_type(),
        Some(rocket::http::ContentType::EventStream)
    );
    response
}

#[rocket::async_test]
async fn a_logout_elsewhere_is_signed_out_at_once() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let events = stream(&app).await;
    let logout = async {
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
        app.get("/logout").await;
    };
    let (said, ()) = rocket::tokio::join!(said(events, Duration::from_secs(2)), logout);
    let said = said.expect("the stream ends within 2 s");
    assert!(said.contains("event:ended\ndata:signed-out"), "{said}");
}

#[rocket::async_test]
async fn an_expiry_seen_by_another_tab_is_expired() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let events = stream(&app).await;
    let expire = async {
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
        app.advance(11);
        app.ping(Some("11")).await;
    };
    let (said, ()) = rocket::tokio::join!(said(events, Duration::from_secs(2)), expire);
    assert!(said.expect("ends").contains("data:expired"));
}

#[rocket::async_test]
async fn a_live_session_keeps_its_stream_open() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let events = stream(&app).await;
    // Read on through both phases: the same stream, the same body.
    let mut body = std::pin::pin!(events.into_string());
    let busy = async {
        for _ in 0..3 {
            app.get("/set/draft/typing").await;
            rocket::tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (early, ()) = rocket::tokio::join!(timeout(Duration::from_millis(800), &mut body), busy);
    assert!(early.is_err(), "data changes are not an end: {early:?}");
    // The very stream still works: a logout now ends it, with the one
    // `ended` it says.
    let logout = async {
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
        app.get("/logout").await;
    };
    let (said, ()) = rocket::tokio::join!(timeout(Duration::from_secs(2), &mut body), logout);
    let said = said
        .expect("the stream ends within 2 s of the logout")
        .expect("a body");
    assert!(said.contains("event:ended\ndata:signed-out"), "{said}");
    assert_eq!(said.matches("event:ended").count(), 1, "{said}");
}

#[rocket::async_test]
async fn another_users_page_or_no_session_is_told_at_once() {
    let app = TestApp::with(figment()).await;
    app.login("alice").await;
    let response = app.get("/session_security/events?tag=someone-else").await;
    let said = said(response, Duration::from_secs(1)).await.expect("ends");
    assert!(said.contains("event:ended"), "{said}");
    let visitor = TestApp::new().await;
    let response = visitor.get("/session_security/events").await;
    let said = self::said(response, Duration::from_secs(1))
        .await
        .expect("ends");
    assert!(said.contains("event:ended"), "{said}");
}

#[rocket::async_test]
async fn one_session_holds_at_most_four_streams() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(stream(&app).await);
    }
    let tag = app
        .client
        .cookies()
        .get(USER_COOKIE)
        .expect("tag")
        .value()
        .to_owned();
    let fifth = app
        .get(&format!("/session_security/events?tag={tag}"))
        .await;
    assert_eq!(fifth.status(), Status::TooManyRequests);
    let body = fifth.into_string().await.unwrap_or_default();
    assert!(body.contains("too_many_streams"), "{body}");
    drop(open.pop());
    let again = stream(&app).await;
    drop(again);
    drop(open);
}
