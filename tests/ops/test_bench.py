"""`recon bench`: the generated corpus is reproducible and varied, and the figures come out as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.ops.bench import generate_corpus, peak_rss, print_bench, run_bench
from flows.settings import Settings

RAW = Path(__file__).resolve().parents[2] / "raw"


def _corpus(path: Path, n: int) -> dict[str, str]:
    generate_corpus(RAW, path, n, Settings().ops)
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(path.iterdir())}


def test_corpus_is_reproducible_and_varies_names_years_and_outlets(tmp_path):
    a = _corpus(tmp_path / "a", 40)
    assert a == _corpus(tmp_path / "b", 40)
    articles = {k: v for k, v in a.items() if k != "sources.csv"}
    assert len(articles) == 40
    seeds = [p.read_text(encoding="utf-8") for p in sorted(RAW.glob("*.txt"))]
    assert not any(text in seeds for text in articles.values())  # every article is varied
    assert len(set(articles.values())) == 40
    outlets = {line.split(",")[1] for line in a["sources.csv"].splitlines()[1:]}
    assert len(outlets) > 5


def test_generating_leaves_no_wordfreq_table_in_the_process_it_then_measures(tmp_path):
    import wordfreq

    for cached in (wordfreq.top_n_list, wordfreq.get_frequency_dict, wordfreq.get_frequency_list):
        cached.cache_clear()
    a = _corpus(tmp_path / "a", 10)
    assert wordfreq.get_frequency_dict.cache_info().currsize == 0  # 27 MB the benchmark's peak would count
    assert a == _corpus(tmp_path / "b", 10)  # the seed names do not depend on what was cached


def test_spun_share_follows_the_setting(tmp_path):
    ops = Settings().ops
    none = Settings().override("ops", bench_spun_share=0.0).ops
    spun, _ = generate_corpus(RAW, tmp_path / "a", 200, ops)
    assert 0.1 * 200 < spun < 0.4 * 200  # default share 0.25
    assert generate_corpus(RAW, tmp_path / "b", 20, none)[0] == 0


def test_peak_rss_counts_child_processes():
    with peak_rss(0.05) as alone:
        pass
    code = "b = bytearray(300 * 2**20); import time; time.sleep(1.0)"
    with peak_rss(0.05) as with_child:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert with_child.rss_mb > alone.rss_mb + 250
    assert with_child.pss_mb > alone.pss_mb + 250


def test_peak_rss_reads_pss_only_when_rss_reaches_a_new_high(monkeypatch):
    # reading PSS walks every page of a process (12 ms for 900 MB): read at every sample, the sampler
    # took 4% of the CPU of the run it measured
    import psutil

    calls = {"samples": 0, "pss": 0}
    children, full = psutil.Process.children, psutil.Process.memory_full_info

    def counted(kind, fn):
        def wrapper(self, *args, **kwargs):
            calls[kind] += 1
            return fn(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(psutil.Process, "children", counted("samples", children))  # once per sample
    monkeypatch.setattr(psutil.Process, "memory_full_info", counted("pss", full))
    with peak_rss(0.01) as peak:
        block = bytearray(64 * 2**20)  # one new high, then a flat process
        deadline = time.monotonic() + 2.0
        while calls["samples"] < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
    del block
    assert calls["samples"] >= 60
    assert calls["pss"] <= calls["samples"] // 3
    assert peak.rss_mb >= peak.pss_mb > 60


@pytest.mark.e2e
def test_bench_runs_the_pipeline_and_ends_with_a_json_line(prefect_harness, capsys):
    result = run_bench(16, RAW, Settings(), progress=True, workers=1)
    print_bench(result, as_json=True)
    out = capsys.readouterr().out
    # the run's progress lines reach the bar (a bar passed as a flow parameter was closed by Prefect's encoder)
    assert "ingest: 16 inputs" in out and "reconcile: " in out
    last = out.strip().splitlines()[-1]
    figures = json.loads(last)
    assert figures["docs"] == 16 and figures["processed"] == 16
    assert figures["docs_per_s"] > 0 and figures["peak_rss_mb"] >= figures["peak_pss_mb"] > 50 and figures["noop_rerun_s"] >= 0
    assert {"extract", "reconcile", "report"} <= set(figures["stage_seconds"])
