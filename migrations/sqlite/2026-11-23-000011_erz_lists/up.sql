-- The lists the register produces for insurers (RECLIST, STOPLIST, CONFLICTLIST; formats.md
-- 4.1), the indexes the lists and the look-up by names + document read by, and the audit's
-- new keys. Written only by src/erz. See docs/ERZ.md ("Lists for insurers").

-- One list produced for an insurer: its name (with the sequence number of its kind, insurer
-- and month), the period it covers, who asked for it and how many records it had.
CREATE TABLE erz_list_export (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('reclist', 'stoplist', 'conflictlist')),
    insurer     TEXT NOT NULL, -- F002 smocod
    period_from DATE NOT NULL,
    period_to   DATE NOT NULL,
    file_name   TEXT NOT NULL, -- r34902_34_06241.xml
    records     BIGINT NOT NULL,
    caller      TEXT NOT NULL, -- participant:7, admin, cli
    created_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX erz_list_export_name ON erz_list_export (file_name);

-- RECLIST: the operations of a period.
CREATE INDEX erz_op_recorded ON erz_op (recorded_at);
-- RECLIST and STOPLIST: episodes by the operation that recorded them, by insurer.
CREATE INDEX erz_insurance_op ON erz_insurance (op_id);
CREATE INDEX erz_insurance_insurer ON erz_insurance (insurer_code, stop_date);
-- (Documents by type and number: erz_document_number of migration 000009.)

-- The audit of queries about persons also keeps the look-up by names + birth date + document
-- (by_key 'names', subject = a SHA-256 of the normalised key, never the names) and the reads
-- of a person's care (by_key 'care', outcome 'found'). SQLite cannot change a CHECK: the table
-- is copied.
CREATE TABLE erz_status_query_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    asked_at       TIMESTAMP NOT NULL,
    caller         TEXT NOT NULL, -- participant:7, reader-1, admin
    participant_id BIGINT,
    by_key         TEXT NOT NULL CHECK (by_key IN ('enp', 'snils', 'names', 'care')),
    subject        TEXT NOT NULL, -- the ENP or SNILS asked about; for 'names' sha256:<hex>
    on_date        DATE NOT NULL,
    as_of          TIMESTAMP,
    person_id      BIGINT,
    outcome        TEXT NOT NULL CHECK (outcome IN ('insured', 'not_insured', 'not_found', 'found'))
);
INSERT INTO erz_status_query_new (id, asked_at, caller, participant_id, by_key, subject, on_date,
    as_of, person_id, outcome)
SELECT id, asked_at, caller, participant_id, by_key, subject, on_date, as_of, person_id, outcome
FROM erz_status_query ;
DROP TABLE erz_status_query;
ALTER TABLE erz_status_query_new RENAME TO erz_status_query;
CREATE INDEX erz_status_query_asked ON erz_status_query (asked_at);
CREATE INDEX erz_status_query_person ON erz_status_query (person_id);
