"""Scheduled runs: serve the ``reconcile`` flow as a Prefect deployment against a real Prefect server.

Needs: raw/warehouse/report paths, a cron string or an interval, Settings (ops section) and a Prefect
server: the user's (PREFECT_API_URL) or a local one this module starts on loopback and stops on exit,
because Prefect's temporary server has no scheduler.
Adds: a deployment ``reconcile/<deployment_name>`` whose scheduled runs execute in subprocesses of
this process, each one a normal ``recon run`` of the folder (unchanged files are skipped).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path

from flows.errors import ConfigError
from flows.ops.server import DEFAULT_HOME, prefect_api
from flows.settings import Settings


def prefect_home() -> Path:
    """The Prefect home a local server keeps its database in: $PREFECT_HOME or the project's .prefect/."""
    return Path(os.environ.get("PREFECT_HOME") or DEFAULT_HOME)


def deployment_parameters(raw_dir: Path, warehouse: Path, report_dir: Path) -> dict[str, str]:
    """The JSON parameters every scheduled run of ``reconcile`` receives (absolute paths: runs start elsewhere)."""
    return {
        "raw_dir": str(Path(raw_dir).resolve()),
        "warehouse": str(Path(warehouse).resolve()),
        "report_dir": str(Path(report_dir).resolve()),
    }


def serve(
    raw_dir: Path,
    warehouse: Path,
    report_dir: Path,
    settings: Settings,
    *,
    cron: str | None = None,
    interval_s: float | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Serve ``reconcile`` on a schedule until interrupted (Ctrl-C or SIGTERM), then stop what was started."""
    if (cron is None) == (interval_s is None):
        raise ConfigError("recon serve needs exactly one of --cron EXPR or --interval SECONDS")
    if interval_s is not None and interval_s <= 0:
        raise ConfigError(f"--interval must be a positive number of seconds, not {interval_s:g}")
    ops = settings.ops
    params = deployment_parameters(raw_dir, warehouse, report_dir)
    with prefect_api(ops, prefect_home(), say=say) as api_url:
        # Prefect reads its settings once at import; the server URL is known only now
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_RUNNER_POLL_FREQUENCY,
            PREFECT_UI_URL,
            temporary_settings,
        )
        from prefect.types.entrypoint import EntrypointType

        if cron is not None:
            check_cron(cron)

        from flows.pipeline import reconcile

        updates = {PREFECT_API_URL: api_url, PREFECT_RUNNER_POLL_FREQUENCY: max(1, round(ops.runner_poll_s))}
        with temporary_settings(updates=updates):
            ui = PREFECT_UI_URL.value()
            say(f"Prefect API: {api_url}")
            say(f"Prefect UI: {ui}  (deployment reconcile/{ops.deployment_name}; runs under {ui}/runs)")
            when = f"cron {cron!r}" if cron is not None else f"every {interval_s:g} s"
            say(f"serving reconcile/{ops.deployment_name} {when} over {params['raw_dir']}; Ctrl-C stops")
            try:
                reconcile.serve(
                    name=ops.deployment_name,
                    cron=cron,
                    interval=interval_s,
                    parameters=params,
                    description="Bring the warehouse up to date with the raw folder and re-render the report.",
                    # the flow is imported by module path in each run's subprocess, whatever its working directory
                    entrypoint_type=EntrypointType.MODULE_PATH,
                    print_starting_message=False,
                    pause_on_shutdown=True,
                    limit=1,  # one writer: a run still going when the next is due makes the next one wait
                )
            finally:
                _wait_for_runs(ops.run_stop_timeout_s, say)
    say("serve stopped")


def _wait_for_runs(timeout_s: float, say: Callable[[str], None]) -> None:
    """Let the flow runs still in flight (the runner's child processes) record how they ended, then end them.

    Prefect's serve returns on Ctrl-C while a run it started may still be reporting its crash to the
    server; stopping the server under it left that run retrying the API for minutes and this process
    waiting for it at exit.
    """
    deadline = time.monotonic() + timeout_s
    running = multiprocessing.active_children()
    if running:
        say(f"waiting up to {timeout_s:g} s for {len(running)} run(s) in flight to record their end")
    for child in running:
        child.join(max(0.0, deadline - time.monotonic()))
    for child in multiprocessing.active_children():
        child.terminate()
        child.join(5)


def check_cron(cron: str) -> None:
    """Refuse a cron expression Prefect would refuse (its own schedule model judges), as a ConfigError.

    Prefect is imported only once the server is known (it reads its settings at import), so this runs
    after the server started; Prefect's own error is a many-line pydantic report.
    """
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron)
    except ValidationError as err:
        why = "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in err.errors())
        raise ConfigError(f"--cron {cron!r} is not a schedule: {why} (five fields: minute hour day month weekday)") from None
