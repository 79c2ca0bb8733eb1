//! The CRM's users: the signed-in user as a request guard, and the
//! managers' shorter idle limit.
//!
//! The user id given to the session is the username.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::{Orbit, Request, Rocket};
use rocket_db_pools::Database;
use rocket_session_security::{Authenticated, Config, UserTimeouts};
use serde::Serialize;

use crate::db::Crm;

/// The signed-in user, loaded from the CRM's `users` table.
///
/// Built on the library's [`Authenticated`] guard: without a live session it
/// forwards with 401 as that guard does, so the library's catcher answers
/// (login redirect for browsers, JSON for background requests).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CurrentUser {
    /// The login name, also the session's user id and the deals' `owner`.
    pub username: String,
    /// Shown in the header.
    pub display_name: String,
    /// `sales` or `manager`.
    pub role: String,
}

impl CurrentUser {
    /// Managers see every deal; sales reps see their own.
    pub fn is_manager(&self) -> bool {
        self.role == "manager"
    }
}

pub async fn find_user(
    db: &sqlx::SqlitePool,
    username: &str,
) -> Result<Option<CurrentUser>, sqlx::Error> {
    sqlx::query_as("SELECT username, display_name, role FROM users WHERE username = ?")
        .bind(username)
        .fetch_optional(db)
        .await
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        let user = match request.guard::<Authenticated>().await {
            Outcome::Success(user) => user,
            Outcome::Forward(status) => return Outcome::Forward(status),
            Outcome::Error((status, _)) => return Outcome::Error((status, ())),
        };
        let Some(db) = Crm::fetch(request.rocket()) else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        match find_user(db, &user.user_id).await {
            Ok(Some(user)) => Outcome::Success(user),
            // A session of a user who no longer exists is no sign-in.
            Ok(None) => Outcome::Forward(Status::Unauthorized),
            Err(e) => {
                rocket::error!("loading user {}: {e}", user.user_id);
                Outcome::Error((Status::InternalServerError, ()))
            }
        }
    }
}

/// Managers see every deal, so an unattended manager session is worth more
/// to an intruder: they get half the configured `expire_after` (the
/// library raises it to at least the warning lead plus one second).
pub struct ManagerTimeouts;

#[rocket::async_trait]
impl UserTimeouts for ManagerTimeouts {
    async fn expire_after(&self, rocket: &Rocket<Orbit>, user_id: &str) -> Option<u64> {
        let db = Crm::fetch(rocket)?;
        let user = find_user(db, user_id).await.ok().flatten()?;
        if !user.is_manager() {
            return None;
        }
        let configured = Config::from_figment(rocket.figment()).map_or(600, |c| c.expire_after);
        Some(configured / 2)
    }
}
