//! The demo's defaults belong to the demo: a release build (or `demo =
//! false`) has no sample accounts, prints no passwords, and sends Secure
//! cookies; the demo itself runs over plain HTTP with its two accounts.

use crate::common::{DemoApp, TestApp};
use rocket::figment::providers::Serialized;
use rocket::http::Status;

async fn deployment(name: &str) -> TestApp {
    TestApp::start_with(name, |figment| {
        figment.merge(Serialized::global("demo", false))
    })
    .await
}

#[rocket::async_test]
async fn a_deployment_prints_no_passwords_and_has_no_sample_accounts() {
    let app = deployment("deployment-accounts").await;
    let (status, page) = app.page("/login").await;
    assert_eq!(status, Status::Ok);
    assert!(!page.contains("demo-pass"), "no password on the page");
    let response = app.login("alice", "alice-demo-pass").await;
    assert_ne!(response.status(), Status::SeeOther, "alice does not exist");
    assert!(app.page("/").await.0 != Status::Ok, "still signed out");
}

#[rocket::async_test]
async fn a_deployment_sends_secure_host_cookies() {
    let app = deployment("deployment-cookies").await;
    let response = app.get("/login").await;
    let cookies: Vec<_> = response.headers().get("Set-Cookie").collect();
    assert!(!cookies.is_empty());
    for cookie in cookies {
        assert!(
            cookie.starts_with("__Host-") && cookie.contains("Secure"),
            "{cookie}"
        );
    }
}

#[rocket::async_test]
async fn the_demo_lists_its_accounts_and_works_over_plain_http() {
    let app = TestApp::start("deployment-demo").await;
    let (_, page) = app.page("/login").await;
    assert!(page.contains("alice-demo-pass"));
    let response = app.get("/login").await;
    let cookies: Vec<_> = response.headers().get("Set-Cookie").collect();
    assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
}
