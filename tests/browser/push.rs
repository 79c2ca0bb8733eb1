//! The push, in a real browser: the tab elected for it holds the server's
//! event stream and relays its word to the user's other tabs, so a session
//! revoked from another browser leaves every open tab for the login page
//! within 2 s, long before any warning point (warn 60 s: only the push can
//! explain it). One stream per browser, whatever the number of tabs; and
//! a server restart (the port answering 503 meanwhile) is no logout: the
//! stream comes back by itself and still carries the next revocation; a
//! stream refused for good is tried again with backoff, and the pings
//! still tell.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{
    app, left_for_login, page_text, signed_in, signed_in_on, still_signed_in, user_tag, Browser,
    LogsIn, Served, Settings,
};
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpListener;
use serde_json::Value;

/// Far from any warning point.
fn settings() -> Settings {
    Settings::timed(60, 120)
}

/// Epoch ms, the clock the pages' `Date.now()` reads too.
fn epoch_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    since.as_millis() as i64
}

/// How many event streams of the current page are open (or reconnecting).
async fn open_streams(browser: &Browser) -> i64 {
    browser
        .js("return window.__streams();")
        .await
        .as_i64()
        .expect("the probe's count")
}

/// Another browser (a profile of its own) signs in as `user` and signs out
/// every other session of theirs; answers when (epoch ms) it asked.
async fn revoke_from_another_browser(served: &Served, user: &str) -> (Browser, i64) {
    let other = Browser::start().await;
    other.login(served, user).await;
    let revoked = epoch_ms();
    other.goto(&served.url("/revoke-others")).await;
    let text = page_text(&other).await;
    assert!(text.contains("revoked"), "{text}");
    (other, revoked)
}

/// The positive control of "no ping explains it": a page of `other` (a
/// browser still signed in) asks the server once, and the count shows it.
async fn a_ping_is_counted(other: &Browser, served: &Served) {
    other.goto(&served.url("/")).await;
    let before = served.pings();
    other.js("window.sessionSecurity.ping();").await;
    let counted = other
        .wait_for(Duration::from_secs(3), || async { served.pings() > before })
        .await;
    assert!(
        counted,
        "a ping of the other browser's page was not counted"
    );
}

/// Waits until the page's stream is open on the server: one request for it.
async fn stream_opened(browser: &Browser, served: &Served) {
    let opened = browser
        .wait_for(Duration::from_secs(5), || async { served.streams() >= 1 })
        .await;
    assert!(opened, "no event stream asked for");
    // The request arrived; the answer's head on its way back.
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Alice signed in with `settings`, her page's stream open on the server;
/// `None` without a browser.
async fn streaming(settings: Settings) -> Option<(Served, Browser)> {
    let (served, browser) = signed_in(settings, "alice").await?;
    stream_opened(&browser, &served).await;
    Some((served, browser))
}

/// Alice's sessions revoked from another browser: the current window
/// leaves for the login page within 2 s of it.
async fn revocation_leaves_within_two_seconds(browser: &Browser, served: &Served) {
    let (other, revoked) = revoke_from_another_browser(served, "alice").await;
    let left = left_for_login(browser, 3).await;
    println!("left {} ms after the revocation", left - revoked);
    assert!(left - revoked <= 2000, "left after {} ms", left - revoked);
    other.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_session_revoked_from_another_browser_leaves_the_page_within_two_seconds() {
    let Some((served, browser)) = signed_in_on(settings(), "alice", "/").await else {
        return;
    };
    stream_opened(&browser, &served).await;
    assert_eq!(open_streams(&browser).await, 1);

    let (other, revoked) = revoke_from_another_browser(&served, "alice").await;
    let left = left_for_login(&browser, 3).await;
    println!("left {} ms after the revocation", left - revoked);
    assert!(
        left - revoked <= 2000,
        "the tab left {} ms after the revocation",
        left - revoked
    );
    let text = page_text(&browser).await;
    assert!(!text.contains("Quarterly figures"), "{text}");
    // The revoking browser itself stays signed in.
    assert!(still_signed_in(&other, &served).await, "the revoker stays");
    assert_eq!(served.pings(), 0, "no ping explains it");
    a_ping_is_counted(&other, &served).await;
    other.finish().await;
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn an_administrators_revocation_leaves_the_page_within_two_seconds() {
    let Some((served, browser)) = streaming(settings()).await else {
        return;
    };
    // `SessionSecurity::revoke_user`, asked by a browser nobody signed in.
    let admin = Browser::start().await;
    let revoked = epoch_ms();
    admin.goto(&served.url("/revoke-user/alice")).await;
    assert_eq!(page_text(&admin).await.trim(), "revoked 1");
    let left = left_for_login(&browser, 3).await;
    assert!(left - revoked <= 2000, "left after {} ms", left - revoked);
    admin.finish().await;
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn one_stream_per_browser_and_the_other_tab_hears_it_relayed() {
    // Signing in lands on the page: the first tab.
    let Some((served, browser)) = signed_in(settings(), "alice").await else {
        return;
    };
    assert!(
        browser.url().await.ends_with("/"),
        "{}",
        browser.url().await
    );
    let first = browser.client.window().await.expect("window");
    stream_opened(&browser, &served).await;
    let second = browser.open_window(&served.url("/")).await;
    rocket::tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(served.streams(), 1, "one stream asked for, by one tab");
    let in_second = open_streams(&browser).await;
    browser.switch(&first).await;
    let in_first = open_streams(&browser).await;
    assert_eq!((in_first, in_second), (1, 0), "the first tab holds it");

    // The second tab hears of the revocation from the first.
    browser.switch(&second).await;
    let (other, revoked) = revoke_from_another_browser(&served, "alice").await;
    let second_left = left_for_login(&browser, 3).await;
    browser.switch(&first).await;
    let first_left = left_for_login(&browser, 3).await;
    println!(
        "left {} ms (holder) and {} ms (relayed) after the revocation",
        first_left - revoked,
        second_left - revoked
    );
    for left in [first_left, second_left] {
        assert!(
            left - revoked <= 2000,
            "a tab left {} ms after the revocation",
            left - revoked
        );
    }
    assert_eq!(served.pings(), 0, "no ping explains it");
    a_ping_is_counted(&other, &served).await;
    other.finish().await;
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_next_tab_takes_the_stream_over_when_its_holder_closes() {
    let Some((served, browser)) = streaming(settings()).await else {
        return;
    };
    let second = browser.open_window(&served.url("/")).await;
    assert_eq!(open_streams(&browser).await, 0);
    // The holder's window closes: the second tab opens the stream.
    let first = browser.client.windows().await.expect("windows");
    let first = first.into_iter().find(|w| *w != second).expect("first");
    browser.switch(&first).await;
    browser.client.close_window().await.expect("close");
    browser.switch(&second).await;
    let took = browser
        .wait_for(Duration::from_secs(3), || async {
            open_streams(&browser).await == 1 && served.streams() == 2
        })
        .await;
    assert!(took, "the second tab took the stream over");
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    revocation_leaves_within_two_seconds(&browser, &served).await;
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn after_a_sleep_the_stream_is_made_again() {
    let Some((served, browser)) = streaming(settings()).await else {
        return;
    };
    // The machine sleeps: a stream across it may be dead without knowing.
    browser.freeze(6, "").await;
    let again = browser
        .wait_for(Duration::from_secs(3), || async { served.streams() == 2 })
        .await;
    assert!(again, "the stream made again after the sleep");
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(open_streams(&browser).await, 1, "the old one closed");
    revocation_leaves_within_two_seconds(&browser, &served).await;
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_blocked_stream_is_no_logout_and_is_retried_with_backoff() {
    // A proxy refuses the stream (404): the browser gives it up for good.
    let blocked = Settings {
        push: false,
        ..settings()
    };
    let Some((served, browser)) = signed_in(blocked, "alice").await else {
        return;
    };
    browser.fill("#notes", "typed").await;
    // Tried again after 2 s, then 5 s: 3 requests in 9 s, not one a second.
    rocket::tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(served.streams(), 3, "the stream's backoff");
    assert!(
        browser.url().await.ends_with("/"),
        "{}",
        browser.url().await
    );
    assert_eq!(browser.value("#notes").await, "typed");
    assert!(!browser.shown("session_security_relogin").await);
    assert_eq!(
        browser.js("return window.__errors;").await,
        Value::Array(vec![])
    );
    // The pings still tell: the ping that meets the revoked session marks
    // the user cookie signed out (a revocation is no expiry), so the page
    // leaves for the login page rather than offering a relogin.
    let (other, _) = revoke_from_another_browser(&served, "alice").await;
    browser.js("window.sessionSecurity.ping();").await;
    assert!(
        browser.url_within(|url| url.contains("/login"), 3).await,
        "{}",
        browser.url().await
    );
    other.finish().await;
    browser.finish().await;
}

/// Posts what a holding tab relays, `ended` with `how`, in the name of
/// `tag`, from a plain page of the same origin.
fn relay(tag: &str, how: &str) -> String {
    format!(
        "const bc = new BroadcastChannel('session_security'); \
         bc.postMessage({{type: 'ended', how: '{how}', tag: '{tag}', from: 'other'}}); bc.close();"
    )
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn a_relayed_expiry_asks_the_server_and_another_users_word_is_ignored() {
    let Some((served, browser)) = signed_in(settings(), "alice").await else {
        return;
    };
    let page = browser.client.window().await.expect("window");
    let alice = user_tag(&browser).await;
    let plain = browser.open_window(&served.url("/bye")).await;

    // Another user's tabs say signed out, then expired: nothing happens.
    browser.js(&relay("someone-else", "signed-out")).await;
    browser.js(&relay("someone-else", "expired")).await;
    rocket::tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(served.pings(), 0, "another user's word asked the server");

    // Alice's expired: the server decides, and it says alive: the page stays.
    browser.js(&relay(&alice, "expired")).await;
    let asked = browser
        .wait_for(Duration::from_secs(2), || async { served.pings() == 1 })
        .await;
    assert!(asked, "a relayed expiry asks the server at once");
    browser.switch(&page).await;
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        browser.url().await.ends_with("/"),
        "{}",
        browser.url().await
    );
    assert!(!browser.shown("session_security_relogin").await);

    // Alice's signed out: the page goes.
    browser.switch(&plain).await;
    browser.js(&relay(&alice, "signed-out")).await;
    browser.switch(&page).await;
    left_for_login(&browser, 2).await;
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn after_a_relogin_the_stream_is_back() {
    // Expired by the pings' schedule: the stream says nothing of it before.
    let Some((served, browser)) = streaming(Settings::timed(3, 6)).await else {
        return;
    };
    assert_eq!(
        open_streams(&browser).await,
        1,
        "the page's stream, counted"
    );
    assert!(browser.shown_within("session_security_relogin", 10).await);
    assert_eq!(open_streams(&browser).await, 0, "a stream while locked");
    browser.relogin("alice").await;
    assert!(browser.hidden_within("session_security_relogin", 5).await);
    let back = browser
        .wait_for(Duration::from_secs(3), || async {
            served.streams() >= 2 && open_streams(&browser).await == 1
        })
        .await;
    assert!(back, "no stream after the relogin");
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;
    // A ping would lock the page; only the push leaves it for the login.
    revocation_leaves_within_two_seconds(&browser, &served).await;
    browser.finish().await;
}

/// Answers 503 (`Retry-After: 2`) to every request on `port` for `span`,
/// as a restarting server's front would; answers how many asked for the
/// event stream.
async fn unavailable_on(port: u16, span: Duration) -> usize {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the old server let go of its port");
    let mut answered = 0;
    let until = rocket::tokio::time::Instant::now() + span;
    while let Ok(accepted) = rocket::tokio::time::timeout_at(until, listener.accept()).await {
        let (mut socket, _) = accepted.expect("accept");
        let mut head = [0u8; 4096];
        let read = socket.read(&mut head).await.unwrap_or(0);
        let head = String::from_utf8_lossy(&head[..read]);
        if head.starts_with("GET /session_security/events?") {
            answered += 1;
        }
        let answer = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n";
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.shutdown().await;
    }
    answered
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_stream_survives_a_server_restart() {
    let store = crate::common::temp_sqlite_url();
    let on_store = Settings {
        store_url: Some(store.clone()),
        ..settings()
    };
    let Some((served, browser)) = signed_in_on(on_store, "alice", "/").await else {
        return;
    };
    let port = served.port;
    stream_opened(&browser, &served).await;
    browser.fill("#notes", "typed before the restart").await;

    // Down (connections refused), then 503 for a while, then up again on
    // the same port and the same store.
    served.stop().await;
    rocket::tokio::time::sleep(Duration::from_secs(1)).await;
    let answered = unavailable_on(port, Duration::from_secs(4)).await;
    println!("{answered} stream requests answered 503 during the restart");
    assert!(answered >= 1, "the stream tried again meanwhile");
    let served = app::serve(Settings {
        store_url: Some(store),
        port,
        ..settings()
    })
    .await;
    assert_eq!(served.port, port);
    let back = browser
        .wait_for(Duration::from_secs(12), || async { served.streams() >= 1 })
        .await;
    assert!(back, "the stream came back");
    rocket::tokio::time::sleep(Duration::from_millis(500)).await;

    // Nothing of it was a logout: the page, its typed text, no dialog.
    assert!(
        browser.url().await.ends_with("/"),
        "{}",
        browser.url().await
    );
    assert_eq!(browser.value("#notes").await, "typed before the restart");
    assert!(!browser.shown("session_security_relogin").await);
    assert!(!browser.shown("session_security_warning").await);
    assert_eq!(open_streams(&browser).await, 1);
    assert_eq!(
        browser.js("return window.__errors;").await,
        Value::Array(vec![])
    );

    // And it carries the next revocation.
    revocation_leaves_within_two_seconds(&browser, &served).await;
    browser.finish().await;
}
