"""Accumulators never overflow (docs/number_formats.md): the golden model follows the 62-bit rule in every
accumulation, and the generators either build what the golden model computes or refuse it clearly."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lpgnas import numfmt
from lpgnas.errors import FormatError
from lpgnas.golden import run_model, score_accumulator_bits, softmax_trace
from lpgnas.graph import CSRGraph
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hls_templates.hls_writer import hls_context
from lpgnas.hls_templates.rtl_writer import rtl_context
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import LayerIR, ModelIR
from lpgnas.numfmt import INT64_SAFE_BITS, NumFormat, accumulator_array, fix, requantize_int
from lpgnas.operators import AGGREGATIONS, ATTENTIONS
from lpgnas.sim.csim import run_csim
from lpgnas.sim.rtl import run_rtl, tool_env
from lpgnas.tables import ATTENTION_LEAKY_CODE, leaky, lookup
from lpgnas.testing import random_features, random_graph, random_ir

#: binary points (linear, att_weight, score) that keep the scores of extreme 32-bit codes unsaturated
#: although their dot products exceed int64 (cos: element-wise terms near 2**31; gene-linear: tanh near 1)
WIDE_FRACS = {"gat": (40, 40, 44), "sym-gat": (40, 40, 44), "linear": (40, 40, 44), "cos": (40, 40, 49),
              "gene-linear": (22, 40, 31)}


def test_accumulator_array_switches_to_python_ints_above_62_bits() -> None:
    a = np.array([3, -4])
    assert accumulator_array(a, INT64_SAFE_BITS).dtype == np.int64
    wide = accumulator_array(a, INT64_SAFE_BITS + 1)
    assert wide.dtype == object and (wide * (1 << 62)).tolist() == [3 << 62, -4 << 62]


def _wide_attention_layer(attention: str, seed: int) -> tuple[LayerIR, CSRGraph, np.ndarray]:
    """A 32-bit GAT-family layer (score accumulator bound > 62 bits) and extreme linear-output codes:
    near the format's limits, so products of two codes are close to 2**62 and their sums exceed int64."""
    rng = np.random.default_rng(seed)
    layer = random_ir(rng, attention=attention, abits=32, wbits=16, in_features=4, hidden=6).layers[0]
    lin_frac, att_frac, score_frac = WIDE_FRACS[attention]
    fm = layer.formats | {"linear": fix(32, lin_frac), "att_weight": fix(32, att_frac), "score": fix(32, score_frac)}
    layer = replace(layer, formats=fm)
    assert score_accumulator_bits(layer) > INT64_SAFE_BITS
    graph = random_graph(rng, 12)
    n, f = graph.num_nodes, layer.out_features
    # codes within 2**20 of the format's limits: every product is about +-2**62, two already leave int64
    def extreme(fmt: NumFormat, shape: tuple[int, ...]) -> np.ndarray:
        """Mostly near ``qmin``, sometimes near ``qmax``."""
        near = rng.integers(0, 1 << 20, shape)
        return np.where(rng.random(shape) < 0.8, fmt.qmin + near, fmt.qmax - near)

    lin = extreme(fm["linear"], (n, f))
    tensors = {key: extreme(fm["att_weight"], (layer.heads, f)) for key in layer.attention_tensors}
    return replace(layer, attention_tensors=tensors), graph, lin


def _reference_scores(layer: LayerIR, graph: CSRGraph, lin: np.ndarray) -> np.ndarray:
    """Edge scores ``e_ij`` of head 0 (docs/number_formats.md) with Python ints only."""
    fm = layer.formats
    score = fm["score"]
    att = {k: [int(v) for v in t[0]] for k, t in layer.attention_tensors.items()}
    rows = [[int(v) for v in row] for row in lin]
    node_frac = fm["linear"].frac + fm["att_weight"].frac

    def node(i: int, key: str) -> int:
        return requantize_int(sum(x * a for x, a in zip(rows[i], att[key], strict=True)), node_frac, score)

    def elementwise(i: int, key: str) -> list[int]:
        return [requantize_int(x * a, node_frac, score) for x, a in zip(rows[i], att[key], strict=True)]

    def tanh(codes: list[int]) -> list[int]:
        return [int(v) for v in lookup("tanh", np.array(codes, dtype=np.int64), score.frac, score)]

    def lk(v: int) -> int:
        return int(leaky(np.array([v], dtype=np.int64), ATTENTION_LEAKY_CODE)[0])

    out = []
    for i, j in zip(graph.dst_idx.tolist(), graph.col_idx.tolist(), strict=True):
        if layer.attention == "gat":
            e = lk(node(i, "att_dst") + node(j, "att_src"))
        elif layer.attention == "sym-gat":
            e = lk(node(i, "att_dst") + node(j, "att_src")) + lk(node(j, "att_dst") + node(i, "att_src"))
        elif layer.attention == "cos":
            dot = sum(a * b for a, b in zip(elementwise(i, "att_dst"), elementwise(j, "att_src"), strict=True))
            e = requantize_int(dot, 2 * score.frac, score)
        elif layer.attention == "linear":
            e = tanh([node(j, "att_src")])[0]
        else:  # gene-linear
            t = tanh([a + b for a, b in zip(elementwise(i, "att_dst"), elementwise(j, "att_src"), strict=True)])
            dot = sum(a * g for a, g in zip(t, att["att_gene"], strict=True))
            e = requantize_int(dot, score.frac + fm["att_weight"].frac, score)
        out.append(e)
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("attention", sorted(WIDE_FRACS))
def test_wide_attention_scores_are_exact(attention: str) -> None:
    """Item 9 of issue 32: with 32-bit formats the node scores' dot products (and cos / gene-linear's
    per-edge dot products) exceed int64; the golden model used to wrap them (gat: the first edge's score
    was 134012733 instead of 402448189; every attention of the family failed this test)."""
    layer, graph, lin = _wide_attention_layer(attention, seed=0)
    expected = _reference_scores(layer, graph, lin)
    got = softmax_trace(layer, graph, lin, 0).scores
    assert got.tolist() == expected.tolist()
    assert len(set(expected.tolist())) > 1  # not a constant that any wrong model could hit


def test_old_int64_dot_product_wraps() -> None:
    """The design of the regression test above does leave int64: the int64 dot product differs from the
    exact one (what the golden model computed before the 62-bit rule covered the attention unit)."""
    layer, graph, lin = _wide_attention_layer("gat", seed=0)
    att = layer.attention_tensors["att_dst"][0]
    with np.errstate(over="ignore"):
        wrapped = (lin.astype(np.int64) @ att.astype(np.int64)).tolist()
    exact = [sum(int(x) * int(a) for x, a in zip(row, att, strict=True)) for row in lin]
    assert wrapped != exact


def test_p_agg_beyond_the_output_width_is_clamped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Item 10 of issue 32: ``p_agg`` larger than the layer's output features was accepted silently (the
    generators built idle lanes the estimate counted); it is clamped to the width, with a warning."""
    ir = random_ir(np.random.default_rng(1), hidden=6, num_classes=3)
    hw = HardwareConfig(max_nodes=16, max_edges=64, layers=[LayerHW(2, 2, 6), LayerHW(2, 2, 8)])
    with caplog.at_level(logging.WARNING, logger="hls_templates"):
        assert hw.check(ir) is hw
    assert [lhw.p_agg for lhw in hw.layers] == [6, 3]
    assert [r.getMessage() for r in caplog.records] == [
        "hardware config layers[1].p_agg=8 exceeds the layer's 3 output features; using p_agg=3"
    ]
    assert [layer["p_agg"] for layer in hls_context(ir, hw)["layers"]] == [6, 3]


# ---- item 10: accumulators wider than 64 bits are built (__int128 / ap_int in C++, any width in Verilog) ----

def _all_formats_design(attention: str, aggregation: str, wbits: int, abits: int) -> tuple[ModelIR, HardwareConfig]:
    """Two layers, the first with 4 averaged heads (the widest accumulators), at a 4096-node capacity
    (32-bit formats: narrower layers, so that random_ir's binary points stay within -64..64)."""
    width = 64 if abits <= 16 else 8
    ir = random_ir(np.random.default_rng(0), attention=attention, aggregation=aggregation, heads=4, concat=False,
                   wbits=wbits, abits=abits, in_features=width, hidden=width, num_classes=4)
    return ir, HardwareConfig(max_nodes=4096, max_edges=16384, layers=[LayerHW(4, 4, 4), LayerHW(4, 4, 4)])


@pytest.mark.parametrize("wbits,abits", [(16, 16), (1, 16), (32, 32)])
def test_every_operator_renders_with_wide_formats(wbits: int, abits: int) -> None:
    """Issue 32 item 10: at 16 bits, ``mean`` with coefficients and averaged heads needs 64-87 bits (the
    generator refused them as wider than int64); every operator now renders, up to 32-bit formats."""
    widths = []
    for attention in ATTENTIONS:
        for aggregation in AGGREGATIONS:
            ir, hw = _all_formats_design(attention, aggregation, wbits, abits)
            layers = hls_context(ir, hw)["layers"]
            rtl_context(ir, hw)
            widths.append(max(layer["agg_bits"] for layer in layers))
    assert max(widths) > 64  # the designs the old generator refused are among them


def _wide_design(out: Path, attention: str, aggregation: str) -> tuple[Path, ModelIR, np.ndarray]:
    """A 32-bit design (3 averaged heads) whose accumulators exceed int64 on its random data: the golden
    model computed in int64 gives other outputs."""
    rng = np.random.default_rng(0)
    ir = random_ir(rng, attention=attention, aggregation=aggregation, heads=3, concat=False, abits=32, wbits=32,
                   in_features=5, hidden=4, num_classes=3)
    graph = random_graph(rng, 20)
    x = random_features(rng, ir, graph.num_nodes)
    golden = run_model(ir, graph, x)
    with pytest.MonkeyPatch.context() as mp, np.errstate(over="ignore"):
        mp.setattr(numfmt, "INT64_SAFE_BITS", 1 << 20)  # every accumulator int64: wraps
        assert (run_model(ir, graph, x) != golden).any()
    hw = HardwareConfig(max_nodes=20, max_edges=graph.num_edges, layers=[LayerHW(2, 2, 3), LayerHW(2, 2, 2)])
    return generate_design(ir, graph, x, out, hw), ir, golden


needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")

WIDE_CASES = [("gat", "mean"), ("gcn", "mean"), ("cos", "max"), ("gene-linear", "add"), ("const", "max")]


@needs_gxx
@pytest.mark.parametrize(
    "attention,aggregation",
    [pytest.param(*c, marks=() if c == WIDE_CASES[0] else pytest.mark.slow) for c in WIDE_CASES],
)
def test_wide_accumulators_are_bit_exact_in_csim_and_rtl(tmp_path: Path, attention: str, aggregation: str) -> None:
    """The golden model (Python ints), the C simulation (__int128 accumulators) and the RTL (Verilator)
    agree bit for bit on a design whose accumulators need 67-105 bits."""
    hw_dir, ir, golden = _wide_design(tmp_path / "hw", attention, aggregation)
    widths = [int(w) for w in re.findall(r"lp_acc<(\d+)>", (hw_dir / "hls" / "kernel.cpp").read_text())]
    assert max(widths) > 64  # __int128 in C simulation
    csim = run_csim(hw_dir, opt="-O1")
    assert csim["bit_exact"] and csim["outputs"] == golden.ravel().tolist()
    with tool_env():
        has_verilator = shutil.which("verilator") is not None
    if has_verilator:
        rtl = run_rtl(hw_dir, "verilator")
        assert rtl["bit_exact"] and rtl["mismatches"] == 0


def _ap_types_dir() -> Path | None:
    spec = importlib.util.find_spec("hls4ml")
    path = Path(os.environ.get("LPGNAS_AP_TYPES") or (Path(spec.origin).parent / "templates/vivado/ap_types"
                                                      if spec and spec.origin else ""))
    return path if (path / "ap_int.h").is_file() else None


@needs_gxx
@pytest.mark.slow
@pytest.mark.skipif(_ap_types_dir() is None, reason="no ap_types headers (set LPGNAS_AP_TYPES or install hls4ml)")
def test_wide_accumulators_with_vitis_ap_int_types(tmp_path: Path) -> None:
    """The Vitis path: ``ap_int<W>`` accumulators of W > 64 bits and their re-quantiser."""
    hw_dir, ir, golden = _wide_design(tmp_path / "hw", "gat", "mean")
    csim = run_csim(hw_dir, opt="-O1", ap_types=_ap_types_dir(), build_dir=tmp_path / "ap_build")
    assert csim["bit_exact"] and csim["outputs"] == golden.ravel().tolist()


def test_accumulators_beyond_126_bits_are_refused_early(tmp_path: Path) -> None:
    """A bias far coarser than the accumulator (binary point -64) needs 200+ bits once aligned: refused at
    generate time, naming the layer, the width and the fix, before anything is written."""
    rng = np.random.default_rng(2)
    ir = random_ir(rng, aggregation="mean", abits=32, wbits=32)
    layer = ir.layers[0]
    layer.formats["bias"] = fix(32, -64)
    ir.validate()
    graph = random_graph(rng, 12)
    x = random_features(rng, ir, graph.num_nodes)
    hw = HardwareConfig(max_nodes=12, max_edges=graph.num_edges, layers=[LayerHW(1, 1, 1), LayerHW(1, 1, 1)])
    with pytest.raises(FormatError) as err:
        generate_design(ir, graph, x, tmp_path / "hw", hw)
    message = str(err.value)
    assert f"layer {layer.name!r}" in message and "aggregation accumulator needs" in message
    assert "up to 126 bits" in message and "bias binary point" in message
    assert not (tmp_path / "hw").exists()


def test_rtl_registers_hold_the_golden_bounds():
    """The RTL's accumulator widths (``hw_model.units``: transform ``ACC_W``, aggregation ``V_W``, sized from
    the operands' stored widths and ``max_nodes``) are at least the golden bounds the HLS C++ uses
    (``accumulator_bounds`` with ``max_nodes`` in-edges per node)."""
    from lpgnas.golden import accumulator_bounds
    from lpgnas.hw_model.params import globals_for, spec_from_ir
    from lpgnas.hw_model.units.aggregate import aggregate_params
    from lpgnas.hw_model.units.transform import transform_params

    atts, aggs = list(ATTENTIONS), list(AGGREGATIONS)
    for seed in range(120):
        rng = np.random.default_rng(seed)
        ir = random_ir(rng, attention=atts[seed % len(atts)], aggregation=aggs[seed % len(aggs)], heads=1 + seed % 4,
                       concat=seed % 2 == 0, wbits=[1, 2, 4, 8, 16][seed % 5], abits=[2, 4, 8, 16][seed % 4],
                       bias=seed % 5 != 0)
        max_nodes = int(rng.integers(2, 500))
        g = globals_for(max_nodes, 8 * max_nodes)
        for layer in ir.layers:
            spec = spec_from_ir(layer, LayerHW(min(3, layer.in_features), 2, 2))
            lin, agg = accumulator_bounds(layer, max_nodes)
            assert transform_params(spec, g, max_nodes)["ACC_W"] >= lin, (seed, layer.name)
            assert aggregate_params(spec, g, max_nodes)["V_W"] >= agg, (seed, layer.name)
