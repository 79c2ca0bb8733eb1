//! The newcomer's path in a real browser: alice half-types a contact's
//! note, walks away, logs in again in the dialog, and nothing is lost.

use std::sync::Mutex;
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket_login_throttle::LoginThrottle;
use rocket_session_security::SessionSecurity;
use test_support::browser::Browser;

const NOTE: &str = "Met at the trade fair.\n\nWants a quote for 40 seats before March.";

/// Serves the demo on a free port with warn 3 s, expire 6 s and
/// throwaway databases; returns the base URL and the shutdown handle.
async fn serve() -> (String, rocket::Shutdown) {
    let dir = std::env::temp_dir().join(format!("demo-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = |file: &str| format!("sqlite://{}", dir.join(file).display());
    let figment = demo_app::figment()
        .merge(("port", 0))
        .merge(("log_level", "off"))
        .merge(("shutdown.ctrlc", false))
        .merge(("databases.crm.url", url("crm.sqlite")))
        .merge(("databases.session_security.url", url("sessions.sqlite")))
        .merge(("session_security.warn_after", 3))
        .merge(("session_security.expire_after", 6));
    let (tx, rx) = rocket::tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let (security, throttle) = (SessionSecurity::fairing(), LoginThrottle::fairing());
    let rocket = demo_app::rocket_with(security, throttle, figment).attach(AdHoc::on_liftoff(
        "report port",
        move |rocket| {
            let port = rocket.config().port;
            let sender = tx.lock().expect("port").take();
            Box::pin(async move {
                if let Some(sender) = sender {
                    let _ = sender.send(port);
                }
            })
        },
    ));
    let ignited = rocket.ignite().await.expect("ignite");
    let shutdown = ignited.shutdown();
    rocket::tokio::spawn(async move {
        let _ = ignited.launch().await;
    });
    let port = rx.await.expect("port");
    (format!("http://127.0.0.1:{port}"), shutdown)
}

#[rocket::async_test]
#[ignore = "needs headless Chromium and ChromeDriver (apt-get install chromium chromium-driver); run with -- --include-ignored, as scripts/test-all does"]
async fn relogin_in_place_keeps_a_half_typed_note() {
    if !test_support::browser::available() {
        return;
    }
    let (base, shutdown) = serve().await;
    let browser = Browser::start().await;
    browser
        .login_with(&format!("{base}/login"), "alice", "alice-demo-pass")
        .await;
    browser.goto(&format!("{base}/contacts/new")).await;
    browser.fill("input[name=name]", "Dana Whitfield").await;
    browser.fill("input[name=email]", "dana@example.com").await;
    browser.fill("textarea[name=notes]", NOTE).await;

    let warned = browser.shown_within("session_security_warning", 6).await;
    assert!(warned, "the warning shows before expiry");
    browser.relogin_in_dialog("alice", "alice-demo-pass").await;
    let closed = browser.hidden_within("session_security_relogin", 5).await;
    assert!(closed, "the dialog closed");
    assert_eq!(browser.value("textarea[name=notes]").await, NOTE);
    assert_eq!(browser.value("input[name=name]").await, "Dana Whitfield");

    browser.click("form.form button[type=submit]").await;
    let listed = browser
        .wait_for(Duration::from_secs(5), || async {
            !browser.url().await.ends_with("/contacts/new")
        })
        .await;
    assert!(
        listed,
        "the contact was saved with the refreshed CSRF token"
    );
    browser.goto(&format!("{base}/contacts")).await;
    let body = browser.js("return document.body.textContent;").await;
    assert!(body.as_str().unwrap_or_default().contains("Dana Whitfield"));
    browser.finish().await;
    shutdown.notify();
}
