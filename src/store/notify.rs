//! Keeping the caches of several instances coherent over PostgreSQL's
//! LISTEN/NOTIFY: no service beyond the database they already share.
//!
//! Announcements are made by the store's own statements (see
//! `store::sql`): a change or end of a session notifies its cache key (the
//! first 64 bits of the token hash, never a token, a full hash or data) in
//! the same transaction as the change, so it is sent exactly when the
//! change commits. Every other instance drops those entries.
//!
//! The listener's health is known, not assumed. A connection can die
//! silently (a NAT or balancer idle timeout drops it without FIN or RST),
//! and sqlx sets no TCP keepalive, so each instance sends itself a
//! heartbeat through the channel every [`HEARTBEAT`] over a connection of
//! its own (not the pool's: an exhausted pool is no listener fault) and
//! must hear it back within [`DEADLINE`]. Until it has, and from the
//! moment a heartbeat is missed, the cache trusts no entry and reads
//! through; the listener is then made anew, and every LISTEN, the first
//! included, starts from an empty cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rocket::tokio::{self, time::sleep, time::timeout};
use sqlx::postgres::{PgConnection, PgListener, PgPoolOptions};
use sqlx::{Connection, PgPool};

use super::sessions::Sessions;

/// The PostgreSQL channel every instance listens on.
pub(crate) const CHANNEL: &str = "session_security";

/// How often an instance checks its listener with a heartbeat.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a heartbeat may take to come back before the listener is
/// taken for dead.
pub(crate) const DEADLINE: Duration = Duration::from_millis(1500);
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;
/// How long to wait before listening again after an error.
const RELISTEN: Duration = Duration::from_millis(250);
/// The longest wait for a connection or a LISTEN.
const CONNECT: Duration = Duration::from_secs(5);
/// The word that starts a heartbeat's payload after the instance id.
const BEAT: &str = "hb";

/// Payloads of at most [`MAX_PAYLOAD`] bytes: the instance id, then keys
/// in hex, separated by spaces.
pub(super) fn payloads(instance: &str, keys: &[u64]) -> Vec<String> {
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

/// What a notification says.
#[derive(Debug, PartialEq, Eq)]
enum Heard<'a> {
    /// Drop these cache keys; sent by the instance named.
    Evict(&'a str, Vec<u64>),
    /// A heartbeat of the instance named, with its sequence number.
    Beat(&'a str, u64),
}

/// Parses a payload; `None` if it is not ours.
fn parse(payload: &str) -> Option<Heard<'_>> {
    let mut words = payload.split(' ');
    let sender = words.next()?;
    let rest: Vec<&str> = words.collect();
    if let [beat] = rest.as_slice() {
        if let Some(seq) = beat.strip_prefix(BEAT) {
            return seq.parse().ok().map(|seq| Heard::Beat(sender, seq));
        }
    }
    let keys = rest
        .iter()
        .map(|word| u64::from_str_radix(word, 16).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(Heard::Evict(sender, keys))
}

/// Starts applying the other instances' announcements to `cache`, until
/// `shutdown`. `instance` is the id the store puts into this instance's
/// own announcements.
pub(crate) fn start(
    cache: Arc<Sessions>,
    pool: PgPool,
    instance: String,
    shutdown: rocket::Shutdown,
) {
    cache.coherence().lost();
    tokio::spawn(listen(cache, pool, instance, shutdown));
}

async fn listen(cache: Arc<Sessions>, pool: PgPool, instance: String, shutdown: rocket::Shutdown) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let ended = tokio::select! {
            _ = &mut shutdown => return,
            ended = listen_once(&cache, &pool, &instance) => ended,
        };
        // From here until the next heartbeat is heard, nothing cached is
        // trusted: the store is read on every request.
        if cache.coherence().lost() {
            metrics::counter!("session_security_listener_lost_total").increment(1);
            rocket::warn!(
                "session security: listening for other instances stopped ({ended}); \
                 sessions are read from the store until it is back"
            );
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = sleep(RELISTEN) => {}
        }
    }
}

/// Why one listening session ended.
#[derive(Debug)]
enum Ended {
    Store(sqlx::Error),
    TimedOut(&'static str),
    ConnectionLost,
    HeartbeatMissed,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Store(e) => write!(f, "{e}"),
            Ended::TimedOut(what) => write!(f, "{what} timed out"),
            Ended::ConnectionLost => f.write_str("the connection was lost"),
            Ended::HeartbeatMissed => f.write_str("a heartbeat did not come back in time"),
        }
    }
}

impl From<sqlx::Error> for Ended {
    fn from(e: sqlx::Error) -> Self {
        Ended::Store(e)
    }
}

async fn bounded<T>(
    what: &'static str,
    call: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, Ended> {
    match timeout(CONNECT, call).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(Ended::TimedOut(what)),
    }
}

/// Listens and beats until either fails; the listener is then dropped
/// (and with it any read in progress).
async fn listen_once(cache: &Sessions, pool: &PgPool, instance: &str) -> Ended {
    // The listener gets a pool of its own: when a silently dropped listener
    // is let go, sqlx sends `UNLISTEN *` on its dead connection with no
    // time limit, and a connection of the store's pool would stay taken
    // until TCP gives up (about 15 minutes), one more after every drop.
    let options = pool.connect_options();
    let own = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT)
        .connect_lazy_with((*options).clone());
    let connecting = PgListener::connect_with(&own);
    let mut listener = match bounded("connecting the listener", connecting).await {
        Ok(listener) => listener,
        Err(e) => return e,
    };
    if let Err(e) = bounded("LISTEN", listener.listen(CHANNEL)).await {
        return e;
    }
    // Whatever changed while nobody listened was not heard.
    cache.clear();
    let mut beat_connection = match bounded(
        "connecting for heartbeats",
        PgConnection::connect_with(&options),
    )
    .await
    {
        Ok(connection) => connection,
        Err(e) => return e,
    };
    let heard = AtomicU64::new(0);
    let receive = async {
        loop {
            let Some(notification) = listener.try_recv().await? else {
                return Ok::<Ended, sqlx::Error>(Ended::ConnectionLost);
            };
            match parse(notification.payload()) {
                Some(Heard::Beat(sender, seq)) if sender == instance => {
                    heard.fetch_max(seq, Ordering::AcqRel);
                }
                Some(Heard::Beat(..)) => {}
                // Its own changes were dropped here when they were made.
                Some(Heard::Evict(sender, _)) if sender == instance => {}
                Some(Heard::Evict(_, keys)) => keys.into_iter().for_each(|key| cache.evict(key)),
                None => rocket::warn!("session security: unreadable notification ignored"),
            }
        }
    };
    let beat = async {
        for seq in 1u64.. {
            let sent_at = tokio::time::Instant::now();
            let payload = format!("{instance} {BEAT}{seq}");
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&payload)
                .execute(&mut beat_connection);
            match timeout(DEADLINE, sent).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Ended::Store(e),
                Err(_) => return Ended::HeartbeatMissed,
            }
            while heard.load(Ordering::Acquire) < seq {
                if sent_at.elapsed() >= DEADLINE {
                    return Ended::HeartbeatMissed;
                }
                sleep(Duration::from_millis(10)).await;
            }
            if cache.coherence().confirmed() {
                rocket::info!("session security: listening for other instances");
            }
            sleep(HEARTBEAT.saturating_sub(sent_at.elapsed())).await;
        }
        Ended::HeartbeatMissed
    };
    tokio::select! {
        ended = receive => ended.unwrap_or_else(Ended::Store),
        ended = beat => ended,
    }
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
            let Some(Heard::Evict(sender, keys)) = parse(payload) else {
                panic!("parses as an eviction");
            };
            assert_eq!(sender, "abc");
            back.extend(keys);
        }
        assert_eq!(back, keys);
    }

    #[test]
    fn nothing_to_say_sends_nothing() {
        assert!(payloads("abc", &[]).is_empty());
    }

    #[test]
    fn a_heartbeat_is_told_from_an_eviction() {
        assert_eq!(parse("abc hb42"), Some(Heard::Beat("abc", 42)));
        assert_eq!(
            parse("abc 00000000000000ff"),
            Some(Heard::Evict("abc", vec![255]))
        );
        assert_eq!(parse("abc hbx"), None);
        assert_eq!(parse("abc zz"), None);
    }
}
