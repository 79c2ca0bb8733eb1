//! The SQL store: one set of portable statements for SQLite and PostgreSQL.

use std::sync::Arc;

use super::{
    BackupRecord, Purged, Removed, SessionRecord, SessionStore, StorePool, UserSessionStore,
    REVOKED,
};
use crate::error::{DbResult, Error};

/// Runs `$body` with `$p` bound to whichever concrete pool `$pool` holds, so
/// each statement is written once and type-checked for both backends.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            StorePool::Sqlite($p) => $body,
            #[cfg(feature = "postgres")]
            StorePool::Postgres($p) => $body,
        }
    };
}

/// Idempotent schema. BIGINT is a 64-bit integer in both databases.
const SCHEMA: [&str; 6] = [
    "CREATE TABLE IF NOT EXISTS session_security_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT,
        data TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        authenticated_at BIGINT,
        last_activity BIGINT NOT NULL,
        expire_after BIGINT NOT NULL,
        device TEXT)",
    "CREATE INDEX IF NOT EXISTS session_security_sessions_idle
        ON session_security_sessions (last_activity)",
    "CREATE TABLE IF NOT EXISTS session_security_backups (
        id_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        data TEXT NOT NULL,
        expires_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS session_security_backups_expiry
        ON session_security_backups (expires_at)",
    "CREATE INDEX IF NOT EXISTS session_security_sessions_user
        ON session_security_sessions (user_id)",
    "CREATE TABLE IF NOT EXISTS session_security_keys (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL)",
];

const COLUMNS: &str = "token_hash, user_id, data, csrf_token, created_at, authenticated_at, \
                       last_activity, expire_after, device";

/// Forward-only activity stamp in one statement, so concurrent requests
/// cannot interleave a read and a write.
const TOUCH: &str = "UPDATE session_security_sessions SET last_activity = $1 \
                     WHERE token_hash = $2 AND last_activity < $1";

/// The payload that tells the other instances to drop a session: this
/// store's instance id and the first 16 hex digits of the token hash (the
/// cache key), built in SQL from the row the statement changed, so the
/// announcement commits with the change or not at all.
#[cfg(feature = "postgres")]
const ANNOUNCE: &str = "pg_notify('session_security', $9 || ' ' || left(token_hash, 16))";

/// Whether the sessions table has the device column (tables made before
/// the list of sessions lack it), per database.
#[cfg(feature = "sqlite")]
const TABLE_HAS_DEVICE_SQLITE: &str =
    "SELECT COUNT(*) FROM pragma_table_info('session_security_sessions') WHERE name = 'device'";
#[cfg(feature = "postgres")]
const TABLE_HAS_DEVICE_POSTGRES: &str = "SELECT COUNT(*) FROM information_schema.columns \
     WHERE table_name = 'session_security_sessions' \
     AND column_name = 'device' AND table_schema = current_schema()";

/// Creates or upgrades the tables on `conn` (a connection, or a
/// transaction's).
async fn migrate_on<DB>(conn: &mut DB::Connection, has_device: &str) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::database::HasArguments<'q>>::Arguments: sqlx::IntoArguments<'q, DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    for statement in SCHEMA {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    let present: i64 = sqlx::query_scalar(has_device).fetch_one(&mut *conn).await?;
    if present == 0 {
        let add = "ALTER TABLE session_security_sessions ADD COLUMN device TEXT";
        sqlx::query(add).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A row read as one of the crate's records. The records are plain public
/// types, with no database driver's trait in the crate's API, so the
/// mapping from columns lives here.
struct Stored<T>(T);

/// `T: Decode + Type` for the row's database: what every column needs.
trait Column<'r, R: sqlx::Row>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database> {}

impl<'r, R: sqlx::Row, T> Column<'r, R> for T where
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>
{
}

impl<'r, R> sqlx::FromRow<'r, R> for Stored<SessionRecord>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: Column<'r, R>,
    Option<String>: Column<'r, R>,
    i64: Column<'r, R>,
    Option<i64>: Column<'r, R>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Stored(SessionRecord {
            token_hash: row.try_get("token_hash")?,
            user_id: row.try_get("user_id")?,
            data: row.try_get("data")?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: row.try_get("created_at")?,
            authenticated_at: row.try_get("authenticated_at")?,
            last_activity: row.try_get("last_activity")?,
            expire_after: row.try_get("expire_after")?,
            device: row.try_get("device")?,
        }))
    }
}

impl<'r, R> sqlx::FromRow<'r, R> for Stored<BackupRecord>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: Column<'r, R>,
    i64: Column<'r, R>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Stored(BackupRecord {
            id_hash: row.try_get("id_hash")?,
            user_id: row.try_get("user_id")?,
            data: row.try_get("data")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }
}

/// [`SessionStore`] over SQLite or PostgreSQL, picked by the URL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: StorePool,
    /// Names this instance in its PostgreSQL notifications, so it can tell
    /// its own heartbeats from the others' announcements.
    instance: Arc<str>,
}

impl SqlStore {
    /// A store on `pool`; call [`SessionStore::migrate`] before use.
    pub(crate) fn new(pool: StorePool) -> Self {
        let instance = crate::secret::random_secret()[..12].replace(['-', '_'], "x");
        SqlStore {
            pool,
            instance: instance.into(),
        }
    }

    /// This instance's id in notifications.
    pub(crate) fn instance_id(&self) -> String {
        self.instance.to_string()
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`) outside Rocket,
    /// for tests and tools, with the same tuning the fairing uses.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Ok(SqlStore::new(StorePool::connect_url(url).await?))
    }
}

#[rocket::async_trait]
impl SessionStore for SqlStore {
    async fn migrate(&self) -> Result<(), Error> {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            StorePool::Sqlite(p) => {
                // One process owns the file: nothing to race with.
                let mut conn = p.acquire().await.db()?;
                migrate_on::<sqlx::Sqlite>(&mut conn, TABLE_HAS_DEVICE_SQLITE)
                    .await
                    .db()
            }
            #[cfg(feature = "postgres")]
            StorePool::Postgres(p) => {
                // Instances that start together would race: PostgreSQL's
                // `CREATE TABLE IF NOT EXISTS` is not safe against itself.
                // One transaction under one lock makes the schema once.
                let mut tx = p.begin().await.db()?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('session_security_schema'), 0)")
                    .execute(&mut *tx)
                    .await
                    .db()?;
                migrate_on::<sqlx::Postgres>(&mut tx, TABLE_HAS_DEVICE_POSTGRES)
                    .await
                    .db()?;
                tx.commit().await.db()
            }
        }
    }

    async fn load(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM session_security_sessions WHERE token_hash = $1");
        let row: Option<Stored<SessionRecord>> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(p)
            .await)
        .db()?;
        Ok(row.map(|Stored(record)| record))
    }

    async fn insert(&self, r: &SessionRecord) -> Result<(), Error> {
        on_pool!(&self.pool, |p| insert_query(r).execute(p).await.map(drop)).db()?;
        Ok(())
    }

    async fn save_data(&self, token_hash: &str, data: &str) -> Result<(), Error> {
        let sql = "UPDATE session_security_sessions SET data = $1 WHERE token_hash = $2";
        match &self.pool {
            #[cfg(feature = "sqlite")]
            StorePool::Sqlite(p) => {
                sqlx::query(sql)
                    .bind(data)
                    .bind(token_hash)
                    .execute(p)
                    .await
                    .db()?;
            }
            #[cfg(feature = "postgres")]
            StorePool::Postgres(p) => {
                let sql = format!(
                    "WITH u AS ({sql} RETURNING token_hash) SELECT {} FROM u",
                    ANNOUNCE.replace("$9", "$3")
                );
                sqlx::query(&sql)
                    .bind(data)
                    .bind(token_hash)
                    .bind(&*self.instance)
                    .execute(p)
                    .await
                    .db()?;
            }
        }
        Ok(())
    }

    async fn touch(&self, token_hash: &str, at: i64) -> Result<(), Error> {
        on_pool!(&self.pool, |p| sqlx::query(TOUCH)
            .bind(at)
            .bind(token_hash)
            .execute(p)
            .await
            .map(drop))
        .db()?;
        Ok(())
    }

    async fn touch_many(&self, stamps: &[(String, i64)]) -> Result<(), Error> {
        if stamps.is_empty() {
            return Ok(());
        }
        match &self.pool {
            #[cfg(feature = "postgres")]
            StorePool::Postgres(p) => {
                // One round trip for a whole flush, however many sessions.
                let sql = "UPDATE session_security_sessions AS s SET last_activity = v.at \
                           FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS v(token_hash, at) \
                           WHERE s.token_hash = v.token_hash AND s.last_activity < v.at";
                let (hashes, ats): (Vec<&str>, Vec<i64>) =
                    stamps.iter().map(|(h, at)| (h.as_str(), *at)).unzip();
                sqlx::query(sql)
                    .bind(hashes)
                    .bind(ats)
                    .execute(p)
                    .await
                    .db()?;
            }
            #[cfg(feature = "sqlite")]
            StorePool::Sqlite(p) => {
                // One transaction: one fsync for the whole flush.
                let mut tx = p.begin().await.db()?;
                for (hash, at) in stamps {
                    sqlx::query(TOUCH)
                        .bind(at)
                        .bind(hash)
                        .execute(&mut *tx)
                        .await
                        .db()?;
                }
                tx.commit().await.db()?;
            }
        }
        Ok(())
    }

    async fn delete(&self, token_hash: &str) -> Result<Option<Removed>, Error> {
        let sql = "DELETE FROM session_security_sessions WHERE token_hash = $1 \
                   RETURNING user_id, expire_after";
        let row: Option<(Option<String>, i64)> = match &self.pool {
            #[cfg(feature = "sqlite")]
            // `fetch_all`, not `fetch_optional`: sqlx's SQLite worker hands
            // the first row back before it steps the statement to its end,
            // which is what commits it; until then another connection
            // still reads the row (and could cache it again).
            StorePool::Sqlite(p) => sqlx::query_as(sql)
                .bind(token_hash)
                .fetch_all(p)
                .await
                .db()?
                .pop(),
            #[cfg(feature = "postgres")]
            StorePool::Postgres(p) => {
                let sql = format!(
                    "WITH d AS ({sql}, token_hash) SELECT user_id, expire_after, {} FROM d",
                    ANNOUNCE.replace("$9", "$2")
                );
                sqlx::query_as(&sql)
                    .bind(token_hash)
                    .bind(&*self.instance)
                    .fetch_optional(p)
                    .await
                    .db()?
            }
        };
        Ok(row.map(|(user_id, expire_after)| Removed {
            user_id,
            revoked: expire_after == REVOKED,
        }))
    }

    async fn rotate(&self, old_hash: &str, new: &SessionRecord) -> Result<Option<i64>, Error> {
        let delete = "DELETE FROM session_security_sessions \
                      WHERE token_hash = $1 AND expire_after <> $2 RETURNING last_activity";
        let mut record = new.clone();
        macro_rules! rotate_in {
            ($tx:expr) => {{
                let stored: Option<i64> = sqlx::query_scalar(delete)
                    .bind(old_hash)
                    .bind(REVOKED)
                    .fetch_optional(&mut *$tx)
                    .await
                    .db()?;
                let Some(stored) = stored else {
                    $tx.rollback().await.db()?;
                    return Ok(None);
                };
                record.last_activity = record.last_activity.max(stored);
                insert_query(&record).execute(&mut *$tx).await.db()?;
                stored
            }};
        }
        let stored = match &self.pool {
            #[cfg(feature = "sqlite")]
            StorePool::Sqlite(p) => {
                let mut tx = p.begin().await.db()?;
                let stored = rotate_in!(tx);
                tx.commit().await.db()?;
                stored
            }
            #[cfg(feature = "postgres")]
            StorePool::Postgres(p) => {
                let mut tx = p.begin().await.db()?;
                if let Some(user) = &new.user_id {
                    lock_user(&mut tx, user).await.db()?;
                }
                let stored = rotate_in!(tx);
                announce(&mut tx, &self.instance, &[old_hash]).await.db()?;
                tx.commit().await.db()?;
                stored
            }
        };
        Ok(Some(record.last_activity.max(stored)))
    }

    async fn insert_backup(&self, b: &BackupRecord) -> Result<(), Error> {
        let sql = "INSERT INTO session_security_backups (id_hash, user_id, data, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(&b.id_hash)
            .bind(&b.user_id)
            .bind(&b.data)
            .bind(b.expires_at)
            .execute(p)
            .await
            .map(drop))
        .db()?;
        Ok(())
    }

    async fn backup_owner(&self, id_hash: &str) -> Result<Option<String>, Error> {
        let sql = "SELECT user_id FROM session_security_backups WHERE id_hash = $1";
        let owner = on_pool!(&self.pool, |p| sqlx::query_scalar(sql)
            .bind(id_hash)
            .fetch_optional(p)
            .await)
        .db()?;
        Ok(owner)
    }

    async fn take_backup(&self, id_hash: &str) -> Result<Option<BackupRecord>, Error> {
        // DELETE … RETURNING: two relogins racing for one backup, one wins.
        let sql = "DELETE FROM session_security_backups WHERE id_hash = $1 \
                   RETURNING id_hash, user_id, data, expires_at";
        // `fetch_all`: the delete has committed when it returns (see `delete`).
        let rows: Vec<Stored<BackupRecord>> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(id_hash)
            .fetch_all(p)
            .await)
        .db()?;
        Ok(rows.into_iter().next().map(|Stored(backup)| backup))
    }

    async fn purge(&self, now: i64, absolute_after: u64, retain: u64) -> Result<Purged, Error> {
        let sessions = "DELETE FROM session_security_sessions \
             WHERE last_activity + expire_after + $3 <= $1 \
             OR ($2 > 0 AND authenticated_at IS NOT NULL AND authenticated_at + $2 + $3 <= $1) \
             RETURNING user_id, token_hash, expire_after";
        let backups = "DELETE FROM session_security_backups WHERE expires_at <= $1";
        let absolute = absolute_after as i64;
        let (gone, backups) = on_pool!(&self.pool, |p| {
            let gone: Vec<(Option<String>, String, i64)> = sqlx::query_as(sessions)
                .bind(now)
                .bind(absolute)
                .bind(retain as i64)
                .fetch_all(p)
                .await
                .db()?;
            let b = sqlx::query(backups).bind(now).execute(p).await.db()?;
            Ok::<_, sqlx::Error>((gone, b.rows_affected()))
        })
        .db()?;
        let rows = gone.len() as u64 + backups;
        // A revoked session's end was reported when it was revoked.
        let sessions = gone
            .into_iter()
            .filter(|(_, _, expire_after)| *expire_after != REVOKED)
            .filter_map(|(user, hash, _)| Some((user?, hash)))
            .collect();
        Ok(Purged { sessions, rows })
    }

    async fn tag_key(&self, candidate: &str) -> Result<String, Error> {
        // First writer wins; every instance then reads the same key.
        let insert = "INSERT INTO session_security_keys (name, value) VALUES ('user_tag', $1) \
                      ON CONFLICT (name) DO NOTHING";
        let select = "SELECT value FROM session_security_keys WHERE name = 'user_tag'";
        let key = on_pool!(&self.pool, |p| {
            sqlx::query(insert).bind(candidate).execute(p).await.db()?;
            sqlx::query_scalar::<_, String>(select).fetch_one(p).await
        })
        .db()?;
        Ok(key)
    }
}

#[rocket::async_trait]
impl UserSessionStore for SqlStore {
    async fn revoke_user(&self, user_id: &str, except: Option<&str>) -> Result<Vec<String>, Error> {
        let sql = "UPDATE session_security_sessions SET expire_after = $1 \
                   WHERE user_id = $2 AND expire_after <> $1 \
                   AND ($3 IS NULL OR token_hash <> $3) RETURNING token_hash";
        let revoked: Vec<String> = match &self.pool {
            #[cfg(feature = "sqlite")]
            StorePool::Sqlite(p) => sqlx::query_scalar(sql)
                .bind(REVOKED)
                .bind(user_id)
                .bind(except)
                .fetch_all(p)
                .await
                .db()?,
            #[cfg(feature = "postgres")]
            StorePool::Postgres(p) => {
                let sql = sql.replace("$3 IS NULL", "$3::TEXT IS NULL");
                let mut tx = p.begin().await.db()?;
                lock_user(&mut tx, user_id).await.db()?;
                let revoked: Vec<String> = sqlx::query_scalar(&sql)
                    .bind(REVOKED)
                    .bind(user_id)
                    .bind(except)
                    .fetch_all(&mut *tx)
                    .await
                    .db()?;
                let hashes: Vec<&str> = revoked.iter().map(String::as_str).collect();
                announce(&mut tx, &self.instance, &hashes).await.db()?;
                tx.commit().await.db()?;
                revoked
            }
        };
        Ok(revoked)
    }
    async fn live_count(&self, now: i64, absolute_after: u64) -> Result<u64, Error> {
        let sql = "SELECT COUNT(*) FROM session_security_sessions \
             WHERE user_id IS NOT NULL AND last_activity + expire_after > $1 \
             AND ($2 = 0 OR authenticated_at + $2 > $1)";
        let live = on_pool!(&self.pool, |p| sqlx::query_scalar::<_, i64>(sql)
            .bind(now)
            .bind(absolute_after as i64)
            .fetch_one(p)
            .await)
        .db()?;
        Ok(live as u64)
    }
    async fn revoke(&self, token_hash: &str) -> Result<bool, Error> {
        let sql = "UPDATE session_security_sessions SET expire_after = $1 \
                   WHERE token_hash = $2 AND expire_after <> $1";
        let revoked = match &self.pool {
            #[cfg(feature = "sqlite")]
            StorePool::Sqlite(p) => {
                let done = sqlx::query(sql)
                    .bind(REVOKED)
                    .bind(token_hash)
                    .execute(p)
                    .await
                    .db()?;
                done.rows_affected() == 1
            }
            #[cfg(feature = "postgres")]
            StorePool::Postgres(p) => {
                let sql = format!(
                    "WITH r AS ({sql} RETURNING token_hash) SELECT {} FROM r",
                    ANNOUNCE.replace("$9", "$3")
                );
                let done = sqlx::query(&sql)
                    .bind(REVOKED)
                    .bind(token_hash)
                    .bind(&*self.instance)
                    .execute(p)
                    .await
                    .db()?;
                done.rows_affected() == 1
            }
        };
        Ok(revoked)
    }
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM session_security_sessions WHERE user_id = $1 \
             ORDER BY authenticated_at, token_hash"
        );
        let rows: Vec<Stored<SessionRecord>> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_all(p)
            .await)
        .db()?;
        Ok(rows.into_iter().map(|Stored(record)| record).collect())
    }
}

const INSERT: &str = "INSERT INTO session_security_sessions (token_hash, user_id, data, \
     csrf_token, created_at, authenticated_at, last_activity, expire_after, device) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The insert of `r`, for either backend.
fn insert_query<DB>(
    r: &SessionRecord,
) -> sqlx::query::Query<'_, DB, <DB as sqlx::database::HasArguments<'_>>::Arguments>
where
    DB: sqlx::Database,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(INSERT)
        .bind(r.token_hash.clone())
        .bind(r.user_id.clone())
        .bind(r.data.clone())
        .bind(r.csrf_token.clone())
        .bind(r.created_at)
        .bind(r.authenticated_at)
        .bind(r.last_activity)
        .bind(r.expire_after)
        .bind(r.device.clone())
}

/// Serialises the changes to one user's sessions (rotation, revocation of
/// all of them) until the transaction ends.
#[cfg(feature = "postgres")]
async fn lock_user(tx: &mut sqlx::PgConnection, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7227))")
        .bind(user_id)
        .execute(tx)
        .await
        .map(drop)
}

/// Tells the other instances to drop `hashes`, when the transaction commits.
#[cfg(feature = "postgres")]
async fn announce(
    tx: &mut sqlx::PgConnection,
    instance: &str,
    hashes: &[&str],
) -> Result<(), sqlx::Error> {
    let keys: Vec<u64> = hashes.iter().map(|h| super::key(h)).collect();
    for payload in super::notify::payloads(instance, &keys) {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(super::notify::CHANNEL)
            .bind(payload)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
