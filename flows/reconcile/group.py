"""Group claims from many documents that speak about the same thing.

Needs: ``records.Claim`` from extraction (see the claim conventions) and ``ReconcileSettings``.
Adds: ``records.ClaimGroup`` records with a stable ``group_key`` (derived from the group's content,
never from claim or document ids) and the blocking/matching ``rule`` that formed each group.

In the spirit of record-linkage engines (Splink): claims are first *blocked* on cheap keys
(subject + predicate family; quotes on speaker and on shared rare word n-grams), then pairs
inside a block are *matched* (quotes by content-word overlap after normalizing spelling and
paraphrase), and matches are clustered as connected components. No all-pairs comparison.
Quotes of one speaker in the same canonical words (wire copies of one statement) are one node
before blocking, so the pairs compared grow with the distinct statements, not with the copies.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import chain

import numpy as np

from flows.reconcile.normalize import (
    Lexicon,
    content_words,
    load_lexicon,
    name_key,
    parse_timex,
    person_key,
    quote_words,
    words,
)
from flows.reconcile.pairs import block_pair_counts
from flows.records import Claim, ClaimGroup
from flows.settings import ReconcileSettings

RULE_SPEAKER = "block:speaker+word>match:content-overlap"
RULE_NGRAM = "block:rare-ngram>match:content-overlap"
RULE_FRAGMENT = "fragment:same-speaker-adjacent"
RULE_REMARK_VENUE = "remark:same-venue"
RULE_REMARK_NEXT = "remark:next-quote-of-speaker"
RULE_REMARK_TIME = "remark:same-time"
RULE_REMARK_ONLY = "remark:only-quote-group-of-speaker"
RULE_REMARKS = "block:speaker+remarked"
RULE_FACT = "block:subject+predicate-family"
RULE_OBJECT = "block:subject+predicate-family+object"
RULE_OCCURRENCE = "split:recurring-event-dates-apart"


def stable_key(*parts: str) -> str:
    """A short stable hash of content parts (the same content gives the same key in every run)."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def subject_key(claim: Claim, lex: Lexicon) -> str:
    """The comparable key of a claim's subject (speaker for quotes), without a title before the name."""
    return person_key(claim.subject, lex) or (claim.subject_entity_id or "")


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


@dataclass(frozen=True, slots=True)
class _Quote:
    claim: Claim
    speaker: str
    toks: tuple[str, ...]
    content: frozenset[str]
    ngrams: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Statement:
    """Quotes of one speaker in the same canonical words (copies of one statement): one node of the match graph."""

    speaker: str
    content: frozenset[str]
    ngrams: frozenset[str]
    quotes: list[int]  # indices of its quotes, ascending


def _quote_analysis(text: str, lex: Lexicon, settings: ReconcileSettings, pool: dict[str, str],
                    ) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]]:
    """A quote text's canonical words, content words and content-bearing word n-grams.

    Words and n-grams are taken from ``pool`` when an earlier text had them: copies and variants of one
    quote share most of them (10,120 texts of 20,000 articles made 290,832 n-grams, 8,634 distinct).
    """
    toks = tuple(pool.setdefault(t, t) for t in quote_words(text, lex))
    content = content_words(toks, settings.common_word_zipf)
    n = settings.quote_ngram
    flags = [t in content for t in toks]
    grams = (" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1) if any(flags[i : i + n]))
    return toks, content, frozenset(pool.setdefault(g, g) for g in grams)


def _prepare_quotes(claims: Sequence[Claim], lex: Lexicon, settings: ReconcileSettings) -> list[_Quote]:
    # copies of one story quote the same texts: each distinct text is analysed once per call
    seen: dict[str, tuple[tuple[str, ...], frozenset[str], frozenset[str]]] = {}
    pool: dict[str, str] = {}
    out = []
    for c in claims:
        text = c.quote_text or ""
        if (found := seen.get(text)) is None:
            found = seen[text] = _quote_analysis(text, lex, settings, pool)
        out.append(_Quote(c, subject_key(c, lex), *found))
    return out


_SCORE_CHUNK = 1 << 18  # pairs scored at a time: bounded temporaries


def _pair_scores(quotes: Sequence[_Quote | _Statement], first: np.ndarray, second: np.ndarray,
                 settings: ReconcileSettings) -> np.ndarray:
    """Each pair's match score (first[k], second[k]): overlap coefficient of content words, or 0.0 on no match.

    A score depends only on the two speakers and content sets, and copies of one story repeat them,
    so each distinct pair of (speaker, content) in a chunk of pairs intersects its sets once; the rest
    is array arithmetic. All 4.35M pairs of 20,000 articles at once held about 180 MB of temporaries
    (their signature codes, the sort behind unique() and its inverse). Over statements (``_statements``)
    the pairs are 1.5M and mostly distinct, so a chunk's distinct pairs are turned into Python ints for
    the intersections: 256k at a time held about 95 MB less than 1M, in the same time.
    """
    out = np.zeros(len(first))
    if not len(first):
        return out
    sig_ids: dict[tuple[str, frozenset[str]], int] = {}
    sig = np.asarray([sig_ids.setdefault((q.speaker, q.content), len(sig_ids)) for q in quotes], dtype=np.int64)
    sigs = list(sig_ids)
    n_sig = len(sigs)
    size = np.asarray([len(c) for _, c in sigs], dtype=np.int64)
    speaker_ids: dict[str, int] = {}
    speaker = np.asarray([speaker_ids.setdefault(sp, len(speaker_ids)) if sp else -1 for sp, _ in sigs], dtype=np.int64)
    for lo in range(0, len(first), _SCORE_CHUNK):
        # code = min * n_sig + max of the two signatures
        a, b = sig[first[lo : lo + _SCORE_CHUNK]], sig[second[lo : lo + _SCORE_CHUNK]]
        code = np.minimum(a, b) * n_sig + np.maximum(a, b)
        del a, b
        pair_codes, inverse = np.unique(code, return_inverse=True)
        del code
        ua, ub = (pair_codes // n_sig).tolist(), (pair_codes % n_sig).tolist()
        shared = np.fromiter((len(sigs[x][1] & sigs[y][1]) for x, y in zip(ua, ub, strict=True)), dtype=np.int64,
                             count=len(ua))
        ua_, ub_ = np.asarray(ua, dtype=np.int64), np.asarray(ub, dtype=np.int64)
        small = np.minimum(size[ua_], size[ub_])
        same = (speaker[ua_] >= 0) & (speaker[ua_] == speaker[ub_])
        need = np.where(same, np.minimum(settings.quote_min_shared_words, small), settings.cross_speaker_min_shared_words)
        ratio = np.where(same, settings.quote_match_threshold, settings.cross_speaker_threshold)
        score = np.divide(shared, small, out=np.zeros(len(ua)), where=small > 0)
        ok = (small >= settings.quote_min_content_words) & (shared >= need) & (score >= ratio)
        out[lo : lo + _SCORE_CHUNK] = np.where(ok, score, 0.0)[inverse.reshape(-1)]
    return out


def _complementary(a: dict[str, list[int]], b: dict[str, list[int]], quotes: list[_Quote],
                   settings: ReconcileSettings) -> bool:
    """Whether every document in both clusters contributes disjoint pieces (fragments of one statement).

    A document quoting a speaker twice with overlapping words is quoting two statements; those must not
    be joined through a weak link to a third source.
    """
    for doc in a.keys() & b.keys():
        for i in a[doc]:
            for j in b[doc]:
                if len(quotes[i].content & quotes[j].content) > settings.same_doc_max_shared_words:
                    return False
    return True


def _pair_codes(blocks: Iterable[list[int]], limit: int, pivots: int, width: int, min_count: int = 1) -> np.ndarray:
    """Candidate pairs that share at least ``min_count`` blocking keys, as sorted codes ``a * width + b`` (a < b).

    A self-join of the postings, as Splink does in SQL. A block up to ``limit`` members yields all its
    pairs; a larger block (a much-quoted statement) links every member to its first ``pivots`` members
    only, so cost stays linear while the members still connect through the pivots.
    """
    multi = [block for block in blocks if len(block) >= 2]
    if not multi:
        return np.zeros(0, dtype=np.int64)
    size = np.fromiter(map(len, multi), dtype=np.int64, count=len(multi))
    # straight into a 32-bit array: gathered in a Python list first and then copied to 64 bits, the
    # n-gram postings raised the blocking step's peak by 28 MB at 20,000 articles
    post = np.fromiter(chain.from_iterable(multi), dtype=np.int32, count=int(size.sum()))
    del multi
    start = np.cumsum(size) - size  # where each block's members begin in ``post``
    heads = np.where(size <= limit, size, np.minimum(pivots, size))
    codes, counts = block_pair_counts(size, start, heads, post, width)
    return codes[counts >= min_count]


def _venues_meet(a: str | None, b: str | None, threshold: float) -> bool:
    """Two venues may be the same: either is unknown, or their words overlap enough."""
    wa, wb = _word_set(name_key(a)), _word_set(name_key(b))
    if not wa or not wb:
        return True
    return len(wa & wb) / min(len(wa), len(wb)) >= threshold


def _fragment_pairs(quotes: list[_Quote], settings: ReconcileSettings) -> list[tuple[int, int]]:
    """Pieces of one statement: a speaker's consecutive quotes in one document, close together.

    '"A," she said on the show. "B."' yields two quote claims; often only the first carries the time
    or venue, and another source may quote only B, so the pieces must meet in one group.
    """
    order = sorted(range(len(quotes)), key=lambda i: (quotes[i].claim.doc_id, quotes[i].claim.start,
                                                       quotes[i].claim.end, quotes[i].claim.claim_id))
    out = []
    for i, j in zip(order, order[1:], strict=False):
        a, b = quotes[i], quotes[j]
        if a.claim.doc_id != b.claim.doc_id or not a.speaker or a.speaker != b.speaker:
            continue
        if a.claim.predicate != b.claim.predicate:  # "she writes" then "she said on the show": two statements
            continue
        if b.claim.start - a.claim.end > settings.fragment_max_gap:
            continue
        if _venues_meet(a.claim.venue, b.claim.venue, settings.venue_match_threshold):
            out.append((i, j))
    return out


_RULE_NAMES = (RULE_FRAGMENT, RULE_SPEAKER, RULE_NGRAM)  # the rules of quote edges, by code
_EDGES_PER_CHUNK = 65_536  # quote edges turned into Python values at a time (bounded memory, still C-speed sorting)


def _strongest_first(neg: np.ndarray, ii: np.ndarray, jj: np.ndarray, rules: np.ndarray,
                     ) -> Iterator[tuple[float, int, int, str]]:
    """Edges (-score, i, j, rule name) by score, then i, j and rule name, as Python values a chunk at a time.

    All at once, as lists, they were the largest part of reconcile's peak (2.7M edges at 20,000 articles:
    about 280 MB of Python floats and ints).
    """
    rule_rank = np.asarray([sorted(_RULE_NAMES).index(r) for r in _RULE_NAMES])[rules]
    order = np.lexsort((rule_rank, jj, ii, neg))
    del rule_rank
    for lo in range(0, len(order), _EDGES_PER_CHUNK):
        part = order[lo : lo + _EDGES_PER_CHUNK]
        names = [_RULE_NAMES[r] for r in rules[part].tolist()]
        yield from zip(neg[part].tolist(), ii[part].tolist(), jj[part].tolist(), names, strict=True)


def _statements(quotes: list[_Quote], settings: ReconcileSettings) -> tuple[list[_Statement], list[int]]:
    """The quotes as statements: those with one speaker and the same canonical words are one node.

    Copies of one story repeat its quotes word for word (177,894 quotes of 20,000 articles said 10,120
    distinct texts). Two such quotes score 1.0, above the threshold that lets a join be refused, so
    quote by quote they were joined first whatever else they matched; as one node they are joined by
    construction, and blocking and scoring run over statements, not over every copy. A text too short to
    match even itself (``_pair_scores`` of the node with itself is 0.0) joins nothing: its quotes stay
    one node each. Returns the statements, ordered by their first quote, and each quote's statement.
    """
    index: dict[tuple[str, tuple[str, ...]], int] = {}
    found: list[_Statement] = []
    for i, q in enumerate(quotes):
        k = index.setdefault((q.speaker, q.toks), len(found))
        if k == len(found):
            found.append(_Statement(q.speaker, q.content, q.ngrams, [i]))
        else:
            found[k].quotes.append(i)
    del index
    itself = np.arange(len(found), dtype=np.int32)
    alone = (_pair_scores(found, itself, itself, settings) == 0.0).tolist()
    nodes: list[_Statement] = []
    for st, solo in zip(found, alone, strict=True):
        if solo and len(st.quotes) > 1:
            nodes.extend(_Statement(st.speaker, st.content, st.ngrams, [i]) for i in st.quotes)
        else:
            nodes.append(st)
    nodes.sort(key=lambda st: st.quotes[0])
    node_of = [0] * len(quotes)
    for k, st in enumerate(nodes):
        for i in st.quotes:
            node_of[i] = k
    return nodes, node_of


def _speaker_word_blocks(nodes: Sequence[_Statement]) -> Iterator[list[int]]:
    """The statements of each (speaker, content word), members ascending, built one speaker at a time.

    Keyed on every (speaker, word) at once, the index held about a million keys at 20,000 articles,
    most of them a single statement's, for the blocks of two or more that ``_pair_codes`` keeps.
    """
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for k, st in enumerate(nodes):
        if st.speaker:
            by_speaker[st.speaker].append(k)
    for members in by_speaker.values():
        by_word: dict[str, list[int]] = defaultdict(list)
        for k in members:
            for w in nodes[k].content:
                by_word[w].append(k)
        yield from by_word.values()


def _cluster_quotes(quotes: list[_Quote], settings: ReconcileSettings) -> list[tuple[list[int], set[str]]]:
    nodes, node_of = _statements(quotes, settings)
    # blocking: (speaker, content word) and rare word n-grams across speakers; a pair must share a key
    by_gram: dict[str, list[int]] = defaultdict(list)
    for k, st in enumerate(nodes):
        for g in st.ngrams:
            by_gram[g].append(k)
    # a same-speaker match needs at least this many shared content words, so fewer shared keys is no candidate
    min_shared = min(settings.quote_min_shared_words, settings.quote_min_content_words)
    n = len(nodes)
    blocks = _speaker_word_blocks(nodes)
    speaker_codes = _pair_codes(blocks, settings.max_block_size, settings.block_pivots, n, min_shared)
    gram_codes = _pair_codes(by_gram.values(), settings.max_block_size, settings.block_pivots, n)
    gram_codes = gram_codes[~np.isin(gram_codes, speaker_codes, assume_unique=True)]
    del by_gram
    uf = _UnionFind(n)
    by_doc: list[dict[str, list[int]]] = []
    for st in nodes:
        docs: dict[str, list[int]] = {}
        for i in st.quotes:
            docs.setdefault(quotes[i].claim.doc_id, []).append(i)
        by_doc.append(docs)
    # the rule that joined a statement's copies: the speaker block, or shared n-grams when no speaker is known
    edge_rules: dict[int, set[str]] = {k: {RULE_SPEAKER if st.speaker else RULE_NGRAM}
                                       for k, st in enumerate(nodes) if len(st.quotes) > 1}
    frag = sorted({(node_of[i], node_of[j]) for i, j in _fragment_pairs(quotes, settings) if node_of[i] != node_of[j]})
    codes = np.concatenate((speaker_codes, gram_codes))
    n_speaker = len(speaker_codes)
    del speaker_codes, gram_codes
    # statement indices fit 32 bits: half the memory of these two and of the edge arrays made from them
    first, second = (codes // n).astype(np.int32), (codes % n).astype(np.int32)
    del codes
    score = _pair_scores(nodes, first, second, settings)
    hit = score > 0.0
    rules = np.concatenate((np.zeros(len(frag), dtype=np.int64), np.ones(n_speaker, dtype=np.int64),
                            np.full(len(hit) - n_speaker, 2, dtype=np.int64)))[np.concatenate((np.ones(len(frag), bool), hit))]
    neg = np.concatenate((np.full(len(frag), -2.0), -score[hit]))  # fragments ahead of every content match (<= 1)
    ii = np.concatenate((np.asarray([i for i, _ in frag], dtype=np.int32), first[hit]))
    jj = np.concatenate((np.asarray([j for _, j in frag], dtype=np.int32), second[hit]))
    del first, second, score, hit
    scored = _strongest_first(neg, ii, jj, rules)
    # strongest matches first, so a weak link cannot pull a document's other quote into the group
    version = [0] * n  # bumped when a cluster grows, so a refused join is re-checked only then
    refused: set[tuple[int, int, int, int]] = set()
    parent = uf.parent
    join_below = settings.same_doc_join_threshold
    for neg, i, j, rule in scored:
        # _UnionFind.find inlined (path halving, the same parent links): this loop runs once per matching pair
        a = i
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        b = j
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a == b:
            continue
        if rule != RULE_FRAGMENT and -neg < join_below:
            seen = (min(a, b), version[min(a, b)], max(a, b), version[max(a, b)])
            if seen in refused:
                continue  # two large clusters meet through many weak edges: judge the pair once
            if not _complementary(by_doc[a], by_doc[b], quotes, settings):
                refused.add(seen)
                continue
        uf.union(a, b)
        root = uf.find(a)
        version[root] += 1
        # fold the smaller cluster's documents into the larger one, so a big cluster is not copied per join
        big, small = (by_doc[a], by_doc[b]) if len(by_doc[a]) >= len(by_doc[b]) else (by_doc[b], by_doc[a])
        for doc, members in small.items():
            big.setdefault(doc, []).extend(members)
        by_doc[a], by_doc[b] = {}, {}
        by_doc[root] = big
        edge_rules.setdefault(i, set()).add(rule)
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(len(quotes)):
        clusters[uf.find(node_of[i])].append(i)
    cluster_rules: dict[int, set[str]] = defaultdict(set)
    for k, found in edge_rules.items():
        cluster_rules[uf.find(k)] |= found
    return [(members, cluster_rules.get(root, set())) for root, members in clusters.items()]


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(v for v in values if v)
    if not counts:
        return ""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _display_name(claims: Iterable[Claim], key: str, lex: Lexicon) -> str:
    names = sorted({c.subject for c in claims if c.subject and subject_key(c, lex) == key}, key=lambda s: (-len(s), s))
    return names[0] if names else key


def _quote_anchor(quotes: list[_Quote]) -> str:
    """The n-gram most of the group's quotes share: a content key that survives new members."""
    counts = Counter(g for q in quotes for g in q.ngrams)
    if counts:
        return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return " ".join(sorted({w for q in quotes for w in q.content} or {w for q in quotes for w in q.toks}))


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _times_meet(a: Claim, b: Claim) -> bool:
    if a.time_value and a.time_value == b.time_value:
        return True
    if a.time_start and b.time_start and a.time_end and b.time_end:
        return a.time_start < b.time_end and b.time_start < a.time_end
    sa, sb = parse_timex(a.time_value), parse_timex(b.time_value)
    if sa and sb and sa.anchored and sb.anchored and sa.start and sb.start and sa.end and sb.end:
        return sa.start < sb.end and sb.start < sa.end
    return False


@dataclass
class _Draft:
    key_parts: tuple[str, ...]
    kind: str
    label: str
    claims: list[Claim]
    rules: set[str]


def _quote_drafts(quotes: list[Claim], remarks: list[Claim], lex: Lexicon, settings: ReconcileSettings) -> list[_Draft]:
    prepared = _prepare_quotes(quotes, lex, settings)
    drafts: list[_Draft] = []
    for members, rules in _cluster_quotes(prepared, settings):
        qs = [prepared[i] for i in members]
        claims = [q.claim for q in qs]
        speaker = _most_common(q.speaker for q in qs)
        anchor = _quote_anchor(qs)
        display = _display_name(claims, speaker, lex) if speaker else "unknown speaker"
        pred = _most_common(c.predicate for c in claims) or "said"
        drafts.append(
            _Draft(("quote", speaker, anchor), "quote", f"{display} — {pred} — '…{anchor}…'", claims, rules)
        )
    by_speaker: dict[str, list[_Draft]] = defaultdict(list)
    for d in drafts:
        for sp in {subject_key(c, lex) for c in d.claims}:
            if sp:
                by_speaker[sp].append(d)
    draft_of = {c.claim_id: d for d in drafts for c in d.claims}
    by_doc: dict[str, list[Claim]] = defaultdict(list)
    for c in quotes:
        by_doc[c.doc_id].append(c)
    leftover: dict[str, list[Claim]] = defaultdict(list)
    for r in remarks:
        sp = subject_key(r, lex)
        nxt = _next_quote(r, by_doc.get(r.doc_id, []), lex, settings)
        if nxt is not None and not (r.venue and not _venues_meet(r.venue, nxt.venue, settings.venue_match_threshold)):
            target, rule = draft_of[nxt.claim_id], RULE_REMARK_NEXT
        else:
            target, rule = _remark_target(r, by_speaker.get(sp, []))
        if target is None:
            leftover[sp].append(r)
        else:
            target.claims.append(r)
            target.rules.add(rule)
    for sp, claims in leftover.items():
        if sp:
            name = _display_name(claims, sp, lex)
            drafts.append(_Draft(("remark", sp), "quote", f"{name} — remarked", claims, {RULE_REMARKS}))
    return drafts


def _next_quote(remark: Claim, doc_quotes: list[Claim], lex: Lexicon, settings: ReconcileSettings) -> Claim | None:
    """The speaker's first quote after a remark report in the same document, if it follows closely.

    "In January, X's comments made headlines. 'A,' X said ..." reports the statement quoted next.
    """
    sp = subject_key(remark, lex)
    after = [c for c in doc_quotes if subject_key(c, lex) == sp and 0 <= c.start - remark.end <= settings.remark_max_gap]
    return min(after, key=lambda c: (c.start, c.claim_id)) if after else None


def _remark_target(remark: Claim, candidates: list[_Draft]) -> tuple[_Draft | None, str]:
    """The speaker's quote group a remark reports: same venue, else same time, else the only group."""
    venue = name_key(remark.venue)
    scored = []
    for d in candidates:
        quoted = [c for c in d.claims if c.quote_text]
        if venue and any(name_key(c.venue) == venue for c in quoted):
            scored.append((0, stable_key(*d.key_parts), d, RULE_REMARK_VENUE))
        elif (remark.time_value or remark.time_start) and any(_times_meet(remark, c) for c in quoted):
            scored.append((1, stable_key(*d.key_parts), d, RULE_REMARK_TIME))
    if scored:
        best = min(scored, key=lambda s: (s[0], s[1]))
        return best[2], best[3]
    if len(candidates) == 1:
        return candidates[0], RULE_REMARK_ONLY
    return None, ""


@lru_cache(maxsize=100_000)
def _word_set(key: str) -> frozenset[str]:
    # cached on the key (all it depends on): venues and names recur across claims and groups
    return frozenset(words(key))


def cluster_names(keys: Iterable[str], ignore: frozenset[str] = frozenset()) -> dict[str, str]:
    """Map each name key to a representative: a name joins the one longer name whose words contain its words.

    "emily" joins "emily blunt" when no other name contains "emily"; an ambiguous short name stays apart.
    Words in ``ignore`` (joiners such as "and") do not count. Representatives are found through an
    index from word to representative, so the cost grows with the names, not with their pairs.
    """
    uniq = sorted({k for k in keys if k}, key=lambda k: (-len(_word_set(k) - ignore), k))
    reps: list[str] = []
    index: dict[str, set[int]] = defaultdict(set)
    out: dict[str, str] = {}
    for k in uniq:
        ws = _word_set(k) - ignore
        hits: set[int] | None = None
        for w in sorted(ws, key=lambda w: (len(index.get(w, ())), w)):
            posting = index.get(w)
            hits = set() if not posting else (set(posting) if hits is None else hits & posting)
            if not hits:
                break
        if hits is not None and len(hits) == 1:
            out[k] = reps[next(iter(hits))]
            continue
        for w in ws:
            index[w].add(len(reps))
        reps.append(k)
        out[k] = k
    return out


def cluster_similar_names(keys: Iterable[str], threshold: float) -> dict[str, str]:
    """Map each name key to a representative; names whose word overlap coefficient reaches threshold are one.

    For short name lists (venues of one group): "watch what happens live", "watch" and a spun
    "watch what wake up live" are one venue.
    """
    uniq = sorted({k for k in keys if k})
    sets = [_word_set(k) for k in uniq]
    uf = _UnionFind(len(uniq))
    for i in range(len(uniq)):
        for j in range(i + 1, len(uniq)):
            small = min(len(sets[i]), len(sets[j]))
            if small and len(sets[i] & sets[j]) / small >= threshold:
                uf.union(i, j)
    return {k: uniq[uf.find(i)] for i, k in enumerate(uniq)}


def _anchored_span(c: Claim) -> tuple[date, date] | None:
    if c.time_anchored is False:
        return None
    if c.time_start and c.time_end:
        return c.time_start, c.time_end
    s = parse_timex(c.time_value)
    return (s.start, s.end) if s and s.anchored and s.start and s.end else None


def _occurrences(claims: list[Claim], gap_days: int) -> list[tuple[str, list[Claim]]]:
    """Split the claims of a recurring event (fired, married, won) into occurrences whose dates lie far apart.

    "Fired in June 2004" and "fired today (May 2005)" are two firings, not two dates of one. Dated
    claims chain into one occurrence while each starts within ``gap_days`` of the previous one's end;
    undated claims stay with the largest occurrence, which keeps the unsplit key ('' suffix).
    """
    dated = sorted(((sp, c) for c in claims if (sp := _anchored_span(c))), key=lambda x: (x[0], x[1].claim_id))
    runs: list[list[Claim]] = []
    run_end: date | None = None
    for (start, end), c in dated:
        if run_end is None or (start - run_end).days > gap_days:
            runs.append([])
            run_end = end
        runs[-1].append(c)
        run_end = max(run_end, end)
    if len(runs) <= 1:
        return [("", claims)]
    runs.sort(key=lambda r: (-len(r), min(_anchored_span(c)[0] for c in r)))  # type: ignore[index]
    in_runs = {c.claim_id for r in runs for c in r}
    runs[0].extend(c for c in claims if c.claim_id not in in_runs)
    return [("" if i == 0 else str(min(_anchored_span(c)[0] for c in r).year), r)  # type: ignore[index]
            for i, r in enumerate(runs)]


def _fact_drafts(claims: list[Claim], lex: Lexicon, settings: ReconcileSettings) -> list[_Draft]:
    by_family: dict[str, list[Claim]] = defaultdict(list)
    for c in claims:
        if subject_key(c, lex):
            by_family[lex.predicate_rule(c.predicate).family].append(c)
    blocks: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    ignore = frozenset(settings.name_joiners)
    for family, members in by_family.items():
        # "Jim and Pam", "Jim Halpert & Pam" and "Pam" (when unambiguous) are one subject of this fact
        reps = cluster_names((subject_key(c, lex) for c in members), ignore)
        for c in members:
            blocks[(reps[subject_key(c, lex)], family)].append(c)
    drafts = []
    for (sk, family), members in blocks.items():
        rule = lex.predicate_rule(members[0].predicate)
        name = _most_common(c.subject or "" for c in members) or sk
        if rule.object_role != "identifies":
            for when, part in _split(members, rule.recurs, settings):
                label = f"{name} — {family}" + (f" ({when})" if when else "")
                rules = {RULE_FACT} | ({RULE_OCCURRENCE} if when else set())
                drafts.append(_Draft(("fact", sk, family) + ((when,) if when else ()), rule.value_kind, label, part, rules))
            continue
        # a recurring event about a place (moved to X) is told apart by the place, as others are by the object
        ident = _place_or_object if rule.recurs and rule.value_kind == "place" else _object
        reps = cluster_names(name_key(ident(c)) for c in members)
        by_obj: dict[str, list[Claim]] = defaultdict(list)
        for c in members:
            by_obj[reps.get(name_key(ident(c)), "")].append(c)
        no_obj = by_obj.pop("", [])
        if no_obj and len(by_obj) == 1:
            next(iter(by_obj.values())).extend(no_obj)
        elif no_obj:
            by_obj[""] = no_obj
        for ok, group in by_obj.items():
            objs = sorted({ident(c) or "" for c in group if ident(c) and reps.get(name_key(ident(c))) == ok},
                          key=lambda s: (-len(s), s))
            for when, part in _split(group, rule.recurs, settings):
                label = f"{name} — {family}" + (f" — {objs[0]}" if objs else "") + (f" ({when})" if when else "")
                rules = {RULE_OBJECT} | ({RULE_OCCURRENCE} if when else set())
                drafts.append(_Draft(("fact", sk, family, ok) + ((when,) if when else ()), rule.value_kind, label, part,
                                     rules))
    return drafts


def _object(c: Claim) -> str | None:
    return c.object


def _place_or_object(c: Claim) -> str | None:
    return c.object or c.place


def _split(claims: list[Claim], recurs: bool, settings: ReconcileSettings) -> list[tuple[str, list[Claim]]]:
    return _occurrences(claims, settings.recurring_event_gap_days) if recurs else [("", claims)]


def group_claims(claims: Sequence[Claim], settings: ReconcileSettings) -> list[ClaimGroup]:
    """Block and match claims into groups about the same thing, each with a stable content-derived key."""
    lex = load_lexicon(settings)
    uniq = sorted({c.claim_id: c for c in claims}.values(), key=lambda c: c.claim_id)
    quotes = [c for c in uniq if c.kind == "quote" and c.quote_text]
    remarks = [c for c in uniq if c.kind == "quote" and not c.quote_text]
    others = [c for c in uniq if c.kind != "quote"]
    drafts = _quote_drafts(quotes, remarks, lex, settings) + _fact_drafts(others, lex, settings)
    merged: dict[tuple[str, ...], _Draft] = {}
    for d in drafts:
        # two clusters with the same content key speak about the same thing: one group
        if d.key_parts in merged:
            merged[d.key_parts].claims.extend(d.claims)
            merged[d.key_parts].rules.update(d.rules)
        else:
            merged[d.key_parts] = d
    groups = []
    for d in merged.values():
        if len(d.claims) < 2:
            continue
        members = tuple(sorted(d.claims, key=lambda c: c.claim_id))
        groups.append(
            ClaimGroup(
                group_key=stable_key(*d.key_parts),
                kind=d.kind,
                label=_short(d.label, 120),
                claims=members,
                rule=";".join(sorted(d.rules)),
            )
        )
    return sorted(groups, key=lambda g: g.group_key)
