-- Signatures of packages (issue 6 point 5). `signatures` identifies the detached signature files
-- sent beside a package (SHA-256 over their names and bytes, hex; '' when none), so that the
-- same ZIP sent again with other signatures is a new package, not a repeat. `refusal_reason`
-- is the hub's own code of the first refusal (zip_bomb, path_traversal, signature_invalid,
-- signer_not_registered, dtd, ...) beside the F012 code of `refusal_code`. See docs/INTAKE.md.
ALTER TABLE package ADD COLUMN signatures TEXT NOT NULL DEFAULT '';
ALTER TABLE package ADD COLUMN refusal_reason TEXT;
DROP INDEX package_sender_sha256;
CREATE UNIQUE INDEX package_sender_sha256 ON package (sender, sha256, signatures);

-- The e-mail notice of a finished package (issue 6 point 8), written in the transaction that
-- ends the package and kept until it is sent: a mail server that is down delays a notice, it
-- does not lose it. Retried with a growing wait up to 12 attempts (src/intake/notices.rs).
CREATE TABLE notice (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    package_id       TEXT NOT NULL UNIQUE REFERENCES package (id),
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP,
    last_error       TEXT
);
CREATE INDEX notice_due ON notice (sent_at, next_attempt_at);
