-- which version of the per-document stages made a document's rows: a fingerprint of the settings, stage
-- code and rule files that decide them (flows.ops.batch.processing_fingerprint). A run processes again
-- every document whose fingerprint differs from the current one, as it does a changed file; rows loaded
-- before this column existed have none, so the first run after the upgrade re-extracts them.
ALTER TABLE documents ADD COLUMN processed_with VARCHAR;
