"""Compare the claims of each group, typed: agree, compatible or conflict, and why.

Needs: ``records.ClaimGroup`` from ``group_claims``, per-document trust weights from
``source_trust`` and ``ReconcileSettings``.
Adds: ``records.Verdict`` records, one per compared aspect of a group (time, place, number,
first-value, quote wording, speaker, venue, object, stance), each with a stable ``conflict_id``
(from group_key + aspect), the positions of every claim (nothing is overwritten) and a
trust-weighted likely value.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.metadata
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from flows import records
from flows.errors import RuleError
from flows.reconcile import group as group_module
from flows.reconcile import normalize as normalize_module
from flows.reconcile.group import cluster_names, cluster_similar_names, stable_key
from flows.reconcile.normalize import (
    Lexicon,
    TimeSpan,
    aligned_quote_words,
    content_words,
    describe_time,
    load_lexicon,
    name_key,
    parse_timex,
    person_key,
    place_key,
    quote_words,
    words,
)
from flows.records import Claim, ClaimGroup, Verdict
from flows.rules import RULES_DIR
from flows.settings import ReconcileSettings

_RANK = {"agree": 0, "compatible": 1, "conflict": 2}
_SEVERITY = {"none": 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class _Position:
    claim: Claim
    key: object  # what equality is judged on
    shown: str  # the value as a person reads it
    weight: float


@dataclass(frozen=True)
class _Outcome:
    verdict: str
    severity: str
    explanation: str
    likely: str | None
    confidence: float | None
    # the values the verdict is about, when only some of the group's are (a quote's differing renderings,
    # not every part of the statement): the summary names these
    focus: tuple[object, ...] = ()


def _weight(claim: Claim, trust: Mapping[str, float], settings: ReconcileSettings) -> float:
    conf = claim.confidence if claim.confidence and claim.confidence > 0 else 1.0
    return trust.get(claim.doc_id, settings.default_trust) * min(conf, 1.0)


def _docs(positions: Sequence[_Position]) -> str:
    return ", ".join(sorted({p.claim.doc_id for p in positions}))


def _by_value(positions: Sequence[_Position]) -> dict[object, list[_Position]]:
    out: dict[object, list[_Position]] = defaultdict(list)
    for p in positions:
        out[p.key].append(p)
    return out


def _display(positions: Sequence[_Position]) -> str:
    """How a value reads: the most frequent wording among its positions, then the shortest."""
    counts: dict[str, int] = defaultdict(int)
    for p in positions:
        counts[p.shown] += 1
    return min(counts, key=lambda s: (-counts[s], len(s), s))


def _worse(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    return max(a, b, key=lambda vs: (_RANK[vs[0]], _SEVERITY[vs[1]]))


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _summary(label: str, aspect: str, verdict: str, by_value: dict[object, list[_Position]],
             focus: Sequence[object] = ()) -> str:
    """One line: the label, the verdict and the values with their documents (``focus``: only those values)."""
    wanted = set(focus)
    shown = {k: ps for k, ps in by_value.items() if k in wanted} if wanted else by_value
    parts = []
    for ps in sorted(shown.values(), key=lambda ps: (-len(ps), _display(ps))):
        parts.append(f"'{_short(_display(ps), 50)}' ({_docs(ps)})")
    joiner = " vs " if verdict == "conflict" else (" ~ " if verdict == "compatible" else "; ")
    body = f"all say {parts[0]}" if verdict == "agree" and len(by_value) == 1 else joiner.join(parts)
    if len(shown) < len(by_value):
        body += f" (+{len(by_value) - len(shown)} more, not in dispute)"
    return _short(f"{label} | {aspect} {verdict}: {body}", 300)


# ---- time -------------------------------------------------------------------------------


def _claim_span(c: Claim) -> TimeSpan | None:
    parsed = parse_timex(c.time_value)
    anchored = c.time_anchored is not False
    if c.time_start and anchored:
        return TimeSpan(c.time_value or c.time_start.isoformat(), c.time_start, c.time_end or c.time_start,
                        c.granularity, True, parsed.month if parsed else None)
    if parsed is None:
        return None
    if not anchored and parsed.anchored:
        return TimeSpan(parsed.value, None, None, parsed.granularity, False, parsed.month, parsed.day)
    return parsed


def _time_key(s: TimeSpan) -> object:
    return (s.start, s.end) if s.anchored else ("unanchored", s.month, s.day)


def _month_inside(u: TimeSpan, a: TimeSpan, limit: int = 3) -> list[TimeSpan]:
    """Anchored readings of an unanchored month (or day) that fall inside the anchored span."""
    if u.month is None or a.start is None or a.end is None:
        return []
    out = []
    for year in range(a.start.year, a.end.year + 1):
        try:
            cand = parse_timex(f"{year:04d}-{u.month:02d}" + (f"-{u.day:02d}" if u.day else ""))
        except ValueError:
            cand = None
        if cand and cand.start and cand.end and a.start <= cand.start and cand.end <= a.end:
            out.append(cand)
            if len(out) > limit:
                return []
    return out


def _time_pair(a: TimeSpan, b: TimeSpan) -> tuple[str, str, str]:
    """(verdict, severity, reason) for two distinct time values."""
    da, db = describe_time(a), describe_time(b)
    if a.anchored and b.anchored:
        assert a.start and a.end and b.start and b.end
        if (a.start, a.end) == (b.start, b.end):
            return "agree", "none", f"{da} and {db} are the same interval"
        if a.start <= b.start and b.end <= a.end:
            return "compatible", "none", f"{db} lies inside {da} (differ only in precision)"
        if b.start <= a.start and a.end <= b.end:
            return "compatible", "none", f"{da} lies inside {db} (differ only in precision)"
        if a.start < b.end and b.start < a.end:
            return "compatible", "low", f"{da} and {db} overlap"
        return "conflict", "high", f"{da} and {db} do not overlap"
    if not a.anchored and not b.anchored:
        if (a.month, a.day) == (b.month, b.day):
            return "agree", "none", f"both say {da}"
        return "conflict", "high", f"{da} and {db} name different months/days"
    u, x = (a, b) if not a.anchored else (b, a)
    du, dx = describe_time(u), describe_time(x)
    readings = _month_inside(u, x)
    if readings:
        fix = " or ".join(describe_time(r) for r in readings)
        return ("conflict", "medium",
                f"{du} has no year while {dx} is anchored; they agree only if the year is known: "
                f"{fix} would reconcile them")
    if u.month is None:
        return "conflict", "medium", f"{du} cannot be placed against {dx}; a person must decide"
    return "conflict", "high", f"no reading of {du} falls inside {dx}"


def _time_consistent(p: TimeSpan, cand: TimeSpan) -> bool:
    if p.anchored:
        assert p.start and p.end and cand.start and cand.end
        return p.start < cand.end and cand.start < p.end
    return bool(_month_inside(p, cand))


def _top_values(groups: dict[object, list[_Position]], limit: int) -> list[object]:
    """The values with most trust-weighted support: pairwise reasons are given for these only."""
    return sorted(groups, key=lambda k: (-sum(p.weight for p in groups[k]), str(k)))[:limit]


def _compare_time(positions: list[_Position], settings: ReconcileSettings) -> _Outcome:
    groups = _by_value(positions)
    spans = {k: ps[0].claim_span for k, ps in groups.items()}  # type: ignore[attr-defined]
    keys = _top_values(groups, settings.max_compared_values)
    worst = ("agree", "none")
    reasons = []
    for i, ka in enumerate(keys):
        for kb in keys[i + 1 :]:
            v, sev, why = _time_pair(spans[ka], spans[kb])
            worst = _worse(worst, (v, sev))
            reasons.append((_RANK[v], why))
    anchored = [s for s in spans.values() if s.anchored and s.start and s.end]
    if anchored and max(s.start for s in anchored) >= min(s.end for s in anchored) and worst[0] != "conflict":
        # rarer values outside the top ones still contradict each other
        worst = ("conflict", "high")
        reasons.append((2, f"{len(anchored)} stated dates do not all overlap"))
    if len(keys) == 1:
        reasons.append((0, f"every source says {describe_time(spans[keys[0]])}"))
    # candidates: every anchored value, plus anchored readings of unanchored values
    cands: dict[object, tuple[TimeSpan, bool]] = {}
    for s in (spans[k] for k in keys):
        if s.anchored:
            cands[_time_key(s)] = (s, False)
    for u in (spans[k] for k in keys):
        if not u.anchored:
            for x in list(cands.values()):
                for r in _month_inside(u, x[0]):
                    cands.setdefault(_time_key(r), (r, True))
    total = sum(p.weight for p in positions) or 1.0
    best = None
    for s, derived in cands.values():
        assert s.start and s.end
        support = sum(p.weight for k, ps in groups.items() for p in ps if _time_consistent(spans[k], s))
        rank = (-support, (s.end - s.start).days, s.start)
        if best is None or rank < best[0]:
            best = (rank, s, derived, support)
    likely, conf = None, None
    if best is not None:
        _, s, derived, support = best
        likely = s.value
        conf = support / total * (settings.unanchored_guess_factor if derived else 1.0)
    reasons.sort(key=lambda r: -r[0])
    return _Outcome(worst[0], worst[1], "; ".join(r[1] for r in reasons[:4]), likely, _round(conf))


def _round(x: float | None) -> float | None:
    return None if x is None else round(min(max(x, 0.0), 1.0), 3)


# ---- places, names, numbers ------------------------------------------------------------------


def _place_relation(a: str, b: str, lex: Lexicon) -> tuple[str, str, str]:
    ca, cb = lex.place_chain(a), lex.place_chain(b)
    da, db = lex.display_places.get(a, a), lex.display_places.get(b, b)

    def chain(c: tuple[str, ...]) -> str:
        return " > ".join(lex.display_places.get(x, x) for x in reversed(c))

    if a == b:
        return "agree", "none", f"both say {da}"
    if a in cb:
        return "compatible", "none", f"{db} lies in {da} ({chain(cb)})"
    if b in ca:
        return "compatible", "none", f"{da} lies in {db} ({chain(ca)})"
    wa, wb = set(words(a)), set(words(b))
    if wa and wb and (wa <= wb or wb <= wa):
        return "compatible", "low", f"'{da}' and '{db}' name the same place at different detail"
    if len(ca) > 1 and len(cb) > 1:
        return "conflict", "high", f"{da} ({chain(ca)}) and {db} ({chain(cb)}) are different places"
    return ("conflict", "medium",
            f"{da} and {db} differ and no containment is known (add a row to place_containment.tsv if one lies in the other)")


def _compare_places(positions: list[_Position], lex: Lexicon, settings: ReconcileSettings) -> _Outcome:
    groups = _by_value(positions)
    keys = _top_values(groups, settings.max_compared_values)
    worst = ("agree", "none")
    reasons = []
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            v, sev, why = _place_relation(str(a), str(b), lex)
            worst = _worse(worst, (v, sev))
            reasons.append((_RANK[v], why))
    if len(keys) == 1:
        reasons.append((0, f"every source says {groups[keys[0]][0].shown}"))
    total = sum(p.weight for p in positions) or 1.0
    best = None
    for k in keys:
        support = sum(p.weight for kk in keys if _place_relation(str(k), str(kk), lex)[0] != "conflict"
                      for p in groups[kk])
        rank = (-support, -len(lex.place_chain(str(k))), str(k))
        if best is None or rank < best[0]:
            best = (rank, k, support)
    assert best is not None
    reasons.sort(key=lambda r: -r[0])
    return _Outcome(worst[0], worst[1], "; ".join(r[1] for r in reasons[:4]), groups[best[1]][0].shown,
                    _round(best[2] / total))


def _compare_categorical(positions: list[_Position], what: str, severity: str) -> _Outcome:
    """Values that must be unique (a first kiss, who said it): two distinct values conflict."""
    groups = _by_value(positions)
    total = sum(p.weight for p in positions) or 1.0
    scored = sorted(groups.items(), key=lambda kv: (-sum(p.weight for p in kv[1]), str(kv[0])))
    top_key, top = scored[0]
    support = sum(p.weight for p in top)
    shown = _display(top)
    if len(groups) == 1:
        variants = sorted({p.shown for p in top})
        extra = f" (written {', '.join(repr(v) for v in variants)})" if len(variants) > 1 else ""
        return _Outcome("agree", "none", f"every source names the same {what}: {shown}{extra}", shown,
                        _round(support / total))
    listed = "; ".join(f"{_display(ps)!r} ({_docs(ps)})" for _, ps in scored)
    return _Outcome("conflict", severity, f"the {what} can have only one value, sources give {len(groups)}: {listed}",
                    shown, _round(support / total))


def _compare_numbers(positions: list[_Position], settings: ReconcileSettings, drift: float = 0.0,
                     drift_reason: str = "within the tolerance") -> _Outcome:
    """Numbers agree when equal, are compatible within the tolerance (or ``drift``), else conflict."""
    groups = _by_value(positions)
    values = sorted(float(k) for k in _top_values(groups, settings.max_compared_values))  # type: ignore[arg-type]

    def close(a: float, b: float) -> bool:
        tol = max(settings.number_abs_tolerance, drift, settings.number_rel_tolerance * max(abs(a), abs(b)))
        return abs(a - b) <= tol

    worst = ("agree", "none")
    reasons = []
    for i, a in enumerate(values):
        for b in values[i + 1 :]:
            if close(a, b):
                worst = _worse(worst, ("compatible", "none"))
                reasons.append((1, f"{_fmt(a)} and {_fmt(b)} are {drift_reason}"))
            else:
                rel = abs(a - b) / max(abs(a), abs(b))
                sev = "high" if rel > settings.number_high_rel_diff else "medium"
                worst = _worse(worst, ("conflict", sev))
                reasons.append((2, f"{_fmt(a)} and {_fmt(b)} differ by {rel:.0%}"))
    lo, hi = min(float(k) for k in groups), max(float(k) for k in groups)  # type: ignore[arg-type]
    if worst[0] != "conflict" and not close(lo, hi):
        # rarer values outside the top ones still contradict each other
        worst = ("conflict", "medium")
        reasons.append((2, f"the stated values range from {_fmt(lo)} to {_fmt(hi)}"))
    if len(values) == 1 and len(groups) == 1:
        reasons.append((0, f"every source says {_fmt(values[0])}"))
    total = sum(p.weight for p in positions) or 1.0
    best = max(values, key=lambda v: (sum(p.weight for k, ps in groups.items() if close(v, float(k))  # type: ignore[arg-type]
                                          for p in ps), -v))
    support = sum(p.weight for k, ps in groups.items() if close(best, float(k)) for p in ps)  # type: ignore[arg-type]
    reasons.sort(key=lambda r: -r[0])
    return _Outcome(worst[0], worst[1], "; ".join(r[1] for r in reasons[:4]), _fmt(best), _round(support / total))


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# ---- quote wording ------------------------------------------------------------------------


def _same_spelling(a: str, b: str, lex: Lexicon, aligned: _Aligned | None = None) -> bool:
    """Two renderings of the same words: spelling table, paraphrase table, or only spaces and apostrophes
    differ ("data center"/"datacenter", "populations"/"population's")."""
    if aligned is None:
        ca, cb = quote_words(a, lex), quote_words(b, lex)
    else:  # quote_words, through the memo of aligned words
        ca, cb = (_aligned(tuple(words(x)), lex, aligned)[0] for x in (a, b))
    return ca == cb or "".join(ca).replace("'", "") == "".join(cb).replace("'", "")


def _inside(na: tuple[str, ...], nb: tuple[str, ...]) -> tuple[int, int, int, int] | None:
    """Where the shorter word sequence stands whole inside the longer one, as (a_lo, a_hi, b_lo, b_hi); else None.

    The common case (one outlet quotes a stretch of another's quote) needs no sequence alignment.
    """
    short, long_ = (na, nb) if len(na) <= len(nb) else (nb, na)
    if not short:
        return None
    hay, needle = " " + " ".join(long_) + " ", " " + " ".join(short) + " "
    pos = hay.find(needle)
    if pos < 0:
        return None
    lo = hay.count(" ", 0, pos + 1) - 1
    if short is na:
        return 0, len(na), lo, lo + len(na)
    return lo, lo + len(nb), 0, len(nb)


_Aligned = dict[tuple[str, ...], tuple[tuple[str, ...], tuple[int, ...]]]


def _aligned(raw: tuple[str, ...], lex: Lexicon, memo: _Aligned) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """``aligned_quote_words`` of a word sequence, once per distinct sequence in ``memo``."""
    if (found := memo.get(raw)) is None:
        found = memo[raw] = aligned_quote_words(list(raw), lex)
    return found


@dataclass
class _Memo:
    """Per-call analyses keyed by content only: copies of a story repeat quote texts across claims and groups."""

    words: dict[str, tuple[str, ...]]
    aligned: _Aligned
    canon: dict[tuple[str, ...], frozenset[str]]

    def quote_tokens(self, text: str) -> tuple[str, ...]:
        """``tuple(words(text))``, once per distinct text."""
        if (found := self.words.get(text)) is None:
            found = self.words[text] = tuple(words(text))
        return found


def _word_diff(ref: list[str], other: list[str], lex: Lexicon, aligned: _Aligned | None = None,
               ) -> tuple[list[str], int, int, bool]:
    """Word-level differences inside the stretch both quotes cover (extent differences are not variants).

    The stretch is found on canonical words (so "one another" aligns with "each other"), then the
    raw words inside it are diffed so spelling and paraphrase variants are still reported.
    Returns (descriptions, differing words, overlapping words, all differences are spelling/paraphrase).
    """
    aligned = {} if aligned is None else aligned
    for raw in (ref, other):
        if tuple(raw) not in aligned:
            aligned[tuple(raw)] = aligned_quote_words(raw, lex)
    (na, ia), (nb, ib) = aligned[tuple(ref)], aligned[tuple(other)]
    span = _inside(na, nb)
    if span is None:
        blocks = [b for b in difflib.SequenceMatcher(None, na, nb, autojunk=False).get_matching_blocks() if b.size]
        if not blocks:
            return [f"no words in common: {' '.join(ref)!r} vs {' '.join(other)!r}"], max(len(ref), len(other)), 0, False
        span = (blocks[0].a, blocks[-1].a + blocks[-1].size, blocks[0].b, blocks[-1].b + blocks[-1].size)

    def raw_range(index: tuple[int, ...], lo: int, hi: int, n_raw: int) -> tuple[int, int]:
        return index[lo], (index[hi] if hi < len(index) else n_raw)

    a0, a1 = raw_range(ia, span[0], span[1], len(ref))
    b0, b1 = raw_range(ib, span[2], span[3], len(other))
    ra, rb = ref[a0:a1], other[b0:b1]
    if ra == rb:
        return [], 0, len(ra), True
    diffs, n_diff, only_variants, overlap = [], 0, True, 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ra, rb, autojunk=False).get_opcodes():
        if op == "equal":
            overlap += i2 - i1
            continue
        a, b = " ".join(ra[i1:i2]), " ".join(rb[j1:j2])
        n_diff += max(i2 - i1, j2 - j1)
        same = bool(a and b) and _same_spelling(a, b, lex, aligned)
        only_variants = only_variants and same
        tag = " (spelling/paraphrase variant)" if same else ""
        diffs.append(f"'{a or '∅'}' → '{b or '∅'}'{tag}")
    return diffs, n_diff, overlap, only_variants


def _quote_partner(k: tuple[str, ...], pool: list[object], docs_of: dict[object, set[str]],
                   canon: dict[object, frozenset[str]], lex: Lexicon, settings: ReconcileSettings,
                   aligned: _Aligned, shown: dict[object, str] | None = None,
                   ) -> tuple[object, tuple[list[str], int, int, bool]] | None:
    """The wording in another document that quotes most of the same words as ``k``, with the word diff.

    Fragments of one statement are compared only with renderings of the same part: a piece that no
    other source quotes has nothing to differ from. Partners come from ``pool`` (the fullest wordings),
    so a much-quoted statement costs wordings x pool, not wordings squared.
    """
    docs = docs_of[k]
    others = [o for o in pool if o != k and docs_of[o] - docs]
    shown = {o: str(o) for o in others} if shown is None else shown  # str of a long tuple is not free: once per group
    ranked = sorted(others, key=lambda o: (-len(canon[k] & canon[o]), -len(o), shown[o]))  # type: ignore[arg-type]
    best, best_rank = None, None
    need_content = settings.quote_min_content_words
    for o in ranked[: settings.quote_partner_candidates]:
        if len(canon[k] & canon[o]) < min(need_content, len(canon[k]), len(canon[o])) or not canon[k] & canon[o]:
            break  # ranked by shared content words: the rest share fewer
        diff = _word_diff(list(o), list(k), lex, aligned)  # type: ignore[call-overload]
        _, n_diff, overlap, _ = diff
        need = min(settings.quote_min_shared_words, len(k), len(o))  # type: ignore[arg-type]
        # the stretch both cover must be mostly shared words, else they quote different sentences
        share = overlap / max(overlap + n_diff, 1)
        if overlap >= need and share >= settings.quote_match_threshold and (best_rank is None or (share, overlap) > best_rank):
            best, best_rank = (o, diff), (share, overlap)
            break  # ranked by shared content words: the first that aligns is the rendering of the same part
    return best


def _compare_quotes(positions: list[_Position], lex: Lexicon, settings: ReconcileSettings,
                    memo: _Memo | None = None) -> _Outcome:
    groups = _by_value(positions)
    total = sum(p.weight for p in positions) or 1.0
    # reference wording: the fullest rendering (fragments align inside it), then the most trusted
    ref_key = min(groups, key=lambda k: (-len(k), -sum(p.weight for p in groups[k]), k))  # type: ignore[arg-type]
    # partners are ranked and accepted on content words: two sentences sharing only "she ... the ... of"
    # are different sentences, not two wordings of one
    memo = _Memo({}, {}, {}) if memo is None else memo
    canon = {}
    for k in groups:
        if (found := memo.canon.get(k)) is None:  # type: ignore[call-overload]
            found = memo.canon[k] = content_words(quote_words(" ".join(k), lex), settings.common_word_zipf)  # type: ignore[index, arg-type]
        canon[k] = found
    worst = ("agree", "none")
    notes = []
    support = 0.0
    unmatched = []
    compared: set[frozenset[object]] = set()
    differing: dict[object, None] = {}  # the renderings that differ from their partner's, in order (a set)
    docs_of = {k: {p.claim.doc_id for p in ps} for k, ps in groups.items()}
    ordered = sorted(groups, key=lambda k: (-len(k), -sum(p.weight for p in groups[k]), str(k)))  # type: ignore[arg-type]
    pool = ordered[: settings.max_compared_values]
    aligned = memo.aligned
    shown = {k: str(k) for k in groups}
    for k in ordered:
        if len(docs_of[k]) > 1:
            support = max(support, sum(p.weight for p in groups[k]))
        found = _quote_partner(k, pool, docs_of, canon, lex, settings, aligned, shown)  # type: ignore[arg-type]
        if found is None:
            unmatched.append(_docs(groups[k]))
            continue
        partner, (diffs, n_diff, overlap, only_variants) = found
        if frozenset((k, partner)) in compared:
            continue
        compared.add(frozenset((k, partner)))
        where = f"{_docs(groups[k])} vs {_docs(groups[partner])}"
        if not diffs:
            if len(k) != len(partner):  # type: ignore[arg-type]
                worst = _worse(worst, ("compatible", "none"))
                notes.append((1, f"{where}: the same words, one quotes a longer stretch"))
            continue
        ratio = n_diff / max(overlap + n_diff, 1)
        sev = "medium" if ratio > settings.quote_medium_diff_ratio and not only_variants else "low"
        worst = _worse(worst, ("conflict", sev))
        differing.update(dict.fromkeys((partner, k)))
        notes.append((2, f"{where} word it differently: " + ", ".join(diffs[:6]) + (" …" if len(diffs) > 6 else "")))
    ref_support = sum(p.weight for p in groups[ref_key])
    if len(groups) == 1:
        notes.append((0, "every source quotes the same words"))
    if unmatched:
        notes.append((0, f"parts of the statement only one source quotes: {'; '.join(sorted(set(unmatched)))}"))
    notes.sort(key=lambda n: -n[0])
    seen: set[str] = set()
    body = [n[1] for n in notes if not (n[1] in seen or seen.add(n[1]))]  # type: ignore[func-returns-value]
    expl = f"fullest wording in {_docs(groups[ref_key])}; " + "; ".join(body)
    return _Outcome(worst[0], worst[1], _short(expl, 1200), groups[ref_key][0].shown,
                    _round(max(support, ref_support) / total), tuple(differing) if worst[0] == "conflict" else ())


# ---- dispatch ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _TimePosition(_Position):
    claim_span: TimeSpan | None = None


def _positions_time(g: ClaimGroup, w: Callable[[Claim], float]) -> list[_Position]:
    out: list[_Position] = []
    for c in g.claims:
        s = _claim_span(c)
        if s is not None and (s.anchored or s.month is not None):
            shown = f"{describe_time(s)}" + (f" ('{c.time_text}')" if c.time_text else "")
            out.append(_TimePosition(c, _time_key(s), shown, w(c), s))
    return out


def _stance_shown(c: Claim) -> str:
    if _stance(c):
        return "yes" if c.modality == "asserted" else f"yes ({c.modality})"
    return "no (denied)" if c.modality == "denied" else "no (negated)"


def _stance(c: Claim) -> bool:
    return c.polarity and c.modality != "denied"


def _name_positions(claims: Sequence[Claim], get: Callable[[Claim], str | None], w: Callable[[Claim], float],
                    key: Callable[[str], str] = name_key) -> list[_Position]:
    present = [(c, v) for c in claims if (v := get(c))]
    reps = cluster_names(key(v) for _, v in present)
    return [_Position(c, reps.get(key(v), key(v)), str(v), w(c)) for c, v in present]


def _comparable(positions: Sequence[_Position]) -> bool:
    if len(positions) < 2:
        return False
    return len({p.claim.doc_id for p in positions}) >= 2 or len({p.key for p in positions}) >= 2


def _verdict(g: ClaimGroup, aspect: str, kind: str, positions: list[_Position], out: _Outcome) -> Verdict:
    by_value = _by_value(positions)
    return Verdict(
        conflict_id=stable_key(g.group_key, aspect),
        group_key=g.group_key,
        kind=kind,
        verdict=out.verdict,
        severity=out.severity,
        summary=_summary(g.label, aspect, out.verdict, by_value, out.focus),
        explanation=out.explanation,
        claim_ids=tuple(sorted(p.claim.claim_id for p in positions)),
        likely_value=out.likely,
        confidence=out.confidence,
        positions={p.claim.claim_id: p.shown for p in sorted(positions, key=lambda p: p.claim.claim_id)},
    )


def _group_verdicts(g: ClaimGroup, lex: Lexicon, w: Callable[[Claim], float], settings: ReconcileSettings,
                    memo: _Memo | None = None) -> list[Verdict]:
    out: list[Verdict] = []
    claims = g.claims
    if g.kind == "quote":
        qs = [c for c in claims if c.quote_text]
        # reported speech is the outlet's paraphrase: its words are not the speaker's wording
        direct = [c for c in qs if c.modality != "reported"]
        memo = _Memo({}, {}, {}) if memo is None else memo
        pos = [_Position(c, memo.quote_tokens(c.quote_text or ""), _short(c.quote_text or "", 400), w(c)) for c in direct]
        # wording needs two sources: one document's pieces of a statement are not variants of each other
        if len({p.claim.doc_id for p in pos}) >= 2:
            out.append(_verdict(g, "quote", "quote", pos, _compare_quotes(pos, lex, settings, memo)))
        pos = _name_positions(qs, lambda c: c.subject, w, lambda v: person_key(v, lex))
        if len({p.key for p in pos}) > 1 and _comparable(pos):
            out.append(_verdict(g, "speaker", "person", pos, _compare_categorical(pos, "speaker", "medium")))
        reps = cluster_similar_names((name_key(c.venue) for c in claims), settings.venue_match_threshold)
        pos = [_Position(c, reps[name_key(c.venue)], c.venue or "", w(c)) for c in claims if name_key(c.venue)]
        if len({p.key for p in pos}) > 1 and _comparable(pos):
            out.append(_verdict(g, "venue", "value", pos, _compare_categorical(pos, "venue", "low")))
    else:
        rule = lex.predicate_rule(claims[0].predicate)
        if rule.value_kind == "first":
            pos = _name_positions(claims, lambda c: c.object, w)
            if _comparable(pos):
                out.append(_verdict(g, "first", "first", pos, _compare_categorical(pos, rule.family, "high")))
        elif rule.object_role == "value":
            pos = _name_positions(claims, lambda c: c.object, w)
            if _comparable(pos):
                out.append(_verdict(g, "object", "person", pos, _compare_categorical(pos, rule.family, "medium")))
        if rule.value_kind in ("number", "age"):
            pos = [_Position(c, float(c.number), _fmt(c.number), w(c)) for c in claims if c.number is not None]
            if _comparable(pos):
                # an age grows with the article's date: articles a year or two apart state different true ages
                drift = settings.age_drift_years if rule.value_kind == "age" else 0.0
                why = (f"within {_fmt(drift)} years: an age depends on when the article was written"
                       if drift else "within the tolerance")
                out.append(_verdict(g, "number", "number", pos, _compare_numbers(pos, settings, drift, why)))
        pos = [_Position(c, place_key(c.place, lex), c.place or "", w(c)) for c in claims if c.place]
        if _comparable(pos):
            out.append(_verdict(g, "place", "place", pos, _compare_places(pos, lex, settings)))
    pos = _positions_time(g, w)
    if _comparable(pos):
        out.append(_verdict(g, "time", "time", pos, _compare_time(pos, settings)))
    stance = [_Position(c, _stance(c), _stance_shown(c), w(c)) for c in claims]
    if (len({p.key for p in stance}) > 1 or not out) and _comparable(stance):
        sev = "high"
        outcome = _compare_categorical(stance, "stance", sev)
        if outcome.verdict == "agree":
            outcome = _Outcome("agree", "none", f"{len({p.claim.doc_id for p in stance})} sources state it",
                               outcome.likely, outcome.confidence)
        out.append(_verdict(g, "stance", "value", stance, outcome))
    return out


def compare_groups(groups: Sequence[ClaimGroup], trust: Mapping[str, float], settings: ReconcileSettings,
                   ) -> list[Verdict]:
    """Judge each group aspect by aspect: agree, compatible (differ in precision) or conflict, with reasons."""
    lex = load_lexicon(settings)
    cache: dict[str, float] = {}

    def w(c: Claim) -> float:
        if c.claim_id not in cache:
            cache[c.claim_id] = _weight(c, trust, settings)
        return cache[c.claim_id]

    out: list[Verdict] = []
    memo = _Memo({}, {}, {})  # for this call only: keyed by content, so any input is safe
    for g in groups:
        # an aspect is compared only where >= 2 documents speak to it or >= 2 values are stated
        if g.claims:
            out.extend(_group_verdicts(g, lex, w, settings, memo))
    return out


# ---- reuse across runs ------------------------------------------------------------------------

_CLAIM_FIELDS = attrgetter(*(f.name for f in dataclasses.fields(Claim)))


def comparison_salt(settings: ReconcileSettings) -> str:
    """A fingerprint of what every group's verdicts depend on besides the group itself: the settings, the
    rule files they name, the word-frequency data and the code that groups, normalizes and compares."""
    h = hashlib.sha1(repr(settings).encode())
    for f in dataclasses.fields(settings):
        if f.name.endswith("_rules"):
            path = RULES_DIR / getattr(settings, f.name)
            try:
                h.update(path.read_bytes())
            except OSError as exc:
                raise RuleError(f"rule file {path} cannot be read: {exc.strerror or exc}") from exc
    h.update(importlib.metadata.version("wordfreq").encode())
    for module in (group_module, normalize_module, records, sys.modules[__name__]):
        h.update(Path(module.__file__).read_bytes())  # type: ignore[arg-type]
    return h.hexdigest()


def group_fingerprints(groups: Sequence[ClaimGroup], trust: Mapping[str, float], settings: ReconcileSettings,
                       ) -> dict[str, str]:
    """group_key -> a fingerprint of everything ``compare_groups`` reads for it (groups sharing a key share one).

    Equal fingerprints give equal verdicts, so a run can keep the verdicts of groups that did not change.
    """
    salt = comparison_salt(settings).encode()
    hashers: dict[str, hashlib._Hash] = {}
    for g in groups:
        h = hashers.get(g.group_key)
        if h is None:
            h = hashers[g.group_key] = hashlib.sha1(salt)
        h.update(repr((g.group_key, g.kind, g.label, g.rule, len(g.claims))).encode())
        for c in g.claims:
            h.update(repr((_CLAIM_FIELDS(c), trust.get(c.doc_id))).encode())
    return {key: h.hexdigest()[:24] for key, h in hashers.items()}
