-- The kinds of erz_import_deferred as on PostgreSQL (migration 000015 there sets aside the fact
-- tables' primary keys for an initial load). SQLite never writes 'primary_key': a table's
-- INTEGER PRIMARY KEY is its rowid, with no index of its own to set aside. SQLite cannot alter a
-- CHECK, so the table is copied into a new one.
CREATE TABLE erz_import_deferred_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    import_id   BIGINT NOT NULL REFERENCES erz_import (id),
    kind        TEXT NOT NULL CHECK (kind IN ('index', 'primary_key', 'foreign_key')),
    table_name  TEXT NOT NULL,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL, -- the statement that builds it again
    restored_at TIMESTAMP
);
INSERT INTO erz_import_deferred_new SELECT id, import_id, kind, table_name, name, definition, restored_at
    FROM erz_import_deferred;
DROP TABLE erz_import_deferred;
ALTER TABLE erz_import_deferred_new RENAME TO erz_import_deferred;
CREATE INDEX erz_import_deferred_import ON erz_import_deferred (import_id);
