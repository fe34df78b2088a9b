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


def axi_port_params(kind: str, element_bits: int, data_bits: int, depth: int) -> dict[str, int]:
    """Parameters of one adapter: element width ``EW``, ``EB`` bytes per element, bus width ``DW``, word width
    ``RWB``, ``EPW`` elements per word, ``BPW`` beats per word, burst length ``BL`` beats (whole words, within
    4 KB), ``BW`` words per burst, ``TILE`` words of on-chip tile (stream: two bursts, double buffered; gather:
    one word; write: two bursts of queue), ``AW`` element address bits of the unit-side port for ``depth``
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
    tile = 1 if kind == "gather" else 2 * bw
    return {
        "EW": element_bits, "EB": eb, "DW": data_bits, "RWB": rwb, "EPW": epw, "BPW": bpw, "BL": bl, "BW": bw,
        "TILE": tile, "AW": max(1, (max(depth, 2) - 1).bit_length()), "MAW": AXI_ADDR_BITS,
    }
