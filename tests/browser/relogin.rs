//! Relogin in place, in a real browser (warn 4 s, expire 8 s): unsaved
//! input survives, the other user gets nothing, one relogin serves every
//! tab, and a held submission goes through exactly once.

use std::time::Duration;

use crate::{app, Browser, LogsIn, Settings};

const LONG_NOTE: &str = "First paragraph of a long note.\n\nSecond paragraph, still typing.";

/// Alice with a draft in her session, the page open, a half-typed form.
async fn alice_typing(browser: &Browser, served: &app::Served) -> String {
    browser.login(served, "alice").await;
    browser
        .goto(&served.url("/set/draft/kept-in-session"))
        .await;
    browser.goto(&served.url("/")).await;
    browser.fill("#title", "Quarterly review").await;
    browser.fill("#notes", LONG_NOTE).await;
    browser.value("input[name=csrf_token]").await
}

#[rocket::async_test]
async fn same_user_relogin_keeps_every_unsaved_input() {
    if !crate::available() {
        return;
    }
    let served = app::serve(Settings::default()).await;
    let browser = Browser::start().await;
    let old_token = alice_typing(&browser, &served).await;

    assert!(
        browser
            .wait_for(Duration::from_secs(12), || browser
                .shown("session_security_relogin"))
            .await
    );
    assert!(
        browser.content_locked().await,
        "the page is out of the document"
    );
    browser.relogin("alice").await;
    let closed = browser.hidden_within("session_security_relogin", 5).await;
    assert!(closed, "dialog closed after the same user logged in");
    assert!(!browser.content_locked().await);

    assert_eq!(browser.value("#title").await, "Quarterly review");
    assert_eq!(browser.value("#notes").await, LONG_NOTE);
    let tokens = browser
        .js(
            "return Array.from(document.querySelectorAll('input[name=csrf_token]'), i => i.value) \
             .concat([document.querySelector('meta[name=csrf-token]').content]);",
        )
        .await;
    let tokens: Vec<&str> = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert_eq!(tokens.len(), 3, "two forms and the meta tag");
    assert!(
        tokens.iter().all(|t| *t == tokens[0] && *t != old_token),
        "{tokens:?}"
    );

    browser.click("#save").await;
    let saved = browser
        .wait_for(Duration::from_secs(5), || async {
            browser.shown("saved").await
        })
        .await;
    assert!(saved, "the submit went through with the fresh CSRF token");
    assert_eq!(
        served.saves(),
        vec![format!(
            "Quarterly review|{}",
            LONG_NOTE.replace('\n', "\r\n")
        )]
    );

    browser.goto(&served.url("/")).await;
    let draft = browser
        .js("return document.getElementById('draft').textContent;")
        .await;
    assert_eq!(
        draft, "kept-in-session",
        "session data from before expiry is back"
    );
    browser.finish().await;
}

#[rocket::async_test]
async fn a_different_user_gets_a_fresh_page() {
    if !crate::available() {
        return;
    }
    let served = app::serve(Settings::default()).await;
    let browser = Browser::start().await;
    alice_typing(&browser, &served).await;
    browser.relogin("bob").await;
    let replaced = browser
        .wait_for(Duration::from_secs(5), || async {
            browser
                .js("const u = document.getElementById('user'); return u && u.textContent;")
                .await
                == "bob"
        })
        .await;
    assert!(replaced, "the page was replaced by bob's start page");
    assert_eq!(browser.value("#notes").await, "", "none of alice's input");
    assert_eq!(
        browser
            .js("return document.getElementById('draft').textContent;")
            .await,
        ""
    );
    let history = browser.js("return history.length;").await;
    browser.client.back().await.ok();
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    let after_back = browser
        .js("const u = document.getElementById('user'); return u && u.textContent;")
        .await;
    assert_ne!(
        after_back, "alice",
        "going back does not show alice's page (history {history})"
    );
    browser.finish().await;
}

#[rocket::async_test]
async fn one_relogin_closes_the_dialog_in_every_tab() {
    if !crate::available() {
        return;
    }
    let served = app::serve(Settings::default()).await;
    let browser = Browser::start().await;
    alice_typing(&browser, &served).await;
    let first = browser.client.window().await.expect("window");
    let second = browser.open_window(&served.url("/")).await;
    for window in [&first, &second] {
        browser.switch(window).await;
        assert!(
            browser
                .wait_for(Duration::from_secs(12), || browser
                    .shown("session_security_relogin"))
                .await
        );
    }
    browser.switch(&first).await;
    browser.relogin("alice").await;
    browser.switch(&second).await;
    let closed = browser.hidden_within("session_security_relogin", 5).await;
    let diagnose = "const r = document.getElementById('session_security_relogin'); \
        return [document.documentElement.className, r && r.hidden, \
        document.getElementById('session_security_relogin_frame').src, location.href];";
    let second_state = browser.js(diagnose).await;
    browser.switch(&first).await;
    let first_state = browser.js(diagnose).await;
    browser.switch(&second).await;
    assert!(
        closed,
        "the other tab's dialog closed too: {second_state} (first: {first_state})"
    );
    browser.switch(&first).await;
    assert!(!browser.shown("session_security_relogin").await);
    browser.finish().await;
}

#[rocket::async_test]
async fn a_held_submission_goes_through_exactly_once() {
    if !crate::available() {
        return;
    }
    let served = app::serve(Settings::default()).await;
    let browser = Browser::start().await;
    alice_typing(&browser, &served).await;
    // The laptop sleeps past the expiry and the user clicks Save on waking,
    // before the page has noticed anything.
    browser
        .freeze(9, "document.getElementById('save').click();")
        .await;
    assert!(
        served.saves().is_empty(),
        "nothing reached the server while expired"
    );
    browser.relogin("alice").await;
    let saved = browser.shown_within("saved", 6).await;
    assert!(saved, "the held form was sent after the relogin");
    rocket::tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        served.saves().len(),
        1,
        "exactly once: {:?}",
        served.saves()
    );
    browser.finish().await;
}
