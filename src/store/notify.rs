//! Keeping the caches of several instances coherent over PostgreSQL's
//! LISTEN/NOTIFY: no service beyond the database they already share.
//!
//! When an instance changes or ends a session (data saved, logout, expiry,
//! token rotation), it announces the session's cache key: the first 64 bits
//! of the token hash, never a token, a full hash or data. Announcements are
//! gathered for [`BATCH`] and sent as one `NOTIFY` listing many keys, so a
//! busy cluster does not send one per request. Every other instance drops
//! those entries; a lost listening connection may have missed some, so the
//! whole cache is dropped then. Activity stamps are not announced: an
//! instance re-reads a session from the store before it ends it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocket::tokio::{self, time::sleep};
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use super::cache::SessionCache;
use crate::secret;

/// The channel every instance listens on.
const CHANNEL: &str = "session_security";
/// How long announcements gather before one `NOTIFY` carries them.
const BATCH: Duration = Duration::from_millis(25);
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;
/// How long to wait before listening again after an error.
const RELISTEN: Duration = Duration::from_millis(250);

/// This instance's side of the conversation: keys waiting to be announced.
pub(crate) struct Peers {
    /// Tells an instance's own notifications from the others'.
    instance: String,
    queued: Mutex<Vec<u64>>,
}

impl Peers {
    /// Queues `key` for the next notification.
    pub fn announce(&self, key: u64) {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        queued.push(key);
    }

    fn take(&self) -> Vec<u64> {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *queued)
    }
}

/// Payloads of at most [`MAX_PAYLOAD`] bytes: the instance id, then keys
/// in hex, separated by spaces.
fn payloads(instance: &str, keys: &[u64]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::from(instance);
    for key in keys {
        if current.len() + 17 > MAX_PAYLOAD {
            out.push(std::mem::replace(&mut current, String::from(instance)));
        }
        current.push_str(&format!(" {key:016x}"));
    }
    if current.len() > instance.len() {
        out.push(current);
    }
    out
}

/// Parses a payload into its sender and keys; `None` if it is not ours.
fn parse(payload: &str) -> Option<(&str, Vec<u64>)> {
    let mut words = payload.split(' ');
    let sender = words.next()?;
    let keys = words
        .map(|word| u64::from_str_radix(word, 16).ok())
        .collect::<Option<Vec<_>>>()?;
    Some((sender, keys))
}

/// Starts announcing this instance's evictions and applying the others',
/// until `shutdown`.
pub(crate) fn start(cache: Arc<SessionCache>, pool: PgPool, shutdown: rocket::Shutdown) {
    let peers = Arc::new(Peers {
        instance: secret::random_secret()[..12].to_owned(),
        queued: Mutex::default(),
    });
    cache.announce_to(peers.clone());
    tokio::spawn(send(
        peers.clone(),
        cache.clone(),
        pool.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(listen(peers, cache, pool, shutdown));
}

async fn send(
    peers: Arc<Peers>,
    cache: Arc<SessionCache>,
    pool: PgPool,
    shutdown: rocket::Shutdown,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stop = tokio::select! {
            _ = &mut shutdown => true,
            _ = sleep(BATCH) => false,
        };
        let keys = peers.take();
        for payload in payloads(&peers.instance, &keys) {
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&payload)
                .execute(&pool)
                .await;
            cache.counters.count_notification();
            if let Err(e) = sent {
                // The others could not hear of it; their own re-read before
                // an expiry and the flush on reconnect keep them right.
                rocket::warn!("session security: could not notify other instances: {e}");
            }
        }
        if stop {
            return;
        }
    }
}

async fn listen(
    peers: Arc<Peers>,
    cache: Arc<SessionCache>,
    pool: PgPool,
    shutdown: rocket::Shutdown,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut resumed = false;
    loop {
        let listened = tokio::select! {
            _ = &mut shutdown => return,
            listened = listen_once(&peers, &cache, &pool, resumed) => listened,
        };
        resumed = true;
        // Notifications may be missed from here on; the cache is dropped as
        // soon as listening resumes. Meanwhile it may still serve what it
        // holds: while the store is down nobody can end a session in it.
        if let Err(e) = listened {
            rocket::warn!("session security: listening for other instances failed: {e}");
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = sleep(RELISTEN) => {}
        }
    }
}

/// Listens until the connection is lost (`Ok`) or fails (`Err`);
/// `resumed` after an earlier connection was lost.
async fn listen_once(
    peers: &Peers,
    cache: &SessionCache,
    pool: &PgPool,
    resumed: bool,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    if resumed {
        // Changes made while nobody listened were not heard.
        cache.clear();
    }
    while let Some(notification) = listener.try_recv().await? {
        match parse(notification.payload()) {
            Some((sender, _)) if sender == peers.instance => {}
            Some((_, keys)) => keys.into_iter().for_each(|key| cache.evict(key)),
            None => rocket::warn!("session security: unreadable notification ignored"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_limit_and_round_trip() {
        let keys: Vec<u64> = (0..2000u64)
            .map(|n| n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let sent = payloads("abc", &keys);
        assert!(sent.len() > 1, "2000 keys need several notifications");
        let mut back = Vec::new();
        for payload in &sent {
            assert!(payload.len() < 8000);
            let (sender, keys) = parse(payload).expect("parses");
            assert_eq!(sender, "abc");
            back.extend(keys);
        }
        assert_eq!(back, keys);
    }

    #[test]
    fn nothing_to_say_sends_nothing() {
        assert!(payloads("abc", &[]).is_empty());
    }
}
