//! A user's sessions: listed with an opaque id, ended one by one, all but
//! the current, or all from outside a request; nobody else's; never
//! restorable by a relogin; and every start and end reported with its
//! reason to the application's hook.

use std::sync::{Arc, Mutex};

use crate::common::{app_with, figment, LibraryApp, TestApp, T0};
use rocket::http::{Header, Status};
use rocket::serde::json::Json;
use rocket::{get, routes, Orbit, Rocket};
use rocket_session_security::{
    ManualClock, Session, SessionEnd, SessionEvent, SessionEvents, SessionInfo, SessionSecurity,
    SessionStart, BACKUP_COOKIE, SIGNED_OUT, USER_COOKIE,
};

/// What the hook heard, as `(user, session, reason)`.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<(String, String, String)>>>);

impl SessionEvents for Heard {
    fn started(&self, event: &SessionEvent, how: SessionStart) {
        let heard = (
            event.user_id.clone(),
            event.session.clone(),
            how.reason().to_owned(),
        );
        self.0.lock().unwrap().push(heard);
    }

    fn ended(&self, event: &SessionEvent, why: &SessionEnd) {
        let reason = match why {
            SessionEnd::Revoked { by } => format!("revoked by {}", by.as_deref().unwrap_or("app")),
            other => other.reason().to_owned(),
        };
        let heard = (event.user_id.clone(), event.session.clone(), reason);
        self.0.lock().unwrap().push(heard);
    }
}

impl Heard {
    fn reasons(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, r)| r.clone())
            .collect()
    }
}

#[get("/my-sessions")]
async fn my_sessions(session: Session<'_>) -> Json<Vec<SessionInfo>> {
    Json(session.sessions().await.expect("list"))
}

#[get("/revoke/<id>")]
async fn revoke(id: &str, session: Session<'_>) -> String {
    session.revoke(id).await.expect("revoke").to_string()
}

#[get("/revoke-others")]
async fn revoke_others(session: Session<'_>) -> String {
    session.revoke_others().await.expect("revoke").to_string()
}

/// Browsers on one store and one clock, and what the hook heard. Each
/// browser is an instance of its own (the local client's way); without a
/// cache they agree at once, as instances on PostgreSQL do within their
/// notification batch (tests/http/instances.rs).
struct World {
    browsers: Vec<TestApp>,
    heard: Heard,
}

async fn world(browsers: usize) -> World {
    let clock = ManualClock::new(T0);
    let heard = Heard::default();
    let figment = figment().merge(("session_security.cache_capacity", 0));
    let mut all = Vec::new();
    for _ in 0..browsers {
        let fairing = SessionSecurity::fairing()
            .with_clock(clock.clone())
            .with_events(heard.clone());
        let rocket = app_with(figment.clone(), fairing)
            .mount("/", routes![my_sessions, revoke, revoke_others]);
        all.push(TestApp::launch(rocket, clock.clone()).await);
    }
    World {
        browsers: all,
        heard,
    }
}

async fn list(app: &TestApp) -> Vec<rocket::serde::json::Value> {
    let response = app.get("/my-sessions").await;
    assert_eq!(response.status(), Status::Ok);
    response.into_json().await.expect("json")
}

async fn login_as(app: &TestApp, user: &str, agent: &str) {
    let response = app
        .client
        .get(format!("/login/{user}"))
        .header(Header::new("User-Agent", agent.to_owned()))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

#[rocket::async_test]
async fn the_list_shows_each_session_once_with_its_device_and_no_secret() {
    let w = world(2).await;
    let (laptop, phone) = (&w.browsers[0], &w.browsers[1]);
    login_as(laptop, "alice", FIREFOX).await;
    phone.advance(5);
    login_as(phone, "alice", SAFARI).await;
    let sessions = list(laptop).await;
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Firefox on Linux");
    assert_eq!(sessions[1]["device"], "Safari on iPhone");
    assert_eq!(sessions[1]["started_at"], T0 + 5);
    let text = rocket::serde::json::to_string(&sessions).unwrap();
    for secret in [laptop.token_hash(), phone.token_hash()] {
        assert!(!text.contains(&secret[..16]), "no token hash in {text}");
    }
    let cookie = laptop.session_cookie().unwrap();
    assert!(!text.contains(cookie.value()), "no token");
}

#[rocket::async_test]
async fn revoking_another_session_signs_that_browser_out_for_good() {
    let w = world(2).await;
    let (laptop, phone) = (&w.browsers[0], &w.browsers[1]);
    laptop.login("alice").await;
    phone.login("alice").await;
    phone.get("/set/draft/typed-on-the-phone").await;
    let sessions = list(laptop).await;
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    let id = other["id"].as_str().unwrap();
    assert_eq!(laptop.page(&format!("/revoke/{id}")).await.1, "true");
    assert_eq!(phone.whoami().await, None, "the phone is signed out");
    assert_eq!(
        phone
            .client
            .cookies()
            .get(USER_COOKIE)
            .map(|c| c.value().to_owned())
            .as_deref(),
        Some(SIGNED_OUT),
        "its tabs are told to leave, not to offer a relogin"
    );
    assert!(
        phone.client.cookies().get(BACKUP_COOKIE).is_none(),
        "a revoked session is not backed up"
    );
    assert_eq!(
        laptop.whoami().await.as_deref(),
        Some("alice"),
        "the laptop is not"
    );
    assert_eq!(list(laptop).await.len(), 1);
    assert_eq!(
        laptop.page(&format!("/revoke/{id}")).await.1,
        "false",
        "once"
    );
    assert!(w.heard.reasons().contains(&"revoked by alice".to_owned()));
}

#[rocket::async_test]
async fn another_users_id_or_a_forged_one_changes_nothing() {
    let w = world(2).await;
    let (alice, bob) = (&w.browsers[0], &w.browsers[1]);
    alice.login("alice").await;
    bob.login("bob").await;
    let bobs = list(bob).await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(alice.page(&format!("/revoke/{bobs}")).await.1, "false");
    assert_eq!(alice.page("/revoke/not-an-id").await.1, "false");
    assert_eq!(
        alice.page(&format!("/revoke/{}", bob.token_hash())).await.1,
        "false"
    );
    assert_eq!(bob.whoami().await.as_deref(), Some("bob"));
    assert_eq!(alice.whoami().await.as_deref(), Some("alice"));
}

#[rocket::async_test]
async fn revoke_others_keeps_only_the_current() {
    let w = world(3).await;
    for browser in &w.browsers {
        browser.login("alice").await;
    }
    assert_eq!(w.browsers[0].page("/revoke-others").await.1, "2");
    assert_eq!(w.browsers[0].whoami().await.as_deref(), Some("alice"));
    assert_eq!(w.browsers[1].whoami().await, None);
    assert_eq!(w.browsers[2].whoami().await, None);
}

#[rocket::async_test]
async fn the_application_ends_every_session_of_a_user() {
    let w = world(3).await;
    w.browsers[0].login("alice").await;
    w.browsers[1].login("alice").await;
    w.browsers[2].login("bob").await;
    let rocket: &Rocket<Orbit> = w.browsers[0].client.rocket();
    assert_eq!(
        test_support::admin(rocket)
            .sessions_of("alice")
            .await
            .unwrap()
            .len(),
        2
    );
    let ended = test_support::admin(rocket)
        .revoke_user("alice", None)
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert_eq!(w.browsers[0].whoami().await, None);
    assert_eq!(w.browsers[1].whoami().await, None);
    assert_eq!(w.browsers[2].whoami().await.as_deref(), Some("bob"));
    let revoked = w
        .heard
        .reasons()
        .iter()
        .filter(|r| *r == "revoked by app")
        .count();
    assert_eq!(revoked, 2);
}

#[rocket::async_test]
async fn every_start_and_end_is_reported_with_its_reason() {
    let w = world(1).await;
    let app = &w.browsers[0];
    app.login("alice").await;
    app.get("/logout").await;
    app.login("alice").await;
    app.advance(11);
    assert_eq!(app.whoami().await, None, "idle");
    app.login("alice").await;
    assert_eq!(
        app.page("/session_security/after_relogin").await.0,
        Status::Ok,
        "a relogin"
    );
    app.get("/logout").await;
    // The relogin is one start; the restore's new token ends the id the
    // login gave and starts another, which the logout ends.
    assert_eq!(
        w.heard.reasons(),
        [
            "login",
            "logout",
            "login",
            "idle",
            "relogin_same_user",
            "rotated",
            "rotated",
            "logout"
        ]
    );
    let heard = w.heard.0.lock().unwrap().clone();
    for (_, session, _) in &heard {
        let told = heard.iter().filter(|(_, s, _)| s == session).count();
        assert_eq!(told, 2, "one start and one end for {session}: {heard:?}");
    }
    assert!(heard.iter().all(|(user, _, _)| user == "alice"));
    let (_, first, _) = &heard[0];
    assert_eq!(heard[1].1, *first, "login and logout name one session");
    assert_eq!(first.len(), 32, "an opaque id");
}

#[rocket::async_test]
async fn absolute_expiry_is_told_from_idle() {
    let clock = ManualClock::new(T0);
    let heard = Heard::default();
    let figment = figment().merge(("session_security.absolute_after", 20));
    let fairing = SessionSecurity::fairing()
        .with_clock(clock.clone())
        .with_events(heard.clone());
    let app = TestApp::launch(app_with(figment, fairing), clock).await;
    app.login("alice").await;
    for _ in 0..4 {
        app.advance(5);
        app.whoami().await;
    }
    assert_eq!(app.whoami().await, None);
    assert_eq!(heard.reasons(), ["login", "absolute"]);
}
