//! Every handler the fairing mounts under `/session_security`, and the
//! crate's catchers. Each feature keeps its own handlers (the assets in
//! `client`, the relogin result in `relogin`); this list mounts them all.

mod catchers;
mod events;
mod protocol;

pub use catchers::catchers;

pub(crate) use events::OpenStreams;

use rocket::{routes, Route};

use crate::client::asset_routes;
use crate::relogin::page;

/// The routes the fairing mounts at [`BASE`](crate::paths::BASE).
pub(crate) fn routes() -> Vec<Route> {
    routes![
        protocol::ping,
        protocol::status,
        protocol::keepalive,
        protocol::logout,
        events::events,
        asset_routes::script,
        asset_routes::style,
        asset_routes::after_relogin,
        page::after_relogin
    ]
}
