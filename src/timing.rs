//! A session's timing as the application and the browser see it.

use serde::Serialize;

use crate::activity::Times;
use crate::config::Config;

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
    pub(crate) fn new(times: Times, config: &Config, now: i64) -> Self {
        let idle = times.idle(now);
        // Every session keeps the configured warning lead, whatever its limit.
        let warn_after = times.expire_after - config.warning_lead() as i64;
        Timing {
            idle,
            warn_after,
            expire_after: times.expire_after,
            warn_in: (warn_after - idle).max(0),
            expire_in: (times.expire_after - idle).max(0),
            absolute_in: times
                .absolute_end(config.absolute_after)
                .map(|end| (end - now).max(0)),
        }
    }
}
