//! Relogin in place, in a real browser (warn 4 s, expire 8 s): unsaved
//! input survives, the other user gets nothing, one relogin serves every
//! tab, and a held submission goes through exactly once.

use std::time::Duration;

use crate::{app, signed_in, Browser, LogsIn, Settings};

const LONG_NOTE: &str = "First paragraph of a long note.\n\nSecond paragraph, still typing.";

/// Alice with a draft in her session, the page open, a half-typed form;
/// answers the page's CSRF token too; `None` without a browser.
async fn alice_typing() -> Option<(app::Served, Browser, String)> {
    let (served, browser) = signed_in(Settings::default(), "alice").await?;
    browser
        .goto(&served.url("/set/draft/kept-in-session"))
        .await;
    browser.goto(&served.url("/")).await;
    browser.fill("#title", "Quarterly review").await;
    browser.fill("#notes", LONG_NOTE).await;
    let token = browser.value("input[name=csrf_token]").await;
    Some((served, browser, token))
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn same_user_relogin_keeps_every_unsaved_input() {
    let Some((served, browser, old_token)) = alice_typing().await else {
        return;
    };

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
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_different_user_gets_a_fresh_page() {
    let Some((served, browser, _)) = alice_typing().await else {
        return;
    };
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
    // Going back never shows alice's page, not even at the entry where one
    // of hers stood (the start page she landed on), which the server now
    // renders for bob. A step back may only undo the relogin frame's own
    // navigation, on bob's page still: so back until the tab has left that
    // page and come to such an entry.
    let history = browser
        .js("window.__bobs_page = true; return history.length;")
        .await;
    let mut visited = Vec::new();
    for _ in 0..4 {
        browser.client.back().await.expect("back");
        rocket::tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = browser
            .js("const u = document.getElementById('user'); \
                 return [window.__bobs_page === true, u && u.textContent];")
            .await;
        if seen[0] == true {
            continue;
        }
        let url = browser.url().await;
        assert_ne!(
            seen[1], "alice",
            "going back showed alice's page at {url} (history {history})"
        );
        visited.push(url);
        if visited.last() == Some(&served.url("/")) {
            break;
        }
    }
    assert_eq!(
        visited.last(),
        Some(&served.url("/")),
        "went back to an entry of alice's start page: {visited:?} (history {history})"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn one_relogin_closes_the_dialog_in_every_tab() {
    let Some((served, browser, _)) = alice_typing().await else {
        return;
    };
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
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_held_submission_goes_through_exactly_once() {
    let Some((served, browser, _)) = alice_typing().await else {
        return;
    };
    // The laptop sleeps past the expiry and the user clicks Save on waking,
    // before the page has noticed anything.
    browser
        .freeze(9, "document.getElementById('save').click();")
        .await;
    // The page notices the expiry and locks, the submission held in it:
    // no request for /save at all by then, not even one refused.
    let locked = browser.shown_within("session_security_relogin", 12).await;
    assert_eq!(
        served.save_requests(),
        0,
        "a request reached the server while expired"
    );
    assert!(locked, "the relogin dialog");
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
    assert_eq!(served.save_requests(), 1, "one request in all");
    browser.finish().await;
}
