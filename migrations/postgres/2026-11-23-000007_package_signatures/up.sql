-- Signatures of packages (issue 6 point 5). `signatures` identifies the detached signature files
-- sent beside a package (SHA-256 over their names and bytes, hex; '' when none), so that the
-- same ZIP sent again with other signatures is a new package, not a repeat. `refusal_reason`
-- is the hub's own code of the first refusal (zip_bomb, path_traversal, signature_invalid,
-- signer_not_registered, dtd, ...) beside the F012 code of `refusal_code`. See docs/INTAKE.md.
ALTER TABLE package ADD COLUMN signatures TEXT NOT NULL DEFAULT '';
ALTER TABLE package ADD COLUMN refusal_reason TEXT;
DROP INDEX package_sender_sha256;
CREATE UNIQUE INDEX package_sender_sha256 ON package (sender, sha256, signatures);
