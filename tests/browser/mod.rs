//! Browser-test harness: the test application served on 127.0.0.1 on a free
//! port with the real clock and short timings, driven by Debian's headless
//! Chromium through ChromeDriver.

#![allow(dead_code, unused_imports)] // each test binary uses a different part

pub mod app;

pub use app::{LogsIn, Served, Settings};
pub use test_support::browser::*;
