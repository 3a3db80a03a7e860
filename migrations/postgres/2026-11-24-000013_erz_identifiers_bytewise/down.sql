ALTER TABLE erz_document ALTER COLUMN docnum TYPE TEXT COLLATE "default";
ALTER TABLE erz_person_version ALTER COLUMN snils TYPE TEXT COLLATE "default";
ALTER TABLE erz_insurance ALTER COLUMN insurer_code TYPE TEXT COLLATE "default";
ALTER TABLE erz_insurance ALTER COLUMN enp TYPE TEXT COLLATE "default";
ALTER TABLE erz_person ALTER COLUMN enp TYPE TEXT COLLATE "default";
