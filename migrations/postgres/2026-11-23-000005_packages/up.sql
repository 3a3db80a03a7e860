-- Package intake (issue 6): every package received, by the API or an inbox folder, is a row
-- written before its receipt is sent; the workers take `received` rows in `seq` order. The
-- cases of accepted account files are stored in the same transaction that ends the package,
-- so a package is loaded exactly once. Written only by src/intake. See docs/INTAKE.md.
CREATE TABLE package (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE, -- public id (UUID)
    sender           TEXT NOT NULL, -- who sent it (the caller's name, a participant later)
    channel          TEXT NOT NULL CHECK (channel IN ('api', 'inbox')),
    file_name        TEXT NOT NULL, -- the package name as sent (HM750096T75_26011.zip)
    sha256           TEXT NOT NULL, -- of the bytes received
    size_bytes       BIGINT NOT NULL,
    idempotency_key  TEXT,
    received_at      TIMESTAMP NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('received', 'checking', 'accepted', 'partly_accepted', 'rejected')),
    attempts         INTEGER NOT NULL DEFAULT 0, -- times a worker took it
    started_at       TIMESTAMP,
    finished_at      TIMESTAMP,
    records          BIGINT, -- records in its files
    refused_records  BIGINT,
    findings         BIGINT, -- findings in its protocols
    refusal_code     TEXT, -- the first F012 code when it was refused (801, 805, 901, ...)
    protocol_name    TEXT, -- V<file name>.xml
    message          TEXT
);
CREATE UNIQUE INDEX package_sender_sha256 ON package (sender, sha256);
CREATE UNIQUE INDEX package_sender_idempotency ON package (sender, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX package_queue ON package (status, seq);
CREATE INDEX package_sender_name ON package (sender, file_name);

-- One case (ZAP) of an accepted account file. Written while the check streams, tagged with the
-- worker's attempt; the transaction that ends the package deletes the rows of every other
-- attempt (and all of them when the package is rejected), so once a package is final its
-- rows are exactly its accepted cases, once.
CREATE TABLE package_case (
    package_id  TEXT NOT NULL REFERENCES package (id),
    attempt     INTEGER NOT NULL,
    n_zap       BIGINT NOT NULL,
    idcase      BIGINT NOT NULL,
    id_pac      TEXT NOT NULL,
    enp         TEXT, -- the policy number when VPOLIS is 3 (ENP)
    code_mo     TEXT NOT NULL,
    date_1      DATE NOT NULL, -- Z_SL/DATE_Z_1
    date_2      DATE NOT NULL, -- Z_SL/DATE_Z_2
    usl_ok      INTEGER,
    sum_kopecks BIGINT NOT NULL, -- Z_SL/SUMV
    PRIMARY KEY (package_id, attempt, n_zap)
);
CREATE INDEX package_case_enp ON package_case (enp);
