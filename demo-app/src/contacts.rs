//! Contacts: list and search, create, show (with their deals and notes),
//! edit, delete.

use rocket::form::FromForm;
use rocket::{get, post, routes, Route};
use rocket_db_pools::Connection;
use rocket_dyn_templates::{context, Template};
use rocket_session_security::CsrfForm;
use serde::Serialize;
use sqlx::SqliteConnection;

use crate::companies;
use crate::db::{self, AppError, AppResult, Crm};
use crate::layout::{Confirmation, DeleteQuestion, FieldErrors, Page, Reply};
use crate::notes::{self, NoteDraft, NoteForm, Subject};
use crate::validation::{optional_id, Validator, MAX_LINE, MAX_TEXT};

/// A contact as its page shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct Contact {
    id: i64,
    company_id: Option<i64>,
    company_name: Option<String>,
    name: String,
    email: String,
    phone: String,
    title: String,
    notes: String,
    created_at: i64,
    updated_at: i64,
}

/// A line of the contact list.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct ContactRow {
    id: i64,
    name: String,
    title: String,
    email: String,
    phone: String,
    company_id: Option<i64>,
    company_name: Option<String>,
}

/// The contact form, as typed.
#[derive(Debug, Default, Serialize, FromForm)]
pub struct ContactForm {
    #[field(default = "")]
    name: String,
    #[field(default = "")]
    email: String,
    #[field(default = "")]
    phone: String,
    #[field(default = "")]
    title: String,
    /// A company id, or empty for none.
    #[field(default = "")]
    company_id: String,
    #[field(default = "")]
    notes: String,
}

impl ContactForm {
    fn of(contact: Contact) -> Self {
        ContactForm {
            name: contact.name,
            email: contact.email,
            phone: contact.phone,
            title: contact.title,
            company_id: contact
                .company_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            notes: contact.notes,
        }
    }

    /// Checks the fields; on success, the company id to store.
    async fn validate(
        &self,
        db: &mut SqliteConnection,
    ) -> AppResult<Result<Option<i64>, FieldErrors>> {
        let mut v = Validator::new();
        v.required("name", &self.name, "a name", MAX_LINE);
        v.required("email", &self.email, "an e-mail address", MAX_LINE);
        v.email("email", &self.email);
        v.max_len("phone", &self.phone, 50);
        v.max_len("title", &self.title, MAX_LINE);
        v.max_len("notes", &self.notes, MAX_TEXT);
        let company = optional_id(&mut v, "company_id", &self.company_id);
        if let Some(company) = company {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM companies WHERE id = ?")
                .bind(company)
                .fetch_optional(db)
                .await?;
            if exists.is_none() {
                v.fail("company_id", "That company no longer exists.");
            }
        }
        Ok(v.finish().map(|()| company))
    }
}

/// `(id, "Name, Company")` of every contact, for the deal form's `<select>`.
pub async fn choices(db: &mut SqliteConnection) -> AppResult<Vec<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.name || COALESCE(', ' || c.name, '') FROM contacts p
         LEFT JOIN companies c ON c.id = p.company_id ORDER BY p.name COLLATE NOCASE",
    )
    .fetch_all(db)
    .await?)
}

async fn find(db: &mut SqliteConnection, id: i64) -> AppResult<Contact> {
    sqlx::query_as(
        "SELECT p.*, c.name AS company_name FROM contacts p
         LEFT JOIN companies c ON c.id = p.company_id WHERE p.id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}

/// The contact list; `q` searches name, e-mail, title and company.
#[get("/contacts?<q>")]
async fn list(page: Page<'_>, mut db: Connection<Crm>, q: Option<&str>) -> AppResult<Reply> {
    let q = q.unwrap_or("").trim();
    let contacts: Vec<ContactRow> = sqlx::query_as(
        r"SELECT p.id, p.name, p.title, p.email, p.phone, p.company_id, c.name AS company_name
         FROM contacts p LEFT JOIN companies c ON c.id = p.company_id
         WHERE ?1 = '' OR p.name LIKE ?2 ESCAPE '\' OR p.email LIKE ?2 ESCAPE '\'
               OR p.title LIKE ?2 ESCAPE '\' OR c.name LIKE ?2 ESCAPE '\'
         ORDER BY p.name COLLATE NOCASE",
    )
    .bind(q)
    .bind(db::contains_pattern(q))
    .fetch_all(&mut **db)
    .await?;
    Ok(Reply::Page(page.render(
        "contacts/list",
        "contacts",
        context! { contacts, q },
    )))
}

async fn form_page(
    page: &Page<'_>,
    db: &mut SqliteConnection,
    form: &ContactForm,
    errors: &FieldErrors,
    id: Option<i64>,
) -> AppResult<Template> {
    let companies = companies::choices(db).await?;
    let (title, action) = match id {
        Some(id) => (format!("Edit {}", form.name), format!("/contacts/{id}")),
        None => ("New contact".to_owned(), "/contacts".to_owned()),
    };
    let cancel = id.map_or("/contacts".to_owned(), |id| format!("/contacts/{id}"));
    Ok(page.render(
        "contacts/form",
        "contacts",
        context! { form, errors, companies, title, action, cancel },
    ))
}

/// `?company=<id>` preselects the company (the company page links here).
#[get("/contacts/new?<company>")]
async fn new(page: Page<'_>, mut db: Connection<Crm>, company: Option<i64>) -> AppResult<Reply> {
    let form = ContactForm {
        company_id: company.map(|id| id.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    Ok(Reply::Page(
        form_page(&page, &mut db, &form, &FieldErrors::new(), None).await?,
    ))
}

/// Creates a contact, or shows the form again with its errors (422).
#[post("/contacts", data = "<form>")]
async fn create(
    page: Page<'_>,
    mut db: Connection<Crm>,
    form: CsrfForm<ContactForm>,
) -> AppResult<Reply> {
    let form = form.into_inner();
    let company = match form.validate(&mut db).await? {
        Ok(company) => company,
        Err(errors) => {
            return Ok(Reply::Invalid(
                form_page(&page, &mut db, &form, &errors, None).await?,
            ));
        }
    };
    let now = db::now();
    let id = sqlx::query(
        "INSERT INTO contacts (company_id, name, email, phone, title, notes, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(company)
    .bind(form.name.trim())
    .bind(form.email.trim())
    .bind(form.phone.trim())
    .bind(form.title.trim())
    .bind(form.notes.trim_end())
    .bind(now)
    .bind(now)
    .execute(&mut **db)
    .await?
    .last_insert_rowid();
    let message = format!("Contact “{}” created.", form.name.trim());
    Ok(Reply::done(format!("/contacts/{id}"), message))
}

async fn show_page(
    page: &Page<'_>,
    db: &mut SqliteConnection,
    id: i64,
    draft: NoteDraft,
) -> AppResult<Template> {
    let contact = find(db, id).await?;
    let deals = companies::deal_lines(db, &page.user, "contact_id", id).await?;
    let notes = notes::for_subject(db, Subject::Contact, id).await?;
    page.record_visit("contact", format!("/contacts/{id}"), &contact.name);
    let note_action = format!("/contacts/{id}/notes");
    Ok(page.render(
        "contacts/show",
        "contacts",
        context! { contact, deals, notes, draft, note_action },
    ))
}

/// A contact with the deals the user may see, and notes.
#[get("/contacts/<id>")]
async fn show(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    Ok(Reply::Page(
        show_page(&page, &mut db, id, NoteDraft::default()).await?,
    ))
}

/// Adds a note; an empty one is shown again next to its field (422).
#[post("/contacts/<id>/notes", data = "<form>")]
async fn add_note(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoteForm>,
) -> AppResult<Reply> {
    find(&mut db, id).await?;
    match notes::add(&mut db, &page.user, Subject::Contact, id, form.into_inner()).await? {
        Ok(()) => Ok(Reply::done(Subject::Contact.url(id), "Note added.")),
        Err(draft) => Ok(Reply::Invalid(show_page(&page, &mut db, id, draft).await?)),
    }
}

/// The contact form, filled in.
#[get("/contacts/<id>/edit")]
async fn edit(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    let form = ContactForm::of(find(&mut db, id).await?);
    Ok(Reply::Page(
        form_page(&page, &mut db, &form, &FieldErrors::new(), Some(id)).await?,
    ))
}

/// Saves a contact, or shows the form again with its errors (422).
#[post("/contacts/<id>", data = "<form>")]
async fn update(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    form: CsrfForm<ContactForm>,
) -> AppResult<Reply> {
    find(&mut db, id).await?;
    let form = form.into_inner();
    let company = match form.validate(&mut db).await? {
        Ok(company) => company,
        Err(errors) => {
            return Ok(Reply::Invalid(
                form_page(&page, &mut db, &form, &errors, Some(id)).await?,
            ));
        }
    };
    sqlx::query(
        "UPDATE contacts SET company_id = ?, name = ?, email = ?, phone = ?, title = ?, notes = ?,
                updated_at = ? WHERE id = ?",
    )
    .bind(company)
    .bind(form.name.trim())
    .bind(form.email.trim())
    .bind(form.phone.trim())
    .bind(form.title.trim())
    .bind(form.notes.trim_end())
    .bind(db::now())
    .bind(id)
    .execute(&mut **db)
    .await?;
    Ok(Reply::done(format!("/contacts/{id}"), "Contact saved."))
}

/// Asks before deleting.
#[get("/contacts/<id>/delete")]
async fn confirm_delete(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    let contact = find(&mut db, id).await?;
    let question = DeleteQuestion {
        what: "contact",
        name: contact.name,
        consequences: vec![
            "Every note on this contact is deleted.".to_owned(),
            "Their deals are kept, without a contact person.".to_owned(),
        ],
        blocked: None,
    };
    Ok(page.confirm_delete("contacts", format!("/contacts/{id}"), question))
}

/// Deletes a contact and its notes; their deals stay.
#[post("/contacts/<id>/delete", data = "<_form>")]
async fn delete(
    _page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    _form: CsrfForm<Confirmation>,
) -> AppResult<Reply> {
    let contact = find(&mut db, id).await?;
    sqlx::query("DELETE FROM contacts WHERE id = ?")
        .bind(id)
        .execute(&mut **db)
        .await?;
    let message = format!("Contact “{}” deleted.", contact.name);
    Ok(Reply::done("/contacts", message))
}

/// The contact pages.
pub fn routes() -> Vec<Route> {
    routes![
        list,
        new,
        create,
        show,
        add_note,
        edit,
        update,
        confirm_delete,
        delete
    ]
}
