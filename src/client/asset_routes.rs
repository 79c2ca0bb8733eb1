//! The embedded script and stylesheet, at content-hashed URLs.

use rocket::http::{ContentType, Header};
use rocket::{get, Responder};

use crate::client::assets;

#[derive(Responder)]
pub(crate) struct Asset {
    body: &'static str,
    content_type: ContentType,
    cache: Header<'static>,
}

fn asset(hash: &str, body: &'static str, content_type: ContentType) -> Option<Asset> {
    // An old hash is a 404, not today's file cached forever under the old URL.
    (hash == assets::version()).then(|| Asset {
        body,
        content_type,
        cache: Header::new("Cache-Control", "public, max-age=31536000, immutable"),
    })
}

#[get("/assets/<hash>/script.js")]
pub(crate) fn script_asset(hash: &str) -> Option<Asset> {
    asset(hash, assets::SCRIPT, ContentType::JavaScript)
}

#[get("/assets/<hash>/style.css")]
pub(crate) fn style_asset(hash: &str) -> Option<Asset> {
    asset(hash, assets::STYLE, ContentType::CSS)
}

#[get("/assets/<hash>/after_relogin.js")]
pub(crate) fn after_relogin_script(hash: &str) -> Option<Asset> {
    asset(hash, assets::AFTER_RELOGIN, ContentType::JavaScript)
}
