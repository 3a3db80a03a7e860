-- F001: territorial funds of compulsory medical insurance (ТФОМС), the first register table.
-- The registers issue extends it with contacts, bank details and history.
CREATE TABLE territorial_fund (
    code        TEXT PRIMARY KEY NOT NULL CHECK (char_length(code) = 2),
    okato       TEXT NOT NULL CHECK (char_length(okato) = 5),
    ogrn        TEXT CHECK (ogrn IS NULL OR char_length(ogrn) = 13),
    name_full   TEXT NOT NULL,
    name_short  TEXT NOT NULL,
    valid_from  DATE NOT NULL,
    valid_to    DATE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX territorial_fund_okato ON territorial_fund (okato);
