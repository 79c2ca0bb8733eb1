//! Relogin in place: the session's data is backed up when it expires and
//! goes back to the same user, and to nobody else, after the relogin; the
//! page the relogin dialog's frame ends on.

mod backup;
pub(crate) mod page;

pub use backup::{after_login, Relogin};
pub(crate) use backup::{expire, restore, Outcome};
