//! The per-request session state: what the fairing found before routing,
//! changed through [`Session`](crate::Session) methods, and written out by
//! the fairing after the handler.
//!
//! Changes are typed (a cookie is kept, set or cleared; activity is a stamp)
//! and every field is private, so the rules for them live here once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rocket::Request;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::runtime::Runtime;
use crate::secret;
use crate::session::cookies::CookieChange;
use crate::session::expiry::{merge_idle_for, Expiry};
use crate::store::{Caller, SessionRecord};

/// The session row this request works on, with its data parsed on demand.
struct Live {
    record: SessionRecord,
    /// The row exists only here so far; the fairing inserts it.
    unsaved: bool,
    /// The application's data, parsed when first asked for.
    data: Option<Map<String, Value>>,
    data_changed: bool,
}

impl Live {
    fn data(&mut self) -> &mut Map<String, Value> {
        let raw = &self.record.data;
        self.data
            .get_or_insert_with(|| serde_json::from_str(raw).unwrap_or_default())
    }
}

/// The mutable part of the request's session.
#[derive(Default)]
pub(crate) struct SessionState {
    live: Option<Live>,
    session_cookie: CookieChange,
    backup_cookie: CookieChange,
    /// This request found the session expired and ended it.
    expired: bool,
    /// The user signed out in this request (not an expiry).
    signed_out: bool,
    /// The handler asked for the CSRF token: the response holds a secret.
    csrf_issued: bool,
    /// The CSRF token of a visitor without a session row, once chosen.
    visitor_csrf: Option<String>,
    /// What the response does to the visitor's CSRF cookie.
    csrf_cookie: CookieChange,
    /// A CSRF check failed: a forged request must not extend the session.
    activity_refused: bool,
    /// Activity to record even on a passive route (keepalive, idleFor).
    stamp: Option<i64>,
}

/// The writes `on_response` makes for a request.
pub(crate) struct Writes {
    pub insert: Option<SessionRecord>,
    pub save: Option<(String, String)>,
    /// The token hash, for recording activity.
    pub token_hash: Option<String>,
    /// Activity to record regardless of the route.
    pub stamp: Option<i64>,
    pub activity_refused: bool,
}

impl SessionState {
    /// A stored session as loaded.
    pub fn loaded(record: SessionRecord) -> Self {
        SessionState {
            live: Some(Live {
                record,
                unsaved: false,
                data: None,
                data_changed: false,
            }),
            ..SessionState::default()
        }
    }

    /// No usable session: the browser's cookie names nothing. The cookie
    /// is left alone, not cleared: it may be a token that another request
    /// of the same browser has just rotated (a login, a relogin's restore,
    /// `cycle_id`), and clearing it would sign the browser out of the
    /// session that lives on under the new token. A token that names
    /// nothing grants nothing.
    pub fn unknown_cookie() -> Self {
        SessionState::default()
    }

    /// The session this browser held ended in this request (an idle
    /// visitor's session): its cookie goes.
    pub fn ended_here() -> Self {
        SessionState {
            session_cookie: CookieChange::Clear,
            ..SessionState::default()
        }
    }

    /// The browser's session was revoked: it ends here, as a sign-out.
    pub fn revoked() -> Self {
        SessionState {
            session_cookie: CookieChange::Clear,
            signed_out: true,
            ..SessionState::default()
        }
    }

    /// The session ended in this request because it expired.
    pub fn expired(clear_cookie: bool) -> Self {
        SessionState {
            expired: true,
            session_cookie: match clear_cookie {
                true => CookieChange::Clear,
                false => CookieChange::Keep,
            },
            ..SessionState::default()
        }
    }

    pub fn record(&self) -> Option<&SessionRecord> {
        self.live.as_ref().map(|live| &live.record)
    }

    /// The stored row, if there is one yet.
    pub fn stored_record(&self) -> Option<&SessionRecord> {
        self.live
            .as_ref()
            .filter(|live| !live.unsaved)
            .map(|live| &live.record)
    }

    pub fn user_id(&self) -> Option<&str> {
        self.record()?.user_id.as_deref()
    }

    pub fn is_expired(&self) -> bool {
        self.expired
    }

    pub fn session_cookie(&self) -> &CookieChange {
        &self.session_cookie
    }

    pub fn backup_cookie(&self) -> &CookieChange {
        &self.backup_cookie
    }

    /// The authenticated user's session timing, if there is one.
    pub fn expiry(&self) -> Option<Expiry> {
        let record = self.record()?;
        record.user_id.as_ref()?;
        Some(Expiry {
            last_activity: record.last_activity,
            authenticated_at: record.authenticated_at.unwrap_or(record.created_at),
            expire_after: record.expire_after,
        })
    }

    /// The session's data; empty without a session.
    pub fn data(&mut self) -> Option<&mut Map<String, Value>> {
        self.live.as_mut().map(Live::data)
    }

    /// The data for a write: the parsed map if it was ever parsed.
    pub fn data_json(&mut self) -> Result<String, Error> {
        match self.live.as_mut() {
            Some(live) => match &live.data {
                Some(data) => Ok(serde_json::to_string(data)?),
                None => Ok(live.record.data.clone()),
            },
            None => Ok(String::new()),
        }
    }

    /// Marks the data as changed, so it is saved when the response leaves.
    pub fn data_changed(&mut self) {
        if let Some(live) = self.live.as_mut() {
            live.data_changed = true;
        }
    }

    /// The CSRF token of a visitor without a session row: the one this
    /// request already chose, else the browser's (`sent`), else a new one
    /// that the response sets as a cookie. No row is written for it.
    pub fn visitor_csrf(&mut self, sent: Option<&str>) -> String {
        if let Some(token) = &self.visitor_csrf {
            return token.clone();
        }
        let token = match sent {
            Some(sent) => sent.to_owned(),
            None => {
                let token = secret::random_secret();
                self.csrf_cookie = CookieChange::Set(token.clone());
                token
            }
        };
        self.visitor_csrf = Some(token.clone());
        token
    }

    /// What the response does to the visitor's CSRF cookie.
    pub fn csrf_cookie(&self) -> &CookieChange {
        &self.csrf_cookie
    }

    /// Starts a new anonymous session (saved when the response leaves),
    /// keeping the visitor's CSRF token, so forms already out stay valid.
    pub fn start_anonymous(&mut self, now: i64, expire_after: u64, csrf_token: String) {
        let token = secret::random_secret();
        self.live = Some(Live {
            record: SessionRecord {
                token_hash: secret::hash(&token),
                user_id: None,
                data: String::new(),
                csrf_token,
                created_at: now,
                authenticated_at: None,
                last_activity: now,
                expire_after: expire_after as i64,
                device: None,
            },
            unsaved: true,
            data: Some(Map::new()),
            data_changed: false,
        });
        self.session_cookie = CookieChange::Set(token);
    }

    /// Continues with `record`, already stored under `token` (login,
    /// rotation).
    pub fn begin(&mut self, record: SessionRecord, token: String) {
        let data = serde_json::from_str(&record.data).unwrap_or_default();
        self.live = Some(Live {
            record,
            unsaved: false,
            data: Some(data),
            data_changed: false,
        });
        self.session_cookie = CookieChange::Set(token);
    }

    /// Ends the session in this request (logout): the cookie is cleared.
    pub fn end(&mut self) {
        *self = SessionState {
            session_cookie: CookieChange::Clear,
            signed_out: true,
            ..SessionState::default()
        };
    }

    /// The session ended elsewhere while this request worked on it: no
    /// session (the cookie is left alone, see [`Self::unknown_cookie`]).
    pub fn lost(&mut self) {
        *self = SessionState::unknown_cookie();
    }

    /// The response carries the CSRF token (a form, a page's config).
    pub fn issue_csrf(&mut self) {
        self.csrf_issued = true;
    }

    /// Whether the response carries the CSRF token.
    pub fn csrf_issued(&self) -> bool {
        self.csrf_issued
    }

    /// Whether the user signed out in this request.
    pub fn signed_out(&self) -> bool {
        self.signed_out
    }

    /// The relogin backup cookie to send.
    pub fn set_backup_cookie(&mut self, id: String) {
        self.backup_cookie = CookieChange::Set(id);
    }

    /// The backup cookie was used up or is void.
    pub fn clear_backup_cookie(&mut self) {
        self.backup_cookie = CookieChange::Clear;
    }

    /// A CSRF check failed: this request is no activity.
    pub fn refuse_activity(&mut self) {
        self.activity_refused = true;
    }

    /// The user is active now, whatever the route (keepalive).
    pub fn record_activity(&mut self, now: i64) {
        if let Some(live) = self.live.as_mut() {
            live.record.last_activity = live.record.last_activity.max(now);
            self.stamp = Some(live.record.last_activity);
        }
    }

    /// Merges the ping's `idleFor`: the last activity only moves forward,
    /// never past now.
    pub fn merge_idle_for(&mut self, now: i64, idle_for: u64) {
        if let Some(live) = self.live.as_mut() {
            let merged = merge_idle_for(live.record.last_activity, now, idle_for);
            if merged > live.record.last_activity {
                live.record.last_activity = merged;
                self.stamp = Some(merged);
            }
        }
    }

    /// Takes last activity from the store's copy when it is later (another
    /// instance saw activity).
    pub fn catch_up(&mut self, last_activity: i64) {
        if let Some(live) = self.live.as_mut() {
            live.record.last_activity = live.record.last_activity.max(last_activity);
        }
    }

    /// What must be written for this request; afterwards nothing is pending.
    pub fn take_writes(&mut self) -> Result<Writes, Error> {
        let needs_data = self
            .live
            .as_ref()
            .is_some_and(|live| live.unsaved || live.data_changed);
        let data = match needs_data {
            true => Some(self.data_json()?),
            false => None,
        };
        let mut writes = Writes {
            insert: None,
            save: None,
            token_hash: None,
            stamp: self.stamp.take(),
            activity_refused: self.activity_refused,
        };
        let Some(live) = self.live.as_mut() else {
            return Ok(writes);
        };
        match (live.unsaved, data) {
            (true, Some(data)) => {
                live.record.data = data;
                writes.insert = Some(live.record.clone());
                // Just created: its creation is its activity.
                writes.stamp = None;
            }
            (false, Some(data)) => {
                live.record.data = data.clone();
                writes.save = Some((live.record.token_hash.clone(), data));
                writes.token_hash = Some(live.record.token_hash.clone());
            }
            _ => writes.token_hash = Some(live.record.token_hash.clone()),
        }
        live.unsaved = false;
        live.data_changed = false;
        Ok(writes)
    }
}

/// The crate's cookies the browser sent besides the session token.
#[derive(Default)]
pub(crate) struct BrowserCookies {
    pub backup_id: Option<String>,
    pub visitor_csrf: Option<String>,
}

/// Request-local session state; its own type, so `local_cache` holds exactly one.
pub(crate) struct RequestSession {
    /// `None` when the fairing did not run for this request.
    pub runtime: Option<Arc<Runtime>>,
    /// The time this request is judged at.
    pub now: i64,
    /// The relogin backup cookie's value, if the browser sent one.
    pub backup_id: Option<String>,
    /// The visitor's CSRF cookie, if the browser sent a well-formed one.
    pub visitor_csrf: Option<String>,
    /// The locale for the browser's strings, chosen when first asked for:
    /// most responses never show a string.
    locale: OnceLock<String>,
    /// Whether the request arrived with an authenticated session, live or
    /// expired just now.
    pub was_authenticated: bool,
    /// The store could not provide the session before routing: guards
    /// answer `503`, and the response sets no cookie.
    unreadable: bool,
    /// A write for this request failed: the response becomes a `503` that
    /// sets no cookie, so a live session is never taken for a logout.
    store_failed: AtomicBool,
    state: Mutex<SessionState>,
}

impl RequestSession {
    pub fn new(
        runtime: Arc<Runtime>,
        now: i64,
        cookies: BrowserCookies,
        state: SessionState,
    ) -> Self {
        let was_authenticated = state.user_id().is_some() || state.expired;
        RequestSession {
            runtime: Some(runtime),
            now,
            backup_id: cookies.backup_id,
            visitor_csrf: cookies.visitor_csrf,
            locale: OnceLock::new(),
            was_authenticated,
            unreadable: false,
            store_failed: AtomicBool::new(false),
            state: Mutex::new(state),
        }
    }

    /// The state of a request whose session the store could not provide.
    pub fn unavailable(runtime: Arc<Runtime>, now: i64) -> Self {
        RequestSession {
            unreadable: true,
            ..RequestSession::new(
                runtime,
                now,
                BrowserCookies::default(),
                SessionState::default(),
            )
        }
    }

    fn absent() -> Self {
        RequestSession {
            runtime: None,
            now: 0,
            backup_id: None,
            visitor_csrf: None,
            locale: OnceLock::new(),
            was_authenticated: false,
            unreadable: false,
            store_failed: AtomicBool::new(false),
            state: Mutex::default(),
        }
    }

    /// The state for `request`; an empty one if the fairing did not run.
    pub fn of<'r>(request: &'r Request<'_>) -> &'r RequestSession {
        request.local_cache(RequestSession::absent)
    }

    /// The locale of the browser's strings, chosen by `choose` the first
    /// time it is asked for (see `client::locales::of_request`).
    pub fn locale(&self, choose: impl FnOnce() -> String) -> &str {
        self.locale.get_or_init(choose)
    }

    /// Locks the state. Never hold the guard across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, SessionState> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the store could not provide this request's session.
    pub fn unreadable(&self) -> bool {
        self.unreadable
    }

    /// Whether a write for this request failed.
    pub fn store_failed(&self) -> bool {
        self.store_failed.load(Ordering::Relaxed)
    }

    /// This request as the caller of a change: a store failure in any
    /// change it asks for makes its response a `503` that sets no cookie.
    pub fn caller(&self) -> Caller<'_> {
        Caller::Request(&self.store_failed)
    }
}
