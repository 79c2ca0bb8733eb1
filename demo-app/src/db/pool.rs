//! The CRM's connection pool, as `rocket_db_pools` would build it.
//!
//! `rocket_db_pools` has a ready-made SQLite pool only behind its
//! `sqlx_sqlite` feature, which also compiles sqlx's rustls TLS stack: no
//! use for a local file. So the demo gives it this plain `SqlitePool`,
//! opened from the same `databases.crm` keys the way `rocket_db_pools`
//! opens one: the file created if missing, and a busy database waited for
//! up to `connect_timeout` seconds. Nothing else is tuned per connection;
//! the journal mode belongs to the file (see [`super::stage`]).

use std::ops::Deref;
use std::str::FromStr;
use std::time::Duration;

use rocket::figment::Figment;
use rocket_db_pools::{Config, Error, Pool};
use sqlx::pool::{PoolConnection, PoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Sqlite, SqlitePool};

/// A `SqlitePool` for `#[database("crm")]`.
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
            .busy_timeout(timeout);
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
