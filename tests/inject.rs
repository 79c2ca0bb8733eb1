//! Nothing per page: the fairing puts the dialogs into every signed-in
//! HTML page just before `</body>`, once, and leaves fragments, other
//! types, streamed bodies and anonymous pages alone.

mod common;

use common::{app_with, figment, LibraryApp, TestApp, T0};
use rocket::http::{ContentType, Status};
use rocket::response::content::RawHtml;
use rocket::response::stream::ByteStream;
use rocket::{get, routes};
use rocket_session_security::{ManualClock, Session, SessionSecurity};

const PAGE: &str = "<!doctype html><html><head><title>t</title></head>\
                    <body><p>the page</p></body></html>";

#[get("/html")]
fn html() -> RawHtml<&'static str> {
    RawHtml(PAGE)
}

#[get("/html-with-include")]
fn with_include(session: Session<'_>) -> RawHtml<String> {
    let markup = session.dialogs().to_html().expect("render");
    RawHtml(PAGE.replace("</body>", &format!("{markup}</body>")))
}

#[get("/own-dialog")]
fn own_dialog() -> RawHtml<&'static str> {
    RawHtml("<html><body><div id=\"session_security_warning\">ours</div></body></html>")
}

#[get("/fragment")]
fn fragment() -> RawHtml<&'static str> {
    RawHtml("<li>one more row</li>")
}

#[get("/json")]
fn json() -> (ContentType, &'static str) {
    (ContentType::JSON, "{\"body\":\"</body>\"}")
}

#[get("/streamed")]
fn streamed() -> (ContentType, ByteStream![&'static [u8]]) {
    (ContentType::HTML, ByteStream! { yield PAGE.as_bytes(); })
}

async fn app(inject: bool) -> TestApp {
    let clock = ManualClock::new(T0);
    let figment = figment().merge(("session_security.inject", inject));
    let fairing = SessionSecurity::new().with_clock(clock.clone());
    let rocket = app_with(figment, fairing).mount(
        "/",
        routes![html, with_include, own_dialog, fragment, json, streamed],
    );
    TestApp::launch(rocket, clock).await
}

fn dialogs_in(body: &str) -> usize {
    body.matches("id=\"session_security_config\"").count()
}

#[rocket::async_test]
async fn a_signed_in_page_gets_the_dialogs_before_its_body_ends() {
    let app = app(true).await;
    app.login("alice").await;
    let (status, body) = app.page("/html").await;
    assert_eq!(status, Status::Ok);
    assert_eq!(dialogs_in(&body), 1, "{body}");
    let dialogs = body.find("id=\"session_security_warning\"").unwrap();
    let end = body.rfind("</body>").unwrap();
    assert!(body.find("<p>the page</p>").unwrap() < dialogs && dialogs < end);
    assert!(
        body.contains("style.css") && body.contains("script.js"),
        "script and style: {body}"
    );
    assert!(
        !body.contains("<style") && !body.contains("<script>"),
        "nothing inline"
    );
}

#[rocket::async_test]
async fn a_page_with_the_include_gets_nothing_twice() {
    let app = app(true).await;
    app.login("alice").await;
    let (_, body) = app.page("/html-with-include").await;
    assert_eq!(dialogs_in(&body), 1);
    let (_, own) = app.page("/own-dialog").await;
    assert_eq!(
        dialogs_in(&own),
        0,
        "the page's own warning markup stays alone"
    );
}

#[rocket::async_test]
async fn fragments_other_types_streams_and_visitors_are_left_alone() {
    let app = app(true).await;
    let (_, anonymous) = app.page("/html").await;
    assert_eq!(anonymous, PAGE, "a visitor's page");
    app.login("alice").await;
    assert_eq!(app.page("/fragment").await.1, "<li>one more row</li>");
    assert_eq!(app.page("/json").await.1, "{\"body\":\"</body>\"}");
    assert_eq!(app.page("/streamed").await.1, PAGE, "no known size");
}

#[rocket::async_test]
async fn with_inject_off_pages_are_left_as_they_are() {
    let app = app(false).await;
    app.login("alice").await;
    assert_eq!(app.page("/html").await.1, PAGE);
    assert_eq!(dialogs_in(&app.page("/html-with-include").await.1), 1);
}

#[rocket::async_test]
async fn an_expired_session_gets_no_dialogs() {
    let app = app(true).await;
    app.login("alice").await;
    app.advance(11);
    assert_eq!(app.page("/html").await.1, PAGE);
}
