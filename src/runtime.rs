//! What the fairing, guards and routes share once Rocket has ignited: the
//! managed state and the application's hooks.

use std::sync::Arc;

use rocket::{Orbit, Request, Rocket};

use crate::clock::Clock;
use crate::config::{Config, MAX_SECONDS};
use crate::store::{Sessions, StorePool};

/// Decides a user's idle limit at login, e.g. a shorter one for managers,
/// as the original's `get_expire_seconds` override did.
///
/// ```
/// use rocket::{Orbit, Request, Rocket};
/// use rocket_session_security::UserTimeouts;
///
/// struct Managers;
///
/// #[rocket::async_trait]
/// impl UserTimeouts for Managers {
///     async fn expire_after(&self, _rocket: &Rocket<Orbit>, user_id: &str) -> Option<u64> {
///         (user_id == "bob").then_some(300)
///     }
/// }
/// ```
#[rocket::async_trait]
pub trait UserTimeouts: Send + Sync + 'static {
    /// Seconds of inactivity after which `user_id` is logged out; `None`
    /// keeps the configured `expire_after`. A value shorter than the
    /// configured warning lead (`expire_after - warn_after`) plus one second
    /// is raised to it, so the user always gets the whole warning.
    async fn expire_after(&self, rocket: &Rocket<Orbit>, user_id: &str) -> Option<u64>;
}

/// Picks the locale of the browser's strings for a request (e.g. from the
/// user's profile); `None` falls back to `Accept-Language`. A hook like the
/// others (a trait), which a plain closure also implements:
///
/// ```
/// use rocket_session_security::SessionSecurity;
///
/// let fairing = SessionSecurity::fairing()
///     .with_locale(|request: &rocket::Request<'_>| request.query_value::<String>("lang")?.ok());
/// # drop(fairing);
/// ```
pub trait ChooseLocale: Send + Sync + 'static {
    /// The locale for `request` (`pt_BR`, `de`, …), or `None`.
    fn locale(&self, request: &Request<'_>) -> Option<String>;
}

impl<F> ChooseLocale for F
where
    F: Fn(&Request<'_>) -> Option<String> + Send + Sync + 'static,
{
    fn locale(&self, request: &Request<'_>) -> Option<String> {
        self(request)
    }
}

/// Managed state: configuration, clock, sessions and hooks.
pub(crate) struct Runtime {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    /// The one write path, and the read path: memory in front of the store.
    pub sessions: Arc<Sessions>,
    /// The built-in store's pool, closed at shutdown after the last flush;
    /// `None` with an application's own store.
    pub pool: Option<StorePool>,
    /// The id the built-in store puts into this instance's notifications.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the listener's
    pub instance: Option<String>,
    pub timeouts: Option<Arc<dyn UserTimeouts>>,
    pub locale: Option<Arc<dyn ChooseLocale>>,
}

impl Runtime {
    /// The public id of the session `token_hash`: what the user's list of
    /// sessions and the audit events name it by, never the hash itself.
    pub fn public_id(&self, token_hash: &str) -> String {
        self.sessions.reports().public_id(token_hash)
    }

    /// The tag pages, tab messages and the user cookie know `user_id` by.
    pub fn user_tag(&self, user_id: &str) -> String {
        self.sessions.reports().user_tag(user_id).to_string()
    }

    /// The idle limit for a user logging in now.
    pub async fn expire_after_for(&self, rocket: &Rocket<Orbit>, user_id: &str) -> i64 {
        let chosen = match &self.timeouts {
            Some(hook) => hook.expire_after(rocket, user_id).await,
            None => None,
        };
        let least = self.config.warning_lead() + 1;
        chosen
            .unwrap_or(self.config.expire_after)
            .clamp(least, MAX_SECONDS) as i64
    }
}
