//! Dated notes on a company, a contact or a deal: the queries the detail
//! pages and the dashboard share, the note form, and note deletion.
//!
//! Adding a note is a route of each area (`POST /companies/<id>/notes`…), so
//! a rejected note is shown again on its own page, next to its field.

use rocket::form::FromForm;
use rocket::{post, routes, Route};
use rocket_db_pools::Connection;
use rocket_session_security::{CsrfForm, NoFields};
use serde::Serialize;
use sqlx::SqliteConnection;

use crate::db::{self, AppError, AppResult, Crm};
use crate::layout::{Page, Reply};
use crate::users::CurrentUser;
use crate::validation::{Validator, MAX_TEXT};

/// What a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `notes.company_id`
    Company,
    /// `notes.contact_id`
    Contact,
    /// `notes.deal_id`
    Deal,
}

impl Subject {
    fn column(self) -> &'static str {
        match self {
            Subject::Company => "company_id",
            Subject::Contact => "contact_id",
            Subject::Deal => "deal_id",
        }
    }

    /// The page of the note's subject.
    pub fn url(self, id: i64) -> String {
        match self {
            Subject::Company => format!("/companies/{id}#notes"),
            Subject::Contact => format!("/contacts/{id}#notes"),
            Subject::Deal => format!("/deals/{id}#notes"),
        }
    }
}

/// A note as a detail page lists it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Note {
    /// Row id.
    pub id: i64,
    /// Username of the writer.
    pub author: String,
    /// Display name of the writer.
    pub author_name: String,
    /// The text, shown with its line breaks.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// The notes on one subject, newest first.
pub async fn for_subject(
    db: &mut SqliteConnection,
    subject: Subject,
    id: i64,
) -> AppResult<Vec<Note>> {
    let sql = format!(
        "SELECT n.id, n.author, COALESCE(u.display_name, n.author) AS author_name, n.body, n.created_at
         FROM notes n LEFT JOIN users u ON u.username = n.author
         WHERE n.{} = ? ORDER BY n.created_at DESC, n.id DESC",
        subject.column()
    );
    Ok(sqlx::query_as(&sql).bind(id).fetch_all(db).await?)
}

/// A note on the dashboard, with a link to what it is about.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct RecentNote {
    /// Display name of the writer.
    pub author_name: String,
    /// The text.
    pub body: String,
    /// Unix seconds.
    pub created_at: i64,
    /// `/companies/3`, `/deals/7`…
    pub subject_url: String,
    /// The company's or contact's name, or the deal's title.
    pub subject_name: String,
}

/// The newest notes the user may see (notes on other people's deals are
/// hidden from sales reps, like the deals).
pub async fn recent(
    db: &mut SqliteConnection,
    user: &CurrentUser,
    limit: i64,
) -> AppResult<Vec<RecentNote>> {
    Ok(sqlx::query_as(
        "SELECT COALESCE(u.display_name, n.author) AS author_name, n.body, n.created_at,
                CASE WHEN n.company_id IS NOT NULL THEN '/companies/' || n.company_id
                     WHEN n.contact_id IS NOT NULL THEN '/contacts/' || n.contact_id
                     ELSE '/deals/' || n.deal_id END AS subject_url,
                COALESCE(c.name, p.name, d.title) AS subject_name
         FROM notes n
         LEFT JOIN users u ON u.username = n.author
         LEFT JOIN companies c ON c.id = n.company_id
         LEFT JOIN contacts p ON p.id = n.contact_id
         LEFT JOIN deals d ON d.id = n.deal_id
         WHERE n.deal_id IS NULL OR d.owner = ?1 OR ?2
         ORDER BY n.created_at DESC, n.id DESC LIMIT ?3",
    )
    .bind(&user.username)
    .bind(user.is_manager())
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The "add a note" form.
#[derive(Debug, Default, Serialize, FromForm)]
pub struct NoteForm {
    /// The note's text.
    #[field(default = "")]
    pub body: String,
}

/// The note form as a detail page shows it: what was typed and its error.
#[derive(Debug, Default, Serialize)]
pub struct NoteDraft {
    /// The text typed so far.
    pub body: String,
    /// Why it was refused.
    pub error: Option<String>,
}

/// Checks and stores a note; a refused note comes back as a draft to show.
pub async fn add(
    db: &mut SqliteConnection,
    user: &CurrentUser,
    subject: Subject,
    id: i64,
    form: NoteForm,
) -> AppResult<Result<(), NoteDraft>> {
    let mut v = Validator::new();
    v.required("body", &form.body, "the note", MAX_TEXT);
    if let Err(mut errors) = v.finish() {
        return Ok(Err(NoteDraft {
            body: form.body,
            error: errors.remove("body"),
        }));
    }
    let sql = format!(
        "INSERT INTO notes ({}, author, body, created_at) VALUES (?, ?, ?, ?)",
        subject.column()
    );
    sqlx::query(&sql)
        .bind(id)
        .bind(&user.username)
        .bind(form.body.trim())
        .bind(db::now())
        .execute(db)
        .await?;
    Ok(Ok(()))
}

/// Who wrote a note and what it is about.
#[derive(sqlx::FromRow)]
struct NoteOwner {
    author: String,
    company_id: Option<i64>,
    contact_id: Option<i64>,
    deal_id: Option<i64>,
}

/// Deletes a note: its writer or a manager may. Notes on a deal the user
/// cannot see do not exist for them.
#[post("/notes/<id>/delete", data = "<_form>")]
async fn delete(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    _form: CsrfForm<NoFields>,
) -> AppResult<Reply> {
    let user = &page.user;
    let row: Option<NoteOwner> = sqlx::query_as(
        "SELECT n.author, n.company_id, n.contact_id, n.deal_id
         FROM notes n LEFT JOIN deals d ON d.id = n.deal_id
         WHERE n.id = ?1 AND (n.deal_id IS NULL OR d.owner = ?2 OR ?3)",
    )
    .bind(id)
    .bind(&user.username)
    .bind(user.is_manager())
    .fetch_optional(&mut **db)
    .await?;
    let Some(note) = row else {
        return Err(AppError::NotFound);
    };
    let back = match (note.company_id, note.contact_id, note.deal_id) {
        (Some(id), _, _) => Subject::Company.url(id),
        (_, Some(id), _) => Subject::Contact.url(id),
        (_, _, Some(id)) => Subject::Deal.url(id),
        _ => "/".to_owned(),
    };
    if note.author != user.username && !user.is_manager() {
        return Ok(Reply::refused(
            back,
            "Only its writer or a manager can delete a note.",
        ));
    }
    sqlx::query("DELETE FROM notes WHERE id = ?")
        .bind(id)
        .execute(&mut **db)
        .await?;
    Ok(Reply::done(back, "Note deleted."))
}

/// `POST /notes/<id>/delete`.
pub fn routes() -> Vec<Route> {
    routes![delete]
}
