"""Quantisation-aware training modules whose forward pass *is* the golden integer model.

``QuantGraphLayer`` is one PyG ``MessagePassing`` layer whose attention, aggregation and activation are
chosen by name from the operator registry (``lpgnas.operators``). Each step runs twice, in lock step:

* the **exact** path computes the integer codes the golden model (``lpgnas.golden``) computes, with int64
  torch ops (float64 for the transform's matrix product where its accumulator bound fits 52 bits, so it
  is exact too) and the same tables (``lpgnas.tables``);
* the **surrogate** path computes the same step in float from the exact values of the previous step
  (fake quantisers with the straight-through estimator, torch softmax of the dequantised scores, the
  smooth functions the tables sample).

At every point where the golden model quantises, the step's value is ``y_float + (y_exact - y_float)``
with the difference detached (:func:`exact_value`): the forward pass yields the golden model's codes bit
for bit, the backward pass the surrogate's gradient. So the trained torch model and the exported IR
predict the same classes on every node (``tests/test_layers_ops.py`` checks every registry operator).

Per-operator training implementations live in three registries keyed by operator name
(``ATTENTION_COEFFICIENTS``, ``AGGREGATION_FINALISERS``, ``ACTIVATION_MODULES``); each entry is
callable with its historical float signature (``rule(layer, g)`` -> coefficient values,
``finaliser(acc, g)``, ``activation(x)``) and has an ``exact``/``quantised`` method for the integer path.
``export_ir`` turns a trained ``QuantGNN`` into the IR with integer tensors.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lpgnas.search.quant import ActQuant, FixedQuant, WeightQuant
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import softmax as edge_softmax

from lpgnas.errors import LpgnasError
from lpgnas.golden import accumulator_bounds, score_accumulator_bits
from lpgnas.graph import CSRGraph, gcn_coefficients, head_mean_reciprocal, mean_reciprocals
from lpgnas.ir import HEAD_MEAN_FRAC, LayerIR, ModelIR
from lpgnas.numfmt import (
    INT64_SAFE_BITS,
    NumFormat,
    dequantize_np,
    fake_quant,
    fix,
    frac_for_range,
    quantize_np,
    requantize_np,
    requantize_torch,
)
from lpgnas.operators import ATTENTIONS, MEAN_RECIP_FORMAT, layer_format_names
from lpgnas.tables import (
    ACTIVATION_LEAKY_CODE,
    ATTENTION_LEAKY_CODE,
    LEAKY_FRAC,
    SOFTMAX_RECIP_FRAC,
    function_table,
    relu6_max_code,
    table_index,
)

#: widest matrix-product accumulator computed in float64 (exact below 2**53)
_FLOAT64_EXACT_BITS = 52
#: widest matrix-product accumulator whose codes are read off the float32 product itself: every product
#: and partial sum is an integer multiple of one power of two below 2**24 of it, so float32 (fused
#: multiply-add or not, in any order) computes it exactly
_FLOAT32_EXACT_BITS = 24
#: input features with at most this fraction of non-zero codes are kept as sparse tensors (the CSR products
#: beat the dense ones up to about half dense: the co-purchase graphs' features are 35 % non-zero)
SPARSE_INPUT_DENSITY = 0.5


def coef_format(bits: int) -> NumFormat:
    """Format of edge coefficients in (0, 1]: unsigned, one integer bit."""
    return fix(bits, bits - 1, signed=False)


def exp_format(bits: int) -> NumFormat:
    """Format of the softmax's exp-table output: unsigned, ``frac = bits - 1`` (exp(0) = 1 is its top power)."""
    return fix(bits, bits - 1, signed=False)


# ---- the exact/surrogate pair ------------------------------------------------------------------------------

class _Replace(torch.autograd.Function):
    """Forward: the exact values; backward: the gradient goes to the surrogate unchanged."""

    @staticmethod
    def forward(ctx, surrogate: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return exact.to(surrogate.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad, None


def dequantize_torch(codes: torch.Tensor, frac: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Values ``codes * 2**-frac`` (exact in float32 for codes of at most 24 bits)."""
    return (codes.to(torch.float64) * 2.0**-frac).to(dtype)


def quantize_codes(x: torch.Tensor, fmt: NumFormat) -> torch.Tensor:
    """``lpgnas.numfmt.quantize_torch`` on float64 as int64 codes (scaling by a power of two is exact, so
    the multiplication equals its ``ldexp``, only faster)."""
    if fmt.kind == "binary":
        return torch.where(x >= 0, 1, -1).long()
    return torch.clamp(torch.floor(x.double() * 2.0**fmt.frac + 0.5), fmt.qmin, fmt.qmax).long()


def exact_value(surrogate: torch.Tensor, codes: torch.Tensor, frac: int) -> torch.Tensor:
    """``surrogate + (codes * 2**-frac - surrogate).detach()``, computed so the forward value is exact."""
    return _Replace.apply(surrogate, dequantize_torch(codes, frac, surrogate.dtype))


@dataclass
class QTensor:
    """One step's result: differentiable ``value`` (= ``codes * 2**-frac`` in the forward pass), int64 codes."""

    value: torch.Tensor
    codes: torch.Tensor
    frac: int


def _quantised(surrogate: torch.Tensor, codes: torch.Tensor, frac: int) -> QTensor:
    return QTensor(exact_value(surrogate, codes, frac), codes, frac)


def project(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``x @ w[h]`` for every head: (N, in) x (heads, in, out) -> (N, heads, out); ``x`` dense or sparse
    COO (a sparse product visits only the non-zeros: bag-of-words features are 1-35 % dense)."""
    if not x.is_sparse:
        return torch.einsum("ni,hio->nho", x, w)
    heads, fan_in, out = w.shape
    rows = SparseRows.of(x)
    return _RowsProduct.apply(x.values(), w.permute(1, 0, 2).reshape(fan_in, heads * out), rows).view(-1, heads, out)


class SparseRows:
    """The CSR structure of a coalesced COO matrix's non-zeros (row-major, so COO order *is* CSR order)
    and, built on first use, that of its transpose: products run as CSR x dense, 10-15x faster than torch's
    COO product here. Cached per indices tensor (the input features' indices live for the whole run);
    ``GraphTensors.rows`` is the graph's (destination, source) structure."""

    _cache: dict[tuple, SparseRows] = {}

    def __init__(self, indices: torch.Tensor, shape: tuple[int, int]) -> None:
        """``indices`` (2, nnz): row-major sorted (row, column) pairs of a ``shape`` matrix."""
        self.indices, self.shape = indices, shape
        self.row, self.col = indices[0], indices[1].contiguous()
        self.crow = torch._convert_indices_from_coo_to_csr(self.row, shape[0])
        self._transpose: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def of(cls, x: torch.Tensor) -> SparseRows:
        """The structure of sparse COO ``x``; the cache holds its indices alive, so their address identifies them."""
        indices = x.indices()
        key = (indices.data_ptr(), indices.shape[1], tuple(x.shape))
        rows = cls._cache.get(key)
        if rows is None:
            if len(cls._cache) >= 8:
                cls._cache.clear()
            rows = cls._cache[key] = cls(indices, tuple(x.shape))
        return rows

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        return _csr(self.crow, self.col, values, self.shape)

    def transpose(self, values: torch.Tensor) -> torch.Tensor:
        if self._transpose is None:
            order = torch.argsort(self.col, stable=True)
            crow = torch._convert_indices_from_coo_to_csr(self.col[order], self.shape[1])
            self._transpose = (order, crow, self.row[order].contiguous())
        order, crow, col = self._transpose
        return _csr(crow, col, values[order], self.shape[::-1])


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A CSR tensor, without torch's "beta" warning (the products used, CSR x dense and ``sampled_addmm``,
    are checked bit for bit against the golden model by the layer tests)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


class _RowsProduct(torch.autograd.Function):
    """``csr(values) @ w`` with the gradients of ``values`` (``grad @ w.T`` at the non-zeros only) and of ``w``
    (the transposed CSR times ``grad``)."""

    @staticmethod
    def forward(ctx, values: torch.Tensor, w: torch.Tensor, rows: SparseRows) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(values, w)
        ctx.rows = rows
        return rows.matrix(values) @ w

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        values, w = ctx.saved_tensors
        rows: SparseRows = ctx.rows
        grad_values = torch.sparse.sampled_addmm(rows.matrix(values), grad, w.t().contiguous(), beta=0.0)\
            .values() if ctx.needs_input_grad[0] else None
        grad_w = rows.transpose(values) @ grad if ctx.needs_input_grad[1] else None
        return grad_values, grad_w, None


def _as_double(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x * scale`` in float64; a sparse ``x`` keeps its indices tensor (so ``SparseRows.of`` finds it)."""
    if x.is_sparse:
        return sparse_coo(x.indices(), x.values().double() * scale, x.shape)
    return x.double() * scale if scale != 1.0 else x.double()


def _dense(x: torch.Tensor) -> torch.Tensor:
    return x.to_dense() if x.is_sparse else x


def sparse_coo(indices: torch.Tensor, values: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A coalesced sparse COO tensor (``indices`` from ``nonzero``, hence sorted: no invariant checks)."""
    return torch.sparse_coo_tensor(indices, values, shape, is_coalesced=True, check_invariants=False)


def sparse_indices(dense: torch.Tensor) -> torch.Tensor | None:
    """Indices (2, nnz) of a 2-D tensor's non-zeros when at most ``SPARSE_INPUT_DENSITY`` of it is non-zero,
    else None (kept dense)."""
    nz = dense.detach() != 0
    if dense.dim() != 2 or float(nz.float().mean()) > SPARSE_INPUT_DENSITY:
        return None
    return nz.nonzero().t()


def _product_bits(input_fmt: NumFormat, w_fmt: NumFormat, fan_in: int) -> int:
    """Bits of the magnitude of a ``fan_in``-term sum of input-code x weight-code products."""
    mag = max(abs(input_fmt.qmin), abs(input_fmt.qmax)).bit_length()
    mag += max(abs(w_fmt.qmin), abs(w_fmt.qmax)).bit_length()
    return mag + math.ceil(math.log2(max(fan_in, 1)))


def dropout_shift(p: float) -> int | None:
    """``k`` when dropout with probability ``p`` scales the values it keeps by exactly ``2**k`` (``p = 1 -
    2**-k``: quantised values stay on their grid, ``k`` bits wider), else None."""
    k = round(-math.log2(1.0 - p)) if 0 <= p < 1 else -1
    return k if k >= 0 and 1.0 / (1.0 - p) == 2.0**k else None


#: resolution of ``fast_dropout``'s draws: one 16-bit uniform integer per element
DROPOUT_DRAW_BITS = 16


def fast_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Training-mode dropout at about twice the speed of ``F.dropout`` on a CPU, whose per-element Bernoulli
    sampler took half of a QAT epoch on the dense Amazon features. Each element gets a 16-bit uniform draw,
    cut out of 64-bit words of torch's generator (so ``torch.manual_seed`` fixes it), and is kept when the
    draw is at least ``t = round(p * 2**16)``: with probability ``1 - t / 2**16``, which is ``1 - p`` exactly
    when ``p`` is a multiple of ``2**-16`` (0.5, 0.25, ...) and within ``2**-17`` of it otherwise. Kept values
    are scaled by ``2**16 / (2**16 - t)`` (``1 / (1 - p)`` in the exact case), so the expectation is ``x``."""
    full = 1 << DROPOUT_DRAW_BITS
    threshold = round(p * full)
    if threshold <= 0:
        return x
    if threshold >= full:
        return torch.zeros_like(x)
    n = x.numel()
    words = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=x.device)
    draws = words.view(torch.int16)[:n].view(x.shape)  # uniform over [-2**15, 2**15)
    keep = draws >= threshold - full // 2
    return x * keep * (full / (full - threshold))


def sparse_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``fast_dropout`` in training (nothing otherwise) that keeps a sparse COO tensor sparse (dropping a
    zero changes nothing)."""
    if not training or p == 0:
        return x
    if not x.is_sparse:
        return fast_dropout(x, p)
    return sparse_coo(x.indices(), fast_dropout(x.values(), p), x.shape)


def sparse_layout(dense: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``tensors`` (each shaped like ``dense``) as sparse COO on ``dense``'s non-zeros (``sparse_indices``),
    else unchanged. Products are exact either way."""
    idx = sparse_indices(dense)
    if idx is None:
        return tensors
    return tuple(sparse_coo(idx, t[idx[0], idx[1]], t.shape) for t in tensors)


# ---- the graph -------------------------------------------------------------------------------------------

@dataclass
class GraphTensors:
    """The normalised graph as torch tensors, with host constants as codes (and dequantised values)."""

    csr: CSRGraph
    edge_index: torch.Tensor = field(init=False)
    _cache: dict = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.edge_index = torch.from_numpy(np.stack([self.csr.col_idx, self.csr.dst_idx]))

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
            self._cache[("codes", key, fmt)] = torch.from_numpy(np.asarray(make(self.csr, fmt), dtype=np.int64))
        return self._cache[("codes", key, fmt)]

    def constant(self, key: str, fmt: NumFormat, make: Callable[[CSRGraph, NumFormat], np.ndarray]) -> torch.Tensor:
        """Codes from ``make``, dequantised and cached."""
        if (key, fmt) not in self._cache:
            self._cache[(key, fmt)] = torch.from_numpy(dequantize_np(make(self.csr, fmt), fmt)).float()
        return self._cache[(key, fmt)]


def aggregate_sum(g: GraphTensors, coef: torch.Tensor, lin: torch.Tensor) -> torch.Tensor:
    """``sum over edges j -> i of coef[e, h] * lin[j, h]`` (E, heads) x (N, heads, out) -> (N, heads, out) as
    one CSR product per head (the gather-multiply-scatter it replaces spent most of a QAT epoch on the
    co-purchase graphs). Float: the surrogate, differentiable in both. Int64 codes: the product in float64,
    exact while every partial sum stays below 2**52, else gather-multiply-scatter in int64."""
    if lin.dtype == torch.int64:
        bits = max(int(coef.abs().max()) if coef.numel() else 0, 1).bit_length()
        bits += max(int(lin.abs().max()) if lin.numel() else 0, 1).bit_length()
        if bits + max(g.max_degree, 1).bit_length() > _FLOAT64_EXACT_BITS:
            return _scatter(coef[:, :, None] * lin[g.src], g.dst, g.csr.num_nodes, "sum")
        return aggregate_sum(g, coef.double(), lin.double()).long()
    rows, shared = g.rows, coef.shape[1] == 1  # one coefficient per edge for every head
    return torch.stack([_RowsProduct.apply(coef[:, 0 if shared else h].contiguous(), lin[:, h].contiguous(), rows)
                        for h in range(lin.shape[1])], dim=1)


def aggregate(g: GraphTensors, coef: torch.Tensor, lin: torch.Tensor, reduce: str) -> torch.Tensor:
    """Messages ``coef[e, h] * lin[src(e), h]`` reduced per destination by ``reduce`` ("sum": the CSR
    product ``aggregate_sum``; "amax": scatter of the gathered messages)."""
    if reduce == "sum":
        return aggregate_sum(g, coef, lin)
    return _scatter(coef[:, :, None] * lin[g.src], g.dst, g.csr.num_nodes, reduce)


def _scatter(values: torch.Tensor, index: torch.Tensor, num_nodes: int, reduce: str) -> torch.Tensor:
    """Reduce rows of ``values`` (E, ...) into ``num_nodes`` rows by ``index`` (every node has a row)."""
    out = values.new_zeros((num_nodes, *values.shape[1:]))
    if reduce == "sum":
        return out.index_add_(0, index, values)
    idx = index.view(-1, *([1] * (values.dim() - 1))).expand_as(values)
    return out.scatter_reduce_(0, idx, values, "amax", include_self=False)


# ---- tables ----------------------------------------------------------------------------------------------

_TABLES: dict[tuple[str, int, NumFormat], torch.Tensor] = {}


def table_lookup(function: str, q: torch.Tensor, in_frac: int, out_fmt: NumFormat) -> torch.Tensor:
    """``lpgnas.tables.lookup`` with torch ops: codes ``q`` (int64) -> table output codes."""
    key = (function, in_frac, out_fmt)
    if key not in _TABLES:
        _TABLES[key] = torch.from_numpy(function_table(function, in_frac, out_fmt).astype(np.int64))
    ti = table_index(in_frac)
    idx = torch.clamp(torch.bitwise_right_shift(q, ti.shift), ti.lo, ti.hi) - ti.lo
    return _TABLES[key][idx]


def leaky_codes(q: torch.Tensor, slope_code: int) -> torch.Tensor:
    """``lpgnas.tables.leaky`` with torch ops."""
    neg = torch.bitwise_right_shift(q * slope_code + (1 << (LEAKY_FRAC - 1)), LEAKY_FRAC)
    return torch.where(q >= 0, q, neg)


# ---- attention: edge coefficients ------------------------------------------------------------------------

class HostCoefficients:
    """Coefficients computed once on the host from the graph (``const``: 1; ``gcn``)."""

    def __init__(self, key: str | None, make: Callable[[CSRGraph, NumFormat], np.ndarray] | None) -> None:
        self.key, self.make = key, make

    def __call__(self, layer, g: GraphTensors, lin=None) -> torch.Tensor:
        """Coefficient values per CSR edge, shape (E,) (``layer`` needs only ``coef_q``)."""
        if self.make is None:
            return torch.ones(g.csr.num_edges)
        return g.constant(self.key, layer.coef_q.fmt(), self.make)

    def quantised(self, layer, g: GraphTensors, lin: QTensor) -> QTensor:
        """Codes (E, 1) (the same for every head) and their values."""
        if self.make is None:
            codes = torch.ones(g.csr.num_edges, 1, dtype=torch.int64)
            return QTensor(torch.ones(g.csr.num_edges, 1), codes, 0)
        fmt = layer.coef_q.fmt()
        codes = g.codes(self.key, fmt, self.make)[:, None]
        return QTensor(dequantize_torch(codes, fmt.frac), codes, fmt.frac)


def _node_scores(layer, lin: QTensor, key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Float ``lin . att`` (N, heads) and the exact accumulator (binary point lin.frac + att_weight.frac)."""
    att = layer.attention_vector(key)
    return (lin.value * att.value).sum(-1), (lin.codes * att.codes).sum(-1)


def _elementwise_scores(layer, lin: QTensor, key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Float ``lin * att`` (N, heads, out) and the exact products."""
    att = layer.attention_vector(key)
    return lin.value * att.value, lin.codes * att.codes


def _to_score(layer, surrogate: torch.Tensor, acc: torch.Tensor, acc_frac: int, fmt: NumFormat) -> QTensor:
    return layer.exact(layer.fq(surrogate, fmt), requantize_torch(acc, acc_frac, fmt), fmt.frac)


def _gat_pair(layer, lin: QTensor) -> tuple[QTensor, QTensor, NumFormat]:
    (src_f, src_a), (dst_f, dst_a) = _node_scores(layer, lin, "att_src"), _node_scores(layer, lin, "att_dst")
    fmt = layer.score_format(src_f, dst_f)
    acc_frac = lin.frac + layer.att_format().frac
    return _to_score(layer, src_f, src_a, acc_frac, fmt), _to_score(layer, dst_f, dst_a, acc_frac, fmt), fmt


def _leaky_edge(a: QTensor, b: QTensor, ia: torch.Tensor, ib: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    slope = ATTENTION_LEAKY_CODE / (1 << LEAKY_FRAC)
    return (F.leaky_relu(a.value[ia] + b.value[ib], slope),
            leaky_codes(a.codes[ia] + b.codes[ib], ATTENTION_LEAKY_CODE))


def _gat_scores(layer, g: GraphTensors, lin: QTensor) -> QTensor:
    src, dst, fmt = _gat_pair(layer, lin)
    e_f, e_c = _leaky_edge(dst, src, g.dst, g.src)
    return layer.exact(e_f, e_c, fmt.frac)


def _sym_gat_scores(layer, g: GraphTensors, lin: QTensor) -> QTensor:
    src, dst, fmt = _gat_pair(layer, lin)
    a_f, a_c = _leaky_edge(dst, src, g.dst, g.src)
    b_f, b_c = _leaky_edge(dst, src, g.src, g.dst)
    return layer.exact(a_f + b_f, a_c + b_c, fmt.frac)


def _u_pair(layer, g: GraphTensors, lin: QTensor, preview: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """Element-wise terms of cos / gene-linear quantised to the score format, calibrated on the terms and on
    the edge scores ``preview(u_dst[i], u_src[j])`` they lead to."""
    (us_f, us_a), (ud_f, ud_a) = (_elementwise_scores(layer, lin, "att_src"),
                                  _elementwise_scores(layer, lin, "att_dst"))
    with torch.no_grad():
        e_preview = preview(ud_f[g.dst], us_f[g.src])
    fmt = layer.score_format(us_f, ud_f, e_preview)
    acc_frac = lin.frac + layer.att_format().frac
    return _to_score(layer, us_f, us_a, acc_frac, fmt), _to_score(layer, ud_f, ud_a, acc_frac, fmt), fmt


def _cos_scores(layer, g: GraphTensors, lin: QTensor) -> QTensor:
    u_src, u_dst, fmt = _u_pair(layer, g, lin, lambda d, s: (d * s).sum(-1))
    e_f = (u_dst.value[g.dst] * u_src.value[g.src]).sum(-1)
    e_a = (u_dst.codes[g.dst] * u_src.codes[g.src]).sum(-1)
    return _to_score(layer, e_f, e_a, 2 * fmt.frac, fmt)


def _linear_scores(layer, g: GraphTensors, lin: QTensor) -> QTensor:
    src_f, src_a = _node_scores(layer, lin, "att_src")
    fmt = layer.score_format(src_f)
    src = _to_score(layer, src_f, src_a, lin.frac + layer.att_format().frac, fmt)
    t = layer.exact(layer.fq(torch.tanh(src.value), fmt), table_lookup("tanh", src.codes, fmt.frac, fmt), fmt.frac)
    return QTensor(t.value[g.src], t.codes[g.src], fmt.frac)


def _gene_linear_scores(layer, g: GraphTensors, lin: QTensor) -> QTensor:
    gene = layer.attention_vector("att_gene")
    u_src, u_dst, fmt = _u_pair(layer, g, lin, lambda d, s: (torch.tanh(d + s) * gene.value).sum(-1))
    t_f = layer.fq(torch.tanh(u_dst.value[g.dst] + u_src.value[g.src]), fmt)
    t = layer.exact(t_f, table_lookup("tanh", u_dst.codes[g.dst] + u_src.codes[g.src], fmt.frac, fmt), fmt.frac)
    return _to_score(layer, (t.value * gene.value).sum(-1), (t.codes * gene.codes).sum(-1),
                     fmt.frac + layer.att_format().frac, fmt)


class SoftmaxCoefficients:
    """The GAT family: per-head softmax over each node's in-edges of the edge scores ``scores`` computes.

    Exact path: ``lpgnas.golden.softmax_trace`` (running max, exp table, sum, reciprocal, re-quantised
    product); surrogate: torch softmax of the dequantised scores. ``layer`` must be a
    :class:`QuantGraphLayer` (or hold the same attention vectors and quantisers).
    """

    def __init__(self, scores: Callable[..., QTensor]) -> None:
        self.scores = scores

    def __call__(self, layer, g: GraphTensors, lin: torch.Tensor | QTensor) -> torch.Tensor:
        """Coefficient values (E, heads) from the linear output ``lin`` (values of ``layer.lin_q.fmt()``)."""
        if not isinstance(lin, QTensor):
            frac = layer.lin_q.fmt().frac
            codes = torch.round(lin.detach().double() * 2.0**frac).long()
            lin = QTensor(lin, codes, frac)
        return self.quantised(layer, g, lin).value

    def quantised(self, layer, g: GraphTensors, lin: QTensor) -> QTensor:
        e = self.scores(layer, g, lin)
        n = g.csr.num_nodes
        s_fmt, e_fmt, c_fmt = layer.score_q.fmt(), layer.exp_format(), layer.coef_q.fmt()
        m = _scatter(e.codes, g.dst, n, "amax")
        p = table_lookup("exp", e.codes - m[g.dst], s_fmt.frac, e_fmt)
        total = _scatter(p, g.dst, n, "sum")
        num = 1 << (e_fmt.frac + SOFTMAX_RECIP_FRAC)
        recip = torch.div(2 * num + total, 2 * total, rounding_mode="floor")
        codes = requantize_torch(p * recip[g.dst], e_fmt.frac + SOFTMAX_RECIP_FRAC, c_fmt)
        surrogate = layer.fq(edge_softmax(e.value, g.dst, num_nodes=n, dim=0), c_fmt)
        return _quantised(surrogate, codes, c_fmt.frac)


#: training-time edge coefficients per attention kind (the golden model's EDGE_COEFFICIENTS mirror)
ATTENTION_COEFFICIENTS: dict[str, HostCoefficients | SoftmaxCoefficients] = {
    "const": HostCoefficients(None, None),
    "gcn": HostCoefficients("gcn", gcn_coefficients),
    "gat": SoftmaxCoefficients(_gat_scores),
    "sym-gat": SoftmaxCoefficients(_sym_gat_scores),
    "cos": SoftmaxCoefficients(_cos_scores),
    "linear": SoftmaxCoefficients(_linear_scores),
    "gene-linear": SoftmaxCoefficients(_gene_linear_scores),
}


# ---- aggregation -------------------------------------------------------------------------------------------

class Aggregation:
    """How messages are reduced (``reduce``: "sum" or "amax") and finalised.

    Called as ``finaliser(acc, g)`` on float accumulators (N, heads, out); ``exact(acc, frac, g)`` on
    int64 ones returns ``(codes, frac)`` like ``lpgnas.golden.AGGREGATION_FINALISERS``.
    """

    def __init__(self, reduce: str, recip: bool) -> None:
        self.reduce, self.recip = reduce, recip

    def __call__(self, acc: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        if not self.recip:
            return acc
        return acc * g.constant("mean", MEAN_RECIP_FORMAT, mean_reciprocals)[:, None, None]

    def exact(self, acc: torch.Tensor, frac: int, g: GraphTensors) -> tuple[torch.Tensor, int]:
        if not self.recip:
            return acc, frac
        recip = g.codes("mean", MEAN_RECIP_FORMAT, mean_reciprocals)
        return acc * recip[:, None, None], frac + MEAN_RECIP_FORMAT.frac


#: training-time aggregations (the golden model's AGGREGATION_REDUCERS / AGGREGATION_FINALISERS mirror)
AGGREGATION_FINALISERS: dict[str, Aggregation] = {
    "add": Aggregation("sum", recip=False),
    "mean": Aggregation("sum", recip=True),
    "max": Aggregation("amax", recip=False),
}


# ---- activations -------------------------------------------------------------------------------------------

class Activation:
    """Called as ``act(x)``: the smooth float surrogate; ``exact(q, fmt)``: codes of ``fmt`` -> codes of
    ``fmt`` (``lpgnas.golden.ACTIVATION_FUNCTIONS`` with torch ops)."""

    def __init__(self, surrogate: Callable[[torch.Tensor], torch.Tensor],
                 exact: Callable[[torch.Tensor, NumFormat], torch.Tensor], non_negative: bool = False) -> None:
        self.surrogate, self.exact, self.non_negative = surrogate, exact, non_negative

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.surrogate(x)


def _softplus_codes(q: torch.Tensor, fmt: NumFormat) -> torch.Tensor:
    ti = table_index(fmt.frac)
    return torch.where(torch.bitwise_right_shift(q, ti.shift) > ti.hi, q, table_lookup("softplus", q, fmt.frac, fmt))


ACTIVATION_MODULES: dict[str, Activation] = {
    "relu": Activation(F.relu, lambda q, fmt: torch.clamp(q, min=0), non_negative=True),
    "identity": Activation(lambda x: x, lambda q, fmt: q),
    "elu": Activation(F.elu, lambda q, fmt: torch.where(q >= 0, q, table_lookup("elu", q, fmt.frac, fmt))),
    "tanh": Activation(torch.tanh, lambda q, fmt: table_lookup("tanh", q, fmt.frac, fmt)),
    "sigmoid": Activation(torch.sigmoid, lambda q, fmt: table_lookup("sigmoid", q, fmt.frac, fmt),
                          non_negative=True),
    "leaky_relu": Activation(lambda x: F.leaky_relu(x, ACTIVATION_LEAKY_CODE / (1 << LEAKY_FRAC)),
                             lambda q, fmt: leaky_codes(q, ACTIVATION_LEAKY_CODE)),
    "relu6": Activation(F.relu6, lambda q, fmt: torch.clamp(q, 0, relu6_max_code(fmt)), non_negative=True),
    "softplus": Activation(F.softplus, _softplus_codes, non_negative=True),
}

#: activations whose output is never negative (their output quantiser is unsigned)
NON_NEGATIVE_ACTIVATIONS = {name for name, act in ACTIVATION_MODULES.items() if act.non_negative}


# ---- the layer ---------------------------------------------------------------------------------------------

class QuantGraphLayer(MessagePassing):
    """Linear transform per head -> edge coefficients -> aggregation -> heads -> bias -> activation.

    ``attention_dropout`` (training only) drops softmax coefficients like GAT: kept ones are scaled by
    ``1/(1-p)`` and re-rounded to integer codes, so the exact path stays an integer pipeline. Weights are
    ``wbits`` wide, activations ``abits``, the bias ``bbits`` (default: ``abits``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        attention: str = "gcn",
        aggregation: str = "add",
        activation: str = "relu",
        heads: int = 1,
        concat: bool = True,
        wbits: int = 8,
        abits: int = 8,
        bias: bool = True,
        attention_dropout: float = 0.0,
        bbits: int | None = None,
    ) -> None:
        super().__init__(aggr="add", node_dim=0)
        self.in_features, self.out_features, self.heads, self.concat = in_features, out_features, heads, concat
        self.attention, self.aggregation, self.activation = attention, aggregation, activation
        self.abits, self.attention_dropout = abits, attention_dropout
        self.bbits = abits if bbits is None else bbits
        self.quantise = True
        self.weight = nn.Parameter(torch.empty(heads, in_features, out_features))
        nn.init.xavier_uniform_(self.weight.view(heads * in_features, out_features))
        out_width = heads * out_features if concat else out_features
        self.bias = nn.Parameter(torch.zeros(out_width)) if bias else None
        self.att = nn.ParameterDict()
        for key in ATTENTIONS[attention].tensors:
            p = nn.Parameter(torch.empty(heads, out_features))
            nn.init.xavier_uniform_(p.view(1, heads, out_features) if heads > 1 else p)
            self.att[key] = p
        self.w_q = WeightQuant(wbits)
        self.lin_q = ActQuant(abits)
        self.coef_q = FixedQuant(coef_format(abits))
        self.score_q = ActQuant(abits)
        self.agg_q = ActQuant(abits)
        self.out_q = ActQuant(abits, signed=not ACTIVATION_MODULES[activation].non_negative)
        self.codes: dict[str, torch.Tensor] = {}

    # ---- formats ----
    @property
    def softmax(self) -> bool:
        return ATTENTIONS[self.attention].softmax

    def att_format(self) -> NumFormat:
        """``att_weight``: ``abits``-bit fix covering every attention vector of the layer."""
        m = max((float(p.detach().abs().max()) for p in self.att.values()), default=0.0)
        return fix(self.abits, frac_for_range(m, self.abits))

    def exp_format(self) -> NumFormat:
        return exp_format(self.score_q.bits)

    def score_format(self, *tensors: torch.Tensor) -> NumFormat:
        """Calibrate the score format on ``tensors`` (training) and return it."""
        return self.score_q.observe(*tensors)

    def formats(self, input_fmt: NumFormat) -> dict[str, NumFormat]:
        """The IR formats of this layer given the format of its input."""
        fm = {
            "input": input_fmt,
            "weight": self.w_q.fmt_for(self.weight),
            "linear": self.lin_q.fmt(),
            "aggregation": self.agg_q.fmt(),
            "output": self.out_q.fmt(),
        }
        names = layer_format_names(self.attention, self.aggregation)
        if "coef" in names:
            fm["coef"] = self.coef_q.fmt()
        if "recip" in names:
            fm["recip"] = MEAN_RECIP_FORMAT
        if self.softmax:
            fm["att_weight"] = self.att_format()
            fm["score"] = self.score_q.fmt()
            fm["exp"] = self.exp_format()
        fm["bias"] = self.bias_format()
        return fm

    @property
    def output_width(self) -> int:
        return self.heads * self.out_features if self.concat else self.out_features

    def accumulator_frac(self) -> int:
        """Binary point of the aggregation accumulator (``lpgnas.ir.aggregation_frac``)."""
        names = layer_format_names(self.attention, self.aggregation)
        frac = self.lin_q.fmt().frac + (self.coef_q.fmt().frac if "coef" in names else 0)
        frac += MEAN_RECIP_FORMAT.frac if "recip" in names else 0
        return frac + (HEAD_MEAN_FRAC if self.heads > 1 and not self.concat else 0)

    def bias_format(self) -> NumFormat:
        """``bbits``-bit fix covering the bias, binary point at most the aggregation accumulator's."""
        max_abs = float(self.bias.detach().abs().max()) if self.bias is not None else 0.0
        return fix(self.bbits, min(frac_for_range(max_abs, self.bbits), self.accumulator_frac()))

    # ---- pieces of the forward pass ----
    def exact(self, surrogate: torch.Tensor, codes: torch.Tensor, frac: int) -> QTensor:
        """The step's exact values with the surrogate's gradient (the surrogate alone when unquantised)."""
        return _quantised(surrogate, codes, frac) if self.quantise else QTensor(surrogate, codes, frac)

    def fq(self, x: torch.Tensor, fmt: NumFormat) -> torch.Tensor:
        """Fake quantisation (identity when the layer runs unquantised)."""
        return fake_quant(x, fmt) if self.quantise else x

    def attention_vector(self, key: str) -> QTensor:
        """Attention vector ``key`` (heads, out): STE-quantised values, codes of ``att_weight``."""
        fmt = self.att_format()
        p = self.att[key]
        codes = quantize_codes(p.detach(), fmt)
        return self.exact(self.fq(p, fmt), codes, fmt.frac)

    def _wide(self, g: GraphTensors, input_fmt: NumFormat | None) -> bool:
        """Whether the aggregation accumulator may exceed int64 (then it is computed with Python ints, as
        the golden model does); the attention unit's accumulators must fit."""
        fm = self.formats(input_fmt or fix(24, 0))
        ns = SimpleNamespace(formats=fm, in_features=self.in_features, out_features=self.out_features,
                             heads=self.heads, concat=self.concat, bias=self.bias)
        score_bits = score_accumulator_bits(ns)  # type: ignore[arg-type]
        if score_bits > INT64_SAFE_BITS:
            raise LpgnasError(f"the attention unit's accumulators need {score_bits} bits, more than the "
                              f"{INT64_SAFE_BITS} training supports (use narrower formats, e.g. --abits <= 24)")
        return accumulator_bounds(ns, g.max_degree)[1] > INT64_SAFE_BITS  # type: ignore[arg-type]

    def _wide_aggregation(self, g: GraphTensors, coef: torch.Tensor, lin: torch.Tensor, frac: int,
                          agg_fmt: NumFormat) -> torch.Tensor:
        """Aggregation codes (N, width) computed with Python ints (object arrays), for accumulators wider
        than int64: the golden model's aggregate, finalise, heads, bias and re-quantisation."""
        csr, reducer = g.csr, np.add if AGGREGATION_FINALISERS[self.aggregation].reduce == "sum" else np.maximum
        starts = csr.row_ptr[:-1]
        accs = []
        for h in range(self.heads):
            products = coef[:, min(h, coef.shape[1] - 1)].numpy().astype(object)[:, None]
            products = products * lin[:, h].numpy().astype(object)[csr.col_idx]
            acc = reducer.reduceat(products, starts, axis=0)
            if AGGREGATION_FINALISERS[self.aggregation].recip:
                acc = acc * mean_reciprocals(csr, MEAN_RECIP_FORMAT).astype(object)[:, None]
            accs.append(acc)
        if self.concat:
            acc = np.concatenate(accs, axis=1)
        else:
            acc = sum(accs[1:], accs[0])
            if self.heads > 1:
                acc = acc * head_mean_reciprocal(self.heads, HEAD_MEAN_FRAC)
        if self.bias is not None:
            b_fmt = self.bias_format()
            b = quantize_np(self.bias.detach().double().numpy(), b_fmt).astype(object)
            acc = acc + (b << (frac - b_fmt.frac))[None, :]
        return torch.from_numpy(requantize_np(acc, frac, agg_fmt).astype(np.int64))

    def _linear_codes(self, x: torch.Tensor, input_fmt: NumFormat | None, input_codes: torch.Tensor | None,
                      w_codes: torch.Tensor, w_fmt: NumFormat, lin_fmt: NumFormat, product: torch.Tensor,
                      input_shift: int | None) -> torch.Tensor:
        """``requant(x @ W[h], in.frac + w.frac -> linear)`` (N, heads, out), exact when the input codes are
        given or ``x`` lies on the input format's grid (always outside training; in training when dropout
        scales by a power of two). ``product`` is the float32 ``x @ W[h]`` of the weights' values; when
        ``x`` is known to be the input codes shifted left by ``input_shift`` bits (0: the codes themselves)
        and the accumulator fits ``_FLOAT32_EXACT_BITS``, the codes are read off it (no second product)."""
        if input_fmt is not None and (input_codes is not None or input_shift is not None):
            mag = _product_bits(input_fmt, w_fmt, self.in_features) + (input_shift or 0)
            if mag <= _FLOAT32_EXACT_BITS:
                acc = (product.double() * 2.0 ** (input_fmt.frac + w_fmt.frac)).long()
                return requantize_torch(acc, input_fmt.frac + w_fmt.frac, lin_fmt)
        if input_fmt is not None:
            xc = _as_double(input_codes) if input_codes is not None else _as_double(x.detach(), 2.0**input_fmt.frac)
            values = xc.values() if xc.is_sparse else xc
            if input_codes is not None or torch.equal(values, torch.round(values)):
                mag = _product_bits(input_fmt, w_fmt, self.in_features)
                if mag <= _FLOAT64_EXACT_BITS:
                    acc = project(xc, w_codes.double()).long()
                elif mag <= INT64_SAFE_BITS:
                    acc = torch.einsum("ni,hio->nho", _dense(xc).long(), w_codes)
                else:  # Python ints, as the golden model
                    xo, wo = _dense(xc).long().numpy().astype(object), w_codes.numpy().astype(object)
                    lin = [requantize_np(xo @ wo[h], input_fmt.frac + w_fmt.frac, lin_fmt) for h in range(self.heads)]
                    return torch.from_numpy(np.stack(lin, axis=1).astype(np.int64))
                return requantize_torch(acc, input_fmt.frac + w_fmt.frac, lin_fmt)
        # off the grid (training with dropout): the float64 product, quantised by the shared rule
        acc = project(_as_double(x.detach()), w_codes.double())
        return quantize_codes(acc * 2.0**-w_fmt.frac, lin_fmt)

    def forward(self, x: torch.Tensor, g: GraphTensors, input_fmt: NumFormat | None = None,
                input_codes: torch.Tensor | None = None, input_shift: int | None = None) -> torch.Tensor:
        """``x``: values of ``input_fmt`` (N, in_features) -> output values (N, output_width). ``input_codes``
        (int64, optional) are ``x``'s codes (needed for exactness when codes are wider than float32's 24 bits).
        ``input_shift``: ``x`` is known to be codes of ``input_fmt`` shifted left by that many bits (dropout
        by ``1 - 2**-k`` keeps a value times ``2**k`` or zeroes it), which spares a check of its grid.

        The int64 codes of every step are kept in ``self.codes`` (linear, coefficients, aggregation,
        output) to compare with ``lpgnas.golden.trace_model``. ``x`` and ``input_codes`` may be sparse COO
        (the input features, see ``QuantGNN``).
        """
        if not self.quantise:
            return self._forward_float(x, g)
        n = g.csr.num_nodes
        w_fmt = self.w_q.fmt_for(self.weight)
        w_codes = quantize_codes(self.weight.detach(), w_fmt)
        product = project(x, self.w_q(self.weight))
        lin_f = self.lin_q(product)
        lin_fmt = self.lin_q.fmt()
        wide = self._wide(g, input_fmt)
        lin_c = self._linear_codes(x, input_fmt, input_codes, w_codes, w_fmt, lin_fmt, product.detach(), input_shift)
        lin = _quantised(lin_f, lin_c, lin_fmt.frac)

        coef = ATTENTION_COEFFICIENTS[self.attention].quantised(self, g, lin)
        if self.training and self.softmax and self.attention_dropout > 0:
            keep = 1.0 - self.attention_dropout
            mask = (torch.rand(coef.codes.shape) < keep).double() / keep
            codes = torch.floor(coef.codes.double() * mask + 0.5).long()
            coef = _quantised(coef.value * mask.float(), codes, coef.frac)

        agg_rule = AGGREGATION_FINALISERS[self.aggregation]
        acc_f = aggregate(g, coef.value, lin.value, agg_rule.reduce)
        acc_c = coef.codes.new_zeros((n, self.heads, 1)) if wide else \
            aggregate(g, coef.codes, lin.codes, agg_rule.reduce)
        acc_f = agg_rule(acc_f, g)
        acc_c, frac = agg_rule.exact(acc_c, lin.frac + coef.frac, g)
        acc_f, acc_c, frac = self._combine_heads(acc_f, acc_c, frac)
        if self.bias is not None:
            b_fmt = self.bias_format()
            acc_f = acc_f + fake_quant(self.bias, b_fmt)
            if not wide:
                b_codes = quantize_codes(self.bias.detach(), b_fmt)
                acc_c = acc_c + torch.bitwise_left_shift(b_codes, frac - b_fmt.frac)[None, :]
        assert frac == self.accumulator_frac()
        agg_f = self.agg_q(acc_f)
        agg_fmt = self.agg_q.fmt()
        agg_c = self._wide_aggregation(g, coef.codes, lin.codes, frac, agg_fmt) if wide else \
            requantize_torch(acc_c, frac, agg_fmt)
        agg = _quantised(agg_f, agg_c, agg_fmt.frac)
        act_rule = ACTIVATION_MODULES[self.activation]
        act = _quantised(act_rule(agg.value), act_rule.exact(agg.codes, agg_fmt), agg_fmt.frac)
        out_f = self.out_q(act.value)
        out_fmt = self.out_q.fmt()
        out = _quantised(out_f, requantize_torch(act.codes, agg_fmt.frac, out_fmt), out_fmt.frac)
        self.codes = {"linear": lin.codes, "coefficients": coef.codes, "aggregation": agg.codes,
                      "output": out.codes}
        return out.value

    def _combine_heads(self, acc_f: torch.Tensor, acc_c: torch.Tensor, frac: int):
        if self.concat:
            return acc_f.reshape(acc_f.shape[0], -1), acc_c.reshape(acc_c.shape[0], -1), frac
        acc_f, acc_c = acc_f.sum(dim=1), acc_c.sum(dim=1)
        if self.heads > 1:
            r = head_mean_reciprocal(self.heads, HEAD_MEAN_FRAC)
            acc_f, acc_c, frac = acc_f * (r * 2.0**-HEAD_MEAN_FRAC), acc_c * r, frac + HEAD_MEAN_FRAC
        return acc_f, acc_c, frac

    def _forward_float(self, x: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        """The unquantised model with the same parameters (every quantiser bypassed, exact softmax and
        activation functions): the float reference the quantised model is compared with."""
        n = g.csr.num_nodes
        lin = torch.einsum("ni,hio->nho", x, self.weight)
        rule = ATTENTION_COEFFICIENTS[self.attention]
        lin_q = QTensor(lin, torch.zeros(lin.shape, dtype=torch.int64), 0)
        if self.softmax:
            coef = edge_softmax(rule.scores(self, g, lin_q).value, g.dst, num_nodes=n, dim=0)
            if self.training and self.attention_dropout > 0:
                coef = F.dropout(coef, self.attention_dropout)
        elif rule.make is None:
            coef = torch.ones(g.csr.num_edges, 1)
        else:
            deg = torch.from_numpy(g.csr.degrees.astype(np.float64)).float()
            coef = (deg[g.dst] * deg[g.src]).rsqrt()[:, None]
        agg_rule = AGGREGATION_FINALISERS[self.aggregation]
        acc = _scatter(coef[:, :, None] * lin[g.src], g.dst, n, agg_rule.reduce)
        if agg_rule.recip:
            acc = acc / torch.from_numpy(g.csr.degrees.astype(np.float64)).float()[:, None, None]
        acc = acc.reshape(n, -1) if self.concat else acc.mean(dim=1)
        if self.bias is not None:
            acc = acc + self.bias
        return ACTIVATION_MODULES[self.activation](acc)

    def message(self, x_j: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
        return coef.view(coef.shape[0], -1, 1) * x_j


#: (id, version, shape, what) of a feature tensor -> (weak reference to it, derived value); see feature_cache
_FEATURE_CACHE: dict[tuple, tuple[weakref.ref, Any]] = {}
_FEATURE_CACHE_ENTRIES = 8


def feature_cache(features: torch.Tensor, what: Hashable, compute: Callable[[], Any]) -> Any:
    """``compute()``, a value derived from ``features`` alone, remembered for as long as that very tensor
    (identity and in-place version) lives: a search trains ~100 models on one feature matrix, and
    quantising CS's or Physics's (18-35k nodes x 7-8k features) takes 5-20 s each time. Bounded to the
    ``_FEATURE_CACHE_ENTRIES`` newest entries."""
    key = (id(features), features._version, tuple(features.shape), what)
    hit = _FEATURE_CACHE.get(key)
    if hit is not None and hit[0]() is features:
        return hit[1]
    value = compute()
    _FEATURE_CACHE[key] = (weakref.ref(features), value)
    for stale in [k for k, (ref, _) in _FEATURE_CACHE.items() if ref() is None]:
        del _FEATURE_CACHE[stale]
    while len(_FEATURE_CACHE) > _FEATURE_CACHE_ENTRIES:
        del _FEATURE_CACHE[next(iter(_FEATURE_CACHE))]
    return value


class QuantGNN(nn.Module):
    """A stack of ``QuantGraphLayer`` with a quantiser on the input features."""

    def __init__(self, layers: list[QuantGraphLayer], input_bits: int, input_signed: bool, dropout: float = 0.5):
        super().__init__()
        self.input_q = ActQuant(input_bits, signed=input_signed)
        self.layers = nn.ModuleList(layers)
        self.dropout = dropout

    def set_quantise(self, on: bool) -> None:
        """``False``: run every layer unquantised (the float reference of the same parameters)."""
        for layer in self.layers:
            layer.quantise = on

    def _quantised_input(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, NumFormat]:
        """Values and codes of the input features as the host quantises them, sparse COO when the codes
        are mostly zero; cached across models (``feature_cache``), as the features rarely change (the range
        too: it feeds the calibration)."""
        feature_range = feature_cache(features, "range", lambda: features.detach().abs().max().reshape(1))
        fmt = self.input_q.observe(feature_range)

        def quantised() -> tuple[torch.Tensor, torch.Tensor]:
            codes = quantize_codes(features.detach(), fmt)
            return sparse_layout(codes, codes.float() * 2.0**-fmt.frac, codes)

        self._input_value = feature_cache(features, fmt, quantised)
        return *self._input_value, fmt

    def forward(self, x: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        quantise = all(layer.quantise for layer in self.layers)
        fmt, codes = None, None
        if quantise:
            x, codes, fmt = self._quantised_input(x)
        dropout = self.training and self.dropout > 0
        shift = dropout_shift(self.dropout) if dropout else 0
        for layer in self.layers:
            x = sparse_dropout(x, self.dropout, self.training)
            x = layer(x, g, fmt, None if dropout or not quantise else codes, shift if quantise else None)
            fmt, codes = layer.out_q.fmt(), layer.codes.get("output")
        return x


def build_gnn(
    in_features: int,
    num_classes: int,
    *,
    attention: str,
    aggregation: str = "add",
    layers: int = 2,
    hidden: int = 16,
    heads: int = 1,
    out_heads: int = 1,
    wbits: int = 8,
    abits: int = 8,
    input_signed: bool = False,
    dropout: float = 0.5,
    attention_dropout: float = 0.0,
    activation: str = "relu",
) -> QuantGNN:
    """A fixed architecture: ``layers`` layers, ``heads`` x ``hidden`` concatenated in the hidden layers,
    logits at the end from ``out_heads`` heads (averaged when more than one), identity activation."""
    mods = []
    width = in_features
    for i in range(layers):
        last = i == layers - 1
        out = num_classes if last else hidden
        h = out_heads if last else heads
        mods.append(
            QuantGraphLayer(
                width, out, attention=attention, aggregation=aggregation,
                activation="identity" if last else activation, heads=h,
                concat=not (last and h > 1), wbits=wbits, abits=abits, attention_dropout=attention_dropout,
            )
        )
        width = out if last else out * heads
    return QuantGNN(mods, input_bits=abits, input_signed=input_signed, dropout=dropout)


def export_ir(model: QuantGNN, name: str, metadata: dict | None = None) -> ModelIR:
    """Integer IR of a trained model: the same formats and codes its quantised forward pass uses."""
    layers = []
    in_fmt = model.input_q.fmt()
    for i, layer in enumerate(model.layers):
        fm = layer.formats(in_fmt)
        w = layer.weight.detach().double().numpy()
        b = layer.bias.detach().double().numpy() if layer.bias is not None else None
        att = {k: quantize_np(p.detach().double().numpy(), fm["att_weight"]) for k, p in layer.att.items()}
        layers.append(
            LayerIR(
                name=f"layer{i}", in_features=layer.in_features, out_features=layer.out_features,
                attention=layer.attention, aggregation=layer.aggregation, activation=layer.activation,
                heads=layer.heads, concat=layer.concat, formats=fm,
                weight=quantize_np(w, fm["weight"]),
                bias=quantize_np(b, fm["bias"]) if b is not None else None,
                attention_tensors=att,
            )
        )
        in_fmt = fm["output"]
    ir = ModelIR(
        name=name, in_features=model.layers[0].in_features, num_classes=model.layers[-1].output_width,
        layers=layers, metadata=metadata or {},
    )
    return ir.validate()
