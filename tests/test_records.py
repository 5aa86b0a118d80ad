"""OffsetMap: spans of derived text map back to the text they came from."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flows.records import OffsetMap


def _apply(src: str, edits: list[tuple[int, int, str]]) -> tuple[str, OffsetMap]:
    """Apply non-overlapping (start, end, replacement) edits; build the dst->src map."""
    out, segs, pos, dpos = [], [], 0, 0
    for s, e, rep in sorted(edits):
        if s < pos:
            continue
        if s > pos:
            out.append(src[pos:s])
            segs.append((dpos, dpos + s - pos, pos, s))
            dpos += s - pos
        out.append(rep)
        segs.append((dpos, dpos + len(rep), s, e))
        dpos += len(rep)
        pos = e
    if pos < len(src):
        out.append(src[pos:])
        segs.append((dpos, dpos + len(src) - pos, pos, len(src)))
    return "".join(out), OffsetMap(tuple(segs))


def test_identity_maps_every_span_to_itself():
    m = OffsetMap.identity(10)
    assert m.to_source(0, 10) == (0, 10)
    assert m.to_source(3, 7) == (3, 7)


def test_replacement_maps_to_whole_source_span():
    src = "they space happy"
    dst, m = _apply(src, [(5, 10, "are")])
    assert dst == "they are happy"
    a, b = m.to_source(5, 8)
    assert src[a:b] == "space"
    a, b = m.to_source(9, 14)
    assert src[a:b] == "happy"
    a, b = m.to_source(0, len(dst))
    assert (a, b) == (0, len(src))


def test_gaps_snap_to_segment_edges():
    # clean text = two paragraphs of raw text with a removed line between them
    m = OffsetMap(((0, 5, 0, 5), (7, 12, 20, 25)))
    assert m.to_source(7, 12) == (20, 25)
    assert m.to_source(0, 12) == (0, 25)


def test_then_composes_two_maps():
    raw = "Skip nav\nthey space happy\nFooter"
    clean_text = raw[9:25]
    clean_map = OffsetMap(((0, len(clean_text), 9, 25),))
    norm, norm_map = _apply(clean_text, [(5, 10, "are")])
    composed = norm_map.then(clean_map)
    i = norm.index("happy")
    a, b = composed.to_source(i, i + 5)
    assert raw[a:b] == "happy"
    j = norm.index("are")
    a, b = composed.to_source(j, j + 3)
    assert raw[a:b] == "space"


@st.composite
def text_and_edits(draw):
    src = draw(st.text(alphabet="ab cd\n", min_size=0, max_size=60))
    n = draw(st.integers(0, 4))
    edits = []
    for _ in range(n):
        if not src:
            break
        s = draw(st.integers(0, len(src)))
        e = draw(st.integers(s, min(len(src), s + 6)))
        edits.append((s, e, draw(st.text(alphabet="xyz", max_size=5))))
    return src, edits


@given(text_and_edits())
def test_every_segment_maps_back_to_its_source_span(case):
    src, edits = case
    dst, m = _apply(src, edits)
    for d0, d1, s0, s1 in m.segments:
        a, b = m.to_source(d0, d1)
        assert 0 <= a <= b <= len(src)
        assert (a, b) == (s0, s1) or d0 == d1


@given(text_and_edits())
def test_copied_text_maps_back_character_for_character(case):
    src, edits = case
    dst, m = _apply(src, edits)
    edited = {(s, e) for s, e, _ in edits}
    for d0, d1, s0, s1 in m.segments:
        if (s0, s1) in edited or d0 == d1:
            continue
        for i in range(d0, d1):
            a, b = m.to_source(i, i + 1)
            assert src[a:b] == dst[i]
