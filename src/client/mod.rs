//! The browser half: the embedded script and style and their routes, the
//! dialogs' markup, their injection into signed-in pages, and the locales.

pub(crate) mod asset_routes;
pub(crate) mod assets;
pub(crate) mod dialogs;
pub(crate) mod inject;
pub(crate) mod locales;
