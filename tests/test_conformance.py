"""Every operator in the registry has every facet: training module, golden semantics, cost formulas, HLS
and Verilog templates, and a bit-exact simulation; and every stage reads the registry's per-operator facts
(code, table, half table, tanh table, non-negative output, formats) the same way.

``FACETS`` lists, per operator kind, each stage's per-operator table; a new operator that misses one fails
``test_every_registered_operator_has_every_facet`` with the stage named. The facet tests below check each
registry field against every stage that implements it. The per-operator tests then run one small model
with that operator through every stage: trained a few steps (torch), exported, the golden model predicting
what torch predicts, costed, generated, and (slow) simulated in C and RTL.
"""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lpgnas import golden
from lpgnas.golden import predict, quantize_features, run_model
from lpgnas.hls_templates import hls_writer
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hls_templates.rtl_attention import as_ints, attention_images
from lpgnas.hls_templates.rtl_writer import activation_table
from lpgnas.hw_model import units
from lpgnas.hw_model.model import estimate
from lpgnas.hw_model.params import ACT_CODE, AGG_CODE, ATT_CODE, LayerSpec
from lpgnas.hw_model.units.activation import activation_params
from lpgnas.hw_model.units.aggregate import AGG_MAX
from lpgnas.hw_model.units.attention import is_softmax
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.numfmt import fix
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS, MEAN_RECIP_FORMAT, layer_format_names
from lpgnas.search import activations, aggregations, attentions
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.quant_gnn import build_gnn, export_ir
from lpgnas.search.quant_layer import QuantGraphLayer
from lpgnas.sim.csim import run_csim
from lpgnas.sim.rtl import run_rtl_batch
from lpgnas.tables import table_index
from lpgnas.testing import random_graph, random_ir

RTL = Path(__file__).resolve().parents[1] / "hls_templates" / "rtl"


def _lpg_act_codes() -> dict[str, int]:
    """lpg_act.v's ``ACT`` codes, from its header (``//   ACT <code> <name> ...``)."""
    return {m[2]: int(m[1]) for m in re.finditer(r"^//\s+ACT (\d+) (\S+)", (RTL / "lpg_act.v").read_text(), re.M)}


def _lpg_act_table_codes() -> set[int]:
    """The ``ACT`` codes lpg_act.v looks up a table for (its ``TAB`` localparam)."""
    m = re.search(r"localparam TAB = (.*);", (RTL / "lpg_act.v").read_text())
    assert m
    return {int(c) for c in re.findall(r"ACT == (\d+)", m[1])}


def _lpg_attention_kinds() -> dict[str, int]:
    """lpg_attention.v's ``KIND`` codes, from its parameter's comment (``0 gat, 1 sym-gat, ...``)."""
    m = re.search(r"parameter KIND\s*=\s*\d+,\s*//\s*(.*)$", (RTL / "lpg_attention.v").read_text(), re.M)
    assert m
    return {name: int(code) for code, name in (item.split() for item in m[1].split(", "))}


#: the RTL's per-operator implementation: lpg_attention's KIND (softmax attentions; const / gcn take their
#: coefficient from lpg_aggregate's coefficient port or none), lpg_aggregate's reducer, lpg_act's ACT
RTL_ATTENTION_UNITS = _lpg_attention_kinds() | {n: "lpg_aggregate" for n, s in ATTENTIONS.items() if not s.softmax}

FACETS = {
    "attention": (
        ATTENTIONS,
        {
            "training": attentions.ATTENTION_COEFFICIENTS,
            "golden": golden.EDGE_COEFFICIENTS,
            "cost": units.ATTENTION_COSTS,
            "hls": hls_writer.HLS_ATTENTIONS,
            "rtl": RTL_ATTENTION_UNITS,
        },
    ),
    "aggregation": (
        AGGREGATIONS,
        {
            "training": aggregations.AGGREGATION_FINALISERS,
            "golden": golden.AGGREGATION_FINALISERS,
            "cost": units.AGGREGATION_COSTS,
            "hls": hls_writer.HLS_AGGREGATIONS,
            "rtl": AGG_MAX,
        },
    ),
    "activation": (
        ACTIVATIONS,
        {
            "training": activations.ACTIVATION_MODULES,
            "golden": golden.ACTIVATION_FUNCTIONS,
            "cost": units.ACTIVATION_COSTS,
            "hls": hls_writer.HLS_ACTIVATIONS,
            "rtl": _lpg_act_codes(),
        },
    ),
}

#: every operator once, the other two decisions at a plain default
OPERATORS = [(kind, name) for kind, (registry, _) in FACETS.items() for name in registry]
DEFAULTS = {"attention": "gcn", "aggregation": "add", "activation": "relu"}
NODES, FEATURES, CLASSES = 24, 6, 3


@pytest.mark.parametrize("kind", FACETS)
def test_every_registered_operator_has_every_facet(kind):
    registry, facets = FACETS[kind]
    for facet, table in facets.items():
        assert set(table) == set(registry), f"{kind} {facet}: {sorted(set(registry) ^ set(table))}"


def test_codes_are_every_stages_codes():
    """Each operator's registry code is unique in its kind and is the code the cost model and the RTL use."""
    for registry, cost_codes in ((ATTENTIONS, ATT_CODE), (AGGREGATIONS, AGG_CODE), (ACTIVATIONS, ACT_CODE)):
        codes = [s.code for s in registry.values()]
        assert len(set(codes)) == len(codes)
        assert cost_codes == {n: float(s.code) for n, s in registry.items()}
    assert _lpg_act_codes() == {n: s.code for n, s in ACTIVATIONS.items()}
    assert _lpg_attention_kinds() == {n: s.code for n, s in ATTENTIONS.items() if s.softmax}
    for name, spec in ATTENTIONS.items():
        assert bool(is_softmax(ATT_CODE[name])) == spec.softmax == (spec.code >= 0), name
    for name, spec in ACTIVATIONS.items():
        assert as_ints(activation_params(LayerSpec(1, 1, act_kind=ACT_CODE[name])))["ACT"] == spec.code


def _act_layer(name: str, fmt):
    return SimpleNamespace(activation=name, formats={"aggregation": fmt})


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_table_facets(name):
    """``table`` / ``half_table``: golden, HLS, RTL ROM image, lpg_act and the cost model agree."""
    spec = ACTIVATIONS[name]
    assert (spec.code in _lpg_act_table_codes()) == (spec.table is not None)
    assert not spec.half_table or spec.table is not None
    for bits, frac in ((8, 4), (6, 5), (12, 9)):
        fmt = fix(bits, frac)
        size = table_index(frac).size // (2 if spec.half_table else 1)
        rom = activation_table(_act_layer(name, fmt))
        hls = hls_writer._activation_context(_act_layer(name, fmt), LayerHW(1, 1, 1))
        p = as_ints(activation_params(LayerSpec(1, 1, agg_bits=bits, agg_frac=frac, act_kind=ACT_CODE[name])))
        if spec.table is None:
            assert rom is None and hls["table"] is None and p["TD"] == 1
            continue
        assert len(rom[0]) == hls["size"] == p["TD"] == size, (name, bits, frac)
        q = np.arange(fmt.qmin, fmt.qmax + 1, dtype=np.int64)
        if spec.half_table:  # non-negative inputs pass through; the table covers the negative ones
            assert np.array_equal(golden.ACTIVATION_FUNCTIONS[name](q, fmt)[q >= 0], q[q >= 0])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_non_negative_facet(name):
    """``non_negative``: the golden output of every code is >= 0 exactly then (on some format), and
    training's output quantiser is unsigned exactly then."""
    spec = ACTIVATIONS[name]
    assert QuantGraphLayer(4, 2, activation=name).out_q.signed == (not spec.non_negative)
    never_negative = []
    for fmt in (fix(8, 4), fix(6, 1), fix(10, 7)):
        q = np.arange(fmt.qmin, fmt.qmax + 1, dtype=np.int64)
        never_negative.append(bool((golden.ACTIVATION_FUNCTIONS[name](q, fmt) >= 0).all()))
    assert all(never_negative) if spec.non_negative else not all(never_negative), (name, never_negative)


@pytest.mark.parametrize("name", list(ATTENTIONS))
def test_attention_facets(name):
    """``formats``, ``tensors``, ``tanh_table``: the IR, the RTL ROM images and the HLS context agree."""
    spec = ATTENTIONS[name]
    ir = random_ir(np.random.default_rng(5), attention=name, heads=2)
    layer = ir.layers[0]
    assert set(layer.formats) == set(layer_format_names(name, layer.aggregation))
    assert set(layer.attention_tensors) == set(spec.tensors)
    if not spec.softmax:
        return
    assert ("tanh" in attention_images(layer, None)) == spec.tanh_table
    ctx = hls_writer._attention_context(layer, LayerHW(1, 1, 2), 16)
    assert (ctx["tanh_table"] is not None) == spec.tanh_table
    assert [t["key"] for t in ctx["tensors"]] == list(spec.tensors)


@pytest.mark.parametrize("name", list(AGGREGATIONS))
def test_aggregation_formats_facet(name):
    layer = random_ir(np.random.default_rng(6), aggregation=name).layers[0]
    assert set(layer.formats) == set(layer_format_names(layer.attention, name))
    if "recip" in AGGREGATIONS[name].formats:
        assert QuantGraphLayer(4, 2, aggregation=name).formats(fix(8, 4))["recip"] == MEAN_RECIP_FORMAT


def _operator_model(kind: str, name: str, seed: int):
    """A 2-layer W8A8 model using operator ``name`` as its ``kind``, trained a few steps on a random graph."""
    ops = DEFAULTS | {kind: name}
    rng = np.random.default_rng(seed)
    graph = random_graph(rng, NODES, 3.0)
    torch.manual_seed(seed)
    x = torch.randn(NODES, FEATURES)
    y = torch.randint(0, CLASSES, (NODES,))
    model = build_gnn(FEATURES, CLASSES, **ops, hidden=4, heads=2, wbits=8, abits=8, input_signed=True)
    g = GraphTensors(graph)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(5):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x, g), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        torch_pred = model(x, g).argmax(1).numpy()
    ir = export_ir(model, f"conf_{kind}_{name}".replace("-", "_"))
    for layer in ir.layers[:-1]:
        assert getattr(layer, kind) == name
    for layer in ir.layers:  # the registry's formats, the mean's reciprocal in its fixed format
        assert set(layer.formats) == set(layer_format_names(layer.attention, layer.aggregation))
        if "recip" in layer.formats:
            assert layer.formats["recip"] == MEAN_RECIP_FORMAT
    return ir, graph, x.numpy(), torch_pred


@pytest.mark.parametrize("kind,name", OPERATORS, ids=[f"{k}-{n}" for k, n in OPERATORS])
def test_operator_trains_exports_costs_and_generates(kind, name, tmp_path):
    ir, graph, x, torch_pred = _operator_model(kind, name, seed=OPERATORS.index((kind, name)))
    assert np.array_equal(predict(ir, graph, x), torch_pred)  # training facet == golden facet
    hw = generate_design(ir, graph, quantize_features(ir, x), tmp_path / "hw")
    assert (hw / "hls" / "kernel.cpp").is_file() and (hw / "rtl" / "lpgnas_top.v").is_file()
    est = estimate(ir, HardwareConfig.load(hw / "hw_config.json"), graph)
    totals = est.totals()
    assert totals["lut_total"] > 0 and totals["cycles"] > 0


@pytest.mark.slow
def test_every_operator_is_bit_exact_in_csim_and_rtl(tmp_path):
    """One design per operator: golden == C simulation == RTL simulation (one batched Verilator build)."""
    dirs = []
    for i, (kind, name) in enumerate(OPERATORS):
        ir, graph, x, _ = _operator_model(kind, name, seed=i)
        x_codes = quantize_features(ir, x)
        hw = generate_design(ir, graph, x_codes, tmp_path / f"{kind}_{name}")
        csim = run_csim(hw)
        assert csim["bit_exact"] and csim["outputs"] == run_model(ir, graph, x_codes).ravel().tolist(), (kind, name)
        dirs.append(hw)
    reports = run_rtl_batch(dirs, tmp_path / "build", "verilator", quick_build=True)
    failed = [op for op, rep in zip(OPERATORS, reports, strict=True) if not rep["bit_exact"]]
    assert not failed, failed
