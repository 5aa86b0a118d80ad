"""`recon serve` against a local Prefect server it starts itself: a scheduled run must complete."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from flows.errors import ConfigError
from flows.ops.serve import check_cron

pytestmark = pytest.mark.server

DEADLINE_S = 150  # a fresh server migrates its database (~16 s), then a 5 s schedule fires; generous for a busy box
SHUTDOWN_S = 40  # Ctrl-C to exit, in-flight run included


def _kill_orphan_server(seen: list[str]) -> None:
    """End the local server a serving process started, when that process was killed before it could."""
    import psutil

    ports = [line.split("/api")[0].rsplit(":", 1)[-1] for line in seen if line.startswith("Prefect API: http://127.0.0.1:")]
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "server" in cmd and "start" in cmd and any(port in cmd for port in ports):
            p.kill()


def _lines(proc: subprocess.Popen) -> queue.Queue:
    q: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            q.put(line.rstrip("\n"))
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return q


def _wait_for_line(q: queue.Queue, prefix: str, deadline: float, seen: list[str]) -> str:
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError("recon serve exited early:\n" + "\n".join(seen[-40:]))
        seen.append(line)
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise AssertionError(f"no {prefix!r} line before the deadline:\n" + "\n".join(seen[-40:]))


def _completed_runs(api_url: str, deployment: str) -> list[dict]:
    body = json.dumps(
        {
            "deployments": {"name": {"any_": [deployment]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED", "CRASHED"]}}},
        }
    ).encode()
    req = urllib.request.Request(
        f"{api_url}/flow_runs/filter", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_a_scheduled_run_completes(seed_raw: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh" / "recon.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "RECON_OPS_RUNNER_POLL_S": "1",
            "RECON_OPS_DEPLOYMENT_NAME": "test-scheduled",
            "PYTHONUNBUFFERED": "1",
        }
    )
    cmd = [sys.executable, "-m", "flows.cli", "serve", "--interval", "5", "--raw", str(seed_raw),
           "--warehouse", str(warehouse), "--report-dir", str(tmp_path / "reports")]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        lines = _lines(proc)
        api_url = _wait_for_line(lines, "Prefect API:", deadline, seen)
        assert api_url.startswith("http://127.0.0.1:")
        finished: list[dict] = []
        while time.monotonic() < deadline and not finished:
            finished = _completed_runs(api_url, "test-scheduled")
            while not lines.empty():
                line = lines.get_nowait()
                if line is not None:
                    seen.append(line)
            time.sleep(0.5)
        assert finished, "no scheduled run finished before the deadline:\n" + "\n".join(seen[-40:])
        states = [r["state"]["type"] for r in finished]
        assert "COMPLETED" in states, f"scheduled runs ended {states}:\n" + "\n".join(seen[-40:])
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            # the run in flight records its end and the server stops: 2-4 s measured, 40 s on a busy box
            proc.wait(timeout=SHUTDOWN_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            _kill_orphan_server(seen)  # its own session: a killed serving process cannot stop it
    assert proc.returncode == 0, "\n".join(seen[-40:])
    # the local server is gone with the serving process
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{api_url}/health", timeout=2)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("SELECT status, n_processed FROM runs WHERE status = 'succeeded' ORDER BY started_at").fetchall()
    finally:
        con.close()
    assert rows and rows[0][1] == len(list(seed_raw.glob("*.txt")))


@pytest.mark.parametrize("cron", ["bad cron", "61 * * * *", "* * * *", "*/5 * * * * * * *"])
def test_a_cron_prefect_refuses_is_a_one_line_config_error(cron: str) -> None:
    with pytest.raises(ConfigError, match="is not a schedule") as err:
        check_cron(cron)
    assert "\n" not in str(err.value) and cron in str(err.value)


@pytest.mark.parametrize("cron", ["*/30 * * * *", "0 6 * * mon-fri", "@hourly"])
def test_a_cron_prefect_accepts_passes(cron: str) -> None:
    check_cron(cron)


def test_stopping_serve_lets_a_run_in_flight_finish_then_ends_one_that_does_not() -> None:
    """Ctrl-C: a run still recording its end gets time to do so before the server stops; one that
    keeps going past run_stop_timeout_s is ended, so serve itself cannot hang at exit waiting for it."""
    import multiprocessing

    from flows.ops.serve import _wait_for_runs

    ctx = multiprocessing.get_context("spawn")  # as Prefect's runner starts flow runs
    said: list[str] = []
    quick = ctx.Process(target=time.sleep, args=(1.0,))
    quick.start()
    _wait_for_runs(30.0, said.append)
    assert quick.exitcode == 0, "the run that finished in time ended on its own"
    assert said and "1 run(s) in flight" in said[0]

    stuck = ctx.Process(target=time.sleep, args=(120.0,))
    stuck.start()
    t0 = time.monotonic()
    _wait_for_runs(1.0, said.append)
    assert stuck.exitcode == -signal.SIGTERM and time.monotonic() - t0 < 15
    assert not multiprocessing.active_children()
