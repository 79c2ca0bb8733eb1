//! The fairing: what it wires at launch, the rules it applies to every
//! request, what it does to every response, and its background work.

pub(crate) mod background;
mod load;
pub(crate) mod outage;
mod save;
mod wiring;

pub use wiring::SessionSecurity;
