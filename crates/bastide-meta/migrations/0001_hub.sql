-- The identity of this installation: exactly one row, written by `bastide init`.
CREATE TABLE hub (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    hub_id      TEXT    NOT NULL,
    keyring_id  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
