"""Memories to BRAM / LUTRAM / logic, the way Yosys ``memory_libmap`` maps them for ``synth_xilinx``.

Block RAM shapes (UG473 for 7-series, UG573 for UltraScale+): a RAMB18 is 16Kx1, 8Kx2, 4Kx4, 2Kx9,
1Kx18 or (simple dual port) 512x36; a RAMB36 doubles each depth and adds 512x72. A memory of
``width x depth`` words tiles one shape: ``ceil(width / w) * ceil(depth / d)`` blocks.

Which resource a memory takes is a cost comparison (fitted on Yosys 0.70 runs of ``lpg_ram``, see
``hw_model/calibration.json`` and docs/cost_model.md):

* block RAM: the cheapest shape, RAMB18 cost 128, RAMB36 cost 256 (a RAMB36 wins ties with two
  RAMB18s);
* distributed RAM (simple dual port RAMs: 7-series RAM64M = 64 x 3 bits, RAM32M = 32 x 6, cost 8 per
  cell; UltraScale+ RAM64M8 = 64 x 7, RAM32M16 = 32 x 14, cost 16) costs in proportion to the bits
  used (``widthscale``), times ``ceil(depth / 64)`` cascaded banks for depths above 64;
* the memory goes to LUTRAM when its LUTRAM cost is strictly below its block-RAM cost, else to block RAM.
  The threshold is therefore about 128 "cost units": 7-series, depth <= 64: LUTRAM up to 47 bits wide
  ... 100s (block RAM would need several RAMB18); depth 256: LUTRAM below 12 bits wide.
* ROMs (weights, biases) cannot use LUTRAM (``prune_rom``): block RAM, or logic when tiny
  (``rom_logic_max_bits``): a random-content ROM of ``d <= 64`` words costs about one LUT6 per output
  bit per 64 words.

All functions here take plain numbers or torch tensors (see :mod:`hw_model.numeric`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hw_model import numeric as nm

#: (width, depth) shapes of a RAMB18 (simple dual port allows 36 bits) and of a RAMB36
RAMB18_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))
RAMB36_SHAPES = ((1, 32768), (2, 16384), (4, 8192), (9, 4096), (18, 2048), (36, 1024), (72, 512))
BRAM18_COST = 128.0
BRAM36_COST = 256.0
#: distributed RAM cells (simple dual port): {family: ((depth, bits per cell, LUTs per cell), ...), cost}
LUTRAM_CELLS = {
    "xc7": (((32, 6, 4), (64, 3, 4)), 8.0),
    "xcup": (((32, 14, 8), (64, 7, 8)), 16.0),
}
RAMB18_BITS = 18 * 1024
URAM_SHAPE = (72, 4096)


@dataclass
class MemoryCost:
    """Resources of one memory."""

    bram18: object = 0.0
    bram36: object = 0.0
    lutram: object = 0.0  # LUTs used as memory
    lut: object = 0.0     # LUTs of read multiplexers / ROM logic
    ff: object = 0.0      # output register when not inside the RAM primitive
    bits: object = 0.0

    @property
    def bram36_equiv(self):
        return self.bram36 + self.bram18 / 2


def bram_blocks(width, depth, shape) -> object:
    """Blocks of one ``(w, d)`` shape needed for ``width x depth``."""
    w, d = shape
    return nm.ceil_div(width, w) * nm.ceil_div(depth, d)


def bram_choice(width, depth) -> tuple[object, object, object]:
    """(RAMB18 count, RAMB36 count, cost) of the cheapest uniform tiling (Yosys's choice)."""
    best18 = None
    for s in RAMB18_SHAPES:
        n = bram_blocks(width, depth, s)
        best18 = n if best18 is None else nm.minimum(best18, n)
    best36 = None
    for s in RAMB36_SHAPES:
        n = bram_blocks(width, depth, s)
        best36 = n if best36 is None else nm.minimum(best36, n)
    c18, c36 = best18 * BRAM18_COST, best36 * BRAM36_COST
    use36 = nm.le(c36, c18)
    return nm.where(use36, 0.0, best18), nm.where(use36, best36, 0.0), nm.minimum(c18, c36)


def lutram_choice(width, depth, family: str) -> tuple[object, object, object]:
    """(LUTs as memory, read-mux LUTs, cost) of the cheapest distributed-RAM mapping."""
    (shallow, deep), cell_cost = LUTRAM_CELLS[family]
    d32, b32, l32 = shallow
    d64, b64, l64 = deep
    cost32 = cell_cost * width / b32
    banks = nm.ceil_div(depth, d64)
    cost64 = cell_cost * width / b64 * banks
    small = nm.le(depth, d32)
    luts = nm.where(small, nm.ceil_div(width, b32) * l32, nm.ceil_div(width, b64) * banks * l64)
    # bank select: a (banks:1) mux per bit, one LUT6 per 4 inputs (+ MUXF7/F8 levels)
    mux = nm.where(nm.gt(banks, 1), width * nm.ceil_div(banks, 4) + nm.where(nm.gt(banks, 4), width, 0.0), 0.0)
    return luts, mux, nm.where(small, cost32, cost64)


def ram_cost(width, depth, family: str) -> MemoryCost:
    """A simple dual-port RAM with a registered read port (``lpg_ram``)."""
    b18, b36, bcost = bram_choice(width, depth)
    luts, mux, lcost = lutram_choice(width, depth, family)
    use_lutram = nm.gt(bcost, lcost)
    zero = 0.0
    return MemoryCost(
        bram18=nm.where(use_lutram, zero, b18), bram36=nm.where(use_lutram, zero, b36),
        lutram=nm.where(use_lutram, luts, zero), lut=nm.where(use_lutram, mux, zero),
        ff=nm.where(use_lutram, width, zero), bits=width * depth,
    )


#: ROMs of at most this many bits (and at most 64 words... see rom_cost) are left to logic
ROM_LOGIC_MAX_WORDS = 64


def rom_cost(width, depth, family: str, rom_lut_per_bit_word: float = 1.0 / 64, logic_bits: float = 1024.0
             ) -> MemoryCost:
    """A ROM with a registered output (``lpg_rom``): block RAM, or LUT logic when small.

    Yosys maps a ROM to block RAM when it saves cost; tiny ROMs (``width * depth < logic_bits`` or fewer
    words than a BRAM row's worth) become LUTs: about ``width * depth / 64`` LUT6s for random contents plus
    the output register.
    """
    b18, b36, _ = bram_choice(width, depth)
    small = nm.lt(width * depth, logic_bits)
    luts = width * nm.maximum(nm.ceil_div(depth, 64), 1.0) * nm.where(nm.gt(depth, 64), 1.25, 1.0)
    return MemoryCost(
        bram18=nm.where(small, 0.0, b18), bram36=nm.where(small, 0.0, b36),
        lut=nm.where(small, luts * rom_lut_per_bit_word * 64, 0.0), ff=nm.where(small, width, 0.0),
        bits=width * depth,
    )
