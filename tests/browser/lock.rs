//! The lock, in a real browser (warn 4 s, expire 8 s): while the session
//! is expired the page's own content is out of the document, typed text
//! included, and the title names nothing of it; the same user's relogin
//! puts the very same nodes back, with their values, listeners, title and
//! scroll position.

use crate::{signed_in_on, LogsIn, Settings};
use serde_json::Value;

const TYPED: &str = "words typed before the lock";

/// What the document holds while locked: its text, its markup, how many
/// form fields, whether any field holds the typed text, its title and the
/// relogin dialog's heading.
const LOCKED: &str = "return { \
    text: document.body.innerText, \
    html: document.documentElement.outerHTML, \
    fields: document.querySelectorAll('input, textarea, select').length, \
    typed: Array.from(document.querySelectorAll('*')).some((e) => \
      typeof e.value === 'string' && e.value.indexOf('words typed') !== -1), \
    title: document.title, \
    heading: document.getElementById('session_security_relogin_title').textContent, \
  };";

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_expired_page_is_out_of_the_document_and_comes_back_exactly() {
    let Some((_served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    browser.fill("#notes", TYPED).await;
    // A mark on the field, a listener of the page, a scrolled page.
    let before = browser
        .js("const notes = document.getElementById('notes'); \
             notes.__mark = 'the same node'; window.__inputs = 0; \
             notes.addEventListener('input', () => { window.__inputs += 1; }); \
             document.getElementById('tall').style.height = '3000px'; \
             window.scrollTo(0, 1234); \
             return [document.title, window.scrollY];")
        .await;
    assert_eq!(before, serde_json::json!(["Page of alice", 1234]));

    let locked = browser.shown_within("session_security_relogin", 12).await;
    assert!(locked, "the relogin dialog");
    let seen = browser.js(LOCKED).await;
    let text = |key: &str| seen[key].as_str().unwrap_or_default().to_owned();
    for key in ["text", "html"] {
        assert!(
            !text(key).contains("Quarterly figures") && !text(key).contains(TYPED),
            "the page's {key} while locked: {}",
            text(key)
        );
    }
    assert_eq!(seen["fields"], 0, "form fields left in the document");
    assert_eq!(seen["typed"], false, "the typed text is in the document");
    assert_eq!(seen["title"], seen["heading"], "the title while locked");
    assert!(!text("title").contains("alice"));
    assert!(browser.content_locked().await);

    browser.relogin("alice").await;
    let back = browser.hidden_within("session_security_relogin", 5).await;
    assert!(back, "the dialog closed after the same user logged in");
    let after = browser
        .js("const notes = document.getElementById('notes'); \
             return { mark: notes && notes.__mark, value: notes && notes.value, \
               title: document.title, scroll: window.scrollY, \
               figures: document.body.innerText.indexOf('Quarterly figures of alice') !== -1 };")
        .await;
    assert_eq!(after["mark"], "the same node", "{after}");
    assert_eq!(after["value"], TYPED, "{after}");
    assert_eq!(after["title"], "Page of alice", "{after}");
    assert_eq!(after["scroll"], 1234, "{after}");
    assert_eq!(after["figures"], true, "{after}");
    // The page's own listener is still on its field.
    browser.fill("#notes", "more").await;
    let inputs = browser.js("return window.__inputs;").await;
    assert!(inputs.as_u64().is_some_and(|n| n > 0), "{inputs}");
    assert_eq!(
        browser.js("return window.__errors;").await,
        Value::Array(vec![])
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn escape_does_not_uncover_the_locked_page() {
    let Some((_served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    let locked = browser.shown_within("session_security_relogin", 12).await;
    assert!(locked, "the relogin dialog");
    // Escape twice on the dialog itself (not in the frame): a browser may
    // close a modal dialog on the second one regardless, or on the first,
    // and reopening it puts the focus in the frame; so the dialog takes the
    // focus before each, and counts the Escapes that reach it.
    browser
        .js("window.__escapes = 0; \
             document.getElementById('session_security_relogin').addEventListener('keydown', \
               (e) => { if (e.key === 'Escape') window.__escapes += 1; }, true);")
        .await;
    for _ in 0..2 {
        browser
            .js(
                "const d = document.getElementById('session_security_relogin'); \
                 d.tabIndex = -1; d.focus();",
            )
            .await;
        let focused = browser.client.active_element().await.expect("focus");
        focused.send_keys("\u{e00c}").await.expect("Escape");
        rocket::tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let escapes = browser.js("return window.__escapes;").await;
    assert_eq!(escapes, 2, "the Escapes that reached the dialog");
    assert!(browser.shown("session_security_relogin").await, "still up");
    assert!(browser.content_locked().await, "still locked");
    browser.finish().await;
}
