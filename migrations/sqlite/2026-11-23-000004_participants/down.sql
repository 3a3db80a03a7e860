-- Reverts the participants migration.
DROP TABLE participant_certificates;
DROP TABLE participant_tokens;
DROP TABLE participants;
