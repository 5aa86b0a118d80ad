"""A test spinner: spins clean text with the observed spinner dictionary and records a gold item per change.

It implements the forward direction of the substitutions seen in issue 3 and seed 001
(tests/cases/despin/spinner_forward.tsv), apostrophes written as double quotes, first names
lower-cased, and the second family's in-word splices, each applied with a probability and a
fixed random seed. The repair never reads this table.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass

from wordfreq import zipf_frequency

from tests.despin.gold import CASES, GoldItem

_NAME_MAX_ZIPF = 6.0  # "The" in "The Office" is not a first name to lower-case
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")


@dataclass(frozen=True)
class Rule:
    original: tuple[str, ...]
    garbled: tuple[str, ...]
    p: float
    inword: bool


def load_rules() -> list[Rule]:
    """The forward spinner dictionary."""
    rows = [ln for ln in (CASES / "spinner_forward.tsv").read_text().splitlines() if ln and not ln.startswith("#")]
    out = []
    for r in csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE):
        inword = r["original"].startswith("~")
        out.append(Rule(tuple(r["original"].lstrip("~").split()), tuple(r["garbled"].split("|")), float(r["p"]), inword))
    return out


def _cased(garbled: str, original: str) -> str:
    return garbled[0].upper() + garbled[1:] if original[:1].isupper() else garbled


def spin(text: str, seed: int, rate: float = 1.0) -> tuple[str, list[GoldItem]]:
    """Spin ``text``; every rule's probability is scaled by ``rate``. Returns the spun text and its gold."""
    rng = random.Random(seed)
    rules = load_rules()
    by_first: dict[str, list[Rule]] = {}
    for r in rules:
        if not r.inword:
            by_first.setdefault(r.original[0], []).append(r)
    for v in by_first.values():
        v.sort(key=lambda r: -len(r.original))
    splices = [r for r in rules if r.inword]
    words = list(_WORD.finditer(text))
    out: list[str] = []
    gold: list[GoldItem] = []
    cur = 0
    k = 0

    def emit(start: int, end: int, new: str, kind: str) -> None:
        nonlocal cur
        out.append(text[cur:start])
        at = sum(len(x) for x in out)
        out.append(new)
        gold.append(GoldItem(at, at + len(new), new, text[start:end], kind, "sure"))
        cur = end

    while k < len(words):
        w = words[k]
        low = w.group().lower()
        done = False
        for r in by_first.get(low, ()):
            n = len(r.original)
            span = words[k : k + n]
            if len(span) < n or any(s.group().lower() != o for s, o in zip(span, r.original, strict=True)):
                continue
            if any(span[i + 1].start() - span[i].end() != 1 for i in range(n - 1)):
                continue
            if rng.random() < r.p * rate:
                emit(span[0].start(), span[-1].end(), _cased(rng.choice(r.garbled), w.group()), "word")
                k += n
                done = True
            break
        if done:
            continue
        word = w.group()
        if ("'" in word or "’" in word) and rng.random() < 0.8 * rate:
            q = w.start() + max(word.find("'"), word.find("’"))
            emit(q, q + 1, '"', "punct")
        elif (
            word[:1].isupper()
            and k + 1 < len(words)
            and words[k + 1].group()[:1].isupper()
            and words[k + 1].start() - w.end() == 1
            and w.start() > 0
            and text[w.start() - 2 : w.start()] not in (". ", "\n\n")
            and text[w.start() - 1] != "\n"
            and zipf_frequency(word.lower(), "en") < _NAME_MAX_ZIPF
            and rng.random() < 0.15 * rate
        ):
            emit(w.start(), w.end(), word.lower(), "case")
        else:
            for r in splices:
                at = low.find(r.original[0])
                if at >= 0 and len(low) > len(r.original[0]) and rng.random() < r.p * rate:
                    new = word[:at] + r.garbled[0] + word[at + len(r.original[0]) :]
                    emit(w.start(), w.end(), new, "word")
                    break
        k += 1
    out.append(text[cur:])
    return "".join(out), gold
