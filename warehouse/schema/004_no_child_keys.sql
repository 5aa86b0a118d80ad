-- normalization_edits and claims without their PRIMARY KEY indexes. Their ids are unique by construction
-- (a hash of the document and the span, each document's rows deduplicated when built and replaced whole),
-- and no query looks a row up by id. The indexes cost the single writer about a sixth of its loading CPU
-- over 200 batches, about 19,000 articles (30.8 against 25.9 s, mean of three): every insert probes them,
-- every checkpoint writes them out, and the index over a 20,000-article warehouse's 2 million edits held
-- 88 MB of DuckDB's memory.
-- tests/warehouse checks the uniqueness the indexes used to enforce.
CREATE TABLE normalization_edits_004 (
    edit_id      VARCHAR NOT NULL,   -- unique by construction (flows.rows.edit_id)
    doc_id       VARCHAR NOT NULL,
    clean_start  INTEGER NOT NULL,
    clean_end    INTEGER NOT NULL,
    original     VARCHAR NOT NULL,
    replacement  VARCHAR NOT NULL,
    rule         VARCHAR NOT NULL,
    evidence     VARCHAR,
    confidence   DOUBLE,
    applied      BOOLEAN NOT NULL,
    run_id       VARCHAR NOT NULL
);
INSERT INTO normalization_edits_004 SELECT * FROM normalization_edits;
DROP TABLE normalization_edits;
ALTER TABLE normalization_edits_004 RENAME TO normalization_edits;

CREATE TABLE claims_004 (
    claim_id          VARCHAR NOT NULL,  -- unique by construction (flows.extract.context.claim_id)
    doc_id            VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,        -- quote | event | fact
    subject           VARCHAR,
    subject_entity_id VARCHAR,
    predicate         VARCHAR NOT NULL,
    object            VARCHAR,
    object_entity_id  VARCHAR,
    quote_text        VARCHAR,
    venue             VARCHAR,
    outlet            VARCHAR,
    place             VARCHAR,
    time_text         VARCHAR,
    time_value        VARCHAR,
    time_start        DATE,
    time_end          DATE,
    granularity       VARCHAR,
    time_anchored     BOOLEAN,
    modality          VARCHAR NOT NULL,        -- asserted | reported | denied | hedged
    polarity          BOOLEAN NOT NULL,
    number            DOUBLE,
    sentence          VARCHAR NOT NULL,
    start             INTEGER NOT NULL,        -- span in documents.normalized_text
    "end"             INTEGER NOT NULL,
    raw_start         INTEGER NOT NULL,        -- the same span in documents.raw_text
    raw_end           INTEGER NOT NULL,
    extractor         VARCHAR NOT NULL,
    confidence        DOUBLE NOT NULL,
    original_text     VARCHAR,                 -- for repaired (spun) documents: the garbled clean_text of the sentence
    run_id            VARCHAR NOT NULL
);
INSERT INTO claims_004 SELECT * FROM claims;
DROP TABLE claims;
ALTER TABLE claims_004 RENAME TO claims;
