//! Contacts: create from /contacts/new, list, search, edit, delete, notes,
//! and validation errors next to their fields.

use crate::common::{element_text, location, DemoApp, TestApp};
use rocket::http::Status;

async fn signed_in(name: &str) -> (TestApp, String) {
    let app = TestApp::start(name).await;
    assert_eq!(
        app.login("alice", "alice-demo-pass").await.status(),
        Status::SeeOther
    );
    let token = app.csrf().await;
    (app, token)
}

/// Creates a contact and answers its page's path.
async fn create(app: &TestApp, token: &str, name: &str, email: &str, notes: &str) -> String {
    let fields = [
        ("csrf_token", token),
        ("name", name),
        ("email", email),
        ("notes", notes),
    ];
    let response = app.post_form("/contacts", &fields).await;
    assert_eq!(response.status(), Status::SeeOther, "created");
    location(&response)
}

#[rocket::async_test]
async fn the_new_contact_form_has_the_contract_fields() {
    let (app, _) = signed_in("contacts-form").await;
    let (status, page) = app.page("/contacts/new").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("name=\"name\""));
    assert!(page.contains("name=\"email\""));
    assert!(page.contains("<textarea id=\"notes\" name=\"notes\""));
    assert!(page.contains("type=\"submit\""));
    assert!(page.contains("action=\"/contacts\""));
}

#[rocket::async_test]
async fn a_created_contact_appears_in_the_list_and_in_search() {
    let (app, token) = signed_in("contacts-create").await;
    let notes = "Met at the harbour fair.\n\nInterested in the spring offer.";
    let path = create(
        &app,
        &token,
        "Zelda Quintero",
        "zelda@quintero.example",
        notes,
    )
    .await;
    assert!(path.starts_with("/contacts/"), "{path}");

    let (status, page) = app.page(&path).await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Contact “Zelda Quintero” created."), "flash");
    assert!(page.contains(notes), "paragraphs kept");

    let (_, list) = app.page("/contacts").await;
    assert!(list.contains("Zelda Quintero"));
    let (_, found) = app.page("/contacts?q=quintero").await;
    assert!(
        found.contains("Zelda Quintero"),
        "search is case-insensitive and matches e-mail"
    );
    assert!(!found.contains("Femke de Vries"), "search filters");
    let (_, missed) = app.page("/contacts?q=nobody-has-this-name").await;
    assert!(!missed.contains("Zelda Quintero"));
    assert!(missed.contains("No contact matches"));
}

#[rocket::async_test]
async fn search_treats_wildcards_literally() {
    let (app, _) = signed_in("contacts-wildcards").await;
    let (_, everything) = app.page("/contacts?q=%25").await;
    assert!(
        !everything.contains("Femke de Vries"),
        "% is not a wildcard"
    );
}

#[rocket::async_test]
async fn invalid_contacts_show_errors_next_to_fields_and_store_nothing() {
    let (app, token) = signed_in("contacts-invalid").await;
    let fields = [
        ("csrf_token", token.as_str()),
        ("name", "   "),
        ("email", "not-an-address"),
        ("company_id", "99999"),
        ("notes", "Keep this text"),
    ];
    let response = app.post_form("/contacts", &fields).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let page = response.into_string().await.unwrap_or_default();
    assert_eq!(
        element_text(&page, "name-error"),
        Some("Please enter a name.")
    );
    assert_eq!(
        element_text(&page, "email-error"),
        Some("This does not look like an e-mail address (name@example.com).")
    );
    assert_eq!(
        element_text(&page, "company_id-error"),
        Some("That company no longer exists.")
    );
    assert!(page.contains("Keep this text"), "what was typed is kept");
    let (_, list) = app.page("/contacts?q=not-an-address").await;
    assert!(list.contains("No contact matches"), "nothing stored");
}

#[rocket::async_test]
async fn a_contact_can_be_edited() {
    let (app, token) = signed_in("contacts-edit").await;
    let path = create(&app, &token, "Yusuf Original", "yusuf@example.com", "").await;
    let (status, form) = app.page(&format!("{path}/edit")).await;
    assert_eq!(status, Status::Ok);
    assert!(
        form.contains("value=\"Yusuf Original\""),
        "the form is filled in"
    );

    let fields = [
        ("csrf_token", token.as_str()),
        ("name", "Yusuf Renamed"),
        ("email", "yusuf@renamed.example"),
        ("title", "Buyer"),
        ("company_id", "2"),
        ("notes", "Moved to Brightwater."),
    ];
    let response = app.post_form(&path, &fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), path);
    let (_, page) = app.page(&path).await;
    assert!(page.contains("Yusuf Renamed") && page.contains("yusuf@renamed.example"));
    assert!(page.contains("Brightwater Dental Group"));
    assert!(!page.contains("Yusuf Original"));

    let bad = [
        ("csrf_token", token.as_str()),
        ("name", "Yusuf Renamed"),
        ("email", ""),
    ];
    let response = app.post_form(&path, &bad).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let (_, page) = app.page(&path).await;
    assert!(
        page.contains("yusuf@renamed.example"),
        "a refused edit changes nothing"
    );
}

#[rocket::async_test]
async fn a_contact_can_be_deleted() {
    let (app, token) = signed_in("contacts-delete").await;
    let path = create(&app, &token, "Xavier Temporary", "xavier@example.com", "").await;
    let (status, confirm) = app.page(&format!("{path}/delete")).await;
    assert_eq!(status, Status::Ok);
    assert!(confirm.contains("Delete the contact “Xavier Temporary”?"));

    let response = app
        .post_form(&format!("{path}/delete"), &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/contacts");
    assert_eq!(app.page(&path).await.0, Status::NotFound);
    let (_, list) = app.page("/contacts").await;
    assert!(list.contains("Contact “Xavier Temporary” deleted."));
    assert!(!list.contains(">Xavier Temporary</a>"), "no longer listed");
}

#[rocket::async_test]
async fn notes_are_added_and_an_empty_note_is_refused() {
    let (app, token) = signed_in("contacts-notes").await;
    let response = app
        .post_form(
            "/contacts/1/notes",
            &[("csrf_token", &token), ("body", "Called, left a message.")],
        )
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), "/contacts/1#notes");
    let (_, page) = app.page("/contacts/1").await;
    assert!(page.contains("Called, left a message."));

    let response = app
        .post_form(
            "/contacts/1/notes",
            &[("csrf_token", &token), ("body", "  \n ")],
        )
        .await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let page = response.into_string().await.unwrap_or_default();
    assert_eq!(
        element_text(&page, "body-error"),
        Some("Please enter the note.")
    );
}
