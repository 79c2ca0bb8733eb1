//! What a page gets: the include's markup and configuration, translated
//! strings, and the assets at content-hashed URLs.

use crate::common::{LibraryApp, TestApp};
use rocket::http::{ContentType, Header, Status};

/// The test app (its `/page` renders the include's markup).
async fn page_app(
    setup: impl FnOnce(
        rocket_session_security::SessionSecurity,
    ) -> rocket_session_security::SessionSecurity,
) -> TestApp {
    TestApp::with_fairing(crate::common::figment(), setup).await
}

async fn html(app: &TestApp, accept_language: Option<&str>) -> String {
    let mut request = app.client.get("/page");
    if let Some(languages) = accept_language {
        request = request.header(Header::new("Accept-Language", languages.to_owned()));
    }
    request
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap_or_default()
}

#[rocket::async_test]
async fn nothing_is_rendered_without_a_logged_in_user() {
    let app = page_app(|f| f).await;
    assert_eq!(html(&app, None).await.trim(), "");
}

#[rocket::async_test]
async fn the_include_carries_dialogs_script_and_configuration() {
    let app = page_app(|f| f).await;
    app.login("alice").await;
    let html = html(&app, None).await;
    for id in [
        "session_security_config",
        "session_security_warning",
        "session_security_counter",
        "session_security_stay",
        "session_security_logout",
        "session_security_relogin",
        "session_security_relogin_frame",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(html.contains("role=\"alertdialog\"") && html.contains("aria-modal=\"true\""));
    assert!(
        !html.contains("style=\"") && !html.contains("onclick"),
        "no inline style or handlers"
    );
    let config_start = html.find("id=\"session_security_config\">").unwrap() + 29;
    let config_end = config_start + html[config_start..].find("</script>").unwrap();
    let config: rocket::serde::json::Value =
        rocket::serde::json::from_str(&html[config_start..config_end]).expect("config JSON");
    assert_eq!(config["warnAfter"], 5);
    assert_eq!(config["expireAfter"], 10);
    assert_eq!(config["pingUrl"], "/session_security/ping");
    assert_eq!(config["reloginUrl"], "/login/1");
    // The page's token is the session's, masked (it differs every time).
    let token = config["csrfToken"].as_str().expect("a token").to_owned();
    let posted = app
        .client
        .post("/api/note")
        .header(rocket::http::Header::new("X-CSRF-Token", token))
        .dispatch()
        .await;
    assert_eq!(posted.status(), rocket::http::Status::Ok);
}

#[rocket::async_test]
async fn strings_follow_accept_language_or_the_hook() {
    let app = page_app(|f| f).await;
    app.login("alice").await;
    assert!(html(&app, None)
        .await
        .contains("Your session is about to expire"));
    let german = html(&app, Some("de-CH, de;q=0.9, en;q=0.5")).await;
    assert!(german.contains("lang\":\"de"), "{german}");
    assert!(!german.contains("Your session is about to expire"));

    let hooked = page_app(|f| f.with_locale(|_: &rocket::Request<'_>| Some("pt-BR".into()))).await;
    hooked.login("alice").await;
    let portuguese = html(&hooked, Some("de")).await;
    assert!(portuguese.contains("lang\":\"pt-BR"), "{portuguese}");
}

#[rocket::async_test]
async fn assets_are_served_at_content_hashed_urls() {
    let app = page_app(|f| f).await;
    app.login("alice").await;
    let html = html(&app, None).await;
    let src_start = html.find("src=\"").unwrap() + 5;
    let script_url = &html[src_start..src_start + html[src_start..].find('"').unwrap()];
    let script_url = script_url.replace("&#x2F;", "/");
    assert!(
        script_url.starts_with("/session_security/assets/"),
        "{script_url}"
    );
    let response = app.get(&script_url).await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::JavaScript));
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(response
        .into_string()
        .await
        .unwrap()
        .contains("sessionSecurity"));
    let stale = app
        .get("/session_security/assets/0123456789abcdef/script.js")
        .await;
    assert_eq!(stale.status(), Status::NotFound);
}
