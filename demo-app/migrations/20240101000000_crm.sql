-- The CRM schema. Times are Unix seconds (UTC); money is in cents.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    -- Managers see every deal, so they are signed out sooner.
    role          TEXT NOT NULL CHECK (role IN ('sales', 'manager')),
    password_hash TEXT NOT NULL
);

CREATE TABLE companies (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    industry   TEXT NOT NULL DEFAULT '',
    website    TEXT NOT NULL DEFAULT '',
    phone      TEXT NOT NULL DEFAULT '',
    city       TEXT NOT NULL DEFAULT '',
    notes      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX companies_name ON companies (name COLLATE NOCASE);

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY,
    company_id INTEGER REFERENCES companies (id) ON DELETE SET NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    phone      TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL DEFAULT '',
    notes      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contacts_company ON contacts (company_id);

CREATE TABLE deals (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    company_id  INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    contact_id  INTEGER REFERENCES contacts (id) ON DELETE SET NULL,
    owner       TEXT NOT NULL REFERENCES users (username),
    stage       TEXT NOT NULL
                CHECK (stage IN ('lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost')),
    value_cents INTEGER NOT NULL CHECK (value_cents >= 0),
    close_date  TEXT,
    notes       TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX deals_company ON deals (company_id);
CREATE INDEX deals_contact ON deals (contact_id);
CREATE INDEX deals_owner ON deals (owner);

-- Dated notes on a company, a contact or a deal (exactly one of them).
CREATE TABLE notes (
    id         INTEGER PRIMARY KEY,
    company_id INTEGER REFERENCES companies (id) ON DELETE CASCADE,
    contact_id INTEGER REFERENCES contacts (id) ON DELETE CASCADE,
    deal_id    INTEGER REFERENCES deals (id) ON DELETE CASCADE,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((company_id IS NOT NULL) + (contact_id IS NOT NULL) + (deal_id IS NOT NULL) = 1)
);
CREATE INDEX notes_company ON notes (company_id);
CREATE INDEX notes_contact ON notes (contact_id);
CREATE INDEX notes_deal ON notes (deal_id);
CREATE INDEX notes_created ON notes (created_at);
