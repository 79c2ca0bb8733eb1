//! Configuration fails closed: every bad value aborts launch, naming its key.

use rocket::figment::Figment;
use rocket_session_security::{Config, ManualClock};

fn with(key: &str, value: impl rocket::serde::Serialize) -> Figment {
    crate::common::figment().merge((format!("session_security.{key}"), value))
}

/// Asserts that `figment` is refused with an error naming `key`, and that
/// Rocket does not ignite with it.
async fn refused(figment: Figment, key: &str) {
    let error = Config::from_figment(&figment).expect_err("must be refused");
    assert_eq!(error.key, key, "{error}");
    assert!(error.to_string().contains(key), "{error}");
    let rocket = crate::common::app(figment, &ManualClock::new(crate::common::T0));
    let launch = rocket.ignite().await.expect_err("launch must abort");
    assert!(
        matches!(launch.kind(), rocket::error::ErrorKind::FailedFairings(_)),
        "{key}"
    );
}

#[rocket::async_test]
async fn defaults_when_the_table_is_missing() {
    let config = Config::from_figment(&rocket::Config::figment()).expect("defaults");
    assert_eq!(config, Config::default());
    assert_eq!((config.warn_after, config.expire_after), (540, 600));
    assert_eq!(config.relogin_url, "/login/1");
}

#[rocket::async_test]
async fn valid_configuration_ignites() {
    let rocket = crate::common::app(
        crate::common::figment(),
        &ManualClock::new(crate::common::T0),
    );
    assert!(rocket.ignite().await.is_ok());
}

#[rocket::async_test]
async fn warn_after_must_be_before_expire_after() {
    refused(with("warn_after", 10), "warn_after").await;
    refused(with("warn_after", 11), "warn_after").await;
}

#[rocket::async_test]
async fn zero_is_refused_where_it_makes_no_sense() {
    refused(with("warn_after", 0), "warn_after").await;
    refused(with("expire_after", 0), "expire_after").await;
    refused(with("backup_ttl", 0), "backup_ttl").await;
}

#[rocket::async_test]
async fn negative_and_mistyped_values_are_refused() {
    refused(with("expire_after", -5), "expire_after").await;
    refused(with("absolute_after", "soon"), "absolute_after").await;
    refused(with("relogin", "maybe"), "relogin").await;
    refused(with("passive_paths", 3), "passive_paths").await;
}

#[rocket::async_test]
async fn huge_values_are_refused() {
    refused(with("backup_ttl", u64::MAX), "backup_ttl").await;
}

#[rocket::async_test]
async fn unknown_keys_are_refused() {
    refused(with("expire_afer", 30), "expire_afer").await;
}

#[rocket::async_test]
async fn urls_must_be_local_paths() {
    refused(with("login_url", "https://evil.example/login"), "login_url").await;
    refused(with("relogin_url", "//evil.example/login/1"), "relogin_url").await;
    refused(with("logout_url", "javascript:alert(1)"), "logout_url").await;
    refused(with("passive_paths", ["status"]), "passive_paths").await;
}

#[rocket::async_test]
async fn environment_style_table_is_read() {
    let figment = crate::common::figment().merge((
        "session_security",
        rocket::serde::json::json!({ "warn_after": 2, "expire_after": 4 }),
    ));
    let config = Config::from_figment(&figment).expect("valid");
    assert_eq!((config.warn_after, config.expire_after), (2, 4));
}

#[rocket::async_test]
async fn unsupported_store_url_aborts_launch() {
    let figment = crate::common::figment().merge(("databases.session_security.url", "mysql://x/y"));
    let rocket = crate::common::app(figment, &ManualClock::new(crate::common::T0));
    let launch = rocket.ignite().await.expect_err("launch must abort");
    assert!(matches!(
        launch.kind(),
        rocket::error::ErrorKind::FailedFairings(_)
    ));
}
