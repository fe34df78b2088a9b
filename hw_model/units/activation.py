"""Activations of the aggregation unit's finaliser, one estimate function per registry activation.

Each lane of ``lpg_aggregate``'s finaliser applies the activation to the re-quantised aggregation code
(``AGG_W`` bits, binary point ``agg_frac``) before the output re-quantiser (``lpgnas.golden``'s
``ACTIVATION_FUNCTIONS``):

* ``relu``, ``identity``: a sign test and a zeroing mux (relu) or wires; part of the aggregation unit's
  fitted terms, nothing extra here;
* ``leaky_relu``: ``x >= 0 ? x : (x * 10 + 512) >>> 10`` as shift-adds (the RTL spells out the constant
  product, so it never takes a DSP slice) and the select;
* ``relu6``: two compares and a clamp mux (``min(max(x, 0), six)``);
* ``elu``, ``tanh``, ``sigmoid``, ``softplus``: a table (``lpgnas.tables``) per lane, ``lpg_table``: the
  index ``clamp(x >>> TSHIFT, -2**THB, 2**THB - 1) + 2**THB`` (compares, an index mux) and an
  *asynchronous* ROM of ``TD`` words of ``AGG_W`` bits (elu: the negative half) that Yosys lowers to logic
  (never block RAM or LUTRAM). Its size depends on the contents (monotonic, saturating functions leave
  many output bits constant over long runs): :func:`table_logic` counts the non-constant (bit, 8-entry
  block) pairs of the actual table; ``elu`` selects ``x`` for ``x >= 0``, ``softplus`` above the range.

``p`` holds the aggregation unit's parameters (``P_AGG``, ``AGG_W``, ``AGG_SIGNED``, ``ACT``: the
activation's code, ``THB``, ``TSHIFT``: the table's indexing); values may be tensors.
:data:`ACTIVATION_FEATURES` gives each activation's per-lane structural terms (fitted with the aggregation
unit), :data:`ACTIVATION_COSTS` each one's estimate function.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.params import ACT_CODE, LayerSpec
from lpgnas.numfmt import fix
from lpgnas.operators import ACTIVATIONS, ActivationSpec
from lpgnas.tables import ACTIVATION_LEAKY_CODE, LEAKY_FRAC, TABLE_FRAC, TABLE_RANGE, function_table, relu6_max_code


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


#: rows of the blocks in which :func:`table_logic` counts non-constant output bits
TABLE_BLOCK = 8


@lru_cache(maxsize=4096)
def _table_blocks(function: str, bits: int, frac: int, signed: int, half: int) -> float:
    """Non-constant (output bit, block of TABLE_BLOCK consecutive entries) pairs of a table's contents."""
    fmt = fix(bits, frac, signed=bool(signed))
    t = np.asarray(function_table(function, frac, fmt), dtype=np.int64)
    if half:
        t = t[: len(t) // 2]
    u = t & ((1 << bits) - 1)
    pad = (-len(u)) % TABLE_BLOCK
    u = np.concatenate([u, np.repeat(u[-1:], pad)]).reshape(-1, TABLE_BLOCK)
    n = 0
    for b in range(bits):
        bit = (u >> b) & 1
        n += int(np.sum(bit.min(axis=1) != bit.max(axis=1)))
    return float(n)


def table_logic(function: str, bits, frac, signed=1, half=0):
    """Size of a table's logic (an asynchronous LUT ROM: Yosys lowers it to LUT / MUXF trees): the number
    of (output bit, TABLE_BLOCK-entry block) pairs that are not constant, from the table's contents
    (``lpgnas.tables.function_table``, deterministic given the format). Numbers or tensors (element-wise)."""
    if not nm.is_tensor(bits, frac, signed, half):
        return _table_blocks(function, int(round(bits)), int(round(frac)), int(round(signed)), int(round(half)))
    import torch

    ts = torch.broadcast_tensors(*(torch.as_tensor(v, dtype=torch.float64) for v in (bits, frac, signed, half)))
    flat = [t.reshape(-1).tolist() for t in ts]
    vals = [
        _table_blocks(function, int(round(b)), int(round(f)), int(round(sg)), int(round(hf)))
        if b >= 2
        else 0.0
        for b, f, sg, hf in zip(*flat, strict=True)
    ]
    return torch.tensor(vals, dtype=torch.float64).reshape(ts[0].shape)


def table_frac(hb, shift):
    """The binary point of a table's input codes from its indexing parameters (``-lo = 2**hb``, ``shift``):
    ``lpgnas.tables.table_index`` has ``-lo = TABLE_RANGE << t``, ``t = frac - shift``."""
    return hb - nm.clog2(TABLE_RANGE) + shift


def _registry_flag(act_kind, flag: Callable[[ActivationSpec], bool]):
    """1 where the activation coded ``act_kind`` (a number or a tensor of codes) has ``flag``, else 0."""
    return sum((nm.where(nm.eq(act_kind, ACT_CODE[n]), 1.0, 0.0) for n, a in ACTIVATIONS.items() if flag(a)), 0.0)


def _relu6_max(s: LayerSpec):
    """``lpgnas.tables.relu6_max_code`` of the aggregation format; element-wise over tensor fields."""
    if not nm.is_tensor(s.agg_bits, s.agg_frac, s.agg_signed):
        return float(relu6_max_code(fix(int(s.agg_bits), int(s.agg_frac), signed=bool(s.agg_signed))))
    qmax = nm.where(nm.eq(s.agg_signed, 1), nm.exp2(s.agg_bits - 1) - 1, nm.exp2(s.agg_bits) - 1)
    return nm.minimum(nm.floor(6 * nm.exp2(s.agg_frac)), qmax)


def activation_params(s: LayerSpec) -> dict:
    """``lpg_act``'s parameters (through ``lpg_aggregate``; the RTL writer's and the cost model's): the
    activation's registry code ``ACT``, relu6's bound ``R6MAX`` (``lpgnas.tables.relu6_max_code``), the
    table's indexing (``TSHIFT``, ``THB``: ``2**THB = -lo``) and depth ``TD`` (a half table: the negative
    half)."""
    tab = _registry_flag(s.act_kind, lambda a: a.table is not None)
    half = _registry_flag(s.act_kind, lambda a: a.half_table)
    size = table_depth(s.agg_frac)
    return {
        "ACT": s.act_kind,
        "LEAKY": float(ACTIVATION_LEAKY_CODE),
        "LEAKY_FRAC": float(LEAKY_FRAC),
        "R6MAX": _relu6_max(s),
        "TSHIFT": nm.where(tab, nm.pos(s.agg_frac - TABLE_FRAC), 0.0),
        "THB": nm.where(tab, nm.clog2(size / 2), 0.0),
        "TD": nm.where(tab, nm.where(half, size / 2, size), 1.0),
    }


def _asw(p):
    return p["AGG_W"] + (1 - p["AGG_SIGNED"])


def _table_features(function: str, select: float, half: int = 0):
    def feats(p, family):
        w = _asw(p)
        return {
            **ZERO,
            "act_table": table_logic(function, p["AGG_W"], table_frac(p["THB"], p["TSHIFT"]), p["AGG_SIGNED"], half),
            "act_index": (2 + select) * w + p["THB"] + 1,
        }

    return feats


#: the per-lane terms: table logic blocks, table index / select bits, leaky_relu shift-add bits, relu6 clamp
#: bits (each its own fitted coefficient), DSP slices
ZERO = {"act_table": 0.0, "act_index": 0.0, "act_shift": 0.0, "act_clamp": 0.0, "act_dsp": 0.0}
LUT_TERMS = ("act_table", "act_index", "act_shift", "act_clamp")


def _relu_features(p, family):
    return dict(ZERO)


def _leaky_features(p, family):
    """``(q * LEAKY + 2**(LEAKY_FRAC-1)) >>> LEAKY_FRAC`` as shift-adds (one adder per set bit of the slope
    code 10 = 0b1010: two, ``ASW + LEAKY_FRAC + 2`` bits wide, of which the bits below the rounding offset
    are free) and the select."""
    w = _asw(p)
    return {**ZERO, "act_shift": LEAKY_ADDERS * (w + 4) + w}


def _relu6_features(p, family):
    """Two compares and a clamp mux."""
    return {**ZERO, "act_clamp": _asw(p)}


#: adders of the leaky_relu slope's shift-add (set bits of ACTIVATION_LEAKY_CODE = 10)
LEAKY_ADDERS = bin(ACTIVATION_LEAKY_CODE).count("1")

#: registry activation -> its per-lane structural terms (see ZERO)
ACTIVATION_FEATURES = {
    "relu": _relu_features,
    "identity": _relu_features,
    "elu": _table_features("elu", 1.0, half=int(ACTIVATIONS["elu"].half_table)),
    "tanh": _table_features("tanh", 0.0),
    "sigmoid": _table_features("sigmoid", 0.0),
    "leaky_relu": _leaky_features,
    "relu6": _relu6_features,
    "softplus": _table_features("softplus", 1.0),
}

#: structural priors of the activation terms (LUTs per term unit), used until calibration.json has them
PRIOR = {"act_table": 0.6, "act_index": 0.5, "act_shift": 0.8, "act_clamp": 1.0, "const": 0.0}


def activation_features(p, family) -> dict:
    """Per-lane terms of the activation coded ``p["ACT"]`` (a number or a tensor over activation options)."""
    out = dict(ZERO)
    for name, fn in ACTIVATION_FEATURES.items():
        sel = nm.eq(p["ACT"], ACT_CODE[name])
        for k, v in fn(p, family).items():
            out[k] = out[k] + nm.where(sel, v, 0.0)
    return out


def unit_lut_features(p, family) -> dict:
    """The fitted terms of one ``lpg_act`` lane (calibration: ``lpg_act`` synthesised alone)."""
    f = activation_features(p, family)
    return {**{k: f[k] for k in LUT_TERMS}, "const": 1.0}


def activation_lut(p, family, coef=None):
    """LUTs of the P_AGG lanes' activations (no ``ACT`` parameter: relu, nothing extra); the fitted constant
    of a lane run alone (its ports) is left out."""
    if "ACT" not in p:
        return 0.0
    coef = coef or {}
    f = activation_features(p, family)
    return p["P_AGG"] * sum(coef.get(k, PRIOR[k]) * f[k] for k in LUT_TERMS)


def _cost(name):
    def cost(p, family, coef=None):
        """Resources of the activation over the unit's P_AGG lanes (LUT from ``coef`` or the priors)."""
        q = {**p, "ACT": ACT_CODE[name]}
        dsp = p["P_AGG"] * ACTIVATION_FEATURES[name](q, family)["act_dsp"]
        return {"lut": activation_lut(q, family, coef), "dsp": dsp, "ff": 0.0, "bram18": 0.0, "bram36": 0.0}

    cost.__name__ = f"{name}_cost"
    return cost


#: registry activation -> its estimate function ``(p, family, coef) -> {lut, dsp, ff, bram18, bram36}``
#: (the tables are asynchronous LUT ROMs: never block RAM)
ACTIVATION_COSTS = {name: _cost(name) for name in ACTIVATION_FEATURES}
