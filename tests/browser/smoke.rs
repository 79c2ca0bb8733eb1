//! The harness itself: the page loads with the crate's script under a
//! strict CSP, without errors.

use std::time::Duration;

use crate::{app, signed_in_on, Settings};

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn page_loads_the_script_under_a_strict_csp() {
    let Some((served, browser)) = signed_in_on(Settings::timed(20, 40), "alice", "/csp").await
    else {
        return;
    };
    let ready = browser.script_started_within(5).await;
    assert!(ready, "script did not start under CSP");
    assert_eq!(
        browser.js("return window.__errors;").await,
        rocket::serde::json::json!([])
    );
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(served.csp_reports(), 0, "CSP violations reported");
    assert!(!browser.shown("session_security_warning").await);
    // The reports do come when there is a violation.
    app::a_violation_is_reported(&browser, &served).await;
    browser.finish().await;
}
