"""Sparse input features: the grouped CSR layout layer 0 reads when its input is ``sparse``
(:class:`lpgnas.hwconfig.LayerHW` ``input``), and the counts every stage derives from it.

Layer 0's transform multiplies only the non-zero input codes. Row ``n``'s non-zeros, in column order, are cut
into **groups** of ``p_in`` (the transform's multipliers per lane), the last one padded with entries of value
0 and column 0; a row without non-zeros still has one (all-padding) group, so every row takes at least one
step. Three flat images hold them:

* ``feat_ptr`` (``N + 1`` words): row ``n``'s groups are ``feat_ptr[n] .. feat_ptr[n+1] - 1``;
* ``feat_col``, ``feat_val`` (``groups * p_in`` words): entry ``k`` of group ``g`` at ``g * p_in + k`` (its
  column and its code). The accelerator reads them as ``p_in`` banks (bank ``k``, address ``g``), like the
  dense features.

The sums are the dense transform's (zeros add nothing, padding multiplies a weight by 0), so the golden
model, and every bit-exact check against it, is unchanged.
"""

from __future__ import annotations

import numpy as np


def row_nonzeros(x: np.ndarray) -> np.ndarray:
    """Non-zero entries per row of a 2-D array (codes or floats)."""
    a = np.asarray(x)
    return np.count_nonzero(a.reshape(a.shape[0], -1), axis=1).astype(np.int64)


def nonzero_histogram(x: np.ndarray) -> dict[int, int]:
    """``{non-zeros in a row: number of rows}`` (what the cost model needs of the features)."""
    counts = np.bincount(row_nonzeros(x))
    return {int(k): int(c) for k, c in enumerate(counts) if c}


def row_groups(nonzeros, p_in: int):
    """Groups of row(s) with ``nonzeros`` entries: ``max(1, ceil(nonzeros / p_in))`` (numbers or arrays)."""
    return np.maximum(1, -(-np.asarray(nonzeros, dtype=np.int64) // int(p_in)))


def group_count(histogram: dict[int, int], p_in: int) -> int:
    """All rows' groups at ``p_in`` entries per group, from a :func:`nonzero_histogram`."""
    return int(sum(int(c) * int(row_groups(k, p_in)) for k, c in histogram.items()))


def max_groups(max_nonzeros: int, max_nodes: int, p_in: int) -> int:
    """The most groups any graph within the capacity can need: every row's padding costs at most one group."""
    return -(-int(max_nonzeros) // int(p_in)) + int(max_nodes)


def column_width(in_features: int) -> int:
    """Bits of a ``feat_col`` word: a column index below ``in_features`` (at least 1)."""
    return max(1, (int(in_features) - 1).bit_length())


def group_features(x_codes: np.ndarray, p_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(feat_ptr, feat_col, feat_val)`` of a 2-D code array (see the module docstring)."""
    x = np.asarray(x_codes, dtype=np.int64)
    x = x.reshape(x.shape[0], -1)
    groups = row_groups(row_nonzeros(x), p_in)
    ptr = np.zeros(x.shape[0] + 1, dtype=np.int64)
    np.cumsum(groups, out=ptr[1:])
    col = np.zeros(int(ptr[-1]) * p_in, dtype=np.int64)
    val = np.zeros_like(col)
    for n in range(x.shape[0]):
        cols = np.flatnonzero(x[n])
        start = int(ptr[n]) * p_in
        col[start : start + cols.size] = cols
        val[start : start + cols.size] = x[n, cols]
    return ptr, col, val
