"""The global clock enable (``ap_ce``, ``ce`` through every unit, RAM, ROM and the sequencer) under injected stalls.

The wrappers drive ``ap_ce`` from an LFSR (``+stall_seed``, low on about 1/4 of the cycles, in runs of one or more
cycles) and count the stall cycles between ``ap_start`` and ``ap_done``. A design that honours ``ce`` computes in
ce-cycles exactly what it computes unstalled, so:

* random small designs of every operator family (dense gcn / const, add / mean / max with averaged heads, a table
  activation, binary weights, GAT and gene-linear attention, a sparse layer 0 with attention) in one batched
  Verilator build (random initial state): bit-exact with the golden model stalled and unstalled, and
  ``cycles - stall_cycles`` equals the unstalled cycles, which equal the cost model's;
* the single-design wrapper (``run_rtl``) under Icarus (x propagates) likewise;
* the ``stall_leak`` mutant (the aggregation units' accumulator rings ignore ``ce``) passes unstalled and is caught
  stalled: it is the stall that exposes it;
* ``ap_ce`` is an input of the top and of its manifest (``rtl.json``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lpgnas.errors import LpgnasError
from lpgnas.hls_templates.rtl_writer import write_rtl
from lpgnas.hwconfig import HardwareConfig
from lpgnas.ir import load_ir
from lpgnas.sim.rtl import run_rtl, run_rtl_batch
from tests import test_rtl_attention, test_rtl_sparse
from tests.test_rtl_attention import make_attention_design
from tests.test_rtl_sim import make_design, needs_icarus, needs_verilator
from tests.test_rtl_sparse import SPARSE_CASES, make_sparse_design

#: stall seeds of the batched runs (the LFSR's; any value in 1 .. 2**32 - 1)
STALL_SEEDS = (1, 0x5EED_CAFE)
#: Verilator's random initial state (``run_rtl_batch(..., seed=)``), as in tests/test_rtl_xprop.py
INIT_SEED = 3


def _dense(case: tuple, seed: int, **kw):
    return lambda out: make_design(out, case, seed, nodes=(12, 30), widths=(3, 9), **kw)


#: name -> builder of one design folder; together they cover the operator families
DESIGNS = {
    "gcn-mean-2avg": _dense(("gcn", "mean", "relu", 8, 8), 21, heads=2, concat=False),
    "const-add-binary": _dense(("const", "add", "identity", 1, 4), 22),
    "gcn-max-tanh-3avg": _dense(("gcn", "max", "tanh", 4, 8), 23, heads=3, concat=False),
    "gat-add-2cat": lambda out: make_attention_design(out, "gat", "add", 8, 8, 24, heads=2),
    "gene-linear-mean": lambda out: make_attention_design(out, "gene-linear", "mean", 2, 16, 25),
    "sparse-gat": lambda out: make_sparse_design(out, SPARSE_CASES[5], 26),
}
#: the design the stall_leak mutant is made of
LEAK_BASE = "gcn-mean-2avg"


def expected_cycles(hw_dir: Path) -> float:
    """The cost model's cycles of the design (checked against the RTL formulas by the family's own helper)."""
    if (hw_dir / "x_codes.npy").exists():  # a sparse layer 0
        return test_rtl_sparse.expected_cycles(hw_dir)
    return test_rtl_attention.expected_cycles(hw_dir)


@pytest.fixture(scope="module")
def stall_designs(tmp_path_factory) -> dict[str, Path]:
    """The designs of :data:`DESIGNS` and the ``stall_leak`` mutant of :data:`LEAK_BASE`."""
    root = tmp_path_factory.mktemp("stall")
    dirs = {name: build(root / name) for name, build in DESIGNS.items()}
    mutant = root / "stall_leak"
    shutil.copytree(dirs[LEAK_BASE], mutant)
    write_rtl(load_ir(mutant / "model.ir.json"), HardwareConfig.load(mutant / "hw_config.json"), mutant / "rtl",
              mutation="stall_leak")
    return {**dirs, "stall_leak": mutant}


def test_ap_ce_is_a_port_of_the_top_and_the_manifest(stall_designs):
    for name, d in stall_designs.items():
        ports = {p["name"]: p for p in json.loads((d / "rtl" / "rtl.json").read_text())["ports"]}
        assert ports["ap_ce"] == {"name": "ap_ce", "dir": "input", "width": 1}, name
        top = (d / "rtl" / "lpgnas_top.v").read_text()
        assert "input  wire                 ap_ce," in top and "wire             ce = ap_ce & ~stall_any;" in top
    assert "STALL_MUT(1)" in (stall_designs["stall_leak"] / "rtl" / "lpgnas_top.v").read_text()
    assert "STALL_MUT(0)" in (stall_designs[LEAK_BASE] / "rtl" / "lpgnas_top.v").read_text()


@needs_verilator
def test_stalled_runs_are_bit_exact_in_the_same_ce_cycles_and_stall_leak_is_caught(stall_designs, tmp_path):
    """One build, three runs (unstalled, two stall seeds): every clean design bit-exact with the cost model's
    cycles unstalled, and stalled in ``cycles - stall_cycles`` equal to them; the mutant passes unstalled and
    fails stalled."""
    names = list(stall_designs)
    dirs = [stall_designs[n] for n in names]
    build = tmp_path / "build"
    plain = run_rtl_batch(dirs, build, "verilator", quick_build=True, seed=INIT_SEED)
    stalled = [run_rtl_batch(dirs, build, "verilator", quick_build=True, seed=INIT_SEED, stall_seed=s)
               for s in STALL_SEEDS]
    assert not any(r["rebuilt"] for runs in stalled for r in runs)  # stalls are plusargs: the same build
    expected = {n: expected_cycles(stall_designs[n]) for n in DESIGNS}
    expected["stall_leak"] = expected[LEAK_BASE]
    for n, r in zip(names, plain, strict=True):  # the mutant too: without stalls it cannot differ
        assert r["bit_exact"], (n, r["mismatches"], r["first_mismatches"][:3])
        assert r["stall_cycles"] == 0 and r["cycles"] == expected[n], (n, r["cycles"], expected[n])
    for seed, runs in zip(STALL_SEEDS, stalled, strict=True):
        for n, r in zip(names, runs, strict=True):
            ce_cycles = r["cycles"] - r["stall_cycles"]
            assert 0.15 < r["stall_cycles"] / r["cycles"] < 0.35, (seed, n, r["stall_cycles"], r["cycles"])
            if n == "stall_leak":
                assert not r["bit_exact"] and r["mismatches"] > 0, (seed, r)
            else:
                assert r["bit_exact"], (seed, n, r["mismatches"], r["first_mismatches"][:3])
                assert ce_cycles == expected[n], (seed, n, r["cycles"], r["stall_cycles"], expected[n])
    # deterministic per seed, different between seeds
    assert [r["stall_cycles"] for r in stalled[0]] != [r["stall_cycles"] for r in stalled[1]]


@needs_icarus
def test_single_wrapper_stalls_under_icarus(stall_designs, tmp_path):
    """run_rtl's wrapper (not the batch one) under Icarus, where x propagates: the same ce-cycles stalled."""
    d = stall_designs["const-add-binary"]
    r = run_rtl(d, "icarus", build_dir=tmp_path / "icarus", stall_seed=STALL_SEEDS[1])
    assert r["bit_exact"], (r["mismatches"], r["first_mismatches"][:3])
    assert r["stall_cycles"] > 0 and r["cycles"] - r["stall_cycles"] == expected_cycles(d)
    assert json.loads((d / "rtl_sim_icarus.json").read_text())["stall_cycles"] == r["stall_cycles"]


@needs_icarus
@pytest.mark.parametrize("bad", [-1, 1 << 32])
def test_stall_seed_out_of_range_is_refused(stall_designs, tmp_path, bad):
    with pytest.raises(LpgnasError, match="stall_seed"):
        run_rtl(stall_designs["const-add-binary"], "icarus", build_dir=tmp_path / "b", stall_seed=bad)
