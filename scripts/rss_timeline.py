"""Memory over a pipeline run: RSS of the flow process and of every child, sampled while it runs.

Run: .venv/bin/python scripts/rss_timeline.py RAW_DIR [INTERVAL_S]
A corpus to try it on: `recon bench --docs 5000 --keep /tmp/b` leaves one in /tmp/b/raw.
Runs the pipeline into a fresh warehouse in a temporary folder and prints the peak RSS per role
(flow process, Prefect server, worker processes), the peak of the sum, and a timeline of the sum
and of the flow process with the progress lines, so a growth can be placed in its phase.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _role(proc: psutil.Process, me: int) -> str:
    if proc.pid == me:
        return "flow process"
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "other"
    if "uvicorn" in cmd or ("prefect" in cmd and "server" in cmd):
        return "prefect server"
    if "forkserver" in cmd or "multiprocessing" in cmd:
        return "workers"
    return "other"


def main() -> None:
    # imported here, not at the top: the pool's worker processes import this script as their main
    # module, and a top-level import would load Prefect, DuckDB and pandas into each (about 95 MB),
    # which `recon run` workers do not carry
    from flows.pipeline import run_pipeline
    from flows.settings import load_settings

    if len(sys.argv) < 2:
        sys.exit(__doc__)
    raw, interval = Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
    me = psutil.Process()
    peaks: dict[str, float] = {}
    samples: list[tuple[float, float, float]] = []  # (seconds, sum MB, flow process MB)
    lines: list[tuple[float, str]] = []
    stop = threading.Event()
    t0 = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            per_role: dict[str, float] = {}
            for proc in [me, *me.children(recursive=True)]:
                try:
                    mb = proc.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                role = _role(proc, me.pid)
                per_role[role] = per_role.get(role, 0.0) + mb
            for role, mb in per_role.items():
                peaks[role] = max(peaks.get(role, 0.0), mb)
            samples.append((time.perf_counter() - t0, sum(per_role.values()), per_role.get("flow process", 0.0)))
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_pipeline(
            raw, Path(tmp) / "w.duckdb", Path(tmp) / "report", load_settings(),
            progress=lambda msg: lines.append((time.perf_counter() - t0, msg)),
        )  # fmt: skip
    stop.set()
    thread.join()
    total = max((s for _t, s, _f in samples), default=0.0)
    print(f"{summary.processed} documents in {time.perf_counter() - t0:.1f} s; peak RSS summed {total:.0f} MB")
    print("peak per role: " + ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(peaks.items())))
    events = iter(lines)
    pending = next(events, None)
    step = max(1, len(samples) // 30)
    for t, s, f in samples[::step]:
        while pending is not None and pending[0] <= t:
            print(f"{pending[0]:7.1f} s  {pending[1]}")
            pending = next(events, None)
        print(f"{t:7.1f} s  sum {s:6.0f} MB  flow process {f:6.0f} MB")


if __name__ == "__main__":
    main()
