"""Off-chip buffers in the cost model: device memories, the adapters' costs and stalls, placement in the DSE."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lpgnas import devices
from lpgnas.devices import PRESETS, Device, load_device
from lpgnas.errors import HardwareFitError, LpgnasError
from lpgnas.hw_model import model
from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.dse import _steps, explore, placements
from lpgnas.hw_model.expected import ExpectedHardwareCost
from lpgnas.hw_model.model import estimate, graph_rows
from lpgnas.hw_model.offchip import adapter_params, memory_timing
from lpgnas.hw_model.units import axi
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.testing import random_ir
from tests.test_hw_model import gradcheck_expected

#: PubMed's shape (Planetoid): nodes, edges + self-loops, features, classes
PUBMED = (19717, 88648 + 19717, 500, 3)


def _pubmed_gcn():
    """A W8A8 GCN 2x16 of PubMed's shape (weights random: the cost depends on shapes and formats only)."""
    n, e, f, c = PUBMED
    return random_ir(np.random.default_rng(0), in_features=f, hidden=16, num_classes=c, wbits=8, abits=8), (n, e)


def _units(est):
    return {u.name: u for u in est.units}


def _bram(u) -> float:
    return nm.to_float(u.bram36 + u.bram18 / 2)


# ---- devices --------------------------------------------------------------------------------------------------


def test_every_preset_has_a_cited_memory():
    for d in PRESETS.values():
        m = d.memory
        assert m is not None, d.name
        assert m.kind in ("DDR3", "DDR4", "HBM2") and m.ports >= 1 and m.peak_bytes_per_s > 1e9
        assert m.data_bits in (64, 128, 256, 512) and m.read_latency > 0 and m.write_latency > 0
        assert Device(**d.to_dict()) == d  # an estimate's JSON device round-trips (memory as a dict)
    assert (PRESETS["xc7z020"].memory.ports, PRESETS["xc7z020"].memory.data_bits) == (4, 64)
    assert PRESETS["xczu9eg"].memory.data_bits == 128 and PRESETS["xcu250"].memory.data_bits == 512
    doc = devices.__doc__
    for ref in ("UG585", "UG1085", "UG1393", "UG1120", "DS965", "UG586"):
        assert ref in doc, ref
    assert "Assumption" in doc  # the latencies are marked as assumed


GOOD_MEMORY = {"kind": "DDR4", "ports": 2, "data_bits": 128, "peak_bytes_per_s": 1.0e10, "read_latency": 30,
               "write_latency": 40}


def _device_file(tmp_path, memory=None, **over):
    doc = {"name": "mine", "family": "xc7", "lut": 50_000, "ff": 100_000, "dsp": 200, "bram36": 140, **over}
    if memory is not None:
        doc["memory"] = memory
    p = tmp_path / "dev.json"
    p.write_text(json.dumps(doc))
    return str(p)


def test_user_device_memory_is_read(tmp_path):
    d = load_device(_device_file(tmp_path, GOOD_MEMORY))
    assert d.memory == devices.ExternalMemory("DDR4", 2, 128, 1.0e10, 30, 40)
    assert load_device(_device_file(tmp_path)).memory is None
    p = tmp_path / "null.json"
    p.write_text(json.dumps({"family": "xc7", "lut": 1, "ff": 1, "dsp": 0, "bram36": 1, "memory": None}))
    assert load_device(str(p)).memory is None


@pytest.mark.parametrize("change,message", [
    ({"ports": 0}, r"memory\.ports must be an integer >= 1, got 0"),
    ({"data_bits": 48}, r"memory\.data_bits must be an AXI data width .* got 48"),
    ({"data_bits": 2048}, r"memory\.data_bits must be an AXI data width"),
    ({"read_latency": -1}, r"memory\.read_latency must be an integer >= 0"),
    ({"write_latency": 2.5}, r"memory\.write_latency must be an integer"),
    ({"peak_bytes_per_s": 0}, r"memory\.peak_bytes_per_s must be a positive number"),
    ({"peak_bytes_per_s": "fast"}, r"memory\.peak_bytes_per_s must be a positive number"),
    ({"kind": ""}, r"memory\.kind must be a name"),
    ({"latency": 3}, r"memory has unknown field\(s\) latency; known: kind, ports"),
])
def test_user_device_memory_errors_are_clear(tmp_path, change, message):
    with pytest.raises(LpgnasError, match=r"device file .*dev\.json: " + message):
        load_device(_device_file(tmp_path, {**GOOD_MEMORY, **change}))


def test_user_device_memory_missing_fields_and_wrong_type(tmp_path):
    partial = {k: v for k, v in GOOD_MEMORY.items() if k not in ("ports", "write_latency")}
    with pytest.raises(LpgnasError, match=r"memory is missing field\(s\) ports, write_latency"):
        load_device(_device_file(tmp_path, partial))
    with pytest.raises(LpgnasError, match=r"memory must be an object"):
        load_device(_device_file(tmp_path, ["DDR4"]))


def test_memory_timing_scales_with_the_clock():
    m = PRESETS["xc7z020"].memory
    assert memory_timing(m, 100.0, 100.0) == model.oc.MemoryTiming(25.0, 25.0, 1.0)
    t = memory_timing(m, 100.0, 200.0)  # twice the clock: twice the cycles, 1.6 GB/s per 64-bit port > 1.066
    assert (t.read_latency, t.write_latency) == (50.0, 50.0)
    assert t.beat_cycles == pytest.approx(1600e6 / (4.264e9 / 4))


# ---- estimate: RAM out, adapters and stalls in ------------------------------------------------------------------


def _small():
    ir = random_ir(np.random.default_rng(4), in_features=40, hidden=16, num_classes=3, wbits=8, abits=8)
    hw = HardwareConfig(max_nodes=1024, max_edges=6000, layers=[LayerHW(4, 4, 4), LayerHW(4, 3, 3)])
    return ir, hw, (1000, 5000)


def test_an_offchip_row_buffer_drops_its_ram_and_adds_its_adapters_and_stalls():
    ir, hw, size = _small()
    base = estimate(ir, hw, size, "xc7z020")
    for name, unit in (("buf_1", "buf_1"), ("layer0_lin", "layer0.lin_buffer")):
        hw.offchip = [name]
        est = estimate(ir, hw, size, "xc7z020")
        by, by0 = _units(est), _units(base)
        assert _bram(by0[unit]) > 0 and _bram(by[unit]) == 0 and by[unit].bits == 0
        adapters = [u for u in est.units if u.kind == "axi"]
        assert {u.name for u in adapters} == {f"{name}.axi_{k}" for k in ("write", "gather" if "lin" in name else
                                                                              "stream")}
        # BRAM: exactly the buffer's blocks less, plus the adapters' tiles (LUTRAM here)
        assert est.totals()["bram36_equiv"] == base.totals()["bram36_equiv"] - _bram(by0[unit]) + sum(
            _bram(u) for u in adapters)
        assert sum(nm.to_float(u.lut) for u in adapters) > 100  # address adders, counters, channel registers
        stalls = sum(u.cycles for u in est.units if u.kind == "stall")
        assert stalls > 0 and est.cycles == base.cycles + stalls  # cycles = ce-cycles + stalls
        assert est.offchip == [name] and est.offchip_bits > 0 and est.buffer_bits < base.buffer_bits


def test_gather_stalls_are_one_fetch_per_edge_and_head():
    ir, hw, (n, e) = _small()
    hw.offchip = ["layer0_lin"]
    est = estimate(ir, hw, (n, e), "xc7z020")
    p = adapter_params(ir, hw)["layer0_lin"]["gather"]
    assert p == axi.axi_port_params("gather", 16 * ir.layers[0].formats["linear"].bits, 64, 1024)
    lat = PRESETS["xc7z020"].memory.read_latency
    by = _units(est)
    assert by["layer0_lin.stall@layer0.aggregate"].cycles == e * (lat + p["BPW"] + axi.GATHER_CYCLES)
    # the transform writes N rows: the port keeps up (2 beats a row, 12 cycles a row), so only the drain
    pw = adapter_params(ir, hw)["layer0_lin"]["write"]
    assert by["layer0_lin.stall@layer0.transform"].cycles == lat + pw["BL"] + axi.DRAIN_CYCLES


def test_host_buffers_offchip_cost_adapters_and_stalls_only():
    ir, hw, size = _small()
    base = estimate(ir, hw, size, "xc7z020")
    hw.offchip = ["features", "row_ptr", "col_idx", "layer0_coef", "layer1_coef", "outputs"]
    est = estimate(ir, hw, size, "xc7z020")
    assert est.totals()["bram36_equiv"] == base.totals()["bram36_equiv"]  # host buffers were never on chip
    assert est.totals()["lut_total"] > base.totals()["lut_total"] and est.cycles > base.cycles
    kinds = {u.name: u.params for u in est.units if u.kind == "axi"}
    assert set(kinds) == {"features.axi_stream", "row_ptr.axi_stream", "col_idx.axi_stream",
                          "layer0_coef.axi_stream", "layer1_coef.axi_stream", "outputs.axi_write"}
    assert kinds["features.axi_stream"]["EW"] == 4 * 8  # one element = the P_in lanes of a group


def test_stall_formulas():
    p = axi.axi_port_params("stream", 8, 64, 4096)  # 8 elements a word, 16-word bursts
    assert (p["EPW"], p["BPW"], p["BW"], p["BL"]) == (8, 1, 16, 16)
    assert axi.stream_stalls(p, 25, 160, 1, 41) == 25 + 1 + axi.RESTART_CYCLES  # a slow consumer: restart only
    assert axi.stream_stalls(p, 25, 160, 1, 31) == 25 + 1 + axi.RESTART_CYCLES + 9 * 10  # 10 short per burst
    pw = axi.axi_port_params("write", 128, 64, 1024)
    drain = 30 + pw["BL"] + axi.DRAIN_CYCLES
    assert axi.write_stalls(pw, 30, 100, 500) == drain
    assert axi.write_stalls(pw, 30, 100, 150) == 100 * pw["BPW"] - 150 + drain  # production outruns the port


def test_offchip_needs_a_device_with_memory(tmp_path):
    ir, hw, size = _small()
    hw.offchip = ["buf_1"]
    with pytest.raises(LpgnasError, match=r"device mine has no external memory.*buf_1.*\"memory\" object"):
        estimate(ir, hw, size, _device_file(tmp_path))
    hw.offchip = ["buf_9"]
    with pytest.raises(LpgnasError, match=r"offchip names 'buf_9', not a buffer of this design"):
        estimate(ir, hw, size, "xc7z020")


def test_expected_cost_follows_the_placement():
    opts = {}
    for i in range(2):
        last = i == 1
        opts.update({
            f"layer{i}.attention": ("gcn", "gat"), f"layer{i}.aggregation": ("add", "mean"),
            f"layer{i}.activation": ("identity",) if last else ("relu",),
            f"layer{i}.hidden": (3,) if last else (8, 16), f"layer{i}.heads": (1,) if last else (1, 2),
            f"layer{i}.q_weight": (1, 8), f"layer{i}.q_input": (4, 8), f"layer{i}.q_linear": (4, 8),
            f"layer{i}.q_coef": (8,), f"layer{i}.q_aggregation": (4, 8), f"layer{i}.q_bias": (8,),
        })
    kw = dict(in_features=12, num_classes=3, hw=[LayerHW(4, 4, 4), LayerHW(4, 2, 2)], max_nodes=512,
              max_edges=3000, device="xc7z020")
    off = ["features", "col_idx", "layer0_coef", "layer1_recip", "outputs", "buf_1", "layer0_lin"]
    ec, ec0 = ExpectedHardwareCost(opts, offchip=off, **kw), ExpectedHardwareCost(opts, **kw)
    rng = np.random.default_rng(2)
    for _ in range(6):
        choice = {k: v[int(rng.integers(len(v)))] for k, v in opts.items()}
        got, ref, ref0 = ec(ec.one_hot(choice)), ec.fixed(choice), ec0.fixed(choice)
        for k, v in ref.items():
            assert float(got[k]) == pytest.approx(v, rel=1e-9, abs=1e-9), (k, choice)
        assert ref["bram36"] < ref0["bram36"] and ref["cycles"] > ref0["cycles"]
    assert gradcheck_expected(ec, opts, {"lut": 1000, "bram36": 1, "cycles": 1e4})


# ---- placement in the DSE ---------------------------------------------------------------------------------------


def test_pubmed_w8a8_gcn_fits_the_xc7z020_with_buffers_off_chip():
    """182 RAMB36 all on chip (the xc7z020 has 140): today's DSE finds nothing; with offchip="auto" the host
    buffers go to the DDR3 and buf_1 (75 RAMB36, the largest row buffer read in order) follows; the linear
    buffers (gathered by edge) stay on chip."""
    ir, size = _pubmed_gcn()
    with pytest.raises(HardwareFitError, match=r"RAMB36 182\.0 of 140.*offchip=\"auto\""):
        explore(ir, size, "xc7z020")
    hw, est = explore(ir, size, "xc7z020", offchip="auto")
    assert est.fits and est.usage()["bram36"][0] <= 140
    assert hw.offchip == ["features", "row_ptr", "col_idx", "layer0_coef", "layer1_coef", "outputs", "buf_1"]
    assert estimate(ir, hw, size, "xc7z020").cycles == est.cycles
    stalls = sum(u.cycles for u in est.units if u.kind == "stall")
    assert 0 < stalls < est.cycles


def test_placements_go_host_then_row_buffers_then_linear_buffers():
    ir, size = _pubmed_gcn()
    hw = HardwareConfig(max_nodes=size[0], max_edges=size[1], layers=[LayerHW(1, 1, 1), LayerHW(1, 1, 1)])
    order = placements(ir, hw, graph_rows(size), load_device("xc7z020"), None, "auto")
    host = ["features", "row_ptr", "col_idx", "layer0_coef", "layer1_coef", "outputs"]
    assert order == [host, [*host, "buf_1"], [*host, "buf_1", "buf_2"], [*host, "buf_1", "buf_2", "layer0_lin"],
                     [*host, "buf_1", "buf_2", "layer0_lin", "layer1_lin"]]
    assert placements(ir, hw, graph_rows(size), load_device("xc7z020"), None, "never") == [[]]


def test_default_and_memoryless_devices_place_nothing_off_chip(tmp_path):
    ir, hw, size = _small()
    hw_default, est_default = explore(ir, size, "xc7z020")
    assert hw_default.offchip == [] and est_default.offchip == []
    hw_auto, _ = explore(ir, size, _device_file(tmp_path), offchip="auto")  # no memory: everything on chip
    assert hw_auto.offchip == []
    hw_mem, _ = explore(ir, size, _device_file(tmp_path, GOOD_MEMORY), offchip="auto")
    assert hw_mem.offchip == ["features", "row_ptr", "col_idx", "layer0_coef", "layer1_coef", "outputs"]
    with pytest.raises(LpgnasError, match=r"offchip='sometimes': not one of never, auto"):
        explore(ir, size, "xc7z020", offchip="sometimes")


def test_a_design_that_does_not_fit_even_off_chip_is_a_clear_error(tmp_path):
    ir, size = _pubmed_gcn()
    dev = _device_file(tmp_path, GOOD_MEMORY, bram36=1)  # the weight ROM alone needs 2 RAMB36
    with pytest.raises(HardwareFitError, match=r"nothing fits mine: .* with every buffer in external memory: "
                                               r"RAMB36 \d+\.\d of 1 .*even with every buffer in the device's DDR4; "
                                               r"use narrower bitwidths"):
        explore(ir, size, dev, offchip="auto")


def test_placement_test_bites_when_offchip_buffers_still_count_their_ram(monkeypatch):
    """Mutation: an estimate that keeps an off-chip row buffer's RAM (offchip ignored in the BRAM sum) makes
    PubMed not fit the xc7z020 in any placement."""
    ir, size = _pubmed_gcn()
    monkeypatch.setattr(model, "_offchip_buffer", lambda unit: unit)
    model.clear_caches()
    with pytest.raises(HardwareFitError, match=r"with every buffer in external memory: RAMB36"):
        explore(ir, size, "xc7z020", offchip="auto")


def test_greedy_looks_past_a_value_that_widens_an_offchip_element(monkeypatch):
    """Off chip an element takes a power of two of bytes: PubMed's layer 0 at P_in 5 streams 8-byte elements
    (slower than 4 lanes' 4 bytes), at P_in 8 the same 8 bytes for twice the lanes. With buffers off chip the
    search also tries the next power of two, so it reaches P_in 8 on the xczu3eg (128-bit port); without the
    look-ahead it stops at 4 (P_in 5 loses cycles)."""
    assert _steps([5, 6, 8, 10], True) == [5, 8] and _steps([5, 6, 8, 10], False) == [5]
    assert _steps([8, 10, 16], True) == [8, 16] and _steps([5, 6, 7], True) == [5]
    ir, size = _pubmed_gcn()
    hw, est = explore(ir, size, "xczu3eg", offchip="auto")
    assert "features" in hw.offchip and hw.layers[0].p_in >= 8  # 16 once the stream's tile covers the latency
    import lpgnas.hw_model.dse as dse

    monkeypatch.setattr(dse, "_steps", lambda larger, offchip: larger[:1])
    hw_plain, est_plain = explore(ir, size, "xczu3eg", offchip="auto")
    assert hw_plain.layers[0].p_in == 4 and est.cycles < est_plain.cycles


def test_stream_tile_covers_the_read_latency():
    """A stream keeps TILE / BW - 1 bursts ahead: two-burst tiles while a burst outlasts the latency, more (a
    power of two) when it does not; the stall model's steady-state shortfall follows the bursts ahead."""
    short = axi.axi_port_params("stream", 8, 64, 4096, latency=25)  # 8 elements a word: a burst lasts 128 reads
    assert short["TILE"] == 2 * short["BW"]
    wide = axi.axi_port_params("stream", 64, 64, 4096, latency=25)  # one element a word: 16 reads a burst
    assert wide["TILE"] == 4 * wide["BW"] and axi.axi_port_params("stream", 64, 64, 4096)["TILE"] == 2 * wide["BW"]
    assert axi.axi_port_params("gather", 64, 64, 4096, latency=25)["TILE"] == 1
    # 16 reads per burst, 25 cycles latency: one burst ahead waits 25 + 16 - 16 a burst, three ahead never
    two = axi.axi_port_params("stream", 64, 64, 4096)
    assert axi.stream_stalls(two, 25, 160, 0, 16) == 10 * 25
    assert axi.stream_stalls(wide, 25, 160, 0, 16) == 0
