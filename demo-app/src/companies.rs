//! Companies: list and search, create, show (with their people, deals and
//! notes), edit, delete.

use rocket::form::FromForm;
use rocket::{get, post, routes, Route};
use rocket_db_pools::Connection;
use rocket_dyn_templates::context;
use rocket_session_security::{CsrfForm, NoFields};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::SqliteConnection;

use crate::crud::{self, Deletion, Record};
use crate::db::{self, AppError, AppResult, Crm};
use crate::layout::{FieldErrors, Page, Reply};
use crate::notes::{NoteForm, Subject};
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

#[rocket::async_trait]
impl Record for Company {
    const KIND: &'static str = "company";
    const AREA: &'static str = "companies";
    const SUBJECT: Subject = Subject::Company;
    type Form = CompanyForm;
    /// Every field of a company is text.
    type Parsed = ();

    async fn find(db: &mut SqliteConnection, _: &CurrentUser, id: i64) -> AppResult<Self> {
        sqlx::query_as("SELECT * FROM companies WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await?
            .ok_or(AppError::NotFound)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn form_name(form: &CompanyForm) -> &str {
        &form.name
    }

    fn into_form(self) -> CompanyForm {
        CompanyForm {
            name: self.name,
            industry: self.industry,
            website: self.website,
            phone: self.phone,
            city: self.city,
            notes: self.notes,
        }
    }

    /// `id` is the company being edited, if any, so its own name does not
    /// count as taken.
    async fn check(
        form: &CompanyForm,
        db: &mut SqliteConnection,
        id: Option<i64>,
    ) -> AppResult<Result<(), FieldErrors>> {
        let mut v = Validator::new();
        v.required("name", &form.name, "the company's name", MAX_LINE);
        v.max_len("industry", &form.industry, MAX_LINE);
        v.web_address("website", &form.website);
        v.max_len("website", &form.website, MAX_LINE);
        v.max_len("phone", &form.phone, 50);
        v.max_len("city", &form.city, MAX_LINE);
        v.max_len("notes", &form.notes, MAX_TEXT);
        if !v.has_error("name") {
            let taken: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM companies WHERE name = ?1 COLLATE NOCASE AND id IS NOT ?2",
            )
            .bind(form.name.trim())
            .bind(id)
            .fetch_optional(db)
            .await?;
            if taken.is_some() {
                v.fail("name", "There is already a company with this name.");
            }
        }
        Ok(v.finish())
    }

    async fn insert(
        db: &mut SqliteConnection,
        _: &CurrentUser,
        form: &CompanyForm,
        _: (),
    ) -> AppResult<i64> {
        let now = db::now();
        let done = sqlx::query(
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
        .execute(db)
        .await?;
        Ok(done.last_insert_rowid())
    }

    async fn update(
        db: &mut SqliteConnection,
        id: i64,
        form: &CompanyForm,
        _: (),
    ) -> AppResult<()> {
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
        .execute(db)
        .await?;
        Ok(())
    }

    /// Its people and the deals the user may see.
    async fn details(self, db: &mut SqliteConnection, user: &CurrentUser) -> AppResult<Value> {
        let people: Vec<Person> = sqlx::query_as(
            "SELECT id, name, title, email, phone FROM contacts WHERE company_id = ? ORDER BY name COLLATE NOCASE",
        )
        .bind(self.id)
        .fetch_all(&mut *db)
        .await?;
        let deals = deal_lines(db, user, "company_id", self.id).await?;
        Ok(json!({ "company": self, "people": people, "deals": deals }))
    }

    /// A sales rep may not take a colleague's deals with it.
    async fn deletion(&self, db: &mut SqliteConnection, user: &CurrentUser) -> AppResult<Deletion> {
        let (deals, others) = deal_counts(db, user, self.id).await?;
        Ok(Deletion {
            consequences: vec![
                format!("Its {deals} deal(s) and every note on the company and those deals are deleted."),
                "Its contacts are kept, without a company.".to_owned(),
            ],
            blocked: (others > 0 && !user.is_manager()).then_some(COLLEAGUES_DEALS),
        })
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

/// The empty company form.
#[get("/companies/new")]
async fn new(page: Page<'_>, db: Connection<Crm>) -> AppResult<Reply> {
    crud::new::<Company>(page, db, Default::default()).await
}

/// Creates a company, or shows the form again with its errors (422).
#[post("/companies", data = "<form>")]
async fn create(
    page: Page<'_>,
    db: Connection<Crm>,
    form: CsrfForm<CompanyForm>,
) -> AppResult<Reply> {
    crud::create::<Company>(page, db, form).await
}

/// A company with its people, the deals the user may see, and notes.
#[get("/companies/<id>")]
async fn show(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::show::<Company>(page, db, id).await
}

/// Adds a note; an empty one is shown again next to its field (422).
#[post("/companies/<id>/notes", data = "<form>")]
async fn add_note(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoteForm>,
) -> AppResult<Reply> {
    crud::add_note::<Company>(page, db, id, form).await
}

/// The company form, filled in.
#[get("/companies/<id>/edit")]
async fn edit(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::edit::<Company>(page, db, id).await
}

/// Saves a company, or shows the form again with its errors (422).
#[post("/companies/<id>", data = "<form>")]
async fn update(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<CompanyForm>,
) -> AppResult<Reply> {
    crud::update::<Company>(page, db, id, form).await
}

/// Asks before deleting, and says what goes with the company.
#[get("/companies/<id>/delete")]
async fn confirm_delete(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::confirm_delete::<Company>(page, db, id).await
}

/// Deletes a company with its deals and notes, unless a sales rep would
/// take a colleague's deals with it.
#[post("/companies/<id>/delete", data = "<form>")]
async fn delete(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoFields>,
) -> AppResult<Reply> {
    crud::delete::<Company>(page, db, id, form).await
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
