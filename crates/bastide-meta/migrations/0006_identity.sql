-- People and programs, projects and their permits. Times are seconds since the Unix
-- epoch; flags are 0 or 1; lists are JSON text.

-- Accounts: local (an Argon2id PHC string) or OpenID Connect (the provider's subject).
CREATE TABLE users (
    id              TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    roles           TEXT    NOT NULL,
    password_hash   TEXT,
    oidc_subject    TEXT    UNIQUE,
    totp_required   BIGINT  NOT NULL DEFAULT 0,
    failed_logins   BIGINT  NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    disabled_at     BIGINT,
    created_at      BIGINT  NOT NULL
);

-- Tokens for programs: only the SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
    id              TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id),
    project_id      TEXT,
    name            TEXT    NOT NULL,
    secret_sha256   TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    revoked_at      BIGINT,
    last_used_at    BIGINT
);

-- Applications for access and their lifecycle.
CREATE TABLE projects (
    id              TEXT    PRIMARY KEY,
    title           TEXT    NOT NULL,
    purpose         TEXT    NOT NULL,
    legal_basis     TEXT    NOT NULL,
    organisation    TEXT    NOT NULL,
    request_json    TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    created_by      TEXT    NOT NULL REFERENCES users (id),
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE TABLE project_members (
    project_id      TEXT    NOT NULL REFERENCES projects (id),
    user_id         TEXT    NOT NULL REFERENCES users (id),
    added_at        BIGINT  NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

-- Who moved a project from which state to which, when, and why.
CREATE TABLE project_events (
    project_id      TEXT    NOT NULL REFERENCES projects (id),
    seq             BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,
    from_state      TEXT,
    to_state        TEXT    NOT NULL,
    note            TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    PRIMARY KEY (project_id, seq)
);

-- Data permits, versioned: a new grant is a new version; revoking marks one.
CREATE TABLE permits (
    project_id      TEXT    NOT NULL REFERENCES projects (id),
    version         BIGINT  NOT NULL,
    dataset         TEXT    NOT NULL,
    scope_json      TEXT    NOT NULL,
    mode            TEXT    NOT NULL,
    starts_at       BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    granted_by      TEXT    NOT NULL,
    granted_at      BIGINT  NOT NULL,
    revoked_by      TEXT,
    revoked_at      BIGINT,
    PRIMARY KEY (project_id, version)
);

-- Objections, by hub pseudonym only.
CREATE TABLE opt_outs (
    pseudonym       TEXT    PRIMARY KEY,
    recorded_by     TEXT    NOT NULL,
    recorded_at     BIGINT  NOT NULL
);
