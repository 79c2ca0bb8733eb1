//! Deals through the pipeline: list (search, filter by stage), create,
//! show with notes, edit, delete.
//!
//! Sales reps see and change their own deals; managers see every deal
//! (which is why their sessions end sooner, see
//! [`ManagerTimeouts`](crate::users::ManagerTimeouts)).

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
use crate::layout::{format_money, FieldErrors, Page, Reply};
use crate::notes::{NoteForm, Subject};
use crate::users::CurrentUser;
use crate::validation::{optional_id, parse_money, Validator, MAX_LINE, MAX_TEXT};
use crate::{companies, contacts};

/// The pipeline stages, in order.
pub const STAGES: [&str; 6] = [
    "lead",
    "qualified",
    "proposal",
    "negotiation",
    "won",
    "lost",
];

/// A deal as its page shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct Deal {
    id: i64,
    title: String,
    company_id: i64,
    company_name: String,
    contact_id: Option<i64>,
    contact_name: Option<String>,
    owner: String,
    owner_name: String,
    stage: String,
    value_cents: i64,
    close_date: Option<String>,
    notes: String,
    created_at: i64,
    updated_at: i64,
}

/// A line of the deal list.
#[derive(Debug, Serialize, sqlx::FromRow)]
struct DealRow {
    id: i64,
    title: String,
    company_id: i64,
    company_name: String,
    contact_name: Option<String>,
    owner_name: String,
    stage: String,
    value_cents: i64,
    close_date: Option<String>,
}

/// The deal form, as typed: a long form, with a multi-paragraph note.
#[derive(Debug, Serialize, FromForm)]
pub struct DealForm {
    #[field(default = "")]
    title: String,
    #[field(default = "")]
    company_id: String,
    #[field(default = "")]
    contact_id: String,
    #[field(default = "")]
    stage: String,
    /// An amount such as `12,500` or `12500.50`.
    #[field(default = "")]
    value: String,
    /// `YYYY-MM-DD`, or empty.
    #[field(default = "")]
    close_date: String,
    #[field(default = "")]
    notes: String,
}

impl Default for DealForm {
    fn default() -> Self {
        DealForm {
            title: String::new(),
            company_id: String::new(),
            contact_id: String::new(),
            stage: "lead".to_owned(),
            value: String::new(),
            close_date: String::new(),
            notes: String::new(),
        }
    }
}

/// What the deal form says besides its text, once checked.
struct ParsedDeal {
    company_id: i64,
    contact_id: Option<i64>,
    value_cents: i64,
    close_date: Option<String>,
}

#[rocket::async_trait]
impl Record for Deal {
    const KIND: &'static str = "deal";
    const AREA: &'static str = "deals";
    const SUBJECT: Subject = Subject::Deal;
    type Form = DealForm;
    type Parsed = ParsedDeal;

    /// Only a deal the user may see: their own, or any for a manager.
    async fn find(db: &mut SqliteConnection, user: &CurrentUser, id: i64) -> AppResult<Self> {
        sqlx::query_as(
            "SELECT d.*, c.name AS company_name, p.name AS contact_name,
                    COALESCE(u.display_name, d.owner) AS owner_name
             FROM deals d
             JOIN companies c ON c.id = d.company_id
             LEFT JOIN contacts p ON p.id = d.contact_id
             LEFT JOIN users u ON u.username = d.owner
             WHERE d.id = ?1 AND (d.owner = ?2 OR ?3)",
        )
        .bind(id)
        .bind(&user.username)
        .bind(user.is_manager())
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)
    }

    fn name(&self) -> &str {
        &self.title
    }

    fn form_name(form: &DealForm) -> &str {
        &form.title
    }

    fn into_form(self) -> DealForm {
        let value = format_money(self.value_cents);
        DealForm {
            title: self.title,
            company_id: self.company_id.to_string(),
            contact_id: self.contact_id.map(|id| id.to_string()).unwrap_or_default(),
            stage: self.stage,
            value: value.trim_start_matches('$').to_owned(),
            close_date: self.close_date.unwrap_or_default(),
            notes: self.notes,
        }
    }

    /// The company must exist, and the contact, if any, must work there.
    async fn check(
        form: &DealForm,
        db: &mut SqliteConnection,
        _: Option<i64>,
    ) -> AppResult<Result<ParsedDeal, FieldErrors>> {
        let mut v = Validator::new();
        v.required("title", &form.title, "a title", MAX_LINE);
        let company_id = optional_id(&mut v, "company_id", &form.company_id);
        if company_id.is_none() {
            v.fail("company_id", "Please pick the company this deal is with.");
        }
        let contact_id = optional_id(&mut v, "contact_id", &form.contact_id);
        if !STAGES.contains(&form.stage.as_str()) {
            v.fail("stage", "Please pick a stage.");
        }
        let value_cents = parse_money(&form.value);
        if form.value.trim().is_empty() {
            v.fail("value", "Please enter the deal's value (0 if unknown).");
        } else if value_cents.is_none() {
            v.fail(
                "value",
                "Please enter an amount such as 12500 or 12,500.00.",
            );
        }
        let close = form.close_date.trim();
        let close_date = match chrono::NaiveDate::parse_from_str(close, "%Y-%m-%d") {
            Ok(date) => Some(date.format("%Y-%m-%d").to_string()),
            Err(_) if close.is_empty() => None,
            Err(_) => {
                v.fail("close_date", "Please enter a date as YYYY-MM-DD.");
                None
            }
        };
        v.max_len("notes", &form.notes, MAX_TEXT);

        if let Some(company) = company_id {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM companies WHERE id = ?")
                .bind(company)
                .fetch_optional(&mut *db)
                .await?;
            if exists.is_none() {
                v.fail("company_id", "That company no longer exists.");
            }
        }
        if let Some(contact) = contact_id {
            let works_at: Option<(Option<i64>, Option<String>)> = sqlx::query_as(
                "SELECT p.company_id, c.name FROM contacts p
                 LEFT JOIN companies c ON c.id = p.company_id WHERE p.id = ?",
            )
            .bind(contact)
            .fetch_optional(&mut *db)
            .await?;
            match works_at {
                None => v.fail("contact_id", "That contact no longer exists."),
                Some((Some(their), name)) if company_id.is_some_and(|c| c != their) => v.fail(
                    "contact_id",
                    format!(
                        "This person works at {}, not at the deal's company.",
                        name.unwrap_or_default()
                    ),
                ),
                Some(_) => {}
            }
        }
        Ok(v.finish().map(|()| ParsedDeal {
            company_id: company_id.unwrap_or_default(),
            contact_id,
            value_cents: value_cents.unwrap_or_default(),
            close_date,
        }))
    }

    /// The deal is the user's own.
    async fn insert(
        db: &mut SqliteConnection,
        user: &CurrentUser,
        form: &DealForm,
        deal: ParsedDeal,
    ) -> AppResult<i64> {
        let now = db::now();
        let done = sqlx::query(
            "INSERT INTO deals (title, company_id, contact_id, owner, stage, value_cents, close_date,
                                notes, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(form.title.trim())
        .bind(deal.company_id)
        .bind(deal.contact_id)
        .bind(&user.username)
        .bind(&form.stage)
        .bind(deal.value_cents)
        .bind(&deal.close_date)
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
        form: &DealForm,
        deal: ParsedDeal,
    ) -> AppResult<()> {
        sqlx::query(
            "UPDATE deals SET title = ?, company_id = ?, contact_id = ?, stage = ?, value_cents = ?,
                    close_date = ?, notes = ?, updated_at = ? WHERE id = ?",
        )
        .bind(form.title.trim())
        .bind(deal.company_id)
        .bind(deal.contact_id)
        .bind(&form.stage)
        .bind(deal.value_cents)
        .bind(&deal.close_date)
        .bind(form.notes.trim_end())
        .bind(db::now())
        .bind(id)
        .execute(db)
        .await?;
        Ok(())
    }

    /// The companies, contacts and stages to pick from.
    async fn form_choices(db: &mut SqliteConnection) -> AppResult<Value> {
        let companies = companies::choices(db).await?;
        let contacts = contacts::choices(db).await?;
        Ok(json!({ "companies": companies, "contacts": contacts, "stages": STAGES }))
    }

    /// The stages, for its badge.
    async fn details(self, _: &mut SqliteConnection, _: &CurrentUser) -> AppResult<Value> {
        Ok(json!({ "deal": self, "stages": STAGES }))
    }

    async fn deletion(&self, _: &mut SqliteConnection, _: &CurrentUser) -> AppResult<Deletion> {
        Ok(Deletion {
            consequences: vec!["Every note on this deal is deleted.".to_owned()],
            blocked: None,
        })
    }
}

/// The deals the user may see; `q` searches title, company and contact,
/// `stage` filters.
#[get("/deals?<q>&<stage>")]
async fn list(
    page: Page<'_>,
    mut db: Connection<Crm>,
    q: Option<&str>,
    stage: Option<&str>,
) -> AppResult<Reply> {
    let q = q.unwrap_or("").trim();
    let stage = stage.filter(|s| STAGES.contains(s)).unwrap_or("");
    let deals: Vec<DealRow> = sqlx::query_as(
        r"SELECT d.id, d.title, d.company_id, c.name AS company_name, p.name AS contact_name,
                COALESCE(u.display_name, d.owner) AS owner_name, d.stage, d.value_cents, d.close_date
         FROM deals d
         JOIN companies c ON c.id = d.company_id
         LEFT JOIN contacts p ON p.id = d.contact_id
         LEFT JOIN users u ON u.username = d.owner
         WHERE (d.owner = ?1 OR ?2)
           AND (?3 = '' OR d.stage = ?3)
           AND (?4 = '' OR d.title LIKE ?5 ESCAPE '\' OR c.name LIKE ?5 ESCAPE '\'
                OR p.name LIKE ?5 ESCAPE '\')
         ORDER BY d.stage IN ('won', 'lost'), d.close_date IS NULL, d.close_date, d.id",
    )
    .bind(&page.user.username)
    .bind(page.user.is_manager())
    .bind(stage)
    .bind(q)
    .bind(db::contains_pattern(q))
    .fetch_all(&mut **db)
    .await?;
    let total_cents: i64 = deals.iter().map(|d| d.value_cents).sum();
    Ok(Reply::Page(page.render(
        "deals/list",
        "deals",
        context! { deals, q, stage, stages: STAGES, total_cents },
    )))
}

/// `?company=<id>` preselects the company (the company page links here).
#[get("/deals/new?<company>")]
async fn new(page: Page<'_>, db: Connection<Crm>, company: Option<i64>) -> AppResult<Reply> {
    let form = DealForm {
        company_id: company.map(|id| id.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    crud::new::<Deal>(page, db, form).await
}

/// Creates a deal owned by the user, or shows the form again with its
/// errors (422) and everything typed, the long note included.
#[post("/deals", data = "<form>")]
async fn create(page: Page<'_>, db: Connection<Crm>, form: CsrfForm<DealForm>) -> AppResult<Reply> {
    crud::create::<Deal>(page, db, form).await
}

/// A deal with its stage, long note and notes.
#[get("/deals/<id>")]
async fn show(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::show::<Deal>(page, db, id).await
}

/// Adds a note; an empty one is shown again next to its field (422).
#[post("/deals/<id>/notes", data = "<form>")]
async fn add_note(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoteForm>,
) -> AppResult<Reply> {
    crud::add_note::<Deal>(page, db, id, form).await
}

/// The deal form, filled in.
#[get("/deals/<id>/edit")]
async fn edit(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::edit::<Deal>(page, db, id).await
}

/// Saves a deal, or shows the form again with its errors (422).
#[post("/deals/<id>", data = "<form>")]
async fn update(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<DealForm>,
) -> AppResult<Reply> {
    crud::update::<Deal>(page, db, id, form).await
}

/// Asks before deleting.
#[get("/deals/<id>/delete")]
async fn confirm_delete(page: Page<'_>, db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    crud::confirm_delete::<Deal>(page, db, id).await
}

/// Deletes a deal and its notes.
#[post("/deals/<id>/delete", data = "<form>")]
async fn delete(
    page: Page<'_>,
    db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoFields>,
) -> AppResult<Reply> {
    crud::delete::<Deal>(page, db, id, form).await
}

/// The deal pages.
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
