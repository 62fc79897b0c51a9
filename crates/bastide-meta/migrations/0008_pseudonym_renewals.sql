-- Renewals of the hub pseudonym secret. The current secret is the newest renewal's
-- key (the keyring's `pseudonym-1` before any); each renewal re-keyed every stored
-- pseudonym in the same transaction that recorded it.
-- Generation 1 is the secret `bastide init` made; the first renewal is generation 2.
CREATE TABLE pseudonym_renewals (
    generation      BIGINT  PRIMARY KEY,
    key_id          TEXT    NOT NULL UNIQUE,
    renewed_at      BIGINT  NOT NULL,
    renewed_by      TEXT    NOT NULL,
    datasets        BIGINT  NOT NULL,
    rows_rekeyed    BIGINT  NOT NULL
);
