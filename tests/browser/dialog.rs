//! The warning dialog as a person uses it (keyboard, buttons, focus), its
//! translations, the storage-event fallback, and what the relogin dialog
//! refuses: messages from anything but its own frame, pings while up.

use std::time::{Duration, Instant};

use crate::{app, signed_in_on, since, still_signed_in, Browser, LogsIn, Settings};

/// Alice signed in on `/`, warned; `None` without a browser.
async fn warned(settings: Settings) -> Option<(app::Served, Browser)> {
    let (served, browser) = signed_in_on(settings, "alice", "/").await?;
    let shown = browser.shown_within("session_security_warning", 8).await;
    assert!(shown, "warning shown");
    Some((served, browser))
}

async fn active_id(browser: &Browser) -> String {
    let id = browser
        .js("return document.activeElement ? document.activeElement.id : '';")
        .await;
    id.as_str().unwrap_or_default().to_owned()
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_warning_takes_focus_keeps_it_from_the_page_and_gives_it_back() {
    let Some((_served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    browser
        .js("document.getElementById('title').focus();")
        .await;
    let shown = browser.shown_within("session_security_warning", 8).await;
    assert!(shown);
    assert_eq!(active_id(&browser).await, "session_security_stay");
    // A native modal dialog: Tab goes round its buttons and the browser's
    // own UI (the document loses focus, nothing in it has the focus), never
    // to an element of the page behind it.
    let mut rounds = Vec::new();
    for _ in 0..4 {
        let focused = browser.client.active_element().await.expect("focus");
        focused.send_keys("\u{e004}").await.expect("Tab"); // WebDriver's Tab key
        let place = browser
            .js("const a = document.activeElement; \
                 return a && a.closest('#session_security_warning') ? a.id \
                 : a && a !== document.body ? 'page: ' + (a.id || a.tagName) : 'nowhere';")
            .await;
        rounds.push(place.as_str().unwrap_or_default().to_owned());
    }
    assert!(
        rounds.iter().all(|place| !place.starts_with("page")),
        "Tab reached the page behind the dialog: {rounds:?}"
    );
    assert!(
        rounds
            .iter()
            .filter(|place| *place == "session_security_stay")
            .count()
            >= 1,
        "Tab came back into the dialog: {rounds:?}"
    );
    browser.click("#session_security_stay").await;
    let hidden = browser.hidden_within("session_security_warning", 2).await;
    assert!(hidden, "Stay signed in hides the warning");
    assert_eq!(active_id(&browser).await, "title", "focus given back");
    // The keepalive counted on the server: still signed in past the old
    // expiry...
    let stayed = Instant::now();
    rocket::tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!browser.shown("session_security_relogin").await);
    // ...and the expiry itself works: it comes, counted from the click.
    let expired = browser.shown_within("session_security_relogin", 6).await;
    assert!(expired, "no expiry {:.1} s after the click", since(stayed));
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn escape_means_stay_signed_in() {
    let Some((_served, browser)) = warned(Settings::default()).await else {
        return;
    };
    let focused = browser.client.active_element().await.expect("focus");
    focused.send_keys("\u{e00c}").await.expect("Escape");
    let hidden = browser.hidden_within("session_security_warning", 2).await;
    assert!(hidden, "Escape dismissed the warning");
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn log_out_ends_the_session_without_a_relogin_dialog() {
    let Some((served, browser)) = warned(Settings::default()).await else {
        return;
    };
    browser.click("#session_security_logout").await;
    let at_login = browser.url_within(|url| url.contains("/login"), 5).await;
    assert!(at_login, "went to the login page, not the relogin dialog");
    assert!(
        !still_signed_in(&browser, &served).await,
        "the server session is gone"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn without_relogin_expiry_goes_to_the_logout_url() {
    let settings = Settings {
        relogin: false,
        logout_url: Some("/bye"),
        ..Settings::default()
    };
    let Some((_served, browser)) = signed_in_on(settings, "alice", "/").await else {
        return;
    };
    let gone = browser.url_within(|url| url.ends_with("/bye"), 14).await;
    assert!(gone, "expiry went to logout_url");
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_countdown_speaks_polish_plurals() {
    let settings = Settings {
        locale: Some("pl"),
        ..Settings::timed(3, 9)
    };
    let Some((_served, browser)) = warned(settings).await else {
        return;
    };
    let mut seen = std::collections::BTreeMap::new();
    let start = Instant::now();
    while since(start) < 5.5 {
        let text = browser
            .js("return document.getElementById('session_security_counter').textContent;")
            .await;
        if let Some(n) = browser.counter().await {
            seen.insert(n, text.as_str().unwrap_or_default().to_owned());
        }
        rocket::tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let few: Vec<_> = seen.iter().filter(|(n, _)| (2..=4).contains(*n)).collect();
    let many: Vec<_> = seen.iter().filter(|(n, _)| (5..=6).contains(*n)).collect();
    assert!(!few.is_empty() && !many.is_empty(), "{seen:?}");
    assert!(few.iter().all(|(_, t)| t.contains("sekundy")), "{seen:?}");
    assert!(
        many.iter()
            .all(|(_, t)| t.contains("sekund") && !t.contains("sekundy")),
        "{seen:?}"
    );
    let title = browser
        .js("return document.getElementById('session_security_warning_title').textContent;")
        .await;
    assert!(
        !title.as_str().unwrap_or_default().contains("Your session"),
        "{title}"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn tabs_agree_through_storage_events_without_broadcast_channel() {
    let Some((served, browser)) = signed_in_on(Settings::default(), "alice", "/nobc").await else {
        return;
    };
    assert_eq!(
        browser.js("return typeof BroadcastChannel;").await,
        "undefined"
    );
    let first = browser.client.window().await.expect("window");
    let second = browser.open_window(&served.url("/nobc")).await;
    for window in [&first, &second] {
        browser.switch(window).await;
        let shown = browser.shown_within("session_security_warning", 8).await;
        assert!(shown, "warning in both tabs");
    }
    browser.switch(&first).await;
    browser.press_key().await;
    browser.switch(&second).await;
    let hidden = browser.hidden_within("session_security_warning", 2).await;
    assert!(
        hidden,
        "activity reached the other tab through storage events"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_relogin_dialog_ignores_other_windows_and_stops_pinging() {
    let Some((served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    let old_token = browser.value("input[name=csrf_token]").await;
    let expired = browser.shown_within("session_security_relogin", 12).await;
    assert!(expired);
    // The expiry came from the server's answer to a ping: the count sees
    // this page's pings.
    assert!(served.pings() > 0, "no ping of the page counted");
    // The page itself (not the relogin frame) claims a relogin happened.
    browser
        .js(
            "window.postMessage({type: 'session_security:relogin', sameUser: true, \
             csrfToken: 'forged'}, location.origin);",
        )
        .await;
    let pings = served.pings();
    rocket::tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        browser.shown("session_security_relogin").await,
        "a forged message closed it"
    );
    assert!(
        browser.content_locked().await,
        "a forged message unlocked it"
    );
    assert_eq!(served.pings(), pings, "pings while the dialog is up");
    // The real relogin puts the page back with the server's new token in
    // every field: neither the old one nor the forged one.
    browser.relogin("alice").await;
    let closed = browser.hidden_within("session_security_relogin", 5).await;
    assert!(closed, "the real relogin closed the dialog");
    let token = browser.value("input[name=csrf_token]").await;
    assert!(
        token != old_token && token != "forged" && !token.is_empty(),
        "{token}"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn log_in_as_someone_else_leaves_the_page() {
    let Some((_served, browser)) = signed_in_on(Settings::default(), "alice", "/").await else {
        return;
    };
    browser.fill("#notes", "alice's words").await;
    let expired = browser.shown_within("session_security_relogin", 12).await;
    assert!(expired);
    browser.click("#session_security_relogin_other").await;
    let left = browser.url_within(|url| url.contains("/login"), 5).await;
    assert!(left, "a full navigation to the login page");
    assert_eq!(browser.value("#notes").await, "");
    browser.finish().await;
}
