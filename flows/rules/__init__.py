"""Rule and lexicon data files, and the one loader that reads them.

Each table is a TSV under this folder: '#' lines are comments (provenance notes), the first
other line is the header, every row is one rule. Columns ``source`` and ``example`` are
expected on every table so each rule says where it came from and what it matches.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from flows.errors import RuleError

RULES_DIR = Path(__file__).resolve().parent


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
