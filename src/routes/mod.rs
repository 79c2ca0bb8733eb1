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

/// The routes the fairing mounts at [`BASE`](crate::paths::BASE), named
/// `session_security_<handler>` so that no name meets an application's
/// (`passive_routes` and Rocket's logs go by name).
pub(crate) fn routes() -> Vec<Route> {
    let mut mounted = routes![
        protocol::ping,
        protocol::status,
        protocol::keepalive,
        protocol::logout,
        events::events,
        asset_routes::script_asset,
        asset_routes::style_asset,
        asset_routes::after_relogin_script,
        page::after_relogin
    ];
    for route in &mut mounted {
        let handler = route.name.as_deref().unwrap_or("route");
        route.name = Some(format!("session_security_{handler}").into());
    }
    mounted
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_has_its_own_prefixed_name() {
        let names: Vec<_> = super::routes()
            .iter()
            .map(|r| r.name.as_deref().unwrap_or_default().to_owned())
            .collect();
        for name in &names {
            assert!(name.starts_with("session_security_"), "{name}");
            assert_eq!(names.iter().filter(|n| *n == name).count(), 1, "{name}");
        }
    }
}
