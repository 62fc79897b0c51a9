-- What each project's aggregate-only answers published, sketched (no pseudonym in
-- it: counts and sums of 61-bit keys of persons), so that a later answer a few persons
-- away from an earlier one is withheld even after the hub restarts.
CREATE TABLE published_groups (
    project_id      TEXT    NOT NULL,
    seq             BIGINT  NOT NULL,
    persons         BIGINT,
    sketch          TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    PRIMARY KEY (project_id, seq)
);
