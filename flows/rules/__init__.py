"""Rule and lexicon data files, and the one loader that reads them.

Each table is a TSV under this folder: '#' lines are comments (provenance notes), the first
other line is the header, every row is one rule. Columns ``source`` and ``example`` are
expected on every table so each rule says where it came from and what it matches.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import wordfreq

from flows.errors import RuleError

RULES_DIR = Path(__file__).resolve().parent
_WORDFREQ_TABLES = (wordfreq.top_n_list, wordfreq.get_frequency_dict, wordfreq.get_frequency_list)


@contextlib.contextmanager
def wordfreq_for_now() -> Iterator[None]:
    """wordfreq's tables for the block only: those it loads inside are handed back at the end.

    wordfreq keeps its tables cached for the process (320,000 English words, 27 MB of Python objects).
    A step that needs a few words once (reconcile's common words, the benchmark's seed names) would
    otherwise carry them through the run's peak. Tables the process had loaded before (stages running
    in the same process) stay.
    """
    loaded = any(f.cache_info().currsize for f in _WORDFREQ_TABLES[1:])
    try:
        yield
    finally:
        if not loaded:
            for cached in _WORDFREQ_TABLES:
                cached.cache_clear()


@cache
def load_table(
    relpath: str, required: tuple[str, ...] = (), nonempty: tuple[str, ...] = ()
) -> tuple[dict[str, str], ...]:
    """Read rules/<relpath> as a tuple of row dicts (shared: do not mutate); raise RuleError naming the file and line.

    required: columns the header must have; nonempty: columns every row must fill.
    """
    path = RULES_DIR / relpath
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RuleError(f"rule file {path} cannot be read: {exc.strerror or exc}") from exc
    body = [(n, line) for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]
    if not body:
        raise RuleError(f"rule file {path} has no header line")
    header = next(csv.reader([body[0][1]], delimiter="\t"))
    missing = [c for c in required if c not in header]
    if missing:
        raise RuleError(f"rule file {path}: the header lacks column(s) {', '.join(missing)}")
    rows = []
    for n, line in body[1:]:
        values = line.split("\t")
        if len(values) != len(header):
            raise RuleError(f"rule file {path} line {n}: {len(values)} fields, expected {len(header)} ({', '.join(header)})")
        row = dict(zip(header, values, strict=True))
        empty = [c for c in nonempty if not row[c].strip()]
        if empty:
            raise RuleError(f"rule file {path} line {n}: column(s) {', '.join(empty)} empty; every entry needs a value there")
        rows.append(row)
    return tuple(rows)
