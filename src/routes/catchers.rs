//! The 401 catcher: JSON for background requests, a login redirect for
//! browsers.

use std::sync::Arc;

use rocket::http::{RawStr, Status};
use rocket::response::status::Custom;
use rocket::response::Redirect;
use rocket::serde::json::{json, Json, Value};
use rocket::{catch, catchers, Catcher, Request};

use crate::classify::is_background;
use crate::config::Config;
use crate::paths::local_path;
use crate::runtime::Runtime;
use crate::session::state::RequestSession;

/// The crate's catchers; register them with `.register("/", catchers())`.
///
/// The fairing cannot register them itself: Rocket refuses two catchers
/// for one status at one base, and an application may have its own. If
/// nothing at `/` answers a 401, launch logs a warning saying so.
///
/// A `401` (what [`Authenticated`](crate::Authenticated) forwards with)
/// becomes, for background requests (JSON `Accept` or an `X-Requested-With`
/// header), `{"error":"session_expired","relogin_url":…}` when the request
/// came with a session that has just ended, or
/// `{"error":"not_signed_in","login_url":…}` when it came with none; and a
/// redirect to `login_url?next=<this path>` for browsers.
pub fn catchers() -> Vec<Catcher> {
    catchers![unauthorized]
}

#[catch(401)]
fn unauthorized(request: &Request<'_>) -> Result<Redirect, Custom<Json<Value>>> {
    let default = Config::default();
    let config = request
        .rocket()
        .state::<Arc<Runtime>>()
        .map_or(&default, |runtime| &runtime.config);
    if is_background(request) {
        // A session that ended under the page is the relogin's business; a
        // request that never had one just needs to sign in.
        let answer = match RequestSession::of(request).was_authenticated {
            true => json!({ "error": "session_expired", "relogin_url": config.relogin_url }),
            false => json!({ "error": "not_signed_in", "login_url": config.login_url }),
        };
        return Err(Custom(Status::Unauthorized, Json(answer)));
    }
    Ok(Redirect::to(login_redirect(config, request)))
}

/// `login_url` with `next` set to the requested local path, when it is one.
fn login_redirect(config: &Config, request: &Request<'_>) -> String {
    let uri = request.uri().to_string();
    let next = local_path(&uri).filter(|_| request.method() == rocket::http::Method::Get);
    match next {
        Some(next) => {
            let glue = if config.login_url.contains('?') {
                '&'
            } else {
                '?'
            };
            format!(
                "{}{glue}next={}",
                config.login_url,
                RawStr::new(next).percent_encode()
            )
        }
        None => config.login_url.clone(),
    }
}
