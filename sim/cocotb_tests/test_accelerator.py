"""cocotb test of a generated accelerator inside the testbench wrapper of :mod:`sim.rtl`.

The wrapper holds the host memories, the clock and the reset; this test only raises ``start_req`` and
waits for the wrapper's ``finished`` flag (the wrapper dumps the output buffer at ``ap_done``). The
cycle count, the stall cycles within it (``ap_ce`` low, ``+stall_seed``) and the wall time go to the JSON file
named by ``LPGNAS_RTL_RESULT`` (under the batch wrapper of :func:`sim.rtl.run_rtl_batch`, one count per design,
``LPGNAS_RTL_DESIGNS`` of them); the comparison with the golden model's ``expected.mem`` happens in
:func:`sim.rtl.run_rtl`.

Off-chip buffers (``LPGNAS_RTL_AXI`` names the config :func:`sim.rtl._axi_config` writes): with the fast model
the wrapper serves them itself and this test only reads the models' error flags (``<prefix>axi_errors``); with
``axiram`` it attaches cocotbext-axi's AxiRam with the emulated latency of
:mod:`sim.cocotb_tests.axi_latency` to each bundle's public signals ``<prefix>m_axi_<name>_*`` (memory from the
bundle's image file, pause generators with backpressure), checks each burst (full-width INCR, no 4 KB crossing,
inside the buffer) and, after the run, dumps the outputs bundle's memory as the fast model would.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

#: the clock period under AxiRam (the wrappers' own clock: 10 ns)
CLOCK_NS = 10
#: the most AXI monitor messages kept per design
_MAX_MESSAGES = 20


def _load_words(path: str, data_bits: int) -> bytearray:
    nb = data_bits // 8
    out = bytearray()
    for line in Path(path).read_text().split():
        out += int(line, 16).to_bytes(nb, "little")
    return out


def _dump_words(path: str, mem: bytearray, data_bits: int) -> None:
    nb = data_bits // 8
    Path(path).write_text("".join(mem[i:i + nb][::-1].hex() + "\n" for i in range(0, len(mem), nb)))


def _check_bursts(channel: Any, kind: str, b: dict[str, Any], messages: list[str]) -> None:
    """Check every AR / AW a sink takes: full-width INCR, within 4 KB, inside the buffer's words."""
    queue = channel.queue
    put = queue.put_nowait
    nb = b["DW"] // 8
    word = max(nb, b["EB"])
    end = b["base"] + -(-b["depth"] * b["EB"] // word) * word

    def checked(obj: Any) -> None:
        try:
            addr, beats = int(getattr(obj, f"{kind}addr")), int(getattr(obj, f"{kind}len")) + 1
            size, burst = int(getattr(obj, f"{kind}size")), int(getattr(obj, f"{kind}burst"))
        except ValueError:  # x / z (Icarus): AxiRam cannot serve it either
            messages.append(f"{b['name']}: {kind} burst with x / z in address, length, size or burst: {obj!r}")
            raise
        problems = []
        if size != (nb - 1).bit_length() or burst != 1:
            problems.append(f"size {size} / burst {burst}: not a full-width INCR burst")
        if addr % 4096 + beats * nb > 4096:
            problems.append("crosses 4 KB")
        if addr < b["base"] or addr + beats * nb > end or (addr - b["base"]) % word:
            problems.append(f"outside the buffer's words [{b['base']:#x}, {end:#x})")
        if problems and len(messages) < _MAX_MESSAGES:
            messages.append(f"{b['name']}: {kind} burst at {addr:#x} of {beats} beats: {'; '.join(problems)}")
        put(obj)

    queue.put_nowait = checked


async def _attach_axiram(dut: Any, cfg: dict[str, Any]) -> list[tuple[list[str], list[tuple[dict, bytearray]]]]:
    """AxiRam sides on every bundle of every design; returns per design its monitor messages and memories."""
    from cocotbext.axi import AxiReadBus, AxiWriteBus

    from lpgnas.sim.cocotb_tests.axi_latency import (
        LatencyAxiRamRead,
        LatencyAxiRamWrite,
        clock_period_steps,
        pauses,
    )

    logging.getLogger("cocotb").setLevel(logging.WARNING)
    # the clock from cocotb (the wrapper has none in this mode): AxiRam's sinks sample the bus at its edges the
    # way the latency emulation was validated (tests/test_axi_adapters.py); a clock of the simulator's own
    # scheduling shifts Verilator's samples by a cycle
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    period = await clock_period_steps(dut.clk)
    out = []
    for d in cfg["designs"]:
        messages: list[str] = []
        mems = []
        for b in d["bundles"]:
            mem = _load_words(b["init"], b["DW"])
            prefix = f"{d['prefix']}m_axi_{b['name']}"
            channels = []
            if "read" in b["sides"]:
                ram = LatencyAxiRamRead(AxiReadBus.from_prefix(dut, prefix), dut.clk, dut.rst, mem, b["lat"],
                                        period_steps=period)
                _check_bursts(ram.ar_channel, "ar", b, messages)
                channels += [ram.ar_channel, ram.r_channel]
            if "write" in b["sides"]:
                ram = LatencyAxiRamWrite(AxiWriteBus.from_prefix(dut, prefix), dut.clk, dut.rst, mem, b["blat"],
                                         period_steps=period)
                _check_bursts(ram.aw_channel, "aw", b, messages)
                channels += [ram.aw_channel, ram.w_channel, ram.b_channel]
            if cfg["pause"]:
                for k, ch in enumerate(channels):
                    ch.set_pause_generator(pauses(b["seed"] * 16 + k, cfg["pause"]))
            mems.append((b, mem))
        out.append((messages, mems))
    return out


@cocotb.test()
async def test_accelerator_run(dut) -> None:
    """One ap_start -> ap_done run of the accelerator (a run past the cycle limit is a result: ``timed_out``)."""
    t0, c0 = time.perf_counter(), time.process_time()
    cfg_path = os.environ.get("LPGNAS_RTL_AXI")
    cfg = json.loads(Path(cfg_path).read_text()) if cfg_path else None
    rams = await _attach_axiram(dut, cfg) if cfg and cfg["model"] == "axiram" else None
    # one clock edge first: at time 0 the wrapper's flags may not hold their initial values yet (Verilator
    # with +verilator+rand+reset+2 starts them random); start is held off by the reset anyway
    await RisingEdge(dut.clk)
    dut.start_req.value = 1
    if not int(dut.finished.value):
        await RisingEdge(dut.finished)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    batch = int(os.environ.get("LPGNAS_RTL_DESIGNS", "0"))  # > 0: the batch wrapper with designs d0, d1, ...
    if batch:
        cycles = [int(getattr(dut, f"d{k}_cycles").value) for k in range(batch)]
        stalls = [int(getattr(dut, f"d{k}_stall_cycles").value) for k in range(batch)]
        timed_out = [bool(int(getattr(dut, f"d{k}_timed_out").value)) for k in range(batch)]
    else:
        cycles, timed_out = int(dut.cycles.value), bool(int(dut.timed_out.value))
        stalls = int(dut.stall_cycles.value)
    result: dict[str, Any] = {"cycles": cycles, "stall_cycles": stalls, "timed_out": timed_out, "sim_seconds": wall,
                              "sim_cpu_seconds": cpu}
    if cfg:
        prefixes = [d["prefix"] for d in cfg["designs"]]
        flags = [int(getattr(dut, f"{p}axi_errors").value) for p in prefixes]
        messages = [m for m, _ in rams] if rams else [[] for _ in prefixes]
        for _, mems in rams or []:
            for b, mem in mems:
                if b["dump"]:
                    _dump_words(b["dump_file"], mem, b["DW"])
        result["axi_errors"] = flags if batch else flags[0]
        result["axi_messages"] = messages if batch else messages[0]
    path = os.environ.get("LPGNAS_RTL_RESULT")
    if path:
        with open(path, "w") as fh:
            json.dump(result, fh, allow_nan=False)
