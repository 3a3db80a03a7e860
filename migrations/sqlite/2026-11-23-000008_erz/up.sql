-- The unified register of insured persons, ЕРЗ (issue 8). Bitemporal: every fact row carries
-- its valid time [valid_from, valid_to) (dates; valid_to NULL = open) and its record time
-- [recorded_at, superseded_at) (when the hub learned it, when a later operation replaced it).
-- A row is never updated except to set superseded_at once; a correction supersedes rows and
-- records new ones, so "what did the register say on date D, as known at time T" has an answer.
-- Written only by src/erz. See docs/ERZ.md.

-- An OPLIST file applied (or refused as a whole); (file_name, sha256) makes a repeat a no-op.
CREATE TABLE erz_file (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    file_name     TEXT NOT NULL, -- i75001_75_01261.xml
    sha256        TEXT NOT NULL,
    smocod        TEXT, -- the sender (OPLIST/SMOCOD), when the header was readable
    received_at   TIMESTAMP NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('applied', 'rejected')),
    records       BIGINT NOT NULL, -- OP records seen
    accepted      BIGINT NOT NULL, -- answered AA
    refused       BIGINT NOT NULL, -- answered AE or AR
    reply_name    TEXT, -- p75001_75_01261.xml (NULL when the file was refused as a whole)
    reply         TEXT, -- the REPLIST as sent
    protocol_name TEXT NOT NULL, -- f75001_75_01261.xml
    protocol      TEXT NOT NULL -- the FLK_P as sent
);
CREATE UNIQUE INDEX erz_file_name_sha256 ON erz_file (file_name, sha256);
CREATE INDEX erz_file_name ON erz_file (file_name);

-- One OP of an applied file and the answer to it.
CREATE TABLE erz_op (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    file_id     BIGINT NOT NULL REFERENCES erz_file (id),
    ordinal     BIGINT NOT NULL, -- 1-based position in the file
    n_rec       TEXT NOT NULL,
    tip_op      INTEGER, -- NULL when the record did not pass the schema check
    code_erp    TEXT NOT NULL CHECK (code_erp IN ('AA', 'AE', 'AR')),
    reason      TEXT, -- the hub's reason code of an AE / AR (snils_check_digit, unknown_insurer, ...)
    comment     TEXT,
    person_id   BIGINT,
    recorded_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX erz_op_file_ordinal ON erz_op (file_id, ordinal);

-- The identity of an insured person: the ENP is unique for life.
CREATE TABLE erz_person (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    enp        TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

-- Personal data (PERSON) over time.
CREATE TABLE erz_person_version (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    person_id      BIGINT NOT NULL REFERENCES erz_person (id),
    fam            TEXT NOT NULL,
    im             TEXT,
    ot             TEXT,
    sex            INTEGER NOT NULL CHECK (sex IN (1, 2)),
    birth_date     DATE NOT NULL,
    birth_accuracy INTEGER NOT NULL CHECK (birth_accuracy IN (1, 2, 3)), -- TRUE_DR
    citizenship    TEXT, -- C_OKSM
    snils          TEXT, -- 11 digits
    death_date     DATE,
    valid_from     DATE NOT NULL,
    valid_to       DATE,
    recorded_at    TIMESTAMP NOT NULL,
    superseded_at  TIMESTAMP,
    op_id          BIGINT NOT NULL REFERENCES erz_op (id)
);
CREATE INDEX erz_person_version_person ON erz_person_version (person_id);
CREATE INDEX erz_person_version_snils ON erz_person_version (snils);

-- Identity documents (DOC, F011 type) over time.
CREATE TABLE erz_document (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    person_id     BIGINT NOT NULL REFERENCES erz_person (id),
    doctype       INTEGER NOT NULL,
    docser        TEXT,
    docnum        TEXT NOT NULL,
    docdate       DATE NOT NULL,
    docexp        DATE,
    issuer        TEXT,
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    recorded_at   TIMESTAMP NOT NULL,
    superseded_at TIMESTAMP,
    op_id         BIGINT NOT NULL REFERENCES erz_op (id)
);
CREATE INDEX erz_document_person ON erz_document (person_id);

-- Addresses (ADDRES_G registration, ADDRES_P actual) over time.
CREATE TABLE erz_address (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    person_id     BIGINT NOT NULL REFERENCES erz_person (id),
    kind          TEXT NOT NULL CHECK (kind IN ('registration', 'actual')),
    okato         TEXT,
    postcode      TEXT,
    text          TEXT, -- UNSTRUCT_ADDRESS, or the parts joined
    homeless      INTEGER NOT NULL CHECK (homeless IN (0, 1)),
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    recorded_at   TIMESTAMP NOT NULL,
    superseded_at TIMESTAMP,
    op_id         BIGINT NOT NULL REFERENCES erz_op (id)
);
CREATE INDEX erz_address_person ON erz_address (person_id);

-- Insurance episodes (INSURANCE/POLIS): who insured the person, with which policy, when.
-- valid_from = DBEG; valid_to = DSTOP + 1 day (the actual stop) or the start of the next
-- episode; planned_end = DEND (a temporary certificate's end).
CREATE TABLE erz_insurance (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    person_id     BIGINT NOT NULL REFERENCES erz_person (id),
    enp           TEXT NOT NULL,
    insurer_code  TEXT NOT NULL, -- F002 smocod
    policy_kind   TEXT NOT NULL, -- VPOLIS: С, В, П, Э, К
    policy_series TEXT,
    policy_number TEXT,
    policy_form   TEXT, -- VIZIT/FPOLIS
    territory     TEXT, -- TER_ST, OKATO of the territory of insurance
    start_date    DATE NOT NULL, -- DBEG
    planned_end   DATE, -- DEND
    stop_date     DATE, -- DSTOP, the last day insured
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    recorded_at   TIMESTAMP NOT NULL,
    superseded_at TIMESTAMP,
    op_id         BIGINT NOT NULL REFERENCES erz_op (id)
);
CREATE INDEX erz_insurance_person ON erz_insurance (person_id, valid_from);

-- Attachment to a clinic (ATTACHMENT: the fund's clinic id and attachment kind) over time.
CREATE TABLE erz_attachment (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    person_id     BIGINT NOT NULL REFERENCES erz_person (id),
    lpu_id        BIGINT NOT NULL,
    kind          INTEGER NOT NULL,
    valid_from    DATE NOT NULL,
    valid_to      DATE,
    recorded_at   TIMESTAMP NOT NULL,
    superseded_at TIMESTAMP,
    op_id         BIGINT NOT NULL REFERENCES erz_op (id)
);
CREATE INDEX erz_attachment_person ON erz_attachment (person_id);

-- The last ENP serial issued per territory and birth-date/sex facet (formats.md 6.1). The row
-- is locked by the UPDATE that takes the next serial, so concurrent issuance is serialised.
CREATE TABLE erz_enp_counter (
    territory   TEXT NOT NULL,
    facet       TEXT NOT NULL,
    last_serial INTEGER NOT NULL CHECK (last_serial BETWEEN 0 AND 99999),
    PRIMARY KEY (territory, facet)
);

-- Audit of policy-status queries: who asked about whom, when, for which date.
CREATE TABLE erz_status_query (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    asked_at       TIMESTAMP NOT NULL,
    caller         TEXT NOT NULL, -- participant:7, reader-1, admin
    participant_id BIGINT,
    by_key         TEXT NOT NULL CHECK (by_key IN ('enp', 'snils')),
    subject        TEXT NOT NULL, -- the ENP or SNILS asked about
    on_date        DATE NOT NULL,
    as_of          TIMESTAMP,
    person_id      BIGINT,
    outcome        TEXT NOT NULL CHECK (outcome IN ('insured', 'not_insured', 'not_found'))
);
CREATE INDEX erz_status_query_asked ON erz_status_query (asked_at);
CREATE INDEX erz_status_query_person ON erz_status_query (person_id);
