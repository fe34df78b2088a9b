"""Random models and graphs for conformance tests of every stage (golden, csim, RTL, cost model).

Formats are chosen so that values use their range: the binary points make each re-quantisation shift
right by about the accumulator's bit growth, with random jitter so left shifts and saturation occur too.
"""

from __future__ import annotations

import math

import numpy as np

from lpgnas.graph import CSRGraph
from lpgnas.ir import LayerIR, ModelIR
from lpgnas.numfmt import NumFormat, fix, from_bits
from lpgnas.operators import ATTENTIONS, MEAN_RECIP_FORMAT, layer_format_names


def random_codes(rng: np.random.Generator, fmt: NumFormat, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform codes over the format's range (binary: -1/+1)."""
    if fmt.kind == "binary":
        return rng.choice(np.array([-1, 1], dtype=np.int64), size=shape)
    return rng.integers(fmt.qmin, fmt.qmax + 1, size=shape, dtype=np.int64)


def random_graph(rng: np.random.Generator, num_nodes: int, avg_degree: float = 3.0) -> CSRGraph:
    """Random directed graph with isolated nodes, duplicate edges and explicit self-loops in its edge list."""
    num_edges = int(num_nodes * avg_degree)
    src = rng.integers(0, num_nodes, num_edges)
    dst = rng.integers(0, num_nodes, num_edges)
    isolated = rng.choice(num_nodes, size=max(1, num_nodes // 10), replace=False)
    keep = ~np.isin(src, isolated) & ~np.isin(dst, isolated)
    loops = rng.choice(num_nodes, size=max(1, num_nodes // 8), replace=False)
    ei = np.concatenate([np.stack([src[keep], dst[keep]]), np.stack([loops, loops])], axis=1)
    return CSRGraph.from_edge_index(ei, num_nodes)


def random_ir(
    rng: np.random.Generator,
    *,
    attention: str = "gcn",
    aggregation: str = "add",
    activation: str = "relu",
    num_layers: int = 2,
    in_features: int = 8,
    hidden: int = 8,
    num_classes: int = 4,
    heads: int = 1,
    concat: bool = True,
    wbits: int = 8,
    abits: int = 8,
    bias: bool = True,
    name: str = "random",
) -> ModelIR:
    """A valid random IR; ``wbits`` 1 = binary, 2 = ternary; activations are ``abits``-bit fix."""
    layers = []
    width = in_features
    in_fmt = fix(abits, abits - 2, signed=True)
    for i in range(num_layers):
        last = i == num_layers - 1
        out_f = num_classes if last else hidden
        h = 1 if last else heads
        w_fmt = from_bits(wbits, int(rng.integers(0, max(wbits, 2))))
        growth = in_fmt.bits + w_fmt.bits - 2 + math.ceil(math.log2(width) / 2)
        lin_fmt = fix(abits, in_fmt.frac + w_fmt.frac - (growth - (abits - 2)) + int(rng.integers(-1, 2)))
        fm = {"input": in_fmt, "weight": w_fmt, "linear": lin_fmt}
        acc_frac = lin_fmt.frac
        names = layer_format_names(attention, aggregation)
        att_tensors = {}
        if ATTENTIONS[attention].softmax:
            # attention vectors scaled so that node scores span about +-8 (the tables' range)
            lin_int_bits = lin_fmt.bits - 1 - lin_fmt.frac
            att_frac = lin_int_bits + abits - 1 + math.ceil(math.log2(out_f) / 2) - 5 + int(rng.integers(-1, 2))
            if attention in ("cos", "gene-linear"):  # element-wise products: no sum over features
                att_frac -= math.ceil(math.log2(out_f) / 2) + 2
            fm["att_weight"] = fix(abits, att_frac)
            fm["score"] = fix(abits, abits - 4 + int(rng.integers(-1, 2)))
            fm["exp"] = fix(abits, abits - 1, signed=False)
            att_tensors = {k: random_codes(rng, fm["att_weight"], (h, out_f)) for k in ATTENTIONS[attention].tensors}
        if "coef" in names:
            fm["coef"] = fix(abits, abits - 1, signed=False)
            acc_frac += abits - 1
        if "recip" in names:
            fm["recip"] = MEAN_RECIP_FORMAT
            acc_frac += 16
        if h > 1 and not concat:
            acc_frac += 16
        fm["bias"] = fix(abits, min(acc_frac, lin_fmt.frac + int(rng.integers(-1, 2))))
        fm["aggregation"] = fix(abits, lin_fmt.frac - int(rng.integers(0, 3)))
        out_signed = last or activation != "relu"
        fm["output"] = fix(abits, fm["aggregation"].frac - int(rng.integers(-1, 2)), signed=out_signed)
        out_width = h * out_f if concat or h == 1 else out_f
        layers.append(
            LayerIR(
                name=f"layer{i}", in_features=width, out_features=out_f, heads=h, concat=concat,
                attention=attention, aggregation=aggregation, activation="identity" if last else activation,
                formats=fm, weight=random_codes(rng, w_fmt, (h, width, out_f)),
                bias=random_codes(rng, fm["bias"], (out_width,)) if bias else None,
                attention_tensors=att_tensors,
            )
        )
        width, in_fmt = out_width, fm["output"]
    return ModelIR(name=name, in_features=in_features, num_classes=num_classes, layers=layers).validate()


def random_features(rng: np.random.Generator, ir: ModelIR, num_nodes: int) -> np.ndarray:
    """Random input codes of the first layer's input format."""
    return random_codes(rng, ir.layers[0].formats["input"], (num_nodes, ir.in_features))
