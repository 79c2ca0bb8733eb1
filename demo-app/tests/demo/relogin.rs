//! The demo keeps "recently viewed" in the session's data: an in-place
//! relogin of the same user brings it back, another user never sees it.

use crate::common::{csrf_token, location, DemoApp, TestApp};
use rocket::http::Status;

/// Signs in through the relogin form, as the dialog's frame does, and
/// follows the redirect to the library's after-relogin page.
async fn relogin(app: &TestApp, username: &str, password: &str) {
    let (status, page) = app.page("/login/1").await;
    assert_eq!(status, Status::Ok);
    let token = csrf_token(&page).expect("token");
    let fields = [
        ("csrf_token", token.as_str()),
        ("username", username),
        ("password", password),
    ];
    let response = app.post_form("/login/1", &fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    let after = location(&response);
    assert_eq!(after, "/session_security/after_relogin");
    assert_eq!(app.page(&after).await.0, Status::Ok);
}

async fn expire_after_viewing_a_contact(name: &str) -> TestApp {
    let app = TestApp::start(name).await;
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    assert_eq!(app.page("/contacts/1").await.0, Status::Ok);
    let (_, page) = app.page("/").await;
    assert!(
        page.contains("id=\"recently-viewed\""),
        "the visit is remembered"
    );
    assert!(page.contains("href=\"/contacts/1\""));

    app.clock.advance(601);
    assert_eq!(app.page("/").await.0, Status::SeeOther, "expired");
    app
}

#[rocket::async_test]
async fn the_same_user_gets_the_session_data_back() {
    let app = expire_after_viewing_a_contact("relogin-same").await;
    relogin(&app, "alice", "alice-demo-pass").await;
    let (status, page) = app.page("/").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("id=\"recently-viewed\""), "restored");
    assert!(page.contains(
        "<a href=\"/contacts/1\"><span class=\"visit-kind\">contact</span> Femke de Vries</a>"
    ));
}

#[rocket::async_test]
async fn another_user_gets_nothing_of_it() {
    let app = expire_after_viewing_a_contact("relogin-other").await;
    relogin(&app, "bob", "bob-demo-pass").await;
    let (status, page) = app.page("/").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Bob Baxter"));
    assert!(
        !page.contains("id=\"recently-viewed\""),
        "alice's data stays hers"
    );
}

#[rocket::async_test]
async fn a_plain_logout_forgets_it() {
    let app = TestApp::start("relogin-logout").await;
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    assert_eq!(app.page("/contacts/1").await.0, Status::Ok);
    let token = app.csrf().await;
    assert_eq!(
        app.post_form("/logout", &[("csrf_token", &token)])
            .await
            .status(),
        Status::SeeOther
    );
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    let (_, page) = app.page("/").await;
    assert!(!page.contains("id=\"recently-viewed\""));
}
