"""CLI errors: one clear line with a documented exit code, a traceback only with --debug."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from flows import cli, errors
from flows import warehouse as wh

REPO = Path(__file__).resolve().parent.parent


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"recon {command}: error: ") and "Traceback" not in err
    return lines[0]


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    with wh.connect(path):
        pass
    return path


@pytest.mark.parametrize(
    "sql",
    ["DELETE FROM documents", "DROP TABLE claims", "SELECT 1; INSERT INTO runs (run_id) VALUES ('x')", "ATTACH 'x.db'"],
)
def test_query_refuses_writes_with_exit_6(capsys, empty_db, sql):
    code, out, err = _run(capsys, "query", sql, "--warehouse", str(empty_db))
    assert code == errors.ReadOnlyViolation.exit_code == 6
    assert "only reads; refused the" in _one_line_error(err, "query") and not out


def test_query_reads_from_stdin_and_prints_csv_with_a_header(capsys, empty_db, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("SELECT count(*) AS n FROM documents"))
    code, out, err = _run(capsys, "query", "-", "--warehouse", str(empty_db), "--format", "csv")
    assert code == 0 and out.splitlines() == ["n", "0"], (out, err)


@pytest.mark.parametrize(
    ("argv", "command", "code", "words"),
    [
        (["query", "SELEC 1"], "query", 4, "does not parse"),
        (["query", "SELECT nope FROM documents"], "query", 4, "query failed"),
        (["conflicts", "--warehouse", "{missing}"], "conflicts", 4, "does not exist"),
        (["report", "--warehouse", "{missing}"], "report", 4, "does not exist"),
        (["review", "c1", "--accept", "--warehouse", "{missing}"], "review", 4, "does not exist"),
        (["review", "c1", "--accept"], "review", 4, "no conflict with id 'c1'"),
        (["run", "--raw", "{missing}"], "run", 3, "does not exist"),
        (["despin", "{missing}"], "despin", 3, "not a readable file"),
    ],
)
def test_errors_are_one_line_with_their_exit_code(capsys, empty_db, tmp_path, argv, command, code, words):
    missing = str(tmp_path / "missing")
    argv = [a.replace("{missing}", missing) for a in argv]
    if "--warehouse" not in argv and command != "run" and command != "despin":
        argv += ["--warehouse", str(empty_db)]
    got, _out, err = _run(capsys, *argv)
    assert got == code, err
    assert words in _one_line_error(err, command)
    assert not Path(missing).exists(), "an error path created nothing"


def test_a_file_that_is_not_a_warehouse_is_exit_4_with_what_to_do(capsys, tmp_path):
    junk = tmp_path / "notes.duckdb"
    junk.write_text("not a database\n")
    code, _out, err = _run(capsys, "query", "SELECT 1", "--warehouse", str(junk))
    assert code == 4
    assert "not a valid DuckDB database" in _one_line_error(err, "query") and "move it aside" in err
    assert junk.read_text() == "not a database\n"


def test_a_bad_setting_is_a_usage_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("RECON_INGEST_MAX_FILE_BYTES", "lots")
    code, _out, err = _run(capsys, "run", "--raw", str(tmp_path))
    assert code == errors.ConfigError.exit_code == 2
    assert "RECON_INGEST_MAX_FILE_BYTES" in _one_line_error(err, "run")


@pytest.mark.parametrize(
    ("argv", "env", "words"),
    [
        (["--batch-size", "0"], {}, "--batch-size: '0' is out of range: it must be at least 1"),
        (["--workers", "-2"], {}, "--workers: '-2' is out of range: it must be at least 0"),
        (["--max-file-bytes", "-1"], {}, "--max-file-bytes: '-1' is out of range"),
        (["--lock-timeout", "nan"], {}, "--lock-timeout: 'nan' is out of range"),
        ([], {"RECON_INGEST_MAX_FILE_BYTES": "-1"}, "setting ingest.max_file_bytes = -1 is out of range"),
    ],
)
def test_a_value_out_of_range_stops_the_run_before_it_touches_anything(capsys, tmp_path, monkeypatch, argv, env, words):
    # before, --batch-size -5 ended "0 documents processed" with exit 0, and --max-file-bytes -1
    # quarantined every file and took its claims out of the warehouse
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("Jane Roe said on Monday that the bridge would open.\n")
    warehouse = tmp_path / "w.duckdb"
    try:
        code = cli.main(["run", "--raw", str(raw), "--warehouse", str(warehouse), "--report-dir", str(tmp_path / "r"), *argv])
    except SystemExit as exc:  # argparse ends a usage error itself
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"], "nothing was written"


def test_an_unexpected_failure_is_one_line_and_debug_shows_the_traceback(capsys, empty_db, monkeypatch):
    def broken(*_a, **_k):
        raise KeyError("something the code did not expect")

    monkeypatch.setattr(wh, "read_query", broken)
    code, _out, err = _run(capsys, "query", "SELECT 1", "--warehouse", str(empty_db))
    assert code == 1
    line = err.strip()
    assert "\n" not in line and "unexpected error: KeyError" in line and "--debug" in line
    code, _out, err = _run(capsys, "--debug", "query", "SELECT 1", "--warehouse", str(empty_db))
    assert code == 1 and "Traceback (most recent call last)" in err


HOLD_OPEN = """
import sys, duckdb
con = duckdb.connect({db!r})
print("open", flush=True)
sys.stdin.readline()
"""


def test_query_while_a_run_writes_is_exit_5_naming_the_holder(capsys, empty_db):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN.format(db=str(empty_db))], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        code, _out, err = _run(capsys, "query", "SELECT 1", "--warehouse", str(empty_db))
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(5)
    assert code == errors.WarehouseLocked.exit_code == 5
    line = _one_line_error(err, "query")
    assert "is being written" in line and f"PID {holder.pid}" in line and "try again" in line


def _documented_codes(text: str) -> dict[int, str]:
    """'0 ok, 1 error, ... 130 interrupted.' -> {0: 'ok', 1: 'error', ...}"""
    parts = [m.groups() for m in (re.match(r"\s*(\d+) (.+)", part) for part in text.rstrip(". ").split(",")) if m]
    return {int(n): what.strip() for n, what in parts}


def test_readme_cli_help_and_docstring_agree_with_the_errors_module():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    sentence = re.search(r"Exit codes: (.*?)\n\n", readme, re.S).group(1).replace("\n", " ")
    documented = _documented_codes(sentence)
    classes = {cls.exit_code: cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.ReconError)}
    expected = set(classes) | {0, cli.EXIT_USAGE, cli.EXIT_INTERRUPTED, cli.EXIT_PIPE_CLOSED}
    assert set(documented) == expected, (documented, sorted(expected))
    epilog = cli.build_parser().epilog
    assert set(_documented_codes(epilog.removeprefix("Exit codes: "))) == expected
    assert all(f"{code} " in cli.__doc__ for code in expected)


def test_a_reader_that_stops_early_ends_the_output_quietly(empty_db: Path) -> None:
    """`recon query ... | head`: the reader goes away; recon exits 141 like a shell tool, without an error."""
    sql = "SELECT range AS n FROM range(200000)"  # far more than a pipe buffers
    proc = subprocess.Popen([sys.executable, "-m", "flows", "query", sql, "--warehouse", str(empty_db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    first = proc.stdout.readline()
    proc.stdout.close()  # as head does after its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == cli.EXIT_PIPE_CLOSED == 141
    assert first.split() == [b"n"] and err == ""


@pytest.mark.parametrize("argv", [["--resolve", ""], ["--resolve", "   "], ["--accept", "--note", " "]])
def test_a_review_with_an_empty_value_or_note_is_refused_before_the_warehouse(capsys, empty_db, argv):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["review", "c1", *argv, "--warehouse", str(empty_db)])
    assert exit_.value.code == cli.EXIT_USAGE
    assert "must not be empty" in capsys.readouterr().err


@pytest.mark.parametrize(("decision", "value"), [("resolve", None), ("resolve", " "), ("accept", "x"), ("ok", None)])
def test_add_review_refuses_a_decision_without_its_value_and_writes_nothing(empty_db, decision, value):
    with wh.connect(empty_db) as con:
        with pytest.raises(errors.InputError, match="review"):
            wh.add_review(con, "c1", decision, value, None)
        assert con.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


def test_conflicts_of_a_kind_no_group_has_says_which_kinds_there_are(capsys, empty_db):
    code, out, err = _run(capsys, "conflicts", "--kind", "nosuch", "--warehouse", str(empty_db))
    assert code == 0 and out.strip() == "(no rows)"
    assert "no compared group has kind 'nosuch'" in err and "none yet" in err


@pytest.mark.parametrize("command", ["run", "report"])
def test_a_report_folder_that_is_a_file_is_refused_before_any_work(capsys, empty_db, tmp_path, command):
    """`--report-dir` naming a file (or a path under one) stops the command at once with one line, exit 3."""
    taken = tmp_path / "taken"
    taken.write_text("not a folder", encoding="utf-8")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("A short article about a bridge that opened on Tuesday.", encoding="utf-8")
    extra = ["--raw", str(raw)] if command == "run" else []
    for report_dir in (taken, taken / "reports"):
        code, _out, err = _run(capsys, command, *extra, "--warehouse", str(empty_db), "--report-dir", str(report_dir))
        assert code == errors.InputError.exit_code == 3
        assert f"{taken} is a file" in _one_line_error(err, command)
    with wh.connect(empty_db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 0  # the run did nothing


def test_a_warehouse_under_a_file_is_one_line_exit_4(capsys, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("not a folder", encoding="utf-8")
    raw = tmp_path / "raw"
    raw.mkdir()
    code, _out, err = _run(capsys, "run", "--raw", str(raw), "--warehouse", str(taken / "w.duckdb"),
                           "--report-dir", str(tmp_path / "r"))
    assert code == errors.WarehouseError.exit_code == 4
    assert "cannot be made" in _one_line_error(err, "run") and taken.read_text(encoding="utf-8") == "not a folder"


def test_the_table_format_aligns_text_left_and_numbers_right_and_cuts_long_values():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "summary": ["short", "x" * 200 + " tail", None],
            "n": [7, 12345, 3],
            "share": [0.5910000000000001, 1.0, float("nan")],
            "values": [["agree", "conflict"], [], ["agree"]],
        }
    )
    lines = cli._table(frame).splitlines()
    assert len(lines) == 4
    header, first, second, third = lines
    assert header.startswith("summary ") and first.startswith("short ")  # text: left-aligned
    n_end = header.index(" n") + 2
    assert first[:n_end].endswith("    7") and second[:n_end].endswith("12345")  # numbers: right-aligned
    assert "0.591 " in first and "0.5910000000000001" not in first
    assert "x" * 79 + "…" in second and "tail" not in second
    assert "['agree', 'conflict']" in first
    assert third.startswith(" " * len("x" * 79 + "…"))  # NULL text: blank


def test_prefects_own_error_logs_stay_off_stderr_so_an_interrupted_run_ends_in_one_line(capfd):
    """A SIGTERM that lands while a flow runs made Prefect's engine log a crash line before ours (a flaky
    test_a_run_stopped_by_sigterm_ends_in_order); with --debug everything is shown, so this is the default."""
    import logging

    import flows.pipeline  # noqa: F401  (configures Prefect's logging as a run does)

    before = {name: logging.getLogger(name).level for name in cli.PREFECT_ERROR_LOGGERS}
    try:
        cli.quiet_prefect_errors()
        capfd.readouterr()
        logging.getLogger("prefect.engine").error("Crash detected! Execution was aborted by a termination signal.")
        logging.getLogger("prefect.flow_runs").error("Finished in state Failed")
        out, err = capfd.readouterr()
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
    assert "Crash detected" not in out + err and "Finished in state" not in out + err
