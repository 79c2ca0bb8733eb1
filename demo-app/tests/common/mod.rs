//! Shared test setup: the demo on its own temporary databases, as a
//! [`TestApp`] on a clock the test moves, and how the demo is signed in to
//! (its login form) and where its CSRF token is (in its pages).

#![allow(dead_code, unused_imports)] // each test binary uses a different part of this

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::local::asynchronous::LocalResponse;
use rocket_login_throttle::LoginThrottle;
use rocket_session_security::{Clock, ManualClock, SessionSecurity};
pub use test_support::html::{csrf_token, element_text, form_body};
use test_support::TempDir;
pub use test_support::TestApp;

/// A fixed start time: tests never depend on the wall clock.
pub const START: i64 = 1_700_000_000;

/// The demo's side of [`TestApp`].
#[allow(async_fn_in_trait)] // used in this package's tests only
pub trait DemoApp: Sized {
    /// The demo on fresh SQLite files with the usual timings (warn after
    /// 540 s, expire after 600 s); `name` names the files' directory.
    async fn start(name: &str) -> Self {
        Self::start_with(name, |figment| figment).await
    }

    /// [`start`](Self::start) with settings of the test's on top.
    async fn start_with(name: &str, settings: impl FnOnce(Figment) -> Figment) -> Self;

    /// A second browser on the same databases and clock.
    async fn second_browser(&self) -> Self;

    /// Logs in through the login form, as a browser would; answers the
    /// POST's response.
    async fn login(&self, username: &str, password: &str) -> LocalResponse<'_>;

    /// The CSRF token of the signed-in session, read from a page.
    async fn csrf(&self) -> String;
}

impl DemoApp for TestApp {
    async fn start_with(name: &str, settings: impl FnOnce(Figment) -> Figment) -> Self {
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
        launch(ManualClock::new(START), settings(figment))
            .await
            .holding(dir)
    }

    async fn second_browser(&self) -> Self {
        launch(self.clock.clone(), self.figment()).await
    }

    async fn login(&self, username: &str, password: &str) -> LocalResponse<'_> {
        let (status, page) = self.page("/login").await;
        assert_eq!(status, Status::Ok);
        let token = csrf_token(&page).expect("the login form has a CSRF token");
        self.post_form(
            "/login",
            &[
                ("csrf_token", &token),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    async fn csrf(&self) -> String {
        let (status, body) = self.page("/").await;
        assert_eq!(status, Status::Ok, "signed in");
        csrf_token(&body).expect("csrf token in the page")
    }
}

/// The demo on `figment`, its fairings on `clock`.
async fn launch(clock: ManualClock, figment: Figment) -> TestApp {
    let security = SessionSecurity::fairing().with_clock(clock.clone());
    let throttle = LoginThrottle::fairing().with_clock({
        let clock = clock.clone();
        move || clock.now()
    });
    TestApp::launch(demo_app::rocket_with(security, throttle, figment), clock).await
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
