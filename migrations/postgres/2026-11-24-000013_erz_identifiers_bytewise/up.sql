-- Identifiers of the register compared byte by byte (COLLATE "C"): the ENP, SNILS, document
-- number and insurer code are digits (a document number may hold letters), looked up by
-- equality and paged in key order, never sorted for people to read. The database's default
-- collation (C.UTF-8 here) compares text through the C library, which made building their
-- indexes about twice as slow and every ENP look-up dearer (docs/PERFORMANCE.md, bulk load).
-- Equality is unchanged; a "C" column combined with a default-collation one takes "C".
-- SQLite compares bytes already (its migration of the same name does nothing).
ALTER TABLE erz_person ALTER COLUMN enp TYPE TEXT COLLATE "C";
ALTER TABLE erz_insurance ALTER COLUMN enp TYPE TEXT COLLATE "C";
ALTER TABLE erz_insurance ALTER COLUMN insurer_code TYPE TEXT COLLATE "C";
ALTER TABLE erz_person_version ALTER COLUMN snils TYPE TEXT COLLATE "C";
ALTER TABLE erz_document ALTER COLUMN docnum TYPE TEXT COLLATE "C";
