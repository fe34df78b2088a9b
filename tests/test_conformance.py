"""Every operator in the registry has every facet: training module, golden semantics, cost formulas, HLS
and Verilog templates, and a bit-exact simulation.

``FACETS`` lists, per operator kind, each stage's per-operator table; a new operator that misses one fails
``test_every_registered_operator_has_every_facet`` with the stage named. The per-operator tests then run
one small model with that operator through every stage: trained a few steps (torch), exported, the
golden model predicting what torch predicts, costed, generated, and (slow) simulated in C and RTL.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lpgnas.hls_templates import hls_writer, rtl_attention, rtl_writer
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hw_model import units
from lpgnas.hw_model.model import estimate
from lpgnas.search import layers
from lpgnas.search.layers import GraphTensors, build_gnn, export_ir
from lpgnas.sim.csim import run_csim
from lpgnas.sim.rtl import run_rtl_batch

from lpgnas import golden
from lpgnas.golden import predict, quantize_features, run_model
from lpgnas.hwconfig import HardwareConfig
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS
from lpgnas.testing import random_graph

FACETS = {
    "attention": (
        ATTENTIONS,
        {
            "training": layers.ATTENTION_COEFFICIENTS,
            "golden": golden.EDGE_COEFFICIENTS,
            "cost": units.ATTENTION_COSTS,
            "hls": hls_writer.HLS_ATTENTIONS,
            "rtl": rtl_attention.RTL_ATTENTIONS,
        },
    ),
    "aggregation": (
        AGGREGATIONS,
        {
            "training": layers.AGGREGATION_FINALISERS,
            "golden": golden.AGGREGATION_FINALISERS,
            "cost": units.AGGREGATION_COSTS,
            "hls": hls_writer.HLS_AGGREGATIONS,
            "rtl": rtl_writer.RTL_AGGREGATIONS,
        },
    ),
    "activation": (
        ACTIVATIONS,
        {
            "training": layers.ACTIVATION_MODULES,
            "golden": golden.ACTIVATION_FUNCTIONS,
            "cost": units.ACTIVATION_COSTS,
            "hls": hls_writer.HLS_ACTIVATIONS,
            "rtl": rtl_writer.RTL_ACTIVATIONS,
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
