"""Warehouse: transactional batches, one current row per source file, the writer lock, read-only queries."""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import warehouse as wh
from flows.errors import ConfigError, ReadOnlyViolation, WarehouseError, WarehouseLocked
from flows.extract.run import extract_documents
from flows.settings import Settings
from tests.extract.helpers import plain_document

REPO = Path(__file__).resolve().parent.parent
SETTINGS = Settings()

WRITES = [
    "INSERT INTO runs (run_id) VALUES ('x')",
    "UPDATE documents SET title = 'x'",
    "DELETE FROM quarantine",
    "CREATE TABLE t AS SELECT 1",
    "CREATE TEMP TABLE t AS SELECT 1",
    "DROP TABLE runs",
    "ATTACH '/tmp/other.duckdb' AS other",
    "COPY (SELECT * FROM documents) TO '/tmp/out.csv'",
    "EXPORT DATABASE '/tmp/dump'",
    "PRAGMA force_checkpoint",
    "PRAGMA create_fts_index('documents', 'doc_id', 'raw_text')",
    "PRAGMA threads=1",
    "SET memory_limit = '1GB'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CHECKPOINT",
    "VACUUM",
    "SELECT 1; DROP TABLE documents",
    "SELECT count(*) FROM documents; DELETE FROM documents",
    "EXPLAIN ANALYZE DELETE FROM documents",
]
READS = [
    "SELECT count(*) FROM documents",
    "WITH d AS (SELECT * FROM documents) SELECT count(*) FROM d",
    "FROM quarantine",
    "DESCRIBE documents",
    "SHOW TABLES",
    "SUMMARIZE runs",
    "PRAGMA table_info('documents')",
    "CALL pragma_table_info('claims')",
    "EXPLAIN SELECT 1",
    "EXPLAIN ANALYZE SELECT count(*) FROM claims",
    "SELECT 1; SELECT 2",
]


def _counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def _doc(doc_id: str, text: str):
    """A plain repaired document with a content hash of its text, as ingest would give it."""
    import hashlib

    rd = plain_document(doc_id, text)
    raw = dataclasses.replace(rd.clean.doc, content_sha256=hashlib.sha256(text.encode()).hexdigest())
    clean = dataclasses.replace(rd.clean, doc=raw)
    return dataclasses.replace(rd, clean=clean)


TEXT_A = sorted((REPO / "raw").glob("000_*.txt"))[0].read_text(encoding="utf-8")
TEXT_B = TEXT_A.replace(" the ", " that ", 1) + "\nAn added closing line.\n"


def _loaded(path: Path) -> Path:
    with wh.connect(path) as con:
        wh.start_run(con, "run-1", "raw", "local")
        docs = [_doc("a.txt", TEXT_A)]
        wh.load_batch(con, "run-1", docs, extract_documents(docs, SETTINGS.extract))
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return _loaded(tmp_path / "w.duckdb")


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory) -> Path:
    """One loaded warehouse for the query tests, which must leave it as it is."""
    return _loaded(tmp_path_factory.mktemp("wh") / "w.duckdb")


@pytest.mark.parametrize("sql", WRITES)
def test_query_refuses_statements_that_write(shared_db, sql):
    before = _counts(shared_db)
    with pytest.raises(ReadOnlyViolation, match="only reads"):
        wh.read_query(shared_db, sql)
    assert _counts(shared_db) == before


@pytest.mark.parametrize("sql", READS)
def test_query_allows_reads(shared_db, sql):
    wh.read_query(shared_db, sql)


def test_bad_sql_and_missing_warehouse_are_warehouse_errors(db, tmp_path):
    with pytest.raises(WarehouseError, match="does not parse"):
        wh.read_query(db, "SELEC 1")
    with pytest.raises(WarehouseError, match="query failed"):
        wh.read_query(db, "SELECT no_such_column FROM documents")
    with pytest.raises(WarehouseError, match="does not exist"):
        wh.read_query(tmp_path / "none.duckdb", "SELECT 1")


def test_the_checkpoint_threshold_decides_when_commits_leave_the_log(db):
    """A run's loads stay in the write-ahead log up to the threshold; 0 checkpoints at every commit."""
    wal = db.with_name(db.name + ".wal")
    docs = [_doc("a.txt", TEXT_A)]
    with wh.connect(db) as con:
        con.execute("CHECKPOINT")
        wh.set_checkpoint_threshold(con, 64)
        assert con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0].startswith("61")  # MiB
        wh.load_batch(con, "run-2", docs, extract_documents(docs, SETTINGS.extract))
        assert wal.exists() and wal.stat().st_size > 0  # committed, durable, not yet in the file
        wh.set_checkpoint_threshold(con, 0)
        wh.load_batch(con, "run-3", docs, extract_documents(docs, SETTINGS.extract))
        assert not wal.exists() or wal.stat().st_size == 0
    for bad in (-1, True, 1.5):
        with wh.connect(db) as con, pytest.raises(ConfigError, match="RECON_RUN_CHECKPOINT_MB"):
            wh.set_checkpoint_threshold(con, bad)


def test_release_memory_checkpoints_evicts_and_gives_the_limit_back(db):
    """What a long load leaves in DuckDB's memory (rows not yet in the file, a key index) goes; the data stays."""
    wal = db.with_name(db.name + ".wal")
    with wh.connect(db) as con:
        wh.set_checkpoint_threshold(con, 1024)
        con.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, s VARCHAR)")
        con.execute("INSERT INTO scratch SELECT i, 'row number ' || i || repeat('.', i % 97) FROM range(1000000) r(i)")
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        held = wh.memory_mb(con)
        wh.release_memory(con, 4)
        assert held > 16 and wh.memory_mb(con) <= 4, (held, wh.memory_mb(con))
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed into the file
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == limit
        assert con.execute("SELECT count(*) FROM scratch").fetchone()[0] == 1_000_000
        con.execute("SELECT count(DISTINCT s) FROM scratch").fetchone()  # later queries get the old headroom


class _RefusingLimits:
    """A connection whose DuckDB holds more than any limit asked for (it cannot free enough)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def execute(self, sql: str, *_params):
        self.sql.append(sql.split(" =")[0])
        if sql.startswith("SET memory_limit"):
            raise duckdb.OutOfMemoryException("Failed to change memory limit: could not free up enough memory")
        return self


def test_a_memory_limit_applies_within_its_block_or_is_not_set_when_duckdb_cannot_free_enough(db):
    with wh.connect(db) as con:
        default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        with wh.memory_limited(con, 64) as limited:
            assert limited and con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "64.0 MiB"
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == default
        with pytest.raises(ConfigError, match="DUCKDB_BUDGET_MB"):
            wh.limit_memory(con, 0)
    refusing = _RefusingLimits()
    with wh.memory_limited(refusing, 64) as limited:
        assert not limited
    assert refusing.sql == ["SET memory_limit", "CHECKPOINT", "SET memory_limit", "RESET memory_limit"]


def test_reloading_a_changed_file_keeps_one_current_row_and_the_old_version(db):
    with wh.connect(db) as con:
        docs = [_doc("a.txt", TEXT_B)]
        wh.load_batch(con, "run-2", docs, extract_documents(docs, SETTINGS.extract))
        wh.load_batch(con, "run-3", docs, extract_documents(docs, SETTINGS.extract))  # a retried batch
        rows = con.execute("SELECT source_path, raw_text FROM documents").fetchall()
        versions = con.execute("SELECT raw_text FROM document_versions ORDER BY superseded_at").fetchall()
        claims = con.execute("SELECT count(*), count(DISTINCT claim_id) FROM claims").fetchone()
        stale = con.execute("SELECT count(*) FROM claims WHERE doc_id = 'a.txt' AND run_id <> 'run-3'").fetchone()
    assert rows == [("a.txt", TEXT_B)]
    assert [v for (v,) in versions] == [TEXT_A, TEXT_B]
    assert claims[0] == claims[1] > 0 and stale == (0,)


def test_a_batch_that_fails_midway_leaves_the_warehouse_as_it_was(db, monkeypatch):
    before = _counts(db)
    with wh.connect(db) as con:
        docs = [_doc("a.txt", TEXT_B), _doc("b.txt", TEXT_A)]
        extractions = extract_documents(docs, SETTINGS.extract)

        def boom(*_a, **_k):
            raise RuntimeError("disk full (simulated) after documents, claims and versions were inserted")

        monkeypatch.setattr(wh, "_upsert_entities", boom)
        with pytest.raises(RuntimeError, match="simulated"):
            wh.load_batch(con, "run-2", docs, extractions)
        text = con.execute("SELECT raw_text FROM documents WHERE doc_id = 'a.txt'").fetchone()[0]
    assert _counts(db) == before and text == TEXT_A


# ---- the writer lock --------------------------------------------------------------------------

HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from flows.warehouse import WriterLock
with WriterLock(Path({db!r}), "run-in-child", 5):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _child_holding_lock(db: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(repo=str(REPO), db=str(db))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_gets_a_message_naming_the_lock_and_the_run(tmp_path):
    db = tmp_path / "w.duckdb"
    child = _child_holding_lock(db)
    try:
        with pytest.raises(WarehouseLocked) as err, wh.WriterLock(db, "run-2", timeout_s=0.3, poll_s=0.05):
            pass
        msg = str(err.value)
        assert f"warehouse {db} is being written by run run-in-child (pid {child.pid}" in msg
        assert "RECON_RUN_LOCK_TIMEOUT_S" in msg and "\n" not in msg
    finally:
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(5)
    with wh.WriterLock(db, "run-3", timeout_s=0.3):
        pass


def test_the_lock_of_a_killed_process_does_not_block(tmp_path):
    db = tmp_path / "w.duckdb"
    child = _child_holding_lock(db)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(5)
    lock_file = Path(f"{db}.lock")
    assert "run-in-child" in lock_file.read_text(), "the dead holder's note is still there"
    with wh.WriterLock(db, "run-after-crash", timeout_s=0.5, poll_s=0.05):
        assert "run-after-crash" in lock_file.read_text()


def test_the_lock_is_reentrant_within_a_process_and_records_the_inner_run(tmp_path):
    db = tmp_path / "w.duckdb"
    lock_file = Path(f"{db}.lock")
    with wh.WriterLock(db, "(starting)", timeout_s=0.3):
        with wh.WriterLock(db, "run-inner", timeout_s=0.3):
            assert "run-inner" in lock_file.read_text()
        # still held by the outer lock after the inner one exits
        child = subprocess.run(
            [sys.executable, "-c", HOLD.format(repo=str(REPO), db=str(db)).replace('"run-in-child", 5', '"x", 0.2')],
            input="\n",
            capture_output=True,
            text=True,
        )
        assert child.returncode != 0 and "WarehouseLocked" in child.stderr
    with wh.WriterLock(db, "run-next", timeout_s=0.3):
        pass


OPEN_RW = """
import sys, duckdb
con = duckdb.connect({db!r})
print("open", flush=True)
sys.stdin.readline()
"""


def test_reading_while_another_process_writes_is_a_clear_locked_error(db):
    holder = subprocess.Popen(
        [sys.executable, "-c", OPEN_RW.format(db=str(db))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseLocked) as err:
            wh.read_query(db, "SELECT count(*) FROM documents")
        msg = str(err.value)
        assert "is being written" in msg and f"PID {holder.pid}" in msg and "try again" in msg
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(5)
    assert not wh.read_query(db, "SELECT count(*) AS n FROM documents").empty



# ---- property: any sequence of (re)loads leaves one current row per file and nothing duplicated ----



SEED_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in sorted((REPO / "raw").glob("*.txt"))}


@functools.cache
def _prepared(path: str, version: int):
    """A seed as a document, in one of two versions, with its extraction (computed once per session)."""
    text = SEED_TEXTS[path] + ("" if version == 0 else "\nA later correction was appended to this article.\n")
    docs = [_doc(path, text)]
    return docs, extract_documents(docs, SETTINGS.extract)


LOADS = st.lists(st.tuples(st.sampled_from(sorted(SEED_TEXTS)), st.integers(0, 1)), min_size=1, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(LOADS)
def test_any_sequence_of_loads_keeps_one_current_row_per_file(tmp_path_factory, loads):
    db = tmp_path_factory.mktemp("prop") / "w.duckdb"
    last: dict[str, tuple[int, str]] = {}
    superseded = 0
    with wh.connect(db) as con:
        for i, (path, version) in enumerate(loads):
            docs, extractions = _prepared(path, version)
            superseded += path in last
            wh.load_batch(con, f"run-{i}", docs, extractions)
            last[path] = (version, f"run-{i}")
        current = con.execute("SELECT source_path, raw_text, run_id FROM documents").fetchall()
        n_versions = con.execute("SELECT count(*) FROM document_versions").fetchone()[0]
        claims = con.execute("SELECT claim_id, doc_id, run_id FROM claims").fetchall()
    assert sorted(p for p, _, _ in current) == sorted(last)
    for path, text, run_id in current:
        assert text == _prepared(path, last[path][0])[0][0].clean.doc.raw_text and run_id == last[path][1]
    assert n_versions == superseded
    assert len({c for c, _, _ in claims}) == len(claims)
    assert all(run_id == last[doc][1] for _, doc, run_id in claims), "no claim of a superseded load survives"


def test_all_claims_share_repeated_values_and_keep_every_value_and_type(db):
    """A copy's claims repeat the original's values: fetched once per value, never merged across types."""
    from dataclasses import astuple

    from flows.records import Claim
    from flows.rows import field_names

    with wh.connect(db) as con:
        docs = [_doc("copy.txt", TEXT_A)]
        wh.load_batch(con, "run-2", docs, extract_documents(docs, SETTINGS.extract))
        # equal keys of three types in one row: 1, 1.0 and True
        con.execute("""UPDATE claims SET raw_start = 1, confidence = 1.0, number = 1.0, polarity = true,
                       time_anchored = true WHERE claim_id = (SELECT min(claim_id) FROM claims)""")
        claims = wh.all_claims(con)
        cols = ", ".join(f'"{c}"' for c in field_names(Claim))
        rows = con.execute(f"SELECT {cols} FROM claims ORDER BY doc_id, start, claim_id").fetchall()
    assert [astuple(c) for c in claims] == rows
    for c in claims:  # 1, 1.0 and True are equal keys: one map per column keeps them apart
        assert type(c.raw_start) is int and type(c.polarity) is bool and type(c.confidence) is float
        assert c.number is None or type(c.number) is float
        assert c.time_anchored is None or type(c.time_anchored) is bool
    by_doc = {d: [c for c in claims if c.doc_id == d] for d in ("a.txt", "copy.txt")}
    pairs = list(zip(by_doc["a.txt"], by_doc["copy.txt"], strict=True))
    assert pairs and all(a.sentence is b.sentence and a.doc_id is not b.doc_id for a, b in pairs)


def test_report_frames_keep_every_position_and_the_most_trusted_sources_of_each(db):
    """A capped report still shows each position a group holds, with its best-trusted members first."""
    from flows.records import ClaimGroup, Verdict

    with wh.connect(db) as con:
        claims = wh.all_claims(con)
        assert len(claims) >= 3
        group = ClaimGroup("g1", "value", "a group", tuple(claims))
        positions = {c.claim_id: ("first" if k % 2 else "second") for k, c in enumerate(claims)}
        verdict = Verdict("c1", "g1", "value", "conflict", "high", "s", "e", tuple(positions), positions=positions)
        trust = {"a.txt": 0.9}
        wh.replace_conflicts(con, "run-1", [group], [verdict], trust)
        _, every = wh.report_frames(con)
        _, capped = wh.report_frames(con, 1)
    assert len(every) == len(claims)
    assert capped.groupby("position").size().to_dict() == {"first": 1, "second": 1}
    ranked = every.sort_values(["trust_weight", "doc_id", "claim_id"], ascending=[False, True, True])
    for pos, rows in capped.groupby("position"):
        assert list(rows.sort_values("claim_id").claim_id) == sorted(ranked[ranked.position == pos].claim_id[:1])


def test_member_rows_inserted_a_slice_at_a_time_are_the_rows_of_one_insert(db, monkeypatch):
    """conflict_claims rows go in slices (bounded memory); a slice of one verdict, whose positions or trust
    weights are all missing, changes no row or type."""
    from flows.records import ClaimGroup, Verdict

    def members(con) -> list[tuple]:
        return con.execute("SELECT * FROM conflict_claims ORDER BY conflict_id, claim_id").fetchall()

    with wh.connect(db) as con:
        claims = wh.all_claims(con)
        assert len(claims) >= 3
        group = ClaimGroup("g1", "value", "a group", tuple(claims))
        verdicts = [Verdict(f"c{k}", "g1", "value", "conflict", "high", "s", "e", (c.claim_id,),
                            positions={c.claim_id: None if k % 2 else str(k)}) for k, c in enumerate(claims)]
        verdicts.append(Verdict("all", "g1", "value", "conflict", "high", "s", "e", tuple(c.claim_id for c in claims),
                                positions={c.claim_id: "x" for c in claims}))
        found, whole = {}, wh._MEMBER_ROWS
        for trust in ({c.doc_id: 0.5 for c in claims}, {}):
            for size in (whole, 1):
                monkeypatch.setattr(wh, "_MEMBER_ROWS", size)
                wh.replace_conflicts(con, "run-1", [group], verdicts, trust)
                found[bool(trust), size] = members(con)
    assert len(found[True, 1]) == 2 * len(claims)
    assert found[True, 1] == found[True, whole] and found[False, 1] == found[False, whole]
    assert {r[4] for r in found[True, 1]} == {0.5} and {r[4] for r in found[False, 1]} == {None}
    assert [r[3] for r in found[True, 1]] == [r[3] for r in found[False, 1]] and None in [r[3] for r in found[True, 1]]


def test_report_frames_keep_the_best_supported_positions_and_count_them_all(db):
    """A group with more positions than a card shows keeps those with the most trusted support, and says how many."""
    from flows.records import ClaimGroup, Verdict

    with wh.connect(db) as con:
        claims = wh.all_claims(con)
        assert len(claims) >= 3
        group = ClaimGroup("g1", "value", "a group", tuple(claims))
        # every claim but one takes the position "many"; the last alone has less trusted support
        positions = {c.claim_id: "many" for c in claims[:-1]} | {claims[-1].claim_id: "one"}
        verdict = Verdict("c1", "g1", "value", "conflict", "high", "s", "e", tuple(positions), positions=positions)
        wh.replace_conflicts(con, "run-1", [group], [verdict], {c.doc_id: 0.5 for c in claims})
        conflicts, every = wh.report_frames(con)
        _, best = wh.report_frames(con, 0, 1)
        _, best_one = wh.report_frames(con, 1, 1)
        _, both = wh.report_frames(con, 0, 2)
    assert conflicts.set_index("conflict_id").n_positions["c1"] == 2
    assert set(every.position) == {"many", "one"} and len(both) == len(every)
    assert list(best.position) == ["many"] * (len(claims) - 1)
    assert list(best_one.position) == ["many"]


def test_an_entity_seen_in_two_batches_keeps_its_aliases_sorted_whatever_the_order(tmp_path):
    """Aliases merged across batches come out the same however the batches were cut (list_distinct has no order)."""
    got = []
    for k, batches in enumerate([(["Jenna", "Fischer"], ["Fisher", "Jenna"]), (["Fisher", "Jenna"], ["Fischer"])]):
        with wh.connect(tmp_path / f"w{k}.duckdb") as con:
            for aliases in batches:
                wh._upsert_entities(con, [("e1", "Jenna Fischer", "PERSON", aliases)])
            got.append(con.execute("SELECT aliases FROM entities").fetchone()[0])
    assert got == [["Fischer", "Fisher", "Jenna"]] * 2


def test_edit_claim_and_entity_ids_stay_unique_without_key_indexes_across_reloads(tmp_path):
    """normalization_edits and claims (migration 004) and entities (005) have no PRIMARY KEY: their ids are unique
    by construction, and the loader replaces an entity's row with the merged one.

    The seeds, the spun one repaired, loaded twice (the second load replaces every row): each id once.
    """
    from tests.extract.helpers import repaired_folder

    docs = repaired_folder(REPO / "raw", SETTINGS)
    extractions = extract_documents(docs, SETTINGS.extract)
    with wh.connect(tmp_path / "w.duckdb") as con:
        keyed = {t for (t,) in con.execute("SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'").fetchall()}
        assert not keyed & {"claims", "normalization_edits", "entities"} and "documents" in keyed
        for run in ("run-1", "run-2"):
            wh.load_batch(con, run, docs, extractions)
        edits = con.execute("SELECT count(*), count(DISTINCT edit_id), count(DISTINCT run_id) FROM normalization_edits").fetchone()
        claims = con.execute("SELECT count(*), count(DISTINCT claim_id), count(DISTINCT run_id) FROM claims").fetchone()
        entities = con.execute("SELECT count(*), count(DISTINCT entity_id) FROM entities").fetchone()
    assert edits[0] > 50 and edits[0] == edits[1] and edits[2] == 1, edits
    assert claims[0] > 20 and claims[0] == claims[1] and claims[2] == 1, claims
    assert entities[0] > 10 and entities[0] == entities[1], entities


def test_a_failed_insert_reports_its_own_error_not_the_aborted_transaction(db):
    """After a failed statement DuckDB refuses all but a rollback; cleaning up must not mask the cause."""
    import pandas as pd

    with wh.connect(db) as con:
        before = _counts_in(con)
        with pytest.raises(duckdb.ConstraintException, match="NOT NULL"), wh.transaction(con):
            wh._insert_frame(con, "pending_reconcile", pd.DataFrame({"since_run": [None]}, dtype=object))
        assert _counts_in(con) == before
        wh._insert_frame(con, "pending_reconcile", pd.DataFrame({"since_run": ["run-2"]}))  # the connection works on
        assert _counts_in(con)["pending_reconcile"] == before["pending_reconcile"] + 1


def _counts_in(con) -> dict[str, int]:
    tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
