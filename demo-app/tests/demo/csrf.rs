//! Forms without the session's CSRF token are refused before anything is
//! stored.

use crate::common::{csrf_token, DemoApp, TestApp};
use rocket::http::Status;

async fn signed_in(name: &str) -> TestApp {
    let app = TestApp::start(name).await;
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    app
}

#[rocket::async_test]
async fn a_contact_without_the_token_is_not_created() {
    let app = signed_in("csrf-create").await;
    let fields = [
        ("name", "Forged Contact"),
        ("email", "forged@example.com"),
        ("notes", ""),
    ];
    let response = app.post_form("/contacts", &fields).await;
    assert_eq!(response.status(), Status::Forbidden);

    let wrong = [
        ("csrf_token", "not-the-token"),
        fields[0],
        fields[1],
        fields[2],
    ];
    let response = app.post_form("/contacts", &wrong).await;
    assert_eq!(response.status(), Status::Forbidden);

    let (_, list) = app.page("/contacts?q=Forged").await;
    assert!(!list.contains("Forged Contact"), "nothing was stored");
}

#[rocket::async_test]
async fn a_token_of_another_session_is_refused() {
    let app = signed_in("csrf-other").await;
    let other = app.second_browser().await;
    let (_, page) = other.page("/login").await;
    let their_token = csrf_token(&page).expect("token");

    let fields = [
        ("csrf_token", their_token.as_str()),
        ("title", "Forged"),
        ("company_id", "1"),
        ("stage", "lead"),
        ("value", "1"),
    ];
    let response = app.post_form("/deals", &fields).await;
    assert_eq!(response.status(), Status::Forbidden);
    let (_, list) = app.page("/deals?q=Forged").await;
    assert!(list.contains("No deal matches"), "nothing was stored");
}

#[rocket::async_test]
async fn a_delete_without_the_token_deletes_nothing() {
    let app = signed_in("csrf-delete").await;
    let response = app
        .post_form("/contacts/1/delete", &[("csrf_token", "wrong")])
        .await;
    assert_eq!(response.status(), Status::Forbidden);
    let response = app.post_form("/companies/1/delete", &[]).await;
    assert_eq!(response.status(), Status::Forbidden);
    assert_eq!(app.page("/contacts/1").await.0, Status::Ok);
    assert_eq!(app.page("/companies/1").await.0, Status::Ok);
}

#[rocket::async_test]
async fn an_edit_or_a_note_without_the_token_changes_nothing() {
    let app = signed_in("csrf-edit").await;
    let (_, before) = app.page("/contacts/1").await;
    let fields = [
        ("name", "Renamed By Someone Else"),
        ("email", "x@example.com"),
    ];
    assert_eq!(
        app.post_form("/contacts/1", &fields).await.status(),
        Status::Forbidden
    );
    assert_eq!(
        app.post_form("/contacts/1/notes", &[("body", "forged note")])
            .await
            .status(),
        Status::Forbidden
    );
    let (_, after) = app.page("/contacts/1").await;
    assert!(!after.contains("Renamed By Someone Else") && !after.contains("forged note"));
    assert!(before.contains("Femke de Vries") && after.contains("Femke de Vries"));
}

#[rocket::async_test]
async fn a_login_without_the_token_does_not_sign_in() {
    let app = TestApp::start("csrf-login").await;
    let fields = [("username", "alice"), ("password", "alice-demo-pass")];
    let response = app.post_form("/login", &fields).await;
    assert_eq!(response.status(), Status::Forbidden);
    let page = response.into_string().await.unwrap_or_default();
    assert!(
        page.contains("The sign-in form had expired"),
        "a fresh form comes back"
    );
    assert_eq!(app.page("/").await.0, Status::SeeOther, "still anonymous");
}
