-- The tables of a dataset: each one's Table Schema (as given, with identifier columns
-- marked), so that every batch is validated against it.
CREATE TABLE dataset_tables (
    dataset     TEXT    NOT NULL REFERENCES datasets (name),
    name        TEXT    NOT NULL,
    schema_json TEXT    NOT NULL,
    identifiers TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (dataset, name)
);
