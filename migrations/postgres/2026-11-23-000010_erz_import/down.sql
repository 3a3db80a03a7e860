DROP TABLE erz_import;
