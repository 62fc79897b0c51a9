-- Rows of row-level answers each project has been shown per day (UTC, days since the
-- Unix epoch): the budget every door shares (query.row_budget_per_day). Rows are
-- reserved before a query runs and what its answer did not use is given back.
CREATE TABLE row_budgets (
    project_id  TEXT    NOT NULL,
    day         BIGINT  NOT NULL,
    row_count   BIGINT  NOT NULL,
    PRIMARY KEY (project_id, day)
);
