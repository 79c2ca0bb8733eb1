//! Shared test setup: a demo app on its own temporary databases with a
//! clock the test moves, and helpers to log in and post forms.

#![allow(dead_code)] // each test binary uses a different part of this

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use rocket_session_security::{ManualClock, SessionSecurity};

/// A fixed start time: tests never depend on the wall clock.
pub const START: i64 = 1_700_000_000;

/// The demo on temporary SQLite files, with a manual clock.
pub struct TestApp {
    pub client: Client,
    pub clock: ManualClock,
    dir: PathBuf,
    pub figment: Figment,
}

/// A directory no other test (or earlier run) uses.
fn unique_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "demo-app-{name}-{}-{n}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}

impl TestApp {
    /// The demo with the usual timings (warn after 540 s, expire after 600 s).
    pub async fn start(name: &str) -> TestApp {
        let dir = unique_dir(name);
        let url = |file: &str| format!("sqlite://{}", dir.join(file).display());
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

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// The value of the first `name="csrf_token"` hidden field.
pub fn csrf_token(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The `Location` header of a redirect.
pub fn location(response: &LocalResponse<'_>) -> String {
    response
        .headers()
        .get_one("Location")
        .unwrap_or_default()
        .to_owned()
}

/// `application/x-www-form-urlencoded` body.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The text of the element with `id="<id>"`, up to its closing tag.
pub fn element_text<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let marker = format!("id=\"{id}\"");
    let start = html.find(&marker)?;
    let open_end = html[start..].find('>')? + start + 1;
    let close = html[open_end..].find("</")? + open_end;
    Some(&html[open_end..close])
}
