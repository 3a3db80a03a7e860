-- Registers of organisations (issue 4): territorial funds (F001), insurers (F002), medical
-- organisations (F003) and experts of quality of care (F004). Each register has a table of the
-- current (newest) state with the searchable columns and a version table that keeps every state
-- ever recorded. Nested lists (licences, inclusion periods, notices, specialties) live in the
-- `record` JSON text of both; `periods` keeps the activity periods as compact JSON for listing.
-- Written only by src/registers. See docs/REGISTERS.md.

-- F001: the foundation's table gains director, contacts and the settlement bank details.
ALTER TABLE territorial_fund ADD COLUMN postal_index TEXT; -- postal index (F001 index)
ALTER TABLE territorial_fund ADD COLUMN address TEXT; -- postal address (address)
ALTER TABLE territorial_fund ADD COLUMN director_surname TEXT; -- director: fam_dir
ALTER TABLE territorial_fund ADD COLUMN director_first_name TEXT; -- im_dir
ALTER TABLE territorial_fund ADD COLUMN director_patronymic TEXT; -- ot_dir
ALTER TABLE territorial_fund ADD COLUMN phone TEXT;
ALTER TABLE territorial_fund ADD COLUMN fax TEXT;
ALTER TABLE territorial_fund ADD COLUMN email TEXT; -- e_mail
ALTER TABLE territorial_fund ADD COLUMN www TEXT;
ALTER TABLE territorial_fund ADD COLUMN kf_tf TEXT; -- kf_tf, meaning not established
ALTER TABLE territorial_fund ADD COLUMN bank_bic TEXT; -- settlement details: BIC of the bank
ALTER TABLE territorial_fund ADD COLUMN bank_inn TEXT; -- INN of the recipient
ALTER TABLE territorial_fund ADD COLUMN bank_kpp TEXT; -- KPP of the recipient
ALTER TABLE territorial_fund ADD COLUMN bank_kbk TEXT; -- budget classification code
ALTER TABLE territorial_fund ADD COLUMN bank_oktmo TEXT; -- OKTMO
ALTER TABLE territorial_fund ADD COLUMN l_account_name TEXT; -- L_NAIM
ALTER TABLE territorial_fund ADD COLUMN l_account_bank TEXT; -- L_B
ALTER TABLE territorial_fund ADD COLUMN l_account_number TEXT; -- L_RS
ALTER TABLE territorial_fund ADD COLUMN t_account_name TEXT; -- T_NAIM
ALTER TABLE territorial_fund ADD COLUMN t_account_bank TEXT; -- T_B
ALTER TABLE territorial_fund ADD COLUMN t_account_number TEXT; -- T_RS
ALTER TABLE territorial_fund ADD COLUMN d_edit DATE;
ALTER TABLE territorial_fund ADD COLUMN status TEXT NOT NULL DEFAULT 'active';

CREATE TABLE territorial_fund_version (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    code        TEXT NOT NULL REFERENCES territorial_fund (code),
    valid_from  DATE NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    changed_by  TEXT NOT NULL,
    change_kind TEXT NOT NULL CHECK (change_kind IN ('created', 'updated', 'status_changed')),
    status      TEXT NOT NULL CHECK (status IN ('application', 'approved', 'rejected', 'active', 'excluded')),
    status_since DATE NOT NULL,
    comment     TEXT,
    record      TEXT NOT NULL
);
CREATE INDEX territorial_fund_version_code ON territorial_fund_version (code, valid_from, id);

-- F002: insurers (ЕРСМО).
CREATE TABLE insurer (
    code        TEXT PRIMARY KEY NOT NULL CHECK (length(code) = 5),
    territory   TEXT NOT NULL CHECK (length(territory) = 2),
    okato       TEXT NOT NULL,
    inn         TEXT NOT NULL,
    ogrn        TEXT NOT NULL,
    kpp         TEXT,
    name_full   TEXT NOT NULL,
    name_short  TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('application', 'approved', 'rejected', 'active', 'excluded')),
    status_since DATE NOT NULL,
    periods     TEXT NOT NULL,
    valid_from  DATE NOT NULL,
    search      TEXT NOT NULL,
    record      TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX insurer_territory ON insurer (territory);
CREATE INDEX insurer_ogrn ON insurer (ogrn);

CREATE TABLE insurer_version (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    code        TEXT NOT NULL REFERENCES insurer (code),
    valid_from  DATE NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    changed_by  TEXT NOT NULL,
    change_kind TEXT NOT NULL CHECK (change_kind IN ('created', 'updated', 'status_changed')),
    status      TEXT NOT NULL CHECK (status IN ('application', 'approved', 'rejected', 'active', 'excluded')),
    status_since DATE NOT NULL,
    comment     TEXT,
    record      TEXT NOT NULL
);
CREATE INDEX insurer_version_code ON insurer_version (code, valid_from, id);

-- F003: medical organisations.
CREATE TABLE medical_organisation (
    code        TEXT PRIMARY KEY NOT NULL CHECK (length(code) = 6),
    territory   TEXT NOT NULL CHECK (length(territory) = 2),
    okato       TEXT NOT NULL,
    inn         TEXT,
    ogrn        TEXT,
    kpp         TEXT,
    regional_code TEXT,
    affiliation INTEGER,
    name_full   TEXT NOT NULL,
    name_short  TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('application', 'approved', 'rejected', 'active', 'excluded')),
    status_since DATE NOT NULL,
    periods     TEXT NOT NULL,
    valid_from  DATE NOT NULL,
    search      TEXT NOT NULL,
    record      TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX medical_organisation_territory ON medical_organisation (territory);
CREATE INDEX medical_organisation_ogrn ON medical_organisation (ogrn);
CREATE INDEX medical_organisation_regional ON medical_organisation (territory, regional_code);

CREATE TABLE medical_organisation_version (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    code        TEXT NOT NULL REFERENCES medical_organisation (code),
    valid_from  DATE NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    changed_by  TEXT NOT NULL,
    change_kind TEXT NOT NULL CHECK (change_kind IN ('created', 'updated', 'status_changed')),
    status      TEXT NOT NULL CHECK (status IN ('application', 'approved', 'rejected', 'active', 'excluded')),
    status_since DATE NOT NULL,
    comment     TEXT,
    record      TEXT NOT NULL
);
CREATE INDEX medical_organisation_version_code ON medical_organisation_version (code, valid_from, id);

-- F004: experts of quality of care.
CREATE TABLE expert (
    code        TEXT PRIMARY KEY NOT NULL CHECK (length(code) BETWEEN 1 AND 8),
    territory   TEXT NOT NULL CHECK (length(territory) = 2),
    okato       TEXT NOT NULL,
    snils       TEXT NOT NULL,
    surname     TEXT NOT NULL,
    first_name  TEXT NOT NULL,
    patronymic  TEXT,
    status      TEXT NOT NULL CHECK (status IN ('application', 'approved', 'rejected', 'active', 'excluded')),
    status_since DATE NOT NULL,
    periods     TEXT NOT NULL,
    valid_from  DATE NOT NULL,
    search      TEXT NOT NULL,
    record      TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX expert_territory ON expert (territory);

CREATE TABLE expert_version (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    code        TEXT NOT NULL REFERENCES expert (code),
    valid_from  DATE NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    changed_by  TEXT NOT NULL,
    change_kind TEXT NOT NULL CHECK (change_kind IN ('created', 'updated', 'status_changed')),
    status      TEXT NOT NULL CHECK (status IN ('application', 'approved', 'rejected', 'active', 'excluded')),
    status_since DATE NOT NULL,
    comment     TEXT,
    record      TEXT NOT NULL
);
CREATE INDEX expert_version_code ON expert_version (code, valid_from, id);

-- Grows by one in every transaction that changes a register; the look-up snapshot is rebuilt
-- when it moves.
CREATE TABLE register_revision (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    revision    BIGINT NOT NULL
);
INSERT INTO register_revision (id, revision) VALUES (1, 0);
