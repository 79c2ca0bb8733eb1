//! The answer to a login the throttle refused: `429` or `503` with
//! `Retry-After`, as JSON to scripts and as a short page to browsers.

use std::fmt;
use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::Request;

/// Why a login was refused before its password was checked. Answers
/// `429 Too Many Requests` or `503 Service Unavailable`, both with
/// `Retry-After`: JSON `{"error": "too_many_failures" | "busy",
/// "retry_after": seconds}` to scripts (JSON `Accept` or
/// `X-Requested-With`), a short page to browsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefused {
    /// This username failed too often in a row from this address; it may
    /// try again in `retry_after` seconds.
    TooManyFailures {
        /// Seconds until the pair may try again.
        retry_after: u64,
    },
    /// Every password-check permit stayed taken for `hash_wait_ms`; the
    /// server is shedding load rather than queueing hashes without bound.
    Busy {
        /// Seconds after which a retry may find a free permit.
        retry_after: u64,
    },
}

impl LoginRefused {
    /// `429 Too Many Requests` or `503 Service Unavailable`.
    pub fn status(&self) -> Status {
        match self {
            LoginRefused::TooManyFailures { .. } => Status::TooManyRequests,
            LoginRefused::Busy { .. } => Status::ServiceUnavailable,
        }
    }

    /// Seconds the client should wait, as sent in `Retry-After`.
    pub fn retry_after(&self) -> u64 {
        match *self {
            LoginRefused::TooManyFailures { retry_after } | LoginRefused::Busy { retry_after } => {
                retry_after
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            LoginRefused::TooManyFailures { .. } => "too_many_failures",
            LoginRefused::Busy { .. } => "busy",
        }
    }

    fn page(&self) -> String {
        let (title, text) = match self {
            LoginRefused::TooManyFailures { retry_after } => (
                "Too many failed sign-ins",
                format!(
                    "This username failed to sign in too often from your address. \
                     Try again in {retry_after} seconds."
                ),
            ),
            LoginRefused::Busy { .. } => (
                "Busy",
                "The server is checking many sign-ins at once. Try again in a few seconds."
                    .to_owned(),
            ),
        };
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
        )
    }
}

impl fmt::Display for LoginRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginRefused::TooManyFailures { retry_after } => {
                write!(
                    f,
                    "too many failed logins in a row; retry in {retry_after} s"
                )
            }
            LoginRefused::Busy { retry_after } => {
                write!(
                    f,
                    "too many password checks at once; retry in {retry_after} s"
                )
            }
        }
    }
}

impl std::error::Error for LoginRefused {}

impl<'r> Responder<'r, 'static> for LoginRefused {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let (content_type, body) = match is_background(request) {
            // Two fields of known shape: an ASCII code and a number.
            true => {
                let (code, retry_after) = (self.code(), self.retry_after());
                let body = format!("{{\"error\":\"{code}\",\"retry_after\":{retry_after}}}");
                (ContentType::JSON, body)
            }
            false => (ContentType::HTML, self.page()),
        };
        Response::build()
            .status(self.status())
            .header(content_type)
            .header(Header::new("Retry-After", self.retry_after().to_string()))
            .header(Header::new("Cache-Control", "no-store"))
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}

/// Whether a request was sent by script rather than by a page navigation:
/// `Sec-Fetch-Mode: navigate` is a browser's navigation whatever else it
/// says; otherwise `HX-Request` (htmx), `X-Requested-With` or a JSON
/// `Accept` make a script.
///
/// This mirrors the rule of `rocket_session_security` (its
/// `classify::is_background`), so a page that uses both crates gets JSON
/// from both for the same requests; change them together.
fn is_background(request: &Request<'_>) -> bool {
    let headers = request.headers();
    if headers.get_one("Sec-Fetch-Mode") == Some("navigate") {
        return false;
    }
    headers.contains("HX-Request")
        || headers.contains("X-Requested-With")
        || request
            .accept()
            .is_some_and(|accept| accept.preferred().media_type().is_json())
}
