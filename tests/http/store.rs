//! One store suite, run unchanged against SQLite and PostgreSQL.
//!
//! The PostgreSQL half is `#[ignore]`d unless asked for (`--include-ignored`)
//! and then needs a server URL in `SESSION_SECURITY_TEST_POSTGRES` (`.ci/run`
//! starts one); each test gets a database of its own.

use std::sync::Arc;

#[cfg(feature = "postgres")]
use crate::common::{fresh_postgres_database, LibraryApp, TestApp};

use rocket_session_security::{
    BackupRecord, Purged, Removed, SessionRecord, SessionStore, SqlStore, UserSessionStore,
};

async fn sqlite_store() -> Option<SqlStore> {
    let url = format!("{}?mode=rwc", crate::common::temp_sqlite_url());
    let store = SqlStore::connect(&url).await.expect("sqlite");
    store.migrate().await.expect("migrate");
    Some(store)
}

#[cfg(feature = "postgres")]
async fn postgres_store() -> Option<SqlStore> {
    let url = fresh_postgres_database().await?;
    let store = SqlStore::connect(&url).await.expect("postgres");
    store.migrate().await.expect("migrate");
    Some(store)
}

fn session(hash: &str, last_activity: i64) -> SessionRecord {
    SessionRecord {
        token_hash: hash.into(),
        user_id: Some("alice".into()),
        data: r#"{"draft":"hello"}"#.into(),
        csrf_token: "csrf".into(),
        created_at: 1000,
        authenticated_at: Some(1000),
        last_activity,
        expire_after: 10,
        device: Some("Firefox on Linux".into()),
    }
}

fn backup(hash: &str, expires_at: i64) -> BackupRecord {
    BackupRecord {
        id_hash: hash.into(),
        user_id: "alice".into(),
        data: "{}".into(),
        expires_at,
    }
}

/// Declares every suite test for one backend.
macro_rules! store_suite {
    ($backend:ident, $make:expr $(, #[$meta:meta])*) => {
        mod $backend {
            use super::*;

            async fn store() -> Option<SqlStore> {
                $make.await
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn migrate_is_idempotent() {
                let Some(store) = store().await else { return };
                store.migrate().await.expect("second migrate");
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn insert_then_load_roundtrips() {
                let Some(store) = store().await else { return };
                let record = session("a", 1000);
                store.insert(&record).await.unwrap();
                assert_eq!(store.load("a").await.unwrap(), Some(record));
                assert_eq!(store.load("nope").await.unwrap(), None);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn anonymous_session_has_no_user() {
                let Some(store) = store().await else { return };
                let record = SessionRecord {
                    user_id: None,
                    authenticated_at: None,
                    ..session("anon", 1000)
                };
                store.insert(&record).await.unwrap();
                assert_eq!(store.load("anon").await.unwrap(), Some(record));
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn duplicate_token_is_refused() {
                let Some(store) = store().await else { return };
                store.insert(&session("a", 1000)).await.unwrap();
                assert!(store.insert(&session("a", 1000)).await.is_err());
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn save_data_replaces_the_data() {
                let Some(store) = store().await else { return };
                store.insert(&session("a", 1000)).await.unwrap();
                store.save_data("a", r#"{"n":2}"#).await.unwrap();
                assert_eq!(store.load("a").await.unwrap().unwrap().data, r#"{"n":2}"#);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn touch_only_moves_forward() {
                let Some(store) = store().await else { return };
                store.insert(&session("a", 1000)).await.unwrap();
                store.touch("a", 1005).await.unwrap();
                store.touch("a", 1002).await.unwrap();
                assert_eq!(store.load("a").await.unwrap().unwrap().last_activity, 1005);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn a_batch_of_touches_only_moves_each_forward() {
                let Some(store) = store().await else { return };
                store.insert(&session("a", 1000)).await.unwrap();
                store.insert(&session("b", 1010)).await.unwrap();
                let stamps = [
                    ("a".to_owned(), 1005),
                    ("b".to_owned(), 1003),
                    ("gone".to_owned(), 1009),
                ];
                store.touch_many(&stamps).await.unwrap();
                store.touch_many(&[]).await.unwrap();
                assert_eq!(store.load("a").await.unwrap().unwrap().last_activity, 1005);
                assert_eq!(
                    store.load("b").await.unwrap().unwrap().last_activity,
                    1010,
                    "an older stamp in a batch changes nothing"
                );
                assert!(store.load("gone").await.unwrap().is_none());
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn concurrent_touches_never_move_backwards() {
                let Some(store) = store().await else { return };
                store.insert(&session("a", 1000)).await.unwrap();
                let store = Arc::new(store);
                // Interleaved out of order, as slow and fast requests would be.
                let stamps: Vec<i64> = (0..40).map(|i| 1000 + (i * 17) % 40).collect();
                let tasks: Vec<_> = stamps
                    .iter()
                    .map(|&at| {
                        let store = store.clone();
                        rocket::tokio::spawn(async move { store.touch("a", at).await })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap().unwrap();
                }
                let max = *stamps.iter().max().unwrap();
                assert_eq!(store.load("a").await.unwrap().unwrap().last_activity, max);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn delete_removes_the_session() {
                let Some(store) = store().await else { return };
                store.insert(&session("a", 1000)).await.unwrap();
                let removed = store.delete("a").await.unwrap();
                let alice = Removed {
                    user_id: Some("alice".into()),
                    revoked: false,
                };
                assert_eq!(removed, Some(alice), "this call removed it");
                assert_eq!(store.load("a").await.unwrap(), None);
                assert_eq!(
                    store.delete("a").await.unwrap(),
                    None,
                    "a second call finds nothing"
                );
                store.insert(&session("t", 1000)).await.unwrap();
                store.revoke("t").await.unwrap();
                let tombstone = store.delete("t").await.unwrap().expect("removed");
                assert!(tombstone.revoked, "a tombstone says so: its end was told");
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn rotation_moves_a_live_session_and_keeps_the_later_activity() {
                let Some(store) = store().await else { return };
                store.insert(&session("old", 1000)).await.unwrap();
                store.touch("old", 1050).await.unwrap();
                let rotated = store.rotate("old", &session("new", 1020)).await.unwrap();
                assert_eq!(rotated, Some(1050));
                assert_eq!(store.load("old").await.unwrap(), None);
                let new = store.load("new").await.unwrap().expect("moved");
                assert_eq!(new.last_activity, 1050, "never backwards");
                assert_eq!(
                    store.rotate("old", &session("again", 1060)).await.unwrap(),
                    None,
                    "a gone session is not rotated"
                );
                assert_eq!(store.load("again").await.unwrap(), None);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn a_revoked_session_is_not_revived_by_a_rotation() {
                let Some(store) = store().await else { return };
                store.insert(&session("old", 1000)).await.unwrap();
                store.revoke("old").await.unwrap();
                let rotated = store.rotate("old", &session("new", 1010)).await.unwrap();
                assert_eq!(rotated, None);
                assert_eq!(store.load("new").await.unwrap(), None, "no live copy");
                assert!(store.load("old").await.unwrap().unwrap().is_revoked());
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn revoking_a_user_ends_all_their_sessions_but_one_and_nobody_elses() {
                let Some(store) = store().await else { return };
                for hash in ["a1", "a2", "a3"] {
                    store.insert(&session(hash, 1000)).await.unwrap();
                }
                let bob = SessionRecord {
                    user_id: Some("bob".into()),
                    ..session("b1", 1000)
                };
                store.insert(&bob).await.unwrap();
                store.revoke("a3").await.unwrap();
                let mut revoked = store.revoke_user("alice", Some("a1")).await.unwrap();
                revoked.sort();
                assert_eq!(revoked, ["a2"], "a1 spared, a3 revoked already");
                assert!(!store.load("a1").await.unwrap().unwrap().is_revoked());
                assert!(!store.load("b1").await.unwrap().unwrap().is_revoked());
                assert_eq!(store.revoke_user("alice", None).await.unwrap(), ["a1"]);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn revocation_of_a_user_and_rotation_never_leave_a_live_session() {
                let Some(store) = store().await else { return };
                let store = Arc::new(store);
                for round in 0..20 {
                    let old = format!("old{round}");
                    let new = format!("new{round}");
                    store.insert(&session(&old, 1000)).await.unwrap();
                    let rotate = {
                        let (store, old, new) = (store.clone(), old.clone(), new.clone());
                        rocket::tokio::spawn(async move {
                            store.rotate(&old, &session(&new, 1001)).await
                        })
                    };
                    let revoke = {
                        let store = store.clone();
                        rocket::tokio::spawn(async move { store.revoke_user("alice", None).await })
                    };
                    rotate.await.unwrap().unwrap();
                    revoke.await.unwrap().unwrap();
                    for hash in [&old, &new] {
                        let row = store.load(hash).await.unwrap();
                        assert!(
                            row.is_none_or(|row| row.is_revoked()),
                            "round {round}: {hash} is live after the user was revoked"
                        );
                    }
                }
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn a_backup_names_its_owner_and_stays() {
                let Some(store) = store().await else { return };
                store.insert_backup(&backup("b", 5000)).await.unwrap();
                assert_eq!(
                    store.backup_owner("b").await.unwrap().as_deref(),
                    Some("alice")
                );
                assert_eq!(store.backup_owner("none").await.unwrap(), None);
                assert!(
                    store.take_backup("b").await.unwrap().is_some(),
                    "still there"
                );
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn backup_is_single_use() {
                let Some(store) = store().await else { return };
                store.insert_backup(&backup("b", 5000)).await.unwrap();
                assert_eq!(
                    store.take_backup("b").await.unwrap(),
                    Some(backup("b", 5000))
                );
                assert_eq!(store.take_backup("b").await.unwrap(), None);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn racing_relogins_get_one_backup() {
                let Some(store) = store().await else { return };
                store.insert_backup(&backup("b", 5000)).await.unwrap();
                let store = Arc::new(store);
                let tasks: Vec<_> = (0..8)
                    .map(|_| {
                        let store = store.clone();
                        rocket::tokio::spawn(async move { store.take_backup("b").await })
                    })
                    .collect();
                let mut winners = 0;
                for task in tasks {
                    winners += task.await.unwrap().unwrap().is_some() as u32;
                }
                assert_eq!(winners, 1);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn the_first_tag_key_stays() {
                let Some(store) = store().await else { return };
                assert_eq!(store.tag_key("first").await.unwrap(), "first");
                assert_eq!(store.tag_key("second").await.unwrap(), "first");
                store.migrate().await.unwrap();
                assert_eq!(store.tag_key("third").await.unwrap(), "first");
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn a_users_sessions_are_listed_and_nobody_elses() {
                let Some(store) = store().await else { return };
                store.insert(&session("a1", 1000)).await.unwrap();
                store.insert(&session("a2", 1005)).await.unwrap();
                let bob = SessionRecord {
                    user_id: Some("bob".into()),
                    ..session("b1", 1000)
                };
                store.insert(&bob).await.unwrap();
                let anonymous = SessionRecord {
                    user_id: None,
                    ..session("x1", 1000)
                };
                store.insert(&anonymous).await.unwrap();
                let alice = store.user_sessions("alice").await.unwrap();
                let hashes: Vec<_> = alice.iter().map(|r| r.token_hash.as_str()).collect();
                assert_eq!(hashes, ["a1", "a2"]);
                assert_eq!(alice[0].device.as_deref(), Some("Firefox on Linux"));
                assert_eq!(store.user_sessions("bob").await.unwrap(), vec![bob]);
                assert!(store.user_sessions("carol").await.unwrap().is_empty());
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn a_revoked_session_is_a_tombstone_until_purged() {
                let Some(store) = store().await else { return };
                store.insert(&session("r", 1095)).await.unwrap();
                assert!(store.revoke("r").await.unwrap());
                assert!(!store.revoke("r").await.unwrap(), "once");
                assert!(!store.revoke("missing").await.unwrap());
                let row = store.load("r").await.unwrap().expect("kept as a tombstone");
                assert!(row.is_revoked());
                assert_eq!(store.live_count(1100, 0).await.unwrap(), 0);
                let purged = store.purge(1200, 0, 0).await.unwrap();
                assert_eq!(purged.rows, 1);
                assert!(purged.sessions.is_empty(), "its end was told at revocation");
                assert_eq!(store.load("r").await.unwrap(), None);
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn live_sessions_are_counted() {
                let Some(store) = store().await else { return };
                store.insert(&session("idle", 1000)).await.unwrap();
                store.insert(&session("live", 1095)).await.unwrap();
                let anonymous = SessionRecord {
                    user_id: None,
                    ..session("x", 1095)
                };
                store.insert(&anonymous).await.unwrap();
                assert_eq!(store.live_count(1100, 0).await.unwrap(), 1);
                assert_eq!(store.live_count(1100, 50).await.unwrap(), 0, "absolute");
            }

            #[rocket::async_test]
            $(#[$meta])*
            async fn purge_removes_only_what_expired() {
                let Some(store) = store().await else { return };
                store.insert(&session("idle", 1000)).await.unwrap();
                store.insert(&session("live", 1095)).await.unwrap();
                store.insert(&session("old", 1099)).await.unwrap();
                store.insert_backup(&backup("gone", 1100)).await.unwrap();
                store.insert_backup(&backup("kept", 1101)).await.unwrap();
                // At 1100 "idle" has idled out; the others were active lately.
                // Kept 100 s past its end for a backup: only the old backup goes.
                assert_eq!(store.purge(1100, 0, 100).await.unwrap().rows, 1);
                assert!(store.load("idle").await.unwrap().is_some());
                assert_eq!(
                    store.purge(1100, 0, 0).await.unwrap(),
                    Purged {
                        sessions: vec![("alice".into(), "idle".into())],
                        rows: 1
                    },
                    "now the idle one"
                );
                assert_eq!(store.load("idle").await.unwrap(), None);
                assert!(store.load("live").await.unwrap().is_some());
                assert!(store.take_backup("kept").await.unwrap().is_some());
                // All three logged in at 1000: a 100 s absolute limit ends both.
                assert_eq!(
                    store.purge(1100, 100, 0).await.unwrap().rows,
                    2,
                    "absolute limit"
                );
                assert_eq!(store.load("old").await.unwrap(), None);
            }
        }
    };
}

store_suite!(sqlite, sqlite_store());
#[cfg(feature = "postgres")]
store_suite!(
    postgres,
    postgres_store(),
    #[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
);

/// A table made before the list of sessions (no `device`) is upgraded.
#[rocket::async_test]
async fn an_old_sqlite_table_gains_the_device_column() {
    use sqlx::Connection;
    let url = format!("{}?mode=rwc", crate::common::temp_sqlite_url());
    let mut old = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
    sqlx::query(
        "CREATE TABLE session_security_sessions (token_hash TEXT PRIMARY KEY, user_id TEXT, \
         data TEXT NOT NULL, csrf_token TEXT NOT NULL, created_at BIGINT NOT NULL, \
         authenticated_at BIGINT, last_activity BIGINT NOT NULL, expire_after BIGINT NOT NULL)",
    )
    .execute(&mut old)
    .await
    .unwrap();
    old.close().await.unwrap();
    let store = SqlStore::connect(&url).await.expect("sqlite");
    store.migrate().await.expect("upgrade");
    store.migrate().await.expect("and again");
    store.insert(&session("d", 1000)).await.unwrap();
    let row = store.load("d").await.unwrap().unwrap();
    assert_eq!(row.device.as_deref(), Some("Firefox on Linux"));
}

/// The fairing picks PostgreSQL from the URL alone.
#[cfg(feature = "postgres")]
#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn the_fairing_runs_on_postgres_by_url() {
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let app =
        TestApp::with(crate::common::figment().merge(("databases.session_security.url", url)))
            .await;
    app.login("alice").await;
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    app.advance(10);
    assert_eq!(app.whoami().await, None);
}

/// Two instances that start together on a new database both launch: the
/// schema is created once, not raced (PostgreSQL's `CREATE TABLE IF NOT
/// EXISTS` is not safe against itself).
#[cfg(feature = "postgres")]
#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn two_instances_migrating_one_new_database_at_once_both_succeed() {
    for _ in 0..5 {
        let url = fresh_postgres_database().await.expect("server");
        let a = SqlStore::connect(&url).await.expect("a");
        let b = SqlStore::connect(&url).await.expect("b");
        let (first, second) = rocket::tokio::join!(a.migrate(), b.migrate());
        first.expect("the first migration");
        second.expect("the second migration");
    }
}
