-- entities without its PRIMARY KEY index. Loading merged a batch's entities in with
-- INSERT ... ON CONFLICT (entity_id) DO UPDATE of the aliases list; under a tight memory limit
-- (run.duckdb_budget_mb = 128, 20,000 generated articles) DuckDB 2.0 twice failed that statement with
-- "Duplicate key ... violates primary key constraint" on a different key each time, no earlier statement
-- having failed, and the run stopped. The loader now deletes the batch's ids and inserts the merged rows
-- in the batch's transaction (flows.warehouse._upsert_entities), with no index to trip over; the single
-- writer keeps the ids unique, and tests/test_warehouse.py checks it across reloads.
CREATE TABLE entities_005 (
    entity_id   VARCHAR NOT NULL,   -- unique: one row per id, kept so by the loader
    name        VARCHAR NOT NULL,
    type        VARCHAR NOT NULL,
    aliases     VARCHAR[]
);
INSERT INTO entities_005 SELECT * FROM entities;
DROP TABLE entities;
ALTER TABLE entities_005 RENAME TO entities;
