//! The `session_security` database: a `rocket_db_pools` pool whose URL picks
//! SQLite or PostgreSQL at run time.

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket_db_pools::sqlx::{PgPool, SqlitePool};
use rocket_db_pools::{Database, Pool};

/// The URL used when `databases.session_security.url` is not configured: a
/// SQLite file in the working directory, created if missing.
pub const DEFAULT_URL: &str = "sqlite://session_security.sqlite";

/// A connection pool to SQLite or PostgreSQL, chosen by the URL's scheme.
#[derive(Debug, Clone)]
pub enum StorePool {
    /// `sqlite://…`: the embedded default, one application instance.
    Sqlite(SqlitePool),
    /// `postgres://…`: shared by several application instances.
    Postgres(PgPool),
}

type PoolError = rocket_db_pools::Error<sqlx::Error>;

#[rocket::async_trait]
impl Pool for StorePool {
    type Connection = StorePool;
    type Error = PoolError;

    async fn init(figment: &Figment) -> Result<Self, Self::Error> {
        let figment = figment
            .clone()
            .join(Serialized::default("url", DEFAULT_URL));
        let url: String = figment.extract_inner("url")?;
        if url.starts_with("sqlite:") {
            Ok(StorePool::Sqlite(
                <SqlitePool as Pool>::init(&figment).await?,
            ))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(StorePool::Postgres(<PgPool as Pool>::init(&figment).await?))
        } else {
            let why = crate::error::Error::UnsupportedUrl(url).to_string();
            Err(rocket_db_pools::Error::Init(sqlx::Error::Configuration(
                why.into(),
            )))
        }
    }

    async fn get(&self) -> Result<Self::Connection, Self::Error> {
        Ok(self.clone())
    }

    async fn close(&self) {
        match self {
            StorePool::Sqlite(pool) => pool.close().await,
            StorePool::Postgres(pool) => pool.close().await,
        }
    }
}

/// The session store's database, configured under
/// `databases.session_security` like any `rocket_db_pools` database.
/// The fairing attaches it; you never need to.
#[derive(Database)]
#[database("session_security")]
pub struct SessionDb(StorePool);
