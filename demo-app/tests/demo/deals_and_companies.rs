//! Deals (the long form, stages, who sees what) and companies.

use crate::common::{element_text, location, DemoApp, TestApp};
use rocket::http::Status;

async fn signed_in(name: &str, user: &str) -> (TestApp, String) {
    let app = TestApp::start(name).await;
    let password = format!("{user}-demo-pass");
    assert_eq!(app.login(user, &password).await.status(), Status::SeeOther);
    let token = app.csrf().await;
    (app, token)
}

const LONG_NOTE: &str = "First call went well: they want the pilot before the summer.\n\n\
    Decision makers: the COO signs, IT has a veto on anything touching the network.\n\n\
    Risks: budget freeze in Q3 <maybe> & a competing bid.";

#[rocket::async_test]
async fn a_deal_with_a_long_note_is_created_edited_and_deleted() {
    let (app, token) = signed_in("deals-crud", "alice").await;
    let (status, form) = app.page("/deals/new?company=3").await;
    assert_eq!(status, Status::Ok);
    assert!(
        form.contains("<option value=\"3\" selected>"),
        "company preselected"
    );

    let fields = [
        ("csrf_token", token.as_str()),
        ("title", "Fleet telematics"),
        ("company_id", "3"),
        ("contact_id", "6"),
        ("stage", "qualified"),
        ("value", "$27,500.50"),
        ("close_date", "2030-06-30"),
        ("notes", LONG_NOTE),
    ];
    let response = app.post_form("/deals", &fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    let path = location(&response);
    let (status, page) = app.page(&path).await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains("$27,500.50"));
    assert!(page.contains("Cobalt Ridge Mining") && page.contains("Lachlan Murray"));
    assert!(page.contains("Jun 30, 2030"));
    let escaped = LONG_NOTE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(
        page.contains(&escaped),
        "the multi-paragraph note is shown whole and escaped"
    );

    let (_, list) = app.page("/deals?q=telematics").await;
    assert!(list.contains("Fleet telematics"));
    let (_, by_stage) = app.page("/deals?stage=won").await;
    assert!(!by_stage.contains("Fleet telematics"), "stage filter");

    let mut edited = fields;
    edited[4] = ("stage", "negotiation");
    edited[1] = ("title", "Fleet telematics, phase 1");
    let response = app.post_form(&path, &edited).await;
    assert_eq!(response.status(), Status::SeeOther);
    let (_, page) = app.page(&path).await;
    assert!(page.contains("Fleet telematics, phase 1"));
    assert!(page.contains("class=\"current\" aria-current=\"step\">Negotiation<"));

    let response = app
        .post_form(&format!("{path}/delete"), &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(app.page(&path).await.0, Status::NotFound);
}

#[rocket::async_test]
async fn an_invalid_deal_shows_every_error_and_is_not_stored() {
    let (app, token) = signed_in("deals-invalid", "alice").await;
    let fields = [
        ("csrf_token", token.as_str()),
        ("title", "Invalid deal 42"),
        ("company_id", ""),
        ("stage", "maybe"),
        ("value", "lots"),
        ("close_date", "30/06/2030"),
        ("notes", LONG_NOTE),
    ];
    let response = app.post_form("/deals", &fields).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let page = response.into_string().await.unwrap_or_default();
    assert_eq!(
        element_text(&page, "company_id-error"),
        Some("Please pick the company this deal is with.")
    );
    assert_eq!(
        element_text(&page, "stage-error"),
        Some("Please pick a stage.")
    );
    assert_eq!(
        element_text(&page, "value-error"),
        Some("Please enter an amount such as 12500 or 12,500.00.")
    );
    assert_eq!(
        element_text(&page, "close_date-error"),
        Some("Please enter a date as YYYY-MM-DD.")
    );
    assert!(
        element_text(&page, "title-error").is_none(),
        "a good field has no error"
    );
    assert!(
        page.contains("Risks: budget freeze"),
        "the long note survives the round trip"
    );

    // A contact from another company is refused too.
    let mismatch = [
        ("csrf_token", token.as_str()),
        ("title", "Invalid deal 42"),
        ("company_id", "1"),
        ("contact_id", "4"),
        ("stage", "lead"),
        ("value", "100"),
    ];
    let response = app.post_form("/deals", &mismatch).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let page = response.into_string().await.unwrap_or_default();
    let error = element_text(&page, "contact_id-error").unwrap_or_default();
    assert!(
        error.contains("works at Brightwater Dental Group"),
        "{error}"
    );

    let (_, list) = app.page("/deals?q=Invalid%20deal%2042").await;
    assert!(list.contains("No deal matches"), "nothing stored");
}

#[rocket::async_test]
async fn sales_reps_see_their_own_deals_and_managers_see_all() {
    // Seeded deal 2, "Cold-chain sensor subscription", is bob's.
    let (alice, _) = signed_in("deals-visibility-a", "alice").await;
    assert_eq!(alice.page("/deals/2").await.0, Status::NotFound);
    let (_, list) = alice.page("/deals").await;
    assert!(!list.contains("Cold-chain sensor subscription"));
    assert!(list.contains("Warehouse scanner roll-out"), "her own deal");

    let (bob, _) = signed_in("deals-visibility-b", "bob").await;
    assert_eq!(bob.page("/deals/2").await.0, Status::Ok);
    let (_, list) = bob.page("/deals").await;
    assert!(
        list.contains("Cold-chain sensor subscription")
            && list.contains("Warehouse scanner roll-out")
    );
}

#[rocket::async_test]
async fn the_dashboard_shows_counts_pipeline_and_recent_notes() {
    let (app, _) = signed_in("dashboard", "alice").await;
    let (status, page) = app.page("/").await;
    assert_eq!(status, Status::Ok);
    assert!(page.contains(
        "<span class=\"stat-value\">12</span><span class=\"stat-label\">Companies</span>"
    ));
    assert!(page.contains(
        "<span class=\"stat-value\">30</span><span class=\"stat-label\">Contacts</span>"
    ));
    assert!(page.contains("Pipeline by stage"));
    for stage in [
        "Lead",
        "Qualified",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
    ] {
        assert!(page.contains(&format!(">{stage}</span>")), "{stage}");
    }
    assert!(
        page.contains("Latest notes") && page.contains("Pablo asked for a monthly-billing quote.")
    );
}

#[rocket::async_test]
async fn companies_are_created_edited_searched_and_deleted() {
    let (app, token) = signed_in("companies-crud", "alice").await;
    let fields = [
        ("csrf_token", token.as_str()),
        ("name", "Quayside Bakery"),
        ("industry", "Food"),
        ("website", "https://quayside.example"),
        ("city", "Bristol"),
        ("notes", "Family business."),
    ];
    let response = app.post_form("/companies", &fields).await;
    assert_eq!(response.status(), Status::SeeOther);
    let path = location(&response);
    let (_, page) = app.page(&path).await;
    assert!(page.contains("Quayside Bakery") && page.contains("Bristol"));

    // The same name again is refused next to the name field.
    let response = app.post_form("/companies", &fields).await;
    assert_eq!(response.status(), Status::UnprocessableEntity);
    let page = response.into_string().await.unwrap_or_default();
    assert_eq!(
        element_text(&page, "name-error"),
        Some("There is already a company with this name.")
    );

    let (_, found) = app.page("/companies?q=bristol").await;
    assert!(found.contains("Quayside Bakery") && !found.contains("Alderbrook Logistics"));

    let mut edited = fields;
    edited[5] = ("notes", "Family business.\n\nThree shops now.");
    edited[3] = ("website", "quayside.example");
    let response = app.post_form(&path, &edited).await;
    assert_eq!(
        response.status(),
        Status::UnprocessableEntity,
        "a website without https:// is refused"
    );
    edited[3] = ("website", "https://quayside.example");
    let response = app.post_form(&path, &edited).await;
    assert_eq!(
        response.status(),
        Status::SeeOther,
        "its own name is not taken"
    );
    let (_, page) = app.page(&path).await;
    assert!(page.contains("Three shops now."));

    let response = app
        .post_form(&format!("{path}/delete"), &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(app.page(&path).await.0, Status::NotFound);
}

#[rocket::async_test]
async fn a_sales_rep_cannot_delete_a_company_with_a_colleagues_deals() {
    // Company 1 has a deal of bob's.
    let (app, token) = signed_in("companies-guard", "alice").await;
    let (_, confirm) = app.page("/companies/1/delete").await;
    assert!(confirm.contains("ask a manager"));
    let response = app
        .post_form("/companies/1/delete", &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(app.page("/companies/1").await.0, Status::Ok, "still there");
}
