-- Reference tables (nomenclatures) of a dataset, as opposed to its data tables: batches
-- are checked against their codes, and they hold no one's data.
ALTER TABLE dataset_tables ADD COLUMN is_reference BIGINT NOT NULL DEFAULT 0;
