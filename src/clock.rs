//! Where "now" comes from: injected, so tests move time instead of sleeping.

#[cfg(feature = "test-util")]
use std::sync::atomic::{AtomicI64, Ordering};
#[cfg(feature = "test-util")]
use std::sync::Arc;

/// A source of the current time, in whole Unix seconds (UTC, so no DST or
/// local-time surprises).
pub trait Clock: Send + Sync + 'static {
    /// The current Unix time in seconds.
    fn now(&self) -> i64;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// A clock that only moves when told to; clones share the same time. For
/// tests (feature `test-util`): expiry is then a matter of `advance`, not
/// of sleeping.
#[derive(Debug, Clone)]
#[cfg(feature = "test-util")]
pub struct ManualClock(Arc<AtomicI64>);

#[cfg(feature = "test-util")]
impl ManualClock {
    /// A clock standing at `unix_seconds`.
    pub fn new(unix_seconds: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(unix_seconds)))
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock to `unix_seconds`.
    pub fn set(&self, unix_seconds: i64) {
        self.0.store(unix_seconds, Ordering::SeqCst);
    }
}

#[cfg(feature = "test-util")]
impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
