"""The ``recon`` command line: the only module that parses arguments.

Exit codes: 0 success; 1 other pipeline error; 2 bad usage or configuration; 3 input error;
4 warehouse error; 5 warehouse locked by another run; 6 a write refused by ``recon query``;
7 malformed rule file; 8 ``--strict`` and something was quarantined; 9 orchestration (Prefect)
failure; 130 interrupted (Ctrl-C or SIGTERM: the batch in flight is rolled back); 141 the reader of the
output closed it early (``recon conflicts | head``), as a shell tool killed by SIGPIPE exits.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import select
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from flows.errors import ReconError, StrictModeFailure
from flows.settings import PROJECT_ROOT, Settings, load_settings

DEFAULT_RAW = PROJECT_ROOT / "raw"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "warehouse" / "recon.duckdb"
DEFAULT_REPORTS = PROJECT_ROOT / "warehouse" / "reports"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell tool exits with when the reader of its output goes away
_flow_started = False  # set once a run enters Prefect; see _quiet_shutdown


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    if getattr(args, "batch_size", None) is not None:
        settings = settings.override("run", batch_size=args.batch_size)
    if getattr(args, "max_file_bytes", None) is not None:
        settings = settings.override("ingest", max_file_bytes=args.max_file_bytes)
    if getattr(args, "lock_timeout", None) is not None:
        settings = settings.override("run", lock_timeout_s=args.lock_timeout)
    return settings


def _number(kind: type, least: float, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number of ``kind`` at least ``least`` (or above it), else a usage error."""

    def parse(raw: str) -> float:
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a valid {kind.__name__}") from None
        if not math.isfinite(value) or value < least or (above and value == least):
            need = "above" if above else "at least"
            raise argparse.ArgumentTypeError(f"{raw!r} is out of range: it must be {need} {least}")
        return value

    return parse


_COUNT, _NON_NEGATIVE, _SECONDS = _number(int, 1), _number(int, 0), _number(float, 0)


def _text(raw: str) -> str:
    """An argparse type: text with something besides spaces in it (trimmed), else a usage error."""
    if not raw.strip():
        raise argparse.ArgumentTypeError("it must not be empty")
    return raw.strip()


# ---- commands -------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    # a scheduler stopping the run (SIGTERM) gets the same orderly end as Ctrl-C: the batch in
    # flight rolls back, the runs row says why, the lock is released
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    from flows import warehouse as wh

    settings = _settings(args)
    if not Path(args.raw).is_dir():
        from flows.errors import InputError

        raise InputError(f"raw folder {args.raw} does not exist or is not a folder: create it or pass --raw DIR")
    from flows.report.render import check_report_dir

    check_report_dir(Path(args.report_dir))  # before the run, not after every document is processed
    # take the writer lock before Prefect starts: a busy warehouse then fails fast with one line,
    # and the flow's own lock on the same file is a nested no-op that records its run id
    with wh.WriterLock(Path(args.warehouse), "(starting)", settings.run.lock_timeout_s):
        with wh.connect(Path(args.warehouse)):
            pass  # a damaged or foreign file fails here, in one line, before Prefect starts
        from flows.pipeline import run_pipeline

        global _flow_started
        _flow_started = True
        if not args.debug:
            quiet_prefect_errors()

        try:
            summary = run_pipeline(
                Path(args.raw),
                Path(args.warehouse),
                Path(args.report_dir),
                settings,
                runner_name=args.runner,
                address=args.address,
                workers=args.workers,
                strict=False,  # applied below, after every quarantined input has been named
                progress=None if args.quiet else _say,
            )
        except ReconError as err:
            if _by_termination_signal(err):
                raise KeyboardInterrupt("SIGTERM") from err
            raise
    for q in summary.quarantined:
        _say(f"quarantined {q.source_path}: {q.detail}")
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in summary.stage_seconds.items())
    print(
        f"run {summary.run_id}: {summary.processed} documents processed, {summary.skipped} unchanged, "
        f"{summary.removed} removed, {len(summary.quarantined)} quarantined; {summary.claims} claims; "
        f"{summary.groups} groups compared, {summary.conflicts} conflicts flagged ({summary.wall_seconds:.1f}s)"
    )
    if args.timings:
        print(f"stage seconds: {stages}")
    if summary.report_paths:
        print("report: " + "  ".join(str(p) for p in summary.report_paths))
    if args.strict and summary.quarantined:
        raise StrictModeFailure(
            f"{len(summary.quarantined)} input(s) quarantined and --strict was given (listed above; "
            'see `recon query "SELECT * FROM quarantine"`)'
        )
    return 0


def _print_frame(frame, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        print(frame.to_json(orient="records", date_format="iso", force_ascii=False))
    else:
        if frame.empty:
            print("(no rows)")
            return
        print(_table(frame))


_TABLE_CELL_CHARS = 80  # a longer value is cut, with "…", in the table format (csv and json keep it whole)


def _table(frame) -> str:
    """Rows as aligned text: text left-aligned, numbers right-aligned, each value on one line, long ones cut."""
    import pandas as pd

    def cell(value: object) -> str:
        try:
            if value is None or bool(pd.isna(value)):
                return ""
        except (TypeError, ValueError):  # a list or array value: pd.isna answers per element
            pass
        if hasattr(value, "tolist"):  # a DuckDB list arrives as a numpy array
            value = value.tolist()
        if isinstance(value, float):
            text = f"{value:.6g}"
        elif isinstance(value, pd.Timestamp) and value == value.normalize():
            text = value.date().isoformat()  # a DATE column
        else:
            text = " ".join(str(value).split())
        return text if len(text) <= _TABLE_CELL_CHARS else text[: _TABLE_CELL_CHARS - 1] + "…"

    columns = []
    for name in frame.columns:
        values = [cell(v) for v in frame[name].tolist()]
        width = max([len(str(name)), *map(len, values)])
        numeric = pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name])
        align = str.rjust if numeric else str.ljust
        columns.append([align(str(name), width), *(align(v, width) for v in values)])
    return "\n".join("  ".join(row).rstrip() for row in zip(*columns, strict=True))


def cmd_query(args: argparse.Namespace) -> int:
    from flows.warehouse import read_query

    sql = sys.stdin.read() if args.sql == "-" else args.sql
    _print_frame(read_query(Path(args.warehouse), sql), args.format)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from flows import warehouse as wh
    from flows.report.render import check_report_dir, render_report

    settings = _settings(args)
    check_report_dir(Path(args.report_dir))
    with wh.connect(Path(args.warehouse), read_only=True) as con:
        report = settings.report
        conflicts, evidence = wh.report_frames(con, report.sources_per_position, report.positions_per_card)
    paths = render_report(conflicts, evidence, Path(args.report_dir), settings=report)
    print("report: " + "  ".join(str(p) for p in paths))
    return 0


def cmd_despin(args: argparse.Namespace) -> int:
    from flows import clean, ingest
    from flows.despin.repair import repair_documents
    from flows.errors import InputError

    settings = _settings(args)
    path = Path(args.file)
    if not path.is_file():
        raise InputError(f"{path} is not a readable file")
    src = ingest.SourceFile(path.name, str(path), path.stat().st_size, path.stat().st_mtime)
    reads, bad = ingest.read_sources([src], settings.ingest)
    docs, bad2 = ingest.decode_sources(reads, {}, settings.ingest)
    if not docs:
        q = (bad + bad2)[0]
        raise InputError(f"cannot despin {path}: {q.detail}")
    cleaned = clean.clean_document(docs[0], settings.clean)
    refs: list[str] = []
    warehouse = args.warehouse
    if warehouse is None and not args.no_references and DEFAULT_WAREHOUSE.is_file():
        # the project's own warehouse is the natural set of clean references (as after `make run`)
        warehouse = str(DEFAULT_WAREHOUSE)
        _say(f"despin: using the clean documents of {DEFAULT_WAREHOUSE.relative_to(PROJECT_ROOT)} as references")
    if warehouse and not args.no_references:
        from flows import warehouse as wh

        with wh.connect(Path(warehouse), read_only=True) as con:
            refs = list(wh.reference_texts(con, exclude=[docs[0].doc_id]).values())
    repaired = repair_documents([cleaned], refs, settings.despin)[0]
    sys.stdout.write(repaired.normalized_text)
    if not repaired.normalized_text.endswith("\n"):
        sys.stdout.write("\n")
    applied = [e for e in repaired.edits if e.applied]
    _say(
        f"despin {path}: spin score {repaired.spin_score:.2f} ({'spun' if repaired.is_spun else 'clean'}), "
        f"{len(applied)} edits applied, {len(repaired.edits) - len(applied)} suggestions, {len(refs)} reference texts"
    )
    if args.edits:
        for e in repaired.edits:
            mark = "applied" if e.applied else "suggested"
            _say(f"  [{e.clean_start}:{e.clean_end}] {e.original!r} -> {e.replacement!r} ({e.rule}, {e.confidence:.2f}, {mark})")
    return 0


def cmd_conflicts(args: argparse.Namespace) -> int:
    from flows.warehouse import read_query

    where, params = [], []
    if args.verdict:
        where.append("verdict = ?")
        params.append(args.verdict)
    elif not args.all:
        where.append("verdict = 'conflict'")
    if args.kind:
        where.append("kind = ?")
        params.append(args.kind)
    sql = (
        "SELECT conflict_id, verdict, kind, severity, summary, coalesce(review_decision, '') AS review "
        "FROM conflict_status"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY CASE verdict WHEN 'conflict' THEN 0 WHEN 'compatible' THEN 1 ELSE 2 END, "
        "CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END, conflict_id"
    )
    frame = read_query(Path(args.warehouse), sql, params)
    _print_frame(frame, args.format)
    if frame.empty and args.kind:
        kinds = read_query(Path(args.warehouse), "SELECT DISTINCT kind FROM conflicts ORDER BY kind").kind.tolist()
        if args.kind not in kinds:
            sys.stdout.flush()  # the empty table first, then the hint, in a terminal and in a log
            print(f"recon conflicts: no compared group has kind {args.kind!r}; the kinds here: "
                  + (", ".join(kinds) or "none yet (run `recon run`)"), file=sys.stderr)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from flows import warehouse as wh

    decision = "accept" if args.accept else "reject" if args.reject else "resolve"
    settings = _settings(args)
    if not Path(args.warehouse).is_file():
        # a review needs conflicts to review: never create an empty warehouse for one
        from flows.errors import WarehouseError

        raise WarehouseError(f"warehouse {args.warehouse} does not exist: run `recon run` first (or pass --warehouse FILE)")
    with (
        wh.WriterLock(Path(args.warehouse), "review", settings.run.lock_timeout_s),
        wh.connect(Path(args.warehouse)) as con,
    ):
        review_id = wh.add_review(con, args.conflict_id, decision, args.resolve, args.note)
    print(f"review {review_id}: {decision} {args.conflict_id}" + (f" -> {args.resolve!r}" if args.resolve else ""))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.ops.serve import serve
    from flows.report.render import check_report_dir

    settings = _settings(args)
    check_report_dir(Path(args.report_dir))  # every scheduled run would fail on it
    cron = args.cron if args.cron or args.interval is not None else settings.ops.default_cron
    # Ctrl-C and a scheduler's SIGTERM both raise KeyboardInterrupt in the serving loop, which Prefect's serve
    # answers by shutting down (then serve lets the run in flight record its end and stops the server). Without
    # this, SIGTERM left serve running for over a minute, with its local Prefect server.
    previous = {s: signal.signal(s, _terminated) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve(Path(args.raw), Path(args.warehouse), Path(args.report_dir), settings, cron=cron, interval_s=args.interval,
              say=_say)  # fmt: skip
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from flows.ops.bench import print_bench, run_bench

    result = run_bench(
        args.docs,
        Path(args.raw),
        _settings(args),
        keep=Path(args.keep) if args.keep else None,
        runner_name=args.runner,
        workers=args.workers,
        progress=not args.quiet,
    )
    print_bench(result, as_json=args.json)
    return 0


# ---- parser ---------------------------------------------------------------------------------


def _warehouse_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--warehouse", default=str(DEFAULT_WAREHOUSE), metavar="FILE",
        help=f"DuckDB warehouse file (default: {DEFAULT_WAREHOUSE.relative_to(PROJECT_ROOT)})",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The recon argument parser with one sub-command per verb."""
    parser = argparse.ArgumentParser(
        prog="recon",
        description="Reconcile what news sources claim: parse, repair spun copy, extract claims, flag conflicts.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage, 3 input, 4 warehouse, 5 locked, 6 write refused, "
        "7 bad rule file, 8 strict-mode quarantine, 9 Prefect failure, 130 interrupted (Ctrl-C or SIGTERM), "
        "141 output closed by its reader.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="process new and changed files under raw/ and re-render the report")
    p.add_argument("--raw", default=str(DEFAULT_RAW), metavar="DIR", help="folder of articles (default: raw/)")
    _warehouse_arg(p)
    p.add_argument("--report-dir", default=str(DEFAULT_REPORTS), metavar="DIR", help="where reports go")
    p.add_argument("--runner", choices=("local", "dask"), default="local", help="task runner (default: local)")
    p.add_argument("--address", metavar="tcp://HOST:PORT", help="existing Dask scheduler for --runner dask")
    p.add_argument(
        "--workers", type=_NON_NEGATIVE, metavar="N",
        help="worker processes for the CPU-bound stages, or local Dask workers with --runner dask (default: one per core; 1: none)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=_COUNT, metavar="N", help="documents per task")
    p.add_argument("--max-file-bytes", type=_COUNT, metavar="N", help="quarantine files larger than this")
    p.add_argument("--lock-timeout", type=_SECONDS, metavar="S", help="seconds to wait for another run's lock")
    p.add_argument("--strict", action="store_true", help="exit 8 if any input was quarantined")
    p.add_argument("--timings", action="store_true", help="print seconds per stage")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("query", help="run a read-only SQL query against the warehouse")
    p.add_argument("sql", help="SQL text, or - to read it from standard input")
    _warehouse_arg(p)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("report", help="re-render the conflicts report from the warehouse")
    _warehouse_arg(p)
    p.add_argument("--report-dir", default=str(DEFAULT_REPORTS), metavar="DIR")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("despin", help="print the repaired text of a (possibly spun) article file")
    p.add_argument("file", help="article file (.txt, .md, .html)")
    p.add_argument(
        "--warehouse", default=None, metavar="FILE",
        help="use this warehouse's clean documents as references (default: warehouse/recon.duckdb when it exists)",
    )
    p.add_argument("--no-references", action="store_true", help="repair from the text alone, with no reference documents")
    p.add_argument("--edits", action="store_true", help="list every edit on standard error")
    p.set_defaults(func=cmd_despin)

    p = sub.add_parser("conflicts", help="list compared groups (flagged conflicts by default)")
    _warehouse_arg(p)
    p.add_argument("--verdict", choices=("agree", "compatible", "conflict"))
    p.add_argument("--kind", help="group kind: time, place, number, first, quote, person, value")
    p.add_argument("--all", action="store_true", help="every verdict, not only conflicts")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_conflicts)

    p = sub.add_parser("review", help="record a decision on a conflict (kept across runs)")
    p.add_argument("conflict_id")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--accept", action="store_true", help="the flag is right")
    g.add_argument("--reject", action="store_true", help="the flag is wrong")
    g.add_argument("--resolve", metavar="VALUE", type=_text, help="the true value")
    p.add_argument("--note", metavar="TEXT", type=_text)
    _warehouse_arg(p)
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("serve", help="run the pipeline on a schedule as a Prefect deployment (Ctrl-C stops)")
    p.add_argument("--raw", default=str(DEFAULT_RAW), metavar="DIR", help="folder of articles (default: raw/)")
    _warehouse_arg(p)
    p.add_argument("--report-dir", default=str(DEFAULT_REPORTS), metavar="DIR", help="where reports go")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--cron", metavar="EXPR", help='cron schedule, e.g. "*/30 * * * *" (the default)')
    g.add_argument(
        "--interval", type=_number(float, 0, above=True), metavar="SECONDS",
        help="run every SECONDS instead of on a cron schedule",
    )  # fmt: skip
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("bench", help="benchmark the pipeline on a generated corpus of N articles")
    p.add_argument("--docs", type=_COUNT, default=1000, metavar="N", help="articles to generate (default: 1000)")
    p.add_argument("--raw", default=str(DEFAULT_RAW), metavar="DIR", help="articles the corpus is generated from")
    p.add_argument("--keep", metavar="DIR", help="keep the corpus and warehouse in DIR (default: a temporary folder)")
    p.add_argument("--runner", choices=("local", "dask"), default="local", help="task runner (default: local)")
    p.add_argument(
        "--workers", type=_NON_NEGATIVE, metavar="N",
        help="worker processes for the CPU-bound stages, or local Dask workers with --runner dask (default: one per core; 1: none)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=_COUNT, metavar="N", help="documents per task")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_bench)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the recon console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    if args.command == "run" and not args.debug:
        # Prefect logs a failed flow with its traceback; the CLI says it in one line (--debug shows all)
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
    try:
        return args.func(args)
    except ReconError as err:
        if args.debug:
            traceback.print_exc()
        print(f"recon {args.command}: error: {err}", file=sys.stderr)
        _quiet_shutdown(args)
        return err.exit_code
    except KeyboardInterrupt as err:
        how = f" by {err}" if str(err) else ""
        print(f"recon {args.command}: interrupted{how}; the batch in flight was rolled back", file=sys.stderr)
        _quiet_shutdown(args)
        return EXIT_INTERRUPTED
    except BrokenPipeError as err:
        if not _stdout_closed():
            return _unexpected(args, err)
        return EXIT_PIPE_CLOSED
    except Exception as err:  # an unexpected failure still gets one line, and the way to see more
        return _unexpected(args, err)


def _unexpected(args: argparse.Namespace, err: Exception) -> int:
    if args.debug:
        traceback.print_exception(err)
    print(
        f"recon {args.command}: unexpected error: {type(err).__name__}: {err} (run with --debug for details)",
        file=sys.stderr,
    )
    _quiet_shutdown(args)
    return 1


def _stdout_closed() -> bool:
    """Whether standard output's reader has gone (``| head`` read enough); if so, stdout now writes nowhere.

    Asked of the pipe itself (poll reports an error on a pipe nobody reads), not by writing again: the
    failed write has dropped what was buffered. The rest of the output goes to /dev/null, so Python's
    flush at exit cannot fail a second time. A broken pipe elsewhere (a worker's) leaves stdout
    readable and stays an unexpected error.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a non-file (a test's capture)
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    if not any(events & select.POLLERR for _, events in poller.poll(0)):
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return True


# Prefect logs a failed flow or task with its traceback, whatever PREFECT_LOGGING_LEVEL says, and its
# engine logs "Crash detected! Execution was aborted by a termination signal." when a SIGTERM lands while
# its own handler is installed (about one SIGTERM in a dozen in tests/reliability; the rest land in ours)
PREFECT_ERROR_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.engine")


def quiet_prefect_errors() -> None:
    """Keep Prefect's own error logs off stderr: the error reaches the user as one line (--debug shows all)."""
    for name in PREFECT_ERROR_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _by_termination_signal(err: BaseException) -> bool:
    """Whether a flow failure was Prefect's own SIGTERM handling (it replaces ours while a flow runs)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [err]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if type(e).__name__ == "TerminationSignal":  # prefect.exceptions; only pipeline.py imports Prefect
            return True
        stack += [e.__cause__, e.__context__]
    return False


def _terminated(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _quiet_shutdown(args: argparse.Namespace) -> None:
    """After a failed flow, keep interpreter shutdown from adding noise below the one error line.

    Prefect keeps the failed run's state (and through its traceback the DuckDB connection) alive
    until exit, and DuckDB's bindings then print dozens of "nanobind: leaked ..." lines. The error
    has been said; with --debug everything is shown.
    """
    if not _flow_started or args.debug:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())


if __name__ == "__main__":
    sys.exit(main())
