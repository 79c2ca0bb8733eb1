//! The library's tests over HTTP, in one binary (one link on 2 cores):
//! Rocket's local client with an injected clock, the store suite, and,
//! with the `postgres` feature, several instances on one PostgreSQL.

#[path = "../common/mod.rs"]
mod common;
#[cfg(feature = "postgres")]
#[path = "../pg_server/mod.rs"]
mod pg_server;

mod asset_weight;
mod config;
mod cookies;
mod csrf;
mod events;
mod expiry;
#[cfg(feature = "postgres")]
mod faults;
mod inject;
#[cfg(feature = "postgres")]
mod instances;
mod invariant;
mod lifecycle;
mod login_flow;
mod outage;
mod page;
mod ping;
mod properties;
mod purge;
mod races;
mod read_path;
mod relogin;
mod sentinel;
mod store;
mod unauthorized;
mod user_binding;
mod user_sessions;
mod visitors;
