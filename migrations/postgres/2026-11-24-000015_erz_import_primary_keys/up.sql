-- An initial bulk load also sets aside the primary keys of the five fact tables
-- (`erz_person_version`, `erz_document`, `erz_address`, `erz_insurance`, `erz_attachment`) on
-- PostgreSQL: their ids come only from their sequences, so no row can take another's id while
-- the key is away, and building each key once at the end costs a fraction of keeping it up row
-- by row. `definition` of a 'primary_key' row is its `ALTER TABLE … ADD CONSTRAINT … PRIMARY
-- KEY`. See docs/ERZ.md ("Initial load").
ALTER TABLE erz_import_deferred DROP CONSTRAINT erz_import_deferred_kind_check;
ALTER TABLE erz_import_deferred ADD CONSTRAINT erz_import_deferred_kind_check
    CHECK (kind IN ('index', 'primary_key', 'foreign_key'));
