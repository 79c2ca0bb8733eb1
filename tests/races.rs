//! Reads that race an eviction on the same instance: a store read that
//! started before a logout or a revocation must never put the old row back
//! into memory, whether or not the session was cached when it ended, and
//! whether the read was a cache miss or a re-read (`reload`) before an
//! answer. A store wrapper holds one read until the test has ended the
//! session.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{app_with, figment, LibraryApp, TestApp, T0};
use rocket::http::{Cookie, Header, Status};
use rocket::tokio::sync::Notify;
use rocket_session_security::{
    BackupRecord, Error, ManualClock, Purged, Removed, SessionAdmin, SessionRecord,
    SessionSecurity, SessionStore, SqlStore,
};

/// Pauses the next `load` after it has read the store, until released.
#[derive(Default)]
struct Hold {
    armed: AtomicBool,
    read: Notify,
    release: Notify,
}

struct HeldStore {
    inner: SqlStore,
    hold: Arc<Hold>,
}

#[rocket::async_trait]
impl SessionStore for HeldStore {
    async fn migrate(&self) -> Result<(), Error> {
        self.inner.migrate().await
    }
    async fn load(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error> {
        let row = self.inner.load(token_hash).await;
        if self.hold.armed.swap(false, Ordering::SeqCst) {
            self.hold.read.notify_one();
            self.hold.release.notified().await;
        }
        row
    }
    async fn insert(&self, record: &SessionRecord) -> Result<(), Error> {
        self.inner.insert(record).await
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
        self.inner.rotate(old_hash, new).await
    }
    async fn revoke_user(&self, user_id: &str, except: Option<&str>) -> Result<Vec<String>, Error> {
        self.inner.revoke_user(user_id, except).await
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
    async fn live_count(&self, now: i64, absolute_after: u64) -> Result<u64, Error> {
        self.inner.live_count(now, absolute_after).await
    }
    async fn tag_key(&self, candidate: &str) -> Result<String, Error> {
        self.inner.tag_key(candidate).await
    }
    async fn revoke(&self, token_hash: &str) -> Result<bool, Error> {
        self.inner.revoke(token_hash).await
    }
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, Error> {
        self.inner.user_sessions(user_id).await
    }
}

/// An app whose store can hold a read, with the given settings.
async fn held_app(settings: &[(&str, i64)]) -> (TestApp, Arc<Hold>) {
    let mut figment = figment();
    for (key, value) in settings {
        figment = figment.merge((format!("session_security.{key}"), *value));
    }
    let url: String = figment
        .extract_inner("databases.session_security.url")
        .expect("url");
    let hold = Arc::new(Hold::default());
    let store = HeldStore {
        inner: SqlStore::connect(&url).await.expect("store"),
        hold: hold.clone(),
    };
    let clock = ManualClock::new(T0);
    let fairing = SessionSecurity::fairing()
        .with_clock(clock.clone())
        .with_store(store);
    (
        TestApp::launch(app_with(figment, fairing), clock).await,
        hold,
    )
}

/// `/whoami` with `cookie` as the session: the user, or `None` (401).
async fn whoami_with(app: &TestApp, cookie: &Cookie<'static>) -> Option<String> {
    let response = app
        .client
        .get("/whoami")
        .cookie(cookie.clone())
        .header(Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    match response.status() {
        Status::Ok => response.into_string().await,
        Status::Unauthorized => None,
        other => panic!("unexpected {other}"),
    }
}

/// Runs `request` with its store read held until `meanwhile` is done.
async fn with_read_held<R, M>(hold: &Hold, request: R, meanwhile: M)
where
    R: std::future::Future,
    M: std::future::Future<Output = ()>,
{
    hold.armed.store(true, Ordering::SeqCst);
    let between = async {
        hold.read.notified().await;
        meanwhile.await;
        hold.release.notify_one();
    };
    rocket::tokio::join!(request, between);
}

#[rocket::async_test]
async fn a_miss_read_before_a_revocation_does_not_cache_the_revoked_session() {
    // Alice signs in on another instance on the same store, so this one
    // has nothing of hers in memory: her next request here is a miss.
    let (app, hold) = held_app(&[]).await;
    let other = TestApp::launch(
        app_with(
            app.figment(),
            SessionSecurity::fairing().with_clock(app.clock.clone()),
        ),
        app.clock.clone(),
    )
    .await;
    other.login("alice").await;
    let alice = other.session_cookie().expect("alice");
    let read = whoami_with(&app, &alice);
    let revoke = async {
        let rocket = app.client.rocket();
        let ended = SessionAdmin::of(rocket)
            .expect("the fairing is attached")
            .revoke_user("alice", None)
            .await;
        assert_eq!(ended.expect("revoke"), 1);
    };
    with_read_held(&hold, read, revoke).await;
    let replay = whoami_with(&app, &alice).await;
    assert_eq!(replay, None, "the revoked row read before was not cached");
}

#[rocket::async_test]
async fn a_reload_before_a_revocation_does_not_cache_the_revoked_session() {
    // A ping inside the warning window re-reads the session before it
    // answers (another instance may have seen activity).
    let (app, hold) = held_app(&[]).await;
    app.login("alice").await;
    let alice = app.session_cookie().expect("alice");
    app.advance(6); // past warn_after (5), before expire_after (10)
    let ping = app.ping(None);
    let revoke = async {
        let rocket = app.client.rocket();
        let ended = SessionAdmin::of(rocket)
            .expect("the fairing is attached")
            .revoke_user("alice", None)
            .await;
        assert_eq!(ended.expect("revoke"), 1);
    };
    with_read_held(&hold, ping, revoke).await;
    assert_eq!(whoami_with(&app, &alice).await, None);
}
