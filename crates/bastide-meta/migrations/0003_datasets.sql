-- Datasets and their committed versions. A version is visible once its row exists:
-- the row is written last, after the data files and the manifest it points to.
CREATE TABLE datasets (
    name        TEXT    PRIMARY KEY,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE dataset_versions (
    dataset         TEXT    NOT NULL REFERENCES datasets (name),
    version         BIGINT  NOT NULL,
    manifest_path   TEXT    NOT NULL,
    manifest_sha256 TEXT    NOT NULL,
    content_hash    TEXT    NOT NULL,
    rows_added      BIGINT  NOT NULL,
    committed_at    BIGINT  NOT NULL,
    PRIMARY KEY (dataset, version)
);
CREATE INDEX dataset_versions_content ON dataset_versions (dataset, content_hash);
