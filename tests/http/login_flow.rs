//! Login in one handler per method: `/login/<relogin..>` serves `/login`
//! and `/login/1`, the form's action and a failed attempt keep the relogin
//! flag and `next`, and a body-less POST checks its CSRF token.

use crate::common::{app_with, figment, LibraryApp, TestApp, T0};
use rocket::http::{ContentType, Status};
use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm};
use rocket_session_security::{
    after_login, CsrfForm, ManualClock, NoFields, Relogin, Session, SessionSecurity,
};

#[get("/signin/<relogin..>?<next>")]
fn form(relogin: Relogin, next: Option<&str>, session: Session<'_>) -> String {
    format!(
        "{} {}",
        relogin.form_action("/signin", next),
        session.csrf_field()
    )
}

#[derive(FromForm)]
struct Login {
    username: String,
    password: String,
}

#[post("/signin/<relogin..>?<next>", data = "<form>")]
async fn signin(
    relogin: Relogin,
    next: Option<&str>,
    form: CsrfForm<Login>,
    session: Session<'_>,
) -> Redirect {
    if form.password != "right" || session.login(&form.username).await.is_err() {
        return relogin.retry("/signin", next);
    }
    after_login(relogin, next)
}

#[post("/signout", data = "<_form>")]
async fn signout(_form: CsrfForm<NoFields>, session: Session<'_>) -> &'static str {
    session.logout().await.expect("logout");
    "signed out"
}

async fn app() -> TestApp {
    let clock = ManualClock::new(T0);
    let fairing = SessionSecurity::fairing().with_clock(clock.clone());
    let rocket = app_with(figment(), fairing).mount("/", routes![form, signin, signout]);
    TestApp::launch(rocket, clock).await
}

/// The form at `path`: its action and CSRF token.
async fn open(app: &TestApp, path: &str) -> (String, String) {
    let (status, body) = app.page(path).await;
    assert_eq!(status, Status::Ok, "{path}");
    let (action, field) = body.split_once(' ').expect("action and field");
    let token = test_support::html::csrf_token(field).expect("a hidden csrf_token field");
    (action.to_owned(), token)
}

async fn post(app: &TestApp, action: &str, token: &str, password: &str) -> (Status, String) {
    let fields = [
        ("csrf_token", token),
        ("username", "alice"),
        ("password", password),
    ];
    let response = app.post_form(action, &fields).await;
    let to = response.headers().get_one("Location").unwrap_or_default();
    (response.status(), to.to_owned())
}

#[rocket::async_test]
async fn one_handler_serves_the_login_and_the_relogin_url() {
    let app = app().await;
    assert_eq!(open(&app, "/signin").await.0, "/signin");
    assert_eq!(open(&app, "/signin/1").await.0, "/signin/1");
    assert_eq!(open(&app, "/signin/true").await.0, "/signin/1");
    assert_eq!(open(&app, "/signin/0").await.0, "/signin");
    assert_eq!(
        app.page("/signin/maybe").await.0,
        Status::UnprocessableEntity
    );
    assert_eq!(app.page("/signin/1/2").await.0, Status::UnprocessableEntity);
}

#[rocket::async_test]
async fn a_failed_relogin_keeps_the_flag_and_the_next_try_is_a_relogin() {
    let app = app().await;
    let (action, token) = open(&app, "/signin/1").await;
    assert_eq!(
        post(&app, &action, &token, "wrong").await,
        (Status::SeeOther, "/signin/1".into())
    );
    let (action, token) = open(&app, "/signin/1").await;
    assert_eq!(
        post(&app, &action, &token, "right").await,
        (Status::SeeOther, "/session_security/after_relogin".into())
    );
}

#[rocket::async_test]
async fn next_goes_through_the_form_and_a_failed_attempt() {
    let app = app().await;
    let (action, token) = open(&app, "/signin?next=/notes%3Fpage%3D2").await;
    assert_eq!(action, "/signin?next=/notes%3Fpage%3D2");
    assert_eq!(
        post(&app, &action, &token, "wrong").await,
        (Status::SeeOther, action.clone())
    );
    assert_eq!(
        post(&app, &action, &token, "right").await,
        (Status::SeeOther, "/notes?page=2".into())
    );
    let (action, _) = open(&app, "/signin?next=https://evil.example/").await;
    assert_eq!(action, "/signin", "only local paths are carried");
}

#[rocket::async_test]
async fn a_body_less_post_checks_its_csrf_token() {
    let app = app().await;
    app.login("alice").await;
    let refused = app.post_form("/signout", &[]).await;
    assert_eq!(refused.status(), Status::Forbidden);
    assert_eq!(app.whoami().await.as_deref(), Some("alice"));
    let token = app.csrf().await;
    let response = app
        .client
        .post("/signout")
        .header(ContentType::Form)
        .body(format!("csrf_token={token}"))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(app.whoami().await, None);
}
