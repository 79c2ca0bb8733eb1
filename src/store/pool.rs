//! The store's connection pool, built from `databases.session_security`:
//! the URL picks SQLite or PostgreSQL at run time.
//!
//! The crate builds this pool itself rather than through a
//! `rocket_db_pools` database: SQLite needs per-connection settings that
//! `rocket_db_pools` does not expose (`synchronous`), and the pool must close
//! only after the last coalesced activity writes are flushed at shutdown.
//! The keys are `rocket_db_pools`' own (`url`, `max_connections`,
//! `connect_timeout`, …), so the configuration reads the same.

use std::str::FromStr;
use std::time::Duration;

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use sqlx::ConnectOptions;

use crate::error::{DbResult, Error};

/// The URL used when `databases.session_security.url` is not configured: a
/// SQLite file in the working directory, created if missing.
pub(crate) const DEFAULT_URL: &str = "sqlite://session_security.sqlite";

/// The figment path of the store's settings.
const CONFIG_PATH: &str = "databases.session_security";

/// A connection pool to SQLite or PostgreSQL, chosen by the URL's scheme.
#[derive(Debug, Clone)]
pub(crate) enum StorePool {
    /// `sqlite://…`: the embedded default; one process owns the file.
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    /// `postgres://…`: shared by several application instances.
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

impl StorePool {
    /// Connects as `databases.session_security` in `figment` says.
    pub async fn from_figment(figment: &Figment, workers: usize) -> Result<Self, Error> {
        let config: rocket_db_pools::Config = figment
            .focus(CONFIG_PATH)
            .join(Serialized::default("url", DEFAULT_URL))
            .join(Serialized::default("max_connections", workers * 4))
            .join(Serialized::default("connect_timeout", 5))
            .extract()
            .map_err(|e| Error::StoreConfig(format!("`{CONFIG_PATH}`: {e}")))?;
        Self::connect(&config).await
    }

    /// Connects to `url` with default pool settings, for tests and tools.
    pub async fn connect_url(url: &str) -> Result<Self, Error> {
        Self::connect(&rocket_db_pools::Config {
            url: url.into(),
            min_connections: None,
            max_connections: 16,
            connect_timeout: 5,
            idle_timeout: None,
            extensions: None,
        })
        .await
    }

    async fn connect(config: &rocket_db_pools::Config) -> Result<Self, Error> {
        let url = config.url.as_str();
        #[cfg(feature = "sqlite")]
        if url.starts_with("sqlite:") {
            let connect_timeout = Duration::from_secs(config.connect_timeout);
            // WAL lets readers go on while one connection writes, and with
            // WAL `synchronous=NORMAL` cannot corrupt the file: a power cut
            // loses at most the last commits, which here are activity stamps.
            let options = SqliteConnectOptions::from_str(url)
                .db()?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(connect_timeout)
                .disable_statement_logging();
            return Ok(StorePool::Sqlite(
                pool_options(config).connect_with(options).await.db()?,
            ));
        }
        #[cfg(feature = "postgres")]
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .db()?
                .disable_statement_logging();
            return Ok(StorePool::Postgres(
                pool_options(config).connect_with(options).await.db()?,
            ));
        }
        Err(Error::UnsupportedUrl(url.into()))
    }

    /// Closes every connection; waits for those in use.
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "sqlite")]
            StorePool::Sqlite(pool) => pool.close().await,
            #[cfg(feature = "postgres")]
            StorePool::Postgres(pool) => pool.close().await,
        }
    }
}

/// The pool settings `rocket_db_pools` would use for these keys.
fn pool_options<DB: sqlx::Database>(
    config: &rocket_db_pools::Config,
) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(config.max_connections as u32)
        .min_connections(config.min_connections.unwrap_or_default())
        .acquire_timeout(Duration::from_secs(config.connect_timeout))
        .idle_timeout(config.idle_timeout.map(Duration::from_secs))
}
