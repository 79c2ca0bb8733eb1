//! What kind of request this is, decided in one place: sent by a script or
//! by a page navigation, made by another site's page, answered with HTML.
//! Headers are found by a scan: Rocket's `get_one` hashes the name with
//! SipHash a byte at a time, and the fairing reads headers on every request.

use std::borrow::Cow;

use rocket::http::HeaderMap;
use rocket::{Request, Response};

/// Set on a request to an API route ([`AuthenticatedApi`](crate::AuthenticatedApi)),
/// which answers scripts whatever its headers say.
struct ApiRoute(bool);

/// Marks `request` as one to answer as a script's.
pub(crate) fn answer_as_script(request: &Request<'_>) {
    request.local_cache(|| ApiRoute(true));
}

/// Whether a request was sent by script rather than by a page navigation
/// (or came to an API route). `Sec-Fetch-Mode: navigate` is a browser's
/// navigation whatever else it says; otherwise `HX-Request` (htmx),
/// `X-Requested-With` or a JSON `Accept` make a script.
pub(crate) fn is_background(request: &Request<'_>) -> bool {
    if request.local_cache(|| ApiRoute(false)).0 {
        return true;
    }
    let headers = request.headers();
    if header(headers, "Sec-Fetch-Mode") == Some("navigate") {
        return false;
    }
    header(headers, "HX-Request").is_some()
        || header(headers, "X-Requested-With").is_some()
        || request
            .accept()
            .is_some_and(|accept| accept.preferred().media_type().is_json())
}

/// A request another site's page made that is not a navigation: a script
/// or an image of a sibling subdomain (whose requests carry `SameSite=Lax`
/// cookies) must not keep a session alive. Browsers without Fetch
/// Metadata send neither header, and count as before.
pub(crate) fn is_cross_origin(request: &Request<'_>) -> bool {
    let headers = request.headers();
    let site = header(headers, "Sec-Fetch-Site");
    if matches!(site, None | Some("same-origin") | Some("none")) {
        return false;
    }
    header(headers, "Sec-Fetch-Mode") != Some("navigate")
}

/// The first value of the header `name`. Rocket's `get_one` hashes the
/// name with SipHash a byte at a time (some 800 instructions); a scan of
/// a request's or response's few headers costs a fraction of that, and
/// the fairing reads headers on every request.
pub(crate) fn header<'h>(headers: &'h HeaderMap<'_>, name: &str) -> Option<&'h str> {
    let found = headers.iter().find(|h| h.name == name)?;
    match found.value {
        Cow::Borrowed(value) => Some(value),
        Cow::Owned(_) => headers.get_one(name),
    }
}

/// Whether the response says it is HTML, without parsing its media type.
pub(crate) fn is_html(response: &Response<'_>) -> bool {
    let content_type = header(response.headers(), "Content-Type");
    content_type.is_some_and(|t| {
        t.trim_start()
            .get(..9)
            .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
    })
}
