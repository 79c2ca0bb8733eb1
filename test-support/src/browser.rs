//! Drives Debian's headless Chromium through ChromeDriver: shared by the
//! library's browser tests and the demo's.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// Whether a browser can run here: true, or a panic that says what to
/// install. The browser tests are `#[ignore]`d with that reason, so they
/// run only when asked for (`--include-ignored`), and a missing browser is
/// then a failure, never a test that passed without running.
pub fn available() -> bool {
    let found = std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new("/usr/bin/chromedriver").exists();
    assert!(
        found,
        "headless Chromium and ChromeDriver are missing: apt-get install chromium chromium-driver"
    );
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A ChromeDriver process with one headless Chromium session.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = free_port();
        // A process group of its own, so Drop can end Chromium with it even
        // when a failing test never closed the browser.
        let driver = Command::new("/usr/bin/chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let profile = std::env::temp_dir().join(format!("ss_chrome_{}_{port}", std::process::id()));
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic",
                    "--disable-background-timer-throttling",
                    "--disable-renderer-backgrounding",
                    "--disable-backgrounding-occluded-windows",
                    "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    rocket::tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("chromedriver did not start: {e}"),
            }
        };
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Ends the browser session; call at the end of every test.
    pub async fn finish(self) {
        let _ = self.client.clone().close().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// Runs `script` (a function body) in the current window.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("script")
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("url").to_string()
    }

    /// Whether the element with `id` exists and is shown.
    pub async fn shown(&self, id: &str) -> bool {
        let script = format!(
            "const e = document.getElementById('{id}'); \
             return !!e && !e.hidden && e.getClientRects().length > 0;"
        );
        self.js(&script).await.as_bool().unwrap_or(false)
    }

    /// Polls `check` every 100 ms until it holds or `limit` passes.
    pub async fn wait_for<F, Fut>(&self, limit: Duration, mut check: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while started.elapsed() < limit {
            if check().await {
                return true;
            }
            rocket::tokio::time::sleep(Duration::from_millis(100)).await;
        }
        check().await
    }

    /// Whether the element with `id` shows within `seconds`.
    pub async fn shown_within(&self, id: &str, seconds: u64) -> bool {
        self.wait_for(Duration::from_secs(seconds), || self.shown(id))
            .await
    }

    /// Whether the element with `id` is hidden (or gone) within `seconds`.
    pub async fn hidden_within(&self, id: &str, seconds: u64) -> bool {
        self.wait_for(Duration::from_secs(seconds), || async {
            !self.shown(id).await
        })
        .await
    }

    /// Whether the crate's script has started in the current page (set
    /// `window.sessionSecurity`) within `seconds`.
    pub async fn script_started_within(&self, seconds: u64) -> bool {
        self.wait_for(Duration::from_secs(seconds), || async {
            self.js("return typeof window.sessionSecurity === 'object';")
                .await
                == true
        })
        .await
    }

    /// Whether the current URL satisfies `check` within `seconds`.
    pub async fn url_within(&self, check: impl Fn(&str) -> bool, seconds: u64) -> bool {
        let check = &check;
        self.wait_for(Duration::from_secs(seconds), || async move {
            check(&self.url().await)
        })
        .await
    }

    /// Logs in through the login form at `login_url`.
    pub async fn login_with(&self, login_url: &str, user: &str, password: &str) {
        self.goto(login_url).await;
        self.fill("input[name=username]", user).await;
        self.fill("input[name=password]", password).await;
        self.click("button[type=submit]").await;
        let logged_in = self
            .wait_for(Duration::from_secs(5), || async {
                !self.url().await.contains("/login")
            })
            .await;
        assert!(logged_in, "login as {user} failed");
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.expect(css);
        field.clear().await.ok();
        field.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .expect(css)
            .click()
            .await
            .expect("click");
    }

    /// Opens a new window on `url` and returns its handle.
    pub async fn open_window(&self, url: &str) -> fantoccini::wd::WindowHandle {
        let window = self.client.new_window(false).await.expect("window").handle;
        self.client
            .switch_to_window(window.clone())
            .await
            .expect("switch");
        self.goto(url).await;
        window
    }

    pub async fn switch(&self, window: &fantoccini::wd::WindowHandle) {
        self.client
            .switch_to_window(window.clone())
            .await
            .expect("switch");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// The number shown in the countdown, if any.
    pub async fn counter(&self) -> Option<i64> {
        let text = self
            .js("const c = document.getElementById('session_security_counter'); return c ? c.textContent : '';")
            .await;
        let digits: String = text
            .as_str()?
            .chars()
            .filter(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    }

    /// Whether the page is locked (relogin dialog up): its own content,
    /// `#content`, is out of the document, and no form field is left in it.
    pub async fn content_locked(&self) -> bool {
        let script = "return !document.getElementById('content') \
            && document.querySelectorAll('input, textarea, select').length === 0;";
        self.js(script).await.as_bool().unwrap_or(false)
    }

    /// Presses a plain key on the focused element: deliberate activity.
    pub async fn press_key(&self) {
        let focused = self.client.active_element().await.expect("focus");
        focused.send_keys("x").await.expect("key");
    }

    /// Blocks the page's main thread for `seconds`, as a sleeping laptop
    /// would stop its timers, then runs `then` (JS) before any timer fires.
    pub async fn freeze(&self, seconds: u64, then: &str) {
        let script = format!(
            "const end = Date.now() + {ms}; while (Date.now() < end) {{}} {then}",
            ms = seconds * 1000
        );
        self.js(&script).await;
    }
}

/// Seconds since `start`, as a float, for timing assertions.
pub fn since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

impl Browser {
    /// Waits for the relogin dialog, logs `user` in inside its frame, and
    /// comes back to the page.
    pub async fn relogin_in_dialog(&self, user: &str, password: &str) {
        let shown = self
            .wait_for(Duration::from_secs(12), || {
                self.shown("session_security_relogin")
            })
            .await;
        assert!(shown, "relogin dialog shown");
        let frame = self
            .client
            .find(Locator::Id("session_security_relogin_frame"))
            .await
            .expect("frame");
        frame.enter_frame().await.expect("enter frame");
        let form_ready = self
            .wait_for(Duration::from_secs(5), || async {
                self.client
                    .find(Locator::Css("input[name=username]"))
                    .await
                    .is_ok()
            })
            .await;
        assert!(form_ready, "login form in the frame");
        self.fill("input[name=username]", user).await;
        self.fill("input[name=password]", password).await;
        self.click("button[type=submit]").await;
        self.client
            .enter_parent_frame()
            .await
            .expect("back to the page");
    }

    /// The value of a form field.
    pub async fn value(&self, css: &str) -> String {
        let script =
            format!("const e = document.querySelector('{css}'); return e ? e.value : null;");
        self.js(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}
