//! Puts the dialogs' markup into every signed-in HTML page, so nothing has
//! to be repeated per page: just before the real `</body>` of a `text/html`
//! response with a known size that does not carry it already. Fragments
//! without `</body>` (htmx partials), streamed, compressed, non-UTF-8,
//! downloaded and file bodies are left alone.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};

use rocket::{Request, Response};

use crate::client::dialogs::Dialogs;
use crate::runtime::Runtime;
use crate::session::state::RequestSession;

/// A page that has the warning dialog already (the include, or markup of
/// the application's own) gets nothing.
const MARKER: &[u8] = b"id=\"session_security_warning\"";
/// Pages larger than this are streamed past untouched.
const MAX_PAGE: usize = 8 << 20;

/// Injects the dialogs into `response` when the settings and the page
/// call for it; with `inject` off, warns once (debug builds) about a
/// signed-in page that has no include. The fairing calls it for signed-in
/// HTML responses outside the crate's own routes only.
pub(crate) async fn dialogs(
    runtime: &Runtime,
    request: &Request<'_>,
    session: &RequestSession,
    response: &mut Response<'_>,
) {
    // Only a body whose responder preset its size is read. Rocket's
    // in-memory responders (`&str`, `String`, `RawHtml`, templates) preset
    // it; its file responders (`tokio::fs::File`, `NamedFile`, so
    // `FileServer` too) hand over `sized_body(None, file)`, sized by
    // seeking only after the fairings ran; streams have no size at all. So
    // files and streams pass without being read. Nothing else in Rocket's
    // public `Body` tells a file from a buffer: a file whose size an
    // earlier fairing (`Body::size()`) or its responder preset looks like a
    // page here.
    let sized = response.body().preset_size();
    if !is_page(response) || sized.is_none_or(|size| size > MAX_PAGE) {
        return;
    }
    let dialogs = Dialogs::of(session, runtime, request);
    if !dialogs.authenticated || (!runtime.config.inject && !cfg!(debug_assertions)) {
        return;
    }
    let Ok(page) = response.body_mut().to_bytes().await else {
        return;
    };
    let placed = contains(&page, MARKER);
    // The markup is UTF-8: spliced into a page in another encoding
    // (undeclared, or mislabelled as UTF-8) it would come out garbled.
    let end = std::str::from_utf8(&page)
        .ok()
        .and_then(|_| body_end(&page));
    let page = match (placed, end, runtime.config.inject) {
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

/// Whether the response is an HTML document the markup can be spliced into
/// as text: not compressed (the bytes are not the markup; any
/// `Content-Encoding`, without reading it), not declared in a charset other
/// than UTF-8, and not a download (`Content-Disposition: attachment` is a
/// file to save, not a page to show).
fn is_page(response: &Response<'_>) -> bool {
    let Some(content_type) = response.content_type() else {
        return false;
    };
    let utf8 = content_type
        .param("charset")
        .is_none_or(|c| c.eq_ignore_ascii_case("utf-8") || c.eq_ignore_ascii_case("utf8"));
    let headers = response.headers();
    let encoded = headers.contains("Content-Encoding");
    let attachment = headers.get("Content-Disposition").any(|value| {
        let kind = value.split(';').next().unwrap_or_default();
        kind.trim().eq_ignore_ascii_case("attachment")
    });
    content_type.is_html() && utf8 && !encoded && !attachment
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, 0, needle).is_some()
}

/// Where `needle` first occurs in `haystack` at or after `from`.
fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let rest = haystack.get(from..)?;
    let found = rest.windows(needle.len()).position(|w| w == needle)?;
    Some(from + found)
}

/// Elements whose content is text up to their own end tag: a `</body>` in
/// there is a script's string, a stylesheet's comment, a text being
/// edited or a title, not the end of the page.
const RAW_TEXT: [&[u8]; 4] = [b"script", b"style", b"textarea", b"title"];

/// Where the real `</body>` starts: the last one that is not in a comment,
/// a raw-text element ([`RAW_TEXT`]) or a `<template>` (inert markup;
/// templates nest). Any letter case, whitespace allowed before its `>`.
/// `None` for a fragment, and for a page whose every `</body>` is in one
/// of those: no guess is better than markup in the wrong place.
///
/// A forward scan from one `<` to the next, skipping comments and raw text
/// whole, so a `</body>` the browser would not take as the end is never
/// seen as one; an unclosed comment or raw-text element runs to the end of
/// the page, as in a browser.
fn body_end(page: &[u8]) -> Option<usize> {
    let mut end = None;
    let mut templates = 0_usize;
    let mut at = 0;
    while let Some(tag) = find(page, at, b"<") {
        let rest = &page[tag..];
        at = if rest.starts_with(b"<!--") {
            // From the second dash: `<!-->` and `<!--->` are whole comments.
            let Some(close) = find(page, tag + 2, b"-->") else {
                break;
            };
            close + 3
        } else if let Some(name) = RAW_TEXT.iter().find(|name| is_tag(rest, b"<", name)) {
            let Some(close) = end_tag(page, tag + 1 + name.len(), name) else {
                break;
            };
            close
        } else if is_tag(rest, b"<", b"template") {
            templates += 1;
            tag + 1
        } else if is_tag(rest, b"</", b"template") {
            templates = templates.saturating_sub(1);
            tag + 1
        } else {
            if templates == 0 && is_body_end(rest) {
                end = Some(tag);
            }
            tag + 1
        };
    }
    end
}

/// Whether `rest` starts with the tag `name` opened by `open` (`<` or
/// `</`): in any letter case, and followed by what ends a tag name, so
/// `<scripts>` is not `<script>`.
fn is_tag(rest: &[u8], open: &[u8], name: &[u8]) -> bool {
    let Some(after) = rest.strip_prefix(open) else {
        return false;
    };
    after
        .split_at_checked(name.len())
        .is_some_and(|(tag, after)| {
            tag.eq_ignore_ascii_case(name)
                && after
                    .first()
                    .is_none_or(|&c| c == b'>' || c == b'/' || c.is_ascii_whitespace())
        })
}

/// Where the end tag of raw-text element `name` starts, from `from` on.
fn end_tag(page: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut at = from;
    loop {
        let close = find(page, at, b"</")?;
        if is_tag(&page[close..], b"</", name) {
            return Some(close);
        }
        at = close + 2;
    }
}

/// Whether `rest` starts with `</body>`, in any letter case, whitespace
/// allowed before the `>`.
fn is_body_end(rest: &[u8]) -> bool {
    const CLOSE: &[u8] = b"</body";
    rest.split_at_checked(CLOSE.len())
        .is_some_and(|(tag, after)| {
            tag.eq_ignore_ascii_case(CLOSE)
                && after.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'>')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_body_end_in_any_case() {
        assert_eq!(body_end(b"<body>x</body></html>"), Some(7));
        assert_eq!(body_end(b"<BODY>x</BODY >"), Some(7));
        assert_eq!(body_end(b"<body>x</body\n\t>"), Some(7));
        assert_eq!(body_end(b"<p>a</p><p>b</p>"), None, "a fragment");
        assert_eq!(body_end(b"<body></body></body>"), Some(13));
        assert_eq!(body_end(b""), None);
    }

    #[test]
    fn only_a_real_end_tag_counts() {
        assert_eq!(body_end(b"<body></bodyx></body-></body"), None);
        assert_eq!(body_end(b"<body></body x>"), None, "only whitespace");
    }

    #[test]
    fn comments_raw_text_and_templates_are_skipped() {
        let cases: [(&[u8], Option<usize>); 11] = [
            (b"</body><!-- </body> -->", Some(0)),
            (b"</body><!-- </body>", Some(0)),
            (b"<!--></body>", Some(5)),
            (b"<!---></body>", Some(6)),
            (b"</body><script>s = \"</body>\"</script>", Some(0)),
            (b"<SCRIPT type=module>'</body>'</SCRIPT ></body>", Some(39)),
            (b"<scripts></body>", Some(9)),
            (b"</body><style>/* </body> */</style>", Some(0)),
            (b"</body><textarea></body></textarea>", Some(0)),
            (
                b"</body><template><template></template></body></template>",
                Some(0),
            ),
            (b"<template></body></template></body>", Some(28)),
        ];
        for (page, end) in cases {
            assert_eq!(body_end(page), end, "{}", String::from_utf8_lossy(page));
        }
    }
}
