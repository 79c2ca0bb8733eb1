//! Live sessions served from memory, in front of the store.
//!
//! The store is the truth, memory is the speed:
//! - a request whose session is cached does no store I/O unless it changes
//!   something;
//! - last-activity stamps are kept in memory and flushed in batches, at most
//!   one write per session per `activity_write_grace`, never backwards, and
//!   once more at shutdown;
//! - data changes, logins, logouts and token rotations are written through;
//! - the cache may say "alive", only the store may say "dead": the fairing
//!   re-reads a session from the store (see [`SessionCache::reload`]) before
//!   it ends it, since another instance may have seen activity.
//!
//! Every store call is bounded by `store_timeout`, so a store that does not
//! answer is [`Error::Unavailable`], never a logout.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

#[cfg(feature = "postgres")]
use super::notify::Peers;
use super::{BackupRecord, Purged, SessionRecord, SessionStore};
use crate::error::Error;

/// A cached session: the row as last read or written, with its activity
/// stamp kept apart so requests move it without a lock.
struct Cached {
    record: SessionRecord,
    last_activity: AtomicI64,
}

impl Cached {
    fn new(record: SessionRecord) -> Arc<Self> {
        let last_activity = AtomicI64::new(record.last_activity);
        Arc::new(Cached {
            record,
            last_activity,
        })
    }

    fn current(&self) -> SessionRecord {
        SessionRecord {
            last_activity: self.last_activity.load(Ordering::Relaxed),
            ..self.record.clone()
        }
    }
}

/// Counts of what the read path did, for benchmarks and monitoring.
#[derive(Debug, Default)]
pub(crate) struct StoreCounters {
    reads: AtomicU64,
    writes: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    notifications: AtomicU64,
}

/// A snapshot of the read path's counters since launch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Store round trips that read (session loads, backup takes).
    pub reads: u64,
    /// Store round trips that wrote (inserts, data saves, activity flushes,
    /// deletes, backups).
    pub writes: u64,
    /// Requests whose session was found in memory.
    pub cache_hits: u64,
    /// Requests whose session had to be read from the store.
    pub cache_misses: u64,
    /// PostgreSQL notifications sent to other instances (each lists many
    /// sessions).
    pub notifications: u64,
}

impl StoreCounters {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    #[cfg(feature = "postgres")]
    pub(super) fn count_notification(&self) {
        Self::count(&self.notifications);
    }

    pub fn snapshot(&self) -> StoreStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StoreStats {
            reads: get(&self.reads),
            writes: get(&self.writes),
            cache_hits: get(&self.hits),
            cache_misses: get(&self.misses),
            notifications: get(&self.notifications),
        }
    }
}

/// The read path: memory in front of a [`SessionStore`].
pub(crate) struct SessionCache {
    store: Arc<dyn SessionStore>,
    /// Keyed by the first 64 bits of the token hash (what notifications
    /// name); an entry counts only if its full hash matches.
    entries: Option<quick_cache::sync::Cache<u64, Arc<Cached>>>,
    /// Activity stamps not yet in the store, by token hash.
    pending: Mutex<HashMap<String, i64>>,
    /// `activity_write_grace`; 0 writes every stamp at once.
    grace: u64,
    timeout: Duration,
    /// Moves on every eviction: a read that raced one is not cached.
    epoch: AtomicU64,
    #[cfg(feature = "postgres")]
    peers: Mutex<Option<Arc<Peers>>>,
    pub counters: Arc<StoreCounters>,
    /// Sessions that changed or ended, here or on another instance, for
    /// the event streams of open tabs: a key, or `None` for "any of them"
    /// (notifications may have been missed).
    changes: rocket::tokio::sync::broadcast::Sender<Option<u64>>,
}

/// quick_cache takes its capacity as an estimate spread over shards, and
/// was seen holding 99.5% of 100,000: 2% more, so that about
/// `cache_capacity` sessions really fit.
fn with_headroom(capacity: u64) -> usize {
    (capacity + capacity / 50) as usize
}

/// The cache key of a token hash: its first 16 hex digits.
pub(crate) fn key(token_hash: &str) -> u64 {
    token_hash
        .get(..16)
        .and_then(|prefix| u64::from_str_radix(prefix, 16).ok())
        .unwrap_or_default()
}

impl SessionCache {
    pub fn new(store: Arc<dyn SessionStore>, capacity: u64, grace: u64, timeout: u64) -> Self {
        SessionCache {
            store,
            entries: (capacity > 0).then(|| quick_cache::sync::Cache::new(with_headroom(capacity))),
            pending: Mutex::default(),
            grace,
            timeout: Duration::from_secs(timeout),
            epoch: AtomicU64::new(0),
            #[cfg(feature = "postgres")]
            peers: Mutex::default(),
            counters: Arc::default(),
            changes: rocket::tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// From now on, evictions are announced to the other instances.
    #[cfg(feature = "postgres")]
    pub(super) fn announce_to(&self, peers: Arc<Peers>) {
        *lock(&self.peers) = Some(peers);
    }

    /// Bounds a store call by `store_timeout` and counts it.
    async fn call<T>(
        &self,
        counter: &AtomicU64,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        StoreCounters::count(counter);
        let result = match rocket::tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(Error::Unavailable),
        };
        if result.is_err() {
            metrics::counter!("session_security_store_errors_total").increment(1);
        }
        result
    }

    fn cached(&self, token_hash: &str) -> Option<Arc<Cached>> {
        let entry = self.entries.as_ref()?.get(&key(token_hash))?;
        (entry.record.token_hash == token_hash).then_some(entry)
    }

    fn put(&self, record: SessionRecord) {
        if let Some(entries) = &self.entries {
            entries.insert(key(&record.token_hash), Cached::new(record));
        }
    }

    fn pending_stamp(&self, token_hash: &str) -> Option<i64> {
        lock(&self.pending).get(token_hash).copied()
    }

    /// The session with this token hash: from memory if cached, else read
    /// from the store (and cached).
    pub async fn load(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error> {
        if let Some(entry) = self.cached(token_hash) {
            StoreCounters::count(&self.counters.hits);
            metrics::counter!("session_security_cache_hits_total").increment(1);
            return Ok(Some(entry.current()));
        }
        StoreCounters::count(&self.counters.misses);
        metrics::counter!("session_security_cache_misses_total").increment(1);
        self.read_through(token_hash).await
    }

    /// The session as the store has it now, bypassing memory; the one way
    /// to learn that a session ended. Activity seen here but not yet
    /// flushed is kept.
    pub async fn reload(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error> {
        let seen_here = self
            .cached(token_hash)
            .map(|entry| entry.last_activity.load(Ordering::Relaxed));
        let mut record = self.read_through(token_hash).await?;
        if let (Some(record), Some(seen)) = (record.as_mut(), seen_here) {
            record.last_activity = record.last_activity.max(seen);
            self.put(record.clone());
        }
        Ok(record)
    }

    async fn read_through(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let record = self
            .call(&self.counters.reads, self.store.load(token_hash))
            .await?;
        let Some(mut record) = record else {
            self.forget(token_hash);
            return Ok(None);
        };
        if let Some(stamp) = self.pending_stamp(token_hash) {
            record.last_activity = record.last_activity.max(stamp);
        }
        if self.epoch.load(Ordering::Acquire) == epoch {
            self.put(record.clone());
        }
        Ok(Some(record))
    }

    /// Records activity at `at`: in memory at once, in the store with the
    /// next flush (or now, when `activity_write_grace` is 0). Never
    /// backwards.
    pub async fn touch(&self, token_hash: &str, at: i64) -> Result<(), Error> {
        if let Some(entry) = self.cached(token_hash) {
            if entry.last_activity.fetch_max(at, Ordering::Relaxed) >= at {
                return Ok(()); // nothing newer than what is already known
            }
        }
        if self.grace == 0 {
            return self
                .call(&self.counters.writes, self.store.touch(token_hash, at))
                .await;
        }
        let mut pending = lock(&self.pending);
        let stamp = pending.entry(token_hash.to_owned()).or_insert(at);
        *stamp = (*stamp).max(at);
        Ok(())
    }

    /// Writes the pending activity stamps in one batch; on failure they
    /// stay pending for the next flush.
    pub async fn flush(&self) -> Result<(), Error> {
        let stamps: Vec<(String, i64)> = lock(&self.pending).drain().collect();
        if stamps.is_empty() {
            return Ok(());
        }
        let written = self
            .call(&self.counters.writes, self.store.touch_many(&stamps))
            .await;
        if written.is_err() {
            let mut pending = lock(&self.pending);
            for (hash, at) in stamps {
                let stamp = pending.entry(hash).or_insert(at);
                *stamp = (*stamp).max(at);
            }
        }
        written
    }

    /// Adds a new session row, then serves it from memory.
    pub async fn insert(&self, record: &SessionRecord) -> Result<(), Error> {
        self.call(&self.counters.writes, self.store.insert(record))
            .await?;
        self.put(record.clone());
        Ok(())
    }

    /// Replaces a session's data in the store, then in memory; other
    /// instances drop their copy.
    pub async fn save_data(&self, token_hash: &str, data: &str) -> Result<(), Error> {
        self.call(
            &self.counters.writes,
            self.store.save_data(token_hash, data),
        )
        .await?;
        if let Some(entry) = self.cached(token_hash) {
            let mut record = entry.current();
            record.data = data.to_owned();
            self.put(record);
        }
        self.announce(token_hash);
        Ok(())
    }

    /// Deletes a session everywhere; returns whether this call removed it
    /// from the store (of two requests racing to end it, one goes on).
    pub async fn delete(&self, token_hash: &str) -> Result<bool, Error> {
        let gone = self
            .call(&self.counters.writes, self.store.delete(token_hash))
            .await?;
        self.forget(token_hash);
        let _ = self.changes.send(Some(key(token_hash)));
        lock(&self.pending).remove(token_hash);
        self.announce(token_hash);
        Ok(gone)
    }

    /// Every stored session of `user_id`, with the activity this instance
    /// saw but has not flushed yet.
    pub async fn user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, Error> {
        let mut rows = self
            .call(&self.counters.reads, self.store.user_sessions(user_id))
            .await?;
        for row in &mut rows {
            let seen = self
                .cached(&row.token_hash)
                .map(|entry| entry.last_activity.load(Ordering::Relaxed));
            let pending = self.pending_stamp(&row.token_hash);
            row.last_activity = row
                .last_activity
                .max(seen.unwrap_or(0))
                .max(pending.unwrap_or(0));
        }
        Ok(rows)
    }

    /// Ends a session from elsewhere (revocation): marked revoked in the
    /// store, dropped from memory here and on the other instances; returns
    /// whether this call revoked it.
    pub async fn revoke(&self, token_hash: &str) -> Result<bool, Error> {
        let revoked = self
            .call(&self.counters.writes, self.store.revoke(token_hash))
            .await?;
        self.forget(token_hash);
        let _ = self.changes.send(Some(key(token_hash)));
        lock(&self.pending).remove(token_hash);
        self.announce(token_hash);
        Ok(revoked)
    }

    /// Adds a relogin backup.
    pub async fn insert_backup(&self, backup: &BackupRecord) -> Result<(), Error> {
        self.call(&self.counters.writes, self.store.insert_backup(backup))
            .await
    }

    /// Removes and returns a relogin backup.
    pub async fn take_backup(&self, id_hash: &str) -> Result<Option<BackupRecord>, Error> {
        self.call(&self.counters.reads, self.store.take_backup(id_hash))
            .await
    }

    /// Flushes activity, then deletes what ended (see [`SessionStore::purge`]).
    pub async fn purge(&self, now: i64, absolute_after: u64, retain: u64) -> Result<Purged, Error> {
        self.flush().await?;
        let purged = self
            .call(
                &self.counters.writes,
                self.store.purge(now, absolute_after, retain),
            )
            .await?;
        for (_, hash) in &purged.sessions {
            self.forget(hash);
        }
        Ok(purged)
    }

    /// How many signed-in sessions are live (see [`SessionStore::live_count`]).
    pub async fn live_count(&self, now: i64, absolute_after: u64) -> Result<u64, Error> {
        self.call(
            &self.counters.reads,
            self.store.live_count(now, absolute_after),
        )
        .await
    }

    /// Drops a session from memory only.
    fn forget(&self, token_hash: &str) {
        if self.cached(token_hash).is_some() {
            self.evict(key(token_hash));
        }
    }

    /// What changed or ended from now on (see the `changes` field).
    pub fn watch(&self) -> rocket::tokio::sync::broadcast::Receiver<Option<u64>> {
        self.changes.subscribe()
    }

    /// Drops the entry under `key`: another instance changed or ended it.
    pub(super) fn evict(&self, key: u64) {
        // Nobody listening is no error.
        let _ = self.changes.send(Some(key));
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = &self.entries {
            entries.remove(&key);
        }
    }

    /// Drops every entry: notifications may have been missed.
    #[cfg(feature = "postgres")]
    pub(super) fn clear(&self) {
        let _ = self.changes.send(None);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    /// Tells the other instances, if any, to drop their copy.
    fn announce(&self, _token_hash: &str) {
        #[cfg(feature = "postgres")]
        if let Some(peers) = lock(&self.peers).as_ref() {
            peers.announce(key(_token_hash));
        }
    }

    /// The number of sessions held in memory.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |entries| entries.len())
    }
}

/// Locks `mutex`; a panic elsewhere leaves plain data behind, so go on.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
