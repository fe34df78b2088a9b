"""The golden integer model: what the hardware computes, defined with integers only.

For each layer and head ``h`` (docs/number_formats.md gives the full contract):

1. ``lin = requant(x @ W[h], in.frac + w.frac -> linear)``              transform unit
2. ``acc[i] = sum_{j -> i} coef_ij * lin[j]`` (``max``: element-wise max)  edge / aggregation unit
   (``coef`` = 1 for ``const``; quantised ``1/sqrt(d_i d_j)`` for ``gcn``; for the GAT family the
   softmax over ``i``'s in-edges of per-edge scores ``e_ij``, computed by the attention unit:
   ``m_i = max_j e_ij``, ``p_ij = exp_table(e_ij - m_i)``, ``r_i = round(2**(Fe+16) / sum_j p_ij)``,
   ``coef_ij = requant(p_ij * r_i, Fe + 16 -> coef)``)
3. ``mean``: ``acc[i] *= recip_i`` (quantised ``1/deg_i``)
4. heads: concatenated, or summed and multiplied by the quantised ``1/heads``
5. ``acc += bias << (acc_frac - bias.frac)``; ``agg = requant(acc -> aggregation)``
6. ``out = requant(act(agg), aggregation.frac -> output)``

Every accumulation goes through :func:`lpgnas.numfmt.accumulator_array` with its worst-case bound:
numpy int64 when the bound fits in 62 bits, Python ints otherwise, so no intermediate can overflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lpgnas.graph import CSRGraph, gcn_coefficients, head_mean_reciprocal, mean_reciprocals
from lpgnas.ir import HEAD_MEAN_FRAC, LayerIR, ModelIR, aggregation_frac, linear_acc_frac
from lpgnas.numfmt import NumFormat, accumulator_array, quantize_np, requantize_np
from lpgnas.operators import ATTENTIONS
from lpgnas.tables import (
    ACTIVATION_LEAKY_CODE,
    ATTENTION_LEAKY_CODE,
    SOFTMAX_RECIP_FRAC,
    leaky,
    lookup,
    relu6_max_code,
    softmax_reciprocal,
    table_index,
)


def _magnitude_bits(fmt: NumFormat) -> int:
    """Bits of the largest code magnitude of ``fmt`` (sign excluded)."""
    return max(abs(fmt.qmin), abs(fmt.qmax)).bit_length()


def accumulator_bounds(layer: LayerIR, max_deg: int) -> tuple[int, int]:
    """Worst-case bits (sign included) of the transform and aggregation accumulators of ``layer`` on any
    graph whose in-degree (self-loop included) is at most ``max_deg``; the latter covers the shifted bias.
    Every backend sizes its accumulators from this."""
    fm = layer.formats
    lin = _magnitude_bits(fm["input"]) + _magnitude_bits(fm["weight"]) + math.ceil(math.log2(max(layer.in_features, 1)))
    agg = _magnitude_bits(fm["linear"]) + (_magnitude_bits(fm["coef"]) if "coef" in fm else 1)
    agg += math.ceil(math.log2(max(max_deg, 1))) + 1
    agg += _magnitude_bits(fm["recip"]) if "recip" in fm else 0
    if layer.heads > 1 and not layer.concat:  # heads summed, then times the quantised 1/heads
        agg += math.ceil(math.log2(layer.heads)) + head_mean_reciprocal(layer.heads, HEAD_MEAN_FRAC).bit_length()
    if layer.bias is not None:
        bias_shift = aggregation_frac(layer) - fm["bias"].frac
        agg = max(agg, _magnitude_bits(fm["bias"]) + bias_shift + 1) + 1
    return lin + 1, agg


def score_accumulator_bits(layer: LayerIR) -> int:
    """Worst-case bits (sign included) of the attention unit's dot products: ``lin . att`` per node (and
    ``u_i . u_j`` per edge for ``cos``, ``att_gene . tanh(.)`` for ``gene-linear``); 0 without softmax."""
    fm = layer.formats
    if "score" not in fm:
        return 0
    log_f = math.ceil(math.log2(max(layer.out_features, 1)))
    lin_bits = _magnitude_bits(fm["linear"]) + _magnitude_bits(fm["att_weight"])
    score_bits = _magnitude_bits(fm["score"])
    return max(lin_bits, 2 * score_bits, score_bits + _magnitude_bits(fm["att_weight"])) + log_f + 1


def softmax_accumulator_bits(layer: LayerIR, max_deg: int) -> tuple[int, int]:
    """Worst-case bits (sign included) of the softmax's per-node sum of exp codes (at most ``max_deg``
    terms) and of its products ``p_ij * r_i`` (``r_i <= 2**SOFTMAX_RECIP_FRAC``)."""
    exp_bits = layer.formats["exp"].bits
    return exp_bits + math.ceil(math.log2(max(max_deg, 1))) + 1, exp_bits + SOFTMAX_RECIP_FRAC + 2


# ---- edge coefficients per attention kind: (codes per CSR edge, frac) ------------------------------------
# Signature: (layer, graph, lin, head) with ``lin`` the head's linear-output codes (N, out_features).

def _const_coefficients(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> tuple[np.ndarray, int]:
    return np.ones(graph.num_edges, dtype=np.int64), 0


def _gcn_coefficients(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> tuple[np.ndarray, int]:
    fmt = layer.formats["coef"]
    return gcn_coefficients(graph, fmt), fmt.frac


def node_scores(layer: LayerIR, lin: np.ndarray, head: int, key: str) -> np.ndarray:
    """Per node ``requant(lin_i . att[head], linear.frac + att_weight.frac -> score)``, shape (N,)."""
    fm, bits = layer.formats, score_accumulator_bits(layer)
    acc = accumulator_array(lin, bits) @ accumulator_array(layer.attention_tensors[key][head], bits)
    return requantize_np(acc, fm["linear"].frac + fm["att_weight"].frac, fm["score"])


def elementwise_scores(layer: LayerIR, lin: np.ndarray, head: int, key: str) -> np.ndarray:
    """Per node and feature ``requant(lin_i[k] * att[head][k] -> score)``, shape (N, out_features)."""
    fm, bits = layer.formats, score_accumulator_bits(layer)
    acc = accumulator_array(lin, bits) * accumulator_array(layer.attention_tensors[key][head], bits)[None, :]
    return requantize_np(acc, fm["linear"].frac + fm["att_weight"].frac, fm["score"])


def _gat_scores(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> np.ndarray:
    src, dst = node_scores(layer, lin, head, "att_src"), node_scores(layer, lin, head, "att_dst")
    return leaky(dst[graph.dst_idx] + src[graph.col_idx], ATTENTION_LEAKY_CODE)


def _sym_gat_scores(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> np.ndarray:
    src, dst = node_scores(layer, lin, head, "att_src"), node_scores(layer, lin, head, "att_dst")
    i, j = graph.dst_idx, graph.col_idx
    return leaky(dst[i] + src[j], ATTENTION_LEAKY_CODE) + leaky(dst[j] + src[i], ATTENTION_LEAKY_CODE)


def _cos_scores(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> np.ndarray:
    fmt = layer.formats["score"]
    u_src = elementwise_scores(layer, lin, head, "att_src")
    u_dst = elementwise_scores(layer, lin, head, "att_dst")
    bits = score_accumulator_bits(layer)
    acc = np.sum(accumulator_array(u_dst[graph.dst_idx], bits) * accumulator_array(u_src[graph.col_idx], bits), axis=1)
    return requantize_np(acc, 2 * fmt.frac, fmt)


def _linear_scores(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> np.ndarray:
    fmt = layer.formats["score"]
    return lookup("tanh", node_scores(layer, lin, head, "att_src"), fmt.frac, fmt)[graph.col_idx]


def _gene_linear_scores(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> np.ndarray:
    fm = layer.formats
    fmt = fm["score"]
    u_src = elementwise_scores(layer, lin, head, "att_src")
    u_dst = elementwise_scores(layer, lin, head, "att_dst")
    t = lookup("tanh", u_dst[graph.dst_idx] + u_src[graph.col_idx], fmt.frac, fmt)
    bits = score_accumulator_bits(layer)
    acc = accumulator_array(t, bits) @ accumulator_array(layer.attention_tensors["att_gene"][head], bits)
    return requantize_np(acc, fmt.frac + fm["att_weight"].frac, fmt)


#: per-edge scores ``e_ij`` (binary point = score.frac; gat/sym-gat keep their 1-2 extra integer bits)
EDGE_SCORES: dict[str, Callable[[LayerIR, CSRGraph, np.ndarray, int], np.ndarray]] = {
    "gat": _gat_scores,
    "sym-gat": _sym_gat_scores,
    "cos": _cos_scores,
    "linear": _linear_scores,
    "gene-linear": _gene_linear_scores,
}


@dataclass
class SoftmaxTrace:
    """Integer intermediates of one head's softmax (per CSR edge / per node)."""

    scores: np.ndarray
    exp: np.ndarray
    exp_sum: np.ndarray
    reciprocal: np.ndarray
    coef: np.ndarray


def softmax_trace(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> SoftmaxTrace:
    """The attention unit of a GAT-family layer for one head."""
    fm = layer.formats
    scores = EDGE_SCORES[layer.attention](layer, graph, lin, head).astype(np.int64)
    starts = graph.row_ptr[:-1]
    d = scores - np.maximum.reduceat(scores, starts)[graph.dst_idx]
    p = lookup("exp", d, fm["score"].frac, fm["exp"])
    sum_bits, product_bits = softmax_accumulator_bits(layer, int(graph.degrees.max()) if graph.num_nodes else 1)
    exp_sum = np.add.reduceat(accumulator_array(p, sum_bits), starts)
    r = softmax_reciprocal(exp_sum, fm["exp"].frac)
    products = accumulator_array(p, product_bits) * accumulator_array(r, product_bits)[graph.dst_idx]
    coef = requantize_np(products, fm["exp"].frac + SOFTMAX_RECIP_FRAC, fm["coef"])
    return SoftmaxTrace(scores=scores, exp=p, exp_sum=exp_sum, reciprocal=r, coef=coef)


def _softmax_coefficients(layer: LayerIR, graph: CSRGraph, lin: np.ndarray, head: int) -> tuple[np.ndarray, int]:
    return softmax_trace(layer, graph, lin, head).coef, layer.formats["coef"].frac


EDGE_COEFFICIENTS: dict[str, Callable[[LayerIR, CSRGraph, np.ndarray, int], tuple[np.ndarray, int]]] = {
    "const": _const_coefficients,
    "gcn": _gcn_coefficients,
} | {name: _softmax_coefficients for name, spec in ATTENTIONS.items() if spec.softmax}


# ---- aggregation finalisers: (acc per node, frac) -> (acc, frac) -----------------------------------------

def _add_finalise(layer: LayerIR, graph: CSRGraph, acc: np.ndarray, frac: int) -> tuple[np.ndarray, int]:
    return acc, frac


def _mean_finalise(layer: LayerIR, graph: CSRGraph, acc: np.ndarray, frac: int) -> tuple[np.ndarray, int]:
    fmt = layer.formats["recip"]
    return acc * mean_reciprocals(graph, fmt).astype(acc.dtype)[:, None], frac + fmt.frac


AGGREGATION_FINALISERS: dict[str, Callable[..., tuple[np.ndarray, int]]] = {
    "add": _add_finalise,
    "mean": _mean_finalise,
    "max": _add_finalise,
}

#: how each aggregation reduces a node's weighted messages
AGGREGATION_REDUCERS: dict[str, np.ufunc] = {"add": np.add, "mean": np.add, "max": np.maximum}


# ---- activations on codes of the aggregation format (same format in and out) ---------------------------

def _softplus(q: np.ndarray, fmt: NumFormat) -> np.ndarray:
    ti = table_index(fmt.frac)
    return np.where((q >> ti.shift) > ti.hi, q, lookup("softplus", q, fmt.frac, fmt))


ACTIVATION_FUNCTIONS: dict[str, Callable[[np.ndarray, NumFormat], np.ndarray]] = {
    "relu": lambda q, fmt: np.maximum(q, 0),
    "identity": lambda q, fmt: q,
    "elu": lambda q, fmt: np.where(q >= 0, q, lookup("elu", q, fmt.frac, fmt)),
    "tanh": lambda q, fmt: lookup("tanh", q, fmt.frac, fmt),
    "sigmoid": lambda q, fmt: lookup("sigmoid", q, fmt.frac, fmt),
    "leaky_relu": lambda q, fmt: leaky(q, ACTIVATION_LEAKY_CODE),
    "relu6": lambda q, fmt: np.clip(q, 0, relu6_max_code(fmt)),
    "softplus": _softplus,
}


def _aggregate(graph: CSRGraph, coef: np.ndarray, lin: np.ndarray, reducer: np.ufunc) -> np.ndarray:
    """``acc[i] = reduce over CSR row i of coef[e] * lin[col[e]]`` (every row has its self-loop)."""
    products = coef.astype(lin.dtype)[:, None] * lin[graph.col_idx]
    return reducer.reduceat(products, graph.row_ptr[:-1], axis=0)


@dataclass
class LayerTrace:
    """Integer intermediates of one layer (for debugging hardware against the golden model)."""

    linear: list[np.ndarray]
    coefficients: list[np.ndarray]
    aggregation: np.ndarray
    output: np.ndarray


def run_layer(layer: LayerIR, graph: CSRGraph, x: np.ndarray) -> LayerTrace:
    """Run one layer on integer codes ``x`` (N, in_features) of ``layer.formats['input']``."""
    fm = layer.formats
    max_deg = int(graph.degrees.max()) if graph.num_nodes else 1
    lin_bound, agg_bound = accumulator_bounds(layer, max_deg)
    xa = accumulator_array(x, lin_bound)
    lins, accs, coefs = [], [], []
    for h in range(layer.heads):
        acc = xa @ accumulator_array(layer.weight[h], lin_bound)
        lin = requantize_np(acc, linear_acc_frac(layer), fm["linear"])
        lins.append(lin)
        coef, coef_frac = EDGE_COEFFICIENTS[layer.attention](layer, graph, lin, h)
        coefs.append(coef)
        agg = _aggregate(graph, coef, accumulator_array(lin, agg_bound), AGGREGATION_REDUCERS[layer.aggregation])
        agg, frac = AGGREGATION_FINALISERS[layer.aggregation](layer, graph, agg, fm["linear"].frac + coef_frac)
        accs.append(agg)
    if layer.concat:
        acc = np.concatenate(accs, axis=1)
    else:
        acc = sum(accs[1:], accs[0])
        if layer.heads > 1:
            acc = acc * head_mean_reciprocal(layer.heads, HEAD_MEAN_FRAC)
            frac += HEAD_MEAN_FRAC
    assert frac == aggregation_frac(layer)
    if layer.bias is not None:
        shift = frac - fm["bias"].frac
        acc = acc + (accumulator_array(layer.bias, agg_bound) << shift)[None, :]
    agg_q = requantize_np(acc, frac, fm["aggregation"])
    act = ACTIVATION_FUNCTIONS[layer.activation](agg_q, fm["aggregation"])
    out = requantize_np(act, fm["aggregation"].frac, fm["output"])
    return LayerTrace(linear=lins, coefficients=coefs, aggregation=agg_q, output=out.astype(np.int64))


def quantize_features(ir: ModelIR, x: np.ndarray) -> np.ndarray:
    """Host side: float input features -> codes of the first layer's input format."""
    return quantize_np(np.asarray(x, dtype=np.float64), ir.layers[0].formats["input"])


def run_model(ir: ModelIR, graph: CSRGraph, x_codes: np.ndarray) -> np.ndarray:
    """Integer logits (N, num_classes) in the last layer's output format."""
    return trace_model(ir, graph, x_codes)[-1].output


def trace_model(ir: ModelIR, graph: CSRGraph, x_codes: np.ndarray) -> list[LayerTrace]:
    """Every layer's integer intermediates."""
    x = np.asarray(x_codes)
    if x.shape != (graph.num_nodes, ir.in_features):
        raise ValueError(f"input codes have shape {x.shape}, expected {(graph.num_nodes, ir.in_features)}")
    traces = []
    for layer in ir.layers:
        traces.append(run_layer(layer, graph, x))
        x = traces[-1].output
    return traces


def predict(ir: ModelIR, graph: CSRGraph, x_float: np.ndarray) -> np.ndarray:
    """Class per node from float features: quantise on the host, then integers only."""
    return np.argmax(run_model(ir, graph, quantize_features(ir, x_float)), axis=1)
