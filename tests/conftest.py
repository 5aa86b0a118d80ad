"""Shared test fixtures: seed paths and the one session-wide Prefect harness."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RAW = REPO / "raw"
SHARED = REPO.parent / "shared"
SEEDS = sorted(RAW.glob("*.txt"))


@pytest.fixture(scope="session")
def prefect_harness():
    """A throwaway Prefect API (temporary server, temporary database) for the whole session."""
    from flows.pipeline import configure_prefect_env

    configure_prefect_env()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def seed_raw(tmp_path: Path) -> Path:
    """A private copy of the seed raw folder that a test may change."""
    dest = tmp_path / "raw"
    dest.mkdir()
    for p in SEEDS:
        shutil.copy2(p, dest / p.name)
    return dest


@pytest.fixture
def seed_texts() -> dict[str, str]:
    """Seed file name -> text."""
    return {p.name: p.read_text(encoding="utf-8") for p in SEEDS}


def pytest_report_header(config):
    return f"prefect home: {os.environ.get('PREFECT_HOME', '(default)')}"
