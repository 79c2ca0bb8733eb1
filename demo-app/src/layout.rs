//! What every signed-in page shares: the header (user, timeout notice,
//! logout form), the flash message and the CSRF token; plus the replies,
//! Tera filters and error pages used across the app.

use std::borrow::Cow;
use std::collections::HashMap;

use rocket::http::uri::Reference;
use rocket::http::Status;
use rocket::request::{FlashMessage, FromRequest, Outcome};
use rocket::response::{Flash, Redirect};
use rocket::{catch, catchers, Catcher, Request, Responder};
use rocket_dyn_templates::tera::{self, Tera, Value};
use rocket_dyn_templates::{context, Template};
use rocket_session_security::Session;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::users::CurrentUser;

/// A signed-in page: the user, their session and any flash message.
///
/// Forwards with 401 without a live session (see [`CurrentUser`]).
pub struct Page<'r> {
    /// The signed-in user.
    pub user: CurrentUser,
    /// The library's session handle.
    pub session: Session<'r>,
    flash: Option<FlashMessage<'r>>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Page<'r> {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, ()> {
        let user = match request.guard::<CurrentUser>().await {
            Outcome::Success(user) => user,
            Outcome::Forward(status) => return Outcome::Forward(status),
            Outcome::Error(e) => return Outcome::Error(e),
        };
        let Outcome::Success(session) = request.guard::<Session<'r>>().await else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let flash = request
            .guard::<Option<FlashMessage<'r>>>()
            .await
            .succeeded()
            .flatten();
        Outcome::Success(Page {
            user,
            session,
            flash,
        })
    }
}

/// The base template's `layout` value.
#[derive(Serialize)]
struct Chrome<'a> {
    user: &'a CurrentUser,
    role_label: &'static str,
    csrf_token: String,
    flash: Option<FlashView>,
    timeout_notice: Option<String>,
    section: &'a str,
}

#[derive(Serialize)]
struct FlashView {
    kind: String,
    message: String,
}

/// A record the user opened lately. Kept in the session's data, so it
/// shows how the library carries application data: gone at logout, and
/// restored by an in-place relogin of the same user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// `company`, `contact` or `deal`.
    pub kind: String,
    /// The record's page.
    pub url: String,
    /// The record's name.
    pub label: String,
}

/// The session key of the recently viewed records.
const VISITS: &str = "recently_viewed";
/// How many recently viewed records are kept.
const MAX_VISITS: usize = 6;

impl Page<'_> {
    /// Puts a record on top of the "recently viewed" list.
    pub fn record_visit(&self, kind: &str, url: String, label: &str) {
        let mut visits = self.visits();
        visits.retain(|visit| visit.url != url);
        visits.insert(
            0,
            Visit {
                kind: kind.to_owned(),
                url,
                label: label.to_owned(),
            },
        );
        visits.truncate(MAX_VISITS);
        if let Err(e) = self.session.insert(VISITS, visits) {
            rocket::warn!("recently viewed not saved: {e}");
        }
    }

    /// The recently viewed records, newest first.
    pub fn visits(&self) -> Vec<Visit> {
        self.session.get(VISITS).unwrap_or_default()
    }

    /// Renders `template` with `context` plus `layout`; `section` picks the
    /// highlighted navigation entry. The library's dialogs need nothing
    /// here: its fairing adds them to every signed-in page.
    pub fn render(
        &self,
        template: impl Into<Cow<'static, str>>,
        section: &str,
        context: impl Serialize,
    ) -> Template {
        let mut value = serde_json::to_value(context).unwrap_or_else(|_| json!({}));
        if !value.is_object() {
            value = json!({});
        }
        let timeout_notice = self.session.timing().map(|timing| {
            let limit = human_duration(timing.expire_after);
            if self.user.is_manager() {
                format!("As a manager you are signed out after {limit} of inactivity.")
            } else {
                format!("You are signed out after {limit} of inactivity.")
            }
        });
        let chrome = Chrome {
            user: &self.user,
            role_label: if self.user.is_manager() {
                "Manager"
            } else {
                "Sales"
            },
            csrf_token: self.session.csrf_token(),
            flash: self.flash.as_ref().map(|f| FlashView {
                kind: f.kind().to_owned(),
                message: f.message().to_owned(),
            }),
            timeout_notice,
            section,
        };
        value["layout"] = json!(chrome);
        Template::render(template, value)
    }
}

/// What a handler answers.
#[derive(Responder)]
pub enum Reply {
    /// A page.
    Page(Template),
    /// A form re-rendered with its validation errors.
    #[response(status = 422)]
    Invalid(Template),
    /// A form refused, shown again.
    #[response(status = 403)]
    Forbidden(Template),
    /// After a successful POST: redirect with a message for the next page.
    Flash(Flash<Redirect>),
    /// A plain redirect.
    Redirect(Redirect),
}

impl Reply {
    /// A POST that did what it said: to `url`, with `message` on top.
    pub fn done(url: impl TryInto<Reference<'static>>, message: impl Into<String>) -> Reply {
        Reply::Flash(Flash::success(Redirect::to(url), message.into()))
    }

    /// A POST refused for a reason the user can act on: back to `url`.
    pub fn refused(url: impl TryInto<Reference<'static>>, message: impl Into<String>) -> Reply {
        Reply::Flash(Flash::error(Redirect::to(url), message.into()))
    }
}

/// Field name → message, rendered next to each field.
pub type FieldErrors = HashMap<&'static str, String>;

/// `1 minute`, `5 minutes`, `90 seconds`: how long the idle limit is.
pub fn human_duration(seconds: i64) -> String {
    match seconds {
        60 => "1 minute".to_owned(),
        s if s >= 120 && s % 60 == 0 => format!("{} minutes", s / 60),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes {} seconds", s / 60, s % 60),
    }
}

/// `1234567` (cents) → `$12,345.67`, and whole amounts without cents.
pub fn format_money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let digits = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match cents % 100 {
        0 => format!("{sign}${grouped}"),
        rest => format!("{sign}${grouped}.{rest:02}"),
    }
}

/// `today`, `yesterday`, `3 days ago`, `2 months ago` for a Unix time.
pub fn ago(unix: i64, now: i64) -> String {
    let days = (now - unix).max(0) / 86_400;
    match days {
        0 => "today".to_owned(),
        1 => "yesterday".to_owned(),
        2..=44 => format!("{days} days ago"),
        _ => format!("{} months ago", (days + 15) / 30),
    }
}

/// HTML escaping for text and quoted attributes: `&`, `<`, `>`, `"`, `'`.
/// Tera's default also turns every `/` into `&#x2F;`, which makes every
/// link and form action in the markup unreadable for no safety gain.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The app's Tera setup: escaping (see [`escape_html`]) and the filters
/// `money` (cents) and `ago` (Unix seconds).
pub fn configure_tera(tera: &mut Tera) {
    tera.set_escape_fn(escape_html);
    tera.register_filter("money", |value: &Value, _: &HashMap<String, Value>| {
        let cents = value
            .as_i64()
            .ok_or_else(|| tera::Error::msg("money: expects cents"))?;
        Ok(Value::String(format_money(cents)))
    });
    tera.register_filter("ago", |value: &Value, _: &HashMap<String, Value>| {
        let unix = value
            .as_i64()
            .ok_or_else(|| tera::Error::msg("ago: expects Unix seconds"))?;
        Ok(Value::String(ago(unix, crate::db::now())))
    });
}

fn error_page(status: u16, title: &str, message: &str) -> Template {
    Template::render("error", context! { status, title, message })
}

#[catch(403)]
fn forbidden() -> Template {
    error_page(
        403,
        "This form could not be accepted",
        "Its security token is missing or out of date, so nothing was saved. \
         Go back, reload the page and try again.",
    )
}

#[catch(404)]
fn not_found() -> Template {
    error_page(
        404,
        "Not found",
        "There is nothing here, or it was deleted.",
    )
}

#[catch(422)]
fn unprocessable() -> Template {
    error_page(
        422,
        "This form could not be read",
        "Nothing was saved. Go back and try again.",
    )
}

#[catch(500)]
fn internal_error() -> Template {
    error_page(
        500,
        "Something went wrong",
        "Nothing was saved. Please try again in a moment.",
    )
}

#[catch(503)]
fn unavailable() -> Template {
    error_page(
        503,
        "Temporarily unavailable",
        "Please try again in a moment.",
    )
}

/// HTML error pages for the statuses the app produces (401 is the library's).
pub fn catchers() -> Vec<Catcher> {
    catchers![
        forbidden,
        not_found,
        unprocessable,
        internal_error,
        unavailable
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money() {
        assert_eq!(format_money(0), "$0");
        assert_eq!(format_money(4_800_000), "$48,000");
        assert_eq!(format_money(12_600_000_050), "$126,000,000.50");
        assert_eq!(format_money(99_999), "$999.99");
    }

    #[test]
    fn escaping_keeps_slashes() {
        assert_eq!(
            escape_html(r#"/a?b=1&c=<x> "q" 'y'"#),
            "/a?b=1&amp;c=&lt;x&gt; &quot;q&quot; &#x27;y&#x27;"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(60), "1 minute");
        assert_eq!(human_duration(10), "10 seconds");
        assert_eq!(human_duration(150), "2 minutes 30 seconds");
    }

    #[test]
    fn relative_days() {
        assert_eq!(ago(1000, 1000), "today");
        assert_eq!(ago(0, 86_400 * 3), "3 days ago");
        assert_eq!(ago(0, 86_400 * 90), "3 months ago");
    }
}
