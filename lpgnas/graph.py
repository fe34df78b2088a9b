"""The graph as the accelerator sees it, and the host-side constants computed from it.

Every layer runs on the same normalised graph: duplicate edges merged, existing self-loops dropped, one
self-loop added per node, stored in CSR by destination (row ``i`` lists the sources ``j`` of the edges
``j -> i`` in ascending order). Float appears here only in the edge/node constants, each quantised once
by :func:`lpgnas.numfmt.quantize_np`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from lpgnas.numfmt import NumFormat, quantize_np


@dataclass(frozen=True)
class CSRGraph:
    """Destination-major CSR with self-loops (``row_ptr``: N+1 offsets, ``col_idx``: source of each edge)."""

    num_nodes: int
    row_ptr: np.ndarray
    col_idx: np.ndarray

    @property
    def num_edges(self) -> int:
        """Edges including the self-loops."""
        return int(self.col_idx.shape[0])

    @property
    def degrees(self) -> np.ndarray:
        """In-degree of every node, self-loop included (always >= 1)."""
        return np.diff(self.row_ptr)

    @property
    def dst_idx(self) -> np.ndarray:
        """Destination of each edge, aligned with ``col_idx``."""
        return np.repeat(np.arange(self.num_nodes, dtype=np.int64), self.degrees)

    @classmethod
    def from_edge_index(cls, edge_index: np.ndarray, num_nodes: int) -> CSRGraph:
        """Normalise a (2, E) source/target edge list (PyG convention) into CSR with self-loops."""
        ei = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
        if ei.size and (ei.min() < 0 or ei.max() >= num_nodes):
            raise ValueError(f"edge_index refers to nodes outside 0..{num_nodes - 1}")
        src, dst = ei
        keep = src != dst
        src, dst = src[keep], dst[keep]
        loops = np.arange(num_nodes, dtype=np.int64)
        src, dst = np.concatenate([src, loops]), np.concatenate([dst, loops])
        key = np.unique(dst * num_nodes + src)
        dst, src = key // num_nodes, key % num_nodes
        row_ptr = np.zeros(num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=num_nodes), out=row_ptr[1:])
        return cls(num_nodes, row_ptr, src.astype(np.int64))

    def subgraph(self, nodes: np.ndarray) -> CSRGraph:
        """Induced subgraph on ``nodes`` (renumbered 0..len-1 in the given order)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        new_id = np.full(self.num_nodes, -1, dtype=np.int64)
        new_id[nodes] = np.arange(len(nodes))
        dst, src = new_id[self.dst_idx], new_id[self.col_idx]
        keep = (dst >= 0) & (src >= 0)
        return CSRGraph.from_edge_index(np.stack([src[keep], dst[keep]]), len(nodes))


def gcn_coefficients(graph: CSRGraph, fmt: NumFormat) -> np.ndarray:
    """Quantised GCN edge coefficients ``1/sqrt(deg_dst * deg_src)`` per CSR edge."""
    deg = graph.degrees.astype(np.float64)
    return quantize_np(1.0 / np.sqrt(deg[graph.dst_idx] * deg[graph.col_idx]), fmt)


def mean_reciprocals(graph: CSRGraph, fmt: NumFormat) -> np.ndarray:
    """Quantised ``1/deg`` per node for mean aggregation."""
    return quantize_np(1.0 / graph.degrees.astype(np.float64), fmt)


def head_mean_reciprocal(heads: int, frac: int) -> int:
    """Quantised ``1/heads`` used when heads are averaged."""
    return int(quantize_np(1.0 / heads, NumFormat(frac + 2, frac, signed=False)))


def bfs_nodes(graph: CSRGraph, count: int, start: int = 0) -> np.ndarray:
    """Up to ``count`` nodes in breadth-first order from ``start`` (then from the next unvisited node),
    so that a subgraph keeps neighbourhoods together."""
    count = min(count, graph.num_nodes)
    seen = np.zeros(graph.num_nodes, dtype=bool)
    order: list[int] = []
    for root in [start, *range(graph.num_nodes)]:
        if len(order) >= count:
            break
        if seen[root]:
            continue
        seen[root] = True
        queue = deque([root])
        while queue and len(order) < count:
            node = queue.popleft()
            order.append(node)
            for nb in graph.col_idx[graph.row_ptr[node]:graph.row_ptr[node + 1]]:
                if not seen[nb]:
                    seen[nb] = True
                    queue.append(int(nb))
    return np.array(order[:count], dtype=np.int64)
