//! The answer while the session store is down: `503` with `Retry-After`,
//! never a logout, and no cookie, so the browser's live session cookie
//! survives the outage.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::{Request, Response};

use crate::classify::is_background;

/// Seconds a client should wait before trying again.
pub(crate) const RETRY_AFTER: u64 = 5;

const PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"5\">\
<title>Briefly unavailable</title></head><body>\
<h1>Briefly unavailable</h1>\
<p>The service cannot reach its session store right now. You are still signed in; \
this page tries again by itself in a few seconds.</p></body></html>\n";

const JSON: &str = "{\"error\":\"store_unavailable\",\"message\":\"the session store did not \
answer; you are still signed in, retry shortly\"}";

/// Turns `response` into the `503` of a request the store failed. Every
/// `Set-Cookie` the application added goes too: nothing this request
/// decided about the session may reach the browser.
pub(crate) fn respond(request: &Request<'_>, response: &mut Response<'_>) {
    response.set_status(Status::ServiceUnavailable);
    response.remove_header("Set-Cookie");
    response.set_header(Header::new("Retry-After", RETRY_AFTER.to_string()));
    response.set_header(Header::new("Cache-Control", "no-store"));
    let (content_type, body) = match is_background(request) {
        true => (ContentType::JSON, JSON),
        false => (ContentType::HTML, PAGE),
    };
    response.set_header(content_type);
    response.set_sized_body(body.len(), Cursor::new(body));
}
