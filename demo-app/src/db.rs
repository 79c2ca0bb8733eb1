//! The `crm` database: the pool, the migrations run at start, the sample
//! data of a first start, and the error every handler's queries share.

use rocket::fairing::{self, AdHoc};
use rocket::http::Status;
use rocket::response::{self, Responder};
use rocket::{Build, Request, Rocket};
use rocket_db_pools::Database;

use crate::password;

mod pool;

pub use pool::CrmPool;

/// The CRM's SQLite database, `databases.crm` in Rocket's configuration
/// (created if it is missing, see [`CrmPool`]).
#[derive(Database)]
#[database("crm")]
pub struct Crm(CrmPool);

/// Attaches the pool, then puts the database in WAL mode, brings the
/// schema up to date and seeds a fresh database, before the first request
/// can arrive.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("CRM database", |rocket| async {
        rocket
            .attach(Crm::init())
            .attach(AdHoc::try_on_ignite("CRM migrations and seed", prepare))
    })
}

async fn prepare(rocket: Rocket<Build>) -> fairing::Result {
    let Some(db) = Crm::fetch(&rocket) else {
        return Err(rocket);
    };
    // With the write-ahead log, pages go on reading while a form saves.
    // SQLite keeps the mode in the file, so once per start is enough;
    // `synchronous` stays at SQLite's safest (FULL): CRM records are worth
    // their fsync.
    if let Err(e) = sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&***db)
        .await
    {
        rocket::error!("CRM database: WAL mode failed: {e}");
        return Err(rocket);
    }
    if let Err(e) = sqlx::migrate!("./migrations").run(&***db).await {
        rocket::error!("CRM migrations failed: {e}");
        return Err(rocket);
    }
    if !crate::is_demo(rocket.figment()) {
        // A deployment starts empty: no accounts with published passwords.
        return Ok(rocket);
    }
    if let Err(e) = seed::run_if_empty(db).await {
        rocket::error!("CRM sample data could not be written: {e}");
        return Err(rocket);
    }
    Ok(rocket)
}

/// Now, in Unix seconds: what `created_at` and `updated_at` hold.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A `LIKE` pattern matching `q` anywhere, with `%`, `_` and `\` taken
/// literally (use with `ESCAPE '\'`).
pub fn contains_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Why a handler could not answer: the record does not exist (or is not
/// this user's to see), or the database failed.
#[derive(Debug)]
pub enum AppError {
    /// Answered by the 404 page.
    NotFound,
    /// Logged, and answered by the 500 page.
    Db(sqlx::Error),
    /// The session store failed during login or logout.
    Session(rocket_session_security::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Db(e)
    }
}

impl From<rocket_session_security::Error> for AppError {
    fn from(e: rocket_session_security::Error) -> Self {
        AppError::Session(e)
    }
}

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        match self {
            AppError::NotFound => Err(Status::NotFound),
            AppError::Db(e) => {
                rocket::error!("CRM database error: {e}");
                Err(Status::InternalServerError)
            }
            AppError::Session(e) => {
                rocket::error!("session store error: {e}");
                Err(Status::ServiceUnavailable)
            }
        }
    }
}

/// Shorthand for handler results.
pub type AppResult<T> = Result<T, AppError>;

/// Sample data for a first start: two users, a dozen companies, their
/// people, a pipeline of deals and some history.
mod seed {
    use super::*;

    const DAY: i64 = 86_400;

    /// (name, industry, website, phone, city, notes)
    const COMPANIES: [(&str, &str, &str, &str, &str, &str); 12] = [
        ("Alderbrook Logistics", "Logistics", "https://alderbrook.example", "+31 10 555 0142", "Rotterdam",
         "Third-party logistics for cold-chain food. Runs 40 cross-dock sites across the Benelux."),
        ("Brightwater Dental Group", "Healthcare", "https://brightwater-dental.example", "+44 113 555 0190", "Leeds",
         "Fourteen practices in Yorkshire; buying decisions go through the practice managers' board."),
        ("Cobalt Ridge Mining", "Mining", "https://cobaltridge.example", "+61 8 5550 1234", "Perth",
         "Exploration and two producing sites. Strict procurement: every vendor goes through a security review."),
        ("Driftwood Hotels", "Hospitality", "https://driftwood-hotels.example", "+351 21 555 0175", "Lisbon",
         "Boutique hotel group, nine properties, expanding into Porto and the Algarve."),
        ("Evergreen Credit Union", "Finance", "https://evergreen-cu.example", "+1 503 555 0118", "Portland",
         "Member-owned, 60k members. Regulated: expect long legal review on any contract."),
        ("Foxglove Pharmacy", "Retail", "https://foxglove.example", "+353 1 555 0166", "Dublin",
         "Independent pharmacy chain, 22 shops."),
        ("Granite & Gable Architects", "Architecture", "https://granitegable.example", "+44 131 555 0107", "Edinburgh",
         "Small practice, design-led, very responsive by email."),
        ("Harborview Marine Supply", "Marine", "https://harborview-marine.example", "+1 902 555 0133", "Halifax",
         "Chandlery and marine parts wholesaler; seasonal cash flow, buys in February."),
        ("Ironleaf Software", "Software", "https://ironleaf.example", "+49 30 555 0199", "Berlin",
         "Series B scale-up, 180 people. Engineering-led purchasing."),
        ("Juniper Schools Trust", "Education", "https://juniper-schools.example", "+44 161 555 0121", "Manchester",
         "Multi-academy trust of eleven schools. Budget year starts in September."),
        ("Kestrel Aviation Services", "Aviation", "https://kestrel-aviation.example", "+33 5 55 55 01 88", "Toulouse",
         "Ground handling and maintenance at three regional airports."),
        ("Lumen Solar Co-op", "Energy", "https://lumen-solar.example", "+34 96 555 0147", "Valencia",
         "Community solar co-operative; decisions taken at the monthly members' meeting."),
    ];

    /// (company index, name, title, email, phone, notes)
    const CONTACTS: [(usize, &str, &str, &str, &str, &str); 30] = [
        (
            0,
            "Femke de Vries",
            "Head of Operations",
            "femke.devries@alderbrook.example",
            "+31 6 5550 1001",
            "Prefers calls before 10:00.",
        ),
        (
            0,
            "Ruben Janssen",
            "IT Manager",
            "ruben.janssen@alderbrook.example",
            "+31 6 5550 1002",
            "",
        ),
        (
            0,
            "Sanne Bakker",
            "Procurement Lead",
            "sanne.bakker@alderbrook.example",
            "",
            "Signs off anything above 20k.",
        ),
        (
            1,
            "Priya Raman",
            "Group Practice Manager",
            "priya.raman@brightwater-dental.example",
            "+44 7700 900101",
            "",
        ),
        (
            1,
            "Tom Whitaker",
            "Finance Director",
            "tom.whitaker@brightwater-dental.example",
            "+44 7700 900102",
            "Wants quarterly invoicing.",
        ),
        (
            2,
            "Lachlan Murray",
            "CIO",
            "lachlan.murray@cobaltridge.example",
            "+61 400 555 201",
            "Met at the Perth tech breakfast.",
        ),
        (
            2,
            "Aisha Karimi",
            "Security Architect",
            "aisha.karimi@cobaltridge.example",
            "+61 400 555 202",
            "Runs the vendor security review.",
        ),
        (
            3,
            "Inês Carvalho",
            "General Manager",
            "ines.carvalho@driftwood-hotels.example",
            "+351 91 555 0301",
            "",
        ),
        (
            3,
            "Miguel Sousa",
            "Revenue Manager",
            "miguel.sousa@driftwood-hotels.example",
            "+351 91 555 0302",
            "",
        ),
        (
            3,
            "Beatriz Lopes",
            "Guest Experience Lead",
            "beatriz.lopes@driftwood-hotels.example",
            "",
            "Champion for the project internally.",
        ),
        (
            4,
            "Dana Whitfield",
            "VP Member Services",
            "dana.whitfield@evergreen-cu.example",
            "+1 503 555 0401",
            "",
        ),
        (
            4,
            "Marcus Lee",
            "Compliance Officer",
            "marcus.lee@evergreen-cu.example",
            "+1 503 555 0402",
            "Needs our SOC 2 report before any call.",
        ),
        (
            4,
            "Grace Okafor",
            "CTO",
            "grace.okafor@evergreen-cu.example",
            "+1 503 555 0403",
            "",
        ),
        (
            5,
            "Ciara Byrne",
            "Owner",
            "ciara.byrne@foxglove.example",
            "+353 87 555 0501",
            "Second-generation owner; very price conscious.",
        ),
        (
            5,
            "Declan Walsh",
            "Operations Manager",
            "declan.walsh@foxglove.example",
            "",
            "",
        ),
        (
            6,
            "Morag Campbell",
            "Partner",
            "morag.campbell@granitegable.example",
            "+44 7700 900601",
            "",
        ),
        (
            6,
            "Euan Fraser",
            "Practice Manager",
            "euan.fraser@granitegable.example",
            "+44 7700 900602",
            "",
        ),
        (
            7,
            "Colin MacNeil",
            "Owner",
            "colin.macneil@harborview-marine.example",
            "+1 902 555 0701",
            "Old-school: send a printed proposal too.",
        ),
        (
            7,
            "Jenna Boudreau",
            "Purchasing",
            "jenna.boudreau@harborview-marine.example",
            "+1 902 555 0702",
            "",
        ),
        (
            8,
            "Lena Vogel",
            "VP Engineering",
            "lena.vogel@ironleaf.example",
            "+49 151 5550 0801",
            "",
        ),
        (
            8,
            "Jonas Weber",
            "Head of IT",
            "jonas.weber@ironleaf.example",
            "+49 151 5550 0802",
            "",
        ),
        (
            8,
            "Mia Schröder",
            "People Ops",
            "mia.schroeder@ironleaf.example",
            "",
            "",
        ),
        (
            9,
            "Helen Price",
            "Chief Operating Officer",
            "helen.price@juniper-schools.example",
            "+44 7700 900901",
            "",
        ),
        (
            9,
            "Samir Haddad",
            "Network Manager",
            "samir.haddad@juniper-schools.example",
            "+44 7700 900902",
            "Ran the pilot at St Anne's.",
        ),
        (
            10,
            "Julien Moreau",
            "Maintenance Director",
            "julien.moreau@kestrel-aviation.example",
            "+33 6 55 55 10 01",
            "",
        ),
        (
            10,
            "Camille Durand",
            "Quality Manager",
            "camille.durand@kestrel-aviation.example",
            "+33 6 55 55 10 02",
            "",
        ),
        (
            10,
            "Hugo Lefèvre",
            "Station Manager Blagnac",
            "hugo.lefevre@kestrel-aviation.example",
            "",
            "",
        ),
        (
            11,
            "Lucía Navarro",
            "Co-op Coordinator",
            "lucia.navarro@lumen-solar.example",
            "+34 600 555 111",
            "",
        ),
        (
            11,
            "Pablo Ortega",
            "Treasurer",
            "pablo.ortega@lumen-solar.example",
            "+34 600 555 112",
            "",
        ),
        (
            11,
            "Elena Ruiz",
            "Installer Network Lead",
            "elena.ruiz@lumen-solar.example",
            "",
            "",
        ),
    ];

    /// (title, company index, contact index, owner, stage, value in whole
    /// currency units, days until close (negative: closed), notes)
    #[allow(clippy::type_complexity)]
    const DEALS: [(&str, usize, Option<usize>, &str, &str, i64, i64, &str); 15] = [
        ("Warehouse scanner roll-out", 0, Some(0), "alice", "proposal", 48_000, 21,
         "Replace handheld scanners at the twelve busiest cross-docks first.\n\nFemke wants a two-week pilot in Venlo before the board meeting; Ruben will need the MDM integration details.\n\nRisk: Sanne mentioned a competing bid from their current vendor."),
        ("Cold-chain sensor subscription", 0, Some(2), "bob", "lead", 15_500, 60, ""),
        ("Patient reminder system", 1, Some(3), "alice", "negotiation", 22_400, 10,
         "Priya is sold; Tom is negotiating payment terms (quarterly in arrears).\n\nAgreed: 14 practices, 3-year term. Open: who pays for SMS volume above the bundle."),
        ("Site security assessment", 2, Some(6), "bob", "qualified", 36_000, 45,
         "Vendor security review first. Aisha sent the questionnaire (212 questions)."),
        ("Guest Wi-Fi upgrade", 3, Some(7), "alice", "won", 31_750, -12,
         "Signed for all nine properties. Installation starts in Lisbon, then Porto."),
        ("Revenue dashboard", 3, Some(8), "alice", "lead", 9_800, 75, ""),
        ("Member portal redesign", 4, Some(10), "alice", "proposal", 64_000, 35,
         "Dana wants a mobile-first portal by spring.\n\nMarcus needs our SOC 2 report and the data-processing addendum before legal review starts; legal review takes about six weeks."),
        ("Loyalty card pilot", 5, Some(13), "alice", "lost", 7_200, -30,
         "Lost on price: Ciara went with a cheaper local supplier. Revisit next year."),
        ("Project time tracking", 6, Some(15), "alice", "qualified", 5_400, 28, ""),
        ("Spring inventory system", 7, Some(17), "bob", "negotiation", 18_900, 14,
         "Colin agreed in principle. Jenna is checking the import of their old parts catalogue (about 40k SKUs)."),
        ("Engineering laptop refresh", 8, Some(20), "alice", "won", 126_000, -5,
         "180 laptops over two quarters. First batch of 90 shipped."),
        ("Onboarding automation", 8, Some(21), "alice", "lead", 12_000, 90, ""),
        ("Classroom network refresh", 9, Some(23), "alice", "proposal", 88_500, 50,
         "Eleven schools. Must be installed during the summer holidays.\n\nSamir's pilot at St Anne's went well; Helen needs the trust board's approval in June."),
        ("Hangar maintenance scheduling", 10, Some(24), "bob", "qualified", 42_000, 40, ""),
        ("Member billing platform", 11, Some(28), "alice", "negotiation", 16_300, 18,
         "Pablo wants monthly billing. Decision at the next members' meeting."),
    ];

    /// (subject, index, author, days ago, body)
    const NOTES: [(&str, usize, &str, i64, &str); 20] = [
        ("deal", 0, "alice", 1, "Call with Femke: pilot in Venlo confirmed for the 3rd. Sending the pilot plan tomorrow."),
        ("deal", 0, "alice", 6, "Demo went well. Ruben asked about MDM; need an answer from our product team."),
        ("deal", 2, "alice", 2, "Tom countered on SMS overage. Proposed a 10% buffer at no charge."),
        ("deal", 3, "bob", 3, "Questionnaire split with our security team; due back in two weeks."),
        ("deal", 4, "alice", 12, "Signed! Kick-off booked with Inês."),
        ("deal", 6, "alice", 4, "SOC 2 report sent to Marcus under NDA."),
        ("deal", 7, "alice", 30, "Lost to a local supplier at roughly 20% below our price."),
        ("deal", 9, "bob", 2, "Parts catalogue sample received. Import test looks clean."),
        ("deal", 10, "alice", 5, "First 90 laptops delivered. Lena happy with imaging."),
        ("deal", 12, "alice", 7, "Site survey at three schools done. Cabling in the old building needs replacing."),
        ("deal", 14, "alice", 1, "Pablo asked for a monthly-billing quote."),
        ("company", 0, "bob", 9, "Account review: strong relationship with Operations, weak with Procurement."),
        ("company", 2, "bob", 15, "All vendors must pass the security review before any pilot."),
        ("company", 4, "alice", 20, "Regulated: any contract goes through a six-week legal review."),
        ("company", 8, "alice", 8, "Growing fast: 60 hires planned this year."),
        ("company", 11, "alice", 11, "Monthly members' meeting on the first Thursday."),
        ("contact", 5, "bob", 16, "Lachlan moves to a group role in the autumn; Aisha may become our main contact."),
        ("contact", 13, "alice", 29, "Ciara asked us to get back in touch next spring."),
        ("contact", 17, "bob", 6, "Colin prefers phone calls to email."),
        ("contact", 23, "alice", 7, "Samir is the internal champion; keep him in every thread."),
    ];

    /// Seeds a database with no users yet, in one transaction, so a crash
    /// half-way leaves nothing and the next start tries again. Two demo
    /// instances starting together on one file seed it once: the first
    /// insert takes SQLite's write lock, and the one that comes second
    /// finds the users there and leaves.
    pub async fn run_if_empty(db: &Crm) -> Result<(), sqlx::Error> {
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&***db)
            .await?;
        if users > 0 {
            return Ok(());
        }
        let mut tx = db.begin().await?;
        for (username, display_name, role, password) in [
            ("alice", "Alice Archer", "sales", "alice-demo-pass"),
            ("bob", "Bob Baxter", "manager", "bob-demo-pass"),
        ] {
            let hash = password::hash(password)
                .map_err(|e| sqlx::Error::Protocol(format!("password hashing failed: {e}")))?;
            let added = sqlx::query(
                "INSERT OR IGNORE INTO users (username, display_name, role, password_hash) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(username)
            .bind(display_name)
            .bind(role)
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if added == 0 {
                // Another instance seeded meanwhile: dropping `tx` rolls back.
                return Ok(());
            }
        }

        let now = now();
        let mut company_ids = Vec::new();
        for (i, (name, industry, website, phone, city, notes)) in COMPANIES.iter().enumerate() {
            let created = now - (120 - i as i64 * 7) * DAY;
            let id = sqlx::query(
                "INSERT INTO companies (name, industry, website, phone, city, notes, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(name)
            .bind(industry)
            .bind(website)
            .bind(phone)
            .bind(city)
            .bind(notes)
            .bind(created)
            .bind(created)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            company_ids.push(id);
        }

        let mut contact_ids = Vec::new();
        for (i, (company, name, title, email, phone, notes)) in CONTACTS.iter().enumerate() {
            let created = now - (100 - i as i64 * 3) * DAY;
            let id = sqlx::query(
                "INSERT INTO contacts (company_id, name, email, phone, title, notes, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(company_ids[*company])
            .bind(name)
            .bind(email)
            .bind(phone)
            .bind(title)
            .bind(notes)
            .bind(created)
            .bind(created)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            contact_ids.push(id);
        }

        let today = chrono::Utc::now().date_naive();
        let mut deal_ids = Vec::new();
        for (i, (title, company, contact, owner, stage, value, close_in, notes)) in
            DEALS.iter().enumerate()
        {
            let created = now - (60 - i as i64 * 2) * DAY;
            let close = today + chrono::Duration::days(*close_in);
            let id = sqlx::query(
                "INSERT INTO deals (title, company_id, contact_id, owner, stage, value_cents,
                                    close_date, notes, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(title)
            .bind(company_ids[*company])
            .bind(contact.map(|c| contact_ids[c]))
            .bind(owner)
            .bind(stage)
            .bind(value * 100)
            .bind(close.format("%Y-%m-%d").to_string())
            .bind(notes)
            .bind(created)
            .bind(created)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            deal_ids.push(id);
        }

        for (subject, index, author, days_ago, body) in NOTES {
            let (company, contact, deal) = match subject {
                "company" => (Some(company_ids[index]), None, None),
                "contact" => (None, Some(contact_ids[index]), None),
                _ => (None, None, Some(deal_ids[index])),
            };
            sqlx::query(
                "INSERT INTO notes (company_id, contact_id, deal_id, author, body, created_at)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(company)
            .bind(contact)
            .bind(deal)
            .bind(author)
            .bind(body)
            .bind(now - days_ago * DAY - 3_600)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
