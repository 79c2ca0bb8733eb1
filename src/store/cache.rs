//! Live sessions held in memory, and the rules for trusting them.
//!
//! An entry is trusted for at most `cache_max_age` seconds since it was
//! last read from the store, and only while the instance is sure to hear
//! the other instances' evictions (see [`Coherence`]); otherwise the store
//! is read again. A read that raced an eviction never puts the old row
//! back: every eviction moves a generation under the entry's stripe lock,
//! and a read caches its row only if the generation it started with still
//! holds.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::SessionRecord;

/// Stripes of eviction generations: a read is spoiled only by an eviction
/// of a key on its own stripe (or by a clear).
const STRIPES: usize = 64;

/// A cached session: the row as last read or written, with its activity
/// stamp kept apart so requests move it without a lock.
pub(super) struct Cached {
    record: SessionRecord,
    pub last_activity: AtomicI64,
    /// Clock seconds when the row was last read from (or written to) the
    /// store.
    read_at: i64,
}

impl Cached {
    pub fn current(&self) -> SessionRecord {
        SessionRecord {
            last_activity: self.last_activity.load(Ordering::Relaxed),
            ..self.record.clone()
        }
    }

    /// Whether this copy may still be served without asking the store.
    pub fn fresh(&self, now: i64, max_age: u64) -> bool {
        now - self.read_at < max_age as i64
    }
}

/// Whether this instance hears the other instances' evictions. Without a
/// listener (SQLite: one process) there is nobody to hear, so it holds.
#[derive(Debug)]
pub(crate) struct Coherence {
    healthy: AtomicBool,
}

impl Coherence {
    fn new() -> Self {
        Coherence {
            healthy: AtomicBool::new(true),
        }
    }

    /// Whether cached entries may be trusted.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Evictions may be missed from now on; returns whether that is news.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the listener's
    pub fn lost(&self) -> bool {
        metrics::gauge!("session_security_listener_healthy").set(0.0);
        self.healthy.swap(false, Ordering::AcqRel)
    }

    /// Evictions are heard again; returns whether that is news.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the listener's
    pub fn confirmed(&self) -> bool {
        metrics::gauge!("session_security_listener_healthy").set(1.0);
        !self.healthy.swap(true, Ordering::AcqRel)
    }
}

/// A snapshot of an entry's stripe generation, taken before a store read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Generation {
    stripe: usize,
    value: u64,
}

/// The memory: bounded, keyed by the first 64 bits of the token hash (what
/// notifications name); an entry counts only if its full hash matches.
pub(super) struct Memory {
    entries: Option<quick_cache::sync::Cache<u64, Arc<Cached>>>,
    generations: Box<[Mutex<u64>]>,
    pub coherence: Coherence,
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

impl Memory {
    pub fn new(capacity: u64) -> Self {
        Memory {
            entries: (capacity > 0).then(|| quick_cache::sync::Cache::new(with_headroom(capacity))),
            generations: (0..STRIPES).map(|_| Mutex::new(0)).collect(),
            coherence: Coherence::new(),
        }
    }

    fn stripe(&self, key: u64) -> MutexGuard<'_, u64> {
        lock(&self.generations[key as usize % STRIPES])
    }

    /// The entry of `token_hash`, trusted or not.
    pub fn get(&self, token_hash: &str) -> Option<Arc<Cached>> {
        let entry = self.entries.as_ref()?.get(&key(token_hash))?;
        (entry.record.token_hash == token_hash).then_some(entry)
    }

    /// Taken before a store read, checked by [`put_if`](Self::put_if).
    pub fn generation(&self, token_hash: &str) -> Generation {
        let stripe = key(token_hash) as usize % STRIPES;
        Generation {
            stripe,
            value: *lock(&self.generations[stripe]),
        }
    }

    /// Caches `record` as read at `read_at`, unless an eviction of its
    /// stripe happened since `seen` was taken.
    pub fn put_if(&self, seen: Generation, record: SessionRecord, read_at: i64) {
        let Some(entries) = &self.entries else { return };
        let generation = lock(&self.generations[seen.stripe]);
        if *generation == seen.value {
            entries.insert(key(&record.token_hash), cached(record, read_at));
        }
        drop(generation);
    }

    /// Changes the cached copy of `token_hash`, if there is one.
    pub fn update(&self, token_hash: &str, change: impl FnOnce(&mut SessionRecord)) {
        let Some(entries) = &self.entries else { return };
        let _generation = self.stripe(key(token_hash));
        if let Some(entry) = self.get(token_hash) {
            let mut record = entry.current();
            change(&mut record);
            entries.insert(key(token_hash), cached(record, entry.read_at));
        }
    }

    /// Drops the entry under `key` and spoils every read of its stripe
    /// still in flight, whether or not anything was cached.
    pub fn evict(&self, key: u64) {
        let mut generation = self.stripe(key);
        *generation += 1;
        if let Some(entries) = &self.entries {
            entries.remove(&key);
        }
    }

    /// Drops every entry and spoils every read in flight.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the listener's
    pub fn clear(&self) {
        let mut all: Vec<MutexGuard<'_, u64>> = self.generations.iter().map(lock).collect();
        for generation in &mut all {
            **generation += 1;
        }
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    /// The number of sessions held.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |entries| entries.len())
    }
}

fn cached(record: SessionRecord, read_at: i64) -> Arc<Cached> {
    let last_activity = AtomicI64::new(record.last_activity);
    Arc::new(Cached {
        record,
        last_activity,
        read_at,
    })
}

/// Locks `mutex`; a panic elsewhere leaves plain data behind, so go on.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hash: &str) -> SessionRecord {
        SessionRecord {
            token_hash: hash.to_owned(),
            user_id: Some("alice".into()),
            data: "{}".into(),
            csrf_token: "c".into(),
            created_at: 0,
            authenticated_at: Some(0),
            last_activity: 0,
            expire_after: 600,
            device: None,
        }
    }

    const HASH: &str = "00000000000000aa0000000000000000";

    #[test]
    fn a_read_that_raced_an_eviction_is_not_cached() {
        let memory = Memory::new(10);
        let seen = memory.generation(HASH);
        memory.evict(key(HASH)); // nothing cached: it still spoils the read
        memory.put_if(seen, record(HASH), 0);
        assert!(memory.get(HASH).is_none());
    }

    #[test]
    fn a_read_that_raced_a_clear_is_not_cached() {
        let memory = Memory::new(10);
        let seen = memory.generation(HASH);
        memory.clear();
        memory.put_if(seen, record(HASH), 0);
        assert!(memory.get(HASH).is_none());
    }

    #[test]
    fn a_read_without_eviction_is_cached_and_ages() {
        let memory = Memory::new(10);
        let seen = memory.generation(HASH);
        memory.put_if(seen, record(HASH), 100);
        let entry = memory.get(HASH).expect("cached");
        assert!(entry.fresh(114, 15));
        assert!(!entry.fresh(115, 15));
    }

    #[test]
    fn an_entry_under_another_full_hash_is_not_this_one() {
        let memory = Memory::new(10);
        memory.put_if(memory.generation(HASH), record(HASH), 0);
        assert!(memory.get("00000000000000aa1111111111111111").is_none());
    }
}
