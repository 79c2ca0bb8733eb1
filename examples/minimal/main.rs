//! The smallest app: a login, a logout and one protected page with a form.
//! Its templates have no include: the fairing injects the dialogs.
//! `cargo run --example minimal`, then sign in as carol / carol-pass.

use rocket::response::Redirect;
use rocket::{get, post, routes, FromForm};
use rocket_dyn_templates::{context, Template};
use rocket_session_security::{
    after_login, catchers, Authenticated, CsrfForm, NoFields, Relogin, Session, SessionSecurity,
};

/// Demo users; a real app keeps password hashes (argon2) in its database.
const USERS: [(&str, &str); 2] = [("carol", "carol-pass"), ("dave", "dave-pass")];

#[get("/login/<relogin..>?<next>")]
fn login_form(relogin: Relogin, next: Option<&str>, session: Session<'_>) -> Template {
    let (action, csrf_field) = (relogin.form_action("/login", next), session.csrf_field());
    Template::render("login", context! { action, csrf_field })
}

#[derive(FromForm)]
struct Login {
    username: String,
    password: String,
}

#[post("/login/<relogin..>?<next>", data = "<form>")]
async fn login(
    relogin: Relogin,
    next: Option<&str>,
    form: CsrfForm<Login>,
    session: Session<'_>,
) -> Redirect {
    let known = USERS.contains(&(form.username.as_str(), form.password.as_str()));
    if !known || session.login(&form.username).await.is_err() {
        return relogin.retry("/login", next);
    }
    after_login(relogin, next)
}

#[post("/logout", data = "<_form>")]
async fn logout(_form: CsrfForm<NoFields>, session: Session<'_>) -> Redirect {
    session.logout().await.ok();
    Redirect::to("/login")
}

#[get("/")]
fn home() -> Redirect {
    Redirect::to("/notes")
}

#[get("/notes")]
fn notes(user: Authenticated, session: Session<'_>) -> Template {
    let notes: Vec<String> = session.get("notes").unwrap_or_default();
    let csrf_field = session.csrf_field();
    Template::render("notes", context! { user: user.user_id, notes, csrf_field })
}

#[derive(FromForm)]
struct Note {
    text: String,
}

#[post("/notes", data = "<note>")]
fn add_note(_user: Authenticated, note: CsrfForm<Note>, session: Session<'_>) -> Redirect {
    let mut notes: Vec<String> = session.get("notes").unwrap_or_default();
    notes.push(note.into_inner().text);
    session.insert("notes", notes).ok();
    Redirect::to("/notes")
}

/// Rocket's configuration (`ROCKET_*` variables apply) with our templates.
#[rocket::launch]
fn rocket() -> _ {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/minimal/templates");
    rocket::custom(rocket::Config::figment().join(("template_dir", dir)))
        .attach(SessionSecurity::fairing())
        .attach(Template::fairing())
        .register("/", catchers())
        .mount(
            "/",
            routes![home, login_form, login, logout, notes, add_note],
        )
}
