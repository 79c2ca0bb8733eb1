//! The script and stylesheet, embedded in the crate and served at
//! content-hashed URLs with long cache headers: no file server to set up,
//! and a new release never meets a stale cached copy.

use std::sync::OnceLock;

use rocket::http::{ContentType, Header};
use rocket::{get, Responder};

use crate::routes::ASSETS_PATH;

const SCRIPT: &str = include_str!("../static/session_security/script.js");
const STYLE: &str = include_str!("../static/session_security/style.css");
const AFTER_RELOGIN: &str = include_str!("../static/session_security/after_relogin.js");

/// A short content hash of both assets, part of their URLs.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        crate::token::hash(&format!("{SCRIPT}\0{STYLE}\0{AFTER_RELOGIN}"))[..16].to_owned()
    })
}

/// The URL of `script.js`.
pub(crate) fn script_url() -> String {
    format!("{ASSETS_PATH}{}/script.js", version())
}

/// The URL of `style.css`.
pub(crate) fn style_url() -> String {
    format!("{ASSETS_PATH}{}/style.css", version())
}

/// The URL of the relogin frame's script.
pub(crate) fn after_relogin_url() -> String {
    format!("{ASSETS_PATH}{}/after_relogin.js", version())
}

#[derive(Responder)]
pub(crate) struct Asset {
    body: &'static str,
    content_type: ContentType,
    cache: Header<'static>,
}

fn asset(hash: &str, body: &'static str, content_type: ContentType) -> Option<Asset> {
    // An old hash is a 404, not today's file cached forever under the old URL.
    (hash == version()).then(|| Asset {
        body,
        content_type,
        cache: Header::new("Cache-Control", "public, max-age=31536000, immutable"),
    })
}

#[get("/assets/<hash>/script.js")]
pub(crate) fn script(hash: &str) -> Option<Asset> {
    asset(hash, SCRIPT, ContentType::JavaScript)
}

#[get("/assets/<hash>/style.css")]
pub(crate) fn style(hash: &str) -> Option<Asset> {
    asset(hash, STYLE, ContentType::CSS)
}

#[get("/assets/<hash>/after_relogin.js")]
pub(crate) fn after_relogin(hash: &str) -> Option<Asset> {
    asset(hash, AFTER_RELOGIN, ContentType::JavaScript)
}
