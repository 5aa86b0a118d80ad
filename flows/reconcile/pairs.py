"""Pairs of members that share a block (a blocking key, a shingle), counted in numpy a slice at a time.

Needs: blocks laid out as one array of members (``post``) with each block's start and size.
Adds: every pair of members of a block as one int64 code ``min * width + max``, with how many blocks
each pair shares. Used by claim blocking (flows.reconcile.group) and copy detection
(flows.reconcile.trust); a self-join of the postings, as Splink does in SQL.
"""

from __future__ import annotations

import numpy as np

# the pairs are made and counted a slice of blocks at a time: on a large warehouse all of them at once
# took hundreds of MB of index arrays; the counts of the slices are then summed per code
_PAIRS_PER_SLICE = 1_000_000


def _slice_codes(size: np.ndarray, start: np.ndarray, heads: np.ndarray, post: np.ndarray, width: int,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pair codes of some blocks and how many of those blocks each pair shares."""
    # every head (a member among its block's first ``heads``) pairs with each later member of its block
    head_block = np.repeat(np.arange(len(size)), heads)
    head_rank = np.arange(int(heads.sum())) - np.repeat(np.cumsum(heads) - heads, heads)
    partners = size[head_block] - head_rank - 1
    head_pos = start[head_block] + head_rank
    first = np.repeat(head_pos + 1 - (np.cumsum(partners) - partners), partners)
    other = first + np.arange(int(partners.sum()))
    # codes are 64-bit whatever ``post`` holds: min * width + max overflows 32 bits past 46,340 members
    ma, mb = np.repeat(post[head_pos], partners).astype(np.int64, copy=False), post[other].astype(np.int64, copy=False)
    return np.unique(np.minimum(ma, mb) * width + np.maximum(ma, mb), return_counts=True)


def block_pair_counts(size: np.ndarray, start: np.ndarray, heads: np.ndarray, post: np.ndarray, width: int,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct pair codes and the number of blocks each pair shares.

    Block k is ``post[start[k] : start[k] + size[k]]``; each of its first ``heads[k]`` members pairs
    with every member after it (heads = size: all pairs; fewer: a large block linked through pivots).
    """
    if not len(size):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_pairs = heads * (size - 1) - heads * (heads - 1) // 2
    cuts = np.searchsorted(np.cumsum(n_pairs), np.arange(_PAIRS_PER_SLICE, int(n_pairs.sum()), _PAIRS_PER_SLICE))
    bounds = [0, *sorted(set((cuts + 1).tolist()) - {0, len(size)}), len(size)]
    codes, counts = _slice_codes(size[: bounds[1]], start[: bounds[1]], heads[: bounds[1]], post, width)
    for b0, b1 in zip(bounds[1:-1], bounds[2:], strict=True):
        # each slice is folded into the running counts at once: kept as a list of parts, the slices'
        # distinct codes (the same pair recurs in many slices) outgrew the pairs themselves
        more, n = _slice_codes(size[b0:b1], start[b0:b1], heads[b0:b1], post, width)
        codes, counts = _merge_counts(codes, counts, more, n)
    return codes, counts


def _merge_counts(codes: np.ndarray, counts: np.ndarray, more: np.ndarray, n: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted sets of distinct codes with counts, as one: shared codes' counts added (in ``counts``, in
    place), the others inserted.

    A merge by binary search, not a unique() of both together: that sorted the whole running set again
    per slice and, with its inverse and float weights, held about ten copies of it (250 MB at 20,000
    articles' n-gram blocks).
    """
    at = np.searchsorted(codes, more)
    known = at < len(codes)
    known[known] = codes[at[known]] == more[known]
    counts[at[known]] += n[known]  # distinct codes: no index repeats, so += adds every one
    fresh = ~known
    return np.insert(codes, at[fresh], more[fresh]), np.insert(counts, at[fresh], n[fresh])
