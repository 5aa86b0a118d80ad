"""The Prefect flow ``reconcile``: the only module that knows Prefect.

ingest -> clean -> score -> repair -> extract run as tasks over batches of documents (on the
default thread runner or, with ``runner="dask"``, on a Dask cluster via prefect-dask); loading
runs inline in the flow's process, one transaction per batch (DuckDB allows one writer);
reconcile and report run once over the whole warehouse when anything changed.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flows.settings import PROJECT_ROOT, Settings


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

from flows import clean as clean_stage  # noqa: E402
from flows import ingest as ingest_stage  # noqa: E402
from flows import warehouse as wh  # noqa: E402
from flows.despin.detect import score_spin  # noqa: E402
from flows.despin.repair import repair_documents  # noqa: E402
from flows.errors import OrchestrationError, ReconError, StrictModeFailure  # noqa: E402
from flows.extract.run import extract_documents  # noqa: E402
from flows.reconcile.compare import compare_groups  # noqa: E402
from flows.reconcile.group import group_claims  # noqa: E402
from flows.reconcile.trust import source_trust  # noqa: E402
from flows.records import CleanDocument, Extraction, Quarantined, RepairedDocument  # noqa: E402
from flows.report.render import render_report  # noqa: E402

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


def _timed(fn: Callable, *args: object) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


# ---- tasks: thin wrappers over the pure stages, each over a whole batch ------------------------


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(reads: Sequence[ingest_stage.ReadResult], metadata: dict, settings: Settings):
    """Decode a batch of read files."""
    return _timed(ingest_stage.decode_sources, reads, metadata, settings.ingest)


@task(name="clean", cache_policy=NO_CACHE)
def clean_task(decoded: tuple, settings: Settings):
    """Strip markup and boilerplate from a batch."""
    (docs, quarantined), ingest_seconds = decoded
    cleaned, seconds = _timed(clean_stage.clean_documents, docs, settings.clean)
    return cleaned, quarantined, ingest_seconds, seconds


@task(name="score_spin", cache_policy=NO_CACHE)
def score_task(cleaned: tuple, settings: Settings):
    """Spin scores of a batch (decides which documents need repair and which can serve as references)."""
    docs = cleaned[0]
    t0 = time.perf_counter()
    scores = [score_spin(d.clean_text, settings.despin)[0] for d in docs]
    return scores, time.perf_counter() - t0


@task(name="repair", cache_policy=NO_CACHE)
def repair_task(docs: Sequence[CleanDocument], references: Sequence[str], settings: Settings):
    """Despin the spun documents of a batch; clean ones pass through unchanged."""
    return _timed(repair_documents, docs, references, settings.despin)


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(repaired: tuple, settings: Settings):
    """Extract dates, entities and claims from a batch."""
    docs, _ = repaired
    extractions, seconds = _timed(extract_documents, docs, settings.extract)
    return docs, extractions, seconds


@task(name="load", cache_policy=NO_CACHE)
def load_task(con, run_id: str, docs: Sequence[RepairedDocument], extractions: Sequence[Extraction]):
    """Load one batch in one transaction (runs inline in the flow's process: the single writer)."""
    return _timed(wh.load_batch, con, run_id, docs, extractions)


@task(name="reconcile", cache_policy=NO_CACHE)
def reconcile_task(claims, texts, spin_scores, settings: Settings):
    """Group every claim in the warehouse and compare each group."""
    t0 = time.perf_counter()
    trust, copies = source_trust(texts, spin_scores, settings.reconcile)
    groups = group_claims(claims, settings.reconcile)
    verdicts = compare_groups(groups, trust, settings.reconcile)
    return groups, verdicts, trust, copies, time.perf_counter() - t0


@task(name="report", cache_policy=NO_CACHE)
def report_task(con, report_dir: Path, run_id: str):
    """Render the conflicts report from the warehouse."""
    t0 = time.perf_counter()
    conflicts, evidence = wh.report_frames(con)
    paths = render_report(conflicts, evidence, Path(report_dir), run_id=run_id)
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
    run_id = run_id or f"run-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    summary = RunSummary(run_id)
    t_start = time.perf_counter()
    lock = wh.WriterLock(Path(warehouse), run_id, settings.run.lock_timeout_s)
    with lock, wh.connect(Path(warehouse)) as con:
        con.execute("UPDATE runs SET status = 'abandoned' WHERE status = 'running'")
        wh.start_run(con, run_id, str(raw_dir), runner_name)
        try:
            _run_stages(con, Path(raw_dir), Path(report_dir), settings, run_id, summary, say)
        except BaseException as exc:
            msg = str(exc) if isinstance(exc, ReconError) else f"{type(exc).__name__}: {exc}"
            summary.wall_seconds = time.perf_counter() - t_start
            wh.finish_run(con, run_id, "failed", {**summary.counts(), "message": msg[:2000]})
            raise
        summary.wall_seconds = time.perf_counter() - t_start
        wh.finish_run(con, run_id, "succeeded", summary.counts())
    return summary


def _run_stages(con, raw_dir: Path, report_dir: Path, settings: Settings, run_id: str, summary: RunSummary, say):
    t0 = time.perf_counter()
    found = ingest_stage.discover(raw_dir, settings.ingest)
    reads, unread = ingest_stage.read_sources(found.files, settings.ingest)
    known = wh.known_documents(con)
    known_q = wh.known_quarantine(con)
    todo = [r for r in reads if known.get(r.source.source_path) != r.content_sha256]
    todo_paths = {r.source.source_path for r in todo}
    current = {f.source_path for f in found.files}
    removed = sorted(p for p in known if p not in current)
    summary.seen = len(found.files) + len(found.quarantined)
    summary.skipped = len(reads) - len(todo)
    summary.removed = len(removed)
    _add(summary, "discover", time.perf_counter() - t0)
    new_q = sum(1 for r in todo if r.source.source_path not in known and known_q.get(r.source.source_path) is None)
    say(
        f"ingest: {summary.seen} inputs under {raw_dir}: {len(todo)} new or changed ({new_q} new), "
        f"{summary.skipped} unchanged, {len(removed)} removed"
    )
    quarantined: list[Quarantined] = list(found.quarantined) + list(unread)

    if todo:
        batches = _batches(todo, settings.run.batch_size)
        cleaned_f = [clean_task.submit(ingest_task.submit(b, dict(found.metadata), settings), settings) for b in batches]
        score_f = [score_task.submit(c, settings) for c in cleaned_f]
        cleaned = [f.result() for f in cleaned_f]
        scores = [f.result() for f in score_f]
        for _docs, q, ingest_secs, clean_secs in cleaned:
            quarantined.extend(q)
            _add(summary, "ingest", ingest_secs)
            _add(summary, "clean", clean_secs)
        refs = wh.reference_texts(con, exclude=todo_paths)
        threshold = settings.despin.spun_threshold
        for (docs, *_), (sc, secs) in zip(cleaned, scores, strict=True):
            _add(summary, "score", secs)
            refs.update({d.doc.doc_id: d.clean_text for d, s in zip(docs, sc, strict=True) if s < threshold})
        extract_f = []
        for (docs, *_), (sc, _secs) in zip(cleaned, scores, strict=True):
            # only batches holding a spun document need the reference texts shipped to their worker
            own = {d.doc.doc_id for d in docs}
            batch_refs = [t for d, t in refs.items() if d not in own] if any(x >= threshold for x in sc) else []
            extract_f.append(extract_task.submit(repair_task.submit(docs, batch_refs, settings), settings))
        say(f"processing {len(todo)} documents in {len(batches)} batches")
        for f in extract_f:
            docs, extractions, secs = f.result()
            _add(summary, "extract", secs)
            _n_claims, load_secs = load_task(con, run_id, docs, extractions)
            _add(summary, "load", load_secs)
            summary.processed += len(docs)
    t_q = time.perf_counter()
    if removed:
        wh.remove_documents(con, run_id, removed)
    summary.quarantined = quarantined
    loaded = {r[0] for r in con.execute("SELECT source_path FROM documents").fetchall()}
    wh.record_quarantine(con, run_id, [q for q in quarantined if q.source_path not in loaded], current)
    _add(summary, "load", time.perf_counter() - t_q)

    changed = bool(todo or removed)
    if changed or not con.execute("SELECT count(*) FROM conflicts").fetchone()[0]:
        t_r = time.perf_counter()
        claims = wh.all_claims(con)
        texts, spin_scores = wh.document_texts(con)
        groups, verdicts, trust, copies, _secs = reconcile_task(claims, texts, spin_scores, settings)
        wh.replace_conflicts(con, run_id, groups, verdicts, trust, copies)
        wh.prune_entities(con)
        _add(summary, "reconcile", time.perf_counter() - t_r)
        say(f"reconcile: {len(claims)} claims in {len(groups)} groups")
    summary.claims = con.execute("SELECT count(*) FROM claims").fetchone()[0]
    summary.groups = con.execute("SELECT count(*) FROM conflicts").fetchone()[0]
    summary.conflicts = con.execute("SELECT count(*) FROM conflicts WHERE verdict = 'conflict'").fetchone()[0]
    paths, secs = report_task(con, report_dir, run_id)
    summary.report_paths = tuple(paths)
    _add(summary, "report", secs)


def task_runner_for(runner_name: str, address: str | None, workers: int | None):
    """The Prefect task runner for a runner name: 'local' (threads) or 'dask' (prefect-dask)."""
    if runner_name == "local":
        return None
    if runner_name == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        n = workers or os.cpu_count() or 2
        return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True})
    raise ValueError(f"unknown runner {runner_name!r}")


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
    runner = task_runner_for(runner_name, address, workers)
    flow_fn = reconcile.with_options(task_runner=runner) if runner is not None else reconcile
    try:
        summary = flow_fn(str(raw_dir), str(warehouse), str(report_dir), settings, runner_name, None, progress)
    except ReconError:
        raise
    except Exception as exc:
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


