//! The per-request verdict: what the fairing found out about the session,
//! written once in `on_request` and read by every guard and route.

use std::sync::{Arc, Mutex, MutexGuard};

use rocket::Request;
use serde_json::{Map, Value};

use crate::activity::{IdleForError, Times};
use crate::runtime::Runtime;
use crate::store::SessionRecord;
use crate::token;

/// Request-local session state; its own type, so `local_cache` holds exactly one.
pub(crate) struct Verdict {
    /// `None` when the fairing did not run for this request.
    pub runtime: Option<Arc<Runtime>>,
    /// The time this request is judged at.
    pub now: i64,
    /// The relogin backup cookie's value, if the browser sent one.
    pub backup_id: Option<String>,
    /// The locale for the browser's strings.
    pub locale: String,
    /// Whether the request arrived with an authenticated session, live or
    /// expired just now.
    pub was_authenticated: bool,
    state: Mutex<State>,
}

/// The mutable part: the session as handlers change it.
#[derive(Default)]
pub(crate) struct State {
    /// The live session row, authenticated or anonymous.
    pub record: Option<SessionRecord>,
    /// The row exists only here so far; `on_response` inserts it.
    pub pending_insert: bool,
    /// The application's data, parsed.
    pub data: Map<String, Value>,
    /// `data` changed and must be saved.
    pub data_dirty: bool,
    /// A new session token for the cookie.
    pub set_token: Option<String>,
    /// The session cookie must be removed.
    pub clear_token: bool,
    /// A new relogin backup cookie.
    pub backup_token: Option<String>,
    /// The relogin backup cookie must be removed (it was used up).
    pub clear_backup: bool,
    /// This request found the session expired and logged it out.
    pub expired: bool,
    /// A CSRF check failed: a forged request must not extend the session.
    pub csrf_refused: bool,
    /// Record activity now even inside `activity_write_grace` (keepalive).
    pub force_touch: bool,
    /// The ping's `idleFor`, when this is a ping that carried one.
    pub idle_for: Option<Result<u64, IdleForError>>,
}

impl State {
    /// The authenticated user's session timing, if there is one.
    pub fn times(&self) -> Option<Times> {
        let record = self.record.as_ref()?;
        record.user_id.as_ref()?;
        Some(Times {
            last_activity: record.last_activity,
            authenticated_at: record.authenticated_at.unwrap_or(record.created_at),
            expire_after: record.expire_after,
        })
    }

    /// Starts a new anonymous session (saved when the response leaves).
    pub fn start_anonymous(&mut self, now: i64, expire_after: u64) {
        let token = token::random_secret();
        self.record = Some(SessionRecord {
            token_hash: token::hash(&token),
            user_id: None,
            data: String::new(),
            csrf_token: token::random_secret(),
            created_at: now,
            authenticated_at: None,
            last_activity: now,
            expire_after: expire_after as i64,
        });
        self.data = Map::new();
        self.pending_insert = true;
        self.set_token = Some(token);
        self.clear_token = false;
    }

    pub fn user_id(&self) -> Option<&str> {
        self.record.as_ref()?.user_id.as_deref()
    }
}

impl Verdict {
    pub fn new(
        runtime: Arc<Runtime>,
        now: i64,
        locale: String,
        backup_id: Option<String>,
        state: State,
    ) -> Self {
        let was_authenticated = state.user_id().is_some() || state.expired;
        let state = Mutex::new(state);
        Verdict {
            runtime: Some(runtime),
            now,
            backup_id,
            locale,
            was_authenticated,
            state,
        }
    }

    fn absent() -> Self {
        Verdict {
            runtime: None,
            now: 0,
            backup_id: None,
            locale: crate::i18n::DEFAULT_LOCALE.into(),
            was_authenticated: false,
            state: Mutex::default(),
        }
    }

    /// The verdict for `request`; an empty one if the fairing did not run.
    pub fn of<'r>(request: &'r Request<'_>) -> &'r Verdict {
        request.local_cache(Verdict::absent)
    }

    /// Locks the state. Never hold the guard across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
