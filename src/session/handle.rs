//! The session handle a handler works with: data, login, logout, new id.

use std::sync::Arc;

use rocket::request::{FromRequest, Outcome};
use rocket::{Ignite, Request, Rocket, Sentinel};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::lifecycle::{SessionEnd, SessionStart};
use crate::runtime::Runtime;
use crate::secret;
use crate::session::cookies::CookieNames;
use crate::session::state::{RequestSession, SessionState};
use crate::store::SessionRecord;

/// The current request's session, anonymous or authenticated.
///
/// Values are any serde type, stored as JSON. Changes are saved when the
/// response leaves; `login`, `logout` and `cycle_id` reach the store at once.
/// When the store cannot take a change, the response becomes a `503` that
/// sets no cookie, and the session stays as it was.
pub struct Session<'r> {
    request: &'r RequestSession,
    runtime: &'r Arc<Runtime>,
    /// The HTTP request: its headers are read only when needed (the
    /// User-Agent at a login, the locale for the dialogs).
    http: &'r Request<'r>,
}

impl<'r> Session<'r> {
    /// The logged-in user, or `None`.
    pub fn user_id(&self) -> Option<String> {
        self.request.lock().user_id().map(str::to_owned)
    }

    /// Whether a user is logged in.
    pub fn is_authenticated(&self) -> bool {
        self.request.lock().user_id().is_some()
    }

    /// Whether this very request found the session idle past its limit and
    /// logged it out.
    pub fn expired_now(&self) -> bool {
        self.request.lock().is_expired()
    }

    /// The value under `key`, if present and of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let mut state = self.request.lock();
        serde_json::from_value(state.data()?.get(key)?.clone()).ok()
    }

    /// Stores `value` under `key`. Fails, changing nothing, when the data
    /// would grow past `max_data_bytes` ([`Error::DataTooLarge`]).
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let value = serde_json::to_value(value)?;
        let limit = self.runtime.config.max_data_bytes;
        let mut state = self.request.lock();
        self.ensure_record(&mut state);
        if let Some(data) = state.data() {
            let previous = data.insert(key.to_owned(), value);
            let bytes = serde_json::to_string(&*data)?.len();
            if bytes as u64 > limit {
                match previous {
                    Some(previous) => data.insert(key.to_owned(), previous),
                    None => data.remove(key),
                };
                return Err(Error::DataTooLarge { bytes, limit });
            }
        }
        state.data_changed();
        Ok(())
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&self, key: &str) -> bool {
        let mut state = self.request.lock();
        let removed = state.data().is_some_and(|data| data.remove(key).is_some());
        if removed {
            state.data_changed();
        }
        removed
    }

    /// The session's CSRF token, for a hidden `csrf_token` form field or the
    /// `X-CSRF-Token` header, masked with fresh random bytes at every call
    /// (so a compressed page cannot leak it, BREACH); every masked form of
    /// it is accepted. A visitor without a session gets one too, so
    /// login forms are protected; theirs lives in a cookie of its own
    /// ([`CSRF_COOKIE`](crate::CSRF_COOKIE)), not in a stored session, so
    /// a flood of cookieless visits writes nothing to the store.
    pub fn csrf_token(&self) -> String {
        let mut state = self.request.lock();
        state.issue_csrf();
        let token = match state.record() {
            Some(record) => record.csrf_token.clone(),
            None => state.visitor_csrf(self.request.visitor_csrf.as_deref()),
        };
        // Masked anew for each use: the page never carries the same bytes.
        secret::masked(&token)
    }

    /// The hidden form field that carries [`csrf_token`](Self::csrf_token):
    /// put it into every POST form, e.g. `{{ csrf_field | safe }}` in Tera
    /// with `context! { csrf_field: session.csrf_field() }`.
    pub fn csrf_field(&self) -> String {
        // The token is URL-safe base64: nothing in it needs escaping.
        format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            crate::paths::CSRF_FIELD,
            self.csrf_token()
        )
    }

    /// Logs `user_id` in: a new session token (the old one dies, against
    /// session fixation), a new CSRF token, fresh activity and absolute
    /// clocks. Data of an anonymous session (or of the same user) is kept;
    /// another user's data is dropped.
    ///
    /// Fails without changing anything when the store cannot take it; the
    /// response is then a `503`.
    pub async fn login(&self, user_id: &str) -> Result<(), Error> {
        let expire_after = self
            .runtime
            .expire_after_for(self.http.rocket(), user_id)
            .await;
        let now = self.request.now;
        let token = secret::random_secret();
        let (old, record) = {
            let mut state = self.request.lock();
            let old = state.stored_record().map(|r| r.token_hash.clone());
            let previous_user = state.user_id().map(str::to_owned);
            let data = match previous_user.is_some_and(|previous| previous != user_id) {
                // Another user's data never passes to whoever logs in next.
                true => String::from("{}"),
                false => state.data_json()?,
            };
            let record = SessionRecord {
                token_hash: secret::hash(&token),
                user_id: Some(user_id.to_owned()),
                data,
                csrf_token: secret::random_secret(),
                created_at: now,
                authenticated_at: Some(now),
                last_activity: now,
                expire_after,
                device: crate::session::device::describe(self.http.headers().get_one("User-Agent")),
            };
            (old, record)
        };
        let how = self.login_kind(user_id).await?;
        let caller = self.request.caller();
        let sessions = &self.runtime.sessions;
        sessions.start(caller, &record, how, old.as_deref()).await?;
        self.request.lock().begin(record, token);
        Ok(())
    }

    /// A login in a browser that holds the backup of an expired session is
    /// a relogin, by the same user or another.
    async fn login_kind(&self, user_id: &str) -> Result<SessionStart, Error> {
        let Some(id) = (self.request.backup_id.as_deref()).filter(|id| secret::well_formed(id))
        else {
            return Ok(SessionStart::Login);
        };
        let sessions = &self.runtime.sessions;
        let owner = sessions
            .backup_owner(self.request.caller(), &secret::hash(id))
            .await?;
        Ok(match owner {
            Some(owner) => SessionStart::Relogin {
                same_user: owner == user_id,
            },
            None => SessionStart::Login,
        })
    }

    /// Logs out: the session is deleted from the store and its cookie
    /// removed, and so is a relogin backup this browser holds: after an
    /// explicit sign-out nothing of the session is left to restore.
    pub async fn logout(&self) -> Result<(), Error> {
        let old = self
            .request
            .lock()
            .stored_record()
            .map(|r| r.token_hash.clone());
        let sessions = &self.runtime.sessions;
        let caller = self.request.caller();
        if let Some(old) = old {
            sessions.end(caller, &old, SessionEnd::Logout).await?;
        }
        if let Some(backup) = &self.request.backup_id {
            sessions.take_backup(caller, &secret::hash(backup)).await?;
        }
        let mut state = self.request.lock();
        state.end();
        if self.request.backup_id.is_some() {
            state.clear_backup_cookie();
        }
        Ok(())
    }

    /// Moves the session to a new token, keeping everything else; use it
    /// when privileges change without a new login.
    ///
    /// A session that ended or was revoked meanwhile (another request, an
    /// administrator, another instance) stays ended: this fails with
    /// [`Error::SessionEnded`] and the request goes on without a session,
    /// rather than bringing it back. The browser's cookie is left as it is
    /// (it names nothing now, or a token another request just issued).
    pub async fn cycle_id(&self) -> Result<(), Error> {
        let token = secret::random_secret();
        let (old, record) = {
            let mut state = self.request.lock();
            let Some(old) = state.record().cloned() else {
                return Ok(());
            };
            let old_hash = state.stored_record().map(|r| r.token_hash.clone());
            let record = SessionRecord {
                token_hash: secret::hash(&token),
                data: state.data_json()?,
                ..old
            };
            (old_hash, record)
        };
        let sessions = &self.runtime.sessions;
        let caller = self.request.caller();
        let Some(old) = old else {
            // Not stored yet (created in this request): nothing can race.
            sessions.insert(caller, &record).await?;
            self.request.lock().begin(record, token);
            return Ok(());
        };
        match sessions.rotate(caller, &old, record).await? {
            Some(record) => {
                self.request.lock().begin(record, token);
                Ok(())
            }
            None => {
                self.request.lock().lost();
                Err(Error::SessionEnded)
            }
        }
    }

    /// Creates an anonymous session row (saved when the response leaves).
    fn ensure_record(&self, state: &mut SessionState) {
        if state.record().is_none() {
            let csrf = state.visitor_csrf(self.request.visitor_csrf.as_deref());
            state.start_anonymous(self.request.now, self.runtime.config.expire_after, csrf);
        }
    }

    /// The authenticated session's timing, as of this request.
    pub fn timing(&self) -> Option<crate::Timing> {
        let expiry = self.request.lock().expiry()?;
        Some(crate::session::expiry::Timing::new(
            expiry,
            &self.runtime.config,
            self.request.now,
        ))
    }

    /// Merges the ping's `idleFor` (seconds the browser saw no activity):
    /// the last activity only moves towards now, never backwards.
    pub(crate) fn merge_idle_for(&self, idle_for: u64) {
        self.request
            .lock()
            .merge_idle_for(self.request.now, idle_for);
    }

    /// Whether `tag` is the user tag of this session's signed-in user: the
    /// page that sent it belongs to the live session.
    pub(crate) fn is_user_tag(&self, tag: &str) -> bool {
        let user = self.request.lock().user_id().map(str::to_owned);
        user.is_some_and(|id| crate::secret::same_secret(&self.runtime.user_tag(&id), tag))
    }

    /// The user is active now, even on a passive route (keepalive).
    pub(crate) fn record_activity(&self) {
        self.request.lock().record_activity(self.request.now);
    }

    /// Catches up with activity other instances stored since this copy
    /// was read. A store failure keeps the copy: memory may say "alive".
    pub(crate) async fn catch_up(&self) {
        let hash = self
            .request
            .lock()
            .stored_record()
            .map(|r| r.token_hash.clone());
        let Some(hash) = hash else { return };
        if let Ok(Some(fresh)) = self.runtime.sessions.reload(&hash).await {
            self.request.lock().catch_up(fresh.last_activity);
        }
    }

    pub(crate) fn request(&self) -> &'r RequestSession {
        self.request
    }

    /// The names of the crate's cookies as the browser gets them.
    pub fn cookie_names(&self) -> CookieNames {
        CookieNames::of(&self.runtime.config)
    }

    /// The HTTP request this session came with.
    pub(crate) fn http(&self) -> &'r Request<'r> {
        self.http
    }

    pub(crate) fn runtime(&self) -> &'r Runtime {
        self.runtime
    }

    /// The managed state, for work that outlives the request (a stream).
    pub(crate) fn shared_arc(&self) -> Arc<Runtime> {
        self.runtime.clone()
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session<'r> {
    type Error = Error;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let session = RequestSession::of(request);
        match &session.runtime {
            Some(_) if session.unreadable() => {
                Outcome::Error((rocket::http::Status::ServiceUnavailable, Error::Unavailable))
            }
            Some(runtime) => Outcome::Success(Session {
                request: session,
                runtime,
                http: request,
            }),
            None => Outcome::Error((
                rocket::http::Status::InternalServerError,
                Error::NotAttached,
            )),
        }
    }
}

impl Sentinel for Session<'_> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        fairing_missing(rocket)
    }
}

/// True, with an error message saying what to do, when a guard is used
/// without the fairing.
pub(crate) fn fairing_missing(rocket: &Rocket<Ignite>) -> bool {
    let missing = rocket.state::<Arc<Runtime>>().is_none();
    if missing {
        rocket::error!("{}", Error::NotAttached);
    }
    missing
}
