"""cocotb side of ``tests/test_axi_adapters.py``: the off-chip buffer adapters ``lpg_axi_rd`` (stream, gather)
and ``lpg_axi_wr`` in the generated harness ``tb_axi_adapters``, against cocotbext-axi's ``AxiRam`` (with an
emulated memory latency, below) and against the fast model ``sim/models/lpg_axi_mem.v``.

The harness has groups of adapters (``<g>_<m>_*`` ports); a group shares one clock enable
``<g>_ce = <g>_ap_ce & ~(stalls of its adapters)``. A Python "unit" per group drives, at each falling edge,
one program step per adapter in every ce-cycle (a request is taken at the next rising edge only when ce = 1)
and checks the data of a read in the next ce-cycle against the memory's bytes (``AxiRam``'s bytearray, or the
image loaded into ``lpg_axi_mem``). Monitors check the AXI rules (valid held with its payload until ready,
INCR full-width bursts, no 4 KB crossing, a stream's burst inside one BW-word block and below ``limit``), and a
write adapter's ``committed`` (monotone; every element below it already in memory). Each test stores its
records (errors, cycles, stall cycles of each read, flush-to-idle cycles) in the JSON file named by
``LPGNAS_AXI_RESULT``, under the test's name; the pytest driver asserts on them.

**Latency emulation**: ``LatencyAxiRamRead`` / ``LatencyAxiRamWrite`` of :mod:`sim.cocotb_tests.axi_latency`
(AxiRam with an emulated read / write-response latency); ``lpg_axi_mem`` with the same LAT / BLAT and no
backpressure has the same timing, cycle for cycle (the equivalence test).
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge
from cocotbext.axi import AxiReadBus, AxiWriteBus

from lpgnas.sim.cocotb_tests.axi_latency import LatencyAxiRamRead, LatencyAxiRamWrite, pauses

PERIOD_NS = 10
MEM_BYTES = 1 << 16

_CFG: dict[str, Any] = json.loads(Path(os.environ["LPGNAS_AXI_CONFIG"]).read_text())


def _period_steps() -> int:
    return int(_CFG["period_steps"])


# ---- the adapters of the harness ------------------------------------------------------------------------------


@dataclass
class Port:
    """One adapter of the harness, its memory (bytes; base = its element 0) and the unit's state."""

    dut: Any
    group: str
    name: str
    kind: str
    mut: int
    p: dict[str, int]
    fast: bool
    model: str | None = None                      # the fast model serving it
    source: Port | None = None                    # a follower: the write adapter whose committed is its limit
    mem: bytearray = field(default_factory=lambda: bytearray(MEM_BYTES))
    base: int = 0
    limit: int = 0
    # unit state
    pending: tuple[int, int] | None = None       # (address, expected q) of the last read taken
    pending_stall: int = 0                        # own stall cycles since that read
    reads: list[tuple[int, int]] = field(default_factory=list)   # (address, own stall cycles)
    written: dict[int, int] = field(default_factory=dict)
    next_addr: int = 0
    committed: int = 0
    verified: int = 0
    flush_cycle: int | None = None
    flush_to_idle: list[int] = field(default_factory=list)
    ar_hold: tuple[int, ...] | None = None
    aw_hold: tuple[int, ...] | None = None
    w_hold: tuple[int, ...] | None = None
    bursts: int = 0

    def __post_init__(self) -> None:
        self.prefix = f"{self.group}_{self.name}"
        h = self.handle
        self.stall, self.address, self.base_sig, self.restart = h("stall"), h("address"), h("base"), h("restart")
        if self.kind == "write":
            self.we, self.d, self.flush = h("we"), h("d"), h("flush")
            self.committed_sig, self.idle, self.error = h("committed"), h("idle"), h("error")
        else:
            self.rd, self.q, self.limit_sig = h("rd"), h("q"), h("limit")
        if not self.fast:
            for s in (("arvalid", "arready", "araddr", "arlen", "arsize", "arburst") if self.kind != "write" else
                      ("awvalid", "awready", "awaddr", "awlen", "awsize", "awburst", "wvalid", "wready", "wdata",
                       "wstrb", "wlast")):
                setattr(self, s, h(f"m_axi_{s}"))

    def handle(self, sig: str) -> Any:
        return getattr(self.dut, f"{self.prefix}_{sig}")

    @property
    def word_bytes(self) -> int:
        return self.p["RWB"] // 8

    def element(self, i: int) -> int:
        if self.source is not None:
            return self.source.written[i]
        eb = self.p["EB"]
        a = self.base + i * eb
        return int.from_bytes(self.mem[a:a + eb], "little") & ((1 << self.p["EW"]) - 1)

    def reset_unit(self) -> None:
        self.pending, self.pending_stall = None, 0
        self.written, self.next_addr, self.committed, self.verified, self.flush_cycle = {}, 0, 0, 0, None


def ports_of(dut: Any, group: str) -> dict[str, Port]:
    g = _CFG["groups"][group]
    ports = {m: Port(dut, group, m, spec["kind"], spec["mut"], spec["params"], g["mem"] == "fast", spec.get("model"))
             for m, spec in g["members"].items()}
    if g.get("follow"):
        ports["s"].source = ports["w"]
        ports["s"].mem = ports["w"].mem         # one memory
    return ports


async def start(dut: Any) -> None:
    """The clock (once per test), then :func:`reset`; cocotbext-axi's per-burst INFO lines off."""
    logging.getLogger(f"cocotb.{dut._name}").setLevel(logging.WARNING)
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    await reset(dut)


async def reset(dut: Any) -> None:
    """All harness inputs low, reset for 3 cycles (AxiRam's sides drop whatever they hold too)."""
    for name in _CFG["inputs"]:
        getattr(dut, name).value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


def attach_ram(dut: Any, port: Port, latency: int, blat: int, seed: int, pause: float = 0.0) -> Any:
    """An AxiRam side on ``port``'s AXI master (its bytearray as memory), pause generators if ``pause``."""
    if port.kind == "write":
        ram = LatencyAxiRamWrite(AxiWriteBus.from_prefix(dut, f"{port.prefix}_m_axi"), dut.clk, dut.rst,
                                 port.mem, blat, period_steps=_period_steps())
        channels = (ram.aw_channel, ram.w_channel, ram.b_channel)
    else:
        ram = LatencyAxiRamRead(AxiReadBus.from_prefix(dut, f"{port.prefix}_m_axi"), dut.clk, dut.rst,
                                port.mem, latency, period_steps=_period_steps())
        channels = (ram.ar_channel, ram.r_channel)
    if pause:
        for k, ch in enumerate(channels):
            ch.set_pause_generator(pauses(seed * 10 + k, pause))
    return ram


def fill_random(port: Port, seed: int) -> None:
    port.mem[:] = random.Random(seed).randbytes(MEM_BYTES)


def mem_file(port: Port, kind: str) -> Path:
    return Path(_CFG["mem_files"][port.model][kind])


def write_image(port: Port) -> None:
    """The fast model's image of ``port.mem``: one DW-bit word per line."""
    nb = port.p["DW"] // 8
    lines = [port.mem[i:i + nb][::-1].hex() for i in range(0, MEM_BYTES, nb)]
    mem_file(port, "init").write_text("\n".join(lines) + "\n")


def read_image(port: Port) -> bytearray:
    nb = port.p["DW"] // 8
    out = bytearray()
    for line in mem_file(port, "dump").read_text().split():
        if line.startswith("//"):
            continue
        out += bytes.fromhex(line.rjust(2 * nb, "0"))[::-1]
    return out


async def pulse(dut: Any, sig: str) -> None:
    getattr(dut, sig).value = 1
    await FallingEdge(dut.clk)
    getattr(dut, sig).value = 0


# ---- the unit -------------------------------------------------------------------------------------------------

Step = tuple[Any, ...]


async def run_unit(dut: Any, group: str, ports: dict[str, Port], programs: dict[str, list[Step]], errors: list[str],
                   *, gap: float = 0.0, seed: int = 0, max_cycles: int = 200_000) -> dict[str, Any]:
    """Drive ``programs`` (per adapter, one step per ce-cycle) through ``group``; returns cycles, stall cycles.

    Steps: read adapters ``("r", address)``, ``("rf", address)`` (once address < limit), ``("lim", elements)``
    (sets limit, no read); write adapters
    ``("w", address, value)``, ``("f",)`` flush, ``("wf", address, value)`` both; any ``("n",)`` nothing;
    ``("x", base)`` a restart pulse with a new base (a write adapter's waits until it is idle). ``gap``:
    probability of ap_ce = 0 in a cycle."""
    rng = random.Random(seed)
    ap_ce = getattr(dut, f"{group}_ap_ce")
    todo = {m: list(reversed(programs.get(m, []))) for m in ports}
    cycles = stall_cycles = 0
    active = [ports[m] for m in ports if m in programs]
    for p in active:
        p.pending, p.pending_stall, p.reads, p.flush_to_idle = None, 0, [], []
        if p.kind == "write":       # the last run's count until this run's restart
            p.committed = p.verified = int(p.committed_sig.value)
    while True:
        await FallingEdge(dut.clk)
        stalls = {p.name: int(p.stall.value) for p in active}
        any_stall = any(stalls.values())
        for p in active:
            monitor(p, cycles, errors)
        for p in active:
            p.restart.value = 0
        finished = all(not todo[p.name] and p.pending is None and (p.kind != "write" or int(p.idle.value))
                       for p in active)
        if finished:
            ap_ce.value = 0
            for p in active:
                (p.we if p.kind == "write" else p.rd).value = 0
                if p.kind == "write":
                    p.flush.value = 0
            break
        if cycles >= max_cycles:
            errors.append(f"{group}: timeout after {cycles} cycles")
            break
        cycles += 1
        stall_cycles += any_stall
        for p in active:
            if p.pending is not None and stalls[p.name]:
                p.pending_stall += 1
        off = gap > 0 and rng.random() < gap
        ap_ce.value = 0 if off else 1
        if off or any_stall:
            continue
        for p in active:                        # a ce-cycle
            if p.kind == "write":
                step_write(p, todo[p.name], cycles)
            else:
                step_read(p, todo[p.name], errors)
    return {"cycles": cycles, "stall_cycles": stall_cycles}


def step_read(p: Port, todo: list[Step], errors: list[str]) -> None:
    if p.pending is not None:
        addr, want = p.pending
        got = int(p.q.value)
        if got != want and len(errors) < 50:
            errors.append(f"{p.prefix}: read {addr} gave {got:#x}, memory holds {want:#x}")
        p.reads.append((addr, p.pending_stall))
        p.pending, p.pending_stall = None, 0
    step = todo.pop() if todo else ("n",)
    p.rd.value = 0
    if step[0] == "rf" and step[1] >= int(p.limit_sig.value):
        todo.append(step)                       # a follower waits for the element to be committed
    elif step[0] in ("r", "rf"):
        p.rd.value, p.address.value = 1, step[1]
        p.pending = (step[1], p.element(step[1]))
    elif step[0] == "lim":
        p.limit = step[1]
        p.limit_sig.value = step[1]
    elif step[0] == "x":
        p.base = step[1]
        p.base_sig.value = step[1]
        p.restart.value = 1


def step_write(p: Port, todo: list[Step], cycle: int) -> None:
    p.we.value, p.flush.value = 0, 0
    if not todo:
        return
    step = todo[-1]
    if step[0] == "x":
        if not int(p.idle.value):
            return                              # a new run starts when the last one is written
        p.base = step[1]
        p.base_sig.value = step[1]
        p.restart.value = 1
        p.reset_unit()
    elif step[0] in ("w", "wf"):
        p.we.value, p.address.value, p.d.value = 1, step[1], step[2]
        p.written[step[1]] = step[2]
        if step[0] == "wf":                     # the last write and the flush in one cycle
            p.flush.value = 1
            p.flush_cycle = cycle
    elif step[0] == "f":
        p.flush.value = 1
        p.flush_cycle = cycle
    todo.pop()


def monitor(p: Port, cycle: int, errors: list[str]) -> None:
    """AXI rules on the adapter's master (AxiRam groups), committed / idle of a write adapter."""
    def err(msg: str) -> None:
        if len(errors) < 50:
            errors.append(f"{p.prefix} cycle {cycle}: {msg}")

    nb, bpw, bw, wb = p.p["DW"] // 8, p.p["BPW"], p.p["BW"], p.word_bytes
    if p.source is not None:
        p.limit = int(p.limit_sig.value)
    if p.kind == "write":
        c = int(p.committed_sig.value)
        if c < p.committed:
            err(f"committed fell from {p.committed} to {c}")
        p.committed = c
        if not p.fast:
            for i in range(p.verified, c):
                if i not in p.written:
                    err(f"committed {c} covers element {i}, never written")
                elif p.element(i) != p.written[i]:
                    err(f"committed {c} but element {i} is {p.element(i):#x} in memory, written {p.written[i]:#x}")
            p.verified = max(p.verified, c)
        if p.flush_cycle is not None and int(p.idle.value):
            p.flush_to_idle.append(cycle - p.flush_cycle)
            p.flush_cycle = None
    if p.fast:
        return
    channels = (("ar",) if p.kind != "write" else ("aw", "w"))
    for ch in channels:
        valid = int(getattr(p, f"{ch}valid").value)
        hold = getattr(p, f"{ch}_hold")
        if not valid:
            if hold is not None:
                err(f"{ch}valid dropped before its handshake")
            setattr(p, f"{ch}_hold", None)
            continue
        if ch == "w":
            payload: tuple[int, ...] = (int(p.wdata.value), int(p.wstrb.value), int(p.wlast.value))
        else:
            payload = tuple(int(getattr(p, f"{ch}{s}").value) for s in ("addr", "len", "size", "burst"))
        if hold is not None and payload != hold:
            err(f"{ch} payload changed before its handshake: {hold} -> {payload}")
        if hold is None and ch != "w":            # a new burst
            addr, length, size, burst = payload
            beats = length + 1
            if size != (nb - 1).bit_length() or burst != 1:
                err(f"{ch}size {size} / {ch}burst {burst}: not a full-width INCR burst")
            if addr % 4096 + beats * nb > 4096:
                err(f"{ch} burst at {addr:#x} of {beats} beats crosses 4 KB")
            off = addr - p.base
            w0, words = off // wb, beats // bpw
            if off % wb or beats % bpw or w0 < 0:
                err(f"{ch} burst at {addr:#x} ({beats} beats) is not whole words of the buffer at {p.base:#x}")
            if w0 // bw != (w0 + words - 1) // bw:
                err(f"{ch} burst of words [{w0}, {w0 + words}) crosses a {bw}-word block")
            if p.kind == "stream" and (w0 + words) * p.p["EPW"] >= p.limit + p.p["EPW"]:
                err(f"ar burst of words [{w0}, {w0 + words}) reaches past limit {p.limit} elements")
            if p.kind == "gather" and words != 1:
                err(f"gather burst of {words} words")
            p.bursts += 1
        ready = int(getattr(p, f"{ch}ready").value)
        setattr(p, f"{ch}_hold", None if ready else payload)


# ---- programs -------------------------------------------------------------------------------------------------


def settle(p: Port, latency: int) -> list[Step]:
    """Nothing for long enough that all prefetched bursts have landed."""
    return [("n",)] * (4 * (latency + 3 * p.p["BL"]) + 20)


def word_read(p: Port, rng: random.Random, w: int) -> Step:
    return ("r", w * p.p["EPW"] + rng.randrange(p.p["EPW"]))


def stream_program(p: Port, rng: random.Random, depth: int, latency: int, steps: int, base: int,
                   base2: int) -> list[Step]:
    """Window-edge probes; a random walk: mostly the next element, re-reads behind the reader, jumps; restarts
    with another base right after a jump (bursts in flight must be dropped)."""
    bw, prog = p.p["BW"], []
    # front edge: after reading words 0..BW and settling, the window is [BW, 3 BW): word 3 BW is not in it
    prog += [("x", base), *settle(p, latency)] + [word_read(p, rng, w) for w in range(bw + 1)]
    prog += [*settle(p, latency), word_read(p, rng, 3 * bw), word_read(p, rng, 3 * bw + 1)]
    # back edge: same, then word BW - 1 (just behind the window) and BW (its first word)
    prog += [("x", base), *settle(p, latency)] + [word_read(p, rng, w) for w in range(bw + 1)]
    prog += [*settle(p, latency), word_read(p, rng, bw), word_read(p, rng, bw - 1)]
    a = 0
    prog.append(("x", base))
    for _ in range(steps):
        r = rng.random()
        if r < 0.02:
            a = rng.randrange(depth)                            # jump: a miss
        elif r < 0.12:
            a = max(0, a - rng.randrange(1, 3 * p.p["EPW"]))    # re-read behind the reader
        elif r < 0.2:
            prog.append(("n",))
            continue
        elif r < 0.25:
            pass                                                # same element again
        else:
            a = (a + 1) % depth
        prog.append(("r", a))
    for k in range(6):
        prog += [word_read(p, rng, rng.randrange(depth // p.p["EPW"])), ("x", (base2, base)[k % 2])]
        prog += [("r", rng.randrange(depth)) for _ in range(rng.randrange(1, 4))]
    return prog


def gather_program(p: Port, rng: random.Random, depth: int, steps: int, base: int) -> list[Step]:
    prog: list[Step] = [("x", base)]
    a = 0
    for _ in range(steps):
        r = rng.random()
        if r < 0.4:
            a = (a // p.p["EPW"]) * p.p["EPW"] + rng.randrange(p.p["EPW"])   # same word: a hit
        elif r < 0.5:
            prog.append(("n",))
            continue
        else:
            a = rng.randrange(depth)
        prog.append(("r", a))
    return prog


def write_program(p: Port, rng: random.Random, count: int, base: int, gap: float = 0.2) -> list[Step]:
    """Sequential writes with random gaps, then flush: in the cycle after the last write, or with it."""
    prog: list[Step] = [("x", base)]
    for i in range(count):
        while rng.random() < gap:
            prog.append(("n",))
        prog.append(("w", i, rng.getrandbits(p.p["EW"])))
    if rng.random() < 0.5:
        return [*prog[:-1], ("wf", *prog[-1][1:])]
    return [*prog, ("f",)]


def check_written(p: Port, errors: list[str], mem: bytearray, before: bytearray) -> None:
    """After a flushed run: the elements as written (padding zero), every other byte untouched."""
    eb, n = p.p["EB"], len(p.written)
    expect = bytearray(before)
    for i, v in p.written.items():
        expect[p.base + i * eb:p.base + (i + 1) * eb] = v.to_bytes(eb, "little")
    if mem != expect:
        bad = [a for a in range(len(mem)) if mem[a] != expect[a]]
        errors.append(f"{p.prefix}: memory differs from the {n} elements written at {len(bad)} bytes, "
                      f"first {bad[0]:#x} (elements end at {p.base + n * eb:#x})")
    if int(p.error.value):
        errors.append(f"{p.prefix}: error flag set")
    if p.committed != n:
        errors.append(f"{p.prefix}: committed {p.committed} after the flush, {n} elements written")


def record(name: str, data: dict[str, Any]) -> None:
    path = Path(os.environ["LPGNAS_AXI_RESULT"])
    results = json.loads(path.read_text()) if path.exists() else {}
    results[name] = data
    path.write_text(json.dumps(results, indent=1))


def base_for(rng: random.Random, p: Port, elements: int) -> int:
    """A 4 KB-aligned base with room for ``elements``."""
    room = MEM_BYTES - elements * p.p["EB"]
    return rng.randrange(0, room // 4096) * 4096


# ---- tests ----------------------------------------------------------------------------------------------------

#: read latency / write-response latency / backpressure of the functional tests, per AxiRam group
FUNCTIONAL = {"c0": (2, 2, 0.3), "c1": (9, 4, 0.2), "c2": (5, 3, 0.4), "c3": (30, 20, 0.1)}


async def functional(dut: Any, test: str, member: str, make: Any, gap: float = 0.2) -> None:
    """Run one kind of adapter in every AxiRam group at once (random latency settings, backpressure)."""
    await_list, errors, out = [], [], {}
    await start(dut)
    for k, (group, (lat, blat, pause)) in enumerate(FUNCTIONAL.items()):
        ports = ports_of(dut, group)
        p = ports[member]
        fill_random(p, 100 + k)
        attach_ram(dut, p, lat, blat, seed=k, pause=pause)
        rng = random.Random(1000 + k)
        programs = {member: make(p, rng, lat)}
        await_list.append((group, p, cocotb.start_soon(
            run_unit(dut, group, ports, programs, errors, gap=gap, seed=k))))
    for group, p, task in await_list:
        stats = await task
        out[group] = {**stats, "reads": len(p.reads), "bursts": p.bursts}
        if p.kind == "write":
            out[group]["flush_to_idle"] = p.flush_to_idle
    record(test, {"errors": errors, "groups": out})
    assert not errors, errors[:5]


@cocotb.test()
async def stream_reads(dut: Any) -> None:
    """Stream adapters (EPW 4 / BPW 4 / EPW 2): window edges, sequential reads, re-reads, jumps; a limit that
    grows; a restart with a new base while bursts are in flight."""
    def make(p: Port, rng: random.Random, lat: int) -> list[Step]:
        depth = 1 << p.p["AW"]
        b0, b1 = base_for(rng, p, depth), base_for(rng, p, depth)
        prog = [("lim", depth), *stream_program(p, rng, depth, lat, 1500, b0, b1)]
        # limit: reads only below it, the limit grows (not always by whole words)
        lim = 3
        prog += [("lim", lim), ("x", b1)]
        a = 0
        while lim < 6 * p.p["BW"] * p.p["EPW"]:
            for _ in range(rng.randrange(1, 12)):
                prog.append(("r", a) if a < lim else ("n",))
                a = a + 1 if rng.random() < 0.8 else rng.randrange(lim)
            lim += rng.randrange(1, 2 * p.p["EPW"] * p.p["BW"])
            prog.append(("lim", lim))
        return prog

    await functional(dut, "stream_reads", "s", make)


@cocotb.test()
async def gather_reads(dut: Any) -> None:
    """Gather adapters: random reads (hits on the held word, misses), restarts with a new base."""
    def make(p: Port, rng: random.Random, lat: int) -> list[Step]:
        depth = 1 << p.p["AW"]
        prog = [("lim", depth)]
        for _ in range(3):
            prog += gather_program(p, rng, depth, 300, base_for(rng, p, depth))
        return prog

    await functional(dut, "gather_reads", "g", make)


@cocotb.test()
async def writes(dut: Any) -> None:
    """Write adapters: sequential writes and flush (partial last word and burst), two runs, backpressure."""
    errors: list[str] = []
    await start(dut)
    tasks = []
    for k, (group, (lat, blat, pause)) in enumerate(FUNCTIONAL.items()):
        p = ports_of(dut, group)["w"]
        fill_random(p, 200 + k)
        attach_ram(dut, p, lat, blat, seed=20 + k, pause=pause)
        tasks.append((group, p, random.Random(2000 + k)))
    out = {}
    for run in range(2):
        launched = []
        for group, p, rng in tasks:
            epw, bw = p.p["EPW"], p.p["BW"]
            count = (2 + run) * bw * epw + rng.randrange(1, bw * epw)
            if run == 1 and epw > 1:
                count -= count % epw + 1                # ends in a partial word
            base = base_for(rng, p, count + epw * bw)
            before = bytearray(p.mem)
            prog = write_program(p, rng, count, base, gap=0.3 if run else 0.0)
            task = cocotb.start_soon(run_unit(dut, group, {"w": p}, {"w": prog}, errors, gap=0.1, seed=run))
            launched.append((group, p, before, task))
        for group, p, before, task in launched:
            stats = await task
            check_written(p, errors, p.mem, before)
            out[f"{group}.{run}"] = {**stats, "count": len(p.written), "flush_to_idle": p.flush_to_idle}
    # a write to another address than the next one raises the sticky error flag
    p = tasks[0][1]
    skipped: list[str] = []
    await run_unit(dut, tasks[0][0], {"w": p}, {"w": [("x", 0), ("w", 0, 1), ("w", 2, 1), ("f",)]}, skipped)
    error_flag = [int(p.error.value)]
    await run_unit(dut, tasks[0][0], {"w": p}, {"w": [("n",)] * 3}, skipped)
    error_flag.append(int(p.error.value))
    record("writes", {"errors": errors, "groups": out, "error_flag_after_skip": error_flag})
    assert not errors, errors[:5]


@cocotb.test()
async def together(dut: Any) -> None:
    """Stream, gather and write adapters of one group at once: each one's stall stops the others (shared ce)."""
    errors: list[str] = []
    await start(dut)
    ports = ports_of(dut, "c1")
    rng = random.Random(7)
    for k, p in enumerate(ports.values()):
        fill_random(p, 300 + k)
        attach_ram(dut, p, 6, 3, seed=40 + k, pause=0.25)
    depth = 1 << ports["s"].p["AW"]
    s, g, w = ports["s"], ports["g"], ports["w"]
    w_before = bytearray(w.mem)
    programs = {"s": [("lim", depth), *stream_program(s, rng, depth, 6, 600, 0, 12288)],
                "g": [("lim", depth), *gather_program(g, rng, depth, 400, 4096)],
                "w": write_program(w, rng, depth - 1, 8192)}
    stats = await run_unit(dut, "c1", ports, programs, errors, gap=0.1, seed=3)
    check_written(w, errors, w.mem, w_before)
    record("together", {"errors": errors, **stats, "reads": len(s.reads) + len(g.reads)})
    assert not errors, errors[:5]


TIMING_LATENCIES = (2, 5, 12, 40)


@cocotb.test()
async def timing(dut: Any) -> None:
    """Stall cycles of directed sequences on AxiRam without backpressure (ap_ce = 1), per read latency (the
    write-response latency equal to it); a reset before each sequence, so nothing is in flight."""
    out: dict[str, Any] = {}
    errors: list[str] = []
    await start(dut)
    groups = {}
    for k, group in enumerate(("c0", "c1", "c3")):
        ports = ports_of(dut, group)
        rams = {}
        for m, p in ports.items():
            fill_random(p, 400 + k)
            rams[m] = attach_ram(dut, p, 2, 2, seed=0)
        groups[group] = (ports, rams)
    for lat in TIMING_LATENCIES:
        for group, (ports, rams) in groups.items():
            for ram in rams.values():
                ram.latency = lat
            s, w = ports["s"], ports["w"]
            depth, epw, bw = 1 << s.p["AW"], s.p["EPW"], s.p["BW"]
            rng = random.Random(5)
            rec: dict[str, Any] = {}

            async def run(m: str, prog: list[Step], ports: dict[str, Port] = ports, group: str = group,
                          depth: int = depth) -> Any:
                await reset(dut)
                st = await run_unit(dut, group, ports, {m: [("lim", depth), *prog] if m != "w" else prog}, errors)
                return st, ports[m]

            # stream: first read right after the restart; a cold miss at word k of a burst; sequential passes
            st, p = await run("s", [("x", 0), ("r", 0)])
            rec["stream_first_read"] = p.reads[-1][1]
            misses = {}
            for k in (0, 1, bw - 1):
                _, p = await run("s", [("x", 0), *settle(s, lat), ("r", (5 * bw + k) * epw)])
                misses[k] = p.reads[-1][1]
            rec["stream_cold_miss_by_word"] = misses
            n = 8 * bw * epw
            st, p = await run("s", [("x", 0), *[("r", i) for i in range(n)]])
            rec["stream_sequential"] = {"reads": n, "words": n // epw, "stall_cycles": st["stall_cycles"],
                                        "first": p.reads[0][1]}
            st, p = await run("s", [("x", 0), *settle(s, lat), *[("r", i) for i in range(n)]])
            rec["stream_sequential_settled"] = st["stall_cycles"]
            # steady state: cycles of 8 and of 16 bursts read sequentially
            rec["stream_steady"] = []
            for bursts in (8, 16):
                st, p = await run("s", [("x", 0), *[("r", i) for i in range(bursts * bw * epw)]])
                rec["stream_steady"].append(st["cycles"])
            # a miss while the first prefetched burst is in flight (a jump right after the restart)
            st, p = await run("s", [("x", 0), ("n",), ("r", depth // 2)])
            rec["stream_miss_in_flight"] = p.reads[-1][1]
            # gather: miss, hit, miss, hit
            st, p = await run("g", [("x", 0), ("r", 3 * epw), ("r", 3 * epw), ("r", 9 * epw), ("r", 10 * epw - 1)])
            rec["gather"] = [r[1] for r in p.reads]
            # write: back-to-back writes, flush
            for count in (bw * epw, 4 * bw * epw + epw // 2 + 1):
                before = bytearray(w.mem)
                st, p = await run("w", [("x", 0), *[("w", i, rng.getrandbits(w.p["EW"])) for i in range(count)],
                                        ("f",)])
                check_written(p, errors, p.mem, before)
                rec[f"write_{count}"] = {"stall_cycles": st["stall_cycles"], "cycles": st["cycles"],
                                         "flush_to_idle": p.flush_to_idle[-1], "words": -(-count // epw)}
            out[f"{group}.lat{lat}"] = rec
    record("timing", {"errors": errors, "results": out})
    assert not errors, errors[:5]


EQUIVALENT = {"f0": "c0", "f1": "c1"}


@cocotb.test()
async def fast_model_equivalence(dut: Any) -> None:
    """The same programs on AxiRam and on lpg_axi_mem (same LAT / BLAT, no backpressure): same cycles."""
    errors: list[str] = []
    out: dict[str, Any] = {}
    await start(dut)
    tasks = []
    for k, (fast, slow) in enumerate(EQUIVALENT.items()):
        g = _CFG["groups"][fast]
        lat, blat = g["lat"], g["blat"]
        fports, sports = ports_of(dut, fast), ports_of(dut, slow)
        programs: dict[str, list[Step]] = {}
        rng = random.Random(77 + k)
        depth = 1 << fports["s"].p["AW"]
        for m in ("s", "g", "w"):
            fill_random(fports[m], 500 + k)
            fill_random(sports[m], 500 + k)
            attach_ram(dut, sports[m], lat, blat, seed=0)
            write_image(fports[m])
        programs = {"s": [("lim", depth), *stream_program(fports["s"], rng, depth, lat, 800, 4096, 8192)],
                    "g": [("lim", depth), *gather_program(fports["g"], rng, depth, 300, 0)],
                    "w": [*write_program(fports["w"], rng, depth - 3, 12288),
                          *write_program(fports["w"], rng, depth // 3, 4096)]}
        tasks.append((fast, slow, fports, sports, programs))
    await pulse(dut, "f0_load")
    await pulse(dut, "f1_load")
    befores = {fast: bytearray(fports["w"].mem) for fast, _, fports, _, _ in tasks}
    runs = {name: cocotb.start_soon(run_unit(dut, name, ports, programs, errors, gap=0.1, seed=9))
            for fast, slow, fports, sports, programs in tasks for name, ports in ((fast, fports), (slow, sports))}
    for fast, slow, fports, sports, _ in tasks:
        fst, sst = await runs[fast], await runs[slow]
        rec = {"fast": fst, "axiram": sst, "stall_logs_equal": True}
        for m in ("s", "g"):
            if fports[m].reads != sports[m].reads:
                rec["stall_logs_equal"] = False
                diff = next(i for i, (a, b) in enumerate(zip(fports[m].reads, sports[m].reads, strict=False))
                            if a != b)
                errors.append(f"{fast}/{slow} {m}: read {diff} stalls differ: fast {fports[m].reads[diff]}, "
                              f"AxiRam {sports[m].reads[diff]}")
        if fports["w"].flush_to_idle != sports["w"].flush_to_idle:
            errors.append(f"{fast}/{slow} w: flush to idle fast {fports['w'].flush_to_idle}, "
                          f"AxiRam {sports['w'].flush_to_idle}")
        if fst != sst:
            errors.append(f"{fast}/{slow}: fast model {fst}, AxiRam {sst}")
        rec["reads"] = len(fports["s"].reads) + len(fports["g"].reads)
        rec["flush_to_idle"] = fports["w"].flush_to_idle
        out[fast] = rec
    # the fast model's written memory equals AxiRam's
    await pulse(dut, "f0_dump")
    await pulse(dut, "f1_dump")
    await FallingEdge(dut.clk)
    for fast, _slow, fports, sports, _ in tasks:
        image = read_image(fports["w"])
        if image != sports["w"].mem:
            bad = next(i for i in range(MEM_BYTES) if image[i] != sports["w"].mem[i])
            errors.append(f"{fast}: memory after the writes differs from AxiRam's, first at byte {bad:#x}")
        if image == befores[fast]:
            errors.append(f"{fast}: the writes did not reach the fast model's memory")
        if int(getattr(dut, f"{fast}_mem_error").value):
            errors.append(f"{fast}: lpg_axi_mem flagged a protocol error")
    record("fast_model_equivalence", {"errors": errors, "groups": out})
    assert not errors, errors[:5]


@cocotb.test()
async def follow(dut: Any) -> None:
    """Writer and follower on one memory (an off-chip buf_k): the stream adapter's limit is the write adapter's
    committed; the follower reads each element once it is committed (and re-reads some), two runs over the
    same buffer with other data (the restart must forget the first run's words)."""
    errors: list[str] = []
    out: dict[str, Any] = {}
    await start(dut)
    groups = [g for g, grp in _CFG["groups"].items() if grp.get("follow")]
    mutated = {g for g in groups if _CFG["groups"][g]["members"]["s"]["mut"]}
    caught: dict[str, list[str]] = {g: [] for g in mutated}
    setups = {}
    for k, group in enumerate(groups):
        grp = _CFG["groups"][group]
        ports = ports_of(dut, group)
        w, s = ports["w"], ports["s"]
        fill_random(w, 800 + k)
        if grp["mem"] == "fast":
            write_image(w)
            await pulse(dut, f"{group}_load")
        else:
            attach_ram(dut, w, grp["lat"], grp["blat"], seed=50 + k, pause=0.2)
            attach_ram(dut, s, grp["lat"], grp["blat"], seed=60 + k, pause=0.2)
        setups[group] = (ports, random.Random(90 + k))
    for run in range(2):
        tasks = {}
        for group, (ports, rng) in setups.items():
            w, s = ports["w"], ports["s"]
            count = (1 << w.p["AW"]) - rng.randrange(1, 3 * w.p["EPW"])
            prog_s: list[Step] = [("x", 4096)]
            for i in range(count):
                prog_s.append(("rf", i))
                if rng.random() < 0.1:
                    prog_s.append(("rf", max(0, i - rng.randrange(1, 4 * w.p["EPW"]))))
            programs = {"w": write_program(w, rng, count, 4096, gap=0.3), "s": prog_s}
            found = caught[group] if group in mutated else errors
            tasks[group] = cocotb.start_soon(run_unit(dut, group, ports, programs, found, gap=0.1, seed=run,
                                                      max_cycles=30_000))
        for group, task in tasks.items():
            ports = setups[group][0]
            stats = await task
            if group not in mutated:
                out[f"{group}.{run}"] = {**stats, "reads": len(ports["s"].reads),
                                         "written": len(ports["w"].written)}
            if int(ports["w"].error.value):
                errors.append(f"{group}: write adapter error flag")
    for group in groups:
        if _CFG["groups"][group]["mem"] == "fast" and int(getattr(dut, f"{group}_mem_error").value):
            errors.append(f"{group}: lpg_axi_mem flagged a protocol error")
    record("follow", {"errors": errors, "groups": out, "mutants": {g: v[:3] for g, v in caught.items()}})
    assert not errors, errors[:5]
    assert all(caught.values()), caught


@cocotb.test()
async def fast_model_backpressure(dut: Any) -> None:
    """lpg_axi_mem with its LFSR backpressure (group f2): stream, gather and write adapters at once, every
    read checked, the written memory dumped and checked."""
    errors: list[str] = []
    await start(dut)
    ports = ports_of(dut, "f2")
    rng = random.Random(13)
    for k, p in enumerate(ports.values()):
        fill_random(p, 700 + k)
        write_image(p)
    await pulse(dut, "f2_load")
    s, g, w = ports["s"], ports["g"], ports["w"]
    depth = 1 << s.p["AW"]
    before = bytearray(w.mem)
    programs = {"s": [("lim", depth), *stream_program(s, rng, depth, 20, 800, 4096, 8192)],
                "g": [("lim", depth), *gather_program(g, rng, depth, 400, 0)],
                "w": write_program(w, rng, depth - 1, 12288)}
    stats = await run_unit(dut, "f2", ports, programs, errors, gap=0.1, seed=5)
    await pulse(dut, "f2_dump")
    await FallingEdge(dut.clk)
    check_written(w, errors, read_image(w), before)
    if int(dut.f2_mem_error.value):
        errors.append("f2: lpg_axi_mem flagged a protocol error")
    record("fast_model_backpressure", {"errors": errors, **stats, "reads": len(s.reads) + len(g.reads),
                                       "written": len(w.written)})
    assert not errors, errors[:5]


@cocotb.test()
async def mutants(dut: Any) -> None:
    """Each mutated adapter (MUT parameter) runs the scenario of its kind: the checks must report it."""
    caught: dict[str, list[str]] = {}
    await start(dut)
    for group, g in _CFG["groups"].items():
        if not group.startswith("m"):
            continue
        await reset(dut)
        errors: list[str] = []
        ports = ports_of(dut, group)
        (m, p), = ports.items()
        fill_random(p, 600)
        attach_ram(dut, p, 4, 3, seed=1)
        rng = random.Random(61)
        depth = 1 << p.p["AW"]
        if p.kind == "write":
            before = bytearray(p.mem)
            prog = write_program(p, rng, 5 * p.p["BW"] * p.p["EPW"] + 3, 4096)
            await run_unit(dut, group, ports, {m: prog}, errors, max_cycles=20_000)
            check_written(p, errors, p.mem, before)
        else:
            prog = [("lim", depth), *stream_program(p, rng, depth, 4, 400, 4096, 8192)]
            await run_unit(dut, group, ports, {m: prog}, errors, max_cycles=20_000)
        caught[f"{group} (MUT={g['members'][m]['mut']}, {p.kind})"] = errors[:3]
    record("mutants", {"caught": caught})
    assert all(caught.values()), {k: v for k, v in caught.items() if not v}
