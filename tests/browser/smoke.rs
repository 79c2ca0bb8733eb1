//! The harness itself: the page loads with the crate's script under a
//! strict CSP, without errors.

use std::time::Duration;

use crate::{app, Browser, LogsIn, Settings};

#[rocket::async_test]
async fn page_loads_the_script_under_a_strict_csp() {
    if !crate::available() {
        return;
    }
    let served = app::serve(Settings {
        warn_after: 20,
        expire_after: 40,
        relogin: true,
        ..Settings::default()
    })
    .await;
    let browser = Browser::start().await;
    browser.login(&served, "alice").await;
    browser.goto(&served.url("/csp")).await;
    let ready = browser
        .wait_for(Duration::from_secs(5), || async {
            browser
                .js("return typeof window.sessionSecurity === 'object';")
                .await
                == true
        })
        .await;
    assert!(ready, "script did not start under CSP");
    assert_eq!(
        browser.js("return window.__errors;").await,
        rocket::serde::json::json!([])
    );
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        served
            .counters
            .csp_reports
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert!(!browser.shown("session_security_warning").await);
    browser.finish().await;
}
