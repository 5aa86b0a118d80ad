-- 001_init: the warehouse contract. Each table states its grain.

-- one row per pipeline run
CREATE TABLE IF NOT EXISTS runs (
    run_id          VARCHAR PRIMARY KEY,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    status          VARCHAR NOT NULL,          -- running | succeeded | failed
    raw_dir         VARCHAR,
    runner          VARCHAR,                   -- local | dask
    n_seen          INTEGER DEFAULT 0,         -- files found under raw/
    n_processed     INTEGER DEFAULT 0,         -- new or changed documents loaded
    n_skipped       INTEGER DEFAULT 0,         -- unchanged documents
    n_quarantined   INTEGER DEFAULT 0,
    n_removed       INTEGER DEFAULT 0,         -- documents whose source file disappeared
    n_claims        INTEGER DEFAULT 0,         -- claims in the warehouse after the run
    n_conflicts     INTEGER DEFAULT 0,         -- groups with verdict 'conflict' after the run
    stage_seconds   VARCHAR,                   -- JSON object: stage -> seconds
    message         VARCHAR
);

-- one row per current source file
CREATE TABLE IF NOT EXISTS documents (
    doc_id              VARCHAR PRIMARY KEY,   -- the path relative to raw/
    source_path         VARCHAR NOT NULL,
    content_sha256      VARCHAR NOT NULL,
    size_bytes          BIGINT,
    media_type          VARCHAR,               -- text | html
    encoding            VARCHAR,
    title               VARCHAR,
    url                 VARCHAR,
    outlet              VARCHAR,
    author              VARCHAR,
    raw_text            VARCHAR NOT NULL,
    clean_text          VARCHAR NOT NULL,
    normalized_text     VARCHAR NOT NULL,
    spin_score          DOUBLE,
    is_spun             BOOLEAN,
    published_at        DATE,
    published_at_basis  VARCHAR,               -- metadata | text:<rule> | bounded:<reason> | unknown
    published_not_before DATE,
    run_id              VARCHAR NOT NULL,
    loaded_at           TIMESTAMP NOT NULL
);

-- one row per superseded version of a source file (changed or removed)
CREATE TABLE IF NOT EXISTS document_versions (
    doc_id              VARCHAR NOT NULL,
    content_sha256      VARCHAR NOT NULL,
    source_path         VARCHAR NOT NULL,
    raw_text            VARCHAR,
    normalized_text     VARCHAR,
    run_id              VARCHAR,               -- the run that loaded this version
    loaded_at           TIMESTAMP,
    superseded_at       TIMESTAMP NOT NULL,
    superseded_by_run   VARCHAR NOT NULL,
    reason              VARCHAR NOT NULL       -- changed | removed | quarantined (the file turned bad)
);

-- one row per piece of boilerplate removed from a current document
CREATE TABLE IF NOT EXISTS boilerplate (
    doc_id      VARCHAR NOT NULL,
    raw_start   INTEGER NOT NULL,
    raw_end     INTEGER NOT NULL,
    text        VARCHAR NOT NULL,
    rule_id     VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL,
    run_id      VARCHAR NOT NULL
);

-- one row per repair made (applied) or suggested (not applied) in a current document
CREATE TABLE IF NOT EXISTS normalization_edits (
    edit_id      VARCHAR PRIMARY KEY,
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

-- one row per sentence of a current document, with its spin score and the signals that fired
CREATE TABLE IF NOT EXISTS spin_sentences (
    doc_id      VARCHAR NOT NULL,
    clean_start INTEGER NOT NULL,
    clean_end   INTEGER NOT NULL,
    score       DOUBLE NOT NULL,
    signals     VARCHAR[]
);

-- one row per temporal expression in a current document's normalized_text
CREATE TABLE IF NOT EXISTS timexes (
    doc_id      VARCHAR NOT NULL,
    start       INTEGER NOT NULL,
    "end"       INTEGER NOT NULL,
    text        VARCHAR NOT NULL,
    type        VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    granularity VARCHAR,
    time_start  DATE,
    time_end    DATE,
    anchored    BOOLEAN,
    rule        VARCHAR,
    mod         VARCHAR
);

-- one row per entity (person, organisation, place, work, outlet) seen in any current document
CREATE TABLE IF NOT EXISTS entities (
    entity_id   VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    type        VARCHAR NOT NULL,
    aliases     VARCHAR[]
);

-- one row per mention of an entity in a current document's normalized_text
CREATE TABLE IF NOT EXISTS mentions (
    doc_id      VARCHAR NOT NULL,
    entity_id   VARCHAR NOT NULL,
    start       INTEGER NOT NULL,
    "end"       INTEGER NOT NULL,
    text        VARCHAR NOT NULL
);

-- one row per claim a current document makes
CREATE TABLE IF NOT EXISTS claims (
    claim_id          VARCHAR PRIMARY KEY,
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

-- one row per pair of current documents sharing long passages (copies)
CREATE TABLE IF NOT EXISTS copies (
    doc_a        VARCHAR NOT NULL,
    doc_b        VARCHAR NOT NULL,
    shared_ratio DOUBLE NOT NULL,
    evidence     VARCHAR,
    run_id       VARCHAR NOT NULL
);

-- one row per compared claim group, whatever its verdict; conflict_id is stable across runs
CREATE TABLE IF NOT EXISTS conflicts (
    conflict_id  VARCHAR PRIMARY KEY,
    group_key    VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    verdict      VARCHAR NOT NULL CHECK (verdict IN ('agree', 'compatible', 'conflict')),
    severity     VARCHAR NOT NULL,
    label        VARCHAR,
    rule         VARCHAR,
    summary      VARCHAR NOT NULL,
    explanation  VARCHAR,
    likely_value VARCHAR,
    confidence   DOUBLE,
    n_docs       INTEGER NOT NULL,
    n_claims     INTEGER NOT NULL,
    run_id       VARCHAR NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

-- one row per (group, claim) membership, with the value that claim states
CREATE TABLE IF NOT EXISTS conflict_claims (
    conflict_id  VARCHAR NOT NULL,
    claim_id     VARCHAR NOT NULL,
    doc_id       VARCHAR NOT NULL,
    position     VARCHAR,
    trust_weight DOUBLE
);

-- one row per review decision a person recorded; never touched by runs
CREATE TABLE IF NOT EXISTS reviews (
    review_id    VARCHAR PRIMARY KEY,
    conflict_id  VARCHAR NOT NULL,
    decision     VARCHAR NOT NULL CHECK (decision IN ('accept', 'reject', 'resolve')),
    value        VARCHAR,
    note         VARCHAR,
    reviewer     VARCHAR,
    reviewed_at  TIMESTAMP NOT NULL
);

-- one row per input currently refused, with the reason
CREATE TABLE IF NOT EXISTS quarantine (
    source_path    VARCHAR PRIMARY KEY,
    reason         VARCHAR NOT NULL,
    detail         VARCHAR NOT NULL,
    content_sha256 VARCHAR,
    size_bytes     BIGINT,
    run_id         VARCHAR NOT NULL,
    quarantined_at TIMESTAMP NOT NULL
);
