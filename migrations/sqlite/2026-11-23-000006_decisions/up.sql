-- Decisions of the business rules (issue 7, docs/RULES.md): one row per checked account and one
-- per case, stored for settlement. Written only by src/settlement; a package checked again
-- replaces its rows. Keys carry the territory (first two digits of CODE_MO) and the reporting
-- period (YYYY-MM), so the tables can be partitioned and sharded like the cases.
CREATE TABLE account_decision (
    package_id   TEXT PRIMARY KEY NOT NULL REFERENCES package (id),
    territory    TEXT NOT NULL,
    period       TEXT NOT NULL,
    code_mo      TEXT NOT NULL,
    plat         TEXT,
    nschet       TEXT NOT NULL,
    rules_as_of  DATE NOT NULL, -- the catalogue applied
    decided_at   TIMESTAMP NOT NULL,
    accepted     INTEGER NOT NULL CHECK (accepted IN (0, 1)), -- 0: refused by a file rule
    summav       BIGINT NOT NULL, -- kopecks, as billed
    summap       BIGINT NOT NULL, -- kopecks, accepted
    sank_mek     BIGINT NOT NULL, -- kopecks, refused by the МЭК
    cases        BIGINT NOT NULL,
    paid         BIGINT NOT NULL,
    partly_paid  BIGINT NOT NULL,
    refused      BIGINT NOT NULL
);
CREATE INDEX account_decision_territory_period ON account_decision (territory, period);

CREATE TABLE case_decision (
    package_id   TEXT NOT NULL REFERENCES account_decision (package_id) ON DELETE CASCADE,
    territory    TEXT NOT NULL,
    period       TEXT NOT NULL,
    n_zap        BIGINT NOT NULL,
    idcase       BIGINT NOT NULL,
    oplata       INTEGER NOT NULL CHECK (oplata IN (1, 2, 3)),
    sumv         BIGINT NOT NULL, -- kopecks
    sump         BIGINT NOT NULL, -- kopecks
    sank         BIGINT NOT NULL, -- kopecks, S_SUM of the МЭК sanction
    s_osn        INTEGER, -- F014 reason of the sanction
    sl_ids       TEXT, -- episodes refused (partial payment), space-separated
    rules        TEXT, -- ids of the refusing rules, space-separated
    mtr          INTEGER NOT NULL CHECK (mtr IN (0, 1)), -- inter-territorial settlement
    PRIMARY KEY (package_id, n_zap)
);
CREATE INDEX case_decision_territory_period ON case_decision (territory, period);
