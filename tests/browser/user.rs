//! The browser client bound to its user, in a real browser (warn 4 s,
//! expire 8 s): a tab ignores the tab messages of another user, leaves the
//! page when another user signs in in the same browser, and a sign-out
//! (the warning's "Log out", or an application's own handler calling
//! `Session::logout`) reaches the user's other tabs within a second.

use std::time::Duration;

use crate::{
    left_for_login, page_text, signed_in_on, still_signed_in, user_tag, Browser, LogsIn, Settings,
};
use serde_json::Value;

/// The page clock now, in ms.
async fn now(browser: &Browser) -> i64 {
    browser.js("return Date.now();").await.as_i64().expect("ms")
}

/// What another tab's client would say over the tab channel: activity now
/// and a fresh answer of the server, both in the name of `tag`. Posted
/// every 300 ms by a plain page of the same origin (`/bye`, no client of
/// its own) until `window.__stop()`.
fn chatter(tag: &str) -> String {
    format!(
        "const bc = new BroadcastChannel('session_security'); \
         const send = () => {{ const now = Date.now(); \
           bc.postMessage({{type: 'activity', at: now, stamp: now, tag: '{tag}', from: 'other'}}); \
           bc.postMessage({{type: 'pong', started: now, done: now, result: 0, retry: 0, \
             stamp: now, tag: '{tag}', from: 'other'}}); }}; \
         send(); const timer = setInterval(send, 300); \
         window.__stop = () => {{ clearInterval(timer); bc.close(); }};"
    )
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn another_users_tabs_are_ignored_and_their_sign_in_leaves_the_page() {
    let Some((served, browser)) = signed_in_on(Settings::default(), "bob", "/").await else {
        return;
    };
    let bob = user_tag(&browser).await;
    browser.login(&served, "alice").await;
    browser.goto(&served.url("/")).await;
    let alice = user_tag(&browser).await;
    assert_ne!(alice, bob, "each user has a tag of their own");
    let alice_window = browser.client.window().await.expect("window");

    // Bob's tabs chatter: activity and fresh answers every 300 ms. Alice's
    // tab keeps to her own clock and warns at her own warning point.
    let other = browser.open_window(&served.url("/bye")).await;
    browser.js(&chatter(&bob)).await;
    browser.switch(&alice_window).await;
    let warned = browser.shown_within("session_security_warning", 7).await;
    assert!(warned, "bob's activity kept alice's tab from warning");

    // The same chatter in alice's name reaches her tab: it is the tag that
    // keeps bob's out.
    browser.switch(&other).await;
    browser.js("window.__stop();").await;
    browser.js(&chatter(&alice)).await;
    browser.switch(&alice_window).await;
    let hidden = browser.hidden_within("session_security_warning", 2).await;
    assert!(hidden, "alice's own tabs' activity reached her tab");
    browser.switch(&other).await;
    browser.js("window.__stop();").await;

    // Bob signs in in the same browser: alice's page goes.
    browser.login(&served, "bob").await;
    browser.switch(&alice_window).await;
    left_for_login(&browser, 2).await;
    let text = page_text(&browser).await;
    assert!(!text.contains("Quarterly figures"), "{text}");
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn log_out_in_the_warning_reaches_the_other_tab_within_a_second() {
    let Some((served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    let first = browser.client.window().await.expect("window");
    let second = browser.open_window(&served.url("/")).await;
    browser.switch(&first).await;
    let warned = browser.shown_within("session_security_warning", 8).await;
    assert!(warned, "warning shown");
    let clicked = now(&browser).await;
    browser.click("#session_security_logout").await;
    left_for_login(&browser, 3).await;
    browser.switch(&second).await;
    let left = left_for_login(&browser, 3).await;
    assert!(
        left - clicked <= 1000,
        "the other tab left {} ms after the click",
        left - clicked
    );
    assert!(
        !still_signed_in(&browser, &served).await,
        "signed out for good"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn an_applications_own_sign_out_reaches_the_other_tab_within_a_second() {
    let Some((served, browser)) = signed_in_on(Settings::timed(20, 40), "alice", "/").await else {
        return;
    };
    browser.fill("#notes", "unsaved words").await;
    let page = browser.client.window().await.expect("window");
    browser.open_window(&served.url("/signout")).await;
    let clicked = now(&browser).await;
    browser.click("#signout").await;
    let signed_out = browser.url_within(|url| url.ends_with("/bye"), 3).await;
    assert!(signed_out, "the application's handler answered");
    browser.switch(&page).await;
    let left = left_for_login(&browser, 3).await;
    assert!(
        left - clicked <= 1000,
        "the other tab left {} ms after the click",
        left - clicked
    );
    // The errors of the page the tab left, as it recorded them (the login
    // page records none of its own: `null` there).
    assert_eq!(
        browser
            .js("return JSON.parse(sessionStorage.getItem('__errors'));")
            .await,
        Value::Array(vec![]),
        "script errors in the page that left"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_sign_out_while_another_tab_is_locked_leaves_it_too() {
    let Some((served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    let locked = browser.shown_within("session_security_relogin", 12).await;
    assert!(locked, "the relogin dialog");
    let page = browser.client.window().await.expect("window");
    // Someone else signs in in another tab instead of alice's relogin.
    browser.open_window(&served.url("/bye")).await;
    browser.login(&served, "bob").await;
    browser.switch(&page).await;
    let gone = browser
        .wait_for(Duration::from_secs(2), || async {
            !browser.shown("session_security_relogin").await
        })
        .await;
    assert!(gone, "alice's locked page is discarded");
    let user = browser
        .js("const u = document.getElementById('user'); return u && u.textContent;")
        .await;
    assert_ne!(user, "alice");
    browser.finish().await;
}
