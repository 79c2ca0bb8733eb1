//! The client itself, in a real browser: the countdown told to screen
//! readers in steps (whole minutes, then every 20 s, each text once, never
//! every second) while the visible counter ticks each second, and `stop()`
//! leaving no listener, timer or ping behind.

use std::time::{Duration, Instant};

use crate::{signed_in_on, since, Settings};
use serde_json::Value;

/// An announcement's amount in seconds: its first number, times 60 when
/// it speaks of minutes.
fn seconds(text: &str) -> u64 {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let n: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("no number in {text:?}"));
    if text.contains("minute") {
        n * 60
    } else {
        n
    }
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_countdown_is_announced_in_steps_not_every_second() {
    // Warned with 62 s left: "2 minutes", then "1 minute" at 60 s, then
    // every 20 s.
    let Some((_served, browser)) = signed_in_on(Settings::timed(2, 64), "alice", "/").await else {
        return;
    };
    let warned = browser.shown_within("session_security_warning", 6).await;
    assert!(warned, "warning shown");
    let opened = Instant::now();

    // The visible counter changes every second: over 4 s it shows every
    // number down from the first, one after the other.
    let mut counted: Vec<i64> = Vec::new();
    let sampling = Instant::now();
    while since(sampling) < 4.0 {
        let n = browser.counter().await.expect("a countdown");
        if counted.last() != Some(&n) {
            counted.push(n);
        }
        rocket::tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        counted.len() >= 4 && counted.windows(2).all(|w| w[0] - w[1] == 1),
        "the counter each second: {counted:?}"
    );

    // Until the last step, "20 seconds".
    let mut told = Vec::new();
    while since(opened) < 50.0 {
        let seen = browser.js("return window.__announced;").await;
        told = seen
            .as_array()
            .expect("the probe's record")
            .iter()
            .filter(|a| !a["text"].as_str().unwrap_or_default().is_empty())
            .cloned()
            .collect::<Vec<Value>>();
        if told
            .last()
            .is_some_and(|a| seconds(a["text"].as_str().unwrap()) == 20)
        {
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let amounts: Vec<u64> = told
        .iter()
        .map(|a| seconds(a["text"].as_str().unwrap()))
        .collect();
    assert_eq!(amounts, vec![120, 60, 40, 20], "{told:?}");
    let at = |i: usize| told[i]["at"].as_f64().unwrap() / 1000.0;
    for (from, to) in [(1, 2), (2, 3)] {
        let gap = at(to) - at(from);
        assert!(
            (19.0..=21.0).contains(&gap),
            "{gap:.1} s between steps: {told:?}"
        );
    }
    assert!(
        told.iter()
            .all(|a| a["text"].as_str().is_some_and(|t| t.contains("session"))),
        "{told:?}"
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn stop_leaves_no_listener_timer_or_ping() {
    let Some((served, browser)) = signed_in_on(Settings::timed(3, 6), "alice", "/").await else {
        return;
    };
    // A changed form arms the unload guard: one listener more.
    browser.fill("#notes", "changed").await;
    let listening = browser.js("return window.__listeners();").await;
    let types: Vec<&str> = listening
        .as_array()
        .expect("the probe's record")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for expected in [
        "pointerdown",
        "keydown",
        "touchstart",
        "scroll",
        "submit",
        "message",
        "beforeunload",
        "cancel",
    ] {
        assert!(
            types.contains(&expected),
            "no {expected} listener: {types:?}"
        );
    }
    browser.js("window.sessionSecurity.stop();").await;
    assert_eq!(
        browser.js("return window.__listeners();").await,
        Value::Array(vec![]),
        "listeners left after stop()"
    );
    // No timer either: past the warning point, no ping, no warning.
    let pings = served.pings();
    rocket::tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(served.pings(), pings, "pings after stop()");
    assert!(!browser.shown("session_security_warning").await);
    assert_eq!(
        browser.js("return window.__errors;").await,
        Value::Array(vec![])
    );
    // The same page loaded again and not stopped does both within those
    // 5 s: the quiet above was stop()'s doing.
    browser.goto(&served.url("/")).await;
    let warned = browser.shown_within("session_security_warning", 5).await;
    assert!(warned, "a page not stopped warns");
    assert!(served.pings() > pings, "a page not stopped pings");
    browser.finish().await;
}
