"""The graph as torch tensors (host constants cached as codes and values) and message reduction over it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from lpgnas.datasets import Dataset
from lpgnas.graph import CSRGraph
from lpgnas.numfmt import NumFormat, dequantize_np
from lpgnas.search.exact import FLOAT64_EXACT_BITS
from lpgnas.search.sparse import RowsProduct, SparseRows


@dataclass
class GraphTensors:
    """The normalised graph as torch tensors on ``device``, with host constants as codes (and dequantised
    values), computed from ``csr`` on the host and moved there."""

    csr: CSRGraph
    device: torch.device | str = "cpu"
    edge_index: torch.Tensor = field(init=False)
    _cache: dict = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.edge_index = torch.from_numpy(np.stack([self.csr.col_idx, self.csr.dst_idx])).to(self.device)

    @classmethod
    def of(cls, data: Dataset) -> GraphTensors:
        """The graph of ``data``, on the device of its tensors."""
        return cls(CSRGraph.from_edge_index(data.edge_index.cpu().numpy(), data.num_nodes), data.x.device)

    @property
    def src(self) -> torch.Tensor:
        """Source node of every CSR edge."""
        return self.edge_index[0]

    @property
    def dst(self) -> torch.Tensor:
        """Destination node of every CSR edge."""
        return self.edge_index[1]

    @property
    def rows(self) -> SparseRows:
        """The edges as a CSR matrix structure (row: destination, column: source), for aggregation products."""
        if "rows" not in self._cache:
            n = self.csr.num_nodes
            self._cache["rows"] = SparseRows(torch.stack([self.dst, self.src]), (n, n))
        return self._cache["rows"]

    @property
    def max_degree(self) -> int:
        return int(self.csr.degrees.max()) if self.csr.num_nodes else 1

    def codes(self, key: str, fmt: NumFormat, make: Callable[[CSRGraph, NumFormat], np.ndarray]) -> torch.Tensor:
        """Integer codes from ``make`` (one of lpgnas.graph's host functions), cached."""
        if ("codes", key, fmt) not in self._cache:
            codes = np.asarray(make(self.csr, fmt), dtype=np.int64)
            self._cache[("codes", key, fmt)] = torch.from_numpy(codes).to(self.device)
        return self._cache[("codes", key, fmt)]

    def constant(self, key: str, fmt: NumFormat, make: Callable[[CSRGraph, NumFormat], np.ndarray]) -> torch.Tensor:
        """Codes from ``make``, dequantised and cached."""
        if (key, fmt) not in self._cache:
            values = torch.from_numpy(dequantize_np(make(self.csr, fmt), fmt)).float()
            self._cache[(key, fmt)] = values.to(self.device)
        return self._cache[(key, fmt)]


def aggregate_sum(g: GraphTensors, coef: torch.Tensor, lin: torch.Tensor) -> torch.Tensor:
    """``sum over edges j -> i of coef[e, h] * lin[j, h]`` (E, heads) x (N, heads, out) -> (N, heads, out) as
    one CSR product per head (the gather-multiply-scatter it replaces spent most of a QAT epoch on the
    co-purchase graphs). Float: the surrogate, differentiable in both. Int64 codes: the product in float64,
    exact while every partial sum stays below 2**52, else gather-multiply-scatter in int64."""
    if lin.dtype == torch.int64:
        bits = max(int(coef.abs().max()) if coef.numel() else 0, 1).bit_length()
        bits += max(int(lin.abs().max()) if lin.numel() else 0, 1).bit_length()
        if bits + max(g.max_degree, 1).bit_length() > FLOAT64_EXACT_BITS:
            return scatter(coef[:, :, None] * lin[g.src], g.dst, g.csr.num_nodes, "sum")
        return aggregate_sum(g, coef.double(), lin.double()).long()
    rows, shared = g.rows, coef.shape[1] == 1  # one coefficient per edge for every head
    return torch.stack([RowsProduct.apply(coef[:, 0 if shared else h].contiguous(), lin[:, h].contiguous(), rows)
                        for h in range(lin.shape[1])], dim=1)


def aggregate(g: GraphTensors, coef: torch.Tensor, lin: torch.Tensor, reduce: str) -> torch.Tensor:
    """Messages ``coef[e, h] * lin[src(e), h]`` reduced per destination by ``reduce`` ("sum": the CSR
    product ``aggregate_sum``; "amax": scatter of the gathered messages)."""
    if reduce == "sum":
        return aggregate_sum(g, coef, lin)
    return scatter(coef[:, :, None] * lin[g.src], g.dst, g.csr.num_nodes, reduce)


def scatter(values: torch.Tensor, index: torch.Tensor, num_nodes: int, reduce: str) -> torch.Tensor:
    """Reduce rows of ``values`` (E, ...) into ``num_nodes`` rows by ``index`` (every node has a row)."""
    out = values.new_zeros((num_nodes, *values.shape[1:]))
    if reduce == "sum":
        return out.index_add_(0, index, values)
    idx = index.view(-1, *([1] * (values.dim() - 1))).expand_as(values)
    return out.scatter_reduce_(0, idx, values, "amax", include_self=False)
