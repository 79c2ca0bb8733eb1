//! The session handle a handler works with: data, login, logout, new id.

use std::sync::Arc;

use rocket::request::{FromRequest, Outcome};
use rocket::{Ignite, Orbit, Request, Rocket, Sentinel};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::runtime::Runtime;
use crate::store::SessionRecord;
use crate::token;
use crate::verdict::{State, Verdict};

/// The current request's session, anonymous or authenticated.
///
/// Values are any serde type, stored as JSON. Changes are saved when the
/// response leaves; `login`, `logout` and `cycle_id` reach the store at once.
pub struct Session<'r> {
    verdict: &'r Verdict,
    runtime: &'r Arc<Runtime>,
    rocket: &'r Rocket<Orbit>,
}

impl<'r> Session<'r> {
    /// The logged-in user, or `None`.
    pub fn user_id(&self) -> Option<String> {
        self.verdict.lock().user_id().map(str::to_owned)
    }

    /// Whether a user is logged in.
    pub fn is_authenticated(&self) -> bool {
        self.verdict.lock().user_id().is_some()
    }

    /// Whether this very request found the session idle past its limit and
    /// logged it out.
    pub fn expired_now(&self) -> bool {
        self.verdict.lock().expired
    }

    /// The value under `key`, if present and of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let state = self.verdict.lock();
        serde_json::from_value(state.data.get(key)?.clone()).ok()
    }

    /// Stores `value` under `key`.
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let value = serde_json::to_value(value)?;
        let mut state = self.verdict.lock();
        self.ensure_record(&mut state);
        state.data.insert(key.to_owned(), value);
        state.data_dirty = true;
        Ok(())
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&self, key: &str) -> bool {
        let mut state = self.verdict.lock();
        let removed = state.data.remove(key).is_some();
        state.data_dirty |= removed;
        removed
    }

    /// The session's CSRF token, for a hidden `csrf_token` form field or the
    /// `X-CSRF-Token` header. Starts an anonymous session if there is none,
    /// so login forms are protected too.
    pub fn csrf_token(&self) -> String {
        let mut state = self.verdict.lock();
        self.ensure_record(&mut state);
        state
            .record
            .as_ref()
            .map(|r| r.csrf_token.clone())
            .unwrap_or_default()
    }

    /// Logs `user_id` in: a new session token (the old one dies, against
    /// session fixation), a new CSRF token, fresh activity and absolute
    /// clocks. Data of an anonymous session (or of the same user) is kept;
    /// another user's data is dropped.
    pub async fn login(&self, user_id: &str) -> Result<(), Error> {
        let expire_after = self.runtime.expire_after_for(self.rocket, user_id).await;
        let now = self.verdict.now;
        let token = token::random_secret();
        let (old, record) = {
            let mut state = self.verdict.lock();
            let old = state.record.take().filter(|_| !state.pending_insert);
            let previous_user = old.as_ref().and_then(|r| r.user_id.as_deref());
            if previous_user.is_some_and(|previous| previous != user_id) {
                // Another user's data never passes to whoever logs in next.
                state.data.clear();
            }
            let record = SessionRecord {
                token_hash: token::hash(&token),
                user_id: Some(user_id.to_owned()),
                data: serde_json::to_string(&state.data)?,
                csrf_token: token::random_secret(),
                created_at: now,
                authenticated_at: Some(now),
                last_activity: now,
                expire_after,
            };
            (old, record)
        };
        if let Some(old) = old {
            self.runtime.store.delete(&old.token_hash).await?;
        }
        self.runtime.store.insert(&record).await?;
        let mut state = self.verdict.lock();
        state.record = Some(record);
        state.pending_insert = false;
        state.data_dirty = false;
        state.set_token = Some(token);
        state.clear_token = false;
        Ok(())
    }

    /// Logs out: the session is deleted from the store and its cookie removed.
    pub async fn logout(&self) -> Result<(), Error> {
        let old = {
            let mut state = self.verdict.lock();
            let old = state.record.take().filter(|_| !state.pending_insert);
            *state = State {
                clear_token: true,
                ..State::default()
            };
            old
        };
        if let Some(old) = old {
            self.runtime.store.delete(&old.token_hash).await?;
        }
        Ok(())
    }

    /// Moves the session to a new token, keeping everything else; use it
    /// when privileges change without a new login.
    pub async fn cycle_id(&self) -> Result<(), Error> {
        let token = token::random_secret();
        let (old, record) = {
            let state = self.verdict.lock();
            let Some(old) = state.record.clone() else {
                return Ok(());
            };
            let record = SessionRecord {
                token_hash: token::hash(&token),
                data: serde_json::to_string(&state.data)?,
                ..old.clone()
            };
            (old, record)
        };
        self.runtime.store.delete(&old.token_hash).await?;
        self.runtime.store.insert(&record).await?;
        let mut state = self.verdict.lock();
        state.record = Some(record);
        state.pending_insert = false;
        state.data_dirty = false;
        state.set_token = Some(token);
        Ok(())
    }

    /// Creates an anonymous session row (saved when the response leaves).
    fn ensure_record(&self, state: &mut State) {
        if state.record.is_none() {
            state.start_anonymous(self.verdict.now, self.runtime.config.expire_after);
        }
    }

    /// The authenticated session's timing, as of this request.
    pub fn timing(&self) -> Option<crate::Timing> {
        let times = self.verdict.lock().times()?;
        Some(crate::Timing::new(
            times,
            &self.runtime.config,
            self.verdict.now,
        ))
    }

    /// The `session_security` value for a template context (see
    /// [`PageContext`](crate::PageContext)).
    pub fn page(&self) -> crate::PageContext {
        crate::PageContext::of(self)
    }

    pub(crate) fn verdict(&self) -> &'r Verdict {
        self.verdict
    }

    pub(crate) fn runtime(&self) -> &'r Runtime {
        self.runtime
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session<'r> {
    type Error = Error;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let verdict = Verdict::of(request);
        match &verdict.runtime {
            Some(runtime) => Outcome::Success(Session {
                verdict,
                runtime,
                rocket: request.rocket(),
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
