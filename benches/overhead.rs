//! What the fairing costs per request, as ratios against a bare Rocket route
//! measured in the same run: `cargo bench --bench overhead`.
//!
//! Requests go through Rocket's in-process client, so the numbers are the
//! server's own work (routing, fairing, SQLite store), without a network.

use std::time::{Duration, Instant};

use rocket::local::asynchronous::Client;
use rocket::{get, routes};
use rocket_session_security::{Authenticated, Session, SessionSecurity};

#[get("/plain")]
fn plain() -> &'static str {
    "ok"
}

#[get("/login")]
async fn login(session: Session<'_>) -> &'static str {
    session.login("bench").await.expect("login");
    "in"
}

#[get("/protected")]
fn protected(user: Authenticated) -> String {
    user.user_id
}

fn figment(dir: &std::path::Path, grace: u64) -> rocket::figment::Figment {
    rocket::Config::figment()
        .merge(("log_level", "off"))
        // Release builds refuse to launch without one; any key will do here.
        .merge(("secret_key", "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk="))
        .merge((
            "databases.session_security.url",
            format!("sqlite://{}/s.sqlite", dir.display()),
        ))
        .merge(("session_security.activity_write_grace", grace))
        .merge(("session_security.cookie_secure", false))
}

async fn time(client: &Client, path: &str, n: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        let response = client.get(path).dispatch().await;
        assert!(
            response.status().code < 400,
            "{path}: {}",
            response.status()
        );
    }
    start.elapsed()
}

#[rocket::main]
async fn main() {
    let n = 3000;
    let dir = std::env::temp_dir().join(format!("ss_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bare = rocket::custom(figment(&dir, 1)).mount("/", routes![plain]);
    let bare = Client::tracked(bare).await.expect("bare");
    let with = |grace| {
        rocket::custom(figment(&dir.join(format!("g{grace}")), grace))
            .attach(SessionSecurity::fairing())
            .mount("/", routes![plain, login, protected])
    };
    std::fs::create_dir_all(dir.join("g1")).expect("dir");
    std::fs::create_dir_all(dir.join("g0")).expect("dir");
    let coalesced = Client::tracked(with(1)).await.expect("fairing");
    let every = Client::tracked(with(0)).await.expect("fairing");
    coalesced.get("/login").dispatch().await;
    every.get("/login").dispatch().await;
    let anonymous = Client::untracked(with(1)).await.expect("fairing");

    // Warm up, then interleave rounds so drift hits every case alike.
    let cases: [(&str, &Client, &str); 4] = [
        ("bare route, no fairing (baseline)", &bare, "/plain"),
        ("fairing, anonymous request", &anonymous, "/plain"),
        (
            "fairing, logged in, writes coalesced (grace 1 s)",
            &coalesced,
            "/protected",
        ),
        (
            "fairing, logged in, a write every request (grace 0)",
            &every,
            "/protected",
        ),
    ];
    let mut totals = [Duration::ZERO; 4];
    for (_, client, path) in &cases {
        time(client, path, 200).await;
    }
    for _ in 0..3 {
        for (i, (_, client, path)) in cases.iter().enumerate() {
            totals[i] += time(client, path, n).await;
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(3 * n);
    let baseline = per(totals[0]);
    println!("{:<55} {:>10} {:>8}", "case", "µs/request", "ratio");
    for (i, (name, _, _)) in cases.iter().enumerate() {
        let us = per(totals[i]);
        println!("{name:<55} {us:>10.1} {:>7.1}x", us / baseline);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
