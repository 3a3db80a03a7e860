DELETE FROM erz_status_query WHERE by_key NOT IN ('enp', 'snils') OR outcome = 'found';
ALTER TABLE erz_status_query DROP CONSTRAINT erz_status_query_outcome_check;
ALTER TABLE erz_status_query ADD CONSTRAINT erz_status_query_outcome_check
    CHECK (outcome IN ('insured', 'not_insured', 'not_found'));
ALTER TABLE erz_status_query DROP CONSTRAINT erz_status_query_by_key_check;
ALTER TABLE erz_status_query ADD CONSTRAINT erz_status_query_by_key_check
    CHECK (by_key IN ('enp', 'snils'));
DROP INDEX erz_insurance_insurer;
DROP INDEX erz_insurance_op;
DROP INDEX erz_op_recorded;
DROP TABLE erz_list_export;
