//! Test helpers shared by the library's tests and the demo's, so neither
//! includes the other's files: the one [`TestApp`] handle, the
//! headless-Chromium driver, HTML scraping, a store that pauses where a
//! race test wants it, and temporary directories that clean up after
//! themselves.

mod app;
pub mod browser;
pub mod html;
pub mod pausable;
pub mod proxy;
mod temp;

pub use app::{admin, token_hash, TestApp};
/// The WebDriver client crate, for tests that name its types.
pub use fantoccini;
pub use temp::{process_dir, TempDir};
