//! Contacts: list and search, create, show (with their deals and notes),
//! edit, delete.

use rocket::form::FromForm;
use rocket::{get, post, routes, Route};
use rocket_db_pools::Connection;
use rocket_dyn_templates::context;
use rocket_session_security::{CsrfForm, NoFields};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::SqliteConnection;

use crate::companies;
use crate::crud::{self, Deletion, Record};
use crate::db::{self, AppError, AppResult, Crm};
use crate::layout::{FieldErrors, Page, Reply};
use crate::notes::{NoteForm, Subject};
use crate::users::CurrentUser;
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

#[rocket::async_trait]
impl Record for Contact {
    const KIND: &'static str = "contact";
    const AREA: &'static str = "contacts";
    const SUBJECT: Subject = Subject::Contact;
    type Form = ContactForm;
    /// The company they work at, if any.
    type Parsed = Option<i64>;

    async fn find(db: &mut SqliteConnection, _: &CurrentUser, id: i64) -> AppResult<Self> {
        sqlx::query_as(
            "SELECT p.*, c.name AS company_name FROM contacts p
             LEFT JOIN companies c ON c.id = p.company_id WHERE p.id = ?",
        )
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn form_name(form: &ContactForm) -> &str {
        &form.name
    }

    fn into_form(self) -> ContactForm {
        ContactForm {
            name: self.name,
            email: self.email,
            phone: self.phone,
            title: self.title,
            company_id: self.company_id.map(|id| id.to_string()).unwrap_or_default(),
            notes: self.notes,
        }
    }

    async fn check(
        form: &ContactForm,
        db: &mut SqliteConnection,
        _: Option<i64>,
    ) -> AppResult<Result<Option<i64>, FieldErrors>> {
        let mut v = Validator::new();
        v.required("name", &form.name, "a name", MAX_LINE);
        v.required("email", &form.email, "an e-mail address", MAX_LINE);
        v.email("email", &form.email);
        v.max_len("phone", &form.phone, 50);
        v.max_len("title", &form.title, MAX_LINE);
        v.max_len("notes", &form.notes, MAX_TEXT);
        let company = optional_id(&mut v, "company_id", &form.company_id);
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

    async fn insert(
        db: &mut SqliteConnection,
        _: &CurrentUser,
        form: &ContactForm,
        company: Option<i64>,
    ) -> AppResult<i64> {
        let now = db::now();
        let done = sqlx::query(
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
        .execute(db)
        .await?;
        Ok(done.last_insert_rowid())
    }

    async fn update(
        db: &mut SqliteConnection,
        id: i64,
        form: &ContactForm,
        company: Option<i64>,
    ) -> AppResult<()> {
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
        .execute(db)
        .await?;
        Ok(())
    }

    /// The companies to pick from.
    async fn form_choices(db: &mut SqliteConnection) -> AppResult<Value> {
        Ok(json!({ "companies": companies::choices(db).await? }))
    }

    /// The deals the user may see.
    async fn details(self, db: &mut SqliteConnection, user: &CurrentUser) -> AppResult<Value> {
        let deals = companies::deal_lines(db, user, "contact_id", self.id).await?;
        Ok(json!({ "contact": self, "deals": deals }))
    }

    async fn deletion(&self, _: &mut SqliteConnection, _: &CurrentUser) -> AppResult<Deletion> {
        Ok(Deletion {
            consequences: vec![
                "Every note on this contact is deleted.".to_owned(),
                "Their deals are kept, without a contact person.".to_owned(),
            ],
            blocked: None,
        })
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

/// `?company=<id>` preselects the company (the company page links here).
#[get("/contacts/new?<company>")]
async fn new(page: Page<'_>, db: Connection<Crm>, company: Option<i64>) -> AppResult<Reply> {
    let form = ContactForm {
        company_id: company.map(|id| id.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    crud::new::<Contact>(page, db, form).await
}

/// Creates a contact, or shows the form again with its errors (422).
#[post("/contacts", data = "<form>")]
async fn create(
    page: Page<'_>,
    db: Connection<Crm>,
    form: CsrfForm<ContactForm>,
) -> AppResult<Reply> {
    crud::create::<Contact>(page, db, form).await
}

/// A contact with the deals the user may see, and notes.
#[get("/contacts/<id>")]
async fn show(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::show::<Contact>(page, db, id).await
}

/// Adds a note; an empty one is shown again next to its field (422).
#[post("/contacts/<id>/notes", data = "<form>")]
async fn add_note(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoteForm>,
) -> AppResult<Reply> {
    crud::add_note::<Contact>(page, db, id, form).await
}

/// The contact form, filled in.
#[get("/contacts/<id>/edit")]
async fn edit(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::edit::<Contact>(page, db, id).await
}

/// Saves a contact, or shows the form again with its errors (422).
#[post("/contacts/<id>", data = "<form>")]
async fn update(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<ContactForm>,
) -> AppResult<Reply> {
    crud::update::<Contact>(page, db, id, form).await
}

/// Asks before deleting.
#[get("/contacts/<id>/delete")]
async fn confirm_delete(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::confirm_delete::<Contact>(page, db, id).await
}

/// Deletes a contact and its notes; their deals stay.
#[post("/contacts/<id>/delete", data = "<form>")]
async fn delete(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoFields>,
) -> AppResult<Reply> {
    crud::delete::<Contact>(page, db, id, form).await
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
