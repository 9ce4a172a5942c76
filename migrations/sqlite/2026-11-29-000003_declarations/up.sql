CREATE TABLE declarations (
    id TEXT PRIMARY KEY NOT NULL,
    -- assigned at first submission: site code + year + I/E/T + serial
    number TEXT UNIQUE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('import', 'export', 'transit')),
    site_id TEXT NOT NULL REFERENCES sites (id),
    transport_mode TEXT NOT NULL CHECK (transport_mode IN ('road', 'rail', 'air')),
    consignor TEXT NOT NULL,
    consignee TEXT NOT NULL,
    origin_country TEXT NOT NULL,
    destination_country TEXT NOT NULL,
    currency TEXT NOT NULL,
    incoterm TEXT NOT NULL,
    -- money in the currency's minor units (exact, never a float)
    invoice_total_minor BIGINT NOT NULL CHECK (invoice_total_minor > 0),
    -- exact decimal as text (kg, up to 3 decimals)
    gross_mass_kg TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'under_review', 'approved', 'released',
                                           'rejected', 'amendment_requested', 'cancelled')),
    risk_lane TEXT CHECK (risk_lane IN ('green', 'yellow', 'red')),
    assigned_officer_id TEXT REFERENCES users (id),
    -- last reason given by customs (rejection, amendment request) or by the company (cancel)
    status_reason TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    submitted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX declarations_enterprise ON declarations (enterprise_id, id);
CREATE INDEX declarations_queue ON declarations (status, submitted_at, id);

CREATE TABLE declaration_items (
    id TEXT PRIMARY KEY NOT NULL,
    declaration_id TEXT NOT NULL REFERENCES declarations (id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL CHECK (line_no >= 1 AND line_no <= 999),
    hs_code TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit TEXT NOT NULL,
    net_mass_kg TEXT NOT NULL,
    value_minor BIGINT NOT NULL CHECK (value_minor > 0),
    origin_country TEXT NOT NULL,
    UNIQUE (declaration_id, line_no)
);

-- next serial per site, year and kind; changed only under the site's lock
CREATE TABLE declaration_counters (
    site_id TEXT NOT NULL REFERENCES sites (id),
    year INTEGER NOT NULL,
    kind TEXT NOT NULL,
    last_serial BIGINT NOT NULL,
    PRIMARY KEY (site_id, year, kind)
);
