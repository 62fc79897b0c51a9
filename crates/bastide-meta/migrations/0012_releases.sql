-- The release airlock: requests to take results out of a project's workspace, the
-- files they hold (sealed under a data key of the project, so shredding the project's
-- keys destroys them), reviewers' approvals and the request's history.
CREATE TABLE releases (
    id              TEXT    PRIMARY KEY,
    project_id      TEXT    NOT NULL REFERENCES projects (id),
    title           TEXT    NOT NULL,
    justification   TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    requested_by    TEXT    NOT NULL,
    round           BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    released_at     BIGINT
);
CREATE INDEX releases_by_project ON releases (project_id, created_at);

-- A file of a request: a saved answer (its SQL kept) or a file sent by the requester.
CREATE TABLE release_files (
    release_id      TEXT    NOT NULL REFERENCES releases (id),
    name            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    sql_text        TEXT,
    bytes           BIGINT  NOT NULL,
    sha256          TEXT    NOT NULL,
    report_json     TEXT    NOT NULL,
    sealed          TEXT    NOT NULL,
    added_by        TEXT    NOT NULL,
    added_at        BIGINT  NOT NULL,
    PRIMARY KEY (release_id, name)
);

-- One approval per reviewer and round (a round is one submission): the key refuses a
-- second approval by the same person, even sent twice at once.
CREATE TABLE release_approvals (
    release_id      TEXT    NOT NULL REFERENCES releases (id),
    round           BIGINT  NOT NULL,
    reviewer        TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    PRIMARY KEY (release_id, round, reviewer)
);

-- Who did what to a request, when and why: steps between states, reviews, comments
-- (on the request or on one of its files), files added and removed.
CREATE TABLE release_events (
    release_id      TEXT    NOT NULL REFERENCES releases (id),
    seq             BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    file_name       TEXT,
    from_state      TEXT,
    to_state        TEXT,
    note            TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    PRIMARY KEY (release_id, seq)
);
