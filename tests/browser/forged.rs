//! A forged tab message does not unlock a locked page, in a real browser
//! (warn 4 s, expire 8 s). Any script of the origin can post on the tab
//! channel (BroadcastChannel, or the storage events that stand in for it)
//! in the name of the page's user; a message that would uncover a locked
//! page counts only once the server confirms a live session of that user,
//! with the CSRF token the message brings. A genuine relogin in another
//! tab still uncovers it.

use std::time::Duration;

use crate::{app, signed_in_on, user_tag, Browser, LogsIn, Settings};
use serde_json::Value;
use test_support::fantoccini::wd::WindowHandle;

const TYPED: &str = "words typed before the lock";

/// Posts `{type: 'relogin', tag, token}` on the tab channel from the
/// current window, as another tab's client would after its relogin:
/// through BroadcastChannel, or through localStorage (the storage event
/// the fallback listens to) with `storage`. `token`: JS, `undefined` for
/// none.
async fn forge(browser: &Browser, tag: &str, token: &str, storage: bool) {
    let message = format!("{{type: 'relogin', tag: '{tag}', token: {token}, from: 'forger'}}");
    let post = if storage {
        format!(
            "localStorage.setItem('session_security', JSON.stringify({message})); \
             localStorage.removeItem('session_security');"
        )
    } else {
        // Kept open: a channel collected at once might drop its message.
        format!(
            "window.__bc = window.__bc || new BroadcastChannel('session_security'); \
             window.__bc.postMessage({message});"
        )
    };
    browser.js(&post).await;
}

/// Asserts that the current window is still the locked page at `path`: the
/// relogin dialog up, the content out of the document, the title neutral,
/// no script error.
async fn still_locked(browser: &Browser, served: &app::Served, path: &str, after: &str) {
    let page = served.url(path);
    assert_eq!(browser.url().await, page, "the page was left {after}");
    assert!(
        browser.shown("session_security_relogin").await,
        "the relogin dialog closed {after}"
    );
    assert!(
        browser.content_locked().await,
        "the content is back in the document {after}"
    );
    let uncovered = browser.js("return window.__uncovered;").await;
    assert_eq!(uncovered, false, "the content came back {after}");
    let title = browser.js("return document.title;").await;
    assert_ne!(title, "Page of alice", "the page's title is back {after}");
    assert_eq!(
        browser.js("return window.__errors;").await,
        Value::Array(vec![]),
        "{after}"
    );
}

/// Waits until the current window's page is locked, then watches it: the
/// page's content back in the document even for a moment (the page locks
/// again once it asks the server, coming to the foreground, say) sets
/// `window.__uncovered`.
async fn locked(browser: &Browser) {
    let shown = browser.shown_within("session_security_relogin", 12).await;
    assert!(shown, "the relogin dialog");
    assert!(
        browser.content_locked().await,
        "the page is out of the document"
    );
    browser
        .js("window.__uncovered = false; \
             new MutationObserver(() => { \
               if (document.getElementById('content')) window.__uncovered = true; \
             }).observe(document.body, { childList: true });")
        .await;
}

/// Records in `window.__heard` what the current window hears on the tab
/// channel: through BroadcastChannel, or through the storage events the
/// fallback listens to with `storage`.
async fn overhear(browser: &Browser, storage: bool) {
    let listen = if storage {
        "addEventListener('storage', (e) => { \
           if (e.key === 'session_security' && e.newValue) \
             window.__heard.push(JSON.parse(e.newValue)); });"
    } else {
        "window.__ear = new BroadcastChannel('session_security'); \
         window.__ear.onmessage = (e) => window.__heard.push(e.data);"
    };
    browser.js(&format!("window.__heard = []; {listen}")).await;
}

/// Two tabs of alice's on `path` (the first already open), a text typed in
/// the first, both locked; answers the first, the second and alice's tag.
async fn two_locked_tabs(
    browser: &Browser,
    served: &app::Served,
    path: &str,
) -> (WindowHandle, WindowHandle, String) {
    browser.fill("#notes", TYPED).await;
    let tag = user_tag(browser).await;
    let page = browser.client.window().await.expect("window");
    let other = browser.open_window(&served.url(path)).await;
    for window in [&page, &other] {
        browser.switch(window).await;
        locked(browser).await;
    }
    (page, other, tag)
}

/// Forged relogin messages from a plain page of the origin (`/bye`, no
/// client of its own) leave the locked page locked; then a relogin in the
/// other locked tab uncovers it, typed text and all. The forger's page
/// listens on the channel too: it hears that genuine relogin, so what it
/// posted did reach the tabs.
async fn forged_then_genuine(path: &str, storage: bool) {
    let Some((served, browser)) = signed_in_on(Settings::default(), "alice", path).await else {
        return;
    };
    let (page, other, tag) = two_locked_tabs(&browser, &served, path).await;

    let forger = browser.open_window(&served.url("/bye")).await;
    overhear(&browser, storage).await;
    for token in ["'forged'", "undefined"] {
        forge(&browser, &tag, token, storage).await;
    }
    rocket::tokio::time::sleep(Duration::from_secs(2)).await;
    for window in [&page, &other] {
        browser.switch(window).await;
        still_locked(&browser, &served, path, "after forged messages").await;
    }

    // Alice herself logs in again in the other tab: this one follows.
    browser.switch(&other).await;
    browser.relogin("alice").await;
    let closed = browser.hidden_within("session_security_relogin", 5).await;
    assert!(closed, "the relogin closed its own tab's dialog");
    browser.switch(&page).await;
    let closed = browser.hidden_within("session_security_relogin", 5).await;
    assert!(closed, "a genuine relogin in another tab uncovers this one");
    assert!(!browser.content_locked().await);
    assert_eq!(browser.value("#notes").await, TYPED);
    assert_eq!(browser.url().await, served.url(path));
    // The forger was on the very channel the tabs talk on: it heard the
    // genuine relogin, so its forged messages did reach them.
    browser.switch(&forger).await;
    let heard = browser
        .js(&format!(
            "return window.__heard.some((m) => m && m.type === 'relogin' \
               && m.tag === '{tag}' && m.from !== 'forger');"
        ))
        .await;
    assert_eq!(heard, true, "the forger's page is off the tabs' channel");
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_forged_relogin_message_leaves_the_locked_page_locked() {
    forged_then_genuine("/", false).await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_forged_storage_event_leaves_the_locked_page_locked() {
    forged_then_genuine("/nobc", true).await;
}

/// A live session of alice's exists again (she signed in anew in another
/// tab, not through the dialog): a message in her name still needs that
/// session's CSRF token to uncover the locked page, the token it then
/// takes.
#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_live_session_is_not_enough_without_its_token() {
    let Some((served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    browser.fill("#notes", TYPED).await;
    let tag = user_tag(&browser).await;
    let page = browser.client.window().await.expect("window");
    locked(&browser).await;

    browser.open_window(&served.url("/bye")).await;
    browser.login(&served, "alice").await;
    browser.goto(&served.url("/")).await;
    let token = browser
        .js("return document.querySelector('meta[name=csrf-token]').content;")
        .await;
    let token = token.as_str().expect("the new session's token").to_owned();
    for forged in ["'forged'", "undefined"] {
        forge(&browser, &tag, forged, false).await;
    }
    browser.switch(&page).await;
    rocket::tokio::time::sleep(Duration::from_secs(2)).await;
    still_locked(&browser, &served, "/", "for a token not the session's").await;

    // The session's own token is as good as its relogin.
    browser.open_window(&served.url("/bye")).await;
    forge(&browser, &tag, &format!("'{token}'"), false).await;
    browser.switch(&page).await;
    let closed = browser.hidden_within("session_security_relogin", 5).await;
    assert!(closed, "the session's own token uncovers the page");
    assert_eq!(browser.value("#notes").await, TYPED);
    let tokens = browser
        .js(
            "return Array.from(document.querySelectorAll('input[name=csrf_token]'), i => i.value) \
             .concat([document.querySelector('meta[name=csrf-token]').content]);",
        )
        .await;
    assert!(
        tokens
            .as_array()
            .expect("tokens")
            .iter()
            .all(|t| *t == token.as_str()),
        "{tokens}"
    );
    browser.finish().await;
}
