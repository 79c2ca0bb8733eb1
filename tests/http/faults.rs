//! Fault tests with real faults: two instances on one real PostgreSQL,
//! instance `b` reaching it through a TCP proxy (`test_support::proxy`)
//! that can drop connections silently or cut `b` off, and a NOTIFY that
//! really fails. Each test measures, in real time, how long a session
//! ended on `a` is still served on `b`; the times are printed for the
//! record (`--nocapture`).
//!
//! The promise under test (DESIGN.md, "The read path"): an ended session is
//! refused everywhere within 1 s normally and within `cache_max_age` under
//! any single fault, and a store that does not answer is never a logout.
//!
//! Runs when `SESSION_SECURITY_TEST_POSTGRES` names a server; each test
//! gets a database of its own and never stops the server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::{eventually, figment, fresh_postgres_database, LibraryApp, TestApp, T0};
use rocket::figment::Figment;
use rocket::http::{Cookie, Header, Status};
use rocket_session_security::{ManualClock, SessionStore, SqlStore, SESSION_COOKIE};
use sqlx::PgPool;
use test_support::proxy::{Connection, Proxy};

/// What "within a second" means for coherence between instances.
const SECOND: Duration = Duration::from_secs(1);
/// `cache_max_age` in these tests: small, so a cut-off instance's limit
/// is reached by a short move of the clock.
const CACHE_MAX_AGE: i64 = 5;
/// The longest a missed heartbeat may go unnoticed: one beat interval
/// (2 s) plus its deadline (1.5 s), with some slack.
const DETECTION: Duration = Duration::from_secs(5);
/// How long service may take to come back after the network heals: dead
/// pooled connections are dropped one store timeout (1 s) at a time.
const RECOVERY: Duration = Duration::from_secs(15);

/// Two instances on one fresh database and one clock: `a` connects
/// directly, `b` through `proxy`.
struct Pair {
    a: TestApp,
    b: TestApp,
    proxy: Proxy,
    /// The database, directly, as the server's superuser.
    admin: PgPool,
}

/// `url` split into scheme, user (if any), `host:port` and the rest.
fn parts(url: &str) -> (&str, Option<&str>, &str, &str) {
    let (scheme, after) = url.split_once("://").expect("a URL");
    let (authority, rest) = after.split_once('/').expect("a URL with a database");
    match authority.rsplit_once('@') {
        Some((user, host)) => (scheme, Some(user), host, rest),
        None => (scheme, None, authority, rest),
    }
}

/// `url` pointed at `host` instead, with `user` if given.
fn rewritten(url: &str, user: Option<&str>, host: Option<&str>) -> String {
    let (scheme, old_user, old_host, rest) = parts(url);
    let user = user
        .or(old_user)
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}{}/{rest}", host.unwrap_or(old_host))
}

/// An instance's figment on `url`: small `cache_max_age`, and a store
/// that does not answer costs a request 1 s.
fn on(url: &str) -> Figment {
    figment()
        .merge(("databases.session_security.url", url))
        .merge(("databases.session_security.connect_timeout", 1))
        .merge(("session_security.store_timeout", 1))
        .merge(("session_security.cache_max_age", CACHE_MAX_AGE))
}

impl Pair {
    /// `a` on `a_url` (the database's URL unless a test changes its user),
    /// then `b` through a fresh proxy; both listening.
    async fn start(url: &str, a_url: &str) -> Pair {
        Pair::start_with(url, a_url, |figment| figment).await
    }

    /// [`start`](Self::start), with `b`'s figment changed by `tune`.
    async fn start_with(url: &str, a_url: &str, tune: impl FnOnce(Figment) -> Figment) -> Pair {
        let host = parts(url).2.to_owned();
        let target: SocketAddr = rocket::tokio::net::lookup_host(&host)
            .await
            .expect("the server's address")
            .next()
            .expect("an address");
        let proxy = Proxy::start(target).await.expect("the proxy listens");
        let b_url = rewritten(url, None, Some(&proxy.addr().to_string()));
        let clock = ManualClock::new(T0);
        let a = TestApp::with_clock(on(a_url), clock.clone(), |f| f).await;
        let b = TestApp::with_clock(tune(on(&b_url)), clock, |f| f).await;
        for app in [&a, &b] {
            eventually(SECOND * 5, "the instance listens", || async {
                app.stats().coherent
            })
            .await;
        }
        let admin = PgPool::connect(url).await.expect("admin connection");
        Pair { a, b, proxy, admin }
    }

    /// `b`'s forwarded connections that are listening (PostgreSQL sees the
    /// proxy's port as their client port).
    async fn listeners_of_b(&self) -> Vec<Connection> {
        let ports: Vec<i32> = sqlx::query_scalar(
            "SELECT client_port FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_all(&self.admin)
        .await
        .expect("pg_stat_activity");
        let listening = |c: &Connection| {
            !c.blackholed
                && c.upstream_port
                    .is_some_and(|p| ports.contains(&i32::from(p)))
        };
        self.proxy
            .connections()
            .into_iter()
            .filter(listening)
            .collect()
    }

    /// `a` logs alice in and `b` caches her session (a second request is
    /// a trusted hit); returns `a`'s cookies as a browser holds them.
    async fn alice_cached_on_b(&self) -> Vec<Cookie<'static>> {
        self.a.login("alice").await;
        let cookies: Vec<Cookie<'static>> = self.a.client.cookies().iter().cloned().collect();
        assert_eq!(answer(&self.b, &cookies).await.status, Status::Ok);
        let hits = self.b.stats().cache_hits;
        assert_eq!(answer(&self.b, &cookies).await.status, Status::Ok);
        assert!(self.b.stats().cache_hits > hits, "cached and trusted on b");
        cookies
    }

    /// `a` revokes every session of alice (an administrator's call).
    async fn revoke_alice(&self) -> Result<usize, rocket_session_security::Error> {
        test_support::admin(self.a.client.rocket())
            .revoke_user("alice", None)
            .await
    }
}

/// What an instance answered to `GET /whoami` with a browser's cookies.
struct Answer {
    status: Status,
    /// The values it set for the session cookie (none, unless it ended or
    /// rotated the session).
    session_cookies: Vec<String>,
    took: Duration,
}

async fn answer(on: &TestApp, cookies: &[Cookie<'static>]) -> Answer {
    let start = Instant::now();
    let mut request = on
        .client
        .get("/whoami")
        .header(Header::new("Accept", "application/json"));
    for cookie in cookies {
        request = request.cookie(cookie.clone());
    }
    let response = request.dispatch().await;
    let session_cookies = response
        .headers()
        .get("Set-Cookie")
        .filter(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .map(str::to_owned)
        .collect();
    Answer {
        status: response.status(),
        session_cookies,
        took: start.elapsed(),
    }
}

/// Asserts that `b` refuses the logged-out or revoked session within
/// `within`; returns how long it took.
async fn refused_within(on: &TestApp, cookies: &[Cookie<'static>], within: Duration) -> Duration {
    eventually(
        within,
        "the other instance refuses the ended session",
        || async {
            let answer = answer(on, cookies).await;
            assert_ne!(
                answer.status,
                Status::ServiceUnavailable,
                "the store answers"
            );
            answer.status == Status::Unauthorized
        },
    )
    .await
}

/// A listener whose connection is silently dropped (no FIN, no RST) hears
/// nothing, and only its heartbeat can tell: `b` must stop trusting its
/// cache within one missed heartbeat, refuse a session revoked meanwhile,
/// and listen again on a new connection.
#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn a_silently_dropped_listener_is_noticed_by_its_heartbeat() {
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let pair = Pair::start(&url, &url).await;
    let (a, b) = (&pair.a, &pair.b);
    let cookies = pair.alice_cached_on_b().await;
    let listeners = pair.listeners_of_b().await;
    let [listener] = listeners.as_slice() else {
        panic!("one listening connection of b: {listeners:?}");
    };
    let untrusted = b.stats().untrusted_reads;
    assert!(pair.proxy.blackhole(listener.id));
    let dropped = Instant::now();
    assert_eq!(pair.revoke_alice().await.expect("revoke"), 1);
    let served_until = refused_within(b, &cookies, DETECTION).await;
    assert!(
        b.stats().untrusted_reads > untrusted,
        "read through, not evicted"
    );

    // Only that connection was dropped and new ones forward, so b listens
    // again by itself; healing changes nothing here.
    pair.proxy.heal();
    eventually(RECOVERY, "b listens again", || async {
        b.stats().coherent && !pair.listeners_of_b().await.is_empty()
    })
    .await;
    let coherent_after = dropped.elapsed();
    // A logout on a reaches b's new listener as before.
    a.login("alice").await;
    let cookies: Vec<Cookie<'static>> = a.client.cookies().iter().cloned().collect();
    assert_eq!(answer(b, &cookies).await.status, Status::Ok);
    a.get("/logout").await;
    let logout_reached_b = refused_within(b, &cookies, SECOND).await;
    eprintln!(
        "faults: listener blackholed: revoked session refused on b after {served_until:?}, \
         b coherent again {coherent_after:?} after the drop, a later logout refused on b \
         after {logout_reached_b:?}"
    );
}

/// `b` cut off from PostgreSQL while `a` revokes: `b` may serve its cached
/// copy until `cache_max_age` (it cannot learn of the end), then answers
/// 503; never a logout or a cleared cookie while it cannot ask the store,
/// never 200 past `cache_max_age`. Once healed, it refuses the session.
#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn an_instance_cut_off_from_the_store_serves_its_cache_at_most_cache_max_age() {
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let pair = Pair::start(&url, &url).await;
    let (a, b) = (&pair.a, &pair.b);
    let cookies = pair.alice_cached_on_b().await;
    pair.proxy.cut_off();
    let cut = Instant::now();
    assert_eq!(pair.revoke_alice().await.expect("revoke"), 1);
    assert_eq!(
        a.whoami().await,
        None,
        "refused at once where it was revoked"
    );

    // Within cache_max_age: the cached copy, before and after b notices.
    let before = answer(b, &cookies).await;
    assert_eq!(before.status, Status::Ok, "cached, listener not yet missed");
    eventually(DETECTION, "b misses its heartbeat", || async {
        !b.stats().coherent
    })
    .await;
    let noticed = cut.elapsed();
    let after = answer(b, &cookies).await;
    assert_eq!(after.status, Status::Ok, "younger than cache_max_age");
    for answer in [&before, &after] {
        assert!(
            answer.session_cookies.is_empty(),
            "{:?}",
            answer.session_cookies
        );
    }

    // Past cache_max_age the copy is not served: 503, no cookie touched.
    b.advance(CACHE_MAX_AGE);
    let mut refusals = Vec::new();
    for _ in 0..3 {
        let past = answer(b, &cookies).await;
        assert_eq!(
            past.status,
            Status::ServiceUnavailable,
            "never 200, never 401"
        );
        assert!(
            past.session_cookies.is_empty(),
            "{:?}",
            past.session_cookies
        );
        refusals.push(past.took);
    }

    pair.proxy.heal();
    let healed = Instant::now();
    let answers = std::cell::RefCell::new(Vec::new());
    eventually(RECOVERY, "b refuses the revoked session", || async {
        let now = answer(b, &cookies).await;
        assert_ne!(now.status, Status::Ok, "the revoked session served again");
        answers.borrow_mut().push(now.status.code);
        now.status == Status::Unauthorized
    })
    .await;
    let answers = answers.into_inner();
    let refused_after_heal = healed.elapsed();
    eventually(RECOVERY, "b listens again", || async { b.stats().coherent }).await;
    eprintln!(
        "faults: cut off: b missed its heartbeat {noticed:?} after the cut, served the \
         cached copy in {:?} / {:?} (before / after that), 503 past cache_max_age in \
         {refusals:?}; after healing refused the revoked session in {refused_after_heal:?} \
         (answers {answers:?}), coherent again in {:?}",
        before.took,
        after.took,
        healed.elapsed(),
    );
}

/// The announcement is a `pg_notify` inside the write's own transaction,
/// so a NOTIFY that fails fails the write: here `pg_notify` really fails
/// (its EXECUTE right is taken from the role `a` connects as), and the
/// revocation must then not have happened, with `a` saying so, so `b`
/// serving the session is right. Once the right is back, a revocation
/// reaches `b` within a second.
#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn a_failing_notify_fails_the_revocation_with_it() {
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let server = PgPool::connect(&crate::common::postgres_url().expect("server"))
        .await
        .expect("server admin");
    let role = format!("ss_fault_{}", std::process::id());
    let database = PgPool::connect(&url).await.expect("database admin");
    for sql in [
        format!("DROP ROLE IF EXISTS {role}"),
        format!("CREATE ROLE {role} LOGIN"),
    ] {
        sqlx::query(&sql).execute(&server).await.expect(&sql);
    }
    let grant = format!("GRANT CREATE ON SCHEMA public TO {role}");
    sqlx::query(&grant).execute(&database).await.expect("grant");
    let a_url = rewritten(&url, Some(&role), None);
    let pair = Pair::start(&url, &a_url).await;
    let (a, b) = (&pair.a, &pair.b);
    let cookies = pair.alice_cached_on_b().await;
    let hash = a.token_hash();

    let notify = "FUNCTION pg_catalog.pg_notify(text, text)";
    let revoke = format!("REVOKE EXECUTE ON {notify} FROM PUBLIC");
    sqlx::query(&revoke)
        .execute(&database)
        .await
        .expect("revoke");
    let failed = pair.revoke_alice().await;
    let error = failed.expect_err("the revocation cannot announce itself");
    assert!(error.is_store_failure(), "{error}");
    let store = SqlStore::connect(&url).await.expect("store");
    let row = store.load(&hash).await.expect("load").expect("row");
    assert!(!row.is_revoked(), "rolled back with its NOTIFY");
    // Not revoked, so still served on both (b from its cache, a reading
    // through: its own heartbeats fail too).
    assert_eq!(answer(b, &cookies).await.status, Status::Ok);
    assert_eq!(a.whoami().await.as_deref(), Some("alice"));
    // A request's write that cannot announce itself is the outage answer.
    let csrf = a.csrf().await;
    let logout = a
        .client
        .post("/session_security/logout")
        .header(Header::new("X-CSRF-Token", csrf))
        .header(Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(logout.status(), Status::ServiceUnavailable);
    assert!(logout.headers().get("Set-Cookie").next().is_none());
    drop(logout);
    assert_eq!(
        answer(b, &cookies).await.status,
        Status::Ok,
        "not logged out"
    );
    // a's own heartbeat is a NOTIFY too: a stops trusting its cache.
    eventually(DETECTION, "a misses its heartbeat", || async {
        !a.stats().coherent
    })
    .await;

    let grant = format!("GRANT EXECUTE ON {notify} TO PUBLIC");
    sqlx::query(&grant).execute(&database).await.expect("grant");
    assert_eq!(pair.revoke_alice().await.expect("revoke"), 1);
    let reached_b = refused_within(b, &cookies, SECOND).await;
    eventually(DETECTION, "a listens again", || async {
        a.stats().coherent
    })
    .await;
    eprintln!(
        "faults: failing NOTIFY: revocation refused with {error}; \
         once allowed, refused on b after {reached_b:?}"
    );

    drop(pair);
    for sql in [
        format!("REASSIGN OWNED BY {role} TO CURRENT_USER"),
        format!("DROP OWNED BY {role}"),
    ] {
        sqlx::query(&sql).execute(&database).await.expect(&sql);
    }
    database.close().await;
    let sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1";
    sqlx::query(sql)
        .bind(&role)
        .execute(&server)
        .await
        .expect("end");
    let drop_role = format!("DROP ROLE {role}");
    sqlx::query(&drop_role)
        .execute(&server)
        .await
        .expect("drop role");
}

/// A silently dropped listener must not cost the pool a connection for
/// good: after a few drops in a row (fewer than `max_connections`), `b`
/// must still listen again and serve sessions it reads from the store.
///
/// sqlx 0.7's `PgListener` `Drop` sends `UNLISTEN *` on the dead
/// connection with no time limit, and gives the connection back only
/// afterwards: the listener therefore has a pool of its own, or every
/// silent drop would hold one store connection until TCP gives up.
#[rocket::async_test]
#[ignore = "needs a PostgreSQL server in SESSION_SECURITY_TEST_POSTGRES; run with -- --include-ignored, as scripts/test-all does (it starts one)"]
async fn repeated_silent_drops_do_not_use_up_the_pool() {
    let Some(url) = fresh_postgres_database().await else {
        return;
    };
    let tune = |figment: Figment| figment.merge(("databases.session_security.max_connections", 3));
    let pair = Pair::start_with(&url, &url, tune).await;
    let (a, b) = (&pair.a, &pair.b);
    for round in 0..3 {
        let listeners = pair.listeners_of_b().await;
        let [listener] = listeners.as_slice() else {
            panic!("round {round}: one listening connection of b: {listeners:?}");
        };
        assert!(pair.proxy.blackhole(listener.id));
        eventually(DETECTION, "b misses its heartbeat", || async {
            !b.stats().coherent
        })
        .await;
        eventually(RECOVERY, "b listens again", || async {
            b.stats().coherent && !pair.listeners_of_b().await.is_empty()
        })
        .await;
        a.login(&format!("user{round}")).await;
        let cookies: Vec<Cookie<'static>> = a.client.cookies().iter().cloned().collect();
        let status = answer(b, &cookies).await.status;
        assert_eq!(status, Status::Ok, "round {round}: b reads a new session");
    }
}
