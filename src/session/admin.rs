//! What an application does with sessions from outside a request: end
//! every session of a user (a password change, an administrator), list a
//! user's sessions, read the store's counters.

use std::sync::Arc;

use rocket::{Orbit, Rocket};

use crate::error::Error;
use crate::runtime::Runtime;
use crate::session::cookies::CookieNames;
use crate::session::per_user::{info, live, SessionInfo};
use crate::store::{Caller, StoreStats};

/// The administration of sessions, managed by the fairing: a handler takes
/// it as `&State<SessionAdmin>`, other code finds it with
/// [`SessionAdmin::of`].
///
/// ```
/// # use rocket::{post, State};
/// use rocket::http::Status;
/// use rocket_session_security::SessionAdmin;
///
/// /// An administrator signs a user out everywhere.
/// #[post("/admin/users/<user>/sign-out")]
/// async fn sign_out_everywhere(user: &str, admin: &State<SessionAdmin>) -> Result<String, Status> {
///     // A store that cannot answer is no reason to pretend it worked.
///     let ended = admin
///         .revoke_user(user, Some("admin"))
///         .await
///         .map_err(|_| Status::ServiceUnavailable)?;
///     Ok(format!("{ended} sessions ended"))
/// }
/// ```
pub struct SessionAdmin {
    runtime: Arc<Runtime>,
}

impl SessionAdmin {
    pub(crate) fn new(runtime: Arc<Runtime>) -> Self {
        SessionAdmin { runtime }
    }

    /// The instance's `SessionAdmin`; `None` when the fairing is not
    /// attached.
    pub fn of(rocket: &Rocket<Orbit>) -> Option<&SessionAdmin> {
        rocket.state::<SessionAdmin>()
    }

    /// Ends every session of `user_id` (`by` names who acted, for the
    /// audit). Returns how many ended. Their open tabs leave the page
    /// within seconds; nothing of them can be restored by a relogin.
    pub async fn revoke_user(&self, user_id: &str, by: Option<&str>) -> Result<usize, Error> {
        let sessions = &self.runtime.sessions;
        sessions
            .revoke_user(Caller::Background, user_id, None, by)
            .await
    }

    /// The live sessions of `user_id` (an administrator's view); none is
    /// `current`.
    pub async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionInfo>, Error> {
        let runtime = &self.runtime;
        let now = runtime.clock.now();
        let rows = live(runtime, Caller::Background, user_id, now).await?;
        Ok(rows
            .into_iter()
            .map(|r| info(runtime, r, None, now))
            .collect())
    }

    /// What the read path did since launch (store round trips, cache hits
    /// and misses, untrusted reads) and whether the cache is coherent.
    pub fn stats(&self) -> StoreStats {
        self.runtime.sessions.stats()
    }

    /// The names of the crate's cookies as the browser gets them.
    pub fn cookie_names(&self) -> CookieNames {
        CookieNames::of(&self.runtime.config)
    }

    /// How many sessions this instance holds in memory.
    pub fn cached_sessions(&self) -> usize {
        self.runtime.sessions.len()
    }
}
