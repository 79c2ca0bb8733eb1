//! The read path on one instance: sessions come from memory, activity is
//! written in coalesced batches, data changes are written through, and only
//! the store may say a session is dead.

use std::time::{Duration, Instant};

use crate::common::{figment, LibraryApp, TestApp, T0};
use rocket::http::Status;
use rocket_session_security::{SessionStore, SqlStore, SESSION_COOKIE};

fn store_url(figment: &rocket::figment::Figment) -> String {
    figment
        .extract_inner("databases.session_security.url")
        .expect("store url")
}

#[rocket::async_test]
async fn a_request_that_changes_nothing_does_no_store_io() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let before = app.stats();
    for n in 0..50 {
        // 14 s in all: within `cache_max_age` (15 s) of the login's write.
        app.advance(i64::from(n < 28) * (n % 2));
        assert_eq!(app.whoami().await.as_deref(), Some("alice"));
        let (status, _) = app.ping(Some("0")).await;
        assert_eq!(status, Status::Ok);
    }
    let after = app.stats();
    assert_eq!(after.reads, before.reads, "no store reads: {after:?}");
    assert_eq!(
        after.writes, before.writes,
        "activity waits for the flush: {after:?}"
    );
    assert!(after.cache_hits >= before.cache_hits + 100);
    assert_eq!(app.server_idle().await, Some(0), "memory saw the activity");
    // The counters do count: 15 s after the login's write the session is
    // read again, and a data change is written through.
    app.advance(1);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    let reread = app.stats();
    assert_eq!(reread.reads, after.reads + 1, "read again: {reread:?}");
    app.get("/set/draft/typed").await;
    let written = app.stats();
    assert_eq!(written.writes, reread.writes + 1, "written: {written:?}");
}

#[rocket::async_test]
async fn a_cached_session_is_read_again_once_it_is_older_than_cache_max_age() {
    let figment = figment()
        .merge(("session_security.warn_after", 50))
        .merge(("session_security.expire_after", 100));
    let app = TestApp::with(figment).await;
    app.login("alice").await;
    app.advance(14);
    let before = app.stats();
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    assert_eq!(app.stats().reads, before.reads, "14 s old: trusted");
    app.advance(1);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    let after = app.stats();
    assert_eq!(after.reads, before.reads + 1, "15 s old: read again");
    assert_eq!(after.untrusted_reads, before.untrusted_reads + 1);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    assert_eq!(app.stats().reads, after.reads, "fresh again after the read");
}

#[rocket::async_test]
async fn an_ended_session_is_refused_within_cache_max_age_even_when_no_eviction_arrives() {
    // The row is deleted behind the instance's back, as a lost
    // notification from another instance would leave it.
    let figment = figment().merge(("session_security.cache_max_age", 5));
    let url = store_url(&figment);
    let app = TestApp::with(figment).await;
    app.login("alice").await;
    assert!(app.whoami().await.is_some(), "cached");
    let store = SqlStore::connect(&url).await.expect("store");
    let hash = app.token_hash();
    assert!(store.delete(&hash).await.expect("delete").is_some());
    app.advance(4);
    assert!(app.whoami().await.is_some(), "still trusted for 5 s");
    app.advance(1);
    assert_eq!(app.whoami().await, None, "read again: gone");
}

#[rocket::async_test]
async fn data_changes_are_written_through_and_then_served_from_memory() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let before = app.stats();
    app.get("/set/draft/hello").await;
    assert_eq!(app.stats().writes, before.writes + 1);
    let body = app.get("/get/draft").await.into_string().await;
    assert_eq!(body.as_deref(), Some("hello"));
    assert_eq!(app.stats().reads, before.reads, "read from memory");
}

#[rocket::async_test]
async fn activity_reaches_the_store_at_shutdown() {
    // A grace far longer than the test: only the shutdown flush writes.
    let figment = figment().merge(("session_security.activity_write_grace", 9));
    let url = store_url(&figment);
    let app = TestApp::with(figment).await;
    app.login("alice").await;
    app.advance(5);
    assert!(app.whoami().await.is_some());
    let hash = app.token_hash();
    let store = SqlStore::connect(&url).await.expect("store");
    let stored = store.load(&hash).await.unwrap().expect("row");
    assert_eq!(stored.last_activity, T0, "not written yet");
    app.client.terminate().await;
    let stored = store.load(&hash).await.unwrap().expect("row");
    assert_eq!(stored.last_activity, T0 + 5, "flushed at shutdown");
}

#[rocket::async_test]
async fn activity_is_written_at_most_once_per_session_per_grace() {
    let figment = figment().merge(("session_security.activity_write_grace", 1));
    let url = store_url(&figment);
    let app = TestApp::with(figment).await;
    app.login("alice").await;
    let hash = app.token_hash();
    let before = app.stats().writes;
    let start = Instant::now();
    for _ in 0..8 {
        app.advance(1);
        for _ in 0..20 {
            app.get("/whoami").await;
        }
        rocket::tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let writes = app.stats().writes - before;
    assert!(
        writes as f64 <= elapsed.ceil() + 1.0,
        "{writes} writes in {elapsed:.1} s with a 1 s grace"
    );
    let store = SqlStore::connect(&url).await.expect("store");
    let mut last = 0;
    for _ in 0..100 {
        last = store.load(&hash).await.unwrap().expect("row").last_activity;
        if last == T0 + 8 {
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(last, T0 + 8, "the latest stamp reaches the store");
    // And the count above sees such writes: the bound was no empty one.
    assert!(
        app.stats().writes > before,
        "the flush that stored it was not counted"
    );
}

#[rocket::async_test]
async fn only_the_store_may_say_a_session_is_dead() {
    let figment = figment();
    let url = store_url(&figment);
    let app = TestApp::with(figment).await;
    app.login("alice").await;
    assert!(app.whoami().await.is_some(), "cached at T0");
    // Another instance saw the user at T0 + 8 (written straight to the store).
    let store = SqlStore::connect(&url).await.expect("store");
    store.touch(&app.token_hash(), T0 + 8).await.unwrap();
    app.advance(12);
    assert_eq!(
        app.whoami().await.as_deref(),
        Some("alice"),
        "memory said idle for 12 s; the store knew better"
    );
    app.advance(10);
    assert_eq!(app.whoami().await, None, "and the store says dead now");
}

#[rocket::async_test]
async fn with_the_cache_off_every_request_reads_the_store() {
    let app = TestApp::with(figment().merge(("session_security.cache_capacity", 0))).await;
    app.login("alice").await;
    let before = app.stats();
    for _ in 0..5 {
        assert!(app.whoami().await.is_some());
    }
    assert_eq!(app.stats().reads, before.reads + 5);
}

#[rocket::async_test]
async fn a_bounded_cache_reads_evicted_sessions_back() {
    let clock = rocket_session_security::ManualClock::new(T0);
    let rocket = crate::common::app(
        figment().merge(("session_security.cache_capacity", 2)),
        &clock,
    );
    let client = rocket::local::asynchronous::Client::untracked(rocket)
        .await
        .expect("valid rocket");
    let mut cookies = Vec::new();
    for user in ["alice", "bob", "carol", "dave", "erin"] {
        let response = client.get(format!("/login/{user}")).dispatch().await;
        let cookie = response.cookies().get(SESSION_COOKIE).expect("cookie");
        cookies.push(cookie.clone().into_owned());
    }
    let stats = || test_support::admin(client.rocket()).stats();
    let before = stats();
    for (cookie, user) in cookies
        .iter()
        .zip(["alice", "bob", "carol", "dave", "erin"])
    {
        let response = client
            .get("/whoami")
            .cookie(cookie.clone())
            .dispatch()
            .await;
        assert_eq!(response.into_string().await.as_deref(), Some(user));
    }
    let after = stats();
    assert!(
        after.cache_misses > before.cache_misses,
        "five sessions do not fit in two: {after:?}"
    );
}

#[rocket::async_test]
async fn a_ping_that_would_warn_asks_the_store_first() {
    let figment = figment();
    let url = store_url(&figment);
    let app = TestApp::with(figment).await;
    app.login("alice").await;
    let store = SqlStore::connect(&url).await.expect("store");
    // Another instance saw the user at T0 + 5.
    store.touch(&app.token_hash(), T0 + 5).await.unwrap();
    app.advance(7);
    let (status, idle) = app.ping(None).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(
        idle, 2,
        "idle since the activity another instance saw, not 7"
    );
}

#[rocket::async_test]
async fn an_applications_own_store_replaces_the_database() {
    let own_url = crate::common::temp_sqlite_url();
    let store = SqlStore::connect(&own_url).await.expect("own store");
    // The configured database could not even be opened: it must not be used.
    let figment = figment().merge((
        "databases.session_security.url",
        "sqlite:///proc/no-such-dir/s.sqlite",
    ));
    let app = TestApp::with_fairing(figment, |fairing| fairing.with_store(store)).await;
    app.login("alice").await;
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    let reader = SqlStore::connect(&own_url).await.expect("reader");
    let row = reader
        .load(&app.token_hash())
        .await
        .unwrap()
        .expect("in the own store");
    assert_eq!(row.user_id.as_deref(), Some("alice"));
}
