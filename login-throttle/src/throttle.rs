//! The throttle itself, the fairing that builds it from the configuration,
//! and the clock both run on.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::tokio::sync::Semaphore;
use rocket::{Build, Rocket};

use crate::config::{ThrottleConfig, ThrottleConfigError};
use crate::pairs::{Pair, Pairs};
use crate::refused::LoginRefused;

/// Where "now" comes from, in whole Unix seconds.
type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock, in whole Unix seconds.
fn system_clock() -> Clock {
    Arc::new(|| match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    })
}

/// Guards a login handler: at most `concurrent_hashes` password checks run
/// at once, and a (username, client address) pair that failed
/// `allowed_failures` times in a row waits, twice as long after each
/// further failure, while other usernames and other addresses carry on.
///
/// Attach [`LoginThrottle::fairing`] (it reads [`ThrottleConfig`] from
/// Rocket's configuration), or manage one built with [`LoginThrottle::new`];
/// the handler takes `&State<LoginThrottle>` and puts its password check
/// into [`LoginThrottle::attempt`]. See the [crate docs](crate) for a
/// walkthrough.
pub struct LoginThrottle {
    rules: ThrottleConfig,
    hashes: Arc<Semaphore>,
    /// The line of each address with attempts under way; an entry lives
    /// only while one of its attempts waits or hashes.
    addresses: Mutex<HashMap<u128, Arc<Semaphore>>>,
    per_address: usize,
    hash_wait: Duration,
    pairs: Mutex<Pairs>,
    clock: Clock,
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("rules", &self.rules)
            .field("per_address", &self.per_address)
            .field("tracked_pairs", &self.tracked_pairs())
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    /// A throttle on the wall clock, to put into managed state with
    /// `.manage(..)`; an error names the first value of `config` that
    /// cannot work (zero failures, permits or seconds, `max_backoff` below
    /// `backoff`, …).
    pub fn new(config: ThrottleConfig) -> Result<LoginThrottle, ThrottleConfigError> {
        config.validate()?;
        let permits = config
            .concurrent_hashes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
        let per_address = config
            .hashes_per_address
            .unwrap_or(permits / 2)
            .clamp(1, permits);
        Ok(LoginThrottle {
            hashes: Arc::new(Semaphore::new(permits)),
            addresses: Mutex::default(),
            per_address,
            hash_wait: Duration::from_millis(config.hash_wait_ms),
            pairs: Mutex::new(Pairs::default()),
            clock: system_clock(),
            rules: config,
        })
    }

    /// The fairing that reads the `login_throttle` table (see
    /// [`ThrottleConfig`]) at ignition, aborts launch on a bad value, and
    /// manages the throttle, on the wall clock unless
    /// [`ThrottleFairing::with_clock`] says otherwise. Use it or
    /// `.manage(LoginThrottle::new(..))`, not both: Rocket refuses to
    /// manage one type twice.
    pub fn fairing() -> ThrottleFairing {
        ThrottleFairing { clock: None }
    }

    /// Uses `clock`, which answers the current time in whole Unix seconds,
    /// instead of the wall clock, so tests can move time through a backoff
    /// instead of sleeping. See [`ThrottleFairing::with_clock`].
    #[must_use]
    pub fn with_clock<C>(self, clock: C) -> Self
    where
        C: Fn() -> i64 + Send + Sync + 'static,
    {
        LoginThrottle {
            clock: Arc::new(clock),
            ..self
        }
    }

    /// Checks a login of `username` from `client` with `verify`, the
    /// password check, and answers whether it passed.
    ///
    /// A pair that must wait is refused at once, without a hash. Otherwise
    /// the attempt waits up to `hash_wait_ms` for one of the
    /// `concurrent_hashes` permits, runs `verify` on a blocking thread
    /// holding it, and remembers the outcome: a failure counts towards the
    /// backoff, a success clears the pair.
    ///
    /// Pass the username as the lookup sees it (trimmed, normalised), and
    /// the address you trust: [`Request::client_ip`](rocket::Request::client_ip)
    /// believes Rocket's `ip_header` (`X-Real-IP` unless configured), which
    /// any client can write unless a proxy in front replaces it; without
    /// such a proxy use the peer address
    /// ([`Request::remote`](rocket::Request::remote), or a `SocketAddr`
    /// parameter of the handler), or set `ip_header = false`. IPv6
    /// addresses count per /64, since one subscriber usually holds a whole
    /// /64.
    ///
    /// Check unknown usernames too (against a dummy hash): a shortcut would
    /// tell which usernames exist, by time and by which pairs get throttled.
    ///
    /// # Errors
    ///
    /// [`LoginRefused::TooManyFailures`] when the pair must wait, and
    /// [`LoginRefused::Busy`] when no permit came within `hash_wait_ms`;
    /// `verify` did not run.
    pub async fn attempt<F>(
        &self,
        username: &str,
        client: IpAddr,
        verify: F,
    ) -> Result<bool, LoginRefused>
    where
        F: FnOnce() -> bool + Send + 'static,
    {
        let pair = Pair::new(username, client);
        // A waiting pair costs nothing: refused before it queues for a hash.
        let waiting = self.pairs().waiting(&pair, self.now(), &self.rules);
        if let Some(retry_after) = waiting {
            return Err(LoginRefused::TooManyFailures { retry_after });
        }
        // First the address's own line, then the shared permits: one
        // address holds at most `hashes_per_address` of them.
        let line = self.line(pair.client);
        let acquire = async {
            let mine = line.clone().acquire_owned().await?;
            let shared = self.hashes.clone().acquire_owned().await?;
            Ok::<_, rocket::tokio::sync::AcquireError>((mine, shared))
        };
        let acquired = rocket::tokio::time::timeout(self.hash_wait, acquire).await;
        drop(line);
        let permit = match acquired {
            Ok(Ok(permit)) => permit,
            _ => {
                self.forget_idle_lines();
                let retry_after = self.rules.hash_wait_ms.div_ceil(1000).max(1);
                return Err(LoginRefused::Busy { retry_after });
            }
        };
        // Counted before the check and forgiven on success: attempts that
        // arrive together cannot all pass the check before any fails.
        let counted = self.pairs().count_failure(pair, self.now(), &self.rules);
        let wait = match counted {
            Ok(wait) => wait,
            Err(retry_after) => return Err(LoginRefused::TooManyFailures { retry_after }),
        };
        // The permit goes with the hash: a request dropped meanwhile must
        // not free its place while the hash still runs.
        let verified = rocket::tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify()
        })
        .await
        .unwrap_or(false);
        self.forget_idle_lines();
        if verified {
            self.pairs().clear(&pair);
        } else if wait > 0 {
            rocket::warn!(
                "login throttle: a username failed to log in from one address too often in a \
                 row; that pair waits {wait} s"
            );
        }
        Ok(verified)
    }

    /// The line of `client`'s attempts.
    fn line(&self, client: u128) -> Arc<Semaphore> {
        let mut lines = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        let per_address = self.per_address;
        let line = lines.entry(client);
        line.or_insert_with(|| Arc::new(Semaphore::new(per_address)))
            .clone()
    }

    /// Drops the lines nobody waits in or holds, so the table only ever
    /// holds addresses with attempts under way.
    fn forget_idle_lines(&self) {
        let mut lines = self.addresses.lock().unwrap_or_else(|p| p.into_inner());
        lines.retain(|_, line| Arc::strong_count(line) > 1);
    }

    /// How many (username, address) pairs are remembered now; never more
    /// than `tracked_pairs`.
    pub fn tracked_pairs(&self) -> usize {
        self.pairs().len()
    }

    fn now(&self) -> i64 {
        (self.clock)()
    }

    fn pairs(&self) -> MutexGuard<'_, Pairs> {
        // Nothing panics while holding it; if something did, the table is
        // still a table.
        self.pairs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The fairing [`LoginThrottle::fairing`] returns: at ignition it reads
/// [`ThrottleConfig`] from the `login_throttle` table, aborts launch with a
/// message naming the key when a value cannot work, and manages the
/// [`LoginThrottle`].
#[must_use = "a fairing does nothing until it is attached"]
pub struct ThrottleFairing {
    clock: Option<Clock>,
}

impl fmt::Debug for ThrottleFairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clock = match self.clock {
            Some(_) => "given",
            None => "system",
        };
        f.debug_struct("ThrottleFairing")
            .field("clock", &clock)
            .finish()
    }
}

impl ThrottleFairing {
    /// Runs the throttle on `clock`, which answers the current time in
    /// whole Unix seconds, instead of the wall clock: tests move time
    /// through a backoff instead of sleeping.
    ///
    /// The throttle has no clock of its own to share: to move it together
    /// with another fairing's manual clock, pass a closure that reads that
    /// clock. With `rocket_session_security`:
    ///
    /// ```
    /// use rocket_login_throttle::LoginThrottle;
    /// use rocket_session_security::{Clock, ManualClock, SessionSecurity};
    ///
    /// let clock = ManualClock::new(1_700_000_000);
    /// let security = SessionSecurity::fairing().with_clock(clock.clone());
    /// let throttle = LoginThrottle::fairing().with_clock({
    ///     let clock = clock.clone();
    ///     move || clock.now()
    /// });
    /// let rocket = rocket::build().attach(security).attach(throttle);
    /// clock.advance(30); // both fairings see the same time
    /// # drop(rocket);
    /// ```
    pub fn with_clock<C>(self, clock: C) -> Self
    where
        C: Fn() -> i64 + Send + Sync + 'static,
    {
        ThrottleFairing {
            clock: Some(Arc::new(clock)),
        }
    }
}

#[rocket::async_trait]
impl Fairing for ThrottleFairing {
    fn info(&self) -> Info {
        Info {
            name: "Login Throttle",
            kind: Kind::Ignite,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let config = match ThrottleConfig::from_figment(rocket.figment()) {
            Ok(config) => config,
            Err(e) => {
                rocket::error!("{e}");
                return Err(rocket);
            }
        };
        let mut throttle = match LoginThrottle::new(config) {
            Ok(throttle) => throttle,
            Err(e) => {
                rocket::error!("{e}");
                return Err(rocket);
            }
        };
        if let Some(clock) = &self.clock {
            throttle.clock = clock.clone();
        }
        Ok(rocket.manage(throttle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_is_refused_with_the_key_and_what_to_do() {
        let config = ThrottleConfig {
            backoff: 0,
            ..ThrottleConfig::default()
        };
        let error = LoginThrottle::new(config).expect_err("backoff 0 cannot work");
        assert_eq!(error.key, "backoff");
        assert_eq!(
            error.to_string(),
            "invalid `login_throttle.backoff`: must be at least 1"
        );
    }
}
