//! Using a guard without the fairing stops launch, instead of failing at
//! run time.

use rocket::form::FromForm;
use rocket::{get, post, routes};
use rocket_session_security::{Authenticated, CsrfChecked, CsrfForm, Session};

#[get("/")]
fn protected(user: Authenticated) -> String {
    user.user_id
}

#[get("/data")]
fn data(session: Session<'_>) -> String {
    session.user_id().unwrap_or_default()
}

#[post("/api")]
fn api(_csrf: CsrfChecked) {}

#[derive(FromForm)]
struct Note {
    text: String,
}

#[post("/note", data = "<note>")]
fn note(note: CsrfForm<Note>) -> String {
    note.into_inner().text
}

#[rocket::async_test]
async fn guards_without_the_fairing_abort_launch() {
    for routes in [
        routes![protected],
        routes![data],
        routes![api],
        routes![note],
    ] {
        let rocket = rocket::custom(rocket::Config::figment().merge(("log_level", "off")))
            .mount("/", routes);
        let error = rocket.ignite().await.expect_err("launch must abort");
        assert!(
            matches!(error.kind(), rocket::error::ErrorKind::SentinelAborts(_)),
            "{:?}",
            error.kind()
        );
    }
}
