//! The one test application handle both test suites drive: a tracked
//! client (it keeps cookies like a browser), the manual clock its fairing
//! runs on, and what it must keep alive. What differs between the
//! library's test app and the demo (how one logs in, where the CSRF token
//! comes from) lives in an extension trait next to each suite.

use rocket::figment::Figment;
use rocket::http::{ContentType, Cookie, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket::serde::json::Value;
use rocket::{Build, Orbit, Rocket};
use rocket_session_security::{ManualClock, SessionAdmin, StoreStats, SESSION_COOKIE};
use sha2::{Digest, Sha256};

use crate::html::form_body;
use crate::TempDir;

/// A running application under test.
/// The instance's [`SessionAdmin`]; the fairing is attached in every test app.
pub fn admin(rocket: &Rocket<Orbit>) -> &SessionAdmin {
    SessionAdmin::of(rocket).expect("the fairing is attached")
}

pub struct TestApp {
    pub client: Client,
    pub clock: ManualClock,
    /// Files the application uses, removed when the app is dropped.
    _dir: Option<TempDir>,
}

impl TestApp {
    /// Ignites `rocket`, whose fairing runs on `clock`.
    pub async fn launch(rocket: Rocket<Build>, clock: ManualClock) -> TestApp {
        let client = Client::tracked(rocket).await.expect("the rocket ignites");
        TestApp {
            client,
            clock,
            _dir: None,
        }
    }

    /// Keeps `dir` (the app's databases, say) until the app is dropped.
    pub fn holding(mut self, dir: TempDir) -> TestApp {
        self._dir = Some(dir);
        self
    }

    /// The configuration the app was launched with, for another instance
    /// or browser on the same stores.
    pub fn figment(&self) -> Figment {
        self.client.rocket().figment().clone()
    }

    /// Moves the app's clock on.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> LocalResponse<'_> {
        self.client.get(path.to_owned()).dispatch().await
    }

    /// GETs `path`: its status and body as text.
    pub async fn page(&self, path: &str) -> (Status, String) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.into_string().await.unwrap_or_default())
    }

    /// POSTs url-encoded `fields` (add the CSRF token yourself).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        self.client
            .post(path.to_owned())
            .header(ContentType::Form)
            .body(form_body(fields))
            .dispatch()
            .await
    }

    /// The crate's ping, with `idleFor` when given: status and JSON answer.
    pub async fn ping(&self, idle_for: Option<&str>) -> (Status, Value) {
        let path = match idle_for {
            Some(n) => format!("/session_security/ping?idleFor={n}"),
            None => "/session_security/ping".to_owned(),
        };
        let response = self.get(&path).await;
        let status = response.status();
        assert_eq!(response.content_type(), Some(ContentType::JSON));
        (status, response.into_json().await.expect("json"))
    }

    /// Seconds idle according to the crate's passive status route.
    pub async fn server_idle(&self) -> Option<i64> {
        let status: Value = self
            .get("/session_security/status")
            .await
            .into_json()
            .await?;
        status["idle"].as_i64()
    }

    /// The browser's session cookie, if any.
    pub fn session_cookie(&self) -> Option<Cookie<'static>> {
        self.client.cookies().get(SESSION_COOKIE).cloned()
    }

    /// What the read path did so far.
    pub fn stats(&self) -> StoreStats {
        admin(self.client.rocket()).stats()
    }

    /// The store key of this browser's session cookie.
    pub fn token_hash(&self) -> String {
        token_hash(self.session_cookie().expect("a session cookie").value())
    }
}

/// The store key of a session token, as the crate computes it.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
