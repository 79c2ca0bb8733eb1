//! The CRM's SQLite file runs with the write-ahead log, so its pages keep
//! reading while a form saves. The demo sets it once at start (the mode
//! stays with the file); the session store is the library's own business.

use crate::common::{DemoApp, TestApp};
use sqlx::Connection;

#[rocket::async_test]
async fn the_crm_database_uses_wal() {
    let app = TestApp::start("sqlite_tuning").await;
    let url: String = app
        .figment()
        .extract_inner("databases.crm.url")
        .expect("url");
    // A connection of its own, not the app's pool: the mode is the file's.
    let mut connection = sqlx::SqliteConnection::connect(&url).await.expect("open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
}
