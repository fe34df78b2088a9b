"""The cost model of a sparse layer 0 (#36): cycles from the features' groups, the weight ROM's two-port
copies, the missing-histogram error, the expected cost at one-hot against estimate()."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lpgnas.datasets import graph_stats
from lpgnas.errors import LpgnasError
from lpgnas.hw_model.expected import ExpectedHardwareCost
from lpgnas.hw_model.memory import bram_choice, rom_copies_cost, rom_cost
from lpgnas.hw_model.model import estimate
from lpgnas.hw_model.units.io import STEP_OVERHEAD
from lpgnas.hw_model.units.transform import SPARSE_PIPELINE_DEPTH
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.sparse import group_count, nonzero_histogram
from lpgnas.testing import random_ir

N, E = 40, 200


def _features(rng, n=N, f=30, density=0.15):
    return (rng.random((n, f)) < density) * rng.integers(1, 5, (n, f))


def _config(ir, p_in=3, p_out=4, input="sparse", max_nonzeros=N * 30):
    layers = [LayerHW(p_in, p_out, 4, input=input)] + [LayerHW(2, 2, 2) for _ in ir.layers[1:]]
    return HardwareConfig(max_nodes=64, max_edges=400, max_nonzeros=max_nonzeros, layers=layers)


def _by_name(est):
    return {u.name: u for u in est.units}


@pytest.mark.parametrize("heads,p_out", [(1, 4), (2, 3)])
def test_sparse_cycles_are_the_histograms_groups(heads, p_out):
    """layer 0's transform: group_count * HEADS * OG + the sparse depth (+ the sequencer step), from the
    histogram given, a GraphStats or its JSON dict; the other units as with the dense read."""
    rng = np.random.default_rng(0)
    ir = random_ir(rng, in_features=30, hidden=8, heads=heads)
    x = _features(rng)
    x[3] = 0  # an empty row still takes one group
    hist = nonzero_histogram(x)
    og = -(-8 // p_out)
    for p_in in (1, 3, 8):
        hw = _config(ir, p_in, p_out)
        by = _by_name(estimate(ir, hw, (N, E), feature_nonzeros=hist))
        want = group_count(hist, p_in) * heads * og + SPARSE_PIPELINE_DEPTH + STEP_OVERHEAD
        assert by["layer0.transform"].cycles == want
        dense = _by_name(estimate(ir, _config(ir, p_in, p_out, "dense"), (N, E)))
        assert dense["layer0.transform"].cycles == N * heads * og * -(-30 // p_in) + 8 + STEP_OVERHEAD
        assert by["layer0.aggregate"].cycles == dense["layer0.aggregate"].cycles
    # another histogram, the same layer: other groups (the per-process layer cache keys on them)
    empty = estimate(ir, _config(ir, 3, p_out), (N, E), feature_nonzeros={0: N})
    assert _by_name(empty)["layer0.transform"].cycles == N * heads * og + SPARSE_PIPELINE_DEPTH + STEP_OVERHEAD
    edge_index = torch.tensor(np.array([[i, (i + 1) % N] for i in range(N)]).T)
    stats = graph_stats(edge_index, N, torch.tensor(x, dtype=torch.float32))
    hw = _config(ir, 3, p_out)
    ref = estimate(ir, hw, (stats.num_nodes, stats.num_edges_with_self_loops), feature_nonzeros=hist).cycles
    assert estimate(ir, hw, stats).cycles == estimate(ir, hw, stats.to_dict()).cycles == ref


def test_sparse_read_without_a_histogram_is_a_clear_error():
    rng = np.random.default_rng(1)
    ir = random_ir(rng, in_features=30)
    hw = _config(ir)
    with pytest.raises(LpgnasError, match=r"feature_nonzeros=lpgnas\.sparse\.nonzero_histogram"):
        estimate(ir, hw, (N, E))
    with pytest.raises(LpgnasError, match="counts 39 rows but the graph has 40 nodes"):
        estimate(ir, hw, (N, E), feature_nonzeros=nonzero_histogram(_features(rng, n=39)))
    # a dense layer 0 needs none
    assert estimate(ir, _config(ir, input="dense"), (N, E)).cycles > 0


@pytest.mark.parametrize(
    "width,depth,b18,b36",
    [(36, 512, 0, 1), (72, 512, 0, 2), (18, 1024, 1, 0), (36, 1024, 0, 1), (9, 2048, 1, 0), (128, 1433, 15, 0)],
)
def test_two_read_ports_take_true_dual_port_shapes(width, depth, b18, b36):
    """Yosys 0.70 synth_xilinx (xc7; xcup the same on 128x1433, 72x512, 36x512) on a ROM with two
    registered read ports: no 512x36 RAMB18 / 512x72 RAMB36 shape (e.g. 36x512: one RAMB18 with one port)."""
    assert bram_choice(width, depth, 2)[:2] == (b18, b36)
    r = rom_cost(width, depth, "xc7", 2)
    assert (r.bram18, r.bram36, r.lut) == (b18, b36, 0.0)


def test_two_port_logic_rom_doubles_its_read_logic():
    """Yosys 0.70, xc7, random contents, two read ports: 64x64 128 LUT / 128 FF, 8x64 16 / 16 (twice one
    port's), 72x256 576 / 144. memory_libmap weighs the one-port logic cost (288) against the true-dual-port
    block RAM (two RAMB36): 72x256 is logic with two ports, one RAMB36 (512x72) with one."""
    for (w, d), (lut, ff) in {(72, 256): (576, 144), (64, 64): (128, 128), (8, 64): (16, 16)}.items():
        r = rom_cost(w, d, "xc7", 2)
        assert (r.lut, r.ff, r.bram18, r.bram36) == (lut, ff, 0.0, 0.0)
    assert rom_cost(64, 64, "xc7", 2).lut == 2 * rom_cost(64, 64, "xc7").lut
    one = rom_cost(72, 256, "xc7")
    assert (one.lut, one.bram36) == (0.0, 1.0)


def test_sparse_weight_rom_copies_show_in_bram():
    """Cora's layer 0 (1433 -> 16, W8, P_out 16): ROM_COPIES = ceil(P_in / 2) copies of a 128-bit x 1433-word
    two-port ROM (15 RAMB18 each, as measured), an odd P_in's last copy with one port (6 RAMB36)."""
    rng = np.random.default_rng(2)
    ir = random_ir(rng, in_features=1433, hidden=16, num_classes=7)
    hist = {18: N}
    for p_in, (b18, b36) in {2: (15, 0), 4: (30, 0), 5: (30, 6), 8: (60, 0)}.items():
        hw = _config(ir, p_in, 16, max_nonzeros=18 * N)
        t = _by_name(estimate(ir, hw, (N, E), feature_nonzeros=hist))["layer0.transform"]
        assert (t.bram18, t.bram36) == (b18, b36)
        rom = rom_copies_cost(128, 1433, "xc7", p_in)
        assert (rom.bram18, rom.bram36) == (b18, b36) and t.bits == rom.bits == 128 * 1433 * -(-p_in // 2)
        dense = _by_name(estimate(ir, _config(ir, p_in, 16, "dense"), (N, E)))["layer0.transform"]
        assert t.dsp == dense.dsp == p_in * 16  # the same lpg_dot lanes
        assert t.cycles < dense.cycles


def test_sparse_units_structural_terms():
    """The sparse read: accumulators even when one group covers F_in (IG = 1), no dense address / padding
    terms, the fitted ctrl term without the weight-address and ig counters, and the coefficient-1 terms
    2 GAW + (P_in + 1) WAW LUT (base adder and column adders only when H * OG > 1), 2 GAW + WAW + P_in XW FF."""
    from lpgnas.hw_model.params import globals_for, spec_from_ir
    from lpgnas.hw_model.units import transform as tr

    ir = random_ir(np.random.default_rng(4), in_features=6, hidden=8)
    g = globals_for(64, 400)
    for p_out, base in ((8, False), (4, True)):
        s = spec_from_ir(ir.layers[0], LayerHW(8, p_out, 4, input="sparse"))
        p = tr.transform_params(s, g, 64, direct=True, max_groups=100)
        d = tr.transform_params(spec_from_ir(ir.layers[0], LayerHW(8, p_out, 4)), g, 64, direct=True)
        acc = {k: (f := tr.lut_features(q, "xc7"))["acc"] + f["acc_dsp"] for k, q in (("dense", d), ("sparse", p))}
        assert p["IG"] == 1 and acc["dense"] == 0 < acc["sparse"]
        assert tr.direct_lut(p) == tr.direct_ff(p) == 0 < tr.direct_lut(d)
        assert tr.ctrl_bits(d) - tr.ctrl_bits(p) == d["WAW"]  # and clog2(IG) = 0
        waw = p["WAW"] if base else 0
        assert tr.sparse_lut(p) == 2 * p["GAW"] + 9 * waw and tr.sparse_lut(d) == tr.sparse_ff(d) == 0
        assert tr.sparse_ff(p) == 2 * p["GAW"] + waw + 8 * p["XW"]


def test_expected_cost_of_a_sparse_layer_0_equals_estimate_at_one_hot():
    """The search's expected cost with layer 0 sparse (a fixed choice): at one-hot probabilities its
    layer-0 transform equals estimate() of the exported design (cycles, DSP, BRAM: the nominal binary points
    of the expected cost do not enter them), and its cycles are the histogram's groups."""
    from lpgnas.search.quant_gnn import export_ir
    from lpgnas.search.space import default_space
    from lpgnas.search.supernet import architecture_from_choices, build_quant_gnn, onehots_for

    rng = np.random.default_rng(3)
    x = _features(rng, f=12, density=0.3)
    hist = nonzero_histogram(x)
    sp = default_space(12, 3, 2, hidden=(8, 16), heads=(1, 2), weight_bits=(1, 4, 8), act_bits=(4, 8))
    hw = [LayerHW(4, 4, 4, input="sparse"), LayerHW(4, 2, 2)]
    ec = ExpectedHardwareCost.from_space(sp, hw=hw, max_nodes=64, max_edges=400, num_nodes=N, num_edges=E,
                                         device="xc7z020", input_signed=False, feature_nonzeros=hist)
    for _ in range(4):
        choices = {k: sp.options(k)[int(rng.integers(len(sp.options(k))))] for k in sp.decision_keys}
        arch = architecture_from_choices(sp, choices)
        with torch.no_grad():
            terms = ec.unit_terms({k: v.double() for k, v in onehots_for(sp, arch).items()})
        expected = next(t for kind, t in terms if kind == "transform")
        ir = export_ir(build_quant_gnn(arch, 12, input_signed=False), "t")
        config = HardwareConfig(max_nodes=64, max_edges=400, max_nonzeros=int(x.astype(bool).sum()), layers=hw)
        t = _by_name(estimate(ir, config, (N, E), "xc7z020", feature_nonzeros=hist))["layer0.transform"]
        assert float(expected["cycles"]) == t.cycles
        assert float(expected["dsp"]) == t.dsp and float(expected["bram36"]) == t.bram36 + t.bram18 / 2
        og = -(-arch[0].hidden // 4)
        assert t.cycles == group_count(hist, 4) * arch[0].heads * og + SPARSE_PIPELINE_DEPTH + STEP_OVERHEAD


def test_cli_estimate_costs_a_sparse_layer_0_on_the_input_codes(tmp_path, capsys):
    """``lpgnas estimate --hw CONFIG --input sparse``: karate's one-hot features, one non-zero per row, so 34
    groups at any P_in; max_nonzeros raised to hold them. ``--input`` without ``--hw`` is refused."""
    import argparse
    import json

    from lpgnas.hw_model.cli import add_parser

    def run(argv):
        p = argparse.ArgumentParser()
        add_parser(p.add_subparsers())
        args = p.parse_args(argv)
        return args.func(args)

    ir = random_ir(np.random.default_rng(3), in_features=34, hidden=8, num_classes=4)
    ir.metadata = {"train_config": {"dataset": "karate"}}
    ir.save(tmp_path / "model.ir.json")
    HardwareConfig(max_nodes=34, max_edges=200, layers=[LayerHW(4, 4, 2), LayerHW(2, 2, 2)]).save(tmp_path / "hw.json")
    argv = ["estimate", str(tmp_path / "model.ir.json"), "--hw", str(tmp_path / "hw.json"), "--json"]
    assert run(argv + ["--input", "sparse"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["hw_config"]["layers"][0]["input"] == "sparse" and doc["hw_config"]["max_nonzeros"] == 34
    t = next(u for u in doc["units"] if u["name"] == "layer0.transform")
    assert t["cycles"] == 34 * 2 + SPARSE_PIPELINE_DEPTH + STEP_OVERHEAD
    assert run(argv) == 0
    dense = next(u for u in json.loads(capsys.readouterr().out)["units"] if u["name"] == "layer0.transform")
    assert dense["cycles"] == 34 * 9 * 2 + 8 + STEP_OVERHEAD
    with pytest.raises(LpgnasError, match="--input needs a --hw config"):
        run(argv[:2] + ["--input", "sparse"])


def test_dse_reads_sparse_features_sparse_and_dense_features_dense():
    from lpgnas.hw_model import numeric as nm
    from lpgnas.hw_model.dse import explore

    rng = np.random.default_rng(3)
    ir = random_ir(rng, in_features=300, hidden=16, num_classes=4)
    size = (200, 1000)
    sparse_x = (rng.random((200, 300)) < 0.02) * rng.integers(1, 50, (200, 300))
    hist = nonzero_histogram(sparse_x)
    hw, est = explore(ir, size, "xc7z020", feature_nonzeros=hist)
    dense_hw, dense_est = explore(ir, size, "xc7z020", feature_nonzeros=hist, inputs=("dense",))
    assert hw.layers[0].input == "sparse" and hw.max_nonzeros == int(np.count_nonzero(sparse_x))
    assert all(layer.input == "dense" for layer in dense_hw.layers)
    assert nm.to_float(est.cycles) < nm.to_float(dense_est.cycles)
    # without a histogram only the dense read can be costed; every feature non-zero: dense wins
    assert explore(ir, size, "xc7z020")[0].layers[0].input == "dense"
    full = nonzero_histogram(np.ones((200, 300)))
    assert explore(ir, size, "xc7z020", feature_nonzeros=full)[0].layers[0].input == "dense"
    with pytest.raises(LpgnasError, match="histogram"):
        explore(ir, size, "xc7z020", inputs=("sparse",))
