//! The browser half's weight as served: script plus stylesheet at most
//! 6 KB gzipped, the budget every page of the application pays.

mod common;

use std::io::Write;

use common::{LibraryApp, TestApp};
use flate2::write::GzEncoder;
use flate2::Compression;
use rocket::http::Status;
use rocket::serde::json::Value;

const BUDGET: usize = 6 * 1024;

fn gzipped(bytes: &[u8]) -> usize {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("in memory");
    encoder.finish().expect("in memory").len()
}

/// The bytes at the URL a page links, as the browser receives them.
async fn served(app: &TestApp, url: &str) -> Vec<u8> {
    let response = app.get(url).await;
    assert_eq!(response.status(), Status::Ok, "{url}");
    response.into_bytes().await.expect("a body")
}

#[rocket::async_test]
async fn script_and_style_fit_in_six_kilobytes_gzipped() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let urls: Value = app
        .get("/asset-urls")
        .await
        .into_json()
        .await
        .expect("json");
    let script = served(&app, urls["script"].as_str().expect("script url")).await;
    let style = served(&app, urls["style"].as_str().expect("style url")).await;
    let source = include_str!("../static/session_security/script.js");
    assert!(
        script.len() < source.len(),
        "the served script is the minified source"
    );
    let (script_gz, style_gz) = (gzipped(&script), gzipped(&style));
    println!(
        "script {} B ({script_gz} B gzipped), style {} B ({style_gz} B gzipped), \
         together {} B gzipped of {BUDGET}",
        script.len(),
        style.len(),
        script_gz + style_gz
    );
    assert!(
        script_gz + style_gz <= BUDGET,
        "script {script_gz} B + style {style_gz} B gzipped is over {BUDGET} B"
    );
}
