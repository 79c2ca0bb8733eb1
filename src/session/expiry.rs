//! Pure activity and expiry arithmetic: no I/O, no clock of its own, so
//! every rule here is tested with plain numbers. [`Timing`] is the public
//! view of it.

use serde::Serialize;

use crate::config::{Config, MAX_SECONDS};

/// The timestamps that decide whether an authenticated session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiry {
    /// Unix seconds of the last request that counted as activity.
    pub last_activity: i64,
    /// Unix seconds of the login.
    pub authenticated_at: i64,
    /// This session's idle limit in seconds (per user, see `UserTimeouts`).
    pub expire_after: i64,
}

impl Expiry {
    /// Seconds since the last activity; never negative, even if the clock
    /// stepped back.
    pub fn idle(&self, now: i64) -> i64 {
        (now - self.last_activity).max(0)
    }

    /// When the absolute limit ends the session, if one is set.
    pub fn absolute_end(&self, absolute_after: u64) -> Option<i64> {
        (absolute_after > 0).then(|| self.authenticated_at + absolute_after as i64)
    }

    /// When the session ended or will end: at the idle limit, or at the
    /// absolute limit if that comes first.
    pub fn ended_at(&self, absolute_after: u64) -> i64 {
        let idle_end = self.last_activity + self.expire_after;
        self.absolute_end(absolute_after)
            .map_or(idle_end, |end| end.min(idle_end))
    }

    /// Idle for `expire_after` or more, or past the absolute limit.
    pub fn is_expired(&self, now: i64, absolute_after: u64) -> bool {
        self.idle(now) >= self.expire_after
            || self
                .absolute_end(absolute_after)
                .is_some_and(|end| now >= end)
    }
}

/// Where an authenticated session stands, in seconds, as of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// Seconds since the last activity (of any tab).
    pub idle: i64,
    /// This session's warning point: seconds idle before the browser warns.
    pub warn_after: i64,
    /// This session's idle limit (per user, see [`UserTimeouts`](crate::UserTimeouts)).
    pub expire_after: i64,
    /// Seconds until the warning shows; 0 once it does.
    pub warn_in: i64,
    /// Seconds until the server logs out unless there is activity.
    pub expire_in: i64,
    /// Seconds until the absolute limit, if one is set.
    pub absolute_in: Option<i64>,
}

impl Timing {
    pub(crate) fn new(expiry: Expiry, config: &Config, now: i64) -> Self {
        let idle = expiry.idle(now);
        // Every session keeps the configured warning lead, whatever its limit.
        let warn_after = expiry.expire_after - config.warning_lead() as i64;
        Timing {
            idle,
            warn_after,
            expire_after: expiry.expire_after,
            warn_in: (warn_after - idle).max(0),
            expire_in: (expiry.expire_after - idle).max(0),
            absolute_in: expiry
                .absolute_end(config.absolute_after)
                .map(|end| (end - now).max(0)),
        }
    }
}

/// The last activity after a ping that says the tab was idle for
/// `idle_for` seconds: only ever later than the stored value, never past now.
pub(crate) fn merge_idle_for(last_activity: i64, now: i64, idle_for: u64) -> i64 {
    let reported = now - idle_for.min(MAX_SECONDS) as i64;
    last_activity.max(reported).min(now.max(last_activity))
}

/// Why an `idleFor` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdleForError {
    /// Not a plain non-negative whole number.
    NotWholeSeconds,
    /// Larger than any idle time a browser could report.
    TooLarge,
}

impl IdleForError {
    pub fn message(self) -> String {
        match self {
            IdleForError::NotWholeSeconds => {
                "idleFor must be a whole number of seconds, written with digits only".into()
            }
            IdleForError::TooLarge => format!("idleFor must be at most {MAX_SECONDS}"),
        }
    }
}

/// Parses `idleFor`: ASCII digits only (no sign, no fraction, no exponent).
pub(crate) fn parse_idle_for(raw: &str) -> Result<u64, IdleForError> {
    if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            if raw.len() > 20 && raw.bytes().all(|b| b.is_ascii_digit()) {
                IdleForError::TooLarge
            } else {
                IdleForError::NotWholeSeconds
            },
        );
    }
    match raw.parse::<u64>() {
        Ok(n) if n <= MAX_SECONDS => Ok(n),
        _ => Err(IdleForError::TooLarge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Expiry = Expiry {
        last_activity: 1000,
        authenticated_at: 900,
        expire_after: 10,
    };

    #[test]
    fn expires_at_the_limit_not_before() {
        assert!(!T.is_expired(1009, 0));
        assert!(T.is_expired(1010, 0));
    }

    #[test]
    fn absolute_limit_ends_an_active_session() {
        assert!(!T.is_expired(1005, 200));
        let busy = Expiry {
            last_activity: 1099,
            ..T
        };
        assert!(busy.is_expired(1100, 200));
        assert!(!busy.is_expired(1100, 0), "0 disables the absolute limit");
    }

    #[test]
    fn a_session_ends_at_the_earlier_limit() {
        assert_eq!(T.ended_at(0), 1010);
        assert_eq!(T.ended_at(105), 1005);
        assert_eq!(T.ended_at(200), 1010);
    }

    #[test]
    fn idle_for_only_moves_forward_and_never_past_now() {
        assert_eq!(merge_idle_for(1000, 1005, 2), 1003);
        assert_eq!(merge_idle_for(1000, 1005, 9), 1000, "older report ignored");
        assert_eq!(merge_idle_for(1000, 1005, 0), 1005);
        assert_eq!(
            merge_idle_for(1010, 1005, 0),
            1010,
            "clock stepped back: keep stored"
        );
        assert_eq!(merge_idle_for(1000, 1005, u64::MAX), 1000);
    }

    #[test]
    fn idle_for_accepts_digits_only() {
        assert_eq!(parse_idle_for("0"), Ok(0));
        assert_eq!(parse_idle_for("42"), Ok(42));
        for bad in ["", "-1", "+1", "1.5", "1e9", " 1", "abc", "0x10"] {
            assert_eq!(
                parse_idle_for(bad),
                Err(IdleForError::NotWholeSeconds),
                "{bad}"
            );
        }
        for huge in [
            "2147483648",
            "18446744073709551616",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_idle_for(huge), Err(IdleForError::TooLarge), "{huge}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// Digits only, at most MAX_SECONDS: exactly what parses.
            #[test]
            fn idle_for_accepts_exactly_whole_seconds(raw in any::<String>()) {
                let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
                let value = raw.parse::<u128>().ok();
                match parse_idle_for(&raw) {
                    Ok(n) => {
                        prop_assert!(digits);
                        prop_assert_eq!(Some(u128::from(n)), value);
                        prop_assert!(n <= MAX_SECONDS);
                    }
                    Err(_) => prop_assert!(
                        !digits || value.is_none_or(|v| v > u128::from(MAX_SECONDS))
                    ),
                }
            }

            /// Every number the browser may send round-trips.
            #[test]
            fn idle_for_reads_every_allowed_number(n in 0..=MAX_SECONDS) {
                prop_assert_eq!(parse_idle_for(&n.to_string()).ok(), Some(n));
            }

            /// The merge only ever moves activity towards now, never past it.
            #[test]
            fn merge_never_moves_backwards_nor_past_now(
                last in 0i64..2_000_000_000,
                ahead in 0i64..1_000_000,
                idle_for in 0..=MAX_SECONDS,
            ) {
                let now = last + ahead;
                let merged = merge_idle_for(last, now, idle_for);
                prop_assert!(merged >= last && merged <= now);
            }
        }
    }
}
