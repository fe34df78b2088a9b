"""Training implementations of the attentions: edge coefficients, exact codes and float surrogate.

``ATTENTION_COEFFICIENTS`` maps every registry attention (``lpgnas.operators.ATTENTIONS``) to its rule; a rule
is callable as ``rule(layer, g)`` (float coefficient values) and has ``quantised(layer, g, lin)`` for the
integer path. ``layer`` is a :class:`lpgnas.search.quant_layer.QuantGraphLayer` or holds the same attention
vectors and quantisers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch_geometric.utils import softmax as edge_softmax

from lpgnas.graph import CSRGraph, gcn_coefficients
from lpgnas.numfmt import NumFormat, fix, requantize_torch
from lpgnas.search.exact import QTensor, dequantize_torch, exact_step, leaky_codes, table_lookup
from lpgnas.search.graph_tensors import GraphTensors, scatter
from lpgnas.tables import ATTENTION_LEAKY_CODE, LEAKY_FRAC, SOFTMAX_RECIP_FRAC


def coef_format(bits: int) -> NumFormat:
    """Format of edge coefficients in (0, 1]: unsigned, one integer bit."""
    return fix(bits, bits - 1, signed=False)


def exp_format(bits: int) -> NumFormat:
    """Format of the softmax's exp-table output: unsigned, ``frac = bits - 1`` (exp(0) = 1 is its top power)."""
    return fix(bits, bits - 1, signed=False)


class HostCoefficients:
    """Coefficients computed once on the host from the graph (``const``: 1; ``gcn``)."""

    def __init__(self, key: str | None, make: Callable[[CSRGraph, NumFormat], np.ndarray] | None) -> None:
        self.key, self.make = key, make

    def __call__(self, layer, g: GraphTensors, lin=None) -> torch.Tensor:
        """Coefficient values per CSR edge, shape (E,) (``layer`` needs only ``coef_q``)."""
        if self.make is None:
            return torch.ones(g.csr.num_edges, device=g.device)
        return g.constant(self.key, layer.coef_q.fmt(), self.make)

    def quantised(self, layer, g: GraphTensors, lin: QTensor) -> QTensor:
        """Codes (E, 1) (the same for every head) and their values."""
        if self.make is None:
            codes = torch.ones(g.csr.num_edges, 1, dtype=torch.int64, device=g.device)
            return QTensor(torch.ones(g.csr.num_edges, 1, device=g.device), codes, 0)
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
        m = scatter(e.codes, g.dst, n, "amax")
        p = table_lookup("exp", e.codes - m[g.dst], s_fmt.frac, e_fmt)
        total = scatter(p, g.dst, n, "sum")
        num = 1 << (e_fmt.frac + SOFTMAX_RECIP_FRAC)
        recip = torch.div(2 * num + total, 2 * total, rounding_mode="floor")
        codes = requantize_torch(p * recip[g.dst], e_fmt.frac + SOFTMAX_RECIP_FRAC, c_fmt)
        surrogate = layer.fq(edge_softmax(e.value, g.dst, num_nodes=n, dim=0), c_fmt)
        return exact_step(surrogate, codes, c_fmt.frac)


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
