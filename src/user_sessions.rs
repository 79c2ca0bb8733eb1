//! Where a user is signed in: the list of their live sessions, and ending
//! one, all but the current, or every session of a user (a password
//! change, an administrator). An ended session is deleted, not backed up,
//! so nothing of it can be restored by a relogin; the other instances
//! drop it within their next notification batch.

use rocket::{Orbit, Rocket};
use serde::Serialize;

use crate::activity::Expiry;
use crate::audit::SessionEnd;
use crate::error::Error;
use crate::fairing::SessionSecurity;
use crate::session::Session;
use crate::shared::Shared;
use crate::store::SessionRecord;

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

/// A short description of a browser from its User-Agent, e.g. "Firefox on
/// Linux": enough to recognise a session, nothing to fingerprint with.
pub(crate) fn device(user_agent: Option<&str>) -> Option<String> {
    let agent = user_agent?;
    const BROWSERS: [(&str, &str); 6] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(marker, _)| agent.contains(marker))
            .map(|(_, name)| *name)
    };
    match (find(&BROWSERS), find(&SYSTEMS)) {
        (Some(browser), Some(system)) => Some(format!("{browser} on {system}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => Some("Unknown browser".to_owned()),
    }
}

/// The live sessions of `user_id`, oldest login first.
async fn live(shared: &Shared, user_id: &str, now: i64) -> Result<Vec<SessionRecord>, Error> {
    let absolute_after = shared.config.absolute_after;
    let rows = shared.sessions.user_sessions(user_id).await?;
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

/// Ends `records` of `user_id`; returns how many this call ended.
async fn revoke(
    shared: &Shared,
    user_id: &str,
    records: impl IntoIterator<Item = SessionRecord>,
    by: Option<&str>,
    now: i64,
) -> Result<usize, Error> {
    let mut ended = 0;
    for record in records {
        if shared.sessions.revoke(&record.token_hash).await? {
            let by = by.map(str::to_owned);
            shared.ended(user_id, &record.token_hash, now, SessionEnd::Revoked { by });
            ended += 1;
        }
    }
    Ok(ended)
}

impl Session<'_> {
    /// The signed-in user's live sessions, oldest login first (empty for
    /// a visitor). The current one says so; its last activity is now.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        let (Some(user_id), current) = self.user_and_hash() else {
            return Ok(Vec::new());
        };
        let shared = self.shared();
        let now = self.request().now;
        let rows = self.request().note(live(shared, &user_id, now).await)?;
        let absolute_after = shared.config.absolute_after;
        Ok(rows
            .into_iter()
            .map(|record| {
                let is_current = current.as_deref() == Some(record.token_hash.as_str());
                SessionInfo {
                    id: shared.public_id(&record.token_hash),
                    started_at: expiry(&record).authenticated_at,
                    last_active: if is_current {
                        now
                    } else {
                        record.last_activity
                    },
                    absolute_end: expiry(&record).absolute_end(absolute_after),
                    device: record.device,
                    current: is_current,
                }
            })
            .collect())
    }

    /// Ends one of the signed-in user's sessions by its public id: `false`
    /// (and nothing changed) when no live session of theirs has it, such
    /// as another user's. Ending the current one is a [`logout`](Self::logout).
    pub async fn revoke(&self, id: &str) -> Result<bool, Error> {
        let (Some(user_id), current) = self.user_and_hash() else {
            return Ok(false);
        };
        let shared = self.shared();
        let now = self.request().now;
        let rows = self.request().note(live(shared, &user_id, now).await)?;
        let Some(record) = rows
            .into_iter()
            .find(|r| crate::secret::same_secret(&shared.public_id(&r.token_hash), id))
        else {
            return Ok(false);
        };
        if current.as_deref() == Some(record.token_hash.as_str()) {
            self.logout().await?;
            return Ok(true);
        }
        let ended = revoke(shared, &user_id, [record], Some(&user_id), now).await;
        Ok(self.request().note(ended)? == 1)
    }

    /// Ends every session of the signed-in user but this one; returns how
    /// many ended.
    pub async fn revoke_others(&self) -> Result<usize, Error> {
        let (Some(user_id), current) = self.user_and_hash() else {
            return Ok(0);
        };
        let shared = self.shared();
        let now = self.request().now;
        let rows = self.request().note(live(shared, &user_id, now).await)?;
        let others = rows
            .into_iter()
            .filter(|r| current.as_deref() != Some(r.token_hash.as_str()));
        let ended = revoke(shared, &user_id, others, Some(&user_id), now).await;
        self.request().note(ended)
    }

    fn user_and_hash(&self) -> (Option<String>, Option<String>) {
        let state = self.request().lock();
        let hash = state.stored_record().map(|r| r.token_hash.clone());
        (state.user_id().map(str::to_owned), hash)
    }
}

impl SessionSecurity {
    /// Ends every session of `user_id`, from outside a request: after a
    /// password change, or from an administrator's tool (`by` names who
    /// acted, for the audit). Returns how many ended. Their open tabs
    /// leave the page within seconds.
    pub async fn revoke_user(
        rocket: &Rocket<Orbit>,
        user_id: &str,
        by: Option<&str>,
    ) -> Result<usize, Error> {
        let shared = Self::shared_state(rocket).ok_or(Error::NotAttached)?;
        let now = shared.clock.now();
        let rows = shared.sessions.user_sessions(user_id).await?;
        revoke(shared, user_id, rows, by, now).await
    }

    /// The live sessions of `user_id`, from outside a request (an
    /// administrator's view); none is `current`.
    pub async fn sessions_of(
        rocket: &Rocket<Orbit>,
        user_id: &str,
    ) -> Result<Vec<SessionInfo>, Error> {
        let shared = Self::shared_state(rocket).ok_or(Error::NotAttached)?;
        let now = shared.clock.now();
        let absolute_after = shared.config.absolute_after;
        let rows = live(shared, user_id, now).await?;
        Ok(rows
            .into_iter()
            .map(|record| SessionInfo {
                id: shared.public_id(&record.token_hash),
                started_at: expiry(&record).authenticated_at,
                last_active: record.last_activity,
                absolute_end: expiry(&record).absolute_end(absolute_after),
                device: record.device,
                current: false,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_described_shortly() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device(Some(firefox)).as_deref(), Some("Firefox on Linux"));
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(device(Some(chrome)).as_deref(), Some("Chrome on Windows"));
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) \
                      AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device(Some(iphone)).as_deref(), Some("Safari on iPhone"));
        assert_eq!(device(Some("x")).as_deref(), Some("Unknown browser"));
        assert_eq!(device(None), None);
    }
}
