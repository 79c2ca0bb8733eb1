//! Nothing per page: the fairing puts the dialogs into every signed-in
//! HTML page just before its real `</body>`, once, and leaves fragments,
//! other types, streamed, compressed, non-UTF-8, downloaded and file
//! bodies and anonymous pages alone.

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;

use crate::common::{app_with, figment, LibraryApp, TestApp, T0};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use rocket::fs::NamedFile;
use rocket::http::{ContentType, Header, Status};
use rocket::response::content::RawHtml;
use rocket::response::stream::ByteStream;
use rocket::response::{self, Responder};
use rocket::{get, routes, Request, Response};
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

/// An HTML body with extra `headers` (a `Content-Type` among them replaces
/// the HTML one), sized as Rocket's in-memory responders size theirs.
struct Raw(Vec<Header<'static>>, Vec<u8>);

impl<'r> Responder<'r, 'static> for Raw {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response.header(ContentType::HTML);
        for header in self.0 {
            response.header(header);
        }
        response.sized_body(self.1.len(), Cursor::new(self.1)).ok()
    }
}

/// `PAGE`, gzipped in stored blocks: the markup stays readable inside, so
/// an injector that looks into compressed bodies finds its `</body>`.
fn gzipped_page() -> Vec<u8> {
    let mut gzip = GzEncoder::new(Vec::new(), Compression::none());
    gzip.write_all(PAGE.as_bytes()).expect("gzip");
    gzip.finish().expect("gzip")
}

#[get("/gzip")]
fn gzip() -> Raw {
    Raw(
        vec![Header::new("Content-Encoding", "gzip")],
        gzipped_page(),
    )
}

/// A page in ISO-8859-1 ("café", é as one byte 0xE9).
const LATIN1_PAGE: &[u8] = b"<html><body><p>caf\xe9</p></body></html>";

#[get("/latin1")]
fn latin1() -> Raw {
    let charset = ContentType::HTML.with_params(("charset", "ISO-8859-1"));
    Raw(vec![charset.into()], LATIN1_PAGE.to_vec())
}

/// Declared windows-1252 though every byte is ASCII: the header alone
/// says the markup (UTF-8) would not fit.
#[get("/cp1252-ascii")]
fn cp1252_ascii() -> Raw {
    let charset = ContentType::new("text", "html").with_params(("charset", "windows-1252"));
    Raw(vec![charset.into()], PAGE.as_bytes().to_vec())
}

/// Not UTF-8, with nothing declared.
#[get("/undeclared-latin1")]
fn undeclared_latin1() -> Raw {
    let plain = ContentType::new("text", "html");
    Raw(vec![plain.into()], LATIN1_PAGE.to_vec())
}

/// UTF-8 spelled as some servers spell it, quoted.
#[get("/utf8-quoted")]
fn utf8_quoted() -> Raw {
    let header = Header::new("Content-Type", "text/html; charset=\"utf8\"");
    Raw(vec![header], PAGE.as_bytes().to_vec())
}

#[get("/attachment")]
fn attachment() -> Raw {
    let disposition = Header::new("Content-Disposition", "Attachment; filename=\"page.html\"");
    Raw(vec![disposition], PAGE.as_bytes().to_vec())
}

#[get("/inline")]
fn inline() -> Raw {
    let disposition = Header::new("Content-Disposition", "inline");
    Raw(vec![disposition], PAGE.as_bytes().to_vec())
}

/// `PAGE` as a file of this test process.
fn page_file() -> PathBuf {
    let path = test_support::process_dir("session_security_test").join("inject-page.html");
    std::fs::write(&path, PAGE).expect("page file");
    path
}

#[get("/named-file")]
async fn named_file() -> Option<NamedFile> {
    NamedFile::open(page_file()).await.ok()
}

#[get("/tokio-file")]
async fn tokio_file() -> Option<(ContentType, rocket::tokio::fs::File)> {
    let file = rocket::tokio::fs::File::open(page_file()).await.ok()?;
    Some((ContentType::HTML, file))
}

/// Pages whose real `</body>` is not the last `</body>` in them, or that
/// have none; `<mark>` stands for where the dialogs belong.
const TRICKY: &[(&str, &str)] = &[
    (
        "comment-after",
        "<html><body><p>x</p><mark></body></html><!-- </body> -->",
    ),
    (
        "script-after",
        "<html><body><p>x</p><mark></body><script>var s = \"</body>\";</script></html>",
    ),
    (
        "script-string-only",
        "<html><body><p>x</p><script>var s = \"</body>\";</script></html>",
    ),
    (
        "script-before",
        "<html><body><script type=module>let s = '</BODY>';</script><mark></body></html>",
    ),
    (
        "style-after",
        "<html><body><p>x</p><mark></BODY\n ></html><style>/* </body> */</style>",
    ),
    (
        "template-after",
        "<html><body><mark></body><template><template></template></body></template>",
    ),
    (
        "comment-only",
        "<html><body><p>x</p><!-- </body> --></html>",
    ),
    (
        "unclosed-comment",
        "<html><body><p>x</p><mark></body></html><!-- </body>",
    ),
    ("lookalike", "<html><body><p>x</p></bodyx></html>"),
];

#[get("/tricky/<name>")]
fn tricky(name: &str) -> Option<RawHtml<String>> {
    let (_, page) = TRICKY.iter().find(|(n, _)| *n == name)?;
    Some(RawHtml(page.replace("<mark>", "")))
}

async fn app(inject: bool) -> TestApp {
    let clock = ManualClock::new(T0);
    let figment = figment().merge(("session_security.inject", inject));
    let fairing = SessionSecurity::fairing().with_clock(clock.clone());
    let rocket = app_with(figment, fairing).mount(
        "/",
        routes![
            html,
            with_include,
            own_dialog,
            fragment,
            json,
            streamed,
            gzip,
            latin1,
            cp1252_ascii,
            undeclared_latin1,
            utf8_quoted,
            attachment,
            inline,
            named_file,
            tokio_file,
            tricky
        ],
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

/// The raw bytes of `path`, as served.
async fn bytes(app: &TestApp, path: &str) -> Vec<u8> {
    let response = app.get(path).await;
    assert_eq!(response.status(), Status::Ok, "{path}");
    response.into_bytes().await.unwrap_or_default()
}

/// `body` is `original` with the dialogs (once) at byte `at`.
fn assert_injected_at(body: &str, original: &str, at: usize) {
    assert_eq!(dialogs_in(body), 1, "{body}");
    assert!(
        body.starts_with(&original[..at]) && body.ends_with(&original[at..]),
        "the dialogs belong at {at} of {original}: {body}"
    );
}

#[rocket::async_test]
async fn compressed_bodies_are_left_alone() {
    let app = app(true).await;
    app.login("alice").await;
    let served = bytes(&app, "/gzip").await;
    assert_eq!(served, gzipped_page(), "the gzip stream, byte for byte");
    let mut page = String::new();
    GzDecoder::new(&served[..])
        .read_to_string(&mut page)
        .expect("still gzip");
    assert_eq!(page, PAGE);
}

#[rocket::async_test]
async fn pages_not_in_utf8_are_left_alone() {
    let app = app(true).await;
    app.login("alice").await;
    assert_eq!(bytes(&app, "/latin1").await, LATIN1_PAGE, "declared");
    assert_eq!(
        bytes(&app, "/cp1252-ascii").await,
        PAGE.as_bytes(),
        "declared, though ASCII"
    );
    assert_eq!(
        bytes(&app, "/undeclared-latin1").await,
        LATIN1_PAGE,
        "not UTF-8, nothing declared"
    );
    let (_, utf8) = app.page("/utf8-quoted").await;
    assert_injected_at(&utf8, PAGE, PAGE.rfind("</body>").unwrap_or_default());
}

#[rocket::async_test]
async fn downloads_are_left_alone() {
    let app = app(true).await;
    app.login("alice").await;
    assert_eq!(app.page("/attachment").await.1, PAGE);
    let (_, inline) = app.page("/inline").await;
    assert_injected_at(&inline, PAGE, PAGE.rfind("</body>").unwrap_or_default());
}

#[rocket::async_test]
async fn files_are_left_alone() {
    let app = app(true).await;
    app.login("alice").await;
    let named = app.get("/named-file").await;
    assert_eq!(
        named.content_type(),
        Some(ContentType::HTML),
        "an HTML file"
    );
    assert_eq!(named.into_string().await.unwrap_or_default(), PAGE);
    assert_eq!(app.page("/tokio-file").await.1, PAGE);
}

#[rocket::async_test]
async fn the_dialogs_go_before_the_real_body_end_only() {
    let app = app(true).await;
    app.login("alice").await;
    for (name, marked) in TRICKY {
        let original = marked.replace("<mark>", "");
        let (status, body) = app.page(&format!("/tricky/{name}")).await;
        assert_eq!(status, Status::Ok, "{name}");
        match marked.find("<mark>") {
            Some(at) => assert_injected_at(&body, &original, at),
            None => assert_eq!(body, original, "{name}: no real </body>"),
        }
    }
}
