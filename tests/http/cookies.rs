//! Cookie hygiene: `__Host-` names over HTTPS (a sibling subdomain can
//! neither plant nor delete ours), no cookie on a cacheable asset, and
//! `no-store` on every response that sets a cookie or holds a CSRF token;
//! and requests other sites' pages make are no activity.

use crate::common::{figment, LibraryApp, TestApp};
use rocket::http::{Cookie, Header, Status};
use rocket_session_security::SESSION_COOKIE;

fn secure() -> rocket::figment::Figment {
    figment().merge(("session_security.cookie_secure", true))
}

/// The names of the cookies a login sets.
async fn names_set_by_login(app: &TestApp) -> Vec<String> {
    let response = app.get("/login/alice").await;
    response
        .headers()
        .get("Set-Cookie")
        .map(|c| c.split('=').next().unwrap_or_default().to_owned())
        .collect()
}

#[rocket::async_test]
async fn over_https_every_cookie_is_host_prefixed() {
    let app = TestApp::with(secure()).await;
    let names = names_set_by_login(&app).await;
    assert!(!names.is_empty());
    for name in &names {
        assert!(name.starts_with("__Host-"), "{name} in {names:?}");
    }
}

#[rocket::async_test]
async fn the_api_names_the_cookies_the_browser_really_gets() {
    for (figment, prefix) in [(figment(), ""), (secure(), "__Host-")] {
        let app = TestApp::with(figment).await;
        let set = names_set_by_login(&app).await;
        let admin = test_support::admin(app.client.rocket());
        let names = admin.cookie_names();
        assert_eq!(names.session, format!("{prefix}{SESSION_COOKIE}"));
        for name in [names.session, names.user] {
            assert!(set.iter().any(|s| s == name), "{name} in {set:?}");
        }
        assert!(names.backup.starts_with(prefix) && names.csrf.starts_with(prefix));
    }
}

#[rocket::async_test]
async fn a_plain_named_cookie_planted_by_a_sibling_is_not_read_nor_removed() {
    let app = TestApp::with(secure()).await;
    app.login("alice").await;
    let planted = app.session_cookie_named("__Host-session_security");
    // A sibling subdomain can only set the plain name (no __Host- from it).
    let response = app
        .client
        .get("/whoami")
        .cookie(Cookie::new(SESSION_COOKIE, planted.clone()))
        .header(Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok, "ours is read, not the plant");
    assert_eq!(response.into_string().await.as_deref(), Some("alice"));
    let untracked = rocket::local::asynchronous::Client::untracked(crate::common::app(
        secure(),
        &rocket_session_security::ManualClock::new(crate::common::T0),
    ))
    .await
    .expect("rocket");
    let only_plain = untracked
        .get("/whoami")
        .cookie(Cookie::new(SESSION_COOKIE, planted))
        .header(Header::new("Accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(only_plain.status(), Status::Unauthorized);
    let removals: Vec<_> = only_plain.headers().get("Set-Cookie").collect();
    assert!(
        removals.iter().all(|c| !c.starts_with("session_security=")),
        "never answers the plain cookie with a removal: {removals:?}"
    );
}

#[rocket::async_test]
async fn an_asset_response_sets_no_cookie() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let urls: rocket::serde::json::Value = app.get("/asset-urls").await.into_json().await.unwrap();
    let script = urls["script"].as_str().unwrap().to_owned();
    // A cookie that names nothing is answered with a removal on a page...
    let page = app
        .client
        .get("/get/draft")
        .cookie(Cookie::new(SESSION_COOKIE, "x".repeat(43)))
        .dispatch()
        .await;
    let removals: Vec<_> = page.headers().get("Set-Cookie").collect();
    assert!(
        removals.iter().any(|c| c.contains("Max-Age=0")),
        "a page answers that cookie with a removal: {removals:?}"
    );
    // ...but not on an asset.
    let response = app
        .client
        .get(script)
        .cookie(Cookie::new(SESSION_COOKIE, "x".repeat(43)))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.headers().get("Set-Cookie").count(), 0);
    let cache = response
        .headers()
        .get_one("Cache-Control")
        .unwrap_or_default();
    assert!(cache.contains("immutable"), "{cache}");
}

#[rocket::async_test]
async fn a_login_form_with_a_csrf_token_is_not_stored_by_caches() {
    let app = TestApp::new().await;
    let response = app.get("/csrf").await;
    assert!(
        response.headers().get("Set-Cookie").count() > 0,
        "the first visit sets the token's cookie"
    );
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
    // And again once the anonymous session exists (no Set-Cookie now).
    let response = app.get("/csrf").await;
    assert_eq!(response.headers().get("Set-Cookie").count(), 0);
    assert_eq!(
        response.headers().get_one("Cache-Control"),
        Some("no-store")
    );
}

#[rocket::async_test]
async fn another_sites_script_is_no_activity_but_its_links_are() {
    let app = TestApp::new().await;
    app.login("alice").await;
    app.advance(3);
    let fetch = app
        .client
        .get("/whoami")
        .header(Header::new("Sec-Fetch-Site", "same-site"))
        .header(Header::new("Sec-Fetch-Mode", "cors"))
        .dispatch()
        .await;
    assert_eq!(fetch.status(), Status::Ok);
    assert_eq!(app.server_idle().await, Some(3), "a sibling's fetch");
    let ping = app
        .client
        .get("/session_security/ping?idleFor=0")
        .header(Header::new("Sec-Fetch-Site", "cross-site"))
        .header(Header::new("Sec-Fetch-Mode", "no-cors"))
        .dispatch()
        .await;
    assert_eq!(ping.status(), Status::Ok);
    assert_eq!(app.server_idle().await, Some(3), "a cross-site ping");
    let link = app
        .client
        .get("/whoami")
        .header(Header::new("Sec-Fetch-Site", "cross-site"))
        .header(Header::new("Sec-Fetch-Mode", "navigate"))
        .dispatch()
        .await;
    assert_eq!(link.status(), Status::Ok);
    assert_eq!(app.server_idle().await, Some(0), "a link from elsewhere");
    app.advance(2);
    let own = app
        .client
        .get("/whoami")
        .header(Header::new("Sec-Fetch-Site", "same-origin"))
        .header(Header::new("Sec-Fetch-Mode", "cors"))
        .dispatch()
        .await;
    assert_eq!(own.status(), Status::Ok);
    assert_eq!(app.server_idle().await, Some(0), "our own page's fetch");
}

trait Named {
    fn session_cookie_named(&self, name: &str) -> String;
}

impl Named for TestApp {
    fn session_cookie_named(&self, name: &str) -> String {
        self.client
            .cookies()
            .get(name)
            .expect("the session cookie")
            .value()
            .to_owned()
    }
}
