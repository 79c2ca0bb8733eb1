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
    /// The session went on under a new token
    /// ([`Session::cycle_id`](crate::Session::cycle_id)); the old id's end
    /// is reported as [`SessionEnd::Rotated`].
    Rotated,
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
    /// Moved to a new token, under which it goes on (reported as started
    /// with [`SessionStart::Rotated`]).
    Rotated,
    /// A new login in the same browser took its place.
    Replaced,
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
            SessionEnd::Rotated => "rotated",
            SessionEnd::Replaced => "replaced",
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
            SessionStart::Rotated => "rotated",
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

/// Where every start and end goes: the application's hook, the audit log
/// line and the metrics. Owned by the session book, the one place that
/// ends or starts a session, so no path can forget a report.
pub(crate) struct Reports {
    /// The deployment's key for public ids and user tags.
    tag_key: String,
    hook: Option<std::sync::Arc<dyn SessionEvents>>,
    /// User tags already computed: every signed-in response compares the
    /// browser's user cookie with the tag, and an HMAC per response was
    /// an eighth of a cached request's instructions.
    tags: quick_cache::sync::Cache<String, std::sync::Arc<str>>,
}

/// User tags remembered; a miss only costs one HMAC.
const REMEMBERED_TAGS: usize = 10_000;

impl Reports {
    pub fn new(tag_key: String, hook: Option<std::sync::Arc<dyn SessionEvents>>) -> Self {
        Reports {
            tag_key,
            hook,
            tags: quick_cache::sync::Cache::new(REMEMBERED_TAGS),
        }
    }

    /// The tag pages, tab messages and the user cookie know `user_id` by.
    pub fn user_tag(&self, user_id: &str) -> std::sync::Arc<str> {
        if let Some(tag) = self.tags.get(user_id) {
            return tag;
        }
        let tag: std::sync::Arc<str> = crate::secret::user_tag(&self.tag_key, user_id).into();
        self.tags.insert(user_id.to_owned(), tag.clone());
        tag
    }

    /// The public id of the session `token_hash`: what the user's list of
    /// sessions and the audit events name it by, never the hash itself.
    pub fn public_id(&self, token_hash: &str) -> String {
        crate::secret::user_tag(&self.tag_key, &format!("session {token_hash}"))
    }

    fn event(&self, user_id: &str, token_hash: &str, at: i64) -> SessionEvent {
        SessionEvent {
            user_id: user_id.to_owned(),
            session: self.public_id(token_hash),
            at,
        }
    }

    /// Reports that the session `token_hash` of `user_id` began.
    pub fn started(&self, user_id: &str, token_hash: &str, at: i64, how: SessionStart) {
        let event = self.event(user_id, token_hash, at);
        log::info!(
            target: "session_security::audit",
            "session_start reason={} user={:?} session={}",
            how.reason(),
            event.user_id,
            event.session
        );
        metrics::counter!("session_security_session_starts_total", "reason" => how.reason())
            .increment(1);
        if let Some(hook) = &self.hook {
            hook.started(&event, how);
        }
    }

    /// Reports that the session `token_hash` of `user_id` ended.
    pub fn ended(&self, user_id: &str, token_hash: &str, at: i64, why: SessionEnd) {
        let event = self.event(user_id, token_hash, at);
        let by = match &why {
            SessionEnd::Revoked { by: Some(by) } => format!(" by={by:?}"),
            _ => String::new(),
        };
        log::info!(
            target: "session_security::audit",
            "session_end reason={} user={:?} session={}{by}",
            why.reason(),
            event.user_id,
            event.session
        );
        metrics::counter!("session_security_session_ends_total", "reason" => why.reason())
            .increment(1);
        if let Some(hook) = &self.hook {
            hook.ended(&event, &why);
        }
    }
}
