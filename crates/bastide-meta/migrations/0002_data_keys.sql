-- Data keys, wrapped by a key-encryption key of the key provider. Files carry only
-- key ids; rotation rewraps these rows without touching the files, and shredding
-- erases `wrapped` for good.
CREATE TABLE data_keys (
    key_id      TEXT    PRIMARY KEY,
    scope       TEXT    NOT NULL,
    kek         TEXT    NOT NULL,
    wrapped     TEXT,
    created_at  BIGINT  NOT NULL,
    shredded_at BIGINT
);
CREATE INDEX data_keys_scope ON data_keys (scope);
CREATE INDEX data_keys_kek ON data_keys (kek);
