"""Layer 0 reading sparse input features (``LayerHW.input = "sparse"``, lpg_sparse_transform) in RTL simulation.

* Random designs with layer 0 sparse (most codes zero, an empty row, a row of several groups), every weight kind
  (binary, ternary, 4/8/16-bit fix), P_in 1..4, P_out not dividing F_out, several heads (GAT with 2 heads,
  averaged heads), fix products on auto / LUT / DSP: bit-exact against ``data/expected.mem`` under Verilator
  (one batched build with the mutants), taking exactly the cost model's cycles (``ideal + 18 L + 7`` plus the
  sparse read's two: its ``feat_ptr[0]`` cycle and its column -> weight-ROM stage), lint-clean.
* Mutations: the walker skipping each row's last group and columns reading the next weight row are reported as
  not bit-exact (the same build).
* Icarus agrees (outputs and cycles) on one design.
* Yosys: the sparse transform unit maps each weight-ROM copy to one block RAM (slow: the whole design synthesises).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lpgnas.errors import LpgnasError
from lpgnas.golden import run_model, trace_model
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hls_templates.rtl_attention import attention_cycles, has_attention_unit
from lpgnas.hls_templates.rtl_writer import ideal_cycles, write_rtl
from lpgnas.hw_model.units.transform import PIPELINE_DEPTH, SPARSE_PIPELINE_DEPTH
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import load_ir
from lpgnas.names import identifier
from lpgnas.sim.rtl import run_rtl, run_rtl_batch, tool_env
from lpgnas.sparse import group_count, nonzero_histogram, row_groups
from lpgnas.testing import random_features, random_graph, random_ir
from tests.test_rtl_sim import (
    FILL,
    FILL_PER_LAYER,
    design_cycles,
    design_graph,
    needs_icarus,
    needs_verilator,
    needs_yosys,
)

#: (attention, aggregation, weight bits (1 binary, 2 ternary), activation bits, P_in, heads, concat, mult)
SPARSE_CASES = [
    ("gcn", "add", 1, 8, 1, 1, True, "auto"),
    ("const", "mean", 2, 8, 2, 1, True, "auto"),
    ("gcn", "mean", 4, 4, 3, 1, True, "auto"),
    ("gcn", "add", 8, 8, 4, 1, True, "auto"),
    ("const", "add", 16, 16, 3, 1, True, "auto"),
    ("gat", "add", 8, 8, 2, 2, True, "auto"),
    ("gcn", "mean", 8, 8, 3, 3, False, "lut"),
    ("gcn", "add", 8, 8, 4, 1, True, "dsp"),
    ("const", "add", 1, 4, 4, 2, False, "auto"),
]
SPARSE_MUTATIONS = ("sparse_group_skip", "sparse_col_off_by_one")
#: cycles the sparse read adds to the dense pipeline (lpg_sparse_transform.v)
SPARSE_EXTRA = SPARSE_PIPELINE_DEPTH - PIPELINE_DEPTH


def _case_id(case: tuple) -> str:
    att, agg, wb, ab, p_in, heads, concat, mult = case
    return f"{att}-{agg}-w{wb}-a{ab}-p{p_in}-h{heads}{'c' if concat else 'm'}-{mult}"


def sparse_codes(rng: np.random.Generator, ir, n: int, p_in: int, density: float = 0.15) -> np.ndarray:
    """Random input codes with about ``density`` of them non-zero, one row without any and one row of
    ``3 * p_in + 1`` (or all ``F_in``) non-zeros: several groups, the last one partly padding."""
    codes = random_features(rng, ir, n)
    keep = rng.random(codes.shape) < density
    empty, long = rng.choice(n, size=2, replace=False)
    keep[empty] = False
    keep[long, rng.choice(ir.in_features, size=min(ir.in_features, 3 * p_in + 1), replace=False)] = True
    return np.where(codes == 0, 1, codes) * keep


def make_sparse_design(
    out: Path, case: tuple, seed: int, nodes: tuple[int, int] = (15, 30), accept=None
) -> Path:
    """A design whose layer 0 reads sparse features, redrawn until the golden outputs and layer 0's linear
    codes are not (nearly) constant and ``accept(ir, graph, x)``, if given, holds; F_out % P_out != 0 in
    layer 0."""
    att, agg, wb, ab, p_in, heads, concat, mult = case
    for attempt in range(30):
        rng = np.random.default_rng(seed * 1000 + attempt)
        n = int(rng.integers(*nodes))
        p_out = int(rng.integers(2, 5))
        hidden = int(rng.choice([h for h in range(5, 12) if h % p_out]))
        ir = random_ir(rng, attention=att, aggregation=agg, activation="relu", wbits=wb, abits=ab, heads=heads,
                       concat=concat, in_features=int(rng.integers(16, 33)), hidden=hidden,
                       num_classes=int(rng.integers(2, 6)))
        graph = random_graph(rng, n)
        x = sparse_codes(rng, ir, n, p_in)
        lin = trace_model(ir, graph, x)[0].linear
        if (np.unique(run_model(ir, graph, x)).size > 2 and np.unique(lin).size > 5
                and (accept is None or accept(ir, graph, x))):
            break
    else:
        raise AssertionError(f"{_case_id(case)}: no draw with varied outputs")
    layers = [LayerHW(p_in=p_in, p_out=p_out, p_agg=int(rng.integers(1, 5)), mult=mult, input="sparse"),
              LayerHW(p_in=int(rng.integers(1, 5)), p_out=int(rng.integers(1, ir.num_classes + 1)),
                      p_agg=int(rng.integers(1, 5)), mult=mult)]
    extra = int(rng.integers(0, 4))
    hw = HardwareConfig(max_nodes=n + extra, max_edges=graph.num_edges + 2 * extra,
                        max_nonzeros=int(np.count_nonzero(x)) + extra, layers=layers)
    hw_dir = generate_design(ir, graph, x, out, hw)
    np.save(hw_dir / "x_codes.npy", x)
    return hw_dir


def without_last_groups(x: np.ndarray, p_in: int) -> np.ndarray:
    """``x`` with the entries of each row's last group zeroed in rows of two or more groups (what the
    ``sparse_group_skip`` mutant reads)."""
    y = x.copy()
    for n in range(x.shape[0]):
        cols = np.flatnonzero(x[n])
        if cols.size > p_in:
            y[n, cols[(cols.size - 1) // p_in * p_in:]] = 0
    return y


def group_skip_observable(p_in: int):
    """By the golden model, skipping each row's last group changes the outputs on this data."""
    def accept(ir, graph, x) -> bool:
        return not np.array_equal(run_model(ir, graph, x), run_model(ir, graph, without_last_groups(x, p_in)))
    return accept


def design_groups(hw_dir: Path) -> int:
    """The input features' groups at layer 0's P_in (from the codes the design was generated with)."""
    hw = HardwareConfig.load(hw_dir / "hw_config.json")
    return group_count(nonzero_histogram(np.load(hw_dir / "x_codes.npy")), hw.layers[0].p_in)


def expected_cycles(hw_dir: Path) -> float:
    """The cost model's cycles on the design's graph and codes, checked against ideal_cycles: attention units
    exactly attention_cycles, the rest their overlapped ideal + 18 L + 7 + the sparse read's extra depth."""
    ir, hwc = load_ir(hw_dir / "model.ir.json"), HardwareConfig.load(hw_dir / "hw_config.json")
    graph = design_graph(hw_dir)
    n, e = graph.num_nodes, graph.num_edges
    ideal = ideal_cycles(ir, hwc, graph, groups=design_groups(hw_dir))
    att = sum(attention_cycles(la, n, e) - ideal[f"{identifier(la.name)}_attention"]
              for la in ir.layers if has_attention_unit(la))
    model = design_cycles(hw_dir, nonzero_histogram(np.load(hw_dir / "x_codes.npy")))
    assert ideal["total"] + att + FILL_PER_LAYER * len(ir.layers) + FILL + SPARSE_EXTRA == model
    return model


def lint(rtl: Path) -> None:
    """``verilator --lint-only -Wall`` on a generated design: no output at all."""
    sources = [str(rtl / n) for n in json.loads((rtl / "rtl.json").read_text())["sources"]]
    with tool_env():
        proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "lpgnas_top", *sources],
                              capture_output=True, text=True, cwd=rtl)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr[-3000:]


def test_sparse_designs_have_the_csr_ports_and_images(tmp_path):
    hw_dir = make_sparse_design(tmp_path / "hw", SPARSE_CASES[2], seed=1)
    rtl = json.loads((hw_dir / "rtl" / "rtl.json").read_text())
    ports = {p["name"] for p in rtl["ports"]}
    p_in = HardwareConfig.load(hw_dir / "hw_config.json").layers[0].p_in
    assert {"feat_ptr_address0", "feat_ptr_ce0", "feat_ptr_q0"} <= ports
    assert {f"feat_{a}_{k}_q0" for a in ("col", "val") for k in range(p_in)} <= ports
    assert not any(p.startswith("features_") for p in ports)
    assert set(rtl["banked"]) == {"feat_col", "feat_val"}
    assert rtl["banked"]["feat_col"]["groups"] == 1 and rtl["banked"]["feat_col"]["row"] == p_in
    assert "lpg_sparse_transform #(" in (hw_dir / "rtl" / "lpgnas_top.v").read_text()
    design = json.loads((hw_dir / "design.json").read_text())
    assert {"feat_ptr", "feat_col", "feat_val"} <= {img["name"] for img in design["images"]}


def test_ideal_cycles_count_the_groups(tmp_path):
    hw_dir = make_sparse_design(tmp_path / "hw", SPARSE_CASES[5], seed=2)
    ir, hwc = load_ir(hw_dir / "model.ir.json"), HardwareConfig.load(hw_dir / "hw_config.json")
    design = json.loads((hw_dir / "design.json").read_text())
    n, e = design["num_nodes"], design["num_edges"]
    with pytest.raises(LpgnasError, match="groups"):
        ideal_cycles(ir, hwc, (n, e))
    x = np.load(hw_dir / "x_codes.npy")
    groups = int(row_groups(np.count_nonzero(x, axis=1), hwc.layers[0].p_in).sum())
    layer0 = ir.layers[0]
    og = -(-layer0.out_features // hwc.layers[0].p_out)
    assert ideal_cycles(ir, hwc, (n, e), groups=groups)["layer0_transform"] == groups * layer0.heads * og
    dense = HardwareConfig.load(hw_dir / "hw_config.json")
    dense.layers[0].input = "dense"
    ig = -(-layer0.in_features // hwc.layers[0].p_in)
    assert ideal_cycles(ir, dense, (n, e))["layer0_transform"] == n * ig * layer0.heads * og


@needs_verilator
def test_sparse_rtl_matches_golden_with_exact_cycles(tmp_path):
    """Every case of SPARSE_CASES and the two mutants in one Verilator build: the cases bit-exact, lint-clean,
    in exactly expected_cycles; the mutants not bit-exact."""
    dirs = [make_sparse_design(tmp_path / f"{k}-{_case_id(c)}", c, seed=100 + k) for k, c in enumerate(SPARSE_CASES)]
    case = ("gcn", "add", 8, 8, 2, 1, True, "auto")
    base = make_sparse_design(tmp_path / "mutation-base", case, seed=300, accept=group_skip_observable(2))
    mutants = []
    for mutation in SPARSE_MUTATIONS:
        mutant = tmp_path / mutation
        shutil.copytree(base, mutant)
        write_rtl(load_ir(mutant / "model.ir.json"), HardwareConfig.load(mutant / "hw_config.json"),
                  mutant / "rtl", mutation=mutation)
        mutants.append(mutant)
    # seed: registers without a reset value (the walker's pointers, the pipeline) start random
    reports = run_rtl_batch([*dirs, base, *mutants], tmp_path / "build", "verilator", quick_build=True, seed=1)
    reports, mutant_reports = reports[: len(dirs) + 1], reports[len(dirs) + 1:]
    dirs.append(base)
    failed = {d.name: (r["mismatches"], r["first_mismatches"][:3]) for d, r in zip(dirs, reports, strict=True)
              if not r["bit_exact"]}
    assert not failed, failed
    cycles = {d.name: (r["cycles"], expected_cycles(d)) for d, r in zip(dirs, reports, strict=True)}
    assert all(got == want for got, want in cycles.values()), cycles
    for mutation, r in zip(SPARSE_MUTATIONS, mutant_reports, strict=True):
        assert not r["bit_exact"] and r["mismatches"] > 0, mutation
    for d in dirs:
        lint(d / "rtl")


@needs_icarus
def test_sparse_rtl_icarus_agrees(tmp_path):
    hw_dir = make_sparse_design(tmp_path / "hw", SPARSE_CASES[6], seed=7, nodes=(10, 14))
    report = run_rtl(hw_dir, "icarus")
    assert report["bit_exact"] and report["mismatches"] == 0
    assert report["cycles"] == expected_cycles(hw_dir)


@needs_yosys
def test_sparse_weight_rom_copies_map_to_block_ram(tmp_path):
    """Yosys (xc7) on a small sparse design (256 input features, P_in 4, 16 outputs in 4 groups): each of the
    ROM_COPIES = 2 weight-ROM copies (1024 words of 4 x 8 bits, two read ports) is one RAMB36; nothing else
    takes a block RAM."""
    from lpgnas.sim.synth import run_synth

    rng = np.random.default_rng(5)
    ir = random_ir(rng, attention="gcn", aggregation="add", wbits=8, abits=8, in_features=256, hidden=16,
                   num_classes=4)
    graph = random_graph(rng, 20)
    x = sparse_codes(rng, ir, 20, 4, density=0.05)
    hw = HardwareConfig(max_nodes=32, max_edges=128, max_nonzeros=400,
                        layers=[LayerHW(4, 4, 4, input="sparse"), LayerHW(4, 4, 4)])
    hw_dir = generate_design(ir, graph, x, tmp_path / "hw", hw)
    params = _transform_params(hw_dir)
    assert params["ROM_COPIES"] == 2 and params["WAW"] == 10
    res = run_synth(hw_dir, "xc7")["resources"]
    assert res["BRAM36"] == params["ROM_COPIES"] and res["BRAM18"] == 0
    assert res["LUT"] > 0 and res["FF"] > 0 and res["DSP"] > 0


def _transform_params(hw_dir: Path) -> dict[str, int]:
    """Layer 0's lpg_sparse_transform parameters as the generated top sets them."""
    from lpgnas.hls_templates.rtl_writer import rtl_context

    ir, hw = load_ir(hw_dir / "model.ir.json"), HardwareConfig.load(hw_dir / "hw_config.json")
    return dict(rtl_context(ir, hw)["layers"][0]["t_params"])
