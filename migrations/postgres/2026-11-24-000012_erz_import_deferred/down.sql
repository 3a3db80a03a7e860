DROP TABLE erz_import_deferred;
