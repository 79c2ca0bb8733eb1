//! The start page: counts, the pipeline by stage, deals closing soon and
//! the latest notes, all limited to the deals the user may see.

use rocket::{get, routes, Route};
use rocket_db_pools::Connection;
use rocket_dyn_templates::context;
use serde::Serialize;

use crate::db::{AppResult, Crm};
use crate::deals::STAGES;
use crate::layout::{Page, Reply};
use crate::notes;

/// One stage of the pipeline chart.
#[derive(Debug, Serialize)]
struct StageTotal {
    stage: &'static str,
    deals: i64,
    value_cents: i64,
    /// Bar length in percent of the largest stage, in steps of 5 (the
    /// stylesheet has a class per step: no inline styles under the CSP).
    bar: i64,
}

/// A deal in "closing soon".
#[derive(Debug, Serialize, sqlx::FromRow)]
struct Closing {
    id: i64,
    title: String,
    company_name: String,
    stage: String,
    value_cents: i64,
    close_date: String,
    /// The expected close date has passed.
    overdue: bool,
}

/// The dashboard.
#[get("/")]
async fn dashboard(page: Page<'_>, mut db: Connection<Crm>) -> AppResult<Reply> {
    let user = &page.user;
    let (companies, contacts): (i64, i64) =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM companies), (SELECT COUNT(*) FROM contacts)")
            .fetch_one(&mut **db)
            .await?;

    let by_stage: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT stage, COUNT(*), COALESCE(SUM(value_cents), 0) FROM deals
         WHERE owner = ?1 OR ?2 GROUP BY stage",
    )
    .bind(&user.username)
    .bind(user.is_manager())
    .fetch_all(&mut **db)
    .await?;
    let largest = by_stage
        .iter()
        .map(|(_, _, value)| *value)
        .max()
        .unwrap_or(0)
        .max(1);
    let pipeline: Vec<StageTotal> = STAGES
        .iter()
        .map(|&stage| {
            let (deals, value_cents) = by_stage
                .iter()
                .find(|(s, _, _)| s == stage)
                .map_or((0, 0), |(_, deals, value)| (*deals, *value));
            let percent = value_cents * 100 / largest;
            let bar = if value_cents > 0 {
                ((percent + 2) / 5 * 5).max(5)
            } else {
                0
            };
            StageTotal {
                stage,
                deals,
                value_cents,
                bar,
            }
        })
        .collect();
    let open: Vec<&StageTotal> = pipeline
        .iter()
        .filter(|s| !matches!(s.stage, "won" | "lost"))
        .collect();
    let open_deals: i64 = open.iter().map(|s| s.deals).sum();
    let open_value_cents: i64 = open.iter().map(|s| s.value_cents).sum();
    let won_value_cents = pipeline
        .iter()
        .find(|s| s.stage == "won")
        .map_or(0, |s| s.value_cents);

    let today = chrono::Utc::now().date_naive();
    let horizon = today + chrono::Duration::days(30);
    let closing: Vec<Closing> = sqlx::query_as(
        "SELECT d.id, d.title, c.name AS company_name, d.stage, d.value_cents, d.close_date,
                d.close_date < ?4 AS overdue
         FROM deals d JOIN companies c ON c.id = d.company_id
         WHERE (d.owner = ?1 OR ?2) AND d.stage NOT IN ('won', 'lost')
           AND d.close_date IS NOT NULL AND d.close_date <= ?3
         ORDER BY d.close_date LIMIT 6",
    )
    .bind(&user.username)
    .bind(user.is_manager())
    .bind(horizon.format("%Y-%m-%d").to_string())
    .bind(today.format("%Y-%m-%d").to_string())
    .fetch_all(&mut **db)
    .await?;

    let recent = notes::recent(&mut db, user, 8).await?;
    let visits = page.visits();
    Ok(Reply::Page(page.render(
        "dashboard",
        "dashboard",
        context! {
            companies, contacts, open_deals, open_value_cents, won_value_cents,
            pipeline, closing, recent, visits,
        },
    )))
}

/// `GET /`.
pub fn routes() -> Vec<Route> {
    routes![dashboard]
}
