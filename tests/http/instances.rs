//! Two application instances on one real PostgreSQL: sessions move freely
//! between them, and their caches stay coherent through LISTEN/NOTIFY.
//!
//! Runs when `SESSION_SECURITY_TEST_POSTGRES` names a server (`.ci/run`
//! starts one); each test gets a database of its own.

use std::time::{Duration, Instant};

use crate::common::{eventually, figment, fresh_postgres_database, LibraryApp, TestApp, T0};
use rocket::http::{Header, Status};
use rocket::local::asynchronous::LocalResponse;
use rocket_session_security::{ManualClock, SessionStore, SqlStore};

/// What "within a second" means for coherence between instances.
const SECOND: Duration = Duration::from_secs(1);

/// Two instances on one fresh database and one clock, and the database URL.
async fn two_instances() -> Option<(TestApp, TestApp, String)> {
    let url = fresh_postgres_database().await?;
    let clock = ManualClock::new(T0);
    let make = || {
        let figment = figment().merge(("databases.session_security.url", url.clone()));
        TestApp::with_clock(figment, clock.clone(), |fairing| fairing)
    };
    let a = make().await;
    let b = make().await;
    for app in [&a, &b] {
        eventually(SECOND * 5, "the instance listens", || async {
            app.stats().coherent
        })
        .await;
    }
    Some((a, b, url))
}

/// `path` on `on`, carrying every cookie `from` holds (as a browser that
/// a load balancer sends to another instance would).
async fn with_cookies_of<'c>(on: &'c TestApp, from: &TestApp, path: &str) -> LocalResponse<'c> {
    let mut request = on
        .client
        .get(path.to_owned())
        .header(Header::new("Accept", "application/json"));
    for cookie in from.client.cookies().iter() {
        request = request.cookie(cookie.clone());
    }
    request.dispatch().await
}

async fn whoami_via(on: &TestApp, from: &TestApp) -> Option<String> {
    let response = with_cookies_of(on, from, "/whoami").await;
    match response.status() {
        Status::Ok => response.into_string().await,
        Status::Unauthorized => None,
        other => panic!("unexpected {other}"),
    }
}

/// Waits until `on` refuses the logged-out `cookie`, for at most a second.
async fn ends_within_a_second(on: &TestApp, cookie: &rocket::http::Cookie<'static>) {
    eventually(
        SECOND,
        "the other instance ends the logged-out session",
        || async {
            let request = on
                .client
                .get("/whoami")
                .cookie(cookie.clone())
                .header(Header::new("Accept", "application/json"));
            request.dispatch().await.status() == Status::Unauthorized
        },
    )
    .await;
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn a_session_from_one_instance_works_on_the_other() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    a.get("/set/draft/hello").await;
    assert_eq!(whoami_via(&b, &a).await.as_deref(), Some("alice"));
    let draft = with_cookies_of(&b, &a, "/get/draft").await;
    assert_eq!(draft.into_string().await.as_deref(), Some("hello"));
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn logout_on_one_instance_ends_the_session_on_the_other_within_a_second() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    assert_eq!(
        whoami_via(&b, &a).await.as_deref(),
        Some("alice"),
        "cached on b"
    );
    let old_cookie = a.session_cookie().expect("cookie");
    a.get("/logout").await;
    ends_within_a_second(&b, &old_cookie).await;
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn revoking_on_one_instance_ends_the_session_on_the_other_within_a_second() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    assert_eq!(
        whoami_via(&b, &a).await.as_deref(),
        Some("alice"),
        "cached on b"
    );
    let cookie = a.session_cookie().expect("cookie");
    let ended = test_support::admin(a.client.rocket())
        .revoke_user("alice", Some("admin"))
        .await
        .expect("revoke");
    assert_eq!(ended, 1);
    ends_within_a_second(&b, &cookie).await;
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn a_tab_streaming_from_one_instance_hears_of_a_revocation_on_the_other() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    let tag = a
        .client
        .cookies()
        .get(rocket_session_security::USER_COOKIE)
        .expect("signed in")
        .value()
        .to_owned();
    let events = with_cookies_of(&b, &a, &format!("/session_security/events?tag={tag}")).await;
    let revoke = async {
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
        let rocket = a.client.rocket();
        test_support::admin(rocket)
            .revoke_user("alice", None)
            .await
            .expect("revoke");
    };
    let start = Instant::now();
    let (said, ()) = rocket::tokio::join!(
        rocket::tokio::time::timeout(Duration::from_secs(2), events.into_string()),
        revoke
    );
    let said = said.expect("within 2 s").expect("a body");
    assert!(said.contains("data:signed-out"), "{said}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn a_data_change_on_one_instance_reaches_the_other_within_a_second() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    a.get("/set/draft/first").await;
    let seen = with_cookies_of(&b, &a, "/get/draft").await;
    assert_eq!(seen.into_string().await.as_deref(), Some("first"));
    a.get("/set/draft/second").await;
    eventually(SECOND, "b drops its stale copy", || async {
        let seen = with_cookies_of(&b, &a, "/get/draft").await;
        seen.into_string().await.as_deref() == Some("second")
    })
    .await;
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn activity_on_one_instance_keeps_the_session_alive_on_the_other() {
    let Some((a, b, url)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    assert!(whoami_via(&b, &a).await.is_some(), "b caches it at T0");
    a.advance(8);
    assert!(a.whoami().await.is_some(), "active on a at T0 + 8");
    // a flushes its activity within its 1 s grace.
    let store = SqlStore::connect(&url).await.expect("store");
    let hash = a.token_hash();
    eventually(Duration::from_secs(3), "a flushes its activity", || async {
        store.load(&hash).await.unwrap().expect("row").last_activity == T0 + 8
    })
    .await;
    a.advance(4);
    assert_eq!(
        whoami_via(&b, &a).await.as_deref(),
        Some("alice"),
        "b's copy says idle 12 s, but the store says 4"
    );
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn a_relogin_backup_taken_on_one_instance_is_restored_on_the_other() {
    let Some((a, b, _)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    a.get("/set/draft/half-typed").await;
    a.advance(11);
    assert_eq!(a.whoami().await, None, "expired on a, backed up there");
    // The browser, now on b, logs in again and comes back through the relogin page.
    let login = with_cookies_of(&b, &a, "/login/alice").await;
    assert_eq!(login.status(), Status::Ok);
    let new_session = login
        .cookies()
        .get(rocket_session_security::SESSION_COOKIE)
        .expect("a new session")
        .clone()
        .into_owned();
    let backup = a
        .client
        .cookies()
        .get(rocket_session_security::BACKUP_COOKIE)
        .expect("backup cookie")
        .clone();
    let after = b
        .client
        .get("/session_security/after_relogin")
        .cookie(new_session)
        .cookie(backup)
        .dispatch()
        .await;
    assert_eq!(after.status(), Status::Ok);
    let restored = after
        .cookies()
        .get(rocket_session_security::SESSION_COOKIE)
        .expect("rotated after the restore")
        .clone()
        .into_owned();
    let html = after.into_string().await.unwrap_or_default();
    assert!(html.contains("\"restored\":true"), "{html}");
    let draft = b.client.get("/get/draft").cookie(restored).dispatch().await;
    assert_eq!(draft.into_string().await.as_deref(), Some("half-typed"));
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn concurrent_pings_on_both_instances_never_move_last_activity_backwards() {
    let Some((a, b, url)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    assert!(whoami_via(&b, &a).await.is_some());
    a.advance(9);
    let cookie = a.session_cookie().expect("cookie");
    let idle_fors: Vec<u64> = (0..60).map(|n| (n * 7 % 9) + 1).collect();
    let pings = idle_fors.iter().enumerate().map(|(n, idle_for)| {
        let on = if n % 2 == 0 { &a } else { &b };
        let cookie = cookie.clone();
        async move {
            let response = on
                .client
                .get(format!("/session_security/ping?idleFor={idle_for}"))
                .cookie(cookie)
                .dispatch()
                .await;
            assert_eq!(response.status(), Status::Ok);
        }
    });
    rocket::futures::future::join_all(pings).await;
    let store = SqlStore::connect(&url).await.expect("store");
    let hash = a.token_hash();
    // The smallest idleFor (1 s, at T0 + 9) wins on whichever instance
    // heard it, and no later flush may undo it.
    let expected = T0 + 9 - 1;
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        let last = store.load(&hash).await.unwrap().expect("row").last_activity;
        seen.push(last);
        if last == expected && start.elapsed() > Duration::from_millis(2500) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "stored {seen:?}");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "moved backwards: {seen:?}"
    );
}

#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn a_dropped_notification_connection_flushes_the_cache_and_listens_again() {
    let Some((a, b, url)) = two_instances().await else {
        return;
    };
    a.login("alice").await;
    assert!(whoami_via(&b, &a).await.is_some(), "cached on b");
    let cached = || test_support::admin(b.client.rocket()).cached_sessions();
    assert!(cached() >= 1);
    // Cut every listening connection: both instances may have missed
    // notifications now.
    let database = url.rsplit('/').next().expect("database name").to_owned();
    let admin = sqlx::PgPool::connect(&url).await.expect("admin");
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(&database)
    .fetch_all(&admin)
    .await
    .expect("terminate listeners");
    assert!(!cut.is_empty(), "no listening connection found");
    eventually(SECOND * 3, "b drops its whole cache", || async {
        cached() == 0
    })
    .await;
    // Listening again: a logout on a reaches b as before.
    assert!(whoami_via(&b, &a).await.is_some(), "cached on b again");
    let old_cookie = a.session_cookie().expect("cookie");
    eventually(SECOND * 3, "b listens again", || async {
        let listening: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'",
        )
        .bind(&database)
        .fetch_one(&admin)
        .await
        .expect("count listeners");
        listening >= 2
    })
    .await;
    a.get("/logout").await;
    ends_within_a_second(&b, &old_cookie).await;
}
