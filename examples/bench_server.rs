//! The server `scripts/bench` measures over HTTP with wrk. Not a library
//! example to copy: a harness.
//!
//! ```text
//! bench_server bare                      # GET /hello, no fairing
//! bench_server fairing --store URL [--cache-capacity N] [--cache-max-age S]
//! bench_server seed --store URL --count N --cookies FILE
//! ```
//!
//! `bare` and `fairing` serve the same `GET /hello` on 127.0.0.1, on the port
//! of `--port` (default 0: any free port), and print `port=N` once they
//! listen. `fairing` adds `GET /bench/login` (logs in as `bench`, answers the
//! cookie in `Set-Cookie`), `GET /bench/whoami` and `GET /bench/stats` (the
//! store counters, the number of cached sessions and this process's VmRSS,
//! as JSON). `seed` writes `count` logged-in sessions straight into the
//! store and their cookie values, one a line, to `FILE`, then exits; it runs
//! as its own process so its connections leave nothing in the measured
//! server's memory.

use rocket::fairing::AdHoc;
use rocket::request::{FromRequest, Outcome};
use rocket::serde::json::{json, Json, Value};
use rocket::{get, routes, Orbit, Request, Rocket};
use rocket_session_security::{
    Session, SessionAdmin, SessionRecord, SessionSecurity, SessionStore, SqlStore,
};

/// Release builds refuse to launch without a secret key; any fixed one will do.
const SECRET_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";

/// The measured route, identical with and without the fairing.
#[get("/hello")]
fn hello() -> &'static str {
    "ok"
}

#[get("/bench/login")]
async fn login(session: Session<'_>) -> &'static str {
    match session.login("bench").await {
        Ok(()) => "in",
        Err(_) => "failed",
    }
}

#[get("/bench/whoami")]
fn whoami(session: Session<'_>) -> String {
    session.user_id().unwrap_or_else(|| "anonymous".into())
}

/// The running Rocket, as a request guard (Rocket 0.5 has none built in).
struct Launched<'r>(&'r Rocket<Orbit>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Launched<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Launched(request.rocket()))
    }
}

#[get("/bench/stats")]
fn stats(rocket: Launched<'_>) -> Json<Value> {
    // The bare server has no fairing: no stats, only its memory.
    let admin = SessionAdmin::of(rocket.0);
    Json(json!({
        "stats": admin.map(SessionAdmin::stats),
        "cached_sessions": admin.map(SessionAdmin::cached_sessions),
        "rss_kib": rss_kib(),
    }))
}

/// This process's resident set size in KiB, from /proc/self/status.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `--name value` from the command line.
fn arg(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

fn required(args: &[String], name: &str) -> String {
    arg(args, name).unwrap_or_else(|| fail(&format!("{name} is required")))
}

fn fail(why: &str) -> ! {
    eprintln!("bench_server: {why}");
    std::process::exit(2)
}

/// The cookie value of seeded session `n`: 43 URL-safe characters, like
/// the crate's own tokens, derived from `n` so a rerun is reproducible.
fn seeded_token(n: u64) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use sha2::{Digest, Sha256};
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("bench session {n}").as_bytes()))
}

/// The store keys rows by the SHA-256 of the token, hex.
fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn seed(args: &[String]) {
    let url = required(args, "--store");
    let count: u64 = required(args, "--count")
        .parse()
        .unwrap_or_else(|_| fail("--count must be a number"));
    let cookies = required(args, "--cookies");
    let store = SqlStore::connect(&url)
        .await
        .unwrap_or_else(|e| fail(&format!("connect {url}: {e}")));
    store
        .migrate()
        .await
        .unwrap_or_else(|e| fail(&format!("migrate: {e}")));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let mut lines = String::with_capacity(count as usize * 44);
    for n in 0..count {
        let token = seeded_token(n);
        let record = SessionRecord {
            token_hash: token_hash(&token),
            user_id: Some(format!("user{n}")),
            data: "{}".into(),
            csrf_token: seeded_token(n + (1 << 40)),
            created_at: now,
            authenticated_at: Some(now),
            last_activity: now,
            expire_after: 3600,
            device: None,
        };
        store
            .insert(&record)
            .await
            .unwrap_or_else(|e| fail(&format!("insert session {n}: {e}")));
        lines.push_str(&token);
        lines.push('\n');
    }
    std::fs::write(&cookies, lines).unwrap_or_else(|e| fail(&format!("write {cookies}: {e}")));
}

fn figment(args: &[String]) -> rocket::figment::Figment {
    let port: u16 = arg(args, "--port")
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| fail("--port must be a number"))
        })
        .unwrap_or(0);
    let mut figment = rocket::Config::figment()
        .merge(("address", "127.0.0.1"))
        .merge(("port", port))
        .merge(("log_level", "off"))
        .merge(("secret_key", SECRET_KEY))
        .merge(("session_security.cookie_secure", false))
        // Seeded sessions and the logged-in one outlive a whole run.
        .merge(("session_security.warn_after", 3000))
        .merge(("session_security.expire_after", 3600));
    if let Some(url) = arg(args, "--store") {
        figment = figment.merge(("databases.session_security.url", url));
    }
    if let Some(capacity) = arg(args, "--cache-capacity") {
        let capacity: u64 = capacity
            .parse()
            .unwrap_or_else(|_| fail("--cache-capacity must be a number"));
        figment = figment.merge(("session_security.cache_capacity", capacity));
    }
    if let Some(age) = arg(args, "--cache-max-age") {
        let age: u64 = age
            .parse()
            .unwrap_or_else(|_| fail("--cache-max-age must be a number"));
        figment = figment.merge(("session_security.cache_max_age", age));
    }
    figment
}

#[rocket::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or_default();
    let rocket = match mode {
        "seed" => return seed(&args).await,
        "bare" => rocket::custom(figment(&args)).mount("/", routes![hello, stats]),
        "fairing" => {
            if arg(&args, "--store").is_none() {
                fail("fairing needs --store URL");
            }
            rocket::custom(figment(&args))
                .attach(SessionSecurity::fairing())
                .mount("/", routes![hello, login, whoami, stats])
        }
        _ => fail("usage: bench_server bare|fairing|seed [options]"),
    };
    let rocket = rocket.attach(AdHoc::on_liftoff("print port", |rocket| {
        Box::pin(async move {
            println!("port={}", rocket.config().port);
        })
    }));
    if let Err(e) = rocket.launch().await {
        fail(&format!("launch: {e}"));
    }
}
