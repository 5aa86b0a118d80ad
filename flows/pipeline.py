"""The Prefect flow ``reconcile``: the only module that knows Prefect.

Per batch of new or changed files, one ``prepare`` task decodes, cleans and scores the documents
and finishes the clean ones (despin pass-through, extraction); the spun ones wait on disk until every clean
document is loaded, then ``repair_extract`` tasks repair them against their nearest clean texts.
Tasks run on the default thread runner, which hands the CPU work to local worker processes (threads
alone share one core under the GIL), or with ``runner="dask"`` on a Dask cluster via prefect-dask.
Loading runs inline in the flow's process, one transaction per batch (DuckDB allows one writer), as
batches finish, with a bounded number of batches in flight. Reconcile and report run once over the
whole warehouse when anything changed; a run over an unchanged folder records itself without
starting Prefect at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import sys
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from flows.settings import PROJECT_ROOT, ReportSettings, Settings


def configure_prefect_env() -> None:
    """Offline, quiet Prefect with its state kept inside the project unless the user configured one."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    if "PREFECT_HOME" not in os.environ and "PREFECT_API_URL" not in os.environ:
        os.environ["PREFECT_HOME"] = str(PROJECT_ROOT / ".prefect")


configure_prefect_env()

from prefect import flow, task  # noqa: E402  (environment must be set before Prefect reads it)
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.settings import PREFECT_API_URL, temporary_settings  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402

from flows import ingest as ingest_stage  # noqa: E402
from flows import warehouse as wh  # noqa: E402
from flows.errors import OrchestrationError, ReconError, StrictModeFailure  # noqa: E402
from flows.ops import batch as batch_work  # noqa: E402
from flows.ops.refs import ReferenceIndex, reference_ids  # noqa: E402
from flows.ops.server import TemporaryServer, temporary_server  # noqa: E402
from flows.ops.spool import Spool  # noqa: E402
from flows.reconcile.compare import compare_groups, group_fingerprints  # noqa: E402
from flows.reconcile.group import group_claims  # noqa: E402
from flows.reconcile.trust import (  # noqa: E402
    decode_shingles,
    encode_shingles,
    shingle_settings,
    shingle_trust,
    text_shingles,
)
from flows.records import CleanDocument, Quarantined  # noqa: E402
from flows.report.render import render_report  # noqa: E402
from flows.rows import BatchRows  # noqa: E402

Progress = Callable[[str], None]


@dataclass
class RunSummary:
    """What a run did, for the CLI's closing lines and the runs table."""

    run_id: str
    seen: int = 0
    processed: int = 0
    skipped: int = 0
    removed: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    claims: int = 0
    conflicts: int = 0
    groups: int = 0
    report_paths: tuple[Path, ...] = ()
    stage_seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def counts(self) -> dict[str, object]:
        return {
            "seen": self.seen,
            "processed": self.processed,
            "skipped": self.skipped,
            "quarantined": len(self.quarantined),
            "removed": self.removed,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
        }


def new_run_id() -> str:
    """A sortable, unique run id."""
    return f"run-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def report_paths(report_dir: Path) -> tuple[Path, ...]:
    """The files a run's report consists of."""
    return Path(report_dir) / "conflicts.md", Path(report_dir) / "conflicts.html"


def _timed(fn: Callable, *args: object) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


# ---- the local runner's worker processes ----------------------------------------------------

_WATCH_PARENT_S = 1.0  # how often a pool worker checks that its run is still alive
_POOL: ProcessPoolExecutor | None = None  # set while a local run owns worker processes; None: work runs in place


@contextlib.contextmanager
def local_pool(workers: int, gen0_threshold: int = 0) -> Iterator[ProcessPoolExecutor | None]:
    """Worker processes for the CPU-bound stages of a local run (threads alone share one core under the GIL).

    Workers are spawned: fresh interpreters that import the stage modules (no Prefect, DuckDB or pandas)
    in about 0.4 s, as quickly as from a fork server. A fork server stayed alive for the whole run
    (53 MB, still there while reconcile holds every claim, the run's peak) and its shared pages were
    counted again in each worker's RSS. ``workers`` <= 1 keeps all work in this process.
    """
    global _POOL
    if workers <= 1 or _POOL is not None:
        yield _POOL
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=batch_work.init_worker,
        initargs=(os.getpid(), _WATCH_PARENT_S, gen0_threshold),
    )
    for f in [pool.submit(batch_work.warm_up) for _ in range(workers)]:
        f.result()
    _POOL = pool
    try:
        yield pool
    finally:
        _POOL = None
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _gc_threshold(gen0: int) -> Iterator[None]:
    """Collect cycles less often while a run loads and reconciles (many small records, few cycles)."""
    before = gc.get_threshold()
    if gen0 > 0:
        gc.set_threshold(gen0, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


_M_ARENA_MAX = -8  # glibc's mallopt parameter number for the arena limit (malloc.h)


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap the malloc arenas of this process (glibc); True when the limit was set.

    Applies to arenas made from now on, so it is called before a run starts its threads (the temporary
    server's, Prefect's, DuckDB's). Elsewhere than glibc, or with ``arenas`` 0, nothing changes.
    """
    if arenas <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(_M_ARENA_MAX, arenas) == 1


def release_pool() -> None:
    """End the local worker processes: every batch is loaded, and reconcile and report run in this process.

    The workers hold the stage modules, their caches and their last batches; ending them before the
    memory-heavy reconcile keeps the run's peak lower. The pool's context manager finds it gone.
    """
    global _POOL
    pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_worker(fn: Callable, *args: object):
    """Run fn in the local pool when there is one, else in this process (a Dask worker, or no pool)."""
    pool = _POOL
    return fn(*args) if pool is None else pool.submit(fn, *args).result()


def _same(value):
    return value


def _plain(value):
    """A task parameter without its quote() wrapper: the thread runner unwraps it, prefect-dask does not."""
    return value.unquote() if isinstance(value, quote) else value


def _workers(settings: Settings, workers: int | None) -> int:
    return workers or settings.run.workers or os.cpu_count() or 1


# ---- tasks: thin wrappers over the pure stages, each over a whole batch ------------------------


@task(name="prepare", cache_policy=NO_CACHE)
def prepare_task(reads: Sequence[ingest_stage.ReadResult], metadata: dict, settings: Settings):
    """Decode, clean and score a batch; finish its clean documents (despin pass-through, extraction)."""
    return _in_worker(batch_work.prepare_batch, _plain(reads), _plain(metadata), settings, True)


@task(name="repair_extract", cache_policy=NO_CACHE)
def finish_task(docs: Sequence[CleanDocument], references: Sequence[str], settings: Settings):
    """Repair a batch of spun documents against their reference texts, then extract from them."""
    return _in_worker(batch_work.finish_batch, _plain(docs), _plain(references), settings, True)


@task(name="load", cache_policy=NO_CACHE)
def load_task(con, run_id: str, rows: BatchRows):
    """Load one batch's rows in one transaction (runs inline in the flow's process: the single writer)."""
    return _timed(wh.load_rows, con, run_id, _plain(rows))


@task(name="trust", cache_policy=NO_CACHE)
def trust_task(con, settings: Settings):
    """Weigh every document by how much of it is copied (and spun), and list the copy pairs.

    Each document's shingles come from the warehouse, made when it was loaded; a document loaded
    without them (by an older version, or with other shingle settings) is shingled from its text here,
    and its shingles are stored for the next run.
    """
    cfg = settings.reconcile
    size, mod = shingle_settings(cfg)
    made = list(text_shingles(wh.stream_unshingled_texts(con, size, mod), cfg))
    shingled = [*made, *((d, *decode_shingles(h, p)) for d, h, p in wh.stream_shingles(con, size, mod))]
    # the blocks the shingles were read from (their blobs: about 70 MB at 20,000 articles) stay in DuckDB's
    # cache through the pairing, which is trust's peak, unless handed back first
    wh.release_memory(con, settings.run.release_keep_mb)
    out = shingle_trust(shingled, partial(wh.texts_of, con), wh.spin_scores(con), cfg)
    del shingled
    if made:
        wh.store_shingles(con, [(d, *encode_shingles(h, p)) for d, h, p in made], size, mod)
    return out


@task(name="reconcile", cache_policy=NO_CACHE)
def reconcile_task(claims, trust, known, settings: Settings):
    """Group every claim in the warehouse; compare the groups whose inputs changed since the last reconcile.

    ``known``: the fingerprints the last reconcile recorded; a group with the same one keeps its verdicts.
    Returns the groups, the new verdicts, every group's fingerprint and the keys of the groups kept.
    """
    claims, trust, known = _plain(claims), _plain(trust), _plain(known)
    groups = group_claims(claims, settings.reconcile)
    fingerprints = group_fingerprints(groups, trust, settings.reconcile)
    kept = {key for key, fp in fingerprints.items() if known.get(key) == fp}
    todo = [g for g in groups if g.group_key not in kept]
    return groups, compare_groups(todo, trust, settings.reconcile), fingerprints, kept


@task(name="report", cache_policy=NO_CACHE)
def report_task(con, report_dir: Path, run_id: str, settings: ReportSettings):
    """Render the conflicts report from the warehouse."""
    t0 = time.perf_counter()
    conflicts, evidence = wh.report_frames(con, settings.sources_per_position, settings.positions_per_card)
    paths = render_report(conflicts, evidence, Path(report_dir), run_id=run_id, settings=settings)
    return paths, time.perf_counter() - t0


def _batches(items: Sequence, size: int) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), max(size, 1))]


def _add(summary: RunSummary, stage: str, seconds: float) -> None:
    summary.stage_seconds[stage] = summary.stage_seconds.get(stage, 0.0) + seconds


@flow(name="reconcile", log_prints=False, validate_parameters=False)
def reconcile(
    raw_dir: str,
    warehouse: str,
    report_dir: str,
    settings: Settings | None = None,
    runner_name: str = "local",
    run_id: str | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Bring the warehouse up to date with raw_dir and re-render the conflicts report."""
    settings = settings or Settings()
    say = progress or (lambda _msg: None)
    run_id = run_id or new_run_id()
    summary = RunSummary(run_id)
    t_start = time.perf_counter()
    lock = wh.WriterLock(Path(warehouse), run_id, settings.run.lock_timeout_s)
    workers = _workers(settings, None) if runner_name == "local" else 1
    gen0 = settings.run.gc_gen0_threshold
    with lock, wh.connect(Path(warehouse)) as con, local_pool(workers, gen0), _gc_threshold(gen0):
        con.execute("UPDATE runs SET status = 'abandoned' WHERE status = 'running'")
        wh.set_checkpoint_threshold(con, settings.run.checkpoint_mb)
        wh.start_run(con, run_id, str(raw_dir), runner_name)
        try:
            # quote(): Prefect would otherwise walk every record of a task's parameters looking for futures
            # (seconds per batch); prefect-dask ships parameters as they are, so there they go unwrapped
            wrap = quote if runner_name == "local" else _same
            _run_stages(con, Path(raw_dir), Path(report_dir), settings, run_id, summary, say, wrap)
        except BaseException as exc:
            msg = str(exc) if isinstance(exc, ReconError) else f"{type(exc).__name__}: {exc}"
            summary.wall_seconds = time.perf_counter() - t_start
            wh.finish_run(con, run_id, "failed", {**summary.counts(), "message": msg[:2000]})
            raise
        summary.wall_seconds = time.perf_counter() - t_start
        wh.finish_run(con, run_id, "succeeded", summary.counts())
    return summary


def _absorb(summary: RunSummary, quarantined: list[Quarantined], res: batch_work.BatchResult) -> None:
    quarantined.extend(res.quarantined)
    for stage, secs in res.seconds.items():
        _add(summary, stage, secs)


def _load(con, run_id: str, summary: RunSummary, res: batch_work.BatchResult, wrap: Callable, made_with: str) -> None:
    if res.rows is not None and res.finished:
        docs = res.rows.tables.get("documents")
        if docs:
            docs["processed_with"] = made_with  # one value for every row: the stages' fingerprint
        _n_claims, secs = load_task(con, run_id, wrap(res.rows))
        _add(summary, "load", secs)
        summary.processed += res.finished
    # A finished task's result outlives it: its futures sit in reference cycles that only a (rare)
    # full collection frees, and Prefect may keep a task engine with its parameters. Each result's
    # rows (several MB) stayed alive for dozens of batches, about 275 MB of the writer at 5,000
    # articles (tracemalloc). Emptied once loaded, only a small shell is left to outlive the task.
    res.rows = None
    res.spun = []


def _draining(items: list) -> Iterator[object]:
    """The items of a list in order, each dropped from the list once taken (a shipped batch's bytes go)."""
    for k in range(len(items)):
        item, items[k] = items[k], None
        yield item


def _in_order(submit: Callable[[object], object], items: Iterable, ahead: int) -> Iterator[object]:
    """Submit items in order with at most ``ahead`` in flight; yield results in order (bounded memory)."""
    pending: deque = deque()
    for item in items:
        pending.append(submit(item))
        del item
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _run_stages(
    con, raw_dir: Path, report_dir: Path, settings: Settings, run_id: str, summary: RunSummary, say, wrap: Callable
):
    t0 = time.perf_counter()
    found = ingest_stage.discover(raw_dir, settings.ingest)
    reads, unread = ingest_stage.read_sources(found.files, settings.ingest)
    known = wh.known_documents(con)
    known_q = wh.known_quarantine(con)
    made_with = batch_work.processing_fingerprint(settings)
    stale = wh.stale_documents(con, made_with)  # loaded by other stage code, rules or settings
    todo = [r for r in reads if known.get(r.source.source_path) != r.content_sha256 or r.source.source_path in stale]
    again = sum(1 for r in todo if r.source.source_path in stale and known.get(r.source.source_path) == r.content_sha256)
    del reads
    current = {f.source_path for f in found.files}
    removed = sorted(p for p in known if p not in current)
    summary.seen = len(found.files) + len(found.quarantined)
    summary.skipped = len(found.files) - len(unread) - len(todo)
    summary.removed = len(removed)
    _add(summary, "discover", time.perf_counter() - t0)
    new_q = sum(1 for r in todo if r.source.source_path not in known and known_q.get(r.source.source_path) is None)
    say(
        f"ingest: {summary.seen} inputs under {raw_dir}: {len(todo)} new or changed ({new_q} new), "
        f"{summary.skipped} unchanged, {len(removed)} removed"
    )
    if again:
        say(f"ingest: {again} unchanged files are processed again: the stages' code, rules or settings changed since they were loaded")
    quarantined: list[Quarantined] = list(found.quarantined) + list(unread)
    ahead = max(1, settings.run.batches_ahead * (_POOL._max_workers if _POOL is not None else _workers(settings, None)))

    if todo:
        batches = _batches(todo, settings.run.batch_size)
        n_todo = len(todo)
        del todo
        say(f"processing {n_todo} documents in {len(batches)} batches")
        n = len(batches)
        meta = found.metadata

        def submit(b: Sequence[ingest_stage.ReadResult]):
            # each batch ships the metadata of its own files only: the whole sources.csv per batch made
            # shipping quadratic in the folder's size (20,000 rows pickled for each of 79 batches)
            own = {r.source.source_path: meta[r.source.source_path] for r in b if r.source.source_path in meta}
            return prepare_task.submit(wrap(b), wrap(own), settings)

        # the spun documents wait on disk for every clean one to be loaded (their references); DuckDB is
        # held to run.duckdb_budget_mb while the batches load
        budget = settings.run.duckdb_budget_mb
        with Spool(lambda d: d.doc.doc_id) as spun, wh.memory_limited(con, budget) as limited:
            if not limited:
                say(f"load: DuckDB holds more than run.duckdb_budget_mb ({budget} MB) already; loading without a limit")
            for i, res in enumerate(_in_order(submit, _draining(batches), ahead), 1):
                _absorb(summary, quarantined, res)
                spun.extend(res.spun)
                _load(con, run_id, summary, res, wrap, made_with)
                say(f"load: batch {i}/{n} committed ({res.finished} documents, {summary.processed} so far)")
            if len(spun):
                _repair_spun(con, run_id, settings, summary, quarantined, spun, ahead, say, wrap, made_with)
    t_q = time.perf_counter()
    if removed:
        wh.remove_documents(con, run_id, removed)
    # a loaded file that turned bad (emptied, binary, too large, a stage failed on it): its old text is
    # no longer current; it moves to document_versions and its quarantine row says why
    refused = sorted({q.source_path for q in quarantined} & set(known))
    if refused:
        wh.remove_documents(con, run_id, refused, reason="quarantined")
    summary.quarantined = quarantined
    release_pool()
    loaded = {r[0] for r in con.execute("SELECT source_path FROM documents").fetchall()}
    wh.record_quarantine(con, run_id, [q for q in quarantined if q.source_path not in loaded], current)
    _add(summary, "load", time.perf_counter() - t_q)

    changed = bool(summary.processed or removed or refused)
    # a run that died between loading and reconciling left the reconcile due
    reconciled = changed or wh.reconcile_pending(con)
    if reconciled:
        t_r = time.perf_counter()
        # entities left without a mention or claim go before reconcile holds its claims: DuckDB's anti-joins
        # over every mention took 120-150 MB, which on top of reconcile's peak set the run's at 20,000 articles
        wh.prune_entities(con)
        wh.release_memory(con, settings.run.release_keep_mb)
        # trust first: it streams the texts, keeping only their sampled shingles, before the claims come in
        trust, copies = trust_task(con, settings)
        # the streamed texts passed through DuckDB's allocator, which keeps what they took (about 200 MB at
        # 20,000 articles) until asked to give it back; the claims come next
        wh.release_memory(con, settings.run.release_keep_mb)
        claims = wh.all_claims(con)
        known = wh.compared_fingerprints(con)
        groups, verdicts, fingerprints, kept = reconcile_task(wrap(claims), wrap(trust), wrap(known), settings)
        # what reading the claims left in DuckDB's cache (about 60 MB at 20,000 articles) goes before the
        # verdicts are written, and what writing them left goes before the report: each step adds its
        # frames on top of the claims and groups this process has held, the run's peak
        wh.release_memory(con, settings.run.release_keep_mb)
        wh.replace_conflicts(con, run_id, groups, verdicts, trust, copies, fingerprints, kept)
        n_claims, n_groups, n_kept = len(claims), len(groups), len(kept)
        for held in (claims, groups, verdicts):
            held.clear()  # the report reads the warehouse, not these
        wh.release_memory(con, settings.run.release_keep_mb)
        _add(summary, "reconcile", time.perf_counter() - t_r)
        say(f"reconcile: {n_claims} claims in {n_groups} groups ({n_groups - n_kept} compared, {n_kept} unchanged)")
    summary.claims = con.execute("SELECT count(*) FROM claims").fetchone()[0]
    summary.groups = con.execute("SELECT count(*) FROM conflicts").fetchone()[0]
    summary.conflicts = con.execute("SELECT count(*) FROM conflicts WHERE verdict = 'conflict'").fetchone()[0]
    if reconciled or not all(p.exists() for p in report_paths(report_dir)):
        paths, secs = report_task(con, report_dir, run_id, settings.report)
        _add(summary, "report", secs)
    else:
        paths = report_paths(report_dir)
    summary.report_paths = tuple(paths)


def _repair_spun(
    con, run_id, settings: Settings, summary, quarantined, spun: Spool[CleanDocument], ahead: int, say, wrap: Callable,
    made_with: str,
) -> None:
    """Repair the spun documents once every clean one is loaded: each batch gets its nearest clean texts."""
    t0 = time.perf_counter()
    # the index keeps each clean text's distinctive tokens, not the text: a batch's references are read
    # back from the warehouse as it is submitted (every clean text held here was 46 MB of the run's
    # peak at 20,000 articles, and grows with the warehouse)
    per_doc, size = settings.run.references_per_doc, settings.run.spun_batch_size
    index = wh.within_budget(con, lambda c: ReferenceIndex(wh.stream_reference_texts(c, exclude=spun.ids)))
    every = per_doc <= 0 or len(index.ids) <= per_doc  # ship every clean text (small warehouses, or asked for)
    _add(summary, "references", time.perf_counter() - t0)
    n = -(-len(spun) // size)
    say(f"repair: {len(spun)} spun documents in {n} batches")
    shipped = 0

    def jobs() -> Iterator[tuple[list[CleanDocument], list[str]]]:
        # each batch's references are chosen as it is submitted, so the workers start on the first
        # batch at once (choosing them all first left both workers idle for 12 s at 20,000 articles)
        nonlocal shipped
        for batch in spun.batches(size):
            t = time.perf_counter()
            own = [(d.doc.doc_id, d.clean_text) for d in batch]
            ids = index.ids if every else reference_ids(own, index, per_doc)
            texts = wh.within_budget(con, wh.texts_of, ids)  # reads under the load's memory limit
            refs = [texts[i] for i in ids if i in texts]
            _add(summary, "references", time.perf_counter() - t)
            shipped += len(refs)
            yield batch, refs

    submit = lambda job: finish_task.submit(wrap(job[0]), wrap(job[1]), settings)  # noqa: E731
    for i, res in enumerate(_in_order(submit, jobs(), ahead), 1):
        _absorb(summary, quarantined, res)
        _load(con, run_id, summary, res, wrap, made_with)
        say(f"load: spun batch {i}/{n} committed ({res.finished} documents, {summary.processed} so far)")
    say(f"repair: {shipped} reference texts shipped")


def task_runner_for(runner_name: str, address: str | None, workers: int | None):
    """The Prefect task runner for a runner name: 'local' (threads, CPU work in worker processes) or 'dask'."""
    if runner_name == "local":
        return None
    if runner_name == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        n = workers or os.cpu_count() or 2
        return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True})
    raise ValueError(f"unknown runner {runner_name!r}")


def unchanged_run(raw_dir: Path, warehouse: Path, report_dir: Path, settings: Settings) -> RunSummary | None:
    """Record a run without starting Prefect when no file changed, was added or removed; None if there is work.

    Hashing the folder is all an unchanged run needs: the claims, conflicts and report are current.
    """
    t0 = time.perf_counter()
    if not Path(warehouse).exists() or not all(p.exists() for p in report_paths(report_dir)):
        return None
    found = ingest_stage.discover(Path(raw_dir), settings.ingest)
    reads, unread = ingest_stage.read_sources(found.files, settings.ingest)
    if found.quarantined or unread:
        return None  # refusals found while listing or reading are recorded by a full run
    run_id = new_run_id()
    with wh.WriterLock(Path(warehouse), run_id, settings.run.lock_timeout_s), wh.connect(Path(warehouse)) as con:
        known = wh.known_documents(con)
        known_q = wh.known_quarantine(con)
        current = {r.source.source_path: r.content_sha256 for r in reads}
        if any(known.get(p, known_q.get(p)) != sha for p, sha in current.items()):
            return None
        if any(p not in current for p in [*known, *known_q]):
            return None
        if wh.stale_documents(con, batch_work.processing_fingerprint(settings)):
            return None  # loaded by other stage code, rules or settings: processed again by a full run
        if wh.reconcile_pending(con):
            return None
        held = con.execute("SELECT source_path, reason, detail, content_sha256, size_bytes FROM quarantine").fetchall()
        if any(reason == batch_work.FAILED for _p, reason, *_ in held):
            return None  # a document a stage failed on is retried by every run
        summary = RunSummary(run_id, seen=len(reads), skipped=len(reads) - len(held))
        summary.quarantined = [Quarantined(*row) for row in held]
        summary.report_paths = report_paths(report_dir)
        con.execute("UPDATE runs SET status = 'abandoned' WHERE status = 'running'")
        wh.start_run(con, run_id, str(raw_dir), "unchanged")
        summary.claims = con.execute("SELECT count(*) FROM claims").fetchone()[0]
        summary.groups = con.execute("SELECT count(*) FROM conflicts").fetchone()[0]
        summary.conflicts = con.execute("SELECT count(*) FROM conflicts WHERE verdict = 'conflict'").fetchone()[0]
        summary.stage_seconds["discover"] = time.perf_counter() - t0
        summary.wall_seconds = time.perf_counter() - t0
        wh.finish_run(con, run_id, "succeeded", summary.counts())
    return summary


def _temporary_api(settings: Settings) -> TemporaryServer | None:
    """Start Prefect's temporary server unless an API is configured; the flow waits for it after the workers start.

    It takes a second or two to come up; meanwhile the worker processes start.
    """
    if PREFECT_API_URL.value():
        return None
    return temporary_server(settings.ops)


@contextlib.contextmanager
def _api_for_dask(settings: Settings, say: Progress) -> Iterator[None]:
    """A real Prefect API for a Dask run, exported so every worker reports to it.

    With the temporary server each Dask worker process would start a server of its own (slow), so a
    local server is started on loopback unless one is configured.
    """
    from flows.ops.serve import prefect_home
    from flows.ops.server import prefect_api

    configured = PREFECT_API_URL.value()
    if configured:
        before = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = configured
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = before
        return
    with prefect_api(settings.ops, prefect_home(), say=say) as url, temporary_settings({PREFECT_API_URL: url}):
        yield


def _release_frames(exc: BaseException | None) -> None:
    """Drop the local variables the finished frames of a failure still hold (the DuckDB connection among them).

    Prefect keeps the exception in the flow run's state; with its frames alive, DuckDB objects outlive
    the interpreter's shutdown and DuckDB's bindings print a flood of "nanobind: leaked" lines at exit.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def run_pipeline(
    raw_dir: Path,
    warehouse: Path,
    report_dir: Path,
    settings: Settings,
    *,
    runner_name: str = "local",
    address: str | None = None,
    workers: int | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> RunSummary:
    """Run the reconcile flow; ReconErrors pass through, Prefect failures become OrchestrationError."""
    say = progress or (lambda _msg: None)
    limit_malloc_arenas(settings.run.malloc_arenas)
    summary = unchanged_run(raw_dir, warehouse, report_dir, settings)
    if summary is not None:
        say(f"ingest: {summary.seen} inputs under {raw_dir}, none new, changed or removed: nothing to do")
    else:
        if workers:
            settings = settings.override("run", workers=workers)
        runner = task_runner_for(runner_name, address, workers)
        flow_fn = reconcile.with_options(task_runner=runner) if runner is not None else reconcile
        args = (str(raw_dir), str(warehouse), str(report_dir), settings, runner_name, None, progress)
        try:
            if runner_name == "dask":
                with _api_for_dask(settings, say):
                    summary = flow_fn(*args)
            else:
                server = _temporary_api(settings)
                with local_pool(_workers(settings, workers), settings.run.gc_gen0_threshold):
                    if server is None:
                        summary = flow_fn(*args)
                    else:
                        server.wait_healthy(settings.ops)
                        with temporary_settings({PREFECT_API_URL: server.api_url}):
                            summary = flow_fn(*args)
        except ReconError as exc:
            _release_frames(exc)
            raise
        except Exception as exc:
            _release_frames(exc)
            cause = exc
            while cause.__cause__ is not None and not isinstance(cause, ReconError):
                cause = cause.__cause__
            if isinstance(cause, ReconError):
                raise cause from exc
            raise OrchestrationError(f"the reconcile flow failed: {type(exc).__name__}: {exc}") from exc
    if strict and summary.quarantined:
        raise StrictModeFailure(
            f"{len(summary.quarantined)} input(s) quarantined and --strict was given; see `recon query "
            f"\"SELECT * FROM quarantine\"`"
        )
    return summary


def stderr_progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
