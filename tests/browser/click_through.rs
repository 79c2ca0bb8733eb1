//! A click beside the warning (on its backdrop, over a field of the page)
//! dismisses the warning and lands where it was meant: the field under the
//! pointer gets the focus, so the user types into it without a second click.

use std::time::Duration;

use crate::{signed_in_on, Settings};
use test_support::fantoccini::actions::{
    InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_click_on_a_field_behind_the_warning_focuses_that_field() {
    let Some((_served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    assert!(
        browser.shown_within("session_security_warning", 6).await,
        "the warning shows"
    );
    // A point of #title that the warning's box does not cover: the backdrop
    // is what the pointer really hits there.
    let point = browser
        .js("const f = document.getElementById('title').getBoundingClientRect(); \
             const d = document.getElementById('session_security_warning').getBoundingClientRect(); \
             const x = f.left + 5, y = f.top + f.height / 2; \
             const inside = x >= d.left && x <= d.right && y >= d.top && y <= d.bottom; \
             return inside ? null : [x, y];")
        .await;
    let (x, y) = (
        point[0]
            .as_f64()
            .expect("a point of #title beside the warning"),
        point[1].as_f64().expect("y"),
    );
    let click = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: x.round(),
            y: y.round(),
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser.client.perform_actions(click).await.expect("click");
    assert!(
        browser.hidden_within("session_security_warning", 2).await,
        "the click dismissed the warning"
    );
    let focused = browser
        .wait_for(Duration::from_secs(2), || async {
            browser.js("return document.activeElement.id;").await == "title"
        })
        .await;
    assert!(
        focused,
        "the field under the pointer has the focus, not {}",
        browser
            .js("const e = document.activeElement; return e.tagName + '#' + e.id;")
            .await
    );
    browser.press_key().await;
    assert_eq!(browser.value("#title").await, "x", "typed into the field");
    browser.finish().await;
}
