//! The login throttle over HTTP: the backoff per (username, address) pair
//! on a clock the test moves, the bound on password checks at once with
//! real short waits, the bounded table, and the fairing's configuration.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU16, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rocket::figment::Figment;
use rocket::form::{Form, FromForm};
use rocket::futures::future::join_all;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::tokio::sync::Notify;
use rocket::{post, routes, Build, Rocket, State};
use rocket_login_throttle::{LoginRefused, LoginThrottle, ThrottleConfig};

/// Where the test clock starts.
const T0: i64 = 1_700_000_000;

/// A clock the test moves; clones share the time.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn new() -> Self {
        TestClock(Arc::new(AtomicI64::new(T0)))
    }

    /// What the throttle reads.
    fn reader(&self) -> impl Fn() -> i64 + Send + Sync + 'static {
        let time = self.0.clone();
        move || time.load(Ordering::SeqCst)
    }
}

/// The application under test and its clock.
struct TestApp {
    client: Client,
    clock: TestClock,
}

impl TestApp {
    async fn launch(rocket: Rocket<Build>, clock: TestClock) -> TestApp {
        let client = Client::untracked(rocket).await.expect("the rocket ignites");
        TestApp { client, clock }
    }

    fn advance(&self, seconds: i64) {
        self.clock.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

/// `application/x-www-form-urlencoded` body of fields that need no escape.
fn form_body(fields: &[(&str, &str)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(name, value)| {
            let plain = |s: &str| {
                s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            };
            assert!(plain(name) && plain(value), "{name}={value} needs escaping");
            format!("{name}={value}")
        })
        .collect();
    fields.join("&")
}

/// The password checks of the test app: `right` passes, `slow` fails after
/// a while, `hold` fails once the test releases it, anything else fails.
struct PasswordCheck {
    checks: AtomicUsize,
    holding: Notify,
    release: Mutex<mpsc::Receiver<()>>,
    releaser: Mutex<mpsc::Sender<()>>,
}

impl PasswordCheck {
    fn new() -> Arc<Self> {
        let (releaser, release) = mpsc::channel();
        Arc::new(PasswordCheck {
            checks: AtomicUsize::new(0),
            holding: Notify::new(),
            release: Mutex::new(release),
            releaser: Mutex::new(releaser),
        })
    }

    /// Runs on the blocking thread the throttle hands it.
    fn verify(&self, password: &str) -> bool {
        self.checks.fetch_add(1, Ordering::SeqCst);
        match password {
            "right" => true,
            "slow" => {
                std::thread::sleep(Duration::from_millis(100));
                false
            }
            "hold" => {
                self.holding.notify_one();
                let release = self.release.lock().expect("release");
                let _ = release.recv_timeout(Duration::from_secs(10));
                false
            }
            _ => false,
        }
    }

    fn release(&self) {
        self.releaser
            .lock()
            .expect("releaser")
            .send(())
            .expect("held");
    }

    fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }
}

#[derive(FromForm)]
struct Login<'r> {
    username: &'r str,
    password: &'r str,
}

/// A login handler as an application writes one (the test app has no
/// sessions: only the throttle is under test).
#[post("/login", data = "<form>")]
async fn login(
    throttle: &State<LoginThrottle>,
    check: &State<Arc<PasswordCheck>>,
    peer: SocketAddr,
    form: Form<Login<'_>>,
) -> Result<(Status, &'static str), LoginRefused> {
    let password = form.password.to_owned();
    let check = check.inner().clone();
    let verify = move || check.verify(&password);
    match throttle.attempt(form.username, peer.ip(), verify).await? {
        true => Ok((Status::Ok, "welcome")),
        false => Ok((Status::UnprocessableEntity, "wrong")),
    }
}

fn quiet() -> Figment {
    rocket::Config::figment().merge(("log_level", "off"))
}

/// The test app with `throttle` in managed state.
fn app_with(throttle: LoginThrottle, check: &Arc<PasswordCheck>) -> Rocket<Build> {
    rocket::custom(quiet())
        .manage(throttle)
        .manage(check.clone())
        .mount("/", routes![login])
}

/// The test app with `config`, on a test clock.
async fn launch(config: ThrottleConfig) -> (TestApp, Arc<PasswordCheck>) {
    let clock = TestClock::new();
    let check = PasswordCheck::new();
    let throttle = LoginThrottle::new(config)
        .expect("a valid configuration")
        .with_clock(clock.reader());
    (
        TestApp::launch(app_with(throttle, &check), clock).await,
        check,
    )
}

/// The defaults, with four permits so the machine's CPU count plays no part.
fn defaults() -> ThrottleConfig {
    ThrottleConfig {
        concurrent_hashes: Some(4),
        ..ThrottleConfig::default()
    }
}

/// `ip` on a new port each time: the port of a client is no part of it.
fn from(ip: &str) -> SocketAddr {
    static PORT: AtomicU16 = AtomicU16::new(40_000);
    let ip = ip.parse().expect("an IP address");
    SocketAddr::new(ip, PORT.fetch_add(1, Ordering::SeqCst))
}

const HOME: &str = "192.0.2.10";
const ELSEWHERE: &str = "198.51.100.20";

async fn attempt<'c>(
    app: &'c TestApp,
    ip: &str,
    username: &str,
    password: &str,
) -> LocalResponse<'c> {
    app.client
        .post("/login")
        .remote(from(ip))
        .header(ContentType::Form)
        .body(form_body(&[("username", username), ("password", password)]))
        .dispatch()
        .await
}

/// Status and `Retry-After` of one attempt.
async fn outcome(app: &TestApp, ip: &str, username: &str, password: &str) -> (Status, Option<u64>) {
    let response = attempt(app, ip, username, password).await;
    let retry_after = response
        .headers()
        .get_one("Retry-After")
        .map(|s| s.parse().expect("whole seconds"));
    (response.status(), retry_after)
}

/// Fails `n` logins of `username` from `ip`.
async fn fail(app: &TestApp, ip: &str, username: &str, n: usize) {
    for i in 0..n {
        let (status, _) = outcome(app, ip, username, "wrong").await;
        assert_eq!(status, Status::UnprocessableEntity, "failure {}", i + 1);
    }
}

fn throttle(app: &TestApp) -> &LoginThrottle {
    app.client
        .rocket()
        .state::<LoginThrottle>()
        .expect("managed")
}

#[rocket::async_test]
async fn five_failures_make_the_sixth_attempt_wait_even_with_the_right_password() {
    let (app, check) = launch(defaults()).await;
    fail(&app, HOME, "alice", 5).await;

    let response = attempt(&app, HOME, "alice", "right").await;
    assert_eq!(response.status(), Status::TooManyRequests);
    assert_eq!(response.headers().get_one("Retry-After"), Some("30"));
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    let page = response.into_string().await.unwrap_or_default();
    assert!(page.contains("Try again in 30 seconds."), "{page}");
    assert_eq!(check.checks(), 5, "the refused attempt ran no hash");
}

#[rocket::async_test]
async fn other_usernames_and_other_addresses_are_not_held_back() {
    let (app, _) = launch(defaults()).await;
    fail(&app, HOME, "alice", 5).await;

    assert_eq!(outcome(&app, HOME, "bob", "right").await.0, Status::Ok);
    assert_eq!(
        outcome(&app, ELSEWHERE, "alice", "right").await.0,
        Status::Ok
    );
    assert_eq!(
        outcome(&app, HOME, "alice", "right").await.0,
        Status::TooManyRequests
    );
}

#[rocket::async_test]
async fn one_ipv6_slash_64_is_one_address() {
    let (app, _) = launch(defaults()).await;
    fail(&app, "2001:db8:1:2::1", "alice", 5).await;

    let (status, _) = outcome(&app, "2001:db8:1:2:ffff::9", "alice", "right").await;
    assert_eq!(status, Status::TooManyRequests, "same /64");
    let (status, _) = outcome(&app, "2001:db8:1:3::1", "alice", "right").await;
    assert_eq!(status, Status::Ok, "another /64");
}

#[rocket::async_test]
async fn after_the_wait_the_right_password_works_and_clears_the_pair() {
    let (app, _) = launch(defaults()).await;
    fail(&app, HOME, "alice", 5).await;

    app.advance(29);
    let (status, retry_after) = outcome(&app, HOME, "alice", "right").await;
    assert_eq!((status, retry_after), (Status::TooManyRequests, Some(1)));
    app.advance(1);
    assert_eq!(outcome(&app, HOME, "alice", "right").await.0, Status::Ok);

    // The success cleared the pair: four more failures are only failures.
    fail(&app, HOME, "alice", 4).await;
    assert_eq!(outcome(&app, HOME, "alice", "right").await.0, Status::Ok);
    assert_eq!(throttle(&app).tracked_pairs(), 0);
}

#[rocket::async_test]
async fn each_further_failure_doubles_the_wait_up_to_the_cap() {
    let (app, _) = launch(defaults()).await;
    fail(&app, HOME, "alice", 5).await;

    let mut waits = Vec::new();
    for _ in 0..7 {
        let (status, retry_after) = outcome(&app, HOME, "alice", "right").await;
        assert_eq!(status, Status::TooManyRequests);
        let wait = retry_after.expect("Retry-After");
        waits.push(wait);
        app.advance(wait as i64);
        fail(&app, HOME, "alice", 1).await;
    }
    assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900]);
}

#[rocket::async_test]
async fn scripts_are_refused_in_json() {
    let (app, _) = launch(defaults()).await;
    fail(&app, HOME, "alice", 5).await;

    let response = app
        .client
        .post("/login")
        .remote(from(HOME))
        .header(ContentType::Form)
        .header(Header::new("Accept", "application/json"))
        .body(form_body(&[("username", "alice"), ("password", "right")]))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::TooManyRequests);
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    let body = response.into_string().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        body,
        serde_json::json!({ "error": "too_many_failures", "retry_after": 30 })
    );
}

#[rocket::async_test]
async fn attempts_sent_together_cannot_pass_the_limit_together() {
    let (app, check) = launch(ThrottleConfig {
        concurrent_hashes: Some(16),
        ..defaults()
    })
    .await;

    let attempts = (0..10).map(|_| outcome(&app, HOME, "alice", "slow"));
    let statuses: Vec<Status> = join_all(attempts).await.into_iter().map(|o| o.0).collect();
    let failed = statuses
        .iter()
        .filter(|s| **s == Status::UnprocessableEntity)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == Status::TooManyRequests)
        .count();
    assert_eq!((failed, refused), (5, 5), "{statuses:?}");
    assert_eq!(check.checks(), 5);
}

#[rocket::async_test]
async fn a_login_that_cannot_get_a_permit_in_time_is_answered_503() {
    let (app, check) = launch(ThrottleConfig {
        concurrent_hashes: Some(1),
        hash_wait_ms: 200,
        ..defaults()
    })
    .await;

    let held = attempt(&app, HOME, "alice", "hold");
    let second = async {
        check.holding.notified().await;
        let started = Instant::now();
        let second = outcome(&app, ELSEWHERE, "bob", "right").await;
        let waited = started.elapsed();
        check.release();
        (second, waited)
    };
    let (held, ((status, retry_after), waited)) = rocket::tokio::join!(held, second);

    assert_eq!(
        held.status(),
        Status::UnprocessableEntity,
        "the held check ends"
    );
    assert_eq!((status, retry_after), (Status::ServiceUnavailable, Some(1)));
    assert!(waited >= Duration::from_millis(200), "waited {waited:?}");
    assert_eq!(check.checks(), 1, "the busy login ran no hash");
    assert_eq!(
        throttle(&app).tracked_pairs(),
        1,
        "a busy login is no failure"
    );

    // The permit is back once the held check ended.
    assert_eq!(outcome(&app, ELSEWHERE, "bob", "right").await.0, Status::Ok);
}

#[rocket::async_test]
async fn a_flood_of_usernames_keeps_the_table_bounded_and_the_waiting_pair_waiting() {
    let (app, _) = launch(ThrottleConfig {
        tracked_pairs: 100,
        ..defaults()
    })
    .await;
    fail(&app, HOME, "alice", 5).await;

    for n in 0..1000 {
        let ip = format!("203.0.113.{}", n % 250);
        let (status, _) = outcome(&app, &ip, &format!("user-{n}"), "wrong").await;
        assert_eq!(status, Status::UnprocessableEntity);
        assert!(throttle(&app).tracked_pairs() <= 100, "after {n}");
    }

    let (status, retry_after) = outcome(&app, HOME, "alice", "right").await;
    assert_eq!((status, retry_after), (Status::TooManyRequests, Some(30)));
}

#[rocket::async_test]
async fn the_fairing_reads_login_throttle_and_runs_on_the_given_clock() {
    let figment = quiet()
        .merge(("login_throttle.allowed_failures", 2))
        .merge(("login_throttle.backoff", 10));
    let clock = TestClock::new();
    let rocket = rocket::custom(figment)
        .attach(LoginThrottle::fairing().with_clock(clock.reader()))
        .manage(PasswordCheck::new())
        .mount("/", routes![login]);
    let app = TestApp::launch(rocket, clock).await;

    fail(&app, HOME, "alice", 2).await;
    let (status, retry_after) = outcome(&app, HOME, "alice", "right").await;
    assert_eq!((status, retry_after), (Status::TooManyRequests, Some(10)));
    app.advance(10);
    assert_eq!(outcome(&app, HOME, "alice", "right").await.0, Status::Ok);
}

#[rocket::async_test]
async fn a_bad_login_throttle_value_aborts_launch() {
    let launches = |key: &str, value: i64| {
        let rocket = rocket::custom(quiet().merge((key, value))).attach(LoginThrottle::fairing());
        async move {
            match rocket.ignite().await {
                Ok(_) => true,
                Err(e) => match e.kind() {
                    rocket::error::ErrorKind::FailedFairings(_) => false,
                    other => panic!("{other:?}"),
                },
            }
        }
    };
    assert!(launches("login_throttle.allowed_failures", 3).await);
    for (key, value) in [
        ("login_throttle.concurrent_hashes", 0),
        ("login_throttle.allowed_failures", 0),
        ("login_throttle.max_backoff", 5),
        ("login_throttle.hash_wait_ms", -1),
        ("login_throttle.no_such_key", 1),
    ] {
        assert!(
            !launches(key, value).await,
            "{key} = {value} must abort launch"
        );
    }
}

#[rocket::async_test]
async fn a_flood_from_one_address_leaves_permits_for_everyone_else() {
    // Two permits, one per address: HOME's held check and its queue of
    // further attempts never take the second permit from ELSEWHERE.
    let (app, check) = launch(ThrottleConfig {
        concurrent_hashes: Some(2),
        hash_wait_ms: 300,
        ..defaults()
    })
    .await;
    let held = attempt(&app, HOME, "alice", "hold");
    let flood_and_other = async {
        check.holding.notified().await;
        let app = &app;
        let flood = join_all((0..6).map(|n| async move {
            let user = format!("made-up-{n}");
            outcome(app, HOME, &user, "slow").await.0
        }));
        let other = async {
            // The flood queues first.
            rocket::tokio::time::sleep(Duration::from_millis(20)).await;
            outcome(app, ELSEWHERE, "bob", "right").await.0
        };
        let result = rocket::tokio::join!(flood, other);
        check.release();
        result
    };
    let (held, (flood, other)) = rocket::tokio::join!(held, flood_and_other);
    assert_eq!(held.status(), Status::UnprocessableEntity);
    assert_eq!(
        other,
        Status::Ok,
        "another address signs in during the flood"
    );
    assert!(
        flood.iter().all(|s| *s == Status::ServiceUnavailable),
        "the flood waits in its own line: {flood:?}"
    );
}
