"""The golden integer model against an independent, plainly written implementation in this file.

The reference below uses nothing of lpgnas but the IR's fields: its own graph normalisation, its own
coefficient quantisation, Python-int rounding. Any disagreement is a bug in one of the two.
"""

import math

import numpy as np
import pytest

from lpgnas.golden import quantize_features, run_model, trace_model
from lpgnas.graph import CSRGraph
from lpgnas.numfmt import fix
from lpgnas.testing import random_features, random_graph, random_ir


def _q_float(v: float, bits: int, frac: int, signed: bool) -> int:
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return min(max(math.floor(v * 2**frac + 0.5), lo), hi)


def _rq(acc: int, frac_in: int, fmt) -> int:
    s = frac_in - fmt.frac
    v = (acc + 2 ** (s - 1)) // 2**s if s > 0 else acc * 2 ** (-s)
    return min(max(v, fmt.qmin), fmt.qmax)


def reference_model(ir, edges: list[tuple[int, int]], num_nodes: int, x: np.ndarray) -> np.ndarray:
    """Plain implementation: neighbour sets with self-loops, Python ints for every rounding."""
    nbrs = [{i} for i in range(num_nodes)]
    for s, d in edges:
        nbrs[d].add(s)
    deg = [len(n) for n in nbrs]
    h = [[int(v) for v in row] for row in x]
    for layer in ir.layers:
        fm = layer.formats
        per_head = []
        for head in range(layer.heads):
            w = layer.weight[head]
            bound = len(h[0]) * max(abs(v) for row in h for v in row) * int(np.abs(w).max())
            dtype = np.int64 if bound < 2**62 else object  # exact either way
            lin = np.array(h, dtype=dtype).dot(w.astype(dtype))
            lin = [[_rq(int(v), fm["input"].frac + fm["weight"].frac, fm["linear"]) for v in row] for row in lin]
            acc_frac = fm["linear"].frac
            out = []
            for i in range(num_nodes):
                total = [0] * layer.out_features
                for j in nbrs[i]:
                    c = 1
                    if layer.attention == "gcn":
                        c = _q_float(1 / math.sqrt(deg[i] * deg[j]), fm["coef"].bits, fm["coef"].frac, False)
                    for f in range(layer.out_features):
                        total[f] += c * lin[j][f]
                if layer.aggregation == "mean":
                    r = _q_float(1 / deg[i], fm["recip"].bits, fm["recip"].frac, False)
                    total = [t * r for t in total]
                out.append(total)
            acc_frac += fm["coef"].frac if layer.attention == "gcn" else 0
            acc_frac += fm["recip"].frac if layer.aggregation == "mean" else 0
            per_head.append(out)
        if layer.concat:
            acc = [sum((per_head[hd][i] for hd in range(layer.heads)), []) for i in range(num_nodes)]
        else:
            acc = [[sum(per_head[hd][i][f] for hd in range(layer.heads)) for f in range(layer.out_features)]
                   for i in range(num_nodes)]
            if layer.heads > 1:
                r = _q_float(1 / layer.heads, 18, 16, False)
                acc = [[v * r for v in row] for row in acc]
                acc_frac += 16
        if layer.bias is not None:
            acc = [[v + int(b) * 2 ** (acc_frac - fm["bias"].frac) for v, b in zip(row, layer.bias, strict=True)]
                   for row in acc]
        agg = [[_rq(v, acc_frac, fm["aggregation"]) for v in row] for row in acc]
        if layer.activation == "relu":
            agg = [[max(v, 0) for v in row] for row in agg]
        h = [[_rq(v, fm["aggregation"].frac, fm["output"]) for v in row] for row in agg]
    return np.array(h, dtype=np.int64)


def _edges(graph_edge_index: np.ndarray) -> list[tuple[int, int]]:
    return [(int(s), int(d)) for s, d in graph_edge_index.T if s != d]


@pytest.mark.parametrize("attention", ["const", "gcn"])
@pytest.mark.parametrize("aggregation", ["add", "mean"])
@pytest.mark.parametrize("wbits, abits, heads, concat", [(1, 4, 1, True), (2, 8, 2, True), (4, 8, 3, False),
                                                         (8, 16, 1, True), (16, 8, 2, False)])
def test_golden_equals_reference_on_random_models(attention, aggregation, wbits, abits, heads, concat):
    rng = np.random.default_rng(wbits * 100 + abits + heads)
    n = int(rng.integers(10, 40))
    ir = random_ir(rng, attention=attention, aggregation=aggregation, wbits=wbits, abits=abits,
                   heads=heads, concat=concat)
    src, dst = rng.integers(0, n, 3 * n), rng.integers(0, n, 3 * n)
    edge_index = np.stack([np.concatenate([src, [0, 1]]), np.concatenate([dst, [0, 1]])])  # with self-loops
    x = random_features(rng, ir, n)
    got = run_model(ir, CSRGraph.from_edge_index(edge_index, n), x)
    assert np.array_equal(got, reference_model(ir, _edges(edge_index), n, x))


def test_golden_uses_python_ints_when_int64_could_overflow():
    rng = np.random.default_rng(5)
    ir = random_ir(rng, attention="gcn", aggregation="mean", wbits=16, abits=16, num_layers=1,
                   in_features=4, num_classes=3)
    layer = ir.layers[0]
    layer.formats = dict(layer.formats, input=fix(32, 10), weight=fix(32, 12), linear=fix(32, 0),
                         aggregation=fix(32, 0), output=fix(32, 0))
    layer.weight = np.full((1, 4, 3), 2**31 - 1, dtype=np.int64)
    layer.bias = None
    ir.validate()
    x = np.full((6, 4), 2**31 - 1, dtype=np.int64)
    graph = random_graph(rng, 6)
    edges = [(int(s), int(d)) for d in range(6) for s in graph.col_idx[graph.row_ptr[d]:graph.row_ptr[d + 1]]]
    assert np.array_equal(run_model(ir, graph, x), reference_model(ir, edges, 6, x))


def test_trace_exposes_every_layer():
    rng = np.random.default_rng(3)
    ir = random_ir(rng, num_layers=3)
    graph = random_graph(rng, 20)
    traces = trace_model(ir, graph, random_features(rng, ir, 20))
    assert [t.output.shape for t in traces] == [(20, 8), (20, 8), (20, 4)]
    with pytest.raises(ValueError, match="input codes have shape"):
        trace_model(ir, graph, np.zeros((3, 3), dtype=np.int64))


@pytest.mark.slow
def test_cora_w8a8_golden_logits_equal_reference(cora_w8a8_run):
    """Acceptance: on Cora at W8A8 the golden logits equal the plain reference integer for integer."""
    ir, data, _ = cora_w8a8_run
    n = data.x.shape[0]
    x = quantize_features(ir, data.x.numpy())
    fmt = ir.layers[0].formats["input"]
    assert np.array_equal(x, [[_q_float(float(v), fmt.bits, fmt.frac, fmt.signed) for v in row]
                              for row in data.x.numpy()[:50]] + x[50:].tolist())
    got = run_model(ir, CSRGraph.from_edge_index(data.edge_index.numpy(), n), x)
    ref = reference_model(ir, _edges(data.edge_index.numpy()), n, x)
    assert got.shape == (2708, 7)
    assert np.array_equal(got, ref)
