-- one row per claim group the latest reconcile compared, with a fingerprint of everything the group's
-- verdicts depend on: its claims, their documents' trust weights, the reconcile settings, the rule files
-- they name and the comparing code. A later reconcile that finds a group with the same fingerprint keeps
-- the group's rows in conflicts and conflict_claims (their run_id and updated_at say which run wrote them)
-- instead of comparing it again.
CREATE TABLE IF NOT EXISTS compared_groups (
    group_key  VARCHAR PRIMARY KEY,
    inputs_fp  VARCHAR NOT NULL
);

-- at most one row: claims changed (a batch loaded, a document removed) since the latest reconcile, which
-- has to run before the conflicts are current again; the run that changed them is named
CREATE TABLE IF NOT EXISTS pending_reconcile (
    since_run  VARCHAR NOT NULL
);
