//! `/metrics`: the library's counters and gauge in the Prometheus text
//! format, for a scraper. Off unless the configuration says `metrics = true`
//! (`ROCKET_METRICS=true`, or `metrics = true` in `Rocket.toml`); when off,
//! `/metrics` is a 404 and no recorder is installed.
//!
//! The library counts through the `metrics` facade (session starts and
//! ends by reason, logins, pings, store errors, cache hits and misses, live
//! sessions); the demo installs `metrics-exporter-prometheus`'s recorder as
//! the process's global recorder and renders it here. The route has no
//! session guard: a scrape creates no session and sets no cookie.
//!
//! The page is not behind a login (a scraper has none): expose it on an
//! internal network only.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rocket::fairing::AdHoc;
use rocket::http::ContentType;
use rocket::{get, routes, State};

/// The configuration key of the switch.
pub const SWITCH: &str = "metrics";

/// The process's one recorder: the `metrics` facade takes a global
/// recorder once per process, and a process may run several Rockets (the
/// tests do). `Err` says why it could not be installed.
static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// The Prometheus recorder, installed as the global one on first use.
pub fn recorder() -> Result<&'static PrometheusHandle, &'static str> {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            ::metrics::set_global_recorder(recorder)
                .map(|()| handle)
                .map_err(|e| format!("another metrics recorder is installed: {e}"))
        })
        .as_ref()
        .map_err(String::as_str)
}

/// What `/metrics` renders.
struct Scrape(&'static PrometheusHandle);

/// The Prometheus text exposition format, version 0.0.4.
fn prometheus_text() -> ContentType {
    ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")])
}

/// Every metric recorded so far in this process.
#[get("/metrics")]
fn scrape(scrape: &State<Scrape>) -> (ContentType, String) {
    // Drains histograms, if any; the library records counters and a gauge.
    scrape.0.run_upkeep();
    (prometheus_text(), scrape.0.render())
}

/// Mounts `/metrics` and installs the recorder when `metrics = true`;
/// otherwise does nothing. A `metrics` value that is not a boolean stops
/// the launch.
pub fn stage() -> AdHoc {
    AdHoc::try_on_ignite("Prometheus metrics", |rocket| async {
        let enabled = match rocket.figment().extract_inner::<bool>(SWITCH) {
            Ok(enabled) => enabled,
            Err(e) if e.missing() => false,
            Err(e) => {
                rocket::error!("`{SWITCH}` must be true or false: {e}");
                return Err(rocket);
            }
        };
        if !enabled {
            return Ok(rocket);
        }
        match recorder() {
            Ok(handle) => Ok(rocket.manage(Scrape(handle)).mount("/", routes![scrape])),
            Err(e) => {
                rocket::error!("/metrics: {e}");
                Err(rocket)
            }
        }
    })
}
