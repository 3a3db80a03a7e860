ALTER TABLE erz_import_deferred DROP CONSTRAINT erz_import_deferred_kind_check;
ALTER TABLE erz_import_deferred ADD CONSTRAINT erz_import_deferred_kind_check
    CHECK (kind IN ('index', 'foreign_key'));
