//! Shared test setup: a demo app on its own temporary databases with a
//! clock the test moves, and helpers to log in and post forms.

#![allow(dead_code, unused_imports)] // each test binary uses a different part of this

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket_session_security::{ManualClock, SessionSecurity};
pub use test_support::html::{csrf_token, element_text, form_body};
use test_support::TempDir;

/// A fixed start time: tests never depend on the wall clock.
pub const START: i64 = 1_700_000_000;

/// The demo on temporary SQLite files, with a manual clock.
pub struct TestApp {
    pub client: Client,
    pub clock: ManualClock,
    dir: TempDir,
    pub figment: Figment,
}

impl TestApp {
    /// The demo with the usual timings (warn after 540 s, expire after 600 s).
    pub async fn start(name: &str) -> TestApp {
        let dir = TempDir::new(&format!("demo-app-{name}"));
        let url = |file: &str| dir.sqlite_url(file);
        // Global profile: wins over Rocket.toml and ROCKET_* variables alike.
        let figment = demo_app::figment()
            .merge(Serialized::global("databases.crm.url", url("crm.sqlite")))
            .merge(Serialized::global(
                "databases.session_security.url",
                url("session_security.sqlite"),
            ))
            .merge(Serialized::global("session_security.warn_after", 540))
            .merge(Serialized::global("session_security.expire_after", 600))
            .merge(Serialized::global("log_level", "off"));
        let clock = ManualClock::new(START);
        let client = Self::client(&clock, figment.clone()).await;
        TestApp {
            client,
            clock,
            dir,
            figment,
        }
    }

    async fn client(clock: &ManualClock, figment: Figment) -> Client {
        let security = SessionSecurity::new().with_clock(clock.clone());
        Client::tracked(demo_app::rocket_with(security, figment))
            .await
            .expect("the demo ignites")
    }

    /// A second browser on the same databases and clock.
    pub async fn second_browser(&self) -> Client {
        Self::client(&self.clock, self.figment.clone()).await
    }

    /// GETs `path` in the main browser: status and body.
    pub async fn get(&self, path: &str) -> (Status, String) {
        get(&self.client, path).await
    }

    /// Logs in through the login form; answers the POST's response.
    pub async fn login(&self, username: &str, password: &str) -> LocalResponse<'_> {
        login(&self.client, username, password).await
    }

    /// The CSRF token of the signed-in session, read from a page.
    pub async fn csrf(&self) -> String {
        let (status, body) = self.get("/").await;
        assert_eq!(status, Status::Ok, "signed in");
        csrf_token(&body).expect("csrf token in the page")
    }

    /// POSTs url-encoded `fields` (add the CSRF token yourself).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        post(&self.client, path, fields).await
    }
}

/// GETs `path`: status and body.
pub async fn get(client: &Client, path: &str) -> (Status, String) {
    let response = client.get(path).dispatch().await;
    let status = response.status();
    (status, response.into_string().await.unwrap_or_default())
}

/// POSTs url-encoded `fields`.
pub async fn post<'c>(
    client: &'c Client,
    path: &str,
    fields: &[(&str, &str)],
) -> LocalResponse<'c> {
    client
        .post(path.to_owned())
        .header(ContentType::Form)
        .body(form_body(fields))
        .dispatch()
        .await
}

/// Logs in through the login form, as a browser would.
pub async fn login<'c>(client: &'c Client, username: &str, password: &str) -> LocalResponse<'c> {
    let (status, page) = get(client, "/login").await;
    assert_eq!(status, Status::Ok);
    let token = csrf_token(&page).expect("the login form has a CSRF token");
    post(
        client,
        "/login",
        &[
            ("csrf_token", &token),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

/// A request header asking for JSON, as a script would.
pub fn accept_json() -> Header<'static> {
    Header::new("Accept", "application/json")
}

/// The `Location` header of a redirect.
pub fn location(response: &LocalResponse<'_>) -> String {
    response
        .headers()
        .get_one("Location")
        .unwrap_or_default()
        .to_owned()
}
