//! Both SQLite files the demo writes run with the write-ahead log, so pages
//! keep reading while a form or an activity flush writes.

use crate::common::{DemoApp, TestApp};
use sqlx::Connection;

async fn journal_mode(url: &str) -> String {
    let mut connection = sqlx::SqliteConnection::connect(url).await.expect("open");
    sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .expect("pragma")
}

#[rocket::async_test]
async fn the_crm_and_the_session_store_use_wal() {
    let app = TestApp::start("sqlite_tuning").await;
    for key in ["databases.crm.url", "databases.session_security.url"] {
        let url: String = app.figment().extract_inner(key).expect("url");
        assert_eq!(journal_mode(&url).await, "wal", "{key}");
    }
}
