DROP INDEX erz_document_number;
DROP INDEX erz_person_version_birth;
DROP TABLE erz_merge_link;
DROP TABLE erz_match_decision;
DROP TABLE erz_match_pair;
