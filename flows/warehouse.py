"""The DuckDB warehouse: the only module that opens DuckDB.

Schema comes from versioned SQL files under ``warehouse/schema`` applied in order and
recorded in ``schema_migrations``; ``views.sql`` is re-applied on every migrating connection.
Writers take an advisory lock file beside the database (DuckDB allows one writing process),
and every batch loads inside one transaction, so a killed run leaves the previous state.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd

from flows.errors import ConfigError, InputError, ReadOnlyViolation, WarehouseError, WarehouseLocked
from flows.records import (
    Claim,
    ClaimGroup,
    Extraction,
    Quarantined,
    RepairedDocument,
    Verdict,
)
from flows.rows import ENTITY_COLUMNS, BatchRows, batch_rows, field_names
from flows.settings import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "warehouse" / "schema"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "warehouse" / "recon.duckdb"
READ_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL"}
# PRAGMA/CALL are mostly settings or maintenance; only these catalog look-ups count as reads
READ_PRAGMAS = {
    "table_info", "show_tables", "show_tables_expanded", "show", "database_size", "database_list",
    "storage_info", "metadata_info", "version", "platform", "user_agent", "functions", "collations",
}  # fmt: skip
_LEADING_WORD = re.compile(r"^\s*(?:PRAGMA|CALL)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_EXPLAIN_ANALYZE = re.compile(r"^\s*EXPLAIN\s+ANALY[SZ]E\s+(.*)$", re.IGNORECASE | re.DOTALL)

T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _locked_message(path: Path, fallback: str = "") -> str:
    holder = ""
    with contextlib.suppress(OSError, ValueError):
        info = json.loads(Path(f"{path}.lock").read_text() or "{}")
        if info.get("run_id"):
            holder = f" by run {info.get('run_id')} (pid {info.get('pid')}, since {info.get('since')})"
    if not holder and fallback:
        holder = f" by another process ({fallback})"
    return f"warehouse {path} is being written{holder}"


def _duckdb_holder(msg: str) -> str:
    """The 'held in PROGRAM (PID n)' part of DuckDB's lock error, for holders that are not recon runs."""
    m = re.search(r"Conflicting lock is held in (.*?\(PID \d+\))", msg)
    return m.group(1) if m else ""


class WriterLock:
    """Advisory exclusive lock on ``<warehouse>.lock``; waits up to ``timeout_s``, then raises.

    The lock is an ``fcntl.flock`` on an open file: the kernel drops it when the holding process
    dies (even by kill -9), so a lock file left behind never blocks the next run; its content
    (run id, pid, start time) only names the holder in messages. Re-entrant within a process:
    the CLI takes the lock before Prefect starts (a locked warehouse fails fast, with no flow
    traceback) and the flow's own lock on the same file is then a nested no-op that records the
    flow's run id.
    """

    _held: dict[Path, WriterLock] = {}  # lock file -> the outermost holder in this process

    def __init__(self, path: Path, run_id: str, timeout_s: float, poll_s: float = 0.2) -> None:
        self.path = Path(path)
        self.lock_path = Path(f"{path}.lock")
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._fh = None
        self._outer: WriterLock | None = None

    def _record(self, fh, run_id: str) -> None:
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"run_id": run_id, "pid": os.getpid(), "since": now().isoformat(timespec="seconds")}))
        fh.flush()

    def __enter__(self) -> WriterLock:
        make_parent(self.path)
        key = self.lock_path.resolve()
        outer = WriterLock._held.get(key)
        if outer is not None:
            self._outer = outer
            self._record(outer._fh, self.run_id)
            return self
        fh = open(self.lock_path, "a+")  # noqa: SIM115 - held for the lock's lifetime
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.close()
                    raise WarehouseLocked(
                        f"{_locked_message(self.path)}; waited {self.timeout_s:g} s. Try again when it finishes "
                        "(or raise RECON_RUN_LOCK_TIMEOUT_S to wait longer)"
                    ) from None
                time.sleep(self.poll_s)
        self._record(fh, self.run_id)
        self._fh = fh
        WriterLock._held[key] = self
        return self

    def __exit__(self, *exc: object) -> None:
        if self._outer is not None:
            self._outer = None
            return
        WriterLock._held.pop(self.lock_path.resolve(), None)
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.truncate(0)
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def make_parent(path: Path) -> None:
    """Create the warehouse's folder; a file in the way (or no permission) is a one-line WarehouseError."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # FileExistsError / NotADirectoryError: a file where a folder must be
        raise WarehouseError(
            f"warehouse {path} cannot be made: its folder {Path(path).parent} cannot be created ({exc.strerror}); "
            "pass --warehouse FILE"
        ) from exc


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        msg = str(exc)
        if "lock" in msg.lower():
            # DuckDB lets no other process open the file, not even to read, while one writes it
            raise WarehouseLocked(
                f"{_locked_message(path, _duckdb_holder(msg))}; DuckDB allows no reader beside a writing "
                "process: try again when it finishes"
            ) from exc
        advice = (
            "; it is not a warehouse this program wrote: pass the right --warehouse FILE, or move it aside and "
            "`recon run` builds a new one"
            if "not a valid DuckDB database" in msg
            else ""
        )
        raise WarehouseError(f"warehouse {path} cannot be opened: {msg.splitlines()[0]}{advice}") from exc
    except duckdb.Error as exc:
        raise WarehouseError(
            f"warehouse {path} cannot be opened ({str(exc).splitlines()[0]}); if it is damaged, move it aside and re-run"
        ) from exc


def set_checkpoint_threshold(con: duckdb.DuckDBPyConnection, mb: int) -> None:
    """Let the write-ahead log grow to ``mb`` MB before DuckDB checkpoints it into the file (0: at every commit).

    Each checkpoint rewrites the last, partly filled row group of every table it touches, so frequent
    ones made a loader's cost per batch grow with the tables. Commits stay durable either way (the log
    is on disk); a larger log only takes longer to replay after a crash.
    """
    if isinstance(mb, bool) or not isinstance(mb, int) or mb < 0:
        raise ConfigError(f"RECON_RUN_CHECKPOINT_MB must be a whole number of MB, 0 or more, not {mb!r}")
    con.execute(f"SET checkpoint_threshold = '{mb}MB'")  # an int we checked: SET takes no parameters


def memory_mb(con: duckdb.DuckDBPyConnection) -> float:
    """MB DuckDB holds in this process (its buffer manager's count: cached blocks, indexes, rows in memory)."""
    return con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] / 2**20


def limit_memory(con: duckdb.DuckDBPyConnection, mb: int) -> bool:
    """Hold DuckDB to ``mb`` MB while a run loads: it evicts cached blocks, or spills, instead of growing.

    Without a limit DuckDB keeps what it caches until 80% of RAM presses, and a checkpoint's buffers came
    on top: the writer peaked near 1.1 GB at 20,000 articles. False when DuckDB holds more than ``mb``
    that it cannot give back even after a checkpoint; the limit is then not set.
    """
    if isinstance(mb, bool) or not isinstance(mb, int) or mb < 1:
        raise ConfigError(f"RECON_RUN_DUCKDB_BUDGET_MB must be a whole number of MB, 1 or more, not {mb!r}")
    for attempt in range(2):
        try:
            con.execute("SET memory_limit = ?", [f"{mb}MiB"])
            return True
        except duckdb.OutOfMemoryException:
            if attempt == 0:
                con.execute("CHECKPOINT")  # rows not yet checkpointed cannot be evicted
    return False


def lift_memory_limit(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's default memory limit (80% of RAM) again."""
    con.execute("RESET memory_limit")


@contextlib.contextmanager
def memory_limited(con: duckdb.DuckDBPyConnection, mb: int) -> Iterator[bool]:
    """``limit_memory`` for the block (whether it could be set), DuckDB's default limit after it.

    A block that fails may leave the transaction aborted, which refuses the reset too: its own error is
    the one that propagates (the run is failing then, and its connection closes).
    """
    ok = False
    try:
        yield limit_memory(con, mb)
        ok = True
    finally:
        with contextlib.nullcontext() if ok else contextlib.suppress(duckdb.Error):
            lift_memory_limit(con)


def release_memory(con: duckdb.DuckDBPyConnection, keep_mb: int) -> None:
    """Checkpoint, shrink DuckDB's memory to about ``keep_mb`` MB, then reset its limit to the default.

    After a long load DuckDB holds the rows not yet checkpointed, the primary-key indexes and the
    blocks the loads read (513 MB at 20,000 articles) and keeps them until its memory limit (80% of
    RAM) presses; reconcile, which then holds every claim, needs none of them. The checkpoint makes
    them evictable, a low limit evicts them and hands the memory back, and the default limit leaves
    later queries their headroom (the pipeline sets no other; DuckDB prints a limit rounded, so reading
    it back would not restore it exactly). Best effort: what DuckDB cannot free, it keeps.
    """
    con.execute("CHECKPOINT")
    try:
        con.execute("SET memory_limit = ?", [f"{keep_mb}MiB"])
    except duckdb.OutOfMemoryException:
        pass  # more is pinned than keep_mb: DuckDB evicted what it could and refused the limit
    finally:
        lift_memory_limit(con)


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply versioned schema files not yet recorded, then re-create the views."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
    )
    done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for sql_file in sorted(SCHEMA_DIR.glob("[0-9][0-9][0-9]_*.sql")):
        version = sql_file.name[:3]
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql_file.read_text())
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, sql_file.name, now()])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise WarehouseError(f"schema migration {sql_file.name} failed: {exc}") from exc
        applied.append(sql_file.name)
    con.execute((SCHEMA_DIR / "views.sql").read_text())
    return applied


@contextlib.contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a writing connection creates and migrates it first."""
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist: run `recon run` first (or pass --warehouse FILE)")
    if not read_only:
        make_parent(path)
    con = _open(path, read_only)
    try:
        if not read_only:
            migrate(con)
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One all-or-nothing unit of loading."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Mapping[str, object]], columns: list[str]) -> None:
    if rows:
        _insert_frame(con, table, pd.DataFrame.from_records(list(rows), columns=columns))


@contextlib.contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, typed_from_all_rows: bool = False,
                ) -> Iterator[None]:
    """``frame`` visible to SQL as ``name`` within the block.

    ``typed_from_all_rows``: DuckDB infers an object column's type from a sample of rows, and a list
    column whose sampled rows are all empty becomes NULL[], failing on its first real list; this makes it
    look at every row (a connection-wide setting, reset after the block).
    After a statement fails (out of memory, a constraint) DuckDB has aborted the transaction and refuses
    everything but a rollback, unregistering included: the error that aborted it is the one to propagate,
    and the caller's rollback ends the transaction.
    """
    if typed_from_all_rows:
        con.execute("SET pandas_analyze_sample = ?", [max(len(frame), 1)])
    con.register(name, frame)
    ok = False
    try:
        yield
        ok = True
    finally:
        with contextlib.nullcontext() if ok else contextlib.suppress(duckdb.Error):
            con.unregister(name)
            if typed_from_all_rows:
                con.execute("RESET pandas_analyze_sample")


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    with _registered(con, "_batch", frame, typed_from_all_rows=True):
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _batch")  # names are ours, not user input


def _insert_columns(con: duckdb.DuckDBPyConnection, table: str, columns: Mapping[str, object]) -> None:
    """Insert a batch given column by column (lists, or one value for every row)."""
    _insert_frame(con, table, pd.DataFrame(columns))


# ---- reads used by the pipeline -------------------------------------------------------------


def known_documents(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """source_path -> content_sha256 of every current document."""
    return dict(con.execute("SELECT source_path, content_sha256 FROM documents").fetchall())


def stale_documents(con: duckdb.DuckDBPyConnection, fingerprint: str) -> set[str]:
    """source_path of every current document whose rows another version of the stages made (or none recorded)."""
    rows = con.execute("SELECT source_path FROM documents WHERE processed_with IS DISTINCT FROM ?", [fingerprint])
    return {p for (p,) in rows.fetchall()}


def known_quarantine(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """source_path -> content hash of every quarantined input."""
    return dict(con.execute("SELECT source_path, content_sha256 FROM quarantine").fetchall())


_REFERENCES = "SELECT doc_id, normalized_text FROM documents WHERE NOT coalesce(is_spun, false)"


def reference_texts(con: duckdb.DuckDBPyConnection, exclude: Iterable[str] = ()) -> dict[str, str]:
    """doc_id -> normalized_text of current documents that are not spun (despin references)."""
    skip = set(exclude)
    return {d: t for d, t in con.execute(_REFERENCES).fetchall() if d not in skip}


def stream_reference_texts(con: duckdb.DuckDBPyConnection, exclude: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
    """(doc_id, normalized_text) of reference_texts() a few thousand rows at a time, on a cursor of its own."""
    skip = set(exclude)
    return ((d, t) for d, t in _stream(con, _REFERENCES) if d not in skip)


_UNIQUE_CLAIM_COLUMNS = frozenset({"claim_id"})  # every other column's values repeat across claims
_FETCH_ROWS = 10_000
_FETCH_TEXTS = 2_000


def all_claims(con: duckdb.DuckDBPyConnection) -> list[Claim]:
    """Every claim of the current documents as records."""
    names = field_names(Claim)  # selected in the record's field order: rows go in positionally
    cols = ", ".join(f'"{c}"' for c in names)
    # sorted here, not by ORDER BY: DuckDB's sort of every column (sentences, quotes) kept about 220 MB
    # more resident at 331k claims, for 1 s less CPU (VARCHAR sorts by bytes, str by code point: the same
    # order for UTF-8)
    cur = con.execute(f"SELECT {cols} FROM claims")
    # values that repeat across claims (kinds, predicates, document and entity ids, the sentence several
    # claims come from, wire copy's sentences and quotes across outlets, offsets, dates, confidences) are
    # shared: reconcile holds every claim at once, and each fetched row brings fresh copies of them
    # one map per column: across columns equal values of different types (1, 1.0, True) would be merged
    shared = [(k, {}.setdefault) for k, c in enumerate(names) if c not in _UNIQUE_CLAIM_COLUMNS]
    out = []
    while rows := cur.fetchmany(_FETCH_ROWS):
        for row in rows:
            values = list(row)
            for k, one in shared:
                v = values[k]
                values[k] = one(v, v)
            out.append(Claim(*values))
    del shared
    out.sort(key=_claim_order)
    return out


def _claim_order(c: Claim) -> tuple[str, int, str]:
    return c.doc_id, c.start, c.claim_id


def spin_scores(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """doc_id -> spin score of every current document (0 when unscored)."""
    return dict(con.execute("SELECT doc_id, coalesce(spin_score, 0) FROM documents").fetchall())


def _stream(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> Iterator[tuple]:
    """The rows of a query a few thousand at a time, on a cursor of its own (other statements may run on ``con``)."""
    cur = con.cursor()
    try:
        cur.execute(sql, list(params))
        while rows := cur.fetchmany(_FETCH_TEXTS):
            yield from rows
    finally:
        cur.close()


def stream_texts(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, str]]:
    """(doc_id, normalized_text) of every current document, in no particular order, a few thousand rows at a time.

    On its own cursor, so other statements may run on ``con`` while it is read. Fetching every text at
    once (20,000 articles) held about 320 MB in the flow process through copy detection.
    """
    yield from _stream(con, "SELECT doc_id, normalized_text FROM documents")


# a stored row that can be read: these settings, and two arrays of 4-byte values of one length
_USABLE_SHINGLES = """SELECT doc_id FROM doc_shingles WHERE shingle_words = ? AND sample_mod = ?
    AND octet_length(hashes) = octet_length(positions) AND octet_length(hashes) % 4 = 0"""


def stream_shingles(
    con: duckdb.DuckDBPyConnection, shingle_words: int, sample_mod: int
) -> Iterator[tuple[str, bytes, bytes]]:
    """(doc_id, hashes, positions) as stored at load for every current document shingled with these settings."""
    yield from _stream(
        con,
        f"""SELECT doc_id, hashes, positions FROM doc_shingles
            WHERE doc_id IN ({_USABLE_SHINGLES}) AND doc_id IN (SELECT doc_id FROM documents)""",
        [shingle_words, sample_mod],
    )  # the SQL is ours; values go as parameters


def stream_unshingled_texts(
    con: duckdb.DuckDBPyConnection, shingle_words: int, sample_mod: int
) -> Iterator[tuple[str, str]]:
    """(doc_id, normalized_text) of current documents without usable stored shingles of these settings.

    The ids first, then the texts of those only: asked for in one query, DuckDB read every text into
    its cache (about 130 MB at 20,000 articles) to return none when every document has its shingles.
    """
    sql = f"SELECT doc_id FROM documents WHERE doc_id NOT IN ({_USABLE_SHINGLES}) ORDER BY doc_id"
    ids = [d for (d,) in con.execute(sql, [shingle_words, sample_mod]).fetchall()]  # the SQL is ours
    if ids:
        yield from _stream(con, "SELECT doc_id, normalized_text FROM documents WHERE doc_id IN (SELECT unnest(?::VARCHAR[]))",
                           [ids])


def store_shingles(
    con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, bytes, bytes]], shingle_words: int, sample_mod: int
) -> None:
    """Keep (doc_id, hashes, positions) of documents shingled after loading, replacing any with other settings."""
    frame = pd.DataFrame(rows, columns=["doc_id", "hashes", "positions"]).assign(
        shingle_words=shingle_words, sample_mod=sample_mod
    )
    with transaction(con):
        with _registered(con, "_made", frame):
            con.execute("DELETE FROM doc_shingles WHERE doc_id IN (SELECT doc_id FROM _made)")
        _insert_frame(con, "doc_shingles", frame)


def texts_of(con: duckdb.DuckDBPyConnection, doc_ids: Sequence[str]) -> dict[str, str]:
    """doc_id -> normalized_text of the given current documents."""
    rows = con.execute(
        "SELECT doc_id, normalized_text FROM documents WHERE doc_id IN (SELECT unnest(?::VARCHAR[]))", [list(doc_ids)]
    ).fetchall()
    return dict(rows)


# ---- writes ---------------------------------------------------------------------------------


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, raw_dir: str, runner: str) -> None:
    """Record a run as started."""
    con.execute(
        "INSERT INTO runs (run_id, started_at, status, raw_dir, runner) VALUES (?, ?, 'running', ?, ?)",
        [run_id, now(), raw_dir, runner],
    )


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, counts: Mapping[str, object]) -> None:
    """Record a run's outcome and its counts."""
    con.execute(
        """UPDATE runs SET finished_at = ?, status = ?, n_seen = ?, n_processed = ?, n_skipped = ?,
           n_quarantined = ?, n_removed = ?, n_claims = (SELECT count(*) FROM claims),
           n_conflicts = (SELECT count(*) FROM conflicts WHERE verdict = 'conflict'), stage_seconds = ?, message = ?
           WHERE run_id = ?""",
        [
            now(),
            status,
            counts.get("seen", 0),
            counts.get("processed", 0),
            counts.get("skipped", 0),
            counts.get("quarantined", 0),
            counts.get("removed", 0),
            json.dumps(counts.get("stage_seconds", {})),
            counts.get("message"),
            run_id,
        ],
    )


_DEPENDENTS = ("boilerplate", "normalization_edits", "spin_sentences", "timexes", "mentions", "claims", "doc_shingles")


def _supersede(con: duckdb.DuckDBPyConnection, doc_ids: Sequence[str], run_id: str, reason: str) -> None:
    if not doc_ids:
        return
    with _registered(con, "_ids", pd.DataFrame({"doc_id": list(doc_ids)})):
        con.execute(
            """INSERT INTO document_versions
               SELECT doc_id, content_sha256, source_path, raw_text, normalized_text, run_id, loaded_at, ?, ?, ?
               FROM documents WHERE doc_id IN (SELECT doc_id FROM _ids)""",
            [now(), run_id, reason],
        )
        for table in _DEPENDENTS:
            con.execute(f"DELETE FROM {table} WHERE doc_id IN (SELECT doc_id FROM _ids)")
        con.execute("DELETE FROM documents WHERE doc_id IN (SELECT doc_id FROM _ids)")


def _invalidate_conflicts(con: duckdb.DuckDBPyConnection, run_id: str, doc_ids: Sequence[str]) -> None:
    """Mark the conflicts stale, in the same transaction as the claim change that makes them so.

    The verdicts that read a claim of ``doc_ids`` (documents replaced or removed) go, with their groups'
    fingerprints, so no conflict_claims row points at a claim that is gone; every other verdict stays
    for the next reconcile to keep if its group is unchanged. ``pending_reconcile`` says a reconcile is
    due, so a run killed between loading and reconciling is finished by the next one. Reviews are kept:
    they are keyed by conflict_id and re-attach.
    """
    con.execute("DELETE FROM copies")
    con.execute("DELETE FROM pending_reconcile")
    con.execute("INSERT INTO pending_reconcile VALUES (?)", [run_id])
    if not doc_ids:
        return
    keys = [
        k for (k,) in con.execute(
            """SELECT DISTINCT group_key FROM conflicts WHERE conflict_id IN
               (SELECT conflict_id FROM conflict_claims WHERE doc_id IN (SELECT unnest(?::VARCHAR[])))""",
            [list(doc_ids)],
        ).fetchall()
    ]  # fmt: skip
    if keys:
        con.execute("DELETE FROM compared_groups WHERE group_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
        con.execute(
            """DELETE FROM conflict_claims WHERE conflict_id IN
               (SELECT conflict_id FROM conflicts WHERE group_key IN (SELECT unnest(?::VARCHAR[])))""",
            [keys],
        )
        con.execute("DELETE FROM conflicts WHERE group_key IN (SELECT unnest(?::VARCHAR[]))", [keys])


def reconcile_pending(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether claims changed since the latest reconcile (or none ever ran over the claims there are)."""
    if con.execute("SELECT count(*) FROM pending_reconcile").fetchone()[0]:
        return True
    return not con.execute("SELECT count(*) FROM conflicts").fetchone()[0]


# parents first; every table a batch fills
_LOAD_ORDER = (
    "documents", "boilerplate", "normalization_edits", "spin_sentences", "timexes", "mentions", "claims", "doc_shingles"
)  # fmt: skip
_NO_RUN_ID = frozenset({"spin_sentences", "timexes", "mentions", "doc_shingles"})


def load_batch(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    docs: Sequence[RepairedDocument],
    extractions: Sequence[Extraction],
) -> int:
    """Load one batch of documents with everything derived from them, in one transaction.

    A document already present (same source path) moves to document_versions first, and all its
    derived rows are replaced, so re-loading never duplicates. Returns the number of claims loaded.
    """
    return load_rows(con, run_id, batch_rows(docs, extractions))


def within_budget(con: duckdb.DuckDBPyConnection, fn: Callable[..., T], *args: object) -> T:
    """``fn(con, *args)`` under the memory limit the run set (``limit_memory``); if it needs more, again without it.

    The limit then applies again if DuckDB can give back what the call took. ``fn`` must be safe to
    repeat after failing: one transaction, or reads.
    """
    try:
        return fn(con, *args)
    except duckdb.OutOfMemoryException:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        lift_memory_limit(con)
    out = fn(con, *args)
    con.execute("CHECKPOINT")  # rows not yet checkpointed cannot be evicted
    with contextlib.suppress(duckdb.OutOfMemoryException):  # more is pinned: the limit stays lifted
        con.execute("SET memory_limit = ?", [limit])
    return out


def load_rows(con: duckdb.DuckDBPyConnection, run_id: str, rows: BatchRows) -> int:
    """Load the rows of one batch (flows.rows.batch_rows, built where the batch was made) in one transaction.

    A batch that needs more memory than the run's limit (``limit_memory``) is rolled back whole and
    loaded again without the limit (``within_budget``).
    """
    return within_budget(con, _load_rows, run_id, rows)


def _load_rows(con: duckdb.DuckDBPyConnection, run_id: str, rows: BatchRows) -> int:
    loaded_at = now()
    with transaction(con):
        stored = dict(
            con.execute(
                "SELECT doc_id, content_sha256 FROM documents WHERE doc_id IN (SELECT unnest(?::VARCHAR[]))", [rows.doc_ids]
            ).fetchall()
        )
        if rows.doc_ids:
            _invalidate_conflicts(con, run_id, sorted(stored))
        docs = rows.tables.get("documents") or {}
        new_sha = dict(zip(docs.get("doc_id", ()), docs.get("content_sha256", ()), strict=False))
        # the same bytes loaded again: the stages changed since (processing_fingerprint), not the file
        again = sorted(d for d, sha in stored.items() if new_sha.get(d) == sha)
        _supersede(con, sorted(set(stored) - set(again)), run_id, "changed")
        _supersede(con, again, run_id, "reprocessed")
        for table in _LOAD_ORDER:
            columns = rows.tables.get(table)
            if not columns or not rows.count(table):
                continue
            # run id on the tables that carry one (the others go with their document's row), load time on documents
            extra = {} if table in _NO_RUN_ID else {"run_id": run_id}
            if table == "documents":
                extra["loaded_at"] = loaded_at
            _insert_columns(con, table, {**columns, **extra})
        if rows.entities:
            _upsert_entities(con, rows.entities.values())
    return rows.count("claims")


def _upsert_entities(con: duckdb.DuckDBPyConnection, entities: Iterable[tuple]) -> None:
    """Add a batch's entities; one already stored keeps its row and gains the batch's aliases.

    Merged rows replace the stored ones (delete, then insert) inside the caller's transaction: an
    ON CONFLICT update of the aliases list failed under a tight memory limit (migration 005).
    """
    frame = pd.DataFrame.from_records(list(entities), columns=list(ENTITY_COLUMNS))
    with _registered(con, "_ents", frame, typed_from_all_rows=True):
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _ents_merged AS
               SELECT n.entity_id, coalesce(o.name, n.name) AS name, coalesce(o.type, n.type) AS type,
                      list_sort(list_distinct(list_concat(coalesce(o.aliases, []::VARCHAR[]),
                                                          coalesce(n.aliases::VARCHAR[], []::VARCHAR[])))) AS aliases
               FROM _ents n LEFT JOIN entities o USING (entity_id)"""
        )
    con.execute("DELETE FROM entities WHERE entity_id IN (SELECT entity_id FROM _ents_merged)")
    con.execute("INSERT INTO entities SELECT entity_id, name, type, aliases FROM _ents_merged")
    con.execute("DROP TABLE _ents_merged")


def remove_documents(
    con: duckdb.DuckDBPyConnection, run_id: str, doc_ids: Sequence[str], reason: str = "removed"
) -> None:
    """Documents with no current source move to document_versions with their derived rows dropped.

    ``reason`` is "removed" (the file is gone) or "quarantined" (the file is there but can no longer
    be taken: emptied, binary, too large; its quarantine row says why).
    """
    with transaction(con):
        if doc_ids:
            _invalidate_conflicts(con, run_id, doc_ids)
        _supersede(con, doc_ids, run_id, reason)


def prune_entities(con: duckdb.DuckDBPyConnection) -> None:
    """Drop entities no current document mentions or claims."""
    con.execute(
        """DELETE FROM entities WHERE entity_id NOT IN (SELECT entity_id FROM mentions)
           AND entity_id NOT IN (SELECT subject_entity_id FROM claims WHERE subject_entity_id IS NOT NULL)
           AND entity_id NOT IN (SELECT object_entity_id FROM claims WHERE object_entity_id IS NOT NULL)"""
    )


def record_quarantine(
    con: duckdb.DuckDBPyConnection, run_id: str, items: Sequence[Quarantined], seen_paths: Iterable[str]
) -> None:
    """Make the quarantine table the current state: this run's refusals, and none for inputs now gone or loaded."""
    rows = {
        q.source_path: {**{k: getattr(q, k) for k in field_names(Quarantined)}, "run_id": run_id, "quarantined_at": now()}
        for q in items
    }  # the last word on a path wins
    with transaction(con):
        con.execute("DELETE FROM quarantine WHERE source_path NOT IN (SELECT unnest(?::VARCHAR[]))", [list(rows)])
        if rows:
            con.execute("DELETE FROM quarantine WHERE source_path IN (SELECT unnest(?::VARCHAR[]))", [list(rows)])
        _insert(
            con,
            "quarantine",
            list(rows.values()),
            ["source_path", "reason", "detail", "content_sha256", "size_bytes", "run_id", "quarantined_at"],
        )
    del seen_paths


def compared_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """group_key -> inputs fingerprint of every group the latest reconcile compared."""
    return dict(con.execute("SELECT group_key, inputs_fp FROM compared_groups").fetchall())


def replace_conflicts(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    groups: Sequence[ClaimGroup],
    verdicts: Sequence[Verdict],
    trust: Mapping[str, float],
    copies: Sequence[object] = (),
    fingerprints: Mapping[str, str] | None = None,
    kept: Iterable[str] = (),
) -> None:
    """Replace the compared groups with this run's verdicts; reviews are left untouched.

    ``kept``: group keys whose rows the previous run wrote and this run did not compare again (their
    fingerprint in ``fingerprints`` did not change); those rows stay, every other row goes.
    ``fingerprints``: every current group's inputs fingerprint, recorded for the next run (None: none).
    """
    by_key = {g.group_key: g for g in groups}
    claim_doc = {c.claim_id: c.doc_id for g in groups for c in g.claims}
    conflict_rows = []
    at = now()
    seen: set[str] = set()
    unique: list[Verdict] = []
    for v in verdicts:
        if v.conflict_id in seen:
            continue
        seen.add(v.conflict_id)
        unique.append(v)
        g = by_key.get(v.group_key)
        docs = {claim_doc.get(cid) for cid in v.claim_ids}
        conflict_rows.append(
            {
                "conflict_id": v.conflict_id,
                "group_key": v.group_key,
                "kind": v.kind,
                "verdict": v.verdict,
                "severity": v.severity,
                "label": g.label if g else None,
                "rule": g.rule if g else None,
                "summary": v.summary,
                "explanation": v.explanation,
                "likely_value": v.likely_value,
                "confidence": v.confidence,
                "n_docs": len(docs - {None}),
                "n_claims": len(v.claim_ids),
                "run_id": run_id,
                "updated_at": at,
            }
        )
    del by_key, seen
    copy_rows = [
        {"doc_a": c.doc_a, "doc_b": c.doc_b, "shared_ratio": c.shared_ratio, "evidence": c.evidence, "run_id": run_id}
        for c in copies
    ]
    kept_keys = pd.DataFrame({"group_key": sorted(set(kept))}, dtype=object)
    fp_rows = [{"group_key": k, "inputs_fp": fp} for k, fp in sorted((fingerprints or {}).items())]
    with transaction(con):
        with _registered(con, "_kept", kept_keys):
            stale = "SELECT conflict_id FROM conflicts WHERE group_key NOT IN (SELECT group_key FROM _kept)"
            con.execute(f"DELETE FROM conflict_claims WHERE conflict_id IN ({stale})")  # our SQL, no user input
            con.execute("DELETE FROM conflicts WHERE group_key NOT IN (SELECT group_key FROM _kept)")
        con.execute("DELETE FROM compared_groups")
        con.execute("DELETE FROM copies")
        con.execute("DELETE FROM pending_reconcile")
        _insert(con, "compared_groups", fp_rows, ["group_key", "inputs_fp"])
        _insert(con, "conflicts", conflict_rows, list(conflict_rows[0]) if conflict_rows else [])
        del conflict_rows
        _insert_members(con, unique, claim_doc, trust)
        _insert(con, "copies", copy_rows, ["doc_a", "doc_b", "shared_ratio", "evidence", "run_id"])


_MEMBER_ROWS = 65_536  # conflict_claims rows built and inserted at a time


def _insert_members(con: duckdb.DuckDBPyConnection, verdicts: Sequence[Verdict], claim_doc: Mapping[str, str],
                    trust: Mapping[str, float]) -> None:
    """A member row per compared claim (331k at 20,000 articles), inserted a slice at a time.

    One list per column, not a dict per row (a dict each raised the step's peak by about 80 MB), and
    a slice at a time: all at once, the step rose 148 MB above its start at 20,000 articles, 110 in slices.
    """
    columns = ("conflict_id", "claim_id", "doc_id", "position", "trust_weight")
    members: dict[str, list] = {c: [] for c in columns}
    for v in verdicts:
        for cid in dict.fromkeys(v.claim_ids):
            doc = claim_doc.get(cid)
            members["conflict_id"].append(v.conflict_id)
            members["claim_id"].append(cid)
            members["doc_id"].append(doc)
            members["position"].append(v.positions.get(cid))
            members["trust_weight"].append(trust.get(doc) if doc else None)
        if len(members["claim_id"]) >= _MEMBER_ROWS:
            _insert_columns(con, "conflict_claims", members)
            members = {c: [] for c in columns}
    if members["claim_id"]:
        _insert_columns(con, "conflict_claims", members)


REVIEW_DECISIONS = ("accept", "reject", "resolve")


def add_review(
    con: duckdb.DuckDBPyConnection, conflict_id: str, decision: str, value: str | None, note: str | None
) -> str:
    """Record a person's decision on a conflict; returns the review id.

    ``resolve`` needs the true value; ``accept`` and ``reject`` take none.
    """
    if decision not in REVIEW_DECISIONS:
        raise InputError(f"a review decides one of {', '.join(REVIEW_DECISIONS)}, not {decision!r}")
    if (decision == "resolve") != bool(value and value.strip()):
        need = "the true value" if decision == "resolve" else "no value"
        raise InputError(f"a '{decision}' review takes {need}, got {value!r}")
    found = con.execute("SELECT count(*) FROM conflicts WHERE conflict_id = ?", [conflict_id]).fetchone()[0]
    if not found:
        raise WarehouseError(f"no conflict with id {conflict_id!r}: list them with `recon conflicts`")
    at = now()
    review_id = hashlib.sha1(f"{conflict_id}\x1f{decision}\x1f{at.isoformat()}".encode()).hexdigest()[:16]
    con.execute(
        "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?)",
        [review_id, conflict_id, decision, value, note, os.environ.get("USER"), at],
    )
    return review_id


# ---- read-only use --------------------------------------------------------------------------


def check_read_only(sql: str) -> None:
    """Refuse anything but reads before it reaches DuckDB (which would also refuse most writes)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise WarehouseError(f"query does not parse: {str(exc).splitlines()[0]}") from exc
    if not statements:
        raise WarehouseError("query is empty")
    for st in statements:
        kind = (st.type.name if hasattr(st.type, "name") else str(st.type)).upper()
        if kind not in READ_STATEMENTS:
            raise ReadOnlyViolation(f"recon query only reads; refused the {kind} statement (use the pipeline to change data)")
        if kind in ("PRAGMA", "CALL"):
            m = _LEADING_WORD.match(st.query)
            name = m.group(1).lower() if m else st.query.split(maxsplit=1)[0].lower()
            if name.removeprefix("pragma_") not in READ_PRAGMAS and not name.startswith("duckdb_"):
                raise ReadOnlyViolation(
                    f"recon query only reads; refused {kind} {name} (allowed: {', '.join(sorted(READ_PRAGMAS))})"
                )
        elif kind == "EXPLAIN":
            inner = _EXPLAIN_ANALYZE.match(st.query)
            if inner:  # EXPLAIN ANALYZE runs its statement, so that statement must be a read too
                check_read_only(inner.group(1))


def read_query(path: Path, sql: str, params: Sequence[object] | None = None) -> pd.DataFrame:
    """Run a read-only query and return a DataFrame."""
    check_read_only(sql)
    with connect(path, read_only=True) as con:
        try:
            return con.execute(sql, params or []).fetchdf()
        except duckdb.Error as exc:
            raise WarehouseError(f"query failed: {str(exc).splitlines()[0]}") from exc


def report_frames(con: duckdb.DuckDBPyConnection, per_position: int = 0, positions: int = 0,
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two frames the report renders: one row per group, and one per group member shown.

    positions > 0 keeps that many positions of a group, those with the most trust-weighted support
    first (a group of 20,000 copies whose names were varied holds thousands); 0 keeps them all.
    per_position > 0 keeps that many members per position shown (most trusted first); 0 keeps them all.
    Each group row counts all its positions (``n_positions``), so the report can say what it left out.
    Members come in a fixed order (by group, then date, document and claim): without it the parallel
    window gave them in a varying order, and the report's timelines changed run to run.
    """
    conflicts = con.execute(
        """SELECT s.conflict_id, s.group_key, s.kind, s.verdict, s.severity, s.summary, s.explanation,
                  s.likely_value, s.confidence, s.n_docs, s.n_claims, coalesce(p.n_positions, 0) AS n_positions,
                  s.review_decision, s.review_value, s.review_note, s.reviewed_at
           FROM conflict_status s
           LEFT JOIN (SELECT conflict_id, count(DISTINCT coalesce(position, '')) AS n_positions
                      FROM conflict_claims GROUP BY conflict_id) p USING (conflict_id)"""
    ).fetchdf()
    # constant clauses; the limits are parameters. The members shown are chosen on conflict_claims alone,
    # then joined to the conflict_evidence view for their sentences: ranked on the view itself, every
    # member's sentence and text were joined first, about 290 MB of DuckDB memory at 20,000 articles
    ranked = (
        """JOIN (SELECT conflict_id, coalesce(position, '') AS pkey,
                        row_number() OVER (PARTITION BY conflict_id ORDER BY sum(trust_weight) DESC NULLS LAST,
                                           count(DISTINCT doc_id) DESC, coalesce(position, '')) AS pos_rank
                 FROM conflict_claims GROUP BY conflict_id, coalesce(position, '')) r
             ON r.conflict_id = cc.conflict_id AND r.pkey = coalesce(cc.position, '') AND r.pos_rank <= ?"""
        if positions > 0
        else ""
    )
    keep = (
        "QUALIFY row_number() OVER (PARTITION BY cc.conflict_id, cc.position"
        " ORDER BY cc.trust_weight DESC NULLS LAST, cc.doc_id, cc.claim_id) <= ?"
        if per_position > 0
        else ""
    )
    params = ([positions] if ranked else []) + ([per_position] if keep else [])
    evidence = con.execute(
        f"""WITH shown AS (SELECT cc.conflict_id, cc.claim_id, cc.doc_id, cc.position, cc.trust_weight
                           FROM conflict_claims cc {ranked} {keep})
            SELECT e.conflict_id, e.claim_id, e.doc_id, e.source_path, e.outlet, e.position, e.sentence,
                   e.original_text, e.is_spun, e.trust_weight, e.time_value, e.time_start, e.time_end, e.granularity,
                   e.extractor, e.confidence, e.raw_start, e.raw_end
            FROM shown s JOIN conflict_evidence e USING (conflict_id, claim_id)
            ORDER BY e.conflict_id, e.time_start NULLS LAST, e.doc_id, e.claim_id""",
        params,
    ).fetchdf()
    return conflicts, evidence
