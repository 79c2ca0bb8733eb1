//! Browser-test harness: the test application served on 127.0.0.1 on a free
//! port with the real clock and short timings, driven by Debian's headless
//! Chromium through ChromeDriver.

pub mod app;

pub use app::{LogsIn, Served, Settings};
pub use test_support::browser::*;

/// The application served with `settings` and a fresh browser in which
/// `user` signed in through its login form, which lands on `/`; `None`
/// when Chromium or ChromeDriver is missing (the test is skipped then).
pub async fn signed_in(settings: Settings, user: &str) -> Option<(Served, Browser)> {
    if !available() {
        return None;
    }
    let served = app::serve(settings).await;
    let browser = Browser::start().await;
    browser.login(&served, user).await;
    Some((served, browser))
}

/// As [`signed_in`], then `path` loaded afresh: that page load is the
/// user's last activity.
pub async fn signed_in_on(settings: Settings, user: &str, path: &str) -> Option<(Served, Browser)> {
    let (served, browser) = signed_in(settings, user).await?;
    browser.goto(&served.url(path)).await;
    Some((served, browser))
}

/// The text of the current page.
pub async fn page_text(browser: &Browser) -> String {
    let text = browser.js("return document.body.innerText;").await;
    text.as_str().unwrap_or_default().to_owned()
}

/// Whether the server still takes `browser` for signed in: `/` loaded
/// afresh stays, rather than sending it to the login page.
pub async fn still_signed_in(browser: &Browser, served: &Served) -> bool {
    browser.goto(&served.url("/")).await;
    !browser.url().await.contains("/login")
}

/// The user tag the current page was rendered for.
pub async fn user_tag(browser: &Browser) -> String {
    let tag = browser
        .js("return JSON.parse(document.getElementById('session_security_config').textContent).userTag;")
        .await;
    tag.as_str().expect("a user tag in the page").to_owned()
}

/// Waits until the current window has left for the login page and answers
/// when (page clock, epoch ms) its page was left, as the test page's probe
/// wrote it to the tab's sessionStorage.
pub async fn left_for_login(browser: &Browser, within: u64) -> i64 {
    let left = browser
        .url_within(|url| url.contains("/login"), within)
        .await;
    assert!(left, "still on {}", browser.url().await);
    let at = browser
        .js("return Number(sessionStorage.getItem('__left'));")
        .await;
    at.as_i64()
        .filter(|at| *at > 0)
        .expect("the time the page was left")
}

// The browser tests use the common app's paths and store helpers only.
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
#[cfg(feature = "postgres")]
#[path = "../pg_server/mod.rs"]
mod pg_server;

mod click_through;
mod client;
mod dialog;
mod forged;
mod lock;
mod minimal;
mod push;
mod relogin;
mod smoke;
#[cfg(feature = "postgres")]
mod unavailable;
mod user;
mod warning;
