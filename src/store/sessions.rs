//! The one write path: every store write, every announcement to the other
//! instances, every change broadcast to the event streams, every audit
//! report and every metric of a session's life goes through [`Sessions`].
//! Handlers, guards, routes and background tasks ask it; none writes the
//! store itself.
//!
//! The store is the truth, memory is the speed:
//! - a request whose session is cached and trusted (see `cache`) does no
//!   store I/O unless it changes something;
//! - last-activity stamps are kept in memory and flushed in batches, at most
//!   one write per session per `activity_write_grace`, never backwards, and
//!   once more at shutdown;
//! - data changes, logins, logouts, rotations and revocations are written
//!   through; with PostgreSQL the store's statement announces them to the
//!   other instances in the same transaction;
//! - the cache may say "alive", only the store may say "dead": the fairing
//!   re-reads a session ([`Sessions::reload`]) before it ends it.
//!
//! Every store call is bounded by `store_timeout`, so a store that does not
//! answer is [`Error::Unavailable`], never a logout; a failure on a
//! request's behalf marks that request ([`Caller`]) so its response becomes
//! the outage answer, whichever call failed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocket::tokio::sync::{broadcast, Mutex as AsyncMutex, MutexGuard};
use serde::Serialize;

use super::cache::{key, lock, Coherence, Memory};
use super::{BackupRecord, SessionRecord, Store};
use crate::clock::Clock;
use crate::error::Error;
use crate::lifecycle::{Reports, SessionEnd, SessionStart};

/// On whose behalf a change is asked for.
#[derive(Clone, Copy)]
pub(crate) enum Caller<'a> {
    /// A request: a store failure marks it, and its response becomes a
    /// `503` that sets no cookie.
    Request(&'a AtomicBool),
    /// Background work (flush, purge, an administrator's call): the
    /// failure is returned and logged by the caller.
    Background,
}

impl Caller<'_> {
    fn note<T>(self, result: Result<T, Error>) -> Result<T, Error> {
        if let (Caller::Request(failed), Err(e)) = (self, &result) {
            if e.is_store_failure() {
                failed.store(true, Ordering::Relaxed);
            }
        }
        result
    }
}

/// Counts of what the read path did, for benchmarks and monitoring.
#[derive(Debug, Default)]
pub(crate) struct StoreCounters {
    reads: AtomicU64,
    writes: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    untrusted: AtomicU64,
}

/// A snapshot of the read path's counters since launch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Store round trips that read (session loads, backup takes).
    pub reads: u64,
    /// Store round trips that wrote (inserts, data saves, activity flushes,
    /// deletes, rotations, revocations, backups).
    pub writes: u64,
    /// Requests whose session was found in memory and trusted.
    pub cache_hits: u64,
    /// Requests whose session had to be read from the store.
    pub cache_misses: u64,
    /// Of the misses, those whose cached copy was there but not trusted:
    /// older than `cache_max_age`, or the listener not confirmed healthy.
    pub untrusted_reads: u64,
    /// Whether this instance is sure to hear the other instances'
    /// evictions now (always with SQLite; with PostgreSQL once its
    /// listener's last heartbeat came back in time). While it is not,
    /// every request reads its session from the store.
    pub coherent: bool,
}

impl StoreCounters {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self, coherent: bool) -> StoreStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StoreStats {
            reads: get(&self.reads),
            writes: get(&self.writes),
            cache_hits: get(&self.hits),
            cache_misses: get(&self.misses),
            untrusted_reads: get(&self.untrusted),
            coherent,
        }
    }
}

/// How the read path is tuned (from the configuration).
pub(crate) struct Tuning {
    /// `cache_capacity`; 0 turns memory off.
    pub capacity: u64,
    /// `activity_write_grace`; 0 writes every stamp at once.
    pub grace: u64,
    /// `store_timeout`, seconds.
    pub timeout: u64,
    /// `cache_max_age`, seconds.
    pub max_age: u64,
}

/// Sessions: memory in front of a [`SessionStore`], and the one owner of
/// every change.
pub(crate) struct Sessions {
    store: Arc<dyn Store>,
    memory: Memory,
    clock: Arc<dyn Clock>,
    /// Activity stamps not yet in the store, by token hash.
    pending: Mutex<HashMap<String, i64>>,
    grace: u64,
    timeout: Duration,
    max_age: u64,
    counters: StoreCounters,
    /// Sessions that changed or ended, here or on another instance, for
    /// the event streams of open tabs: a key, or `None` for "any of them"
    /// (notifications may have been missed).
    changes: broadcast::Sender<Option<u64>>,
    reports: Reports,
    /// See [`Sessions::user_lock`].
    user_locks: Box<[AsyncMutex<()>]>,
    token_hashes: crate::secret::TokenHashes,
}

/// Stripes of the per-user locks.
const USER_LOCKS: usize = 64;

impl Sessions {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        tuning: Tuning,
        reports: Reports,
    ) -> Self {
        Sessions {
            store,
            memory: Memory::new(tuning.capacity),
            clock,
            pending: Mutex::default(),
            grace: tuning.grace,
            timeout: Duration::from_secs(tuning.timeout),
            max_age: tuning.max_age,
            counters: StoreCounters::default(),
            changes: broadcast::channel(1024).0,
            reports,
            user_locks: (0..USER_LOCKS).map(|_| AsyncMutex::new(())).collect(),
            token_hashes: crate::secret::TokenHashes::new(tuning.capacity),
        }
    }

    /// The store key of a session token (its SHA-256), from memory for
    /// the tokens seen lately.
    pub fn token_hash(&self, token: &str) -> Arc<str> {
        self.token_hashes.of(token)
    }

    /// What the read path did since launch, and whether it is coherent.
    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot(self.coherence().is_healthy())
    }

    /// Where starts and ends are reported; also the keeper of public ids.
    pub fn reports(&self) -> &Reports {
        &self.reports
    }

    /// Whether this instance hears the other instances' evictions.
    pub(crate) fn coherence(&self) -> &Coherence {
        &self.memory.coherence
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

    async fn write<T>(
        &self,
        caller: Caller<'_>,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        caller.note(self.call(&self.counters.writes, call).await)
    }

    fn pending_stamp(&self, token_hash: &str) -> Option<i64> {
        lock(&self.pending).get(token_hash).copied()
    }

    /// The session with this token hash: from memory while the cached copy
    /// is trusted, else from the store (and cached). While the store does
    /// not answer, a copy younger than `cache_max_age` is still served.
    pub async fn load(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error> {
        let now = self.clock.now();
        let Some(entry) = self.memory.get(token_hash) else {
            StoreCounters::count(&self.counters.misses);
            metrics::counter!("session_security_cache_misses_total").increment(1);
            return self.read_through(token_hash, now).await;
        };
        let fresh = entry.fresh(now, self.max_age);
        if fresh && self.memory.coherence.is_healthy() {
            StoreCounters::count(&self.counters.hits);
            metrics::counter!("session_security_cache_hits_total").increment(1);
            return Ok(Some(entry.current()));
        }
        StoreCounters::count(&self.counters.misses);
        StoreCounters::count(&self.counters.untrusted);
        metrics::counter!("session_security_untrusted_reads_total").increment(1);
        match self.read_through(token_hash, now).await {
            Err(e) if fresh && e.is_store_failure() => Ok(Some(entry.current())),
            read => read,
        }
    }

    /// The session as the store has it now, bypassing memory; the one way
    /// to learn that a session ended. Activity seen here but not yet
    /// flushed is kept.
    pub async fn reload(&self, token_hash: &str) -> Result<Option<SessionRecord>, Error> {
        self.read_through(token_hash, self.clock.now()).await
    }

    async fn read_through(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, Error> {
        let seen = self.memory.generation(token_hash);
        let record = self
            .call(&self.counters.reads, self.store.load(token_hash))
            .await?;
        let Some(mut record) = record else {
            self.forget(token_hash);
            return Ok(None);
        };
        let seen_here = self
            .memory
            .get(token_hash)
            .map(|entry| entry.last_activity.load(Ordering::Relaxed));
        let pending = self.pending_stamp(token_hash);
        record.last_activity = record
            .last_activity
            .max(seen_here.unwrap_or(i64::MIN))
            .max(pending.unwrap_or(i64::MIN));
        self.memory.put_if(seen, record.clone(), now);
        Ok(Some(record))
    }

    /// Records activity at `at`: in memory at once, in the store with the
    /// next flush (or now, when `activity_write_grace` is 0). Never
    /// backwards.
    pub async fn touch(&self, token_hash: &str, at: i64) -> Result<(), Error> {
        if let Some(entry) = self.memory.get(token_hash) {
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

    /// Stores a new anonymous session row, then serves it from memory.
    pub async fn insert(&self, caller: Caller<'_>, record: &SessionRecord) -> Result<(), Error> {
        // Taken before the write: a revocation or eviction that lands
        // between the write and the caching (here or from another
        // instance) keeps the row out of memory.
        let seen = self.memory.generation(&record.token_hash);
        self.write(caller, self.store.insert(record)).await?;
        self.memory.put_if(seen, record.clone(), self.clock.now());
        Ok(())
    }

    /// Starts the signed-in session `record` (a login), ending `replaced`,
    /// the browser's previous session, if any. The new row is stored
    /// first, so a failure in between leaves the browser's session as it
    /// was; its start is reported as soon as it exists.
    pub async fn start(
        &self,
        caller: Caller<'_>,
        record: &SessionRecord,
        how: SessionStart,
        replaced: Option<&str>,
    ) -> Result<(), Error> {
        {
            // The start is reported before a revocation of the same user
            // on this instance can report the end.
            let _user = self.user_lock(record.user_id.as_deref()).await;
            self.insert(caller, record).await?;
            if let Some(user) = &record.user_id {
                let now = self.clock.now();
                self.reports.started(user, &record.token_hash, now, how);
                metrics::counter!("session_security_logins_total").increment(1);
            }
        }
        if let Some(old) = replaced {
            self.end(caller, old, SessionEnd::Replaced).await?;
        }
        Ok(())
    }

    /// Replaces a session's data in the store (and so on every instance),
    /// then in memory.
    pub async fn save_data(
        &self,
        caller: Caller<'_>,
        token_hash: &str,
        data: &str,
    ) -> Result<(), Error> {
        self.write(caller, self.store.save_data(token_hash, data))
            .await?;
        self.memory
            .update(token_hash, |record| record.data = data.to_owned());
        Ok(())
    }

    /// Ends a session everywhere; returns whether this call removed it
    /// (of two requests racing to end it, one goes on). Its end is
    /// reported with `why` unless it was a revoked tombstone, whose end
    /// was reported at the revocation.
    pub async fn end(
        &self,
        caller: Caller<'_>,
        token_hash: &str,
        why: SessionEnd,
    ) -> Result<bool, Error> {
        let removed = self.write(caller, self.store.delete(token_hash)).await?;
        self.forget(token_hash);
        let Some(removed) = removed else {
            return Ok(false);
        };
        if let (Some(user), false) = (&removed.user_id, removed.revoked) {
            self.reports.ended(user, token_hash, self.clock.now(), why);
        }
        Ok(true)
    }

    /// Moves the live session `old_hash` to `record` (a new token, the same
    /// session): `None`, and nothing changed, when it ended or was revoked
    /// meanwhile. The returned row carries the later of the stored and the
    /// new last activity.
    pub async fn rotate(
        &self,
        caller: Caller<'_>,
        old_hash: &str,
        mut record: SessionRecord,
    ) -> Result<Option<SessionRecord>, Error> {
        if let Some(seen) = self.pending_stamp(old_hash) {
            record.last_activity = record.last_activity.max(seen);
        }
        let _user = self.user_lock(record.user_id.as_deref()).await;
        let seen = self.memory.generation(&record.token_hash);
        let rotated = self
            .write(caller, self.store.rotate(old_hash, &record))
            .await?;
        self.forget(old_hash);
        let Some(last_activity) = rotated else {
            return Ok(None);
        };
        record.last_activity = record.last_activity.max(last_activity);
        let now = self.clock.now();
        self.memory.put_if(seen, record.clone(), now);
        if let Some(user) = &record.user_id {
            self.reports.ended(user, old_hash, now, SessionEnd::Rotated);
            self.reports
                .started(user, &record.token_hash, now, SessionStart::Rotated);
        }
        Ok(Some(record))
    }

    /// Revokes one session of `user_id` (a tombstone until purged, so its
    /// browser learns it was ended on purpose); returns whether this call
    /// revoked it.
    pub async fn revoke(
        &self,
        caller: Caller<'_>,
        user_id: &str,
        token_hash: &str,
        by: Option<&str>,
    ) -> Result<bool, Error> {
        let _user = self.user_lock(Some(user_id)).await;
        let revoked = self.write(caller, self.store.revoke(token_hash)).await?;
        self.forget(token_hash);
        if revoked {
            let why = SessionEnd::Revoked {
                by: by.map(str::to_owned),
            };
            self.reports
                .ended(user_id, token_hash, self.clock.now(), why);
        }
        Ok(revoked)
    }

    /// Revokes every session of `user_id` but `except`, atomically against
    /// rotations; returns how many this call revoked.
    pub async fn revoke_user(
        &self,
        caller: Caller<'_>,
        user_id: &str,
        except: Option<&str>,
        by: Option<&str>,
    ) -> Result<usize, Error> {
        let _user = self.user_lock(Some(user_id)).await;
        let revoked = self
            .write(caller, self.store.revoke_user(user_id, except))
            .await?;
        let now = self.clock.now();
        for hash in &revoked {
            self.forget(hash);
            let why = SessionEnd::Revoked {
                by: by.map(str::to_owned),
            };
            self.reports.ended(user_id, hash, now, why);
        }
        Ok(revoked.len())
    }

    /// Every stored session of `user_id`, with the activity this instance
    /// saw but has not flushed yet.
    pub async fn user_sessions(
        &self,
        caller: Caller<'_>,
        user_id: &str,
    ) -> Result<Vec<SessionRecord>, Error> {
        let rows = self
            .call(&self.counters.reads, self.store.user_sessions(user_id))
            .await;
        let mut rows = caller.note(rows)?;
        for row in &mut rows {
            let seen = self
                .memory
                .get(&row.token_hash)
                .map(|entry| entry.last_activity.load(Ordering::Relaxed));
            let pending = self.pending_stamp(&row.token_hash);
            row.last_activity = row
                .last_activity
                .max(seen.unwrap_or(0))
                .max(pending.unwrap_or(0));
        }
        Ok(rows)
    }

    /// Adds a relogin backup.
    pub async fn insert_backup(
        &self,
        caller: Caller<'_>,
        backup: &BackupRecord,
    ) -> Result<(), Error> {
        self.write(caller, self.store.insert_backup(backup)).await
    }

    /// Removes and returns a relogin backup.
    pub async fn take_backup(
        &self,
        caller: Caller<'_>,
        id_hash: &str,
    ) -> Result<Option<BackupRecord>, Error> {
        self.write(caller, self.store.take_backup(id_hash)).await
    }

    /// The user a relogin backup belongs to, leaving it in place.
    pub async fn backup_owner(
        &self,
        caller: Caller<'_>,
        id_hash: &str,
    ) -> Result<Option<String>, Error> {
        let owner = self
            .call(&self.counters.reads, self.store.backup_owner(id_hash))
            .await;
        caller.note(owner)
    }

    /// Flushes activity, then deletes what ended (see
    /// [`SessionStore::purge`]) and reports those ends.
    pub async fn purge(&self, now: i64, absolute_after: u64, retain: u64) -> Result<u64, Error> {
        self.flush().await?;
        let purged = self
            .call(
                &self.counters.writes,
                self.store.purge(now, absolute_after, retain),
            )
            .await?;
        for (user_id, hash) in &purged.sessions {
            self.forget(hash);
            self.reports.ended(user_id, hash, now, SessionEnd::Purged);
        }
        Ok(purged.rows)
    }

    /// How many signed-in sessions are live (see [`SessionStore::live_count`]).
    pub async fn live_count(&self, now: i64, absolute_after: u64) -> Result<u64, Error> {
        self.call(
            &self.counters.reads,
            self.store.live_count(now, absolute_after),
        )
        .await
    }

    /// Serialises, on this instance, the changes of one user's sessions
    /// that report a start or an end (login, rotation, revocation), so
    /// their reports come in the order of the changes. `None` (a visitor)
    /// takes no lock.
    async fn user_lock(&self, user_id: Option<&str>) -> Option<MutexGuard<'_, ()>> {
        let user_id = user_id?;
        // FNV-1a: any spread will do, the stripes only lessen contention.
        let hash = user_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let stripe = &self.user_locks[(hash % self.user_locks.len() as u64) as usize];
        Some(stripe.lock().await)
    }

    /// Drops a session from memory after a change here, spoiling reads
    /// still in flight, and tells the event streams.
    fn forget(&self, token_hash: &str) {
        lock(&self.pending).remove(token_hash);
        self.evict(key(token_hash));
    }

    /// What changed or ended from now on (see the `changes` field).
    pub fn watch(&self) -> broadcast::Receiver<Option<u64>> {
        self.changes.subscribe()
    }

    /// Drops the entry under `key`: changed or ended here or elsewhere.
    pub(crate) fn evict(&self, key: u64) {
        self.memory.evict(key);
        // Nobody listening is no error.
        let _ = self.changes.send(Some(key));
    }

    /// Drops every entry: notifications may have been missed.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the listener's
    pub(crate) fn clear(&self) {
        self.memory.clear();
        let _ = self.changes.send(None);
    }

    /// The number of sessions held in memory.
    pub fn len(&self) -> usize {
        self.memory.len()
    }
}
