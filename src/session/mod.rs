//! The session as a handler sees it ([`Session`], the guards), the state of
//! one request, the expiry arithmetic, the cookies, a user's sessions and
//! the reports of every start and end.

mod admin;
pub(crate) mod cookies;
pub(crate) mod device;
pub(crate) mod expiry;
pub(crate) mod guards;
mod handle;
pub(crate) mod per_user;
pub(crate) mod state;

pub use admin::SessionAdmin;
pub(crate) use handle::fairing_missing;
pub use handle::Session;
