//! What companies, contacts and deals have in common: a form to create and
//! edit one, a page that shows it with its notes, and a delete that asks
//! first.
//!
//! Each of them implements [`Record`] with what is its own: its columns,
//! its checks, what its page and its form show, what a delete takes along.
//! The functions here are the flow the three share, written once: a
//! refused form comes back with everything typed and an error next to each
//! field (422), a save ends in a redirect with a message, a delete asks
//! before it acts. The routes stay in the entity modules, one call each, so
//! a module shows every URL of its record.

use rocket_db_pools::Connection;
use rocket_dyn_templates::{context, Template};
use rocket_session_security::{CsrfForm, NoFields};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::SqliteConnection;

use crate::db::{AppResult, Crm};
use crate::layout::{FieldErrors, Page, Reply};
use crate::notes::{self, NoteDraft, NoteForm, Subject};
use crate::users::CurrentUser;

/// A kind of record with its own list, form, page, notes and delete.
#[rocket::async_trait]
pub trait Record: Sized + Send {
    /// One of them, in messages and on the delete question: `company`.
    const KIND: &'static str;
    /// Its table, its URLs (`/companies/3`), its templates' folder
    /// (`companies/form`) and its navigation entry: `companies`.
    const AREA: &'static str;
    /// What its notes are filed under.
    const SUBJECT: Subject;

    /// The form as typed: every field a string, so a refused form is shown
    /// again exactly as it was sent.
    type Form: Serialize + Send + Sync;
    /// What a successful check read out of the form besides its text: the
    /// ids, amounts and dates to store.
    type Parsed: Send;

    /// The record, or [`AppError::NotFound`](crate::db::AppError::NotFound)
    /// when it does not exist or is not the user's to see.
    async fn find(db: &mut SqliteConnection, user: &CurrentUser, id: i64) -> AppResult<Self>;

    /// Its name or title: in messages and in "recently viewed".
    fn name(&self) -> &str;

    /// The name or title as typed in `form`: the edit form's heading and
    /// the message after creating it.
    fn form_name(form: &Self::Form) -> &str;

    /// The form filled in with the record, to edit it.
    fn into_form(self) -> Self::Form;

    /// Checks `form`; `id` is the record being edited, if any.
    async fn check(
        form: &Self::Form,
        db: &mut SqliteConnection,
        id: Option<i64>,
    ) -> AppResult<Result<Self::Parsed, FieldErrors>>;

    /// Stores a new record created by `user`; answers its id.
    async fn insert(
        db: &mut SqliteConnection,
        user: &CurrentUser,
        form: &Self::Form,
        parsed: Self::Parsed,
    ) -> AppResult<i64>;

    /// Stores the edited record `id`.
    async fn update(
        db: &mut SqliteConnection,
        id: i64,
        form: &Self::Form,
        parsed: Self::Parsed,
    ) -> AppResult<()>;

    /// What the form shows besides its fields (the choices of its
    /// `<select>`s), as an object; none by default.
    async fn form_choices(_db: &mut SqliteConnection) -> AppResult<Value> {
        Ok(json!({}))
    }

    /// Its page's context: the record under its [`KIND`](Self::KIND), and
    /// what is shown with it. The notes are added by [`show`].
    async fn details(self, db: &mut SqliteConnection, user: &CurrentUser) -> AppResult<Value>;

    /// What deleting it does, and whether `user` may.
    async fn deletion(&self, db: &mut SqliteConnection, user: &CurrentUser) -> AppResult<Deletion>;
}

/// What deleting a record does, as the question before it says.
#[derive(Debug)]
pub struct Deletion {
    /// What else goes, or stays, with it.
    pub consequences: Vec<String>,
    /// Why this user may not delete it, if they may not: the question says
    /// so instead of offering the button, and the POST is refused.
    pub blocked: Option<&'static str>,
}

/// `/companies/3`.
fn url<R: Record>(id: i64) -> String {
    format!("/{}/{id}", R::AREA)
}

/// `company` → `Company`, at the start of a message.
fn capitalized(kind: &str) -> String {
    let mut chars = kind.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// `context` (an object) with the entries of `more` added.
fn with(mut context: Value, more: impl Serialize) -> Value {
    if let (Some(context), Ok(Value::Object(more))) =
        (context.as_object_mut(), serde_json::to_value(more))
    {
        context.extend(more);
    }
    context
}

/// The form, new (`id` none: it posts to `/companies`) or editing the
/// record `id` (it posts to `/companies/<id>`); Cancel goes back to where
/// it posts.
async fn form_page<R: Record>(
    page: &Page<'_>,
    db: &mut SqliteConnection,
    form: &R::Form,
    errors: &FieldErrors,
    id: Option<i64>,
) -> AppResult<Template> {
    let (title, action) = match id {
        Some(id) => (format!("Edit {}", R::form_name(form)), url::<R>(id)),
        None => (format!("New {}", R::KIND), format!("/{}", R::AREA)),
    };
    let fields = context! { form, errors, title, cancel: &action, action: &action };
    let context = with(R::form_choices(db).await?, fields);
    Ok(page.render(format!("{}/form", R::AREA), R::AREA, context))
}

/// The form for a new record, `form` prefilled (the company page's "new
/// contact" link preselects the company).
pub async fn new<R: Record>(
    page: Page<'_>,
    mut db: Connection<Crm>,
    form: R::Form,
) -> AppResult<Reply> {
    let errors = FieldErrors::new();
    Ok(Reply::Page(
        form_page::<R>(&page, &mut db, &form, &errors, None).await?,
    ))
}

/// The form filled in with the record `id`.
pub async fn edit<R: Record>(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    let form = R::find(&mut db, &page.user, id).await?.into_form();
    let errors = FieldErrors::new();
    Ok(Reply::Page(
        form_page::<R>(&page, &mut db, &form, &errors, Some(id)).await?,
    ))
}

/// Creates a record, or shows the form again with its errors (422).
pub async fn create<R: Record>(
    page: Page<'_>,
    db: Connection<Crm>,
    form: CsrfForm<R::Form>,
) -> AppResult<Reply> {
    save::<R>(page, db, None, form.into_inner()).await
}

/// Saves the record `id`, or shows the form again with its errors (422).
pub async fn update<R: Record>(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    form: CsrfForm<R::Form>,
) -> AppResult<Reply> {
    R::find(&mut db, &page.user, id).await?;
    save::<R>(page, db, Some(id), form.into_inner()).await
}

/// Create and update alike: the form checked, then stored with a message
/// on the next page, or shown again with what was typed and its errors.
async fn save<R: Record>(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: Option<i64>,
    form: R::Form,
) -> AppResult<Reply> {
    let parsed = match R::check(&form, &mut db, id).await? {
        Ok(parsed) => parsed,
        Err(errors) => {
            let again = form_page::<R>(&page, &mut db, &form, &errors, id).await?;
            return Ok(Reply::Invalid(again));
        }
    };
    let kind = capitalized(R::KIND);
    match id {
        Some(id) => {
            R::update(&mut db, id, &form, parsed).await?;
            Ok(Reply::done(url::<R>(id), format!("{kind} saved.")))
        }
        None => {
            let id = R::insert(&mut db, &page.user, &form, parsed).await?;
            let name = R::form_name(&form).trim();
            Ok(Reply::done(
                url::<R>(id),
                format!("{kind} “{name}” created."),
            ))
        }
    }
}

/// The record's page with its notes and the note form (`draft`: what was
/// typed into it, and its error); remembered as recently viewed.
async fn show_page<R: Record>(
    page: &Page<'_>,
    db: &mut SqliteConnection,
    id: i64,
    draft: NoteDraft,
) -> AppResult<Template> {
    let record = R::find(db, &page.user, id).await?;
    let name = record.name().to_owned();
    let details = record.details(db, &page.user).await?;
    let notes = notes::for_subject(db, R::SUBJECT, id).await?;
    page.record_visit(R::KIND, url::<R>(id), &name);
    let note_action = format!("{}/notes", url::<R>(id));
    let context = with(details, context! { notes, draft, note_action });
    Ok(page.render(format!("{}/show", R::AREA), R::AREA, context))
}

/// The record `id` with its notes.
pub async fn show<R: Record>(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    let draft = NoteDraft::default();
    Ok(Reply::Page(
        show_page::<R>(&page, &mut db, id, draft).await?,
    ))
}

/// Adds a note to the record `id`; an empty one is shown again on the
/// record's page, next to its field (422).
pub async fn add_note<R: Record>(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoteForm>,
) -> AppResult<Reply> {
    R::find(&mut db, &page.user, id).await?;
    match notes::add(&mut db, &page.user, R::SUBJECT, id, form.into_inner()).await? {
        Ok(()) => Ok(Reply::done(R::SUBJECT.url(id), "Note added.")),
        Err(draft) => Ok(Reply::Invalid(
            show_page::<R>(&page, &mut db, id, draft).await?,
        )),
    }
}

/// Asks before deleting the record `id`, and says what goes with it (or
/// why this user may not delete it).
pub async fn confirm_delete<R: Record>(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
) -> AppResult<Reply> {
    let record = R::find(&mut db, &page.user, id).await?;
    let Deletion {
        consequences,
        blocked,
    } = record.deletion(&mut db, &page.user).await?;
    let (what, name, cancel) = (R::KIND, record.name(), url::<R>(id));
    let action = format!("{cancel}/delete");
    Ok(Reply::Page(page.render(
        "confirm_delete",
        R::AREA,
        context! { what, name, consequences, blocked, action, cancel },
    )))
}

/// Deletes the record `id`, unless this user may not. The schema's foreign
/// keys do the rest the question named: they delete its notes (and a
/// company's deals) and detach what is kept.
pub async fn delete<R: Record>(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    _form: CsrfForm<NoFields>,
) -> AppResult<Reply> {
    let record = R::find(&mut db, &page.user, id).await?;
    if let Some(reason) = record.deletion(&mut db, &page.user).await?.blocked {
        return Ok(Reply::refused(url::<R>(id), reason));
    }
    sqlx::query(&format!("DELETE FROM {} WHERE id = ?", R::AREA))
        .bind(id)
        .execute(&mut **db)
        .await?;
    let message = format!("{} “{}” deleted.", capitalized(R::KIND), record.name());
    Ok(Reply::done(format!("/{}", R::AREA), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_start_a_sentence() {
        assert_eq!(capitalized("company"), "Company");
        assert_eq!(capitalized(""), "");
    }

    #[test]
    fn choices_and_fields_make_one_context() {
        let context = with(
            json!({ "stages": ["lead"] }),
            json!({ "title": "New deal" }),
        );
        assert_eq!(context, json!({ "stages": ["lead"], "title": "New deal" }));
    }
}
