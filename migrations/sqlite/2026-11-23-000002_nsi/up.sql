-- Classifier store (НСИ): classifiers, the imports that fed them, and every version of every
-- entry. An entry row is current while superseded_at is NULL; a change writes a new row and
-- stamps the old one, so the record history is never overwritten.
CREATE TABLE nsi_classifier (
    id          TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    key_field   TEXT NOT NULL,
    name_field  TEXT,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE nsi_import (
    id           TEXT PRIMARY KEY NOT NULL,
    classifier   TEXT NOT NULL REFERENCES nsi_classifier (id),
    version      TEXT,
    packet_date  DATE,
    source       TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    imported_at  TIMESTAMP NOT NULL,
    imported_by  TEXT NOT NULL,
    inserted     INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    unchanged    INTEGER NOT NULL,
    rejected     INTEGER NOT NULL
);
CREATE INDEX nsi_import_classifier ON nsi_import (classifier, imported_at);

CREATE TABLE nsi_entry (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    classifier     TEXT NOT NULL REFERENCES nsi_classifier (id),
    code           TEXT NOT NULL,
    name           TEXT,
    valid_from     DATE NOT NULL,
    valid_to       DATE,
    fields         TEXT NOT NULL,
    import_id      TEXT NOT NULL REFERENCES nsi_import (id),
    recorded_at    TIMESTAMP NOT NULL,
    superseded_at  TIMESTAMP,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX nsi_entry_current ON nsi_entry (classifier, code, valid_from)
    WHERE superseded_at IS NULL;
CREATE INDEX nsi_entry_code ON nsi_entry (classifier, code);
