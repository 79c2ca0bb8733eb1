//! Browser-test harness: the test application served on 127.0.0.1 on a free
//! port with the real clock and short timings, driven by Debian's headless
//! Chromium through ChromeDriver.

pub mod app;

pub use app::{LogsIn, Served, Settings};
pub use test_support::browser::*;

// The browser tests use the common app's paths and store helpers only.
#[allow(dead_code)]
#[path = "../common/mod.rs"]
mod common;
#[cfg(feature = "postgres")]
#[path = "../pg_server/mod.rs"]
mod pg_server;

mod click_through;
mod client;
mod dialog;
mod forged;
mod lock;
mod minimal;
mod push;
mod relogin;
mod smoke;
#[cfg(feature = "postgres")]
mod unavailable;
mod user;
mod warning;
