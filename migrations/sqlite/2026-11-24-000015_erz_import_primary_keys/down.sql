CREATE TABLE erz_import_deferred_old (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    import_id   BIGINT NOT NULL REFERENCES erz_import (id),
    kind        TEXT NOT NULL CHECK (kind IN ('index', 'foreign_key')),
    table_name  TEXT NOT NULL,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL, -- the statement that builds it again
    restored_at TIMESTAMP
);
INSERT INTO erz_import_deferred_old SELECT id, import_id, kind, table_name, name, definition, restored_at
    FROM erz_import_deferred;
DROP TABLE erz_import_deferred;
ALTER TABLE erz_import_deferred_old RENAME TO erz_import_deferred;
CREATE INDEX erz_import_deferred_import ON erz_import_deferred (import_id);
