-- Duplicate persons in the register of insured persons (issue 8, point 4): candidate pairs
-- found by blocking and scored, reviewers' decisions (final), and merge links. A decision is
-- never changed; a link is never changed except to set superseded_at (an unmerge) once.
-- Written only by src/erz/repo/matching.rs. See docs/ERZ.md, "Duplicates and merges".

-- A pair of persons that may be one person: person_a < person_b. The row holds the latest
-- scoring of the pair (a pair with a decision is not scored again).
CREATE TABLE erz_match_pair (
    id           BIGSERIAL PRIMARY KEY,
    person_a     BIGINT NOT NULL REFERENCES erz_person (id),
    person_b     BIGINT NOT NULL REFERENCES erz_person (id),
    score        INTEGER NOT NULL CHECK (score BETWEEN 0 AND 1000), -- thousandths
    keys         TEXT NOT NULL, -- blocking keys shared: birth_fam,birth_given,snils,document
    fam_score    INTEGER CHECK (fam_score BETWEEN 0 AND 1000), -- NULL: not compared
    im_score     INTEGER CHECK (im_score BETWEEN 0 AND 1000),
    ot_score     INTEGER CHECK (ot_score BETWEEN 0 AND 1000),
    birth_score  INTEGER CHECK (birth_score BETWEEN 0 AND 1000),
    sex_score    INTEGER CHECK (sex_score BETWEEN 0 AND 1000),
    snils_score  INTEGER CHECK (snils_score BETWEEN 0 AND 1000),
    doc_score    INTEGER CHECK (doc_score BETWEEN 0 AND 1000),
    state        TEXT NOT NULL CHECK (state IN ('possible', 'sure', 'dropped')),
    found_at     TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    CHECK (person_a < person_b)
);
CREATE UNIQUE INDEX erz_match_pair_persons ON erz_match_pair (person_a, person_b);
CREATE INDEX erz_match_pair_b ON erz_match_pair (person_b);

-- A reviewer's decision on a pair: one per pair, final.
CREATE TABLE erz_match_decision (
    id         BIGSERIAL PRIMARY KEY,
    pair_id    BIGINT NOT NULL UNIQUE REFERENCES erz_match_pair (id),
    decision   TEXT NOT NULL CHECK (decision IN ('duplicate', 'distinct')),
    decided_by TEXT NOT NULL, -- admin, cli:ivanova
    decided_at TIMESTAMP NOT NULL,
    comment    TEXT
);

-- A merge: the gone person answers as the surviving one from recorded_at until an unmerge
-- sets superseded_at. At most one current link per gone person.
CREATE TABLE erz_merge_link (
    id              BIGSERIAL PRIMARY KEY,
    gone_person     BIGINT NOT NULL REFERENCES erz_person (id),
    kept_person     BIGINT NOT NULL REFERENCES erz_person (id),
    pair_id         BIGINT REFERENCES erz_match_pair (id), -- the pair that led to it, if any
    why             TEXT NOT NULL CHECK (why IN ('auto', 'review', 'manual')),
    recorded_by     TEXT NOT NULL, -- matching, admin, cli:ivanova
    recorded_at     TIMESTAMP NOT NULL,
    comment         TEXT,
    superseded_at   TIMESTAMP,
    superseded_by   TEXT,
    superseded_why  TEXT CHECK (superseded_why IN ('review', 'manual')),
    superseded_comment TEXT,
    CHECK (gone_person <> kept_person)
);
CREATE INDEX erz_merge_link_gone ON erz_merge_link (gone_person);
CREATE INDEX erz_merge_link_kept ON erz_merge_link (kept_person);
CREATE UNIQUE INDEX erz_merge_link_current ON erz_merge_link (gone_person) WHERE superseded_at IS NULL;

-- Blocking reads open person versions by birth date and documents by type and number.
CREATE INDEX erz_person_version_birth ON erz_person_version (birth_date);
CREATE INDEX erz_document_number ON erz_document (doctype, docnum);
