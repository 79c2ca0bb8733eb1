//! The session store down is not a logout, in a real browser against a real
//! outage: a PostgreSQL server of the test's own is stopped under the
//! application (`pg_ctl stop -m immediate`) and started again. While it is
//! down the server serves the sessions it holds in memory and answers 503
//! with `Retry-After` where it needs the store (past the idle limit, or a
//! session it does not hold); the page must stay as it is, retry on its
//! schedule and come back by itself once the store answers.

use std::time::{Duration, Instant};

use crate::pg_server::PgServer;
use crate::{app, signed_in_on, since, Browser, LogsIn, Settings};
use serde_json::Value;

const WARN: u64 = 3;
const EXPIRE: u64 = 6;
/// How long the old script waited past the expiry before it gave up on an
/// unanswering server and expired the page itself; the outage must outlast it.
const OLD_LOCAL_EXPIRY: f64 = 30.0;
/// The tab is hidden and shown again (headless windows never hide): a tab
/// coming back asks the server at once, unless a retry delay forbids it.
const TAB_COMES_BACK: &str = "
    for (const state of ['hidden', 'visible']) {
      Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }";
/// The script's retry schedule: least and greatest delay between attempts.
const RETRY_RANGE: (f64, f64) = (2.0, 30.0);

/// Records every answer the page's script gets from the crate's routes:
/// status, `Retry-After`, JSON body and when (page clock, ms); status 0 is
/// no answer. The script looks `fetch` up at each call, so wrapping it here
/// sees them.
const RECORD_ANSWERS: &str = "
    if (window.__answers) return;
    window.__answers = [];
    const original = window.fetch;
    window.fetch = function (input, init) {
      const url = String(input && input.url ? input.url : input);
      const note = (status, response) => {
        if (url.indexOf('/session_security/') === -1) return;
        const answer = {
          path: new URL(url, location.href).pathname,
          status: status,
          retryAfter: response ? response.headers.get('Retry-After') : null,
          body: null,
          at: Date.now(),
        };
        window.__answers.push(answer);
        if (response) response.clone().json().then((b) => { answer.body = b; }, () => {});
      };
      return original.apply(this, arguments).then(
        (response) => { note(response.status, response); return response; },
        (error) => { note(0, null); throw error; });
    };";

/// The serve settings for a store on `pg`.
/// The pings alone face the outage: an open event stream would re-read
/// the session when listening resumes and keep it in memory, and these
/// tests are about what the ping answers while the store is down.
fn on(pg: &PgServer, warn_after: u64, expire_after: u64) -> Settings {
    Settings {
        warn_after,
        expire_after,
        relogin: true,
        store_url: Some(pg.url()),
        push: false,
        ..Settings::default()
    }
}

/// Alice signed in on the page, typing.
type Typing = (app::Served, Browser, String, Instant);

/// Serves the application with `settings`, logs alice in, opens the page,
/// records its answers and types `text` into it; answers with the page's
/// URL and the time of the typing (the last activity); `None` without a
/// browser.
async fn alice_typing(settings: Settings, text: &str) -> Option<Typing> {
    let (served, browser) = signed_in_on(settings, "alice", "/").await?;
    browser.js(RECORD_ANSWERS).await;
    browser.fill("#title", text).await;
    let url = browser.url().await;
    Some((served, browser, url, Instant::now()))
}

/// The ping answers recorded so far.
async fn ping_answers(browser: &Browser) -> Vec<Value> {
    let all = browser.js("return window.__answers || [];").await;
    all.as_array()
        .map(|answers| {
            answers
                .iter()
                .filter(|a| a["path"] == "/session_security/ping")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The first 200 ping answer (with its body read) among those recorded
/// after the first `skip`, waiting up to `limit` for it.
async fn answer_after(browser: &Browser, skip: usize, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let answers = ping_answers(browser).await;
        let answer = answers
            .iter()
            .skip(skip)
            .find(|a| a["status"] == 200 && !a["body"].is_null());
        if let Some(answer) = answer {
            return answer.clone();
        }
        assert!(
            started.elapsed() < limit,
            "no answer from the server within {limit:?}: {answers:?}"
        );
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the application listens to PostgreSQL's notifications
/// again (its `LISTEN` done, hence `idle`), which is when it drops the
/// sessions it held in memory.
async fn listening_again(pg: &PgServer) {
    use sqlx::Connection;
    let started = Instant::now();
    loop {
        let mut db = sqlx::PgConnection::connect(&pg.url())
            .await
            .expect("connect to the restarted PostgreSQL");
        let listeners: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE query LIKE 'LISTEN %' AND state = 'idle'",
        )
        .fetch_one(&mut db)
        .await
        .expect("pg_stat_activity");
        let _ = db.close().await;
        if listeners > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the application did not listen again"
        );
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a recorded answer is "unavailable": a 503 or no answer at all.
fn unanswered(answer: &Value) -> bool {
    answer["status"] == 503 || answer["status"] == 0
}

/// Whether the "connection lost, retrying" line shows in the warning.
async fn unavailable_line(browser: &Browser) -> Option<String> {
    let text = browser
        .js(
            "const e = document.getElementById('session_security_unavailable'); \
             return e && !e.hidden && e.getClientRects().length > 0 ? e.textContent : null;",
        )
        .await;
    text.as_str().map(str::to_owned)
}

/// Asserts the page is as the user left it: same URL, content shown and
/// usable, the typed text in place, no relogin dialog, no script error.
async fn assert_page_kept(browser: &Browser, url: &str, typed: &str, when: &str) {
    assert!(
        !browser.shown("session_security_relogin").await,
        "relogin dialog opened for an unavailable store ({when})"
    );
    assert_eq!(browser.url().await, url, "the page was left ({when})");
    assert!(!browser.content_locked().await, "content locked ({when})");
    assert_eq!(browser.value("#title").await, typed, "typed input ({when})");
    assert_eq!(
        browser.js("return window.__errors;").await,
        serde_json::json!([]),
        "script errors ({when})"
    );
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn an_outage_past_the_idle_limit_keeps_the_page_then_the_expiry_shows() {
    if !crate::available() {
        return;
    }
    let Some(pg) = PgServer::start() else {
        return;
    };
    let typed = "typed before the outage";
    let Some((served, browser, url, active)) = alice_typing(on(&pg, WARN, EXPIRE), typed).await
    else {
        return;
    };

    pg.stop();
    let pings_before = served.pings();
    // Well past the server's idle limit (so only the store could say
    // "expired", and it cannot answer) and past the old local expiry: the
    // page must hold on all along, warned. The user comes back to the tab
    // past the old local expiry (the old script expired on the next look),
    // and a retry follows.
    let comes_back = EXPIRE as f64 + OLD_LOCAL_EXPIRY + 1.0;
    let outage_ends = comes_back + 6.0;
    let mut came_back = false;
    let mut line_seen = None;
    while since(active) < outage_ends {
        if !came_back && since(active) >= comes_back {
            browser.js(TAB_COMES_BACK).await;
            came_back = true;
        }
        assert_page_kept(&browser, &url, typed, "during the outage").await;
        if line_seen.is_none() {
            line_seen = unavailable_line(&browser).await;
        }
        rocket::tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        browser.shown("session_security_warning").await,
        "the warning stays up while the server cannot answer"
    );
    let line = line_seen.expect("the warning says the connection is lost");
    assert!(line.contains("connection to the server is lost"), "{line}");

    // The server did answer 503 with Retry-After, and the script kept to
    // the schedule: no faster than it asked, no slower than the schedule's end.
    let answers = ping_answers(&browser).await;
    let failed = answers.iter().filter(|a| unanswered(a)).count();
    assert!(failed >= 2, "retries during the outage: {answers:?}");
    assert!(
        answers.iter().any(|a| a["status"] == 503
            && a["retryAfter"]
                .as_str()
                .is_some_and(|s| s.trim().parse::<u64>().is_ok())),
        "a 503 with Retry-After in seconds: {answers:?}"
    );
    for pair in answers
        .windows(2)
        .filter(|p| unanswered(&p[0]) && unanswered(&p[1]))
    {
        let gap = (pair[1]["at"].as_f64().unwrap_or(0.0) - pair[0]["at"].as_f64().unwrap_or(0.0))
            / 1000.0;
        let asked = pair[0]["retryAfter"]
            .as_str()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map_or(RETRY_RANGE.0, |s| s.clamp(RETRY_RANGE.0, RETRY_RANGE.1));
        assert!(
            gap >= asked - 0.3,
            "retried {gap:.1} s after a failure that asked for {asked} s: {answers:?}"
        );
        assert!(
            gap <= RETRY_RANGE.1 + 3.0,
            "waited {gap:.1} s between retries: {answers:?}"
        );
    }
    let pings = served.pings() - pings_before;
    assert!(
        pings as f64 <= outage_ends / RETRY_RANGE.0 + 2.0,
        "{pings} pings in a {outage_ends} s outage: no backoff"
    );

    // The store is back: the next retry gets the server's real word, which
    // is that the session expired long ago: the relogin dialog, by itself.
    let seen = ping_answers(&browser).await.len();
    pg.restart();
    let back = Instant::now();
    let relogin = browser.shown_within("session_security_relogin", 35).await;
    assert!(
        relogin,
        "no relogin dialog {:.1} s after the store came back",
        since(back)
    );
    let verdict = answer_after(&browser, seen, Duration::from_secs(1)).await;
    assert_eq!(verdict["body"], "logout", "the server's word");
    assert_eq!(browser.url().await, url, "the page stayed for the relogin");
    browser.relogin("alice").await;
    let closed = browser.hidden_within("session_security_relogin", 5).await;
    assert!(closed, "the same user is back in the page");
    assert_eq!(
        browser.value("#title").await,
        typed,
        "typed input after the relogin"
    );
    assert!(!browser.shown("session_security_warning").await);
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn activity_during_an_outage_keeps_the_session_once_the_store_is_back() {
    if !crate::available() {
        return;
    }
    let Some(pg) = PgServer::start() else {
        return;
    };
    // A warning point well after the retry delay the server asks for (5 s),
    // so the first answer after the outage comes before the next warning,
    // and the server's expiry well after the first retry; expire = 2 x warn,
    // so the next cycle's ping comes after the expiry the session had
    // before the outage.
    let (warn, expire) = (12, 24);
    let typed = "typed before the outage";
    let Some((_served, browser, url, active)) = alice_typing(on(&pg, warn, expire), typed).await
    else {
        return;
    };

    // While the store is down the server serves the sessions it holds in
    // memory; this one it must not hold. A brief outage first: when the
    // server listens again it drops its memory (notifications may have
    // been missed). Then the real outage.
    pg.stop();
    pg.restart();
    listening_again(&pg).await;
    pg.stop();
    // The warning point's ping gets a 503: warned, and told why.
    let warned = browser
        .shown_within("session_security_warning", warn + 6)
        .await;
    assert!(warned, "warning at the warning point");
    let told = browser
        .wait_for(Duration::from_secs(3), || async {
            unavailable_line(&browser).await.is_some()
        })
        .await;
    assert!(
        told,
        "the warning says the connection is lost: {:?}",
        ping_answers(&browser).await
    );
    assert_page_kept(&browser, &url, typed, "warned during the outage").await;
    let outage_answers = ping_answers(&browser).await;
    assert!(
        outage_answers.iter().any(|a| a["status"] == 503),
        "the server answered 503: {outage_answers:?}"
    );

    // The user carries on; the server cannot hear of it yet.
    browser.press_key().await;
    let hidden = browser.hidden_within("session_security_warning", 2).await;
    assert!(hidden, "activity dismissed the warning during the outage");
    // The key may land in the field that gets focus back as the warning
    // closes: that character is the user's input too, and must be kept.
    let typed_now = browser.value("#title").await;
    assert!(
        typed_now == typed || typed_now == format!("{typed}x"),
        "{typed_now:?}"
    );
    let typed = typed_now.as_str();
    let seen = ping_answers(&browser).await.len();
    pg.restart();

    // The next retry reaches the server, which hears of the activity: back
    // to the normal cycle, no warning, no "connection lost".
    let recovered = answer_after(&browser, seen, Duration::from_secs(12)).await;
    let idle = recovered["body"].as_f64();
    assert!(
        idle.is_some_and(|idle| idle < warn as f64),
        "the first answer after the outage: {recovered}"
    );
    assert!(
        !browser.shown("session_security_warning").await,
        "warning after recovery"
    );
    assert_eq!(unavailable_line(&browser).await, None);
    assert_page_kept(&browser, &url, typed, "after recovery").await;

    // The next cycle's warning point comes after the expiry the session had
    // before the outage: the server still counts it alive.
    let seen = ping_answers(&browser).await.len();
    let next = answer_after(&browser, seen, Duration::from_secs(warn + 6)).await;
    assert!(
        since(active) > expire as f64 - 0.5,
        "asked before the old expiry"
    );
    assert!(
        next["body"].is_number(),
        "alive past the old expiry: {next}"
    );
    let warned = browser.shown_within("session_security_warning", 3).await;
    assert!(warned, "the normal cycle's warning");
    assert_eq!(unavailable_line(&browser).await, None);
    assert_page_kept(&browser, &url, typed, "the next cycle").await;
    browser.finish().await;
}
