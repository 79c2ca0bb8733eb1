//! Every session start and end, with its reason: to the application's
//! [`SessionEvents`] hook, as one structured log line (target
//! `session_security::audit`), and counted through the `metrics` facade.
//! Neither carries a token, a token hash or session data: a session is
//! named by its public id, the one the user's list of sessions shows.

/// How a session began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStart {
    /// [`Session::login`](crate::Session::login).
    Login,
    /// A login through the relogin dialog, by the user whose session
    /// expired (`same_user`, the backed-up data restored) or by another.
    Relogin {
        /// Whether the user who logged in is the one whose session expired.
        same_user: bool,
    },
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// [`Session::logout`](crate::Session::logout).
    Logout,
    /// No activity for the session's idle limit.
    Idle,
    /// `absolute_after` since the login, active or not.
    Absolute,
    /// Ended from another session or by the application.
    Revoked {
        /// Who ended it: the user id acting, or `None` for the application
        /// itself (a password change, an administrator's tool).
        by: Option<String>,
    },
    /// Removed by the background purge, never seen again after it ended.
    Purged,
}

impl SessionEnd {
    /// The reason as one word, for logs and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            SessionEnd::Logout => "logout",
            SessionEnd::Idle => "idle",
            SessionEnd::Absolute => "absolute",
            SessionEnd::Revoked { .. } => "revoked",
            SessionEnd::Purged => "purged",
        }
    }
}

impl SessionStart {
    /// The reason as one word, for logs and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            SessionStart::Login => "login",
            SessionStart::Relogin { same_user: true } => "relogin_same_user",
            SessionStart::Relogin { same_user: false } => "relogin_other_user",
        }
    }
}

/// One session, as events name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    /// The signed-in user.
    pub user_id: String,
    /// The session's public id (see [`SessionInfo::id`](crate::SessionInfo::id)).
    pub session: String,
    /// Unix seconds.
    pub at: i64,
}

/// The application's ear for session starts and ends, e.g. to write an
/// audit table or alert on revocations. Both methods do nothing unless
/// overridden; they run inside the request, so keep them quick.
///
/// ```
/// use rocket_session_security::{SessionEnd, SessionEvent, SessionEvents, SessionStart};
///
/// struct Audit;
///
/// impl SessionEvents for Audit {
///     fn ended(&self, event: &SessionEvent, why: &SessionEnd) {
///         if let SessionEnd::Revoked { by } = why {
///             eprintln!("{} revoked {}'s session {}", by.as_deref().unwrap_or("the app"),
///                 event.user_id, event.session);
///         }
///     }
/// }
/// ```
pub trait SessionEvents: Send + Sync + 'static {
    /// A session began.
    fn started(&self, _event: &SessionEvent, _how: SessionStart) {}
    /// A session ended.
    fn ended(&self, _event: &SessionEvent, _why: &SessionEnd) {}
}
