//! The login guard: a bound on the password hashes running at once, and an
//! exponential backoff per (username, client address) pair, so a flood of
//! wrong passwords can neither exhaust memory and CPU nor guess on at
//! full speed.

use std::collections::HashMap;
use std::fmt;
use std::io::Cursor;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::tokio::sync::Semaphore;
use rocket::{Build, Orbit, Request, Rocket};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::classify::is_background;
use crate::clock::{Clock, SystemClock};
use crate::config::MAX_SECONDS;
use crate::runtime::Runtime;

/// Largest `tracked_pairs`: far beyond a real flood's reach (see
/// [`ThrottleConfig::tracked_pairs`]), and a guard against a typo that
/// would let the table grow to gigabytes.
const MAX_TRACKED_PAIRS: usize = 100_000_000;

/// Largest `hash_wait_ms`: a login that waits longer has been given up on
/// by its user, while its connection stays held.
const MAX_HASH_WAIT_MS: u64 = 60_000;

/// How hard [`LoginThrottle`] guards the login, read by
/// [`LoginThrottle::fairing`] from the `login_throttle` table of Rocket's
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

impl ThrottleConfig {
    /// The name of the configuration table.
    pub const TABLE: &'static str = "login_throttle";

    /// Reads the `login_throttle` table; a missing table means all defaults.
    fn from_figment(figment: &Figment) -> Result<ThrottleConfig, String> {
        let config = match figment.extract_inner::<ThrottleConfig>(Self::TABLE) {
            Ok(config) => config,
            Err(e) if e.missing() && e.path.len() <= 1 => ThrottleConfig::default(),
            Err(e) => return Err(format!("invalid `{}`: {}", Self::TABLE, e.kind)),
        };
        config
            .check()
            .map_err(|(key, why)| format!("invalid `{}.{key}`: {why}", Self::TABLE))?;
        Ok(config)
    }

    /// The first key whose value cannot work, and why.
    fn check(&self) -> Result<(), (&'static str, String)> {
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
    fn wait_after(&self, in_a_row: u32) -> u64 {
        if in_a_row < self.allowed_failures {
            return 0;
        }
        let doublings = (in_a_row - self.allowed_failures).min(63);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// Guards a login handler: at most `concurrent_hashes` password checks run
/// at once, and a (username, client address) pair that failed
/// `allowed_failures` times in a row waits, twice as long after each
/// further failure, while other usernames and other addresses carry on.
///
/// Attach [`LoginThrottle::fairing`] (it reads [`ThrottleConfig`] and runs
/// on the same [`Clock`] as the [`SessionSecurity`](crate::SessionSecurity)
/// fairing), or manage one built with [`LoginThrottle::new`]; the handler
/// takes `&State<LoginThrottle>` and puts its password check into
/// [`LoginThrottle::attempt`]. See "Login throttling" in the crate docs.
pub struct LoginThrottle {
    rules: ThrottleConfig,
    hashes: Arc<Semaphore>,
    /// The line of each address with attempts under way; an entry lives
    /// only while one of its attempts waits or hashes.
    addresses: Mutex<HashMap<u128, Arc<Semaphore>>>,
    per_address: usize,
    hash_wait: Duration,
    pairs: Mutex<Pairs>,
    /// Unset: the wall clock, or the session fairing's once launched.
    clock: OnceLock<Arc<dyn Clock>>,
}

impl LoginThrottle {
    /// A throttle on the wall clock, to put into managed state with
    /// `.manage(..)`.
    ///
    /// # Panics
    ///
    /// When a value of `config` cannot work (zero failures, permits or
    /// seconds, `max_backoff` below `backoff`, …): called at launch, this
    /// stops the application before it serves an unguarded login.
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        if let Err((key, why)) = config.check() {
            panic!("invalid `{}.{key}`: {why}", ThrottleConfig::TABLE);
        }
        let permits = config
            .concurrent_hashes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
        let per_address = config
            .hashes_per_address
            .unwrap_or(permits / 2)
            .clamp(1, permits);
        LoginThrottle {
            hashes: Arc::new(Semaphore::new(permits)),
            addresses: Mutex::default(),
            per_address,
            hash_wait: Duration::from_millis(config.hash_wait_ms),
            pairs: Mutex::new(Pairs::default()),
            clock: OnceLock::new(),
            rules: config,
        }
    }

    /// The fairing that reads the `login_throttle` table (see
    /// [`ThrottleConfig`]), aborts launch on a bad value, and manages the
    /// throttle. Once launched, the throttle takes the clock of the
    /// [`SessionSecurity`](crate::SessionSecurity) fairing, so a test that
    /// moves that clock moves both. Use it or `.manage(LoginThrottle::new(..))`,
    /// not both: Rocket refuses to manage one type twice.
    pub fn fairing() -> impl Fairing {
        ThrottleFairing
    }

    /// Uses `clock` instead of the wall clock, so tests can move time
    /// through a backoff instead of sleeping.
    pub fn with_clock(self, clock: impl Clock) -> Self {
        LoginThrottle {
            clock: OnceLock::from(Arc::new(clock) as Arc<dyn Clock>),
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
    /// the address you trust: [`Request::client_ip`] believes Rocket's
    /// `ip_header` (`X-Real-IP` unless configured), which any client can
    /// write unless a proxy in front replaces it; without such a proxy use
    /// the peer address (`Request::remote`), or set `ip_header = false`.
    /// IPv6 addresses count per /64, since one subscriber usually holds a
    /// whole /64.
    ///
    /// Check unknown usernames too (against a dummy hash): a shortcut would
    /// tell which usernames exist, by time and by which pairs get throttled.
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
        self.pairs().by_pair.len()
    }

    fn now(&self) -> i64 {
        match self.clock.get() {
            Some(clock) => clock.now(),
            None => SystemClock.now(),
        }
    }

    fn pairs(&self) -> MutexGuard<'_, Pairs> {
        // Nothing panics while holding it; if something did, the table is
        // still a table.
        self.pairs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a login was refused before its password was checked. Answers
/// `429 Too Many Requests` or `503 Service Unavailable`, both with
/// `Retry-After`: JSON `{"error": "too_many_failures" | "busy",
/// "retry_after": seconds}` to scripts (JSON `Accept` or
/// `X-Requested-With`), a short page to browsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefused {
    /// This username failed too often in a row from this address; it may
    /// try again in `retry_after` seconds.
    TooManyFailures {
        /// Seconds until the pair may try again.
        retry_after: u64,
    },
    /// Every password-check permit stayed taken for `hash_wait_ms`; the
    /// server is shedding load rather than queueing hashes without bound.
    Busy {
        /// Seconds after which a retry may find a free permit.
        retry_after: u64,
    },
}

impl LoginRefused {
    /// `429 Too Many Requests` or `503 Service Unavailable`.
    pub fn status(&self) -> Status {
        match self {
            LoginRefused::TooManyFailures { .. } => Status::TooManyRequests,
            LoginRefused::Busy { .. } => Status::ServiceUnavailable,
        }
    }

    /// Seconds the client should wait, as sent in `Retry-After`.
    pub fn retry_after(&self) -> u64 {
        match *self {
            LoginRefused::TooManyFailures { retry_after } | LoginRefused::Busy { retry_after } => {
                retry_after
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            LoginRefused::TooManyFailures { .. } => "too_many_failures",
            LoginRefused::Busy { .. } => "busy",
        }
    }

    fn page(&self) -> String {
        let (title, text) = match self {
            LoginRefused::TooManyFailures { retry_after } => (
                "Too many failed sign-ins",
                format!(
                    "This username failed to sign in too often from your address. \
                     Try again in {retry_after} seconds."
                ),
            ),
            LoginRefused::Busy { .. } => (
                "Busy",
                "The server is checking many sign-ins at once. Try again in a few seconds."
                    .to_owned(),
            ),
        };
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
        )
    }
}

impl fmt::Display for LoginRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginRefused::TooManyFailures { retry_after } => {
                write!(
                    f,
                    "too many failed logins in a row; retry in {retry_after} s"
                )
            }
            LoginRefused::Busy { retry_after } => {
                write!(
                    f,
                    "too many password checks at once; retry in {retry_after} s"
                )
            }
        }
    }
}

impl std::error::Error for LoginRefused {}

impl<'r> Responder<'r, 'static> for LoginRefused {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let (content_type, body) = match is_background(request) {
            true => {
                let body = serde_json::json!({
                    "error": self.code(),
                    "retry_after": self.retry_after(),
                });
                (ContentType::JSON, body.to_string())
            }
            false => (ContentType::HTML, self.page()),
        };
        Response::build()
            .status(self.status())
            .header(content_type)
            .header(Header::new("Retry-After", self.retry_after().to_string()))
            .header(Header::new("Cache-Control", "no-store"))
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}

/// Reads the configuration at ignition and adopts the session clock at
/// liftoff, when every fairing has ignited whatever the attach order.
struct ThrottleFairing;

#[rocket::async_trait]
impl Fairing for ThrottleFairing {
    fn info(&self) -> Info {
        Info {
            name: "Login Throttle",
            kind: Kind::Ignite | Kind::Liftoff,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        match ThrottleConfig::from_figment(rocket.figment()) {
            Ok(config) => Ok(rocket.manage(LoginThrottle::new(config))),
            Err(e) => {
                rocket::error!("{e}");
                Err(rocket)
            }
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let throttle = rocket.state::<LoginThrottle>();
        let session_clock = rocket.state::<Arc<Runtime>>().map(|s| s.clock.clone());
        if let (Some(throttle), Some(clock)) = (throttle, session_clock) {
            throttle.clock.get_or_init(|| clock);
        }
    }
}

/// One username from one client: the username by a hash (the table keeps
/// no usernames, and a long one costs no more memory), the address by its
/// IPv4 (mapped) or its IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Pair {
    username: [u8; 16],
    client: u128,
}

impl Pair {
    fn new(username: &str, client: IpAddr) -> Pair {
        let digest = Sha256::digest(username.as_bytes());
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        let client = match client.to_canonical() {
            IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => u128::from(v6) & !u128::from(u64::MAX),
        };
        Pair {
            username: key,
            client,
        }
    }
}

/// What is known of one pair.
#[derive(Debug, Clone, Copy)]
struct Failures {
    in_a_row: u32,
    /// When the last failure was counted.
    last: i64,
    /// Until when the pair is refused; in the past when it is not waiting.
    wait_until: i64,
}

impl Failures {
    fn forgotten(&self, now: i64, rules: &ThrottleConfig) -> bool {
        now >= self.wait_until && now - self.last >= rules.forget_after as i64
    }
}

/// The remembered pairs; pure bookkeeping with the time passed in.
#[derive(Debug, Default)]
struct Pairs {
    by_pair: HashMap<Pair, Failures>,
}

impl Pairs {
    /// Seconds `pair` must still wait, if it must.
    fn waiting(&mut self, pair: &Pair, now: i64, rules: &ThrottleConfig) -> Option<u64> {
        let failures = *self.by_pair.get(pair)?;
        if failures.forgotten(now, rules) {
            self.by_pair.remove(pair);
            return None;
        }
        (failures.wait_until > now).then(|| (failures.wait_until - now) as u64)
    }

    /// Counts a failure of `pair` ahead of its check; answers the wait it
    /// would start (0 for none), or the seconds left when it must wait.
    fn count_failure(&mut self, pair: Pair, now: i64, rules: &ThrottleConfig) -> Result<u64, u64> {
        if let Some(retry_after) = self.waiting(&pair, now, rules) {
            return Err(retry_after);
        }
        if !self.by_pair.contains_key(&pair) {
            self.make_room(now, rules);
        }
        let failures = self.by_pair.entry(pair).or_insert(Failures {
            in_a_row: 0,
            last: now,
            wait_until: i64::MIN,
        });
        failures.in_a_row = failures.in_a_row.saturating_add(1);
        failures.last = now;
        let wait = rules.wait_after(failures.in_a_row);
        if wait > 0 {
            failures.wait_until = now + wait as i64;
        }
        Ok(wait)
    }

    /// A success: the pair starts from nothing.
    fn clear(&mut self, pair: &Pair) {
        self.by_pair.remove(pair);
    }

    /// Makes room for one more pair when the table is full: forgets what
    /// is forgotten, then drops the pairs worth least (fewest failures,
    /// oldest first). Room is made for an eighth of the table at once, so
    /// the sweep's cost is spread over many insertions.
    fn make_room(&mut self, now: i64, rules: &ThrottleConfig) {
        let capacity = rules.tracked_pairs;
        if self.by_pair.len() < capacity {
            return;
        }
        self.by_pair.retain(|_, f| !f.forgotten(now, rules));
        let keep = capacity - (capacity / 8).max(1);
        if self.by_pair.len() <= keep {
            return;
        }
        let mut worth: Vec<_> = self
            .by_pair
            .iter()
            .map(|(pair, f)| (f.in_a_row.min(rules.allowed_failures), f.last, *pair))
            .collect();
        let drop = self.by_pair.len() - keep;
        worth.select_nth_unstable_by_key(drop - 1, |&(failures, last, _)| (failures, last));
        for (_, _, pair) in &worth[..drop] {
            self.by_pair.remove(pair);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ThrottleConfig {
        ThrottleConfig {
            tracked_pairs: 16,
            ..ThrottleConfig::default()
        }
    }

    fn pair(name: &str) -> Pair {
        Pair::new(name, "192.0.2.1".parse().unwrap())
    }

    #[test]
    fn the_wait_starts_at_the_allowed_failures_and_doubles_up_to_the_cap() {
        let rules = rules();
        let waits: Vec<u64> = (1..=12).map(|n| rules.wait_after(n)).collect();
        assert_eq!(waits, [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(rules.wait_after(u32::MAX), 900, "no overflow");
    }

    #[test]
    fn ipv4_mapped_and_one_ipv6_slash_64_are_one_client() {
        let v4 = Pair::new("a", "192.0.2.1".parse().unwrap());
        let mapped = Pair::new("a", "::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(v4, mapped);
        let one = Pair::new("a", "2001:db8::1".parse().unwrap());
        let same_64 = Pair::new("a", "2001:db8::ffff:1".parse().unwrap());
        let other_64 = Pair::new("a", "2001:db8:0:1::1".parse().unwrap());
        assert_eq!(one, same_64);
        assert_ne!(one, other_64);
        assert_ne!(Pair::new("a", "192.0.2.1".parse().unwrap()), pair("b"));
    }

    #[test]
    fn a_waiting_pair_is_refused_until_its_wait_ends() {
        let rules = rules();
        let mut pairs = Pairs::default();
        for _ in 0..4 {
            assert_eq!(pairs.count_failure(pair("a"), 100, &rules), Ok(0));
        }
        assert_eq!(pairs.count_failure(pair("a"), 100, &rules), Ok(30));
        assert_eq!(pairs.waiting(&pair("a"), 110, &rules), Some(20));
        assert_eq!(pairs.count_failure(pair("a"), 110, &rules), Err(20));
        assert_eq!(pairs.waiting(&pair("a"), 130, &rules), None);
        assert_eq!(pairs.count_failure(pair("a"), 130, &rules), Ok(60));
    }

    #[test]
    fn a_quiet_pair_is_forgotten_but_not_while_it_waits() {
        let rules = ThrottleConfig {
            forget_after: 10,
            backoff: 100,
            max_backoff: 100,
            ..rules()
        };
        let mut pairs = Pairs::default();
        pairs.count_failure(pair("quiet"), 0, &rules).unwrap();
        assert_eq!(pairs.waiting(&pair("quiet"), 10, &rules), None);
        assert!(pairs.by_pair.is_empty(), "forgotten");
        for _ in 0..5 {
            pairs.count_failure(pair("waits"), 0, &rules).unwrap();
        }
        assert_eq!(pairs.waiting(&pair("waits"), 50, &rules), Some(50));
    }

    #[test]
    fn a_full_table_drops_the_fewest_failures_first() {
        let rules = rules();
        let mut pairs = Pairs::default();
        for _ in 0..5 {
            pairs.count_failure(pair("target"), 0, &rules).unwrap();
        }
        for n in 0..1000 {
            pairs
                .count_failure(pair(&format!("flood-{n}")), 1 + n, &rules)
                .unwrap();
            assert!(pairs.by_pair.len() <= 16);
        }
        assert_eq!(pairs.waiting(&pair("target"), 20, &rules), Some(10));
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
