-- Queries run in project workspaces: the project's history. The text is the
-- researcher's own; answers are never kept.
CREATE TABLE queries (
    id              TEXT    PRIMARY KEY,
    project_id      TEXT    NOT NULL REFERENCES projects (id),
    user_name       TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    sql_text        TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    row_count       BIGINT,
    truncated       BIGINT  NOT NULL DEFAULT 0,
    elapsed_ms      BIGINT,
    error           TEXT,
    started_at      BIGINT  NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX queries_by_project ON queries (project_id, started_at);
