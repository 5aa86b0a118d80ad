-- one row per current document: its sampled word shingles for copy detection (flows.reconcile.trust),
-- made when the document was loaded so a reconcile need not re-read every text. hashes holds the
-- shingles' 32-bit hashes and positions their 32-bit word positions (little-endian arrays); a row made
-- with other shingle settings than the run's is ignored and the document's text shingled again
CREATE TABLE IF NOT EXISTS doc_shingles (
    doc_id         VARCHAR PRIMARY KEY,
    shingle_words  INTEGER NOT NULL,
    sample_mod     INTEGER NOT NULL,
    hashes         BLOB NOT NULL,
    positions      BLOB NOT NULL
);
