-- The journal of bulk loads of the register of insured persons (`omshub erz import`). One row
-- per file content (SHA-256): how many rows are committed and the last line of the last
-- committed batch, so a load that stopped (a crash, a kill) continues after that line and a
-- finished file imports nothing. Each batch is one transaction that also advances this row.
-- Written only by src/erz/repo/import.rs. See docs/ERZ.md ("Bulk load").
CREATE TABLE erz_import (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    sha256         TEXT NOT NULL UNIQUE,
    file_name      TEXT NOT NULL, -- as named on the first run
    format         TEXT NOT NULL CHECK (format IN ('csv', 'reclist')),
    file_id        BIGINT NOT NULL REFERENCES erz_file (id), -- the erz_file row its batches' operations hang on
    status         TEXT NOT NULL CHECK (status IN ('running', 'done')),
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP,
    batches        BIGINT NOT NULL, -- batches committed
    rows_committed BIGINT NOT NULL, -- persons inserted
    rows_present   BIGINT NOT NULL, -- rows whose ENP was already registered
    rows_refused   BIGINT NOT NULL, -- rows refused by a check, up to the last committed line
    last_line      BIGINT NOT NULL -- last line of the last committed batch (0: none yet)
);
