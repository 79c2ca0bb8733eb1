//! The `login_throttle` table: how hard the throttle guards the login, and
//! the backoff arithmetic it implies.

use rocket::figment::Figment;
use rocket::tokio::sync::Semaphore;
use serde::Deserialize;

/// Largest number of seconds a setting may hold: times are Unix seconds in
/// an `i64`, and a wait past `i32::MAX` seconds (68 years) is a typo.
const MAX_SECONDS: u64 = i32::MAX as u64;

/// Largest `tracked_pairs`: far beyond a real flood's reach (see
/// [`ThrottleConfig::tracked_pairs`]), and a guard against a typo that
/// would let the table grow to gigabytes.
const MAX_TRACKED_PAIRS: usize = 100_000_000;

/// Largest `hash_wait_ms`: a login that waits longer has been given up on
/// by its user, while its connection stays held.
const MAX_HASH_WAIT_MS: u64 = 60_000;

/// How hard [`LoginThrottle`](crate::LoginThrottle) guards the login, read
/// by [`LoginThrottle::fairing`](crate::LoginThrottle::fairing) from the
/// `login_throttle` table of Rocket's
/// configuration (`[default.login_throttle]` in `Rocket.toml`, or
/// `ROCKET_LOGIN_THROTTLE='{concurrent_hashes=4}'`). A bad value aborts
/// launch with a message naming the key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Failed logins in a row one username may have from one client
    /// address before that pair has to wait: enough for a user who
    /// mistypes, far too few to guess a password.
    ///
    /// _Default:_ `5`
    pub allowed_failures: u32,
    /// Seconds the pair waits after its `allowed_failures`-th failure in a
    /// row. Every further failure doubles the wait, up to `max_backoff`.
    ///
    /// _Default:_ `30`
    pub backoff: u64,
    /// Longest wait in seconds, so the rightful user is never locked out
    /// for long by someone guessing at their account; at the longest wait
    /// a pair gets under a hundred guesses a day.
    ///
    /// _Default:_ `900`
    pub max_backoff: u64,
    /// Seconds after its last failure when a pair that is not waiting is
    /// forgotten: failures that far apart are not a guessing run.
    ///
    /// _Default:_ `3600`
    pub forget_after: u64,
    /// Most pairs remembered at once (about 80 bytes each, no username
    /// kept), so a flood of made-up usernames cannot grow memory without
    /// bound. When full, forgotten pairs go first, then those with the
    /// fewest failures, oldest first, so a flood pushes out its own pairs
    /// before one that is waiting. Only a checked password adds a pair,
    /// and `concurrent_hashes` bounds how fast that happens: the default
    /// outlasts `max_backoff` at well over a hundred checks a second.
    ///
    /// _Default:_ `100000`
    pub tracked_pairs: usize,
    /// Password checks that may run at once. Each argon2 check holds its
    /// memory (19 MiB with the recommended parameters) and a whole CPU, so
    /// more than one per CPU only makes every login slower and the process
    /// bigger.
    ///
    /// _Default:_ the number of CPUs
    pub concurrent_hashes: Option<usize>,
    /// Milliseconds a login waits for its turn to check the password before
    /// it is answered `503 Service Unavailable` with `Retry-After`: a short
    /// wait absorbs a burst, a long one would only pile up connections.
    ///
    /// _Default:_ `2000`
    pub hash_wait_ms: u64,
    /// Password checks one client address (an IPv4 address, an IPv6 /64)
    /// may run or queue for at once. Its further attempts wait in a line
    /// of their own, so a flood from one address cannot take every
    /// `concurrent_hashes` permit and turn everyone else away with `503`.
    /// At most `concurrent_hashes`.
    ///
    /// _Default:_ half of `concurrent_hashes`, at least 1
    pub hashes_per_address: Option<usize>,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            allowed_failures: 5,
            backoff: 30,
            max_backoff: 900,
            forget_after: 3600,
            tracked_pairs: 100_000,
            concurrent_hashes: None,
            hash_wait_ms: 2000,
            hashes_per_address: None,
        }
    }
}

/// A `login_throttle` value that cannot work: the key and what to do.
/// Launch stops on one, before the application serves an unguarded login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfigError {
    /// The key at fault, e.g. `max_backoff`.
    pub key: String,
    /// What is wrong with it and what to do.
    pub message: String,
}

impl std::fmt::Display for ThrottleConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = ThrottleConfig::TABLE;
        write!(f, "invalid `{table}.{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ThrottleConfigError {}

impl ThrottleConfig {
    /// The name of the configuration table.
    pub const TABLE: &'static str = "login_throttle";

    /// Reads the `login_throttle` table; a missing table means all defaults.
    pub(crate) fn from_figment(figment: &Figment) -> Result<ThrottleConfig, ThrottleConfigError> {
        let config = match figment.extract_inner::<ThrottleConfig>(Self::TABLE) {
            Ok(config) => config,
            Err(e) if e.missing() && e.path.len() <= 1 => ThrottleConfig::default(),
            Err(e) => {
                return Err(ThrottleConfigError {
                    key: e.path.last().cloned().unwrap_or_else(|| Self::TABLE.into()),
                    message: e.kind.to_string(),
                })
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every value; the first that cannot work is the error.
    pub fn validate(&self) -> Result<(), ThrottleConfigError> {
        self.check().map_err(|(key, message)| ThrottleConfigError {
            key: key.into(),
            message,
        })
    }

    /// The first key whose value cannot work, and why.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        let at_least_one = |key, value: u64| match value {
            0 => Err((key, "must be at least 1".to_owned())),
            _ => Ok(()),
        };
        at_least_one("allowed_failures", self.allowed_failures.into())?;
        at_least_one("tracked_pairs", self.tracked_pairs as u64)?;
        at_least_one(
            "concurrent_hashes",
            self.concurrent_hashes.unwrap_or(1) as u64,
        )?;
        for (key, seconds) in [
            ("backoff", self.backoff),
            ("max_backoff", self.max_backoff),
            ("forget_after", self.forget_after),
        ] {
            at_least_one(key, seconds)?;
            if seconds > MAX_SECONDS {
                return Err((key, format!("must be at most {MAX_SECONDS} seconds")));
            }
        }
        if self.max_backoff < self.backoff {
            return Err((
                "max_backoff",
                format!("must be at least backoff ({})", self.backoff),
            ));
        }
        if self.tracked_pairs > MAX_TRACKED_PAIRS {
            return Err((
                "tracked_pairs",
                format!("must be at most {MAX_TRACKED_PAIRS}"),
            ));
        }
        if self.concurrent_hashes.unwrap_or(1) > Semaphore::MAX_PERMITS {
            let most = Semaphore::MAX_PERMITS;
            return Err(("concurrent_hashes", format!("must be at most {most}")));
        }
        at_least_one(
            "hashes_per_address",
            self.hashes_per_address.unwrap_or(1) as u64,
        )?;
        if let (Some(per_address), Some(all)) = (self.hashes_per_address, self.concurrent_hashes) {
            if per_address > all {
                let why = format!("must be at most concurrent_hashes ({all})");
                return Err(("hashes_per_address", why));
            }
        }
        if self.hash_wait_ms > MAX_HASH_WAIT_MS {
            return Err((
                "hash_wait_ms",
                format!("must be at most {MAX_HASH_WAIT_MS}"),
            ));
        }
        Ok(())
    }

    /// Seconds a pair waits after `in_a_row` failures: nothing before
    /// `allowed_failures`, then `backoff`, doubled per further failure.
    pub(crate) fn wait_after(&self, in_a_row: u32) -> u64 {
        if in_a_row < self.allowed_failures {
            return 0;
        }
        let doublings = (in_a_row - self.allowed_failures).min(63);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_starts_at_the_allowed_failures_and_doubles_up_to_the_cap() {
        let rules = ThrottleConfig::default();
        let waits: Vec<u64> = (1..=12).map(|n| rules.wait_after(n)).collect();
        assert_eq!(waits, [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(rules.wait_after(u32::MAX), 900, "no overflow");
    }

    #[test]
    fn impossible_settings_are_named() {
        let bad = |config: ThrottleConfig| config.check().unwrap_err().0;
        let base = ThrottleConfig::default;
        assert_eq!(
            bad(ThrottleConfig {
                allowed_failures: 0,
                ..base()
            }),
            "allowed_failures"
        );
        assert_eq!(
            bad(ThrottleConfig {
                concurrent_hashes: Some(0),
                ..base()
            }),
            "concurrent_hashes"
        );
        assert_eq!(
            bad(ThrottleConfig {
                max_backoff: 10,
                ..base()
            }),
            "max_backoff"
        );
        assert_eq!(
            bad(ThrottleConfig {
                tracked_pairs: 0,
                ..base()
            }),
            "tracked_pairs"
        );
        assert!(base().check().is_ok());
    }
}
