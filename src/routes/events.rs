//! `GET /session_security/events?tag=T`: one server-sent event stream per
//! browser (the elected tab holds it and relays to the others), so an
//! open tab learns within a second or two that its session was ended
//! elsewhere: revoked, logged out on another instance, or expired. Fed by
//! the same changes that keep the caches coherent; a tab without it still
//! learns at its next ping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocket::http::Status;
use rocket::response::status::Custom;
use rocket::serde::json::{Json, Value};
use rocket::State;

use rocket::response::stream::{Event, EventStream};
use rocket::tokio::sync::broadcast::error::RecvError;
use rocket::tokio::time::sleep;
use rocket::{get, Shutdown};

use crate::runtime::Runtime;
use crate::session::expiry::Expiry;
use crate::session::Session;
use crate::store::key;

/// Without a change heard, the stream still asks the store this often:
/// activity on other instances is not announced, and a notification may
/// be lost.
const RECHECK: Duration = Duration::from_secs(30);
/// Keeps proxies from closing a quiet stream, and finds dead ones.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Streams one session may hold at once. A browser holds one (its elected
/// tab); a few more cover a tab taking over while the old stream closes.
/// Past that a client is refused (`429`), so nobody can hold thousands,
/// each re-reading the store every [`RECHECK`].
pub(crate) const MAX_STREAMS: usize = 4;

/// The open streams of every session, by cache key.
#[derive(Default)]
pub(crate) struct OpenStreams(Mutex<HashMap<u64, usize>>);

impl OpenStreams {
    /// A slot for one more stream of the session `key`, if it has one left.
    fn take(self: &Arc<Self>, key: u64) -> Option<Slot> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key).or_default();
        if *count >= MAX_STREAMS {
            return None;
        }
        *count += 1;
        metrics::gauge!("session_security_event_streams").increment(1.0);
        Some(Slot {
            streams: self.clone(),
            key,
        })
    }
}

/// One open stream, counted until it is dropped, however it ends.
struct Slot {
    streams: Arc<OpenStreams>,
    key: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.streams.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
        metrics::gauge!("session_security_event_streams").decrement(1.0);
    }
}

/// The one session a stream watches.
struct Watch {
    runtime: Arc<Runtime>,
    token_hash: String,
    expiry: Expiry,
}

impl Watch {
    /// How the session ended, if it did: `"signed-out"` when its row went
    /// before its idle or absolute end (a logout or a revocation: the tab
    /// leaves the page), `"expired"` when it outlived them (the tab pings
    /// and offers the relogin). `None` while it lives.
    async fn ended(&mut self) -> Option<&'static str> {
        let runtime = &self.runtime;
        let now = runtime.clock.now();
        let absolute_after = runtime.config.absolute_after;
        match runtime.sessions.reload(&self.token_hash).await {
            Ok(Some(record)) if record.is_revoked() => Some("signed-out"),
            Ok(Some(record)) => {
                self.expiry.last_activity = self.expiry.last_activity.max(record.last_activity);
                self.expiry
                    .is_expired(now, absolute_after)
                    .then_some("expired")
            }
            Ok(None) if now < self.expiry.ended_at(absolute_after) => Some("signed-out"),
            Ok(None) => Some("expired"),
            // The store is down: nothing is known to have ended.
            Err(_) => None,
        }
    }
}

/// The stream: `ended` (data `signed-out` or `expired`) once the session
/// ends, then the stream closes; heartbeats meanwhile. `429` past
/// [`MAX_STREAMS`] open streams of one session.
#[get("/events?<tag>")]
pub(crate) fn events(
    tag: Option<&str>,
    session: Session<'_>,
    streams: &State<Arc<OpenStreams>>,
    mut shutdown: Shutdown,
) -> Result<EventStream![Event + 'static], Custom<Json<Value>>> {
    let watch = watched(&session, tag);
    let slot = match &watch {
        Some(watch) => Some(streams.take(key(&watch.token_hash)).ok_or_else(|| {
            let why = format!("at most {MAX_STREAMS} event streams per session");
            super::protocol::refusal(Status::TooManyRequests, "too_many_streams", why)
        })?),
        None => None,
    };
    let mut changes = session.runtime().sessions.watch();
    Ok(EventStream! {
        let (Some(mut watch), Some(_slot)) = (watch, slot) else {
            yield Event::data("expired").event("ended");
            return;
        };
        let key = key(&watch.token_hash);
        loop {
            rocket::tokio::select! {
                _ = &mut shutdown => break,
                change = changes.recv() => match change {
                    Ok(Some(changed)) if changed != key => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                },
                _ = sleep(RECHECK) => {}
            }
            if let Some(how) = watch.ended().await {
                yield Event::data(how).event("ended");
                break;
            }
        }
    }
    .heartbeat(HEARTBEAT))
}

/// The live session of the page's user, or `None`.
fn watched(session: &Session<'_>, tag: Option<&str>) -> Option<Watch> {
    if tag.is_some_and(|tag| !session.is_user_tag(tag)) {
        return None;
    }
    let state = session.request().lock();
    let expiry = state.expiry()?;
    let token_hash = state.stored_record()?.token_hash.clone();
    Some(Watch {
        runtime: session.shared_arc(),
        token_hash,
        expiry,
    })
}
