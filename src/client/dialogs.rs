//! The crate's templates: registration into an application's Tera, the
//! [`Dialogs`] context value they render, and JSON safe inside a script
//! element.

use std::sync::OnceLock;

use rocket::Request;
use rocket_dyn_templates::tera::{Context, Tera};
use serde::Serialize;
use serde_json::{json, Value};

use crate::client::assets;
use crate::client::locales;
use crate::error::Error;
use crate::paths::{CSRF_FIELD, CSRF_HEADER};
use crate::runtime::Runtime;
use crate::session::state::RequestSession;
use crate::session::Session;

const ALL: (&str, &str) = (
    "session_security/all.html",
    include_str!("../../templates/session_security/all.html"),
);

const AFTER_RELOGIN: (&str, &str) = (
    "session_security/after_relogin.html",
    include_str!("../../templates/session_security/after_relogin.html"),
);

/// Registers the crate's templates into an application's Tera, so a base
/// template can say `{% include "session_security/all.html" %}`.
///
/// ```no_run
/// use rocket_dyn_templates::Template;
///
/// let templates = Template::custom(|engines| {
///     if let Err(e) = rocket_session_security::register_templates(&mut engines.tera) {
///         rocket::error!("{e}");
///     }
/// });
/// ```
pub fn register_templates(tera: &mut Tera) -> Result<(), Error> {
    tera.add_raw_templates([ALL])
        .map_err(|e| Error::Template(e.to_string()))
}

/// The warning and relogin dialogs for one page: the `session_security`
/// value of its template context. It renders nothing unless the request has
/// a live authenticated session.
///
/// ```
/// # use rocket::get;
/// use rocket_dyn_templates::{context, Template};
/// use rocket_session_security::Session;
///
/// #[get("/")]
/// fn home(session: Session<'_>) -> Template {
///     Template::render("home", context! { session_security: session.dialogs() })
/// }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Dialogs {
    /// Whether the dialogs and script are rendered at all.
    pub authenticated: bool,
    /// The content-hashed script URL.
    pub script_url: String,
    /// The content-hashed stylesheet URL.
    pub style_url: String,
    /// The script's configuration, JSON safe inside a `<script>` element.
    pub config_json: String,
    /// The chosen locale, e.g. `pt_BR`.
    pub lang: String,
    /// The chosen locale's strings, by key (`warning_title`, `stay`, …).
    pub strings: Value,
}

impl Session<'_> {
    /// The warning and relogin dialogs for this page: the
    /// `session_security` value of its template context (see [`Dialogs`]).
    pub fn dialogs(&self) -> Dialogs {
        Dialogs::of(self.request(), self.runtime(), self.http())
    }
}

impl Dialogs {
    pub(crate) fn of(request: &RequestSession, runtime: &Runtime, http: &Request<'_>) -> Dialogs {
        let config = &runtime.config;
        let lang = locales::of_request(request, runtime, http).to_owned();
        let strings = locales::strings(&lang).clone();
        let state = request.lock();
        let (authenticated, config_json) = match (state.expiry(), state.record()) {
            (Some(expiry), Some(record)) => {
                let timing = crate::session::expiry::Timing::new(expiry, config, request.now);
                let script_config = json!({
                    "pingUrl": crate::paths::PING_PATH,
                    "eventsUrl": crate::paths::EVENTS_PATH,
                    "keepaliveUrl": crate::paths::KEEPALIVE_PATH,
                    "logoutUrl": crate::paths::LOGOUT_PATH,
                    "afterLogoutUrl": config.logout_url,
                    "warnAfter": timing.warn_after,
                    "expireAfter": timing.expire_after,
                    "idle": timing.idle,
                    "relogin": config.relogin,
                    "reloginUrl": config.relogin_url,
                    "csrfToken": crate::secret::masked(&record.csrf_token),
                    "userTag": record.user_id.as_deref().map(|id| runtime.user_tag(id)),
                    "userCookie": crate::session::cookies::named(crate::session::cookies::USER_COOKIE, config),
                    "loginUrl": config.login_url,
                    "csrfField": CSRF_FIELD,
                    "csrfHeader": CSRF_HEADER,
                    "lang": lang.replace('_', "-"),
                    "strings": strings,
                });
                (true, script_safe_json(&script_config))
            }
            _ => (false, String::new()),
        };
        Dialogs {
            authenticated,
            script_url: assets::script_url(),
            style_url: assets::style_url(),
            config_json,
            lang,
            strings,
        }
    }

    /// The same markup as the Tera include, for applications that render
    /// HTML some other way. Empty without a live authenticated session.
    pub fn to_html(&self) -> Result<String, Error> {
        // Parsed once: injection renders this on every signed-in page.
        static TERA: OnceLock<Result<Tera, String>> = OnceLock::new();
        let tera = TERA.get_or_init(|| {
            let mut tera = Tera::default();
            register_templates(&mut tera).map_err(|e| e.to_string())?;
            Ok(tera)
        });
        let tera = tera.as_ref().map_err(|e| Error::Template(e.clone()))?;
        let mut context = Context::new();
        context.insert("session_security", self);
        tera.render(ALL.0, &context)
            .map_err(|e| Error::Template(e.to_string()))
    }
}

/// The small page shown in the relogin frame after a login: `message`
/// goes to the parent window, `same_user` picks the wording.
pub(crate) fn after_relogin_page(
    message: &Value,
    same_user: bool,
    locale: &str,
) -> Result<String, Error> {
    let mut tera = Tera::default();
    tera.add_raw_templates([AFTER_RELOGIN])
        .map_err(|e| Error::Template(e.to_string()))?;
    let mut context = Context::new();
    context.insert("message_json", &script_safe_json(message));
    context.insert("script_url", &assets::after_relogin_url());
    context.insert("same_user", &same_user);
    context.insert("strings", locales::strings(locale));
    tera.render(AFTER_RELOGIN.0, &context)
        .map_err(|e| Error::Template(e.to_string()))
}

/// JSON that cannot end a `<script>` element or open a comment in it.
fn script_safe_json(value: &Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_json_cannot_close_the_script_element() {
        let out = script_safe_json(&json!({ "x": "</script><!-- & \u{2028}" }));
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('&'));
        let back: Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(back["x"], "</script><!-- & \u{2028}");
    }
}
