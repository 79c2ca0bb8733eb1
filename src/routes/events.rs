//! `GET /session_security/events?tag=T`: one server-sent event stream per
//! browser (the elected tab holds it and relays to the others), so an
//! open tab learns within a second or two that its session was ended
//! elsewhere: revoked, logged out on another instance, or expired. Fed by
//! the same changes that keep the caches coherent; a tab without it still
//! learns at its next ping.

use std::sync::Arc;
use std::time::Duration;

use rocket::response::stream::{Event, EventStream};
use rocket::tokio::sync::broadcast::error::RecvError;
use rocket::tokio::time::sleep;
use rocket::{get, Shutdown};

use crate::activity::Expiry;
use crate::session::Session;
use crate::shared::Shared;
use crate::store::key;

/// Without a change heard, the stream still asks the store this often:
/// activity on other instances is not announced, and a notification may
/// be lost.
const RECHECK: Duration = Duration::from_secs(30);
/// Keeps proxies from closing a quiet stream, and finds dead ones.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The one session a stream watches.
struct Watch {
    shared: Arc<Shared>,
    token_hash: String,
    expiry: Expiry,
}

impl Watch {
    /// How the session ended, if it did: `"signed-out"` when its row went
    /// before its idle or absolute end (a logout or a revocation: the tab
    /// leaves the page), `"expired"` when it outlived them (the tab pings
    /// and offers the relogin). `None` while it lives.
    async fn ended(&mut self) -> Option<&'static str> {
        let shared = &self.shared;
        let now = shared.clock.now();
        let absolute_after = shared.config.absolute_after;
        match shared.sessions.reload(&self.token_hash).await {
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
/// ends, then the stream closes; heartbeats meanwhile.
#[get("/events?<tag>")]
pub(crate) fn events(
    tag: Option<&str>,
    session: Session<'_>,
    mut shutdown: Shutdown,
) -> EventStream![Event + 'static] {
    let watch = watched(&session, tag);
    let mut changes = session.shared().sessions.watch();
    EventStream! {
        let Some(mut watch) = watch else {
            yield Event::data("expired").event("ended");
            return;
        };
        let key = key(&watch.token_hash);
        metrics::gauge!("session_security_event_streams").increment(1.0);
        let _open = Open;
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
    .heartbeat(HEARTBEAT)
}

/// Counts a stream as open until it is dropped, however it ends.
struct Open;

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!("session_security_event_streams").decrement(1.0);
    }
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
        shared: session.shared_arc(),
        token_hash,
        expiry,
    })
}
