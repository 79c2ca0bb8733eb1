//! Before routing: the request's session, loaded (from memory when it may
//! be trusted) and ended first if it expired.

use crate::error::Error;
use crate::lifecycle::SessionEnd;
use crate::relogin;
use crate::runtime::Runtime;
use crate::secret;
use crate::session::state::SessionState;
use crate::store::Caller;

/// Loads the session and ends it first if it expired. The ping's `idleFor`
/// is merged by the ping route, after this; ordinary activity is recorded
/// after routing, in `persist`, where the route (and so its name) is known.
pub(super) async fn evaluate(
    runtime: &Runtime,
    token: Option<&str>,
    now: i64,
) -> Result<SessionState, Error> {
    let Some(token) = token.filter(|t| secret::well_formed(t)) else {
        return Ok(SessionState::default());
    };
    let sessions = &runtime.sessions;
    let hash = sessions.token_hash(token);
    let Some(mut record) = sessions.load(&hash).await? else {
        return Ok(SessionState::unknown_cookie());
    };
    let idle_out = record.last_activity + record.expire_after <= now;
    let aged_out = record.authenticated_at.is_some_and(|at| {
        let absolute = runtime.config.absolute_after as i64;
        absolute > 0 && at + absolute <= now
    });
    if idle_out || aged_out {
        // Memory may say "alive", only the store may say "dead": another
        // instance may have seen activity, or ended the session, since
        // this copy was read.
        match sessions.reload(&hash).await? {
            Some(fresh) => record = fresh,
            None => return Ok(SessionState::unknown_cookie()),
        }
    }
    if record.is_revoked() {
        // Ended on purpose elsewhere: nothing to back up, and this
        // browser's tabs leave the page (the user cookie says signed out).
        // The tombstone's end was reported at the revocation.
        let by = SessionEnd::Revoked { by: None };
        sessions.end(Caller::Background, &hash, by).await?;
        return Ok(SessionState::revoked());
    }
    if record.user_id.is_none() && record.last_activity + record.expire_after <= now {
        // An anonymous session ends like any other: nothing to report or
        // back up, and the browser's cookie goes.
        sessions
            .end(Caller::Background, &hash, SessionEnd::Idle)
            .await?;
        return Ok(SessionState::ended_here());
    }
    let state = SessionState::loaded(record);
    match state.expiry() {
        Some(expiry) if expiry.is_expired(now, runtime.config.absolute_after) => {
            relogin::expire(runtime, state, expiry, now).await
        }
        _ => Ok(state),
    }
}
