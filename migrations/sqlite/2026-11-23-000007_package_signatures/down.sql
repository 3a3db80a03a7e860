DROP TABLE notice;
DROP INDEX package_sender_sha256;
CREATE UNIQUE INDEX package_sender_sha256 ON package (sender, sha256);
ALTER TABLE package DROP COLUMN refusal_reason;
ALTER TABLE package DROP COLUMN signatures;
