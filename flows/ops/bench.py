"""``recon bench``: generate a corpus of N articles from raw/, run the pipeline on it, report speed and memory.

Needs: a folder of seed articles, Settings (the ops section drives the generator) and a task runner.
Adds: a reproducible synthetic corpus (stories of a few articles that share varied names, with
years, numbers and outlets varied per article and a share of copies passed through a word spinner
from flows/rules/bench/), then the figures: per-stage seconds, articles per second of the first run,
peak RSS of this process and its children, and the time of an unchanged re-run.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
from tqdm import tqdm
from wordfreq import zipf_frequency

from flows.errors import InputError
from flows.ingest import HTML_EXTENSIONS
from flows.rules import load_table, wordfreq_for_now
from flows.settings import OpsSettings, Settings

SEED_SUFFIXES = (".txt", ".md", *HTML_EXTENSIONS)
_CAP_WORD = re.compile(r"\b[A-Z][a-z]{2,}\b")
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_NUMBER = re.compile(r"(?<![\d.,])\b([1-9]\d{0,5})\b(?![\d.,]\d)")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_LOAD_LINE = re.compile(r"^load: (?:spun )?batch \d+/\d+ committed \((\d+) documents")


@dataclass
class BenchResult:
    """The figures of one benchmark."""

    docs: int
    spun_copies: int
    corpus_mb: float
    generate_s: float
    run_s: float
    docs_per_s: float
    peak_rss_mb: float
    peak_pss_mb: float
    noop_rerun_s: float
    processed: int
    quarantined: int
    claims: int
    groups: int
    conflicts: int
    runner: str
    workers: int | None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    kept: str | None = None


# ---- corpus ---------------------------------------------------------------------------------


def _syllable_names(rng: random.Random, n: int) -> list[str]:
    """n distinct pronounceable capitalised names (consonant-vowel syllables): no real person's name list."""
    consonants = "bdfgklmnprstvz"
    vowels = "aeiou"
    names: set[str] = set()
    while len(names) < n:
        k = rng.choice((2, 2, 3))
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(k))
        if rng.random() < 0.5:
            word += rng.choice("nrs")
        names.add(word.capitalize())
    return sorted(names)


@dataclass(frozen=True)
class _SpinRule:
    original: tuple[str, ...]
    garbled: tuple[str, ...]
    p: float


def _spin_rules() -> dict[str, list[_SpinRule]]:
    by_first: dict[str, list[_SpinRule]] = {}
    for row in load_table("bench/spinner_forward.tsv", ("original", "garbled", "p")):
        if row["original"].startswith("~"):
            continue  # in-word splices: the whole-word dictionary is enough load for a benchmark
        rule = _SpinRule(tuple(row["original"].split()), tuple(row["garbled"].split("|")), float(row["p"]))
        by_first.setdefault(rule.original[0], []).append(rule)
    for rules in by_first.values():
        rules.sort(key=lambda r: -len(r.original))
    return by_first


def spin_text(text: str, rng: random.Random, rate: float, rules: dict[str, list[_SpinRule]]) -> str:
    """A spun copy: dictionary words swapped for the spinner's wording with probability p * rate."""
    words = list(_WORD.finditer(text))
    out: list[str] = []
    cur = k = 0
    while k < len(words):
        w = words[k]
        for rule in rules.get(w.group().lower(), ()):
            n = len(rule.original)
            span = words[k : k + n]
            if len(span) < n or any(s.group().lower() != o for s, o in zip(span, rule.original, strict=True)):
                continue
            if rng.random() < rule.p * rate:
                new = rng.choice(rule.garbled)
                if w.group()[:1].isupper():
                    new = new[:1].upper() + new[1:]
                out.append(text[cur : span[0].start()])
                out.append(new)
                cur = span[-1].end()
                k += n - 1
            break
        k += 1
    out.append(text[cur:])
    return "".join(out)


def _vary(text: str, rng: random.Random, names: dict[str, str], year_shift: int, ops: OpsSettings) -> str:
    """One article of a story: the story's names, its year shift, a per-article jitter of some numbers."""
    text = _CAP_WORD.sub(lambda m: names.get(m.group(), m.group()), text)
    own_shift = year_shift + (rng.choice((-1, 1)) if rng.random() < 0.2 else 0)
    text = _YEAR.sub(lambda m: str(int(m.group()) + own_shift), text)

    def jitter(m: re.Match) -> str:
        x = int(m.group(1))
        if 1900 <= x <= 2100 or rng.random() > 0.3:
            return m.group(1)
        return str(max(1, round(x * (1 + rng.uniform(-ops.bench_number_jitter, ops.bench_number_jitter)))))

    return _NUMBER.sub(jitter, text)


def _seed_names(texts: list[str], max_zipf: float) -> list[str]:
    """Capitalised words of the seeds that are rare as ordinary words: the names a story renames."""
    words = {m.group() for t in texts for m in _CAP_WORD.finditer(t)}
    # the benchmark's process runs the pipeline next, and its peak is what the benchmark reports
    with wordfreq_for_now():
        return sorted(w for w in words if zipf_frequency(w.lower(), "en") < max_zipf)


def generate_corpus(
    raw_dir: Path, out_dir: Path, n: int, ops: OpsSettings, progress: bool = False
) -> tuple[int, float]:
    """Write n articles varied from the seed articles in raw_dir to out_dir (plus sources.csv); returns (spun, MB)."""
    seeds = sorted(p for p in Path(raw_dir).iterdir() if p.is_file() and p.suffix.lower() in SEED_SUFFIXES)
    if not seeds:
        raise InputError(f"no seed articles ({', '.join(SEED_SUFFIXES)}) in {raw_dir}: pass --raw DIR")
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in seeds]
    rng = random.Random(ops.bench_seed)
    pool = _syllable_names(rng, ops.bench_name_pool)
    suffixes = [r["word"] for r in load_table("bench/outlets.tsv", ("word",))]
    outlets = [f"{name} {rng.choice(suffixes)}" for name in pool[: max(1, ops.bench_name_pool // 8)]]
    originals = _seed_names(texts, ops.bench_name_max_zipf)
    rules = _spin_rules()
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    spun = 0
    nbytes = 0
    width = len(str(n))
    bar = tqdm(total=n, desc="generate", unit="doc", disable=not progress, leave=False)
    for story in range((n + ops.bench_story_size - 1) // ops.bench_story_size):
        srng = random.Random(f"{ops.bench_seed}:{story}")
        names = dict(zip(originals, srng.sample(pool, min(len(pool), len(originals))), strict=False))
        shift = srng.randint(-ops.bench_year_shift, ops.bench_year_shift)
        for j in range(min(ops.bench_story_size, n - story * ops.bench_story_size)):
            i = story * ops.bench_story_size + j
            k = srng.randrange(len(seeds))
            text = _vary(texts[k], srng, names, shift, ops)
            if srng.random() < ops.bench_spun_share:
                text = spin_text(text, srng, ops.bench_spin_rate, rules)
                spun += 1
            outlet = srng.choice(outlets)
            if seeds[k].suffix.lower() not in HTML_EXTENSIONS:  # a byline makes every copy its own article
                text = f"By {srng.choice(pool)} {srng.choice(pool)}, {outlet}\n\n{text}"
            name = f"{i:0{width}d}{seeds[k].suffix.lower()}"
            data = text.encode("utf-8")
            (out_dir / name).write_bytes(data)
            nbytes += len(data)
            rows.append((name, outlet, f"https://example.org/{story}/{i}"))
            bar.update(1)
    bar.close()
    with open(out_dir / "sources.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "outlet", "url"])
        writer.writerows(rows)
    return spun, nbytes / 1e6


# ---- measuring ------------------------------------------------------------------------------


@dataclass
class MemoryPeak:
    """Peak memory of a process tree: RSS summed over the processes, and PSS (shared pages counted once)."""

    rss_mb: float = 0.0
    pss_mb: float = 0.0


@contextmanager
def peak_rss(poll_s: float) -> Iterator[MemoryPeak]:
    """Sample the memory of this process and all its descendants while inside; yields the running peak.

    The RSS sum counts a page shared by several processes (a library's code) once per process, so it
    overstates what the tree holds; PSS splits each shared page among its sharers. PSS is read only
    when the RSS sum reaches a new high: reading it walks every page of a process (12 ms for a 900 MB
    one, against 0.02 ms for RSS), and read at every sample it took 4% of the machine's CPU from the
    run it measured. The PSS figure is the highest read at those moments (PSS never exceeds RSS).
    """
    me = psutil.Process()
    peak = MemoryPeak()
    stop = threading.Event()

    def sample_once() -> None:
        procs = [me, *me.children(recursive=True)]
        rss = 0
        for proc in procs:
            try:
                rss += proc.memory_info().rss
            except psutil.Error:  # a child that just ended
                continue
        if rss / 2**20 <= peak.rss_mb:  # not a new high (a flat process repeats its RSS exactly)
            return
        peak.rss_mb = rss / 2**20
        pss = 0
        for proc in procs:
            try:
                info = proc.memory_full_info()
            except psutil.Error:
                continue
            pss += getattr(info, "pss", info.rss)
        peak.pss_mb = max(peak.pss_mb, pss / 2**20)

    def sample() -> None:
        while not stop.is_set():
            sample_once()
            stop.wait(poll_s)

    thread = threading.Thread(target=sample, name="bench-rss", daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
        sample_once()


class _LoadBar:
    """Turns the pipeline's progress lines into a tqdm bar of committed documents."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = tqdm(total=total, desc="run", unit="doc", disable=not enabled, leave=False)

    def __call__(self, msg: str) -> None:
        m = _LOAD_LINE.match(msg)
        if m:
            self.bar.update(int(m.group(1)))
        elif not self.bar.disable:
            self.bar.write(msg)

    def close(self) -> None:
        self.bar.close()


def run_bench(
    n: int,
    raw_dir: Path,
    settings: Settings,
    *,
    keep: Path | None = None,
    runner_name: str = "local",
    workers: int | None = None,
    progress: bool = True,
) -> BenchResult:
    """Generate n articles, run the pipeline into a fresh warehouse, then re-run it unchanged."""
    if n < 1:
        raise InputError(f"--docs must be at least 1, not {n}")
    from flows.pipeline import run_pipeline  # Prefect is imported only when a benchmark really runs

    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="recon-bench-"))
    raw, warehouse, reports = root / "raw", root / "recon.duckdb", root / "reports"
    for p in (raw, reports):
        shutil.rmtree(p, ignore_errors=True)
    for p in (warehouse, Path(f"{warehouse}.wal"), Path(f"{warehouse}.lock")):
        p.unlink(missing_ok=True)
    try:
        t0 = time.perf_counter()
        spun, mb = generate_corpus(raw_dir, raw, n, settings.ops, progress)
        generate_s = time.perf_counter() - t0
        with peak_rss(settings.ops.bench_rss_poll_s) as peak:
            bar = _LoadBar(n, progress)
            t1 = time.perf_counter()
            try:
                # a plain function, not the bar object: Prefect encodes flow parameters for the API
                # (fastapi's jsonable_encoder walks an object's attributes, and iterating the tqdm bar closes it)
                summary = run_pipeline(
                    raw, warehouse, reports, settings, runner_name=runner_name, workers=workers,
                    progress=lambda msg: bar(msg),
                )  # fmt: skip
            finally:
                bar.close()
            run_s = time.perf_counter() - t1
            t2 = time.perf_counter()
            again = run_pipeline(raw, warehouse, reports, settings, runner_name=runner_name, workers=workers)
            noop_s = time.perf_counter() - t2
        if again.processed:
            raise InputError(f"the unchanged re-run processed {again.processed} documents; the benchmark is void")
        return BenchResult(
            docs=n,
            spun_copies=spun,
            corpus_mb=round(mb, 2),
            generate_s=round(generate_s, 2),
            run_s=round(run_s, 2),
            docs_per_s=round(n / run_s, 1),
            peak_rss_mb=round(peak.rss_mb, 1),
            peak_pss_mb=round(peak.pss_mb, 1),
            noop_rerun_s=round(noop_s, 2),
            processed=summary.processed,
            quarantined=len(summary.quarantined),
            claims=summary.claims,
            groups=summary.groups,
            conflicts=summary.conflicts,
            runner=runner_name,
            workers=workers,
            stage_seconds={k: round(v, 2) for k, v in summary.stage_seconds.items()},
            kept=str(root) if keep else None,
        )
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def print_bench(result: BenchResult, as_json: bool = False) -> None:
    """A short human summary; with as_json, the last line is one JSON object of every figure."""
    r = result
    print(
        f"bench: {r.docs} articles ({r.spun_copies} spun copies, {r.corpus_mb} MB) generated in {r.generate_s} s; "
        f"runner {r.runner}"
    )
    print(
        f"first run: {r.run_s} s wall = {r.docs_per_s} articles/s ({r.processed} processed, {r.quarantined} "
        f"quarantined; {r.claims} claims, {r.groups} groups, {r.conflicts} conflicts)"
    )
    print("stage seconds: " + ", ".join(f"{k} {v}" for k, v in r.stage_seconds.items()))
    print(
        f"peak memory of this process and its children: RSS {r.peak_rss_mb} MB summed over processes, "
        f"PSS {r.peak_pss_mb} MB (shared pages once); unchanged re-run: {r.noop_rerun_s} s"
    )
    if r.kept:
        print(f"corpus and warehouse kept in {r.kept}")
    if as_json:
        print(json.dumps(asdict(r), sort_keys=True))

