"""Multipliers: how one product maps to hardware, and what it costs.

The RTL (``lpg_mul``) has three shapes of product, chosen by the weight kind and the config's ``mult``:

* binary / ternary weight (WKIND 1 / 2): a conditional negation (and zeroing), ``XW + 1`` result bits:
  about one LUT per result bit on the carry chain, never a DSP;
* fix weight: a ``$mul`` of an ``XW``-bit by a ``WW``-bit signed operand. Yosys ``synth_xilinx`` maps it
  with ``mul2dsp`` (``DSP_A_MINWIDTH=2``, ``DSP_B_MINWIDTH=2``, ``DSP_Y_MINWIDTH=9``, signed only,
  A <= 25 (DSP48E1) / 27 (DSP48E2), B <= 18, wider operands split into 17-bit partial products):
  a product of at least 9 bits takes ``dsp_count`` DSP slices; narrower ones stay in LUTs
  (``$__soft_mul``). ``use_dsp`` attributes do not change what Yosys does; calibration showed
  what it does (see docs/cost_model.md).
* a soft ``$mul`` (auto, < 9 bits) costs a fitted coefficient times its partial-product bits ``XW * WW``;
* fix weight with ``mult = "lut"`` (``MULT_MAP`` 1): a shift-and-add over the weight's bits, no ``$mul``,
  so no DSP under any tool; ``WW - 1`` adders of on average ``XW + WW / 2`` bits,
  :data:`LUT_MULT_PER_ADDER_BIT` LUTs per bit (measured on synthesised units, docs/cost_model.md).

Optional packing of two ``<= 8``-bit products with a shared operand into one DSP48E2 (Xilinx WP486) is
available as :func:`dsp_count_packed` for what-if estimates; the RTL does not pack, so the default model
does not either.
"""

from __future__ import annotations

from lpgnas.hw_model import numeric as nm

DSP_LIMITS = {"xc7": (25, 18), "xcup": (27, 18)}
PARTIAL = 17
DSP_Y_MINWIDTH = 9


def uses_dsp(a_w, b_w):
    """A signed a_w x b_w product goes to DSPs (Yosys mul2dsp rule)."""
    return nm.logical_and(nm.logical_and(nm.ge(a_w, 2), nm.ge(b_w, 2)), nm.ge(a_w + b_w, DSP_Y_MINWIDTH))


def dsp_count(a_w, b_w, family: str):
    """DSP slices of one signed a_w x b_w product (0 if it stays in LUTs)."""
    amax, bmax = DSP_LIMITS[family]
    big, small = nm.maximum(a_w, b_w), nm.minimum(a_w, b_w)
    na = nm.where(nm.gt(big, amax), 1 + nm.ceil_div(nm.pos(big - amax), PARTIAL), 1.0)
    nb = nm.where(nm.gt(small, bmax), 1 + nm.ceil_div(nm.pos(small - bmax), PARTIAL), 1.0)
    return nm.where(uses_dsp(a_w, b_w), na * nb, 0.0)


def split_adder_bits(a_w, b_w, family: str):
    """Fabric adder bits of a product wider than one DSP slice: ``mul2dsp`` splits the wider operand into
    ``n`` slices and sums the ``n`` partial products with ``n - 1`` adders of about the product's width
    (``a_w + b_w`` bits) outside the slices; 0 for a product in one slice or in LUTs."""
    n = dsp_count(a_w, b_w, family)
    return nm.where(nm.gt(n, 1), (n - 1) * (a_w + b_w), 0.0)


def dsp_count_packed(a_w, b_w, family: str):
    """Two products sharing an operand in one DSP48E2 when both are <= 8 bits (what-if only)."""
    base = dsp_count(a_w, b_w, family)
    if family != "xcup":
        return base
    return nm.where(nm.logical_and(nm.le(a_w, 8), nm.le(b_w, 8)), base / 2, base)


#: LUTs per adder bit of lpg_mul's shift-and-add (MULT_MAP 1): the fit on single layer-0 transform units
#: synthesised with Yosys ``synth_xilinx``, not the 1.06 of the 12 small complete designs, which left the
#: DSE's Cora designs (hundreds of LUT lanes) 36% under; docs/cost_model.md lists both and the large units
LUT_MULT_PER_ADDER_BIT = 1.83


def lut_mult_adder_bits(x_w, w_w):
    """Adder bits of a shift-and-add product of an ``x_w``-bit activation by a ``w_w``-bit weight: the
    partial sum after weight bit b is ``x_w + b + 1`` bits wide, so ``w_w - 1`` adders of on average about
    ``x_w + w_w / 2`` bits (bit 0's term needs no adder)."""
    return nm.pos(w_w - 1) * (x_w + w_w / 2)


def lut_mult_lut(x_w, w_w):
    """LUTs of one shift-and-add product (``mult = "lut"``)."""
    return LUT_MULT_PER_ADDER_BIT * lut_mult_adder_bits(x_w, w_w)


def soft_mult_bits(a_w, b_w):
    """LUT multiplier size proxy: partial-product bits a_w * b_w."""
    return a_w * b_w
