//! Puts the dialogs' markup into every signed-in HTML page, so nothing has
//! to be repeated per page: just before `</body>` of a `text/html`
//! response with a known size that does not carry it already. Fragments
//! without `</body>` (htmx partials) and streamed bodies are left alone.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};

use rocket::{Request, Response};

use crate::paths::BASE;
use crate::request::RequestSession;
use crate::shared::Shared;
use crate::templates::Dialogs;

/// A page that has the warning dialog already (the include, or markup of
/// the application's own) gets nothing.
const MARKER: &[u8] = b"id=\"session_security_warning\"";
/// Pages larger than this are streamed past untouched.
const MAX_PAGE: usize = 8 << 20;

/// Injects the dialogs into `response` when the settings and the page
/// call for it; with `inject` off, warns once (debug builds) about a
/// signed-in page that has no include.
pub(crate) async fn dialogs(
    shared: &Shared,
    request: &Request<'_>,
    session: &RequestSession,
    response: &mut Response<'_>,
) {
    let html = response.content_type().is_some_and(|t| t.is_html());
    let size = response.body().preset_size();
    // The crate's own pages (the relogin result) run their own script.
    let own = request.uri().path().starts_with(BASE);
    if !html || own || size.is_none_or(|size| size > MAX_PAGE) {
        return;
    }
    let dialogs = Dialogs::of(session, shared);
    if !dialogs.authenticated || (!shared.config.inject && !cfg!(debug_assertions)) {
        return;
    }
    let Ok(page) = response.body_mut().to_bytes().await else {
        return;
    };
    let placed = contains(&page, MARKER);
    let end = body_end(&page);
    let page = match (placed, end, shared.config.inject) {
        (false, Some(at), true) => match dialogs.to_html() {
            Ok(markup) => [&page[..at], markup.as_bytes(), &page[at..]].concat(),
            Err(e) => {
                rocket::warn!("session security: dialogs not injected: {e}");
                page
            }
        },
        (false, Some(_), false) => {
            warn_once(request);
            page
        }
        _ => page,
    };
    response.set_sized_body(page.len(), Cursor::new(page));
}

fn warn_once(request: &Request<'_>) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        rocket::warn!(
            "session security: `{}` is a signed-in page without the dialogs, and \
             `session_security.inject` is off: add {{% include \"session_security/all.html\" %}} \
             to its base template, or turn `inject` back on",
            request.uri().path()
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Where the last `</body` starts, in any letter case.
fn body_end(page: &[u8]) -> Option<usize> {
    const CLOSE: &[u8] = b"</body";
    (0..=page.len().checked_sub(CLOSE.len())?)
        .rev()
        .find(|&at| page[at..at + CLOSE.len()].eq_ignore_ascii_case(CLOSE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_body_end_in_any_case() {
        assert_eq!(body_end(b"<body>x</body></html>"), Some(7));
        assert_eq!(body_end(b"<BODY>x</BODY >"), Some(7));
        assert_eq!(body_end(b"<p>a</p><p>b</p>"), None, "a fragment");
        assert_eq!(body_end(b"</body><!-- </body> -->"), Some(12));
        assert_eq!(body_end(b""), None);
    }
}
