//! Where sessions and relogin backups live between requests.
//!
//! [`SessionStore`] is the seam: the fairing only talks to the trait, and
//! [`SqlStore`] implements it for SQLite and PostgreSQL, picked by URL.

mod pool;
mod sql;

mod cache;
#[cfg(feature = "postgres")]
mod notify;
mod sessions;

pub(crate) use cache::key;
#[cfg(feature = "postgres")]
pub(crate) use notify::start as listen_to_peers;
pub(crate) use pool::StorePool;
pub use sessions::StoreStats;
pub(crate) use sessions::{Caller, Sessions, Tuning};
pub use sql::SqlStore;

use crate::error::Error;

/// One session row. The token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session token, hex.
    pub token_hash: String,
    /// The logged-in user, or `None` for an anonymous session.
    pub user_id: Option<String>,
    /// The application's session data, a JSON object.
    pub data: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// Unix seconds when the row was created.
    pub created_at: i64,
    /// Unix seconds of the login, for the absolute limit.
    pub authenticated_at: Option<i64>,
    /// Unix seconds of the last activity; only ever moves forward.
    pub last_activity: i64,
    /// This session's idle limit in seconds; negative once revoked (see
    /// [`is_revoked`](Self::is_revoked)).
    pub expire_after: i64,
    /// A short description of the browser that logged in (from its
    /// User-Agent), for the user's list of sessions.
    pub device: Option<String>,
}

/// The `expire_after` of a revoked session: a tombstone until purged, so
/// the browser that held it learns at its next request that it was ended
/// on purpose (its tabs leave the page) rather than expired (they offer
/// the relogin).
pub(crate) const REVOKED: i64 = -1;

impl SessionRecord {
    /// Whether the session was revoked: a tombstone until the purge.
    pub fn is_revoked(&self) -> bool {
        self.expire_after == REVOKED
    }

    /// Marks the session revoked, for a store's
    /// [`revoke`](UserSessionStore::revoke) that writes whole records.
    pub fn mark_revoked(&mut self) {
        self.expire_after = REVOKED;
    }
}

/// The session row a [`SessionStore::delete`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Its user, `None` for an anonymous session.
    pub user_id: Option<String>,
    /// Whether it was a revoked tombstone (its end was reported already).
    pub revoked: bool,
}

/// What a [`SessionStore::purge`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// The signed-in sessions that went, as `(user_id, token_hash)`: their
    /// end is reported as purged, since no request saw it.
    pub sessions: Vec<(String, String)>,
    /// Every row that went: sessions (anonymous ones too) and backups.
    pub rows: u64,
}

/// A logged-out session's data, kept for the same user's relogin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRecord {
    /// SHA-256 of the backup cookie's value, hex.
    pub id_hash: String,
    /// The user the data belongs to; nobody else may get it.
    pub user_id: String,
    /// The application's session data, a JSON object.
    pub data: String,
    /// Unix seconds after which the backup is void.
    pub expires_at: i64,
}

/// Storage for sessions and backups: what every store must do. Every
/// method is one atomic step, so several application instances can share
/// one store. A store also implements [`UserSessionStore`].
#[rocket::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Creates or upgrades the tables.
    async fn migrate(&self) -> Result<(), Error>;
    /// The session with this token hash, if any.
    async fn load(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error>;
    /// Adds a new session row.
    async fn insert(&self, record: &SessionRecord) -> Result<(), Error>;
    /// Replaces a session's application data.
    async fn save_data(&self, token_hash: &str, data: &str) -> Result<(), Error>;
    /// Sets last activity to the later of the stored value and `at`, in one
    /// statement, so a slow request never moves it backwards.
    async fn touch(&self, token_hash: &str, at: i64) -> Result<(), Error>;
    /// [`touch`](Self::touch) for many sessions at once: how coalesced
    /// activity is flushed.
    async fn touch_many(&self, stamps: &[(String, i64)]) -> Result<(), Error> {
        for (hash, at) in stamps {
            self.touch(hash, *at).await?;
        }
        Ok(())
    }
    /// Deletes a session; returns what this call removed, so of two
    /// requests racing to end one session exactly one goes on (and reports
    /// its end).
    async fn delete(&self, token_hash: &str) -> Result<Option<Removed>, Error>;
    /// Moves a live session to a new token in one atomic step: the row
    /// `old_hash` is deleted and `new` inserted, unless the old row is gone
    /// or revoked, in which case nothing changes and `None` comes back (a
    /// revoked session is never revived by a rotation). Returns the stored
    /// row's last activity; the new row keeps the later of it and its own.
    /// Serialised with [`UserSessionStore::revoke_user`] per user.
    async fn rotate(&self, old_hash: &str, new: &SessionRecord) -> Result<Option<i64>, Error>;
    /// Adds a relogin backup.
    async fn insert_backup(&self, backup: &BackupRecord) -> Result<(), Error>;
    /// The user a backup belongs to, leaving it in place (a login learns
    /// whether it is a relogin, and by whom).
    async fn backup_owner(&self, id_hash: &str) -> Result<Option<String>, Error>;
    /// Removes and returns a backup (single use), whether or not it expired.
    async fn take_backup(&self, id_hash: &str) -> Result<Option<BackupRecord>, Error>;
    /// Deletes sessions that ended (idle limit, or `absolute_after` when not
    /// 0) more than `retain` seconds ago, and expired backups; returns what
    /// went. `retain` keeps an expired session until the browser's next
    /// request can back it up for a relogin.
    async fn purge(&self, now: i64, absolute_after: u64, retain: u64) -> Result<Purged, Error>;
    /// The deployment's key for user tags: stores `candidate` unless a key
    /// is there already, and returns the stored one, so every instance on
    /// this store tags a user alike and the key outlives restarts.
    async fn tag_key(&self, candidate: &str) -> Result<String, Error>;
}

/// What the features about a user's sessions need of a store: the list of
/// a user's sessions, revocation, the count of live sessions.
#[rocket::async_trait]
pub trait UserSessionStore: Send + Sync + 'static {
    /// Revokes every not yet revoked session of `user_id` but `except`, in
    /// one atomic step serialised with [`SessionStore::rotate`], so a
    /// session rotated meanwhile is revoked under its new token; returns
    /// the token hashes this call revoked.
    async fn revoke_user(&self, user_id: &str, except: Option<&str>) -> Result<Vec<String>, Error>;
    /// How many signed-in sessions are live at `now`.
    async fn live_count(&self, now: i64, absolute_after: u64) -> Result<u64, Error>;
    /// Marks a session revoked ([`SessionRecord::mark_revoked`]); returns whether this call
    /// revoked it (false when it is gone or revoked already).
    async fn revoke(&self, token_hash: &str) -> Result<bool, Error>;
    /// Every stored session of `user_id`, live or ended but not yet purged.
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, Error>;
}

/// Both halves, as the fairing holds a store.
pub(crate) trait Store: SessionStore + UserSessionStore {}

impl<T: SessionStore + UserSessionStore> Store for T {}
