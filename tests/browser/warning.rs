//! The warning in a real browser, with warn 4 s and expire 8 s: the
//! original's three two-window scenarios, plus countdown, touch, sleep and
//! visibility, CSP, ping count across tabs and the unsaved-form guard.

use std::time::{Duration, Instant};

use crate::{app, signed_in, signed_in_on, since, Browser, LogsIn, Settings};

const WARN: f64 = 4.0;
const EXPIRE: f64 = 8.0;

/// Alice signed in, the page open in `windows` windows.
type InWindows = (
    app::Served,
    Browser,
    Vec<test_support::fantoccini::wd::WindowHandle>,
    Instant,
);

/// Serves the application with `settings`, logs alice in and opens the
/// page in `windows` windows; answers them with the handles and the time
/// the last page loaded (the last activity); `None` without a browser.
async fn in_windows(settings: Settings, windows: usize) -> Option<InWindows> {
    let (served, browser) = signed_in(settings, "alice").await?;
    let first = browser.client.window().await.expect("window");
    let mut handles = vec![first];
    for _ in 1..windows {
        handles.push(browser.open_window(&served.url("/")).await);
    }
    browser.switch(&handles[0]).await;
    browser.goto(&served.url("/")).await;
    Some((served, browser, handles, Instant::now()))
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn warning_then_expiry_in_every_window() {
    let settings = Settings {
        relogin: false,
        ..Settings::default()
    };
    let Some((_served, browser, windows, start)) = in_windows(settings, 2).await else {
        return;
    };
    let mut warned = vec![None; windows.len()];
    let mut logged_out = vec![None; windows.len()];
    while logged_out.iter().any(Option::is_none) && since(start) < EXPIRE + 6.0 {
        for (i, window) in windows.iter().enumerate() {
            browser.switch(window).await;
            if warned[i].is_none() && browser.shown("session_security_warning").await {
                warned[i] = Some(since(start));
            }
            if logged_out[i].is_none() && browser.url().await.contains("/login") {
                logged_out[i] = Some(since(start));
            }
        }
    }
    for i in 0..windows.len() {
        let warned = warned[i].expect("warning shown");
        let gone = logged_out[i].expect("login page shown");
        assert!(
            (WARN - 0.2..EXPIRE).contains(&warned),
            "window {i} warned at {warned}"
        );
        assert!(
            (EXPIRE - 0.2..EXPIRE + 5.0).contains(&gone),
            "window {i} left at {gone}"
        );
    }
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn activity_in_one_window_hides_the_warning_in_the_other() {
    let Some((_served, browser, windows, _)) = in_windows(Settings::default(), 2).await else {
        return;
    };
    for window in &windows {
        browser.switch(window).await;
        let shown = browser.shown_within("session_security_warning", 6).await;
        assert!(shown, "warning shown in every window");
    }
    browser.switch(&windows[0]).await;
    browser.press_key().await;
    let pressed = Instant::now();
    assert!(
        !browser.shown("session_security_warning").await || {
            browser.hidden_within("session_security_warning", 1).await
        }
    );
    browser.switch(&windows[1]).await;
    let hidden = browser.hidden_within("session_security_warning", 2).await;
    assert!(hidden, "the other window's warning hid");
    // And the server heard of it: nobody is logged out at the old expiry,
    // nor until a second before the key's own expiry...
    while since(pressed) < EXPIRE - 1.0 {
        rocket::tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(!browser.shown("session_security_relogin").await);
    assert!(!browser.url().await.contains("/login"));
    // ...which does come: the expiry works, counted from the key.
    let expired = browser.shown_within("session_security_relogin", 6).await;
    assert!(expired, "no expiry {:.1} s after the key", since(pressed));
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn activity_before_the_warning_point_delays_it() {
    let Some((_served, browser, windows, start)) = in_windows(Settings::default(), 2).await else {
        return;
    };
    rocket::tokio::time::sleep(Duration::from_millis(2500)).await;
    browser.fill("#title", "typing").await;
    let typed = Instant::now();
    let mut first_seen = None;
    while first_seen.is_none() && since(typed) < WARN + 3.0 {
        for window in &windows {
            browser.switch(window).await;
            if browser.shown("session_security_warning").await {
                first_seen.get_or_insert(since(typed));
            }
        }
    }
    let seen = first_seen.expect("warning shows eventually");
    assert!(
        seen >= WARN - 0.2,
        "warning {seen} s after typing, started {}",
        since(start)
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn countdown_shows_the_real_seconds_left() {
    let Some((_served, browser, _, start)) = in_windows(Settings::timed(3, 9), 1).await else {
        return;
    };
    let shown = browser.shown_within("session_security_warning", 6).await;
    assert!(shown);
    let first = browser.counter().await.expect("a number in the countdown");
    let left = 9.0 - since(start);
    assert!(
        (first as f64 - left).abs() <= 1.5,
        "countdown {first}, really {left:.1} left"
    );
    rocket::tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = browser.counter().await.expect("countdown");
    assert!(
        (first - later - 2).abs() <= 1,
        "counted {first} then {later} two seconds later"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn touch_counts_as_activity() {
    let Some((_served, browser, _, _)) = in_windows(Settings::default(), 1).await else {
        return;
    };
    assert!(
        browser
            .wait_for(Duration::from_secs(6), || browser
                .shown("session_security_warning"))
            .await
    );
    browser
        .js(
            "const t = new Touch({identifier: 1, target: document.body, clientX: 5, clientY: 5}); \
             document.body.dispatchEvent(new TouchEvent('touchstart', \
               {bubbles: true, cancelable: true, touches: [t], changedTouches: [t]}));",
        )
        .await;
    let hidden = browser.hidden_within("session_security_warning", 2).await;
    assert!(hidden, "a tap dismissed the warning");
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn coming_back_to_a_tab_pings_at_once() {
    let Some((served, browser, _, _)) = in_windows(Settings::timed(20, 40), 1).await else {
        return;
    };
    rocket::tokio::time::sleep(Duration::from_millis(1500)).await;
    // Headless windows never hide: play the browser's part.
    let set_visibility = |state: &str| {
        format!(
            "Object.defineProperty(document, 'visibilityState', \
               {{ value: '{state}', configurable: true }}); \
             document.dispatchEvent(new Event('visibilitychange'));"
        )
    };
    browser.js(&set_visibility("hidden")).await;
    rocket::tokio::time::sleep(Duration::from_millis(300)).await;
    let before = served.pings();
    browser.js(&set_visibility("visible")).await;
    let pinged = browser
        .wait_for(Duration::from_secs(2), || async { served.pings() > before })
        .await;
    assert!(pinged, "no ping when the tab became visible again");
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn after_a_sleep_past_expiry_the_page_expires_at_once() {
    let Some((_served, browser, _, _)) = in_windows(Settings::default(), 1).await else {
        return;
    };
    browser.freeze(EXPIRE as u64 + 1, "").await;
    let woke = Instant::now();
    let expired = browser.shown_within("session_security_relogin", 4).await;
    assert!(expired, "relogin dialog after waking up");
    assert!(
        since(woke) < 3.0,
        "expired {:.1} s after waking",
        since(woke)
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn strict_csp_page_works_without_errors_or_violations() {
    let Some((served, browser)) = signed_in_on(Settings::default(), "alice", "/csp").await else {
        return;
    };
    assert!(
        browser
            .wait_for(Duration::from_secs(6), || browser
                .shown("session_security_warning"))
            .await
    );
    let counter = browser.counter().await;
    assert!(
        counter.is_some_and(|n| n > 0 && n <= 4),
        "countdown {counter:?}"
    );
    assert!(
        browser
            .wait_for(Duration::from_secs(6), || browser
                .shown("session_security_relogin"))
            .await
    );
    assert!(
        browser.content_locked().await,
        "the page is out of the document behind the dialog"
    );
    assert_eq!(
        browser.js("return window.__errors;").await,
        rocket::serde::json::json!([])
    );
    assert_eq!(served.csp_reports(), 0, "CSP violations reported");
    app::a_violation_is_reported(&browser, &served).await;
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn pings_per_cycle_do_not_grow_with_tabs() {
    let Some((served, browser, windows, start)) = in_windows(Settings::default(), 4).await else {
        return;
    };
    let before = served.pings();
    for window in &windows {
        browser.switch(window).await;
        let shown = browser.shown_within("session_security_warning", 7).await;
        assert!(shown, "warning in every tab");
    }
    let warned_pings = served.pings() - before;
    assert!(
        warned_pings <= 2,
        "{warned_pings} pings for one warning with 4 tabs"
    );
    for window in &windows {
        browser.switch(window).await;
        assert!(
            browser
                .wait_for(Duration::from_secs(7), || browser
                    .shown("session_security_relogin"))
                .await
        );
    }
    let cycle_pings = served.pings() - before;
    // At least the ping that met the expiry: the count sees the pings.
    assert!(cycle_pings >= 1, "no ping counted for the cycle");
    assert!(
        cycle_pings <= 3,
        "{cycle_pings} pings for a whole cycle with 4 tabs ({:.1} s)",
        since(start)
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn unsaved_form_guard_never_blocks_the_expiry() {
    let settings = Settings {
        relogin: false,
        ..Settings::default()
    };
    let Some((_served, browser, _, _)) = in_windows(settings, 1).await else {
        return;
    };
    browser.fill("#notes", "half a thought").await;
    // The guard is armed: a plain unload would be questioned.
    let armed = browser
        .js("const e = new Event('beforeunload', {cancelable: true}); \
             window.dispatchEvent(e); return e.defaultPrevented;")
        .await;
    assert_eq!(armed, true, "dirty form arms the unload prompt");
    // Record what the guard does at the expiry's own navigation.
    browser
        .js("window.addEventListener('beforeunload', function (e) { \
               sessionStorage.setItem('prompted', String(e.defaultPrevented)); });")
        .await;
    let left = browser.url_within(|url| url.contains("/login"), 12).await;
    assert!(left, "expiry reached the login page");
    let prompted = browser
        .js("return sessionStorage.getItem('prompted');")
        .await;
    assert_eq!(
        prompted, "false",
        "the unload prompt was suppressed at expiry"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_host_page_hears_warning_activity_expiry_relogin_and_sign_out() {
    let Some((_served, browser, _, _)) = in_windows(Settings::default(), 1).await else {
        return;
    };
    browser
        .js("window.__heard = []; \
             for (const name of ['warned', 'active', 'expired', 'relogged-in', 'signed-out']) { \
               document.addEventListener('session-security:' + name, (e) => { \
                 window.__heard.push({ name, detail: e.detail, content: !!document.getElementById('content') }); \
                 if (name == 'signed-out') sessionStorage.setItem('signedOut', JSON.stringify(e.detail)); \
               }); \
             }")
        .await;
    assert!(browser.shown_within("session_security_warning", 6).await);
    browser.press_key().await;
    assert!(browser.hidden_within("session_security_warning", 2).await);
    browser.relogin("alice").await;
    assert!(browser.hidden_within("session_security_relogin", 8).await);
    let heard = browser.js("return window.__heard;").await;
    let names: Vec<&str> = heard
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["warned", "active", "warned", "expired", "relogged-in"],
        "{heard}"
    );
    let warned = &heard[0]["detail"];
    assert!(
        (1..=4).contains(&warned["secondsLeft"].as_i64().unwrap_or(-1)),
        "{warned}"
    );
    assert!(warned["expiresAt"].as_f64().is_some(), "{warned}");
    assert!(heard[1]["detail"]["lastActivity"].as_f64().is_some());
    assert_eq!(heard[3]["detail"]["locked"], true);
    assert_eq!(heard[3]["content"], true, "told before the content left");
    let relogged = &heard[4]["detail"];
    assert_eq!(relogged["sameUser"], true);
    assert!(
        relogged["csrfToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{relogged}"
    );
    assert_eq!(heard[4]["content"], true, "told once the content is back");

    assert!(browser.shown_within("session_security_warning", 6).await);
    browser.click("#session_security_logout").await;
    assert!(browser.url_within(|url| url.contains("/login"), 5).await);
    let signed_out = browser
        .js("return sessionStorage.getItem('signedOut');")
        .await;
    assert_eq!(signed_out, r#"{"reason":"logout"}"#);
    browser.finish().await;
}
