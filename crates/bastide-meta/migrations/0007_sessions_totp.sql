-- Web sessions (only hashes of their secrets and CSRF tokens) and second factors
-- (TOTP secrets sealed under a data key of the key provider).
ALTER TABLE users ADD COLUMN totp_sealed TEXT;
ALTER TABLE users ADD COLUMN totp_confirmed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

CREATE TABLE sessions (
    id_sha256       TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id),
    csrf_sha256     TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
