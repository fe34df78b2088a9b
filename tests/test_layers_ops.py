"""Every registry operator trains, and the trained torch model's forward pass is the golden integer model:
the codes of every layer (linear output per head, edge coefficients per head, aggregation, output) equal
``lpgnas.golden.trace_model`` on the exported IR, bit for bit, at several bitwidths."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lpgnas.golden import accumulator_bounds, predict, quantize_features, trace_model
from lpgnas.ir import load_ir
from lpgnas.numfmt import fix, requantize_torch
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS
from lpgnas.search import graph_tensors, quant_gnn, quant_layer
from lpgnas.search import sparse as sparse_mod
from lpgnas.search.dropout import dropout_shift, fast_dropout, sparse_dropout
from lpgnas.search.exact import quantize_codes
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.quant_gnn import build_gnn, export_ir
from lpgnas.search.sparse import project
from lpgnas.testing import random_graph

NODES, FEATURES, CLASSES = 40, 12, 3
SOFTMAX = [name for name, spec in ATTENTIONS.items() if spec.softmax]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: threads only add overhead (and the machine is shared)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _trained(attention="gcn", aggregation="add", activation="relu", wbits=8, abits=8, heads=2, out_heads=1,
             seed=0, steps=5, density=1.0):
    """A 2-layer model trained a few steps on a random graph (with feature and attention dropout), in eval;
    ``density``: the fraction of non-zero input features."""
    rng = np.random.default_rng(seed)
    csr = random_graph(rng, NODES, 3.0)
    g = GraphTensors(csr)
    torch.manual_seed(seed)
    x = torch.randn(NODES, FEATURES) * (torch.rand(NODES, FEATURES) < density)
    y = torch.randint(0, CLASSES, (NODES,))
    model = build_gnn(FEATURES, CLASSES, attention=attention, aggregation=aggregation, activation=activation,
                      hidden=6, heads=heads, out_heads=out_heads, wbits=wbits, abits=abits, input_signed=True,
                      dropout=0.3, attention_dropout=0.3)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x, g), y).backward()
        opt.step()
    model.eval()
    return model, csr, g, x


def _assert_forward_is_golden(model, csr, g, x, values=True):
    """Torch forward codes == golden codes, layer by layer (and the output values, with ``values``: exact
    in float32 up to 24-bit codes); returns the golden traces."""
    with torch.no_grad():
        out = model(x, g)
    ir = export_ir(model, "t")
    traces = trace_model(ir, csr, quantize_features(ir, x.numpy()))
    for i, (layer, tr) in enumerate(zip(model.layers, traces, strict=True)):
        for h in range(layer.heads):
            assert np.array_equal(layer.codes["linear"][:, h].numpy(), tr.linear[h]), (i, h, "linear")
            coef = layer.codes["coefficients"]
            assert np.array_equal(coef[:, min(h, coef.shape[1] - 1)].numpy(), tr.coefficients[h]), (i, h, "coef")
        assert np.array_equal(layer.codes["aggregation"].numpy(), tr.aggregation), (i, "aggregation")
        assert np.array_equal(layer.codes["output"].numpy(), tr.output), (i, "output")
    frac = ir.layers[-1].formats["output"].frac
    assert not values or np.array_equal(out.double().numpy() * 2.0**frac, traces[-1].output.astype(np.float64))
    return ir, traces


@pytest.mark.parametrize("bits", [4, 8, 16])
@pytest.mark.parametrize("attention", list(ATTENTIONS))
def test_every_attention_forward_is_golden(attention, bits):
    model, csr, g, x = _trained(attention=attention, wbits=bits, abits=bits)
    ir, traces = _assert_forward_is_golden(model, csr, g, x)
    if ATTENTIONS[attention].softmax:
        assert set(ir.layers[0].attention_tensors) == set(ATTENTIONS[attention].tensors)
        # the softmax is not degenerate: coefficients differ between edges of a head
        assert len(np.unique(traces[0].coefficients[0])) > 3


@pytest.mark.parametrize("bits", [4, 8, 16])
@pytest.mark.parametrize("aggregation", list(AGGREGATIONS))
def test_every_aggregation_forward_is_golden(aggregation, bits):
    _assert_forward_is_golden(*_trained(attention="gcn", aggregation=aggregation, wbits=bits, abits=bits))
    _assert_forward_is_golden(*_trained(attention="gat", aggregation=aggregation, wbits=bits, abits=bits, seed=1))


@pytest.mark.parametrize("bits", [4, 8, 16])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_forward_is_golden(activation, bits):
    model, csr, g, x = _trained(attention="gat", aggregation="mean", activation=activation, wbits=bits, abits=bits)
    _, traces = _assert_forward_is_golden(model, csr, g, x)
    agg = traces[0].aggregation
    assert (agg < 0).any() and (agg > 0).any()  # both branches of the activation are exercised


@pytest.mark.parametrize("wbits", [1, 2])
@pytest.mark.parametrize("attention", ["gcn", "gat", "gene-linear"])
def test_binary_and_ternary_weights_forward_is_golden(attention, wbits):
    model, csr, g, x = _trained(attention=attention, aggregation="max", activation="tanh", wbits=wbits, abits=8)
    ir, _ = _assert_forward_is_golden(model, csr, g, x)
    assert ir.layers[0].formats["weight"].kind == {1: "binary", 2: "ternary"}[wbits]


@pytest.mark.parametrize("attention", ["gcn", "sym-gat", "cos"])
def test_averaged_heads_and_saturating_formats_are_golden(attention):
    model, csr, g, x = _trained(attention=attention, aggregation="mean", activation="softplus", heads=3,
                                out_heads=2)
    assert not model.layers[-1].concat
    with torch.no_grad():  # formats too narrow for the data: every re-quantisation saturates somewhere
        for layer in model.layers:
            for q in (layer.lin_q, layer.score_q, layer.agg_q, layer.out_q):
                q.max_abs.mul_(0.3)
    _, traces = _assert_forward_is_golden(model, csr, g, x)
    fmt = model.layers[0].agg_q.fmt()
    assert (traces[0].aggregation == fmt.qmax).any() or (traces[0].aggregation == fmt.qmin).any()


@pytest.mark.parametrize("attention, aggregation, bits, out_heads", [("gat", "mean", 16, 3), ("gcn", "max", 32, 2)])
def test_accumulators_wider_than_int64_are_exact(attention, aggregation, bits, out_heads):
    """Mean x averaged heads at 16 bits needs a > 62-bit aggregation accumulator, 32-bit formats a > 62-bit
    transform accumulator (and codes wider than float32): both are computed with Python ints."""
    model, csr, g, x = _trained(attention=attention, aggregation=aggregation, wbits=bits, abits=bits,
                                out_heads=out_heads)
    ir = export_ir(model, "t")
    assert max(accumulator_bounds(layer, int(csr.degrees.max()))[1] for layer in ir.layers) > 62
    with torch.no_grad():
        model(x, g)
    traces = trace_model(ir, csr, quantize_features(ir, x.numpy()))
    for layer, tr in zip(model.layers, traces, strict=True):
        assert np.array_equal(layer.codes["aggregation"].numpy(), tr.aggregation)
        assert np.array_equal(layer.codes["output"].numpy(), tr.output)


@pytest.mark.parametrize("attention, bits", [("gcn", 4), ("gat", 8), ("gene-linear", 16), ("gcn", 32)])
def test_sparse_input_features_are_golden_and_equal_the_dense_path(attention, bits, monkeypatch):
    """Bag-of-words-like features (15 % non-zero) are trained on and evaluated through the sparse product
    (32 bits: its dense int64 / Python-int fallback): golden codes, and the dense path's output exactly."""
    model, csr, g, x = _trained(attention=attention, wbits=bits, abits=bits, density=0.15)
    _assert_forward_is_golden(model, csr, g, x, values=bits <= 16)
    assert model._input_value[0].is_sparse and model._input_value[1].is_sparse
    sparse_codes = [layer.codes for layer in model.layers]
    monkeypatch.setattr(sparse_mod, "SPARSE_INPUT_DENSITY", 0.0)
    with torch.no_grad():
        model(x.clone(), g)  # a new tensor: the cached layout is rebuilt, dense this time
    assert not model._input_value[0].is_sparse
    for sparse, layer in zip(sparse_codes, model.layers, strict=True):
        assert sparse.keys() == layer.codes.keys()
        assert all(torch.equal(sparse[k], layer.codes[k]) for k in sparse)


@pytest.mark.parametrize("in_bits, w_bits, fan_in", [(8, 8, 256), (8, 4, 767), (16, 8, 64), (16, 8, 128)])
def test_linear_codes_come_from_the_float32_product_only_where_it_is_exact(in_bits, w_bits, fan_in, monkeypatch):
    """The transform's codes are read off the float32 product when the accumulator fits 24 bits (8 x 8 bits
    over 256 inputs: 24) and come from the exact product beyond: equal to int64 arithmetic either way, also
    on dropout's doubled inputs; with the float32 limit raised, the wide products come out wrong."""
    layer = build_gnn(fan_in, 2, attention="gcn", layers=1, wbits=w_bits, abits=in_bits, input_signed=True).layers[0]
    in_fmt, w_fmt = fix(in_bits, in_bits - 2), fix(w_bits, w_bits - 1)
    rng = np.random.default_rng(in_bits * w_bits)
    codes = torch.from_numpy(rng.integers(in_fmt.qmin, in_fmt.qmax + 1, (50, fan_in)))
    codes[0] = in_fmt.qmin  # one row at the extreme of the range, against extreme weights
    w_codes = torch.from_numpy(rng.integers(w_fmt.qmin, w_fmt.qmax + 1, (1, fan_in, 2)))
    w_codes[0, :, 0] = w_fmt.qmin
    frac = in_fmt.frac + w_fmt.frac
    lin_fmt = fix(32, frac)  # no rounding: the codes are the accumulators themselves
    fast = in_bits + w_bits + int(np.ceil(np.log2(fan_in))) <= 24

    def codes_of(input_codes, shift, x_codes):
        x = x_codes.float() * 2.0**-in_fmt.frac
        product = project(x, w_codes.float() * 2.0**-w_fmt.frac)
        return layer._linear_codes(x, in_fmt, input_codes, w_codes, w_fmt, lin_fmt, product, shift)

    exact = requantize_torch(torch.einsum("ni,hio->nho", codes, w_codes), frac, lin_fmt)
    assert torch.equal(codes_of(codes, 0, codes), exact)
    assert torch.equal(codes_of(None, 0, codes), exact)
    kept = torch.from_numpy(rng.integers(0, 2, codes.shape)) * 2  # dropout at p = 0.5: zero or double
    dropped = requantize_torch(torch.einsum("ni,hio->nho", codes * kept, w_codes), frac, lin_fmt)
    assert torch.equal(codes_of(None, dropout_shift(0.5), codes * kept), dropped)
    monkeypatch.setattr(quant_layer, "FLOAT32_EXACT_BITS", 62)
    assert torch.equal(codes_of(codes, 0, codes), exact) == fast


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_training_forward_codes_equal_the_exact_products(p, monkeypatch):
    """A training forward pass (dropout p: its kept values stay on the grid at 0.5, leave it at 0.3) gives
    every layer the codes of the float64 / int64 products that the float32 shortcut replaces."""
    rng = np.random.default_rng(7)
    csr = random_graph(rng, 400, 3.0)
    g = GraphTensors(csr)
    torch.manual_seed(7)
    x = torch.randn(400, 64)
    model = build_gnn(64, CLASSES, attention="gcn", hidden=16, wbits=8, abits=8, input_signed=True, dropout=p)
    model.train()

    def forward_codes():
        torch.manual_seed(1)  # the same dropout draw
        with torch.no_grad():
            model(x, g)
        return [dict(layer.codes) for layer in model.layers]

    shortcut = forward_codes()
    monkeypatch.setattr(quant_layer, "FLOAT32_EXACT_BITS", 0)
    for fast, exact in zip(shortcut, forward_codes(), strict=True):
        assert all(torch.equal(fast[k], exact[k]) for k in exact)


@pytest.mark.parametrize("p, shift", [(0.0, 0), (0.5, 1), (0.75, 2), (0.6, None), (0.3, None)])
def test_dropout_keeps_the_grid_only_when_it_scales_by_a_power_of_two(p, shift):
    assert dropout_shift(p) == shift


@pytest.mark.parametrize("p", [0.5, 0.75, 0.6, 0.1])
def test_fast_dropout_keeps_each_value_with_probability_one_minus_p_and_rescales(p):
    """Kept values are ``x / (1 - p)`` (exactly 2 and 4 at p = 0.5, 0.75), dropped ones 0; the kept fraction
    of 10^6 draws is 1 - p within 5 standard deviations, the same in every quarter of the tensor (the 16-bit
    draws come four to a 64-bit word), the gradient is the mask times the scale, and the seed fixes the draw."""
    x = torch.rand(1000, 1000, dtype=torch.float64) + 0.5  # no zeros: a zero output means dropped
    x.requires_grad_(True)
    torch.manual_seed(3)
    out = fast_dropout(x, p)
    kept = out != 0
    scale = 1 / (1 - p)
    assert torch.allclose(out[kept], x[kept] * scale, rtol=1e-4, atol=0)
    if dropout_shift(p) is not None:
        assert torch.equal(out[kept], x[kept] * 2.0 ** dropout_shift(p))
    sd = (p * (1 - p) / x.numel()) ** 0.5
    assert abs(kept.double().mean().item() - (1 - p)) < 5 * sd
    for quarter in kept.view(-1, 4).T:  # each of the four 16-bit lanes of the words
        assert abs(quarter.double().mean().item() - (1 - p)) < 5 * 2 * sd
    out.sum().backward()
    assert torch.allclose(x.grad, kept.double() * scale, rtol=1e-4, atol=0)
    torch.manual_seed(3)
    assert torch.equal(fast_dropout(x.detach(), p), out.detach())


def test_sparse_dropout_drops_only_stored_values_and_only_in_training():
    dense = torch.rand(50, 40) * (torch.rand(50, 40) < 0.2)
    sparse = dense.to_sparse()
    assert sparse_dropout(sparse, 0.5, training=False) is sparse
    torch.manual_seed(0)
    out = sparse_dropout(sparse, 0.5, training=True)
    assert out.is_sparse and torch.equal(out.coalesce().indices(), sparse.coalesce().indices())
    values, before = out.coalesce().values(), sparse.coalesce().values()
    assert torch.equal(values[values != 0], before[values != 0] * 2)
    assert 0.3 < (values != 0).float().mean().item() < 0.7
    assert torch.equal(fast_dropout(dense, 0.0), dense) and not fast_dropout(dense, 1.0).any()


def test_quantised_features_are_shared_across_models_until_the_tensor_changes(monkeypatch):
    """A second model on the same feature tensor reuses its quantised codes (a search trains ~100); an
    in-place change or another tensor is quantised afresh, and the shared codes give the same forward pass."""
    model, csr, g, x = _trained(density=0.15)
    again = _trained(density=0.15)[0]  # the same training on an equal, but another, tensor
    calls = []
    monkeypatch.setattr(quant_gnn, "quantize_codes", lambda t, fmt: calls.append(t.shape) or quantize_codes(t, fmt))
    with torch.no_grad():
        out = model(x, g)
        assert torch.equal(again(x, g), out)
        assert (NODES, FEATURES) not in calls
        assert torch.equal(model(x.clone(), g), out)
        assert calls.count((NODES, FEATURES)) == 1
        x.mul_(2.0)
        model(x, g)
    assert calls.count((NODES, FEATURES)) == 2


def test_exported_gat_round_trips_and_predicts_like_torch(tmp_path):
    model, csr, g, x = _trained(attention="gat", activation="elu", heads=4, wbits=8, abits=8, steps=10)
    export_ir(model, "gat").save(tmp_path / "m.ir.json")
    ir = load_ir(tmp_path / "m.ir.json")
    with torch.no_grad():
        pred = model(x, g).argmax(1).numpy()
    assert np.array_equal(predict(ir, csr, x.numpy()), pred)


@pytest.mark.parametrize("attention", SOFTMAX)
def test_attention_vectors_learn_and_the_unquantised_reference_runs(attention):
    model, csr, g, x = _trained(attention=attention, steps=1)
    model.train()
    model.zero_grad()
    model(x, g).square().sum().backward()
    for key, p in model.layers[0].att.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, key
    model.eval()
    model.set_quantise(False)
    with torch.no_grad():
        out = model(x, g)
    assert out.shape == (NODES, CLASSES) and torch.isfinite(out).all()


def test_sparse_row_product_and_its_gradients_match_the_dense_product():
    """``project`` on sparse COO features (a CSR product with a hand-written backward): output and both
    gradients (per non-zero value, and the weight through the transposed CSR) equal the dense product's
    (float64 gradcheck); a transposed structure built wrongly would fail here."""
    torch.manual_seed(0)
    dense = torch.randn(9, 7, dtype=torch.float64) * (torch.rand(9, 7) < 0.4)
    idx = (dense != 0).nonzero().t()
    values = dense[idx[0], idx[1]].clone().requires_grad_()
    w = torch.randn(2, 7, 3, dtype=torch.float64, requires_grad=True)

    def sparse_product(v, w):
        return sparse_mod.project(sparse_mod.sparse_coo(idx, v, dense.shape), w)

    def dense_product(v, w):
        return torch.einsum("ni,hio->nho", torch.zeros_like(dense).index_put((idx[0], idx[1]), v), w)

    assert torch.allclose(sparse_product(values, w), dense_product(values, w))
    grad = torch.randn(9, 2, 3, dtype=torch.float64)
    ours = torch.autograd.grad((sparse_product(values, w) * grad).sum(), (values, w))
    ref = torch.autograd.grad((dense_product(values, w) * grad).sum(), (values, w))
    assert all(torch.allclose(a, b) for a, b in zip(ours, ref, strict=True))
    assert torch.autograd.gradcheck(sparse_product, (values, w))


@pytest.mark.parametrize("heads, coef_heads", [(1, 1), (3, 1), (3, 3)])
def test_aggregate_sum_equals_gather_scatter(heads, coef_heads):
    """The CSR aggregation equals the gather-multiply-scatter it replaces: int64 codes exactly (through the
    float64 product, and through the int64 fallback when partial sums could pass 2**52), float values and
    their gradients to coefficients and features up to rounding."""
    rng = np.random.default_rng(1)
    csr = random_graph(rng, NODES, 4.0)
    g = GraphTensors(csr)
    e = csr.num_edges

    def reference(coef, lin):
        return graph_tensors.scatter(coef[:, :, None] * lin[g.src], g.dst, NODES, "sum")

    for bound in (2**15, 2**30):  # 30 + 30 bits: past float64's exact range, the int64 path
        coef = torch.randint(0, bound, (e, coef_heads))
        lin = torch.randint(-bound, bound, (NODES, heads, 5))
        assert torch.equal(graph_tensors.aggregate_sum(g, coef, lin), reference(coef, lin))
    coef = torch.rand(e, coef_heads, requires_grad=True)
    lin = torch.randn(NODES, heads, 5, requires_grad=True)
    grad = torch.randn(NODES, heads, 5)
    ours, ref = graph_tensors.aggregate_sum(g, coef, lin), reference(coef, lin)
    assert torch.allclose(ours, ref, atol=1e-5)
    g_ours = torch.autograd.grad((ours * grad).sum(), (coef, lin))
    g_ref = torch.autograd.grad((ref * grad).sum(), (coef, lin))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(g_ours, g_ref, strict=True))
