//! Where a user is signed in: the list of their live sessions, and ending
//! one, all but the current, or every session of a user (a password
//! change, an administrator). An ended session is deleted, not backed up,
//! so nothing of it can be restored by a relogin; the other instances
//! drop it within their next notification batch.

use serde::Serialize;

use crate::error::Error;
use crate::runtime::Runtime;
use crate::session::expiry::Expiry;
use crate::session::Session;
use crate::store::{Caller, SessionRecord};

/// One of a user's live sessions, as their list of sessions shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// An opaque public id, for [`Session::revoke`]: never the token or
    /// its hash.
    pub id: String,
    /// Unix seconds of the login.
    pub started_at: i64,
    /// Unix seconds of the last activity seen.
    pub last_active: i64,
    /// Unix seconds at which `absolute_after` ends it, if that is set.
    pub absolute_end: Option<i64>,
    /// The browser that logged in, e.g. "Firefox on Linux".
    pub device: Option<String>,
    /// Whether it is the session of the request asking.
    pub current: bool,
}

/// The live sessions of `user_id`, oldest login first.
pub(crate) async fn live(
    runtime: &Runtime,
    caller: Caller<'_>,
    user_id: &str,
    now: i64,
) -> Result<Vec<SessionRecord>, Error> {
    let absolute_after = runtime.config.absolute_after;
    let rows = runtime.sessions.user_sessions(caller, user_id).await?;
    Ok(rows
        .into_iter()
        .filter(|r| !expiry(r).is_expired(now, absolute_after))
        .collect())
}

fn expiry(record: &SessionRecord) -> Expiry {
    Expiry {
        last_activity: record.last_activity,
        authenticated_at: record.authenticated_at.unwrap_or(record.created_at),
        expire_after: record.expire_after,
    }
}

impl Session<'_> {
    /// The signed-in user's live sessions, oldest login first (empty for
    /// a visitor). The current one says so; its last activity is now.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        let (Some(user_id), current) = self.user_and_hash() else {
            return Ok(Vec::new());
        };
        let runtime = self.runtime();
        let now = self.request().now;
        let rows = live(runtime, self.request().caller(), &user_id, now).await?;
        let current = current.as_deref();
        Ok(rows
            .into_iter()
            .map(|r| info(runtime, r, current, now))
            .collect())
    }

    /// Ends one of the signed-in user's sessions by its public id: `false`
    /// (and nothing changed) when no live session of theirs has it, such
    /// as another user's. Ending the current one is a [`logout`](Self::logout).
    pub async fn revoke(&self, id: &str) -> Result<bool, Error> {
        let (Some(user_id), current) = self.user_and_hash() else {
            return Ok(false);
        };
        let runtime = self.runtime();
        let now = self.request().now;
        let caller = self.request().caller();
        let rows = live(runtime, caller, &user_id, now).await?;
        let Some(record) = rows
            .into_iter()
            .find(|r| crate::secret::same_secret(&runtime.public_id(&r.token_hash), id))
        else {
            return Ok(false);
        };
        if current.as_deref() == Some(record.token_hash.as_str()) {
            self.logout().await?;
            return Ok(true);
        }
        let by = Some(user_id.as_str());
        let sessions = &runtime.sessions;
        sessions
            .revoke(caller, &user_id, &record.token_hash, by)
            .await
    }

    /// Ends every session of the signed-in user but this one; returns how
    /// many ended.
    pub async fn revoke_others(&self) -> Result<usize, Error> {
        let (Some(user_id), current) = self.user_and_hash() else {
            return Ok(0);
        };
        // One atomic step in the store: a session rotated meanwhile is
        // revoked under its new token.
        let sessions = &self.runtime().sessions;
        let (caller, by) = (self.request().caller(), Some(user_id.as_str()));
        sessions
            .revoke_user(caller, &user_id, current.as_deref(), by)
            .await
    }

    fn user_and_hash(&self) -> (Option<String>, Option<String>) {
        let state = self.request().lock();
        let hash = state.stored_record().map(|r| r.token_hash.clone());
        (state.user_id().map(str::to_owned), hash)
    }
}

/// The list's entry of `record`; `current` names this request's session.
pub(crate) fn info(
    runtime: &Runtime,
    record: SessionRecord,
    current: Option<&str>,
    now: i64,
) -> SessionInfo {
    let is_current = current == Some(record.token_hash.as_str());
    let expiry = expiry(&record);
    SessionInfo {
        id: runtime.public_id(&record.token_hash),
        started_at: expiry.authenticated_at,
        last_active: if is_current {
            now
        } else {
            record.last_activity
        },
        absolute_end: expiry.absolute_end(runtime.config.absolute_after),
        device: record.device,
        current: is_current,
    }
}
