//! A [`SqlStore`] that stops at one chosen step until the test lets it go:
//! how race tests put something between a store step and what follows it
//! (a revocation between a read and the caching of what it read, say).

use std::sync::{Arc, Mutex};

use rocket::tokio::sync::Notify;
use rocket_session_security::{
    BackupRecord, Error, Purged, Removed, SessionRecord, SessionStore, SqlStore, UserSessionStore,
};

/// Where the store stops, once, after [`Pause::arm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePoint {
    /// After a `load` has read the store, before it returns the row.
    AfterLoad,
    /// After a signed-in `insert` or a `rotate` has committed.
    AfterSignedInWrite,
}

/// The test's side of a [`PausableStore`].
#[derive(Default)]
pub struct Pause {
    armed: Mutex<Option<PausePoint>>,
    /// Notified when the store has stopped.
    pub reached: Notify,
    /// Notify to let the stopped store go on.
    pub go: Notify,
}

impl Pause {
    /// The next time the store passes `point`, it stops there.
    pub fn arm(&self, point: PausePoint) {
        *self.armed.lock().expect("pause lock") = Some(point);
    }

    async fn at(&self, point: PausePoint) {
        let hit = {
            let mut armed = self.armed.lock().expect("pause lock");
            let hit = *armed == Some(point);
            if hit {
                *armed = None;
            }
            hit
        };
        if hit {
            self.reached.notify_one();
            self.go.notified().await;
        }
    }
}

/// [`SqlStore`], stopping where its [`Pause`] is armed.
pub struct PausableStore {
    inner: SqlStore,
    pause: Arc<Pause>,
}

impl PausableStore {
    /// A store on `url` and the handle that arms and releases it.
    pub async fn connect(url: &str) -> (PausableStore, Arc<Pause>) {
        let pause = Arc::new(Pause::default());
        let inner = SqlStore::connect(url).await.expect("store");
        let store = PausableStore {
            inner,
            pause: pause.clone(),
        };
        (store, pause)
    }
}

#[rocket::async_trait]
impl SessionStore for PausableStore {
    async fn migrate(&self) -> Result<(), Error> {
        self.inner.migrate().await
    }
    async fn load(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error> {
        let row = self.inner.load(token_hash).await;
        self.pause.at(PausePoint::AfterLoad).await;
        row
    }
    async fn insert(&self, record: &SessionRecord) -> Result<(), Error> {
        self.inner.insert(record).await?;
        if record.user_id.is_some() {
            self.pause.at(PausePoint::AfterSignedInWrite).await;
        }
        Ok(())
    }
    async fn save_data(&self, token_hash: &str, data: &str) -> Result<(), Error> {
        self.inner.save_data(token_hash, data).await
    }
    async fn touch(&self, token_hash: &str, at: i64) -> Result<(), Error> {
        self.inner.touch(token_hash, at).await
    }
    async fn delete(&self, token_hash: &str) -> Result<Option<Removed>, Error> {
        self.inner.delete(token_hash).await
    }
    async fn rotate(&self, old_hash: &str, new: &SessionRecord) -> Result<Option<i64>, Error> {
        let rotated = self.inner.rotate(old_hash, new).await?;
        self.pause.at(PausePoint::AfterSignedInWrite).await;
        Ok(rotated)
    }
    async fn insert_backup(&self, backup: &BackupRecord) -> Result<(), Error> {
        self.inner.insert_backup(backup).await
    }
    async fn backup_owner(&self, id_hash: &str) -> Result<Option<String>, Error> {
        self.inner.backup_owner(id_hash).await
    }
    async fn take_backup(&self, id_hash: &str) -> Result<Option<BackupRecord>, Error> {
        self.inner.take_backup(id_hash).await
    }
    async fn purge(&self, now: i64, absolute_after: u64, retain: u64) -> Result<Purged, Error> {
        self.inner.purge(now, absolute_after, retain).await
    }
    async fn tag_key(&self, candidate: &str) -> Result<String, Error> {
        self.inner.tag_key(candidate).await
    }
}

#[rocket::async_trait]
impl UserSessionStore for PausableStore {
    async fn revoke_user(&self, user_id: &str, except: Option<&str>) -> Result<Vec<String>, Error> {
        self.inner.revoke_user(user_id, except).await
    }
    async fn live_count(&self, now: i64, absolute_after: u64) -> Result<u64, Error> {
        self.inner.live_count(now, absolute_after).await
    }
    async fn revoke(&self, token_hash: &str) -> Result<bool, Error> {
        self.inner.revoke(token_hash).await
    }
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, Error> {
        self.inner.user_sessions(user_id).await
    }
}
