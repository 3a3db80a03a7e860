-- The credential epoch (issue 8, policy status): a counter every change to a participant, or to
-- what decides whether a token or certificate authenticates, moves in the same transaction.
-- `omshub serve` keeps the participants it authenticated in memory, each with the epoch read
-- before its look-up, and uses one only while the epoch read with the request's data is the
-- same: a revocation committed before a request is seen by it. See docs/PARTICIPANTS.md.
-- Not moved by `last_used_at` (written at most once a minute per token).

CREATE TABLE credential_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO credential_epoch (id, epoch) VALUES (1, 0);

CREATE FUNCTION credential_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER participants_credential_epoch
    AFTER UPDATE OR DELETE OR TRUNCATE ON participants
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_bump();
CREATE TRIGGER participant_tokens_credential_epoch
    AFTER UPDATE OF participant_id, token_sha256, expires_at, revoked_at OR DELETE OR TRUNCATE
    ON participant_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_bump();
CREATE TRIGGER participant_certificates_credential_epoch
    AFTER UPDATE OF participant_id, fingerprint_sha256, not_after, revoked_at OR DELETE OR TRUNCATE
    ON participant_certificates
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_bump();
