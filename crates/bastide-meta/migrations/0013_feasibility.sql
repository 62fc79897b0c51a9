-- Feasibility counts: the columns of a dataset's person-level tables a steward opened
-- to counts by people without a permit, and each user's privacy budget per dataset
-- (epsilon spent, in millionths, so that both databases add it exactly).
CREATE TABLE feasibility_columns (
    dataset         TEXT    NOT NULL,
    table_name      TEXT    NOT NULL,
    column_name     TEXT    NOT NULL,
    declared_by     TEXT    NOT NULL,
    declared_at     BIGINT  NOT NULL,
    PRIMARY KEY (dataset, table_name, column_name)
);

CREATE TABLE privacy_budgets (
    user_name       TEXT    NOT NULL,
    dataset         TEXT    NOT NULL,
    spent_micro     BIGINT  NOT NULL,
    counts          BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (user_name, dataset)
);
