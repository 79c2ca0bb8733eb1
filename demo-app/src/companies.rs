//! Companies: list and search, create, show (with their people, deals and
//! notes), edit, delete.

use rocket::form::FromForm;
use rocket::{get, post, routes, Route};
use rocket_db_pools::Connection;
use rocket_dyn_templates::{context, Template};
use rocket_session_security::CsrfForm;
use serde::Serialize;
use sqlx::SqliteConnection;

use crate::db::{self, AppError, AppResult, Crm};
use crate::layout::{Confirmation, DeleteQuestion, FieldErrors, Page, Reply};
use crate::notes::{self, NoteDraft, NoteForm, Subject};
use crate::users::CurrentUser;
use crate::validation::{Validator, MAX_LINE, MAX_TEXT};

/// A company as its page shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Company {
    id: i64,
    name: String,
    industry: String,
    website: String,
    phone: String,
    city: String,
    notes: String,
    created_at: i64,
    updated_at: i64,
}

/// A line of the company list.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct CompanyRow {
    id: i64,
    name: String,
    industry: String,
    city: String,
    contacts: i64,
    open_deals: i64,
    pipeline_cents: i64,
}

/// The company form, as typed.
#[derive(Debug, Default, Serialize, FromForm)]
pub struct CompanyForm {
    #[field(default = "")]
    name: String,
    #[field(default = "")]
    industry: String,
    #[field(default = "")]
    website: String,
    #[field(default = "")]
    phone: String,
    #[field(default = "")]
    city: String,
    #[field(default = "")]
    notes: String,
}

impl CompanyForm {
    fn of(company: Company) -> Self {
        CompanyForm {
            name: company.name,
            industry: company.industry,
            website: company.website,
            phone: company.phone,
            city: company.city,
            notes: company.notes,
        }
    }

    /// Checks the fields; `id` is the company being edited, if any, so its
    /// own name does not count as taken.
    async fn validate(
        &self,
        db: &mut SqliteConnection,
        id: Option<i64>,
    ) -> AppResult<Result<(), FieldErrors>> {
        let mut v = Validator::new();
        v.required("name", &self.name, "the company's name", MAX_LINE);
        v.max_len("industry", &self.industry, MAX_LINE);
        v.web_address("website", &self.website);
        v.max_len("website", &self.website, MAX_LINE);
        v.max_len("phone", &self.phone, 50);
        v.max_len("city", &self.city, MAX_LINE);
        v.max_len("notes", &self.notes, MAX_TEXT);
        if !v.has_error("name") {
            let taken: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM companies WHERE name = ?1 COLLATE NOCASE AND id IS NOT ?2",
            )
            .bind(self.name.trim())
            .bind(id)
            .fetch_optional(db)
            .await?;
            if taken.is_some() {
                v.fail("name", "There is already a company with this name.");
            }
        }
        Ok(v.finish())
    }
}

/// `(id, name)` of every company, for the `<select>` of other forms.
pub async fn choices(db: &mut SqliteConnection) -> AppResult<Vec<(i64, String)>> {
    Ok(
        sqlx::query_as("SELECT id, name FROM companies ORDER BY name COLLATE NOCASE")
            .fetch_all(db)
            .await?,
    )
}

async fn find(db: &mut SqliteConnection, id: i64) -> AppResult<Company> {
    sqlx::query_as("SELECT * FROM companies WHERE id = ?")
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The company list; `q` searches name, industry and city.
#[get("/companies?<q>")]
async fn list(page: Page<'_>, mut db: Connection<Crm>, q: Option<&str>) -> AppResult<Reply> {
    let q = q.unwrap_or("").trim();
    let companies: Vec<CompanyRow> = sqlx::query_as(
        r"SELECT c.id, c.name, c.industry, c.city,
                (SELECT COUNT(*) FROM contacts p WHERE p.company_id = c.id) AS contacts,
                (SELECT COUNT(*) FROM deals d WHERE d.company_id = c.id
                    AND d.stage NOT IN ('won', 'lost') AND (d.owner = ?1 OR ?2)) AS open_deals,
                (SELECT COALESCE(SUM(d.value_cents), 0) FROM deals d WHERE d.company_id = c.id
                    AND d.stage NOT IN ('won', 'lost') AND (d.owner = ?1 OR ?2)) AS pipeline_cents
         FROM companies c
         WHERE ?3 = '' OR c.name LIKE ?4 ESCAPE '\' OR c.industry LIKE ?4 ESCAPE '\'
               OR c.city LIKE ?4 ESCAPE '\'
         ORDER BY c.name COLLATE NOCASE",
    )
    .bind(&page.user.username)
    .bind(page.user.is_manager())
    .bind(q)
    .bind(db::contains_pattern(q))
    .fetch_all(&mut **db)
    .await?;
    Ok(Reply::Page(page.render(
        "companies/list",
        "companies",
        context! { companies, q },
    )))
}

fn form_page(
    page: &Page<'_>,
    form: &CompanyForm,
    errors: &FieldErrors,
    id: Option<i64>,
) -> Template {
    let (title, action) = match id {
        Some(id) => (format!("Edit {}", form.name), format!("/companies/{id}")),
        None => ("New company".to_owned(), "/companies".to_owned()),
    };
    let cancel = id.map_or("/companies".to_owned(), |id| format!("/companies/{id}"));
    page.render(
        "companies/form",
        "companies",
        context! { form, errors, title, action, cancel },
    )
}

/// The empty company form.
#[get("/companies/new")]
fn new(page: Page<'_>) -> Reply {
    Reply::Page(form_page(
        &page,
        &Default::default(),
        &FieldErrors::new(),
        None,
    ))
}

/// Creates a company, or shows the form again with its errors (422).
#[post("/companies", data = "<form>")]
async fn create(
    page: Page<'_>,
    mut db: Connection<Crm>,
    form: CsrfForm<CompanyForm>,
) -> AppResult<Reply> {
    let form = form.into_inner();
    if let Err(errors) = form.validate(&mut db, None).await? {
        return Ok(Reply::Invalid(form_page(&page, &form, &errors, None)));
    }
    let now = db::now();
    let id = sqlx::query(
        "INSERT INTO companies (name, industry, website, phone, city, notes, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(form.name.trim())
    .bind(form.industry.trim())
    .bind(form.website.trim())
    .bind(form.phone.trim())
    .bind(form.city.trim())
    .bind(form.notes.trim_end())
    .bind(now)
    .bind(now)
    .execute(&mut **db)
    .await?
    .last_insert_rowid();
    let message = format!("Company “{}” created.", form.name.trim());
    Ok(Reply::done(format!("/companies/{id}"), message))
}

/// A contact line on the company page.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct Person {
    id: i64,
    name: String,
    title: String,
    email: String,
    phone: String,
}

/// A deal line on the company and contact pages.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct DealLine {
    id: i64,
    title: String,
    stage: String,
    value_cents: i64,
    close_date: Option<String>,
    owner: String,
}

/// The deals of a company (`column = "company_id"`) or contact the user may see.
pub async fn deal_lines(
    db: &mut SqliteConnection,
    user: &CurrentUser,
    column: &str,
    id: i64,
) -> AppResult<Vec<DealLine>> {
    let sql = format!(
        "SELECT d.id, d.title, d.stage, d.value_cents, d.close_date, d.owner FROM deals d
         WHERE d.{column} = ?1 AND (d.owner = ?2 OR ?3)
         ORDER BY d.stage IN ('won', 'lost'), d.close_date, d.id"
    );
    Ok(sqlx::query_as(&sql)
        .bind(id)
        .bind(&user.username)
        .bind(user.is_manager())
        .fetch_all(db)
        .await?)
}

async fn show_page(
    page: &Page<'_>,
    db: &mut SqliteConnection,
    id: i64,
    draft: NoteDraft,
) -> AppResult<Template> {
    let company = find(db, id).await?;
    let people: Vec<Person> = sqlx::query_as(
        "SELECT id, name, title, email, phone FROM contacts WHERE company_id = ? ORDER BY name COLLATE NOCASE",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    let deals = deal_lines(db, &page.user, "company_id", id).await?;
    let notes = notes::for_subject(db, Subject::Company, id).await?;
    page.record_visit("company", format!("/companies/{id}"), &company.name);
    let note_action = format!("/companies/{id}/notes");
    Ok(page.render(
        "companies/show",
        "companies",
        context! { company, people, deals, notes, draft, note_action },
    ))
}

/// A company with its people, the deals the user may see, and notes.
#[get("/companies/<id>")]
async fn show(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    Ok(Reply::Page(
        show_page(&page, &mut db, id, NoteDraft::default()).await?,
    ))
}

/// Adds a note; an empty one is shown again next to its field (422).
#[post("/companies/<id>/notes", data = "<form>")]
async fn add_note(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoteForm>,
) -> AppResult<Reply> {
    find(&mut db, id).await?;
    match notes::add(&mut db, &page.user, Subject::Company, id, form.into_inner()).await? {
        Ok(()) => Ok(Reply::done(Subject::Company.url(id), "Note added.")),
        Err(draft) => Ok(Reply::Invalid(show_page(&page, &mut db, id, draft).await?)),
    }
}

/// The company form, filled in.
#[get("/companies/<id>/edit")]
async fn edit(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    let form = CompanyForm::of(find(&mut db, id).await?);
    Ok(Reply::Page(form_page(
        &page,
        &form,
        &FieldErrors::new(),
        Some(id),
    )))
}

/// Saves a company, or shows the form again with its errors (422).
#[post("/companies/<id>", data = "<form>")]
async fn update(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    form: CsrfForm<CompanyForm>,
) -> AppResult<Reply> {
    find(&mut db, id).await?;
    let form = form.into_inner();
    if let Err(errors) = form.validate(&mut db, Some(id)).await? {
        return Ok(Reply::Invalid(form_page(&page, &form, &errors, Some(id))));
    }
    sqlx::query(
        "UPDATE companies SET name = ?, industry = ?, website = ?, phone = ?, city = ?, notes = ?,
                updated_at = ? WHERE id = ?",
    )
    .bind(form.name.trim())
    .bind(form.industry.trim())
    .bind(form.website.trim())
    .bind(form.phone.trim())
    .bind(form.city.trim())
    .bind(form.notes.trim_end())
    .bind(db::now())
    .bind(id)
    .execute(&mut **db)
    .await?;
    Ok(Reply::done(format!("/companies/{id}"), "Company saved."))
}

/// How many deals deleting the company takes with it, and how many of
/// them belong to someone else.
async fn deal_counts(
    db: &mut SqliteConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(owner <> ?2), 0) FROM deals WHERE company_id = ?1",
    )
    .bind(id)
    .bind(&user.username)
    .fetch_one(db)
    .await?)
}

/// Why a sales rep may not delete a company.
const COLLEAGUES_DEALS: &str =
    "Some of its deals belong to a colleague; ask a manager to delete it.";

/// Asks before deleting, and says what goes with the company.
#[get("/companies/<id>/delete")]
async fn confirm_delete(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    let company = find(&mut db, id).await?;
    let (deals, others) = deal_counts(&mut db, &page.user, id).await?;
    let blocked = others > 0 && !page.user.is_manager();
    let question =
        DeleteQuestion {
            what: "company",
            name: company.name,
            consequences: vec![
        format!("Its {deals} deal(s) and every note on the company and those deals are deleted."),
        "Its contacts are kept, without a company.".to_owned(),
        ],
            blocked: blocked.then_some(COLLEAGUES_DEALS),
        };
    Ok(page.confirm_delete("companies", format!("/companies/{id}"), question))
}

/// Deletes a company with its deals and notes, unless a sales rep would
/// take a colleague's deals with it.
#[post("/companies/<id>/delete", data = "<_form>")]
async fn delete(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    _form: CsrfForm<Confirmation>,
) -> AppResult<Reply> {
    let company = find(&mut db, id).await?;
    let (_, others) = deal_counts(&mut db, &page.user, id).await?;
    if others > 0 && !page.user.is_manager() {
        return Ok(Reply::refused(format!("/companies/{id}"), COLLEAGUES_DEALS));
    }
    sqlx::query("DELETE FROM companies WHERE id = ?")
        .bind(id)
        .execute(&mut **db)
        .await?;
    let message = format!("Company “{}” deleted.", company.name);
    Ok(Reply::done("/companies", message))
}

/// The company pages.
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
