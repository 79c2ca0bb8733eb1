//! Deals through the pipeline: list (search, filter by stage), create,
//! show with notes, edit, delete.
//!
//! Sales reps see and change their own deals; managers see every deal
//! (which is why their sessions end sooner, see
//! [`ManagerTimeouts`](crate::users::ManagerTimeouts)).

use rocket::form::FromForm;
use rocket::{get, post, routes, Route};
use rocket_db_pools::Connection;
use rocket_dyn_templates::{context, Template};
use rocket_session_security::CsrfForm;
use serde::Serialize;
use sqlx::SqliteConnection;

use crate::db::{self, AppError, AppResult, Crm};
use crate::layout::{format_money, Confirmation, DeleteQuestion, FieldErrors, Page, Reply};
use crate::notes::{self, NoteDraft, NoteForm, Subject};
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

/// A deal that passed the checks, ready to store.
struct ValidDeal<'a> {
    title: &'a str,
    company_id: i64,
    contact_id: Option<i64>,
    stage: &'a str,
    value_cents: i64,
    close_date: Option<String>,
    notes: &'a str,
}

impl DealForm {
    fn of(deal: Deal) -> Self {
        let value = format_money(deal.value_cents);
        DealForm {
            title: deal.title,
            company_id: deal.company_id.to_string(),
            contact_id: deal.contact_id.map(|id| id.to_string()).unwrap_or_default(),
            stage: deal.stage,
            value: value.trim_start_matches('$').to_owned(),
            close_date: deal.close_date.unwrap_or_default(),
            notes: deal.notes,
        }
    }

    async fn validate(
        &self,
        db: &mut SqliteConnection,
    ) -> AppResult<Result<ValidDeal<'_>, FieldErrors>> {
        let mut v = Validator::new();
        v.required("title", &self.title, "a title", MAX_LINE);
        let company_id = optional_id(&mut v, "company_id", &self.company_id);
        if company_id.is_none() {
            v.fail("company_id", "Please pick the company this deal is with.");
        }
        let contact_id = optional_id(&mut v, "contact_id", &self.contact_id);
        if !STAGES.contains(&self.stage.as_str()) {
            v.fail("stage", "Please pick a stage.");
        }
        let value_cents = parse_money(&self.value);
        if self.value.trim().is_empty() {
            v.fail("value", "Please enter the deal's value (0 if unknown).");
        } else if value_cents.is_none() {
            v.fail(
                "value",
                "Please enter an amount such as 12500 or 12,500.00.",
            );
        }
        let close = self.close_date.trim();
        let close_date = match chrono::NaiveDate::parse_from_str(close, "%Y-%m-%d") {
            Ok(date) => Some(date.format("%Y-%m-%d").to_string()),
            Err(_) if close.is_empty() => None,
            Err(_) => {
                v.fail("close_date", "Please enter a date as YYYY-MM-DD.");
                None
            }
        };
        v.max_len("notes", &self.notes, MAX_TEXT);

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
        Ok(v.finish().map(|()| ValidDeal {
            title: self.title.trim(),
            company_id: company_id.unwrap_or_default(),
            contact_id,
            stage: &self.stage,
            value_cents: value_cents.unwrap_or_default(),
            close_date,
            notes: self.notes.trim_end(),
        }))
    }
}

/// The deal, if the user may see it.
async fn find(db: &mut SqliteConnection, user: &CurrentUser, id: i64) -> AppResult<Deal> {
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

async fn form_page(
    page: &Page<'_>,
    db: &mut SqliteConnection,
    form: &DealForm,
    errors: &FieldErrors,
    id: Option<i64>,
) -> AppResult<Template> {
    let companies = companies::choices(db).await?;
    let contacts = contacts::choices(db).await?;
    let (title, action) = match id {
        Some(id) => (format!("Edit {}", form.title), format!("/deals/{id}")),
        None => ("New deal".to_owned(), "/deals".to_owned()),
    };
    let cancel = id.map_or("/deals".to_owned(), |id| format!("/deals/{id}"));
    Ok(page.render(
        "deals/form",
        "deals",
        context! { form, errors, companies, contacts, stages: STAGES, title, action, cancel },
    ))
}

/// `?company=<id>` preselects the company (the company page links here).
#[get("/deals/new?<company>")]
async fn new(page: Page<'_>, mut db: Connection<Crm>, company: Option<i64>) -> AppResult<Reply> {
    let form = DealForm {
        company_id: company.map(|id| id.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    Ok(Reply::Page(
        form_page(&page, &mut db, &form, &FieldErrors::new(), None).await?,
    ))
}

/// Creates a deal owned by the user, or shows the form again with its
/// errors (422) and everything typed, the long note included.
#[post("/deals", data = "<form>")]
async fn create(
    page: Page<'_>,
    mut db: Connection<Crm>,
    form: CsrfForm<DealForm>,
) -> AppResult<Reply> {
    let form = form.into_inner();
    let deal = match form.validate(&mut db).await? {
        Ok(deal) => deal,
        Err(errors) => {
            return Ok(Reply::Invalid(
                form_page(&page, &mut db, &form, &errors, None).await?,
            ));
        }
    };
    let now = db::now();
    let id = sqlx::query(
        "INSERT INTO deals (title, company_id, contact_id, owner, stage, value_cents, close_date,
                            notes, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(deal.title)
    .bind(deal.company_id)
    .bind(deal.contact_id)
    .bind(&page.user.username)
    .bind(deal.stage)
    .bind(deal.value_cents)
    .bind(&deal.close_date)
    .bind(deal.notes)
    .bind(now)
    .bind(now)
    .execute(&mut **db)
    .await?
    .last_insert_rowid();
    let message = format!("Deal “{}” created.", deal.title);
    Ok(Reply::done(format!("/deals/{id}"), message))
}

async fn show_page(
    page: &Page<'_>,
    db: &mut SqliteConnection,
    id: i64,
    draft: NoteDraft,
) -> AppResult<Template> {
    let deal = find(db, &page.user, id).await?;
    let notes = notes::for_subject(db, Subject::Deal, id).await?;
    page.record_visit("deal", format!("/deals/{id}"), &deal.title);
    let note_action = format!("/deals/{id}/notes");
    Ok(page.render(
        "deals/show",
        "deals",
        context! { deal, notes, draft, note_action, stages: STAGES },
    ))
}

/// A deal with its stage, long note and notes.
#[get("/deals/<id>")]
async fn show(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    Ok(Reply::Page(
        show_page(&page, &mut db, id, NoteDraft::default()).await?,
    ))
}

/// Adds a note; an empty one is shown again next to its field (422).
#[post("/deals/<id>/notes", data = "<form>")]
async fn add_note(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    form: CsrfForm<NoteForm>,
) -> AppResult<Reply> {
    find(&mut db, &page.user, id).await?;
    match notes::add(&mut db, &page.user, Subject::Deal, id, form.into_inner()).await? {
        Ok(()) => Ok(Reply::done(Subject::Deal.url(id), "Note added.")),
        Err(draft) => Ok(Reply::Invalid(show_page(&page, &mut db, id, draft).await?)),
    }
}

/// The deal form, filled in.
#[get("/deals/<id>/edit")]
async fn edit(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    let form = DealForm::of(find(&mut db, &page.user, id).await?);
    Ok(Reply::Page(
        form_page(&page, &mut db, &form, &FieldErrors::new(), Some(id)).await?,
    ))
}

/// Saves a deal, or shows the form again with its errors (422).
#[post("/deals/<id>", data = "<form>")]
async fn update(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    form: CsrfForm<DealForm>,
) -> AppResult<Reply> {
    find(&mut db, &page.user, id).await?;
    let form = form.into_inner();
    let deal = match form.validate(&mut db).await? {
        Ok(deal) => deal,
        Err(errors) => {
            return Ok(Reply::Invalid(
                form_page(&page, &mut db, &form, &errors, Some(id)).await?,
            ));
        }
    };
    sqlx::query(
        "UPDATE deals SET title = ?, company_id = ?, contact_id = ?, stage = ?, value_cents = ?,
                close_date = ?, notes = ?, updated_at = ? WHERE id = ?",
    )
    .bind(deal.title)
    .bind(deal.company_id)
    .bind(deal.contact_id)
    .bind(deal.stage)
    .bind(deal.value_cents)
    .bind(&deal.close_date)
    .bind(deal.notes)
    .bind(db::now())
    .bind(id)
    .execute(&mut **db)
    .await?;
    Ok(Reply::done(format!("/deals/{id}"), "Deal saved."))
}

/// Asks before deleting.
#[get("/deals/<id>/delete")]
async fn confirm_delete(page: Page<'_>, mut db: Connection<Crm>, id: i64) -> AppResult<Reply> {
    let deal = find(&mut db, &page.user, id).await?;
    let question = DeleteQuestion {
        what: "deal",
        name: deal.title,
        consequences: vec!["Every note on this deal is deleted.".to_owned()],
        blocked: None,
    };
    Ok(page.confirm_delete("deals", format!("/deals/{id}"), question))
}

/// Deletes a deal and its notes.
#[post("/deals/<id>/delete", data = "<_form>")]
async fn delete(
    page: Page<'_>,
    mut db: Connection<Crm>,
    id: i64,
    _form: CsrfForm<Confirmation>,
) -> AppResult<Reply> {
    let deal = find(&mut db, &page.user, id).await?;
    sqlx::query("DELETE FROM deals WHERE id = ?")
        .bind(id)
        .execute(&mut **db)
        .await?;
    let message = format!("Deal “{}” deleted.", deal.title);
    Ok(Reply::done("/deals", message))
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
