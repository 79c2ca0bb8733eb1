//! `examples/minimal` as users run it: its own binary, configured by the
//! environment only (warn 3 s, expire 6 s), driven in headless Chromium.
//! The warning comes, the relogin dialog follows, carol's relogin keeps her
//! unsaved text, dave's gets a fresh page without carol's notes, and the
//! dialogs are injected into templates that have no include.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use test_support::browser::{since, Browser};
use test_support::TempDir;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Typed into the textarea and never saved before the expiry.
const UNSAVED: &str = "Call the bank about the loan.\nThen the landlord.";

/// The newest modification time of the files under `path` (a file or a
/// directory).
fn newest(path: &Path) -> SystemTime {
    match std::fs::read_dir(path) {
        Ok(entries) => entries
            .flatten()
            .map(|e| newest(&e.path()))
            .fold(SystemTime::UNIX_EPOCH, SystemTime::max),
        Err(_) => std::fs::metadata(path)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

/// The example's binary next to this test's (`<target>/<profile>/deps/`
/// holds the test, `<target>/<profile>/examples/` the example), built with
/// `cargo build --example minimal` when it is missing or older than the
/// sources. A whole-workspace `cargo test` builds it itself with the same
/// features; building it here only when needed avoids rebuilding the
/// dependencies with another feature set. Once per test process.
fn example_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_example)
}

fn build_example() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps/<test>");
    let binary = profile_dir.join("examples").join("minimal");
    let built = std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let sources = [
        "src",
        "static",
        "templates",
        "Cargo.toml",
        "Cargo.lock",
        "examples/minimal/main.rs",
    ];
    let changed = sources
        .iter()
        .map(|s| newest(&Path::new(MANIFEST_DIR).join(s)))
        .max()
        .expect("sources");
    if built.is_some_and(|built| built >= changed) {
        return binary;
    }
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .args(["build", "--example", "minimal"])
        .current_dir(MANIFEST_DIR);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cargo.arg("--release");
        }
        Some(other) => {
            cargo.args(["--profile", other]);
        }
        None => {}
    }
    if cfg!(feature = "postgres") {
        cargo.args(["--features", "postgres"]);
    }
    eprintln!("building the example: {cargo:?}");
    let status = cargo.status().expect("cargo build --example minimal");
    assert!(status.success(), "cargo build --example minimal: {status}");
    assert!(binary.exists(), "no example binary at {}", binary.display());
    binary
}

/// The example's process on a free port, with its own database and working
/// directory; killed when dropped, also when a test panics (then its log is
/// printed).
struct Example {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Example {
    fn start() -> Example {
        let binary = example_binary();
        for _attempt in 0..3 {
            let dir = TempDir::new("ss_minimal");
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let log = std::fs::File::create(dir.path().join("example.log")).expect("log");
            let mut command = Command::new(binary);
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("ROCKET_") {
                    command.env_remove(key);
                }
            }
            let databases = format!(
                "{{session_security={{url=\"{}\"}}}}",
                dir.sqlite_url("s.sqlite")
            );
            command
                .current_dir(dir.path())
                // No Rocket.toml from the working directory or above it.
                .env("ROCKET_CONFIG", dir.path().join("Rocket.toml"))
                .env("ROCKET_ADDRESS", "127.0.0.1")
                .env("ROCKET_PORT", port.to_string())
                .env("ROCKET_LOG_LEVEL", "critical")
                .env(
                    "ROCKET_SESSION_SECURITY",
                    "{warn_after=3,expire_after=6,cookie_secure=false}",
                )
                .env("ROCKET_DATABASES", databases)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log);
            let child = command.spawn().expect("example binary");
            let mut example = Example { child, port, dir };
            if example.wait_until_listening() {
                return example;
            }
            // It exited (the port was taken meanwhile?): its log, then again.
            eprintln!("example did not start:\n{}", example.log());
        }
        panic!("examples/minimal did not start in three attempts");
    }

    /// Whether the port answers before the process exits (30 s at most).
    fn wait_until_listening(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("examples/minimal not listening after 30 s:\n{}", self.log());
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("example.log")).unwrap_or_default()
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("examples/minimal's log:\n{}", self.log());
        }
    }
}

/// Signs in through the example's login form and lands on `/notes`.
async fn sign_in(browser: &Browser, example: &Example, user: &str, password: &str) {
    browser
        .login_with(&example.url("/login"), user, password)
        .await;
    let at_notes = browser.url_within(|u| u.ends_with("/notes"), 5).await;
    assert!(at_notes, "{user} is on {}, not /notes", browser.url().await);
}

/// The texts of the saved notes listed on the page.
async fn listed_notes(browser: &Browser) -> Vec<String> {
    let notes = browser
        .js("return Array.from(document.querySelectorAll('#notes li'), li => li.textContent);")
        .await;
    serde_json::from_value(notes).unwrap_or_default()
}

/// Saves `text` as a note through the page's form.
async fn save_note(browser: &Browser, text: &str) {
    browser.fill("textarea[name=text]", text).await;
    browser
        .click("form[action='/notes'] button[type=submit]")
        .await;
    let saved = browser
        .wait_for(Duration::from_secs(5), || async {
            listed_notes(browser).await.iter().any(|n| n == text)
        })
        .await;
    assert!(
        saved,
        "note {text:?} saved: {:?}",
        listed_notes(browser).await
    );
}

/// The whole document as HTML.
async fn page_html(browser: &Browser) -> String {
    let html = browser
        .js("return document.documentElement.outerHTML;")
        .await;
    html.as_str().unwrap_or_default().to_owned()
}

/// Types the unsaved text, then waits through the warning (3 s of
/// inactivity) to the relogin dialog (6 s), checking both on the way.
async fn type_and_wait_for_expiry(browser: &Browser) {
    browser.fill("textarea[name=text]", UNSAVED).await;
    let typed = Instant::now();
    assert!(
        !browser.shown("session_security_warning").await,
        "no warning right after typing"
    );
    assert!(
        browser.shown_within("session_security_warning", 8).await,
        "the warning shows ~3 s after the typing"
    );
    let warned = since(typed);
    let counter = browser.counter().await;
    assert!(
        counter.is_some_and(|c| (0..=3).contains(&c)),
        "countdown of expire_after - warn_after = 3 s at most: {counter:?} ({warned:.1} s)"
    );
    assert!(
        browser.shown_within("session_security_relogin", 12).await,
        "the relogin dialog shows at expiry (warning after {warned:.1} s)"
    );
    let locked = browser
        .js("return document.querySelector('textarea[name=text]') === null;")
        .await;
    assert_eq!(locked, true, "the page's form is out of the document");
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn carol_relogs_in_place_and_keeps_her_unsaved_text() {
    if !crate::available() {
        return;
    }
    let example = Example::start();
    let browser = Browser::start().await;
    sign_in(&browser, &example, "carol", "carol-pass").await;
    type_and_wait_for_expiry(&browser).await;

    browser.relogin_in_dialog("carol", "carol-pass").await;
    assert!(
        browser.hidden_within("session_security_relogin", 8).await,
        "the dialog closes after carol's relogin"
    );
    assert!(browser.url().await.ends_with("/notes"), "the same page");
    assert_eq!(browser.value("textarea[name=text]").await, UNSAVED);

    // The kept text can be saved: the form carries the new CSRF token.
    browser
        .click("form[action='/notes'] button[type=submit]")
        .await;
    let saved = browser
        .wait_for(Duration::from_secs(5), || async {
            listed_notes(&browser).await == [UNSAVED]
        })
        .await;
    assert!(
        saved,
        "the kept text saved after the relogin: {:?}",
        listed_notes(&browser).await
    );
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn dave_gets_a_fresh_page_without_carols_notes() {
    if !crate::available() {
        return;
    }
    const SAVED: &str = "Carol's private note";
    let example = Example::start();
    let browser = Browser::start().await;
    sign_in(&browser, &example, "carol", "carol-pass").await;
    save_note(&browser, SAVED).await;
    type_and_wait_for_expiry(&browser).await;
    assert!(
        !page_html(&browser).await.contains(SAVED),
        "carol's notes are out of the locked page"
    );

    browser.relogin_in_dialog("dave", "dave-pass").await;
    let replaced = browser
        .wait_for(Duration::from_secs(8), || async {
            browser
                .js("const h = document.querySelector('h1'); return h && h.textContent;")
                .await
                == "dave's notes"
        })
        .await;
    assert!(replaced, "the page is replaced by dave's /notes");
    assert!(
        browser.hidden_within("session_security_relogin", 2).await,
        "no dialog on dave's page"
    );
    assert_eq!(
        browser.value("textarea[name=text]").await,
        "",
        "none of carol's typing"
    );
    assert_eq!(listed_notes(&browser).await, Vec::<String>::new());
    let html = page_html(&browser).await;
    assert!(!html.contains(SAVED), "carol's note is not on dave's page");

    // Loaded afresh from the server: still nothing of carol's.
    browser.goto(&example.url("/notes")).await;
    assert_eq!(listed_notes(&browser).await, Vec::<String>::new());
    assert!(!page_html(&browser).await.contains(SAVED));
    browser.finish().await;
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn the_dialogs_are_injected_into_templates_without_an_include() {
    if !crate::available() {
        return;
    }
    let templates = Path::new(MANIFEST_DIR).join("examples/minimal/templates");
    for name in ["notes.html.tera", "login.html.tera"] {
        let template = std::fs::read_to_string(templates.join(name)).expect(name);
        assert!(
            !template.contains("session_security"),
            "{name} has no include or markup of the crate's"
        );
    }
    let example = Example::start();
    let browser = Browser::start().await;
    let count = "return document.querySelectorAll('#session_security_config').length;";

    browser.goto(&example.url("/login")).await;
    assert_eq!(
        browser.js(count).await,
        0,
        "a visitor's login page gets no dialogs"
    );

    sign_in(&browser, &example, "carol", "carol-pass").await;
    assert_eq!(browser.js(count).await, 1, "injected once into /notes");
    let kind = browser
        .js("return document.getElementById('session_security_config').tagName;")
        .await;
    assert_eq!(kind, "SCRIPT");
    let html = page_html(&browser).await;
    for id in [
        "session_security_warning",
        "session_security_relogin",
        "session_security_relogin_frame",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "#{id} injected");
    }
    let started = browser.script_started_within(5).await;
    assert!(started, "the injected script runs");
    browser.finish().await;
}
