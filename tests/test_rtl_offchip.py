"""Accelerators whose buffers live in external memory (``HardwareConfig.offchip``), simulated end to end.

The wrappers of :mod:`sim.rtl` give every AXI4 bundle (``m_axi_<name>_*``) its own memory: the host images at a
base address of their own (:func:`hls_templates.images.axi_words`, the layout contract of docs/rtl.md "Off-chip
buffers"), random bytes everywhere else (a read of memory nobody wrote shows), the outputs read back from memory
after ``ap_done``. Served by the fast model ``sim/models/lpg_axi_mem.v`` or by cocotbext-axi's AxiRam with the
emulated latency of ``sim/cocotb_tests/axi_latency.py``:

* the layout: elements, lanes (dense features with their padding lanes all ones, sparse groups), EB-byte strides,
  DW-bit words, signed read-back, against hand-computed bytes;
* designs of every operator family (gcn mean with averaged heads, binary const, max / tanh, GAT concatenated
  and averaged heads with ternary weights, gene-linear mean, sparse layer 0 + GAT), each with host buffers,
  ``buf_<k>`` and ``<layer>_lin`` off chip in a different combination, in one batched build on the fast model at
  the device memory's latency: bit-exact, no protocol error, at least the on-chip cycles (the cost model's, exact);
  the cycles and the cost model's off-chip estimate are recorded;
* the same with the fast model's backpressure and other latencies (7 / 3): bit-exact;
* AxiRam on three of them: without backpressure exactly the fast model's cycles, with random pauses on all five
  channels bit-exact;
* the read adapters' mutations ``axi_drop_beat``, ``axi_repeat_beat``, ``axi_tile_edge`` are caught, and so is a
  host image placed one word off its base (the harness itself can fail).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lpgnas.buffers import OUTPUTS, host_buffers, internal_buffers
from lpgnas.devices import load_device
from lpgnas.hls_templates.images import (
    MemoryImage,
    axi_codes,
    axi_elements,
    axi_words,
    bytes_to_words,
    elements_to_bytes,
)
from lpgnas.hls_templates.rtl_writer import write_rtl
from lpgnas.hwconfig import HardwareConfig
from lpgnas.ir import ModelIR, load_ir
from lpgnas.sim import rtl as sim_rtl
from lpgnas.sim.rtl import run_rtl_batch
from lpgnas.sparse import nonzero_histogram
from tests.test_rtl_attention import make_attention_design
from tests.test_rtl_sim import design_cycles, needs_verilator
from tests.test_rtl_stall import DESIGNS as STALL_DESIGNS

#: Verilator's random initial state, as in tests/test_rtl_stall.py
INIT_SEED = 3
#: a generous bound on a run (the designs take a few thousand cycles; a mutant may hang)
MAX_CYCLES = 100_000


def _all(ir: ModelIR, sparse: bool) -> list[str]:
    return host_buffers(ir, sparse) + internal_buffers(ir)


def _all_but_feat_ptr(ir: ModelIR, sparse: bool) -> list[str]:
    return [n for n in _all(ir, sparse) if n != "feat_ptr"]


def _feat_ptr(ir: ModelIR, sparse: bool) -> list[str]:
    return ["feat_ptr"]


def _host(ir: ModelIR, sparse: bool) -> list[str]:
    return host_buffers(ir, sparse)


def _scratch(ir: ModelIR, sparse: bool) -> list[str]:
    return internal_buffers(ir)


def _mixed(ir: ModelIR, sparse: bool) -> list[str]:
    """Layer 0's input and linear buffer, the column indices, the last layer's rows and the outputs."""
    first = ["feat_col", "feat_val"] if sparse else ["features"]
    return [*first, "col_idx", internal_buffers(ir)[0], f"buf_{len(ir.layers)}", OUTPUTS]


#: base design -> its builder; with tests/test_rtl_stall.py's six, GAT with averaged heads and ternary weights
BASES: dict[str, Callable[[Path], Path]] = {
    **STALL_DESIGNS,
    "gat-add-2avg-ternary": lambda out: make_attention_design(out, "gat", "add", 2, 8, 32, heads=2, concat=False),
}
#: off-chip variant -> (base design, which buffers go off chip)
VARIANTS: dict[str, tuple[str, Callable[[ModelIR, bool], list[str]]]] = {
    "gcn-mean-2avg/all": ("gcn-mean-2avg", _all),
    "const-add-binary/host": ("const-add-binary", _host),
    "gcn-max-tanh-3avg/scratch": ("gcn-max-tanh-3avg", _scratch),
    "gat-add-2cat/all": ("gat-add-2cat", _all),
    "gene-linear-mean/mixed": ("gene-linear-mean", _mixed),
    "sparse-gat/all-but-feat_ptr": ("sparse-gat", _all_but_feat_ptr),
    "gat-add-2avg-ternary/mixed": ("gat-add-2avg-ternary", _mixed),
}
#: known RTL bug (open): lpg_sparse_transform reads feat_ptr[0] in its start cycle, which is the off-chip adapters'
#: restart cycle, where lpg_axi_rd takes no read; the walker starts from whatever the adapter's q held (0 after a
#: zero-initialised start, so only a random initial state shows it)
FEAT_PTR = "sparse-gat/feat_ptr"
#: the writer's test mutations of the read adapters (MUT 1 / 2 / 3), on this variant
MUTATIONS = ("axi_drop_beat", "axi_repeat_beat", "axi_tile_edge")
MUTATED = "gcn-mean-2avg/all"
#: variants simulated under AxiRam (Python every cycle: the small ones)
AXIRAM = ("const-add-binary/host", "gene-linear-mean/mixed", "gat-add-2cat/all")


def offchip_variant(src: Path, out: Path, offchip: Callable[[ModelIR, bool], list[str]],
                    mutation: str | None = None) -> Path:
    """A copy of the design ``src`` with the buffers ``offchip(ir, sparse)`` in external memory (its RTL rewritten;
    the data images are the same)."""
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("sim_build", "rtl_sim_*", "hls"))
    ir = load_ir(out / "model.ir.json")
    hw = HardwareConfig.load(out / "hw_config.json")
    hw = dataclasses.replace(hw, offchip=offchip(ir, hw.layers[0].input == "sparse"))
    hw.save(out / "hw_config.json")
    shutil.rmtree(out / "rtl")
    write_rtl(ir, hw, out / "rtl", mutation=mutation)
    return out


def model_cycles(hw_dir: Path) -> float:
    """The cost model's cycles of a design folder on its graph (and codes, for a sparse layer 0)."""
    x = hw_dir / "x_codes.npy"
    return design_cycles(hw_dir, nonzero_histogram(np.load(x)) if x.exists() else None)


# ---- the layout --------------------------------------------------------------------------------------------------


def test_axi_layout_of_elements_lanes_and_words():
    # word buffer: 5-bit signed codes in 1-byte elements on a 32-bit bus, two's complement masked to EW
    coef = MemoryImage("layer0_coef", np.array([1, -1, 7, -8, 3]), 5, True)
    entry = {"DW": 32, "EB": 1, "EW": 5, "depth": 8, "lanes": 1, "lane_bits": 5}
    assert axi_elements(coef, entry) == [1, 31, 7, 24, 3]
    assert axi_words(coef, entry) == [0x18071F01, 0x03]
    assert axi_codes(axi_words(coef, entry), entry, 5, True) == [1, -1, 7, -8, 3]
    assert axi_codes(axi_words(coef, entry), entry, 5, False) == [1, 31, 7, 24, 3]
    # dense features: 2 nodes x 3 features, P_in = 2 lanes of 4 bits: IG = 2 groups per node, lane 1 of group 1 is
    # padding (all ones); 1-byte elements
    feats = MemoryImage("features", np.array([1, 2, 3, 4, 5, 6]), 4, False)
    fe = {"DW": 64, "EB": 1, "EW": 8, "depth": 4, "lanes": 2, "lane_bits": 4}
    assert axi_elements(feats, fe, row=3) == [0x21, 0xF3, 0x54, 0xF6]
    assert axi_words(feats, fe, row=3) == [0xF654F321]
    # sparse groups: the flat image g * P_in + k, 3 lanes of 3 bits in a 2-byte element
    col = MemoryImage("feat_col", np.array([0, 5, 7, 2, 0, 0]), 3, False)
    ce = {"DW": 32, "EB": 2, "EW": 9, "depth": 2, "lanes": 3, "lane_bits": 3}
    assert axi_elements(col, ce) == [0 | 5 << 3 | 7 << 6, 2]
    assert elements_to_bytes(axi_elements(col, ce), ce) == bytes([0xE8, 0x01, 0x02, 0x00])
    # wide elements: 2 words of a 32-bit bus per element
    wide = {"DW": 32, "EB": 8, "EW": 40, "depth": 2, "lanes": 1, "lane_bits": 40}
    img = MemoryImage("x", np.array([-2, 1 << 35]), 40, True)
    assert axi_words(img, wide) == [0xFFFFFFFE, 0xFF, 0, 0x8]
    assert axi_codes(bytes_to_words(elements_to_bytes(axi_elements(img, wide), wide), 32), wide, 2, True) == [
        -2, 1 << 35]
    with pytest.raises(ValueError):  # a read-back of more elements than the words hold
        axi_codes([0], entry, 5, True)


# ---- the designs -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def designs(tmp_path_factory) -> dict[str, Path]:
    """The base designs (on chip), their off-chip variants and the mutants."""
    root = tmp_path_factory.mktemp("offchip")
    bases = {name: build(root / "base" / name) for name, build in BASES.items()}
    out = {f"{name}/onchip": path for name, path in bases.items()}
    for name, (base, pick) in VARIANTS.items():
        out[name] = offchip_variant(bases[base], root / name.replace("/", "-"), pick)
    for m in MUTATIONS:
        out[m] = offchip_variant(bases[VARIANTS[MUTATED][0]], root / m, VARIANTS[MUTATED][1], mutation=m)
    out[FEAT_PTR] = offchip_variant(bases["sparse-gat"], root / "sparse-gat-feat_ptr", _feat_ptr)
    return out


#: the fast batch: every variant, mutant and the known bug
FAST = (*VARIANTS, *MUTATIONS, FEAT_PTR)


@pytest.fixture(scope="module")
def fast_build(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fast")


@pytest.fixture(scope="module")
def fast_runs(designs, fast_build) -> dict[str, dict[str, Any]]:
    """Every variant and mutant in one build on the fast model at the device memory's latencies."""
    reports = run_rtl_batch([designs[n] for n in FAST], fast_build, "verilator", quick_build=True, seed=INIT_SEED,
                            max_cycles=MAX_CYCLES)
    return dict(zip(FAST, reports, strict=True))


def _failures(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {n: (r["mismatches"], r["timed_out"], r["first_mismatches"][:3], r.get("axi_errors"))
            for n, r in runs.items() if not r["bit_exact"] or r.get("axi_errors")}


@needs_verilator
def test_offchip_designs_are_bit_exact_on_the_fast_model(designs, fast_runs):
    clean = {n: fast_runs[n] for n in VARIANTS}
    assert not _failures(clean), _failures(clean)
    summary = {}
    for name, r in clean.items():
        base = VARIANTS[name][0]
        onchip = model_cycles(designs[f"{base}/onchip"])   # = the on-chip RTL's cycles (tests/test_rtl_stall.py)
        hw = HardwareConfig.load(designs[name] / "hw_config.json")
        memory = load_device(hw.device).memory
        assert r["offchip"] and set(r["offchip"]) == set(hw.offchip), (name, r["offchip"])
        assert r["axi_model"] == "fast" and r["axi_latency"] == [memory.read_latency, memory.write_latency], (
            name, r["axi_latency"])
        assert len(set(r["axi_bases"].values())) == len(r["axi_bases"]) and all(
            b > 0 and b % 4096 == 0 for b in r["axi_bases"].values()), r["axi_bases"]
        assert r["cycles"] > onchip, (name, r["cycles"], onchip)   # every run starts with a restart: stalls
        summary[name] = {"rtl": r["cycles"], "model": round(model_cycles(designs[name]), 1), "onchip": onchip,
                         "offchip": r["offchip"]}
    print(json.dumps(summary, indent=1))


@needs_verilator
def test_axi_mutations_are_caught(fast_runs):
    assert fast_runs[MUTATED]["bit_exact"], fast_runs[MUTATED]["first_mismatches"][:3]
    for m in MUTATIONS:
        assert not fast_runs[m]["bit_exact"], (m, fast_runs[m]["cycles"])


@needs_verilator
def test_sparse_feat_ptr_offchip_under_a_random_initial_state(fast_runs):
    r = fast_runs[FEAT_PTR]
    assert r["bit_exact"], (r["mismatches"], r["timed_out"], r["first_mismatches"][:3])


@needs_verilator
def test_fast_model_backpressure_and_other_latencies(designs, fast_runs, tmp_path):
    names = list(VARIANTS)
    reports = run_rtl_batch([designs[n] for n in names], tmp_path / "bp", "verilator", quick_build=True,
                            seed=INIT_SEED, max_cycles=MAX_CYCLES, axi_backpressure=True, axi_latency=(7, 3))
    runs = dict(zip(names, reports, strict=True))
    assert not _failures(runs), _failures(runs)
    for n, r in runs.items():
        assert r["axi_latency"] == [7, 3] and r["axi_backpressure"], n
        assert r["cycles"] != fast_runs[n]["cycles"], n   # other timing, same outputs


@needs_verilator
def test_axiram_matches_the_fast_model_and_survives_backpressure(designs, fast_runs, tmp_path):
    pytest.importorskip("cocotbext.axi")
    dirs = [designs[n] for n in AXIRAM]
    plain = run_rtl_batch(dirs, tmp_path / "axiram", "verilator", quick_build=True, max_cycles=MAX_CYCLES,
                          axi_model="axiram")
    paused = run_rtl_batch(dirs, tmp_path / "axiram", "verilator", quick_build=True, max_cycles=MAX_CYCLES,
                           axi_model="axiram", axi_backpressure=True, axi_seed=5)
    assert not any(r["rebuilt"] for r in paused)   # pauses and latencies are run-time settings of AxiRam
    runs = {**{f"{n}/plain": r for n, r in zip(AXIRAM, plain, strict=True)},
            **{f"{n}/paused": r for n, r in zip(AXIRAM, paused, strict=True)}}
    assert not _failures(runs), _failures(runs)
    for n, r, p in zip(AXIRAM, plain, paused, strict=True):
        assert r["cycles"] == fast_runs[n]["cycles"], (n, r["cycles"], fast_runs[n]["cycles"])
        assert p["cycles"] > r["cycles"], (n, p["cycles"], r["cycles"])


@needs_verilator
def test_a_host_image_off_its_base_is_caught(designs, fast_runs, fast_build, monkeypatch):
    """The harness can fail: the features placed one bus word above their base (the designs read garbage there);
    the fast batch again, same build."""
    original = sim_rtl.write_axi_images

    def shifted(hw, bundles, bdir, prefix, seed):
        moved = [{**b, "base": b["base"] + b["DW"] // 8} if b["name"] == "features" else b for b in bundles]
        return original(hw, moved, bdir, prefix, seed)

    monkeypatch.setattr(sim_rtl, "write_axi_images", shifted)
    reports = run_rtl_batch([designs[n] for n in FAST], fast_build, "verilator", quick_build=True, seed=INIT_SEED,
                            max_cycles=MAX_CYCLES)
    runs = dict(zip(FAST, reports, strict=True))
    assert not any(r["rebuilt"] for r in reports)
    with_features = [n for n in VARIANTS if "features" in fast_runs[n]["offchip"]]
    assert with_features and all(fast_runs[n]["bit_exact"] for n in with_features)
    for n in VARIANTS:
        assert runs[n]["bit_exact"] == (n not in with_features), (n, runs[n]["mismatches"])
