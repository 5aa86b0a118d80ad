-- Views for the common questions; re-created on every connection that migrates.

-- the latest review of each conflict
CREATE OR REPLACE VIEW latest_reviews AS
SELECT * EXCLUDE (rn) FROM (
    SELECT r.*, row_number() OVER (PARTITION BY conflict_id ORDER BY reviewed_at DESC, review_id DESC) AS rn
    FROM reviews r
) WHERE rn = 1;

-- every compared group with its review status (one row per conflict_id)
CREATE OR REPLACE VIEW conflict_status AS
SELECT c.*, r.decision AS review_decision, r.value AS review_value, r.note AS review_note,
       r.reviewed_at
FROM conflicts c LEFT JOIN latest_reviews r USING (conflict_id);

-- flagged conflicts nobody has decided yet, most severe first
CREATE OR REPLACE VIEW open_conflicts AS
SELECT * FROM conflict_status
WHERE verdict = 'conflict' AND review_decision IS NULL
ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END, conflict_id;

-- reviews whose group no longer exists (kept, never deleted)
CREATE OR REPLACE VIEW orphan_reviews AS
SELECT r.* FROM reviews r LEFT JOIN conflicts c USING (conflict_id) WHERE c.conflict_id IS NULL;

-- what each source says in each group, side by side (one row per group member)
CREATE OR REPLACE VIEW conflict_evidence AS
SELECT cc.conflict_id, cc.claim_id, cc.doc_id, d.source_path, COALESCE(cl.outlet, d.outlet) AS outlet,
       cc.position, cl.sentence, cl.kind AS claim_kind, cl.subject, cl.predicate, cl.object, cl.quote_text,
       d.is_spun, cc.trust_weight, cl.time_text, cl.time_value, cl.time_start, cl.time_end, cl.granularity,
       cl.extractor, cl.confidence, cl.original_text, cl.raw_start, cl.raw_end, cl.start, cl."end"
FROM conflict_claims cc
JOIN claims cl USING (claim_id)
JOIN documents d ON d.doc_id = cc.doc_id;

-- claims per document and kind
CREATE OR REPLACE VIEW claim_counts AS
SELECT doc_id, kind, count(*) AS n_claims FROM claims GROUP BY ALL ORDER BY doc_id, kind;

-- dated claims on a timeline
CREATE OR REPLACE VIEW timeline AS
SELECT claim_id, doc_id, subject, predicate, object, time_text, time_value, time_start, time_end, granularity,
       time_anchored
FROM claims WHERE time_value IS NOT NULL ORDER BY time_start NULLS LAST, doc_id;
