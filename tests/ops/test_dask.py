"""`recon run --runner dask`: the per-batch stages run on a local multi-process Dask cluster through
prefect-dask and land in the warehouse exactly as a local run puts them there."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flows.settings import Settings

pytestmark = pytest.mark.e2e


def _rows(db: Path) -> dict[str, object]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            "docs": sorted(con.execute("SELECT doc_id, is_spun FROM documents").fetchall()),
            "claims": con.execute("SELECT count(*) FROM claims").fetchone()[0],
            "runner": con.execute("SELECT runner, status FROM runs ORDER BY started_at").fetchall(),
        }


@pytest.fixture(scope="module")
def local_run(prefect_harness, tmp_path_factory):
    from flows.pipeline import run_pipeline

    root = tmp_path_factory.mktemp("local")
    raw = Path(__file__).resolve().parents[2] / "raw"
    run_pipeline(raw, root / "recon.duckdb", root / "reports", Settings(), runner_name="local", workers=1)
    return raw, _rows(root / "recon.duckdb")


def test_dask_runner_on_a_local_process_cluster_matches_the_local_runner(local_run, tmp_path):
    from flows.pipeline import run_pipeline

    raw, expected = local_run
    summary = run_pipeline(raw, tmp_path / "recon.duckdb", tmp_path / "reports", Settings(), runner_name="dask", workers=2)
    got = _rows(tmp_path / "recon.duckdb")
    assert summary.processed == 3 and not summary.quarantined
    assert got["docs"] == expected["docs"] and got["claims"] == expected["claims"]
    assert got["runner"] == [("dask", "succeeded")]
    assert (tmp_path / "reports" / "conflicts.html").exists()


def test_dask_runner_uses_an_existing_cluster_by_address(local_run, tmp_path, monkeypatch):
    from distributed import Client, LocalCluster
    from prefect.settings import PREFECT_API_URL

    from flows.pipeline import run_pipeline

    raw, expected = local_run
    # workers of an existing cluster must already know the Prefect API (they are not our children)
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = run_pipeline(
            raw, tmp_path / "recon.duckdb", tmp_path / "reports", Settings(), runner_name="dask",
            address=cluster.scheduler_address,
        )  # fmt: skip
        with Client(cluster) as client:
            # a worker that ran a batch has imported the batch module; this process never ran one
            ran = client.run(lambda: "flows.ops.batch" in __import__("sys").modules)
    got = _rows(tmp_path / "recon.duckdb")
    assert len(ran) == 2 and any(ran.values()), ran
    assert summary.processed == 3
    assert got["docs"] == expected["docs"] and got["claims"] == expected["claims"]
