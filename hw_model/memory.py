"""Memories to BRAM / LUTRAM / logic, the way Yosys ``memory_libmap`` maps them for ``synth_xilinx``.

Block-RAM shapes, the mapping costs read from Yosys and the LUTRAM threshold are in docs/cost_model.md
("BRAM / LUTRAM"). All functions here take plain numbers or torch tensors (see :mod:`hw_model.numeric`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from lpgnas.hw_model import numeric as nm

#: (width, depth) shapes of a RAMB18 (simple dual port allows 36 bits) and of a RAMB36
RAMB18_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))
RAMB36_SHAPES = ((1, 32768), (2, 16384), (4, 8192), (9, 4096), (18, 2048), (36, 1024), (72, 512))
#: a memory with two read ports takes the block in true dual port mode, which lacks the widest shape
TDP_SHAPES = {18: RAMB18_SHAPES[:-1], 36: RAMB36_SHAPES[:-1]}
#: memory_libmap costs (Yosys 0.70, read from ``debug synth_xilinx``): n blocks cost 129 n + 2 (RAMB18)
#: or 257 n + 2 (RAMB36); one bit of a ROM lowered to logic costs 1/64
BRAM18_COST, BRAM36_COST, BRAM_COST0 = 129.0, 257.0, 2.0
ROM_LOGIC_COST_PER_BIT = 1.0 / 64
#: distributed RAM (simple dual port) per family: (depth, bits per cell, LUTs per cell) of the shallow and
#: the deep cell, memlib ``cost`` and ``widthscale`` (cost of a cell = cost - ws + ws * used/bits)
LUTRAM_CELLS = {
    "xc7": (((32, 6, 4), (64, 3, 4)), 8.0, 7.0),  # RAM32M, RAM64M
    "xcup": (((32, 14, 8), (64, 7, 8)), 16.0, 16.0),  # RAM32M16, RAM64M8
}
#: cascading banks of 64 words: read mux (score W * (banks - 1)) and write demux (score banks), each
#: costed 0.5 per unit, plus 2
MUX_COST, DEMUX_COST, CASCADE_COST = 0.5, 0.5, 2.0


@dataclass
class MemoryCost:
    """Resources of one memory."""

    bram18: object = 0.0
    bram36: object = 0.0
    lutram: object = 0.0  # LUTs used as memory
    lut: object = 0.0  # LUTs of read multiplexers / ROM logic
    ff: object = 0.0  # output register when not inside the RAM primitive
    bits: object = 0.0

    @property
    def bram36_equiv(self):
        return self.bram36 + self.bram18 / 2

    def __add__(self, other: MemoryCost) -> MemoryCost:
        return MemoryCost(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def times(self, n) -> MemoryCost:
        """``n`` copies."""
        return MemoryCost(*(n * getattr(self, f.name) for f in fields(self)))


def bram_blocks(width, depth, shape) -> object:
    """Blocks of one ``(w, d)`` shape needed for ``width x depth``."""
    w, d = shape
    return nm.ceil_div(width, w) * nm.ceil_div(depth, d)


def bram_choice(width, depth, read_ports: int = 1) -> tuple[object, object, object]:
    """(RAMB18 count, RAMB36 count, cost) of the cheapest uniform tiling (Yosys's choice); a ROM with two
    read ports tiles the true-dual-port shapes only (:data:`TDP_SHAPES`)."""
    shapes18, shapes36 = (RAMB18_SHAPES, RAMB36_SHAPES) if read_ports == 1 else (TDP_SHAPES[18], TDP_SHAPES[36])
    best18 = None
    for s in shapes18:
        n = bram_blocks(width, depth, s)
        best18 = n if best18 is None else nm.minimum(best18, n)
    best36 = None
    for s in shapes36:
        n = bram_blocks(width, depth, s)
        best36 = n if best36 is None else nm.minimum(best36, n)
    c18, c36 = best18 * BRAM18_COST + BRAM_COST0, best36 * BRAM36_COST + BRAM_COST0
    use36 = nm.lt(c36, c18)
    return nm.where(use36, 0.0, best18), nm.where(use36, best36, 0.0), nm.minimum(c18, c36)


def lutram_choice(width, depth, family: str) -> tuple[object, object, object]:
    """(LUTs as memory, read-mux LUTs, memory_libmap cost) of the cheapest distributed-RAM mapping: either
    cell type (32-deep or 64-deep), cascaded in ``ceil(depth / cell depth)`` banks."""
    cells, cell_cost, ws = LUTRAM_CELLS[family]
    best = None
    for d_c, b_c, l_c in cells:
        banks = nm.ceil_div(depth, d_c)
        n = nm.ceil_div(width, b_c)
        cascade = nm.gt(banks, 1)
        # read-mux score: W * (banks - 1) on 7-series (measured up to 8 banks); on UltraScale+ (MUXF9) the
        # measured threshold fits W * ceil(log2(banks)) (a 256 x 12 RAM goes to LUTRAM on xcup, BRAM on xc7)
        mux_levels = nm.clog2(banks) if family == "xcup" else banks - 1
        cost = banks * (n * (cell_cost - ws) + ws * width / b_c) + nm.where(
            cascade, MUX_COST * width * mux_levels + DEMUX_COST * banks + CASCADE_COST, 0.0
        )
        luts = n * banks * l_c
        # bank select: a banks:1 mux per bit (LUT6 + MUXF7/F8 per 4 banks) and a write decoder
        mux = nm.where(cascade, width * nm.ceil_div(banks, 4) + banks + nm.where(nm.gt(banks, 2), 2.0, 0.0), 0.0)
        if best is None:
            best = (luts, mux, cost)
        else:
            better = nm.lt(cost, best[2])
            best = tuple(nm.where(better, new, old) for new, old in zip((luts, mux, cost), best, strict=True))
    return best


def ram_cost(width, depth, family: str) -> MemoryCost:
    """A simple dual-port RAM with a registered read port (``lpg_ram``)."""
    b18, b36, bcost = bram_choice(width, depth)
    luts, mux, lcost = lutram_choice(width, depth, family)
    use_lutram = nm.lt(lcost, bcost)
    zero = 0.0
    return MemoryCost(
        bram18=nm.where(use_lutram, zero, b18),
        bram36=nm.where(use_lutram, zero, b36),
        lutram=nm.where(use_lutram, luts, zero),
        lut=nm.where(use_lutram, mux, zero),
        ff=nm.where(use_lutram, width, zero),
        bits=width * depth,
    )


def rom_cost(width, depth, family: str, read_ports: int = 1) -> MemoryCost:
    """A ROM with a registered output (``lpg_rom``): block RAM, or logic when that costs less.

    ``memory_libmap`` cannot put ROMs in LUTRAM (``prune_rom``); it lowers a ROM to logic when
    ``width * depth / 64`` is below the block-RAM cost. Random contents then take about one LUT per output
    bit per 64 words (LUT6 + MUXF7/F8 above 64 words) plus the output register; ROMs of 2 or 4 words
    have few distinct bit functions, which Yosys merges (a handful of LUTs / FFs).
    ``read_ports`` 2 (the sparse transform's weight ROM): one block RAM in true dual port mode; as logic, each
    port its own read mux and register, against the same one-port logic cost (docs/cost_model.md).
    """
    b18, b36, bcost = bram_choice(width, depth, read_ports)
    logic = nm.lt(width * depth * ROM_LOGIC_COST_PER_BIT, bcost)
    tiny2, tiny4 = nm.le(depth, 2), nm.le(depth, 4)
    luts = nm.where(tiny2, 0.0, nm.where(tiny4, nm.minimum(width, 10.0) * 0.3, width * nm.ceil_div(depth, 64)))
    ffs = nm.where(tiny2, nm.minimum(width, 2.0), nm.where(tiny4, nm.minimum(width, 14.0), width))
    return MemoryCost(
        bram18=nm.where(logic, 0.0, b18),
        bram36=nm.where(logic, 0.0, b36),
        lut=nm.where(logic, read_ports * luts, 0.0),
        ff=nm.where(logic, read_ports * ffs, 0.0),
        bits=width * depth,
    )


def rom_copies_cost(width, depth, family: str, reads) -> MemoryCost:
    """``reads`` read ports of one ROM's contents, served by copies of two read ports each (an odd port by a
    one-port copy): the sparse transform's weight ROM (``ROM_COPIES = ceil(reads / 2)``)."""
    odd = reads % 2
    return rom_cost(width, depth, family, 2).times((reads - odd) / 2) + rom_cost(width, depth, family, 1).times(odd)
