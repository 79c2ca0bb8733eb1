//! The CRM's SQLite pool, tuned as the session store is.
//!
//! rocket_db_pools opens SQLite with the rollback journal and its default
//! `synchronous=FULL`. WAL lets pages read while a form saves, and with WAL
//! `synchronous=NORMAL` cannot corrupt the file (a power cut may lose the
//! last commits, not the database). rocket_db_pools does not expose these
//! per-connection settings, so this pool builds the sqlx options itself
//! from the same `databases.crm` keys.

use std::ops::Deref;
use std::str::FromStr;
use std::time::Duration;

use rocket::figment::Figment;
use rocket_db_pools::{Config, Error, Pool};
use sqlx::pool::{PoolConnection, PoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Sqlite, SqlitePool};

/// A `SqlitePool` opened in WAL mode with `synchronous=NORMAL` and a busy
/// timeout of `connect_timeout` seconds.
pub struct CrmPool(SqlitePool);

impl Deref for CrmPool {
    type Target = SqlitePool;

    fn deref(&self) -> &SqlitePool {
        &self.0
    }
}

#[rocket::async_trait]
impl Pool for CrmPool {
    type Connection = PoolConnection<Sqlite>;
    type Error = Error<sqlx::Error>;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let config: Config = figment.extract()?;
        let timeout = Duration::from_secs(config.connect_timeout);
        let options = SqliteConnectOptions::from_str(&config.url)
            .map_err(Error::Init)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(timeout)
            .disable_statement_logging();
        PoolOptions::new()
            .max_connections(config.max_connections as u32)
            .min_connections(config.min_connections.unwrap_or_default())
            .acquire_timeout(timeout)
            .idle_timeout(config.idle_timeout.map(Duration::from_secs))
            .connect_with(options)
            .await
            .map(CrmPool)
            .map_err(Error::Init)
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        self.0.acquire().await.map_err(Error::Get)
    }

    async fn close(&self) {
        self.0.close().await;
    }
}
