//! `/metrics`: off by default (404); with `metrics = true`, the library's
//! counters in the Prometheus text format. The recorder is global to the
//! process and every test here shares it, so counts are checked with `>=`.

use crate::common::{DemoApp, TestApp};
use rocket::figment::providers::Serialized;
use rocket::http::Status;
use rocket_session_security::SESSION_COOKIE;

async fn with_metrics(name: &str) -> TestApp {
    TestApp::start_with(name, |figment| {
        figment.merge(Serialized::global("metrics", true))
    })
    .await
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// A scrape: it must be the text format and set no cookie.
async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), Status::Ok);
    let content_type = response.headers().get_one("Content-Type").unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert_eq!(
        response.headers().get("Set-Cookie").count(),
        0,
        "a scrape creates no session"
    );
    response.into_string().await.unwrap()
}

#[rocket::async_test]
async fn metrics_are_off_by_default() {
    let app = TestApp::start("metrics-off").await;
    let (status, _) = app.page("/metrics").await;
    assert_eq!(status, Status::NotFound);
    assert!(app.session_cookie().is_none(), "no session for a 404");
}

#[rocket::async_test]
async fn metrics_false_is_off_too() {
    let app = TestApp::start_with("metrics-false", |figment| {
        figment.merge(Serialized::global("metrics", false))
    })
    .await;
    assert_eq!(app.page("/metrics").await.0, Status::NotFound);
}

#[rocket::async_test]
async fn a_login_is_counted_in_the_scrape() {
    let app = with_metrics("metrics-login").await;
    let before = scrape(&app).await;
    assert!(app.session_cookie().is_none(), "{SESSION_COOKIE} not set");

    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    let after = scrape(&app).await;
    let logins = sample(&after, "session_security_logins_total");
    assert!(logins >= Some(1.0), "logins counted:\n{after}");
    let starts = sample(
        &after,
        "session_security_session_starts_total{reason=\"login\"}",
    );
    assert!(starts >= Some(1.0), "session starts counted:\n{after}");
    // Other tests in this binary may log in meanwhile: at least one more.
    let logins_before = sample(&before, "session_security_logins_total").unwrap_or(0.0);
    assert!(logins.unwrap() >= logins_before + 1.0);
    assert!(after.contains("# TYPE session_security_logins_total counter"));
}

#[rocket::async_test]
async fn a_logout_is_counted_by_its_reason() {
    let app = with_metrics("metrics-logout").await;
    assert_eq!(
        app.login("bob", "bob-demo-pass").await.status(),
        Status::SeeOther
    );
    let token = app.csrf().await;
    let response = app.post_form("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let scrape = scrape(&app).await;
    let ends = sample(
        &scrape,
        "session_security_session_ends_total{reason=\"logout\"}",
    );
    assert!(ends >= Some(1.0), "session ends counted:\n{scrape}");
}

#[rocket::async_test]
async fn a_second_app_in_the_process_shares_the_recorder() {
    // Tests launch many Rockets in one process; the recorder is installed
    // once and every instance with the switch on serves it.
    let first = with_metrics("metrics-first").await;
    let second = with_metrics("metrics-second").await;
    assert_eq!(first.get("/metrics").await.status(), Status::Ok);
    assert_eq!(second.get("/metrics").await.status(), Status::Ok);
}
