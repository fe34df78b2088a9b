"""Activations of the aggregation unit's finaliser, one estimate function per registry activation.

Each lane of ``lpg_aggregate``'s finaliser applies the activation to the re-quantised aggregation code
(``AGG_W`` bits, binary point ``agg_frac``) before the output re-quantiser (``lpgnas.golden``'s
``ACTIVATION_FUNCTIONS``):

* ``relu``, ``identity``: a sign test and a zeroing mux (relu) or wires; part of the aggregation unit's
  fitted terms, nothing extra here;
* ``leaky_relu``: ``x >= 0 ? x : (x * 10 + 512) >> 10``: a shift-add constant product (``x*8 + x*2``),
  the rounding adder and the select (``shift`` logic);
* ``relu6``: two compares and a clamp mux (``min(max(x, 0), six)``);
* ``elu``, ``tanh``, ``sigmoid``, ``softplus``: a lookup table (``lpgnas.tables``) per lane: the index
  ``clamp(x >> shift, lo, hi) - lo`` (two compares, an index mux) and a ROM of ``table_depth(frac)``
  words of ``AGG_W`` bits (block RAM or logic, :func:`hw_model.memory.rom_cost`); ``elu`` selects
  ``x`` for ``x >= 0``, ``softplus`` selects ``x`` above the table's range.

``p`` holds the aggregation unit's parameters (``P_AGG``, ``AGG_W``, ``AGG_SIGNED``, ``ACT``: the
activation's code, ``ACT_FRAC``: the aggregation format's binary point); values may be tensors.
Every function returns per-unit (all lanes) figures; :data:`ACTIVATION_COSTS` maps each registry
activation to its function.
"""

from __future__ import annotations

from hw_model import numeric as nm
from hw_model.memory import MemoryCost, rom_cost
from hw_model.params import ACT_CODE
from lpgnas.tables import TABLE_FRAC, TABLE_RANGE

#: activations that look up a table (lpgnas.operators.ACTIVATIONS[...].table)
TABLE_ACTIVATIONS = ("elu", "tanh", "sigmoid", "softplus")


def table_depth(frac):
    """Entries of a table indexed by codes with binary point ``frac`` (``lpgnas.tables.table_index``):
    ``2 * max(TABLE_RANGE * 2**min(frac, TABLE_FRAC), 1)``."""
    t = nm.minimum(frac, float(TABLE_FRAC))
    if nm.is_tensor(t):
        import torch

        per_side = torch.floor(TABLE_RANGE * torch.exp2(torch.as_tensor(t, dtype=torch.float64)) + 1e-9)
    else:
        per_side = float(int(TABLE_RANGE * 2.0**t + 1e-9))
    return 2 * nm.maximum(per_side, 1.0)


def index_bits(frac):
    """Width of a table index (``clog2(depth)``)."""
    return nm.clog2(table_depth(frac))


def _asw(p):
    return p["AGG_W"] + (1 - p["AGG_SIGNED"])


def table_rom(p, family) -> MemoryCost:
    """One lane's table ROM (``table_depth`` words of ``AGG_W`` bits)."""
    return rom_cost(p["AGG_W"], table_depth(p["ACT_FRAC"]), family)


def _zero(p):
    return {"lut": 0.0, "ff": 0.0, "bram18": 0.0, "bram36": 0.0, "rom_bits": 0.0, "rom_lut": 0.0, "rom_ff": 0.0}


def relu_cost(p, family):
    return _zero(p)


def identity_cost(p, family):
    return _zero(p)


def leaky_relu_cost(p, family):
    """x*10 = (x << 3) + (x << 1), + 512, >> 10, select: two (ASW + 4)-bit adders and an ASW mux per lane."""
    w = _asw(p)
    c = _zero(p)
    c["lut"] = p["P_AGG"] * (2 * (w + 4) + w)
    return c


def relu6_cost(p, family):
    """Two compares (against 0 and six) and a 3:1 clamp mux per lane."""
    w = _asw(p)
    c = _zero(p)
    c["lut"] = p["P_AGG"] * 2 * w
    return c


def _table_cost(p, family, select: float):
    """Index clamp (two compares on the shifted code, an index mux), the ROM, ``select`` extra ASW-bit
    selects per lane (elu: x >= 0; softplus: above the range)."""
    w = _asw(p)
    ib = index_bits(p["ACT_FRAC"])
    rom = table_rom(p, family)
    lanes = p["P_AGG"]
    return {
        "lut": lanes * (2 * w + ib + select * w),
        "ff": 0.0,
        "bram18": lanes * rom.bram18,
        "bram36": lanes * rom.bram36,
        "rom_bits": lanes * rom.bits,
        "rom_lut": lanes * rom.lut,
        "rom_ff": lanes * rom.ff,
    }


def elu_cost(p, family):
    return _table_cost(p, family, 1.0)


def tanh_cost(p, family):
    return _table_cost(p, family, 0.0)


def sigmoid_cost(p, family):
    return _table_cost(p, family, 0.0)


def softplus_cost(p, family):
    return _table_cost(p, family, 2.0)


#: registry activation -> its estimate function ``(p, family) -> {lut, ff, bram18, bram36, rom_bits, ...}``
ACTIVATION_COSTS = {
    "relu": relu_cost,
    "identity": identity_cost,
    "elu": elu_cost,
    "tanh": tanh_cost,
    "sigmoid": sigmoid_cost,
    "leaky_relu": leaky_relu_cost,
    "relu6": relu6_cost,
    "softplus": softplus_cost,
}


def activation_cost(p, family) -> dict:
    """The cost of the activation coded ``p["ACT"]`` (a number or a tensor over activation options)."""
    out = None
    for name, fn in ACTIVATION_COSTS.items():
        c = fn(p, family)
        sel = nm.eq(p["ACT"], ACT_CODE[name])
        if out is None:
            out = {k: nm.where(sel, v, 0.0) for k, v in c.items()}
        else:
            out = {k: out[k] + nm.where(sel, v, 0.0) for k, v in c.items()}
    return out
