//! The background task started at liftoff deletes expired rows, so the
//! tables never grow without bound. It runs on real time (every
//! `expire_after / 2` seconds, at least 1), judged by the injected clock.

use crate::common::{LibraryApp, TestApp};

use std::time::{Duration, Instant};

#[rocket::async_test]
async fn expired_sessions_are_purged_in_the_background() {
    let url = crate::common::temp_sqlite_url();
    let figment = crate::common::figment()
        .merge(("databases.session_security.url", url.clone()))
        .merge(("session_security.warn_after", 1))
        .merge(("session_security.expire_after", 2))
        .merge(("session_security.backup_ttl", 50));
    let app = TestApp::with(figment).await;
    app.login("alice").await;

    let pool = sqlx::SqlitePool::connect(&url).await.expect("same file");
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM session_security_sessions")
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    assert_eq!(count().await, 1);

    // Past its end but within backup_ttl: kept for the relogin backup.
    app.advance(40);
    rocket::tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        count().await,
        1,
        "purged before the browser could back it up"
    );

    app.advance(60);
    let started = Instant::now();
    while count().await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "purge never ran"
        );
        rocket::tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.whoami().await, None);
}

#[rocket::async_test]
async fn a_session_expired_before_a_purge_is_still_backed_up() {
    let figment = crate::common::figment()
        .merge(("session_security.warn_after", 1))
        .merge(("session_security.expire_after", 2));
    let app = TestApp::with(figment).await;
    app.login("alice").await;
    app.get("/set/draft/x").await;
    app.advance(30);
    rocket::tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.whoami().await, None);
    let backup = app
        .client
        .cookies()
        .get(rocket_session_security::BACKUP_COOKIE)
        .cloned();
    assert!(
        backup.is_some(),
        "the purge took the session before it was backed up"
    );
}
