//! The demo's tests in one binary (one link on 2 cores): its pages and
//! forms over HTTP, its deployment checks, and its relogin in the browser.

#[path = "../common/mod.rs"]
mod common;

mod account_sessions;
mod browser_relogin;
mod contacts;
mod csrf;
mod deals_and_companies;
mod deployment;
mod login;
mod login_throttle;
mod metrics;
mod relogin;
mod sqlite_tuning;
mod user_timeouts;
