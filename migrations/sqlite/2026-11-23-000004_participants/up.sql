-- Participants of the exchange (issue 6) and their credentials. A participant is an organisation
-- of the registers (a territorial fund, an insurer or a clinic, named by its register code), a
-- federal auditor or an administrator. It authenticates with a registered client certificate
-- (mutual TLS) or a bearer token stored as its SHA-256 digest. Written only by
-- src/participants. See docs/PARTICIPANTS.md.

CREATE TABLE participants (
    id            INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('fund', 'insurer', 'clinic', 'auditor', 'admin')),
    -- The register code: F001 TF code (2 digits), F002 SMOCOD (5), F003 MCOD (6); NULL for
    -- auditors and administrators.
    org_code      TEXT,
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 250),
    -- A set of roles, comma-separated in a fixed order: upload, read_own, read_all, admin.
    roles         TEXT NOT NULL CHECK (length(roles) > 0),
    contact_email TEXT,
    created_at    TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP,
    CHECK ((kind = 'fund' AND org_code IS NOT NULL AND length(org_code) = 2)
        OR (kind = 'insurer' AND org_code IS NOT NULL AND length(org_code) = 5)
        OR (kind = 'clinic' AND org_code IS NOT NULL AND length(org_code) = 6)
        OR (kind IN ('auditor', 'admin') AND org_code IS NULL))
);
-- One active participant per organisation.
CREATE UNIQUE INDEX participants_active_org ON participants (kind, org_code)
    WHERE revoked_at IS NULL AND org_code IS NOT NULL;

CREATE TABLE participant_tokens (
    id             INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    participant_id INTEGER NOT NULL REFERENCES participants (id),
    -- SHA-256 of the token, lower-case hex; the token itself is shown once and never stored.
    token_sha256   TEXT NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    label          TEXT,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    revoked_at     TIMESTAMP,
    -- Updated at most once a minute per token.
    last_used_at   TIMESTAMP,
    CHECK (expires_at > created_at)
);
CREATE INDEX participant_tokens_participant ON participant_tokens (participant_id);

CREATE TABLE participant_certificates (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    participant_id     INTEGER NOT NULL REFERENCES participants (id),
    -- SHA-256 of the certificate's DER encoding, lower-case hex.
    fingerprint_sha256 TEXT NOT NULL UNIQUE CHECK (length(fingerprint_sha256) = 64),
    subject            TEXT NOT NULL,
    -- Serial number, upper-case hex.
    serial             TEXT NOT NULL,
    not_after          TIMESTAMP NOT NULL,
    added_at           TIMESTAMP NOT NULL,
    revoked_at         TIMESTAMP
);
CREATE INDEX participant_certificates_participant ON participant_certificates (participant_id);
