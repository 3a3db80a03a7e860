-- The indexes an initial bulk load of the register sets aside (`omshub erz import` into an
-- empty register): their definitions are saved here and the indexes dropped before the first
-- batch, and each is built again, from its saved definition, once the last batch is in
-- (`restored_at` set). A load that stopped in between still has its rows here, so running it
-- again finishes the rebuild. The foreign keys of the fact tables are dropped and added again
-- the same way (`kind` 'foreign_key'; ADD CONSTRAINT checks every row once, in one pass).
-- Written only by src/erz/repo/import.rs. See docs/ERZ.md ("Bulk load").
CREATE TABLE erz_import_deferred (
    id          BIGSERIAL PRIMARY KEY,
    import_id   BIGINT NOT NULL REFERENCES erz_import (id),
    kind        TEXT NOT NULL CHECK (kind IN ('index', 'foreign_key')),
    table_name  TEXT NOT NULL,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL, -- the statement that builds it again
    restored_at TIMESTAMP
);
CREATE INDEX erz_import_deferred_import ON erz_import_deferred (import_id);
