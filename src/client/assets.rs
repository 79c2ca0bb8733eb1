//! The script and stylesheet, embedded in the crate, and their
//! content-hashed URLs (served by `routes::assets` with long cache
//! headers): no file server to set up, and a new release never meets a
//! stale cached copy. What is embedded is `static/session_security/`, which
//! `client/build` generates from the readable source in `client/src/`
//! (bundled and minified, names mangled) and which is committed, so that
//! building the crate needs no npm; `tests/http/asset_weight.rs` fails when the
//! two drift apart.

use std::sync::OnceLock;

use crate::paths::ASSETS_PATH;

pub(crate) const SCRIPT: &str = include_str!("../../static/session_security/script.js");
pub(crate) const STYLE: &str = include_str!("../../static/session_security/style.css");
pub(crate) const AFTER_RELOGIN: &str =
    include_str!("../../static/session_security/after_relogin.js");

/// A short content hash of both assets, part of their URLs.
pub(crate) fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        crate::secret::hash(&format!("{SCRIPT}\0{STYLE}\0{AFTER_RELOGIN}"))[..16].to_owned()
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
