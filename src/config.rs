//! The `session_security` configuration table, read and validated at ignition.

use rocket::figment::Figment;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Settings read from the `session_security` table of Rocket's configuration.
///
/// Every key can be set in `Rocket.toml` (`[default.session_security]`) or in
/// the environment (`ROCKET_SESSION_SECURITY='{warn_after=5,expire_after=10}'`).
/// A bad value aborts launch with a message naming the key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Seconds idle before the browser warns.
    ///
    /// _Default:_ `540`
    pub warn_after: u64,
    /// Seconds idle before the server logs the user out.
    ///
    /// _Default:_ `600`
    pub expire_after: u64,
    /// Seconds after login when the session ends regardless of activity; `0`
    /// disables the absolute limit.
    ///
    /// _Default:_ `43200`
    pub absolute_after: u64,
    /// Request paths (exact match) that never count as activity.
    ///
    /// _Default:_ `[]`
    pub passive_paths: Vec<String>,
    /// Rocket route names that never count as activity.
    ///
    /// _Default:_ `[]`
    pub passive_routes: Vec<String>,
    /// Back up the session at expiry and offer an in-place relogin; when
    /// false the browser reloads or goes to `logout_url`, like the original.
    ///
    /// _Default:_ `true`
    pub relogin: bool,
    /// The login page opened inside the relogin dialog.
    ///
    /// _Default:_ `"/login/1"`
    pub relogin_url: String,
    /// Where a browser without a session is sent, with `?next=`.
    ///
    /// _Default:_ `"/login"`
    pub login_url: String,
    /// Where the browser goes on expiry when relogin is off; `None` reloads.
    ///
    /// _Default:_ none
    pub logout_url: Option<String>,
    /// Seconds a backup may wait for its relogin.
    ///
    /// _Default:_ `3600`
    pub backup_ttl: u64,
    /// Least seconds between two stored last-activity writes of one session,
    /// so a page that fires many requests costs one write.
    ///
    /// _Default:_ `1`
    pub activity_write_grace: u64,
    /// Whether the crate's cookies carry `Secure` and `__Host-` names
    /// (`__Host-session_security`, …). Chromium accepts such cookies from
    /// `http://localhost` and `http://127.0.0.1` too, so keep it on for
    /// development there; turn it off only for plain HTTP on another host.
    ///
    /// _Default:_ `true`
    pub cookie_secure: bool,
    /// Live sessions each application instance keeps in memory, about (the
    /// cache's shards fill unevenly), so that a request that changes
    /// nothing costs no store round trip. The least
    /// recently useful are dropped first; a dropped session is read from
    /// the store again on its next request. `0` turns the cache off.
    ///
    /// _Default:_ `100000`
    pub cache_capacity: u64,
    /// Seconds a session held in memory is trusted since it was last read
    /// from the store; the next request after that reads it again. This
    /// bounds how long an ended session can still be served on an instance
    /// that missed the news (a lost notification, a listener dropped
    /// silently, an instance cut off from the store). While the store does
    /// not answer at all, a session read less than this long ago is still
    /// served; an older one gets the `503`.
    ///
    /// _Default:_ `15`
    pub cache_max_age: u64,
    /// Session data keys that a relogin does not restore: markers of a
    /// second factor or of a recent confirmation, which a password-only
    /// relogin must earn again. A name ending in `*` covers every key that
    /// starts with the rest (`"mfa_*"`).
    ///
    /// _Default:_ `[]`
    pub not_restorable: Vec<String>,
    /// Seconds to wait for the session store before a request that needs it
    /// is answered `503 Service Unavailable` (never a logout).
    ///
    /// _Default:_ `2`
    pub store_timeout: u64,
    /// Largest size, in bytes of JSON, of one session's application data.
    /// A [`Session::insert`](crate::Session::insert) that would go past it
    /// fails and changes nothing: a session row stays cheap to read on
    /// every request and to keep in memory.
    ///
    /// _Default:_ `65536`
    pub max_data_bytes: u64,
    /// Whether the fairing puts the dialogs' markup into every signed-in
    /// HTML page (just before `</body>`), so no page needs the include.
    /// Pages that have the include keep it and get nothing twice.
    ///
    /// _Default:_ `true`
    pub inject: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            warn_after: 540,
            expire_after: 600,
            absolute_after: 43200,
            passive_paths: Vec::new(),
            passive_routes: Vec::new(),
            relogin: true,
            relogin_url: "/login/1".into(),
            login_url: "/login".into(),
            logout_url: None,
            backup_ttl: 3600,
            activity_write_grace: 1,
            cookie_secure: true,
            cache_capacity: 100_000,
            cache_max_age: 15,
            not_restorable: Vec::new(),
            store_timeout: 2,
            max_data_bytes: 65_536,
            inject: true,
        }
    }
}

/// Largest number of seconds any setting may hold (about 68 years), so that
/// every sum of timestamps and durations stays inside an `i64`.
pub(crate) const MAX_SECONDS: u64 = i32::MAX as u64;

/// Largest `cache_capacity`: far beyond what one instance serves, and a
/// guard against a typo that would reserve gigabytes.
const MAX_CACHE_CAPACITY: u64 = 100_000_000;

impl Config {
    /// The name of the configuration table.
    pub const TABLE: &'static str = "session_security";

    /// Reads the `session_security` table from `figment`; a missing table
    /// means all defaults.
    pub fn from_figment(figment: &Figment) -> Result<Config, ConfigError> {
        let config = match figment.extract_inner::<Config>(Self::TABLE) {
            Ok(config) => config,
            Err(e) if e.missing() && e.path.len() <= 1 => Config::default(),
            Err(e) => {
                return Err(Self::culprit(figment).unwrap_or_else(|| ConfigError::from_figment(e)))
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// Serde does not say which field a type error is in, so try each key
    /// alone on top of the defaults and blame the first that fails.
    fn culprit(figment: &Figment) -> Option<ConfigError> {
        use rocket::figment::providers::Serialized;
        use rocket::figment::value::Dict;
        let table: Dict = figment.extract_inner(Self::TABLE).ok()?;
        table.into_iter().find_map(|(key, value)| {
            let alone = Figment::from(Serialized::defaults(Config::default())).merge((&key, value));
            let error = alone.extract::<Config>().err()?;
            Some(ConfigError::new(&key, error.kind.to_string()))
        })
    }

    /// Checks the values against each other; the error names the bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, why: String| Err(ConfigError::new(key, why));
        for (key, value) in [
            ("warn_after", self.warn_after),
            ("expire_after", self.expire_after),
            ("backup_ttl", self.backup_ttl),
            ("store_timeout", self.store_timeout),
            ("cache_max_age", self.cache_max_age),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1 second".into());
            }
        }
        for (key, value) in [
            ("warn_after", self.warn_after),
            ("expire_after", self.expire_after),
            ("absolute_after", self.absolute_after),
            ("backup_ttl", self.backup_ttl),
            ("activity_write_grace", self.activity_write_grace),
            ("store_timeout", self.store_timeout),
            ("cache_max_age", self.cache_max_age),
        ] {
            if value > MAX_SECONDS {
                return bad(key, format!("must be at most {MAX_SECONDS} seconds"));
            }
        }
        if self.warn_after >= self.expire_after {
            return bad(
                "warn_after",
                format!(
                    "must be less than expire_after ({} >= {})",
                    self.warn_after, self.expire_after
                ),
            );
        }
        if self.activity_write_grace >= self.expire_after {
            return bad(
                "activity_write_grace",
                "must be less than expire_after".into(),
            );
        }
        for (key, url) in [
            ("relogin_url", Some(&self.relogin_url)),
            ("login_url", Some(&self.login_url)),
            ("logout_url", self.logout_url.as_ref()),
        ] {
            if let Some(url) = url {
                if crate::paths::local_path(url).is_none() {
                    return bad(
                        key,
                        format!("must be a local path such as `/login`, not `{url}`"),
                    );
                }
            }
        }
        if self.cache_capacity > MAX_CACHE_CAPACITY {
            return bad(
                "cache_capacity",
                format!("must be at most {MAX_CACHE_CAPACITY} sessions"),
            );
        }
        if self.max_data_bytes < 2 {
            return bad(
                "max_data_bytes",
                "must be at least 2 bytes (the empty object `{}`)".into(),
            );
        }
        for path in &self.passive_paths {
            if !path.starts_with('/') {
                return bad("passive_paths", format!("`{path}` must start with `/`"));
            }
        }
        Ok(())
    }

    /// Whether a relogin may bring `key` back (see `not_restorable`).
    pub(crate) fn restorable(&self, key: &str) -> bool {
        !self
            .not_restorable
            .iter()
            .any(|rule| match rule.strip_suffix('*') {
                Some(prefix) => key.starts_with(prefix),
                None => key == rule,
            })
    }

    /// Seconds of warning the browser gives before expiry.
    pub(crate) fn warning_lead(&self) -> u64 {
        self.expire_after - self.warn_after
    }
}
