"""An off-chip buffer's AXI4 master port (``lpg_axi_rd.v``, ``lpg_axi_wr.v``): its parameters, derived once.

The RTL writer passes :func:`axi_port_params` to the adapter instances and the cost model reads the same dict
(tile shapes, burst lengths), so the estimate cannot drift from the design. Layout in external memory: element
``i`` of a buffer at byte ``base + i * EB`` (``EB`` a power of two >= the element's bytes, little-endian, the
element in the low bits); ``base`` 4 KB aligned. The adapters move *words* of ``RWB = max(DW, 8 * EB)`` bits:
``EPW`` elements per word, ``BPW`` beats of the ``DW``-bit bus per word. See docs/rtl.md "Off-chip buffers".
"""

from __future__ import annotations

from lpgnas.errors import LpgnasError

#: AXI address width (Vitis HLS m_axi pointers are 64 bit)
AXI_ADDR_BITS = 64
#: beats per burst (Vitis HLS's default max_read_burst_length / max_write_burst_length)
BURST_BEATS = 16
#: AXI4: a burst must not cross a 4 KB boundary
BOUNDARY_BYTES = 4096
#: adapter kinds: sequential reads with prefetch into a double-buffered tile, random reads of one word on a
#: miss, sequential writes
KINDS = ("stream", "gather", "write")


def element_bytes(bits: int) -> int:
    """Bytes one element takes in external memory: the next power of two >= ``ceil(bits / 8)``."""
    if bits < 1:
        raise LpgnasError(f"an off-chip element needs at least one bit, got {bits}")
    b = (bits + 7) // 8
    return 1 << (b - 1).bit_length()


def axi_port_params(kind: str, element_bits: int, data_bits: int, depth: int, latency: int = 0) -> dict[str, int]:
    """Parameters of one adapter: element width ``EW``, ``EB`` bytes per element, bus width ``DW``, word width
    ``RWB``, ``EPW`` elements per word, ``BPW`` beats per word, burst length ``BL`` beats (whole words, within
    4 KB), ``BW`` words per burst, ``TILE`` words of on-chip tile (stream: at least two bursts, double buffered,
    more when the memory's read ``latency`` (kernel cycles) outlasts a burst; gather: one word; write: two bursts
    of queue), ``AW`` element address bits of the unit-side port for ``depth``
    elements, ``MAW`` the AXI address width."""
    if kind not in KINDS:
        raise LpgnasError(f"unknown AXI adapter kind {kind!r}; known: {', '.join(KINDS)}")
    if data_bits < 8 or data_bits & (data_bits - 1):
        raise LpgnasError(f"AXI data width must be a power of two >= 8 bits, got {data_bits}")
    eb = element_bytes(element_bits)
    rwb = max(data_bits, 8 * eb)
    epw, bpw = rwb // (8 * eb), rwb // data_bits
    bl = max(bpw, min(BURST_BEATS, BOUNDARY_BYTES * 8 // data_bits) // bpw * bpw)
    bw = bl // bpw
    # a stream keeps TILE / BW - 1 bursts ahead of its reader: enough for a read per cycle to outlast the read
    # ``latency`` (cycles per burst at one read a cycle: BW * max(EPW, BPW)); a power of two, at least two bursts
    ahead = -(-(latency + 1) // (bw * max(epw, bpw))) + 1
    tile = 1 if kind == "gather" else bw * (1 << max(1, (ahead - 1).bit_length()))
    return {
        "EW": element_bits, "EB": eb, "DW": data_bits, "RWB": rwb, "EPW": epw, "BPW": bpw, "BL": bl, "BW": bw,
        "TILE": tile, "AW": max(1, (max(depth, 2) - 1).bit_length()), "MAW": AXI_ADDR_BITS,
    }


# ---- cost of one adapter (FINN style: from its parameter dict) ------------------------------------------------
# LUT / FF are structural counts with coefficient 1 (counters, comparators, the AXI channel registers), to be
# calibrated on Yosys runs of lpg_axi_rd / lpg_axi_wr once they exist; the tile goes through the memory mapping
# every other RAM of the design takes (hw_model.memory.ram_cost). Stall constants are named so the RTL's
# measured cycles can replace them (docs/cost_model.md, "Off-chip buffers").

from lpgnas.hw_model import numeric as nm  # noqa: E402, I001  (the section above is the RTL contract's)
from lpgnas.hw_model.memory import MemoryCost, ram_cost  # noqa: E402

#: cycles a stream restart (a run's start, a read outside the window) takes beyond the read latency and the
#: word's BPW beats: the AR handshake, the tile write and the read-data register (assumed; to fit on the RTL)
RESTART_CYCLES = 3
#: cycles a gather miss takes beyond the read latency and BPW beats (AR handshake, data register; assumed)
GATHER_CYCLES = 2
#: cycles a write step's drain takes beyond the write-response latency and the last burst's BL beats (assumed)
DRAIN_CYCLES = 2
#: cycles from a B response to the follower seeing ``rows_ready = committed`` move (assumed)
COMMIT_CYCLES = 1
#: AXI channel bits beside the address and data: AxLEN 8, AxSIZE 3, AxBURST 2, AxVALID 1
AXI_CTRL_BITS = 14


def _word_address_bits(p):
    """Bits of a word index into the buffer: the element address less the elements-per-word bits."""
    return nm.maximum(p["AW"] - nm.clog2(p["EPW"]), 1.0)


def _select_mux(width, ways):
    """LUTs of a ``ways``:1 multiplexer of ``width`` bits (LUT6 + MUXF7/F8: one LUT per bit per 4 ways); none
    for one way."""
    return nm.where(nm.gt(ways, 1), width * nm.ceil_div(ways, 4), 0.0)


def adapter_ff_features(kind: str, p) -> dict:
    """Flip-flops of one adapter, by structure: the address channel (``MAW`` + :data:`AXI_CTRL_BITS`), the word
    counters (stream: issued, arrived, restart word, reader; gather: the held word's tag; write: elements
    written, committed), the beat counter, the tile pointers, the data registers (stream / gather: a word being
    assembled from BPW beats and the element handed to the unit; write: the word being packed and its strobes,
    the W channel's data, strobes and last)."""
    waw = _word_address_bits(p)
    beat = nm.clog2(p["BPW"]) + 1
    channel = p["MAW"] + AXI_CTRL_BITS
    if kind == "stream":
        return {"channel": channel, "counters": 4 * waw, "beat": beat, "tile": 3 * (nm.clog2(p["TILE"]) + 1),
                "data": p["RWB"] - p["DW"] + p["EW"], "ctrl": 4.0}
    if kind == "gather":
        return {"channel": channel, "counters": waw + 1, "beat": beat, "tile": 0.0, "data": p["RWB"] + p["EW"],
                "ctrl": 3.0}
    if kind == "write":
        return {"channel": channel, "counters": 2 * p["AW"] + 4, "beat": nm.clog2(p["BL"]) + 1,
                "tile": 3 * (nm.clog2(p["TILE"]) + 1), "data": p["RWB"] * 9 / 8 + p["DW"] * 9 / 8 + 1,
                "ctrl": 4.0}
    raise LpgnasError(f"unknown AXI adapter kind {kind!r}; known: {', '.join(KINDS)}")


def adapter_lut_features(kind: str, p) -> dict:
    """LUTs of one adapter, by structure: the byte-address adder (``MAW`` bits), one LUT per counter bit
    (incrementers on the carry chain), comparators at half a LUT per bit (stream: the window's two bounds, the
    prefetch test ``issued + BW <= reader + TILE`` and the limit; gather: the tag; write: queue full / burst
    ready), the element select (``EPW``:1 of ``EW`` bits) or the word packing and the W channel's beat select
    (``BPW``:1 of ``DW`` bits)."""
    waw = _word_address_bits(p)
    if kind == "stream":
        return {"address": p["MAW"], "counters": 4 * waw, "compare": 0.5 * 5 * waw + waw,
                "select": _select_mux(p["EW"], p["EPW"]), "ctrl": 8.0}
    if kind == "gather":
        return {"address": p["MAW"], "counters": nm.clog2(p["BPW"]) + 1, "compare": 0.5 * waw,
                "select": _select_mux(p["EW"], p["EPW"]), "ctrl": 6.0}
    if kind == "write":
        return {"address": p["MAW"], "counters": 2 * p["AW"] + nm.clog2(p["BL"]) + 1,
                "compare": 0.5 * 2 * (nm.clog2(p["TILE"]) + 1),
                "select": _select_mux(p["DW"], p["BPW"]) + nm.where(nm.gt(p["EPW"], 1), p["RWB"] / 4, 0.0),
                "ctrl": 8.0}
    raise LpgnasError(f"unknown AXI adapter kind {kind!r}; known: {', '.join(KINDS)}")


def adapter_memory(kind: str, p, family: str):
    """The adapter's tile as the design's other RAMs map (:func:`hw_model.memory.ram_cost`): stream and write
    ``TILE`` words of ``RWB`` bits (BRAM or LUTRAM by size); gather holds one word in registers (in the FFs)."""
    if kind == "gather":
        return MemoryCost()
    return ram_cost(p["RWB"], p["TILE"], family)


def adapter_cost(kind: str, p, family: str) -> dict:
    """``lut`` (logic), ``lutram``, ``ff``, ``bram18``, ``bram36`` of one adapter (structural, coefficient 1)."""
    m = adapter_memory(kind, p, family)
    return {
        "lut": sum(adapter_lut_features(kind, p).values()) + m.lut,
        "lutram": m.lutram,
        "ff": sum(adapter_ff_features(kind, p).values()) + m.ff,
        "bram18": m.bram18,
        "bram36": m.bram36,
    }


def restart_stall(p, latency, beat_cycles=1.0):
    """Cycles one stream restart stalls: the read latency, the word's ``BPW`` beats, :data:`RESTART_CYCLES`."""
    return latency + p["BPW"] * beat_cycles + RESTART_CYCLES


def stream_stalls(p, latency, words, restarts, consumer_cycles, beat_cycles=1.0):
    """Stall cycles of a stream read adapter over one step: ``restarts`` restarts (:func:`restart_stall`; the
    run's start and every read outside the window), each bringing in its first burst, and the other bursts of the
    ``words`` streamed in steady state: the next burst is issued one burst ahead of the reader, so a consumer
    that takes at least ``latency + BL`` ce-cycles per ``BW`` words (``consumer_cycles`` per burst) never waits,
    a faster one waits the shortfall once per burst. ``beat_cycles``: cycles per bus beat (1 at the port's
    peak)."""
    bursts = nm.ceil(words / p["BW"])
    steady = nm.maximum(bursts - restarts, 0.0)
    ahead = p["TILE"] / p["BW"] - 1  # bursts kept ahead of the reader
    shortfall = nm.maximum(nm.maximum(latency + p["BL"] * beat_cycles - ahead * consumer_cycles,
                                      p["BL"] * beat_cycles - consumer_cycles), 0.0)
    return restarts * restart_stall(p, latency, beat_cycles) + steady * shortfall


def gather_stalls(p, latency, misses, beat_cycles=1.0):
    """Stall cycles of a gather read adapter: every read of another word than the last fetches it alone (the
    read latency, ``BPW`` beats, :data:`GATHER_CYCLES`)."""
    return misses * (latency + p["BPW"] * beat_cycles + GATHER_CYCLES)


def write_stalls(p, write_latency, words, production_cycles, runs=1, beat_cycles=1.0):
    """Stall cycles of a write adapter over ``runs`` writing steps of ``words`` words in all, produced in
    ``production_cycles`` ce-cycles: the queue stalls the writer only when production outruns the port (more
    than one word per ``BPW`` beats), by the difference; each step then drains its last burst and waits for its
    B response (``write_latency + BL`` beats + :data:`DRAIN_CYCLES`) before the step can end."""
    overrun = nm.maximum(words * p["BPW"] * beat_cycles - production_cycles, 0.0)
    return overrun + runs * (write_latency + p["BL"] * beat_cycles + DRAIN_CYCLES)


def commit_delay(p, write_latency, beat_cycles=1.0):
    """Cycles by which a follower reading an off-chip ``buf_<k>`` sees a row late beyond the rest of its burst:
    the burst's beats, the B response and :data:`COMMIT_CYCLES` (rows commit a burst, ``BW`` words, at a
    time)."""
    return write_latency + p["BL"] * beat_cycles + COMMIT_CYCLES
