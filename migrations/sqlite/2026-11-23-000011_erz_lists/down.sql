CREATE TABLE erz_status_query_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    asked_at       TIMESTAMP NOT NULL,
    caller         TEXT NOT NULL, -- participant:7, reader-1, admin
    participant_id BIGINT,
    by_key         TEXT NOT NULL CHECK (by_key IN ('enp', 'snils')),
    subject        TEXT NOT NULL, -- the ENP or SNILS asked about; for 'names' sha256:<hex>
    on_date        DATE NOT NULL,
    as_of          TIMESTAMP,
    person_id      BIGINT,
    outcome        TEXT NOT NULL CHECK (outcome IN ('insured', 'not_insured', 'not_found'))
);
INSERT INTO erz_status_query_new (id, asked_at, caller, participant_id, by_key, subject, on_date,
    as_of, person_id, outcome)
SELECT id, asked_at, caller, participant_id, by_key, subject, on_date, as_of, person_id, outcome
FROM erz_status_query WHERE by_key IN ('enp', 'snils') AND outcome <> 'found';
DROP TABLE erz_status_query;
ALTER TABLE erz_status_query_new RENAME TO erz_status_query;
CREATE INDEX erz_status_query_asked ON erz_status_query (asked_at);
CREATE INDEX erz_status_query_person ON erz_status_query (person_id);
DROP INDEX erz_insurance_insurer;
DROP INDEX erz_insurance_op;
DROP INDEX erz_op_recorded;
DROP TABLE erz_list_export;
