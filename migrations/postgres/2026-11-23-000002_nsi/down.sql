DROP INDEX nsi_entry_code;
DROP INDEX nsi_entry_current;
DROP TABLE nsi_entry;
DROP INDEX nsi_import_classifier;
DROP TABLE nsi_import;
DROP TABLE nsi_classifier;
