"""Transform unit (``lpg_transform``): P_out dot-product lanes of P_in multipliers, adder tree,
accumulator, re-quantiser, loop counters, weight ROM.

``p`` is the unit's parameter set, named as the RTL parameters (``P_IN``, ``XW``, ``ACC_W``, ...), with
plain numbers or torch tensors as values (:func:`transform_params` derives it). Each
``*_estimation`` returns a count; LUT and FF are sums of structural terms (``*_features``) times
coefficients fitted on Yosys runs (``hw_model/calibration.json``).

Input source (``DIRECT``): layers >= 1 read a whole node row from an on-chip row buffer and select the
P_in slice of group ``ig`` with an IG:1 multiplexer (``xmux``). Layer 0 (``DIRECT = 1``) reads its P_in
features per cycle straight from P_in banked host ports: no multiplexer, but a ``HAW``-bit base address
register with its adder (``x_raddr = base + ig``, ``base`` steps by IG per node) and, when
``F_in % P_in != 0``, AND gates that zero the padding lanes of the last group. Those terms are structural
with coefficient 1 (:func:`direct_lut`, :func:`direct_ff`), not fitted: the calibration samples were
taken before the direct read existed.

Sparse input (``SPARSE = 1``, layer 0 with ``input = "sparse"``, :mod:`lpgnas.sparse`): the unit walks each
row's groups of ``P_IN`` non-zeros (column, code) from banked host ports (``GAW``-bit group addresses, the
row's group range from the host's ``feat_ptr``), and gathers the ``P_IN`` weight rows those columns select:
the weight ROM word ``(h*OG + og)*F_IN + col`` holds ``W[h][col][og*P_OUT + j]`` for ``j < P_OUT``, and
``ROM_COPIES`` copies of it, two read ports each, serve the ``P_IN`` lanes. Loop ``n, h, og, group``: one
step per group, so the unit takes ``HEADS * OG * groups`` steps (:func:`cycles`), whatever ``F_IN`` is.
Its cost (:func:`weight_rom`, :func:`sparse_lut`, :func:`sparse_ff`): the ``P_IN x P_OUT`` products, adder
tree, re-quantiser and (always: a row may take several groups) accumulators as in the dense unit, no IG:1
mux, the weight ROM's copies (:func:`lpgnas.hw_model.memory.rom_copies_cost`), and the group counter, row
end and column-to-address adders as structural terms with coefficient 1: not fitted, no Yosys run of the
sparse unit yet (docs/cost_model.md, "Sparse input").
"""

from __future__ import annotations

from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.memory import rom_copies_cost, rom_cost
from lpgnas.hw_model.params import LayerSpec, signed_width, stored_width, weight_width
from lpgnas.hw_model.units.multiplier import dsp_count, lut_mult_lut, soft_mult_bits, uses_dsp
from lpgnas.sparse import column_width

PIPELINE_DEPTH = 8  # issue -> memory -> operands -> dot -> accumulate -> requant -> write -> done (RTL-measured)
#: the sparse read's depth: PIPELINE_DEPTH plus the column -> weight-ROM stage and the cycle that reads
#: feat_ptr[0] (lpg_sparse_transform.v; RTL-measured)
SPARSE_PIPELINE_DEPTH = PIPELINE_DEPTH + 2
#: read ports of one weight-ROM copy in the sparse read (a block RAM has two)
SPARSE_ROM_PORTS = 2
#: ``LayerHW.mult`` -> lpg_mul's mapping (0: Yosys decides, 1: LUTs, 2: DSP slices); binary / ternary
#: weights always take 0 (their products are a negation)
MULT_MAP = {"auto": 0, "logic": 0, "lut": 1, "dsp": 2}


def products_on_dsp(s: LayerSpec):
    """Whether the layer's products are fix-point and go to DSP slices under ``auto`` (the layers whose
    products ``mult = "lut"`` moves to LUTs); numbers or tensors."""
    ww = weight_width(s.w_kind, s.w_bits, s.w_signed)
    return nm.logical_and(nm.eq(s.w_kind, 0), uses_dsp(signed_width(s.x_bits, s.x_signed), ww))


def transform_params(s: LayerSpec, g: dict, max_nodes=None, direct=False, max_groups=None) -> dict:
    """``lpg_transform``'s parameters (the RTL writer's and the cost model's), in the RTL's order.
    ``direct``: layer 0, which reads the host's input features through P_in banked ports (``DIRECT = 1``,
    host address width ``HAW = clog2(max_nodes * IG)``); the other layers read an on-chip row buffer
    (``DIRECT = 0``, ``HAW = 1``). ``max_groups`` (layer 0 only): it reads them sparse (``SPARSE = 1``), at most
    that many groups (:func:`lpgnas.sparse.max_groups`)."""
    fix = nm.eq(s.w_kind, 0)
    ww = weight_width(s.w_kind, s.w_bits, s.w_signed)
    xsw = signed_width(s.x_bits, s.x_signed)
    pw = nm.where(fix, xsw + ww, xsw + 1)
    ig = nm.ceil_div(s.in_features, s.p_in)
    og = nm.ceil_div(s.out_features, s.p_out)
    return {
        "NW": g["nw"],
        "XW": stored_width(s.x_bits, s.x_signed),
        "X_SIGNED": s.x_signed,
        "F_IN": s.in_features,
        "P_IN": s.p_in,
        "IG": ig,
        "F_OUT": s.out_features,
        "P_OUT": s.p_out,
        "OG": og,
        "HEADS": s.heads,
        "WW": ww,
        "WKIND": s.w_kind,
        "MULT_MAP": nm.where(fix, MULT_MAP[s.mult], 0.0),
        "SW": pw + nm.clog2(s.p_in),
        "ACC_W": pw + nm.clog2(ig * s.p_in) + 1,
        "SHIFT": s.shift_lin,
        "LW": stored_width(s.lin_bits, s.lin_signed),
        "L_SIGNED": s.lin_signed,
        "LAW": g["nw"] + nm.maximum(nm.clog2(s.heads), 1.0),
        "WAW": nm.maximum(nm.clog2(s.heads * og * ig), 1.0),
        "DIRECT": 1 if direct else 0,
        "HAW": nm.maximum(nm.clog2(max_nodes * ig), 1.0) if direct else 1,
        "MASK_MUT": 0,
        **(sparse_params(s, og, max_groups) if max_groups is not None else {}),
    }


def sparse_params(s: LayerSpec, og, max_groups) -> dict:
    """The sparse read's parameters: ``SPARSE``, group address width ``GAW``, group pointer width ``GW``
    (``feat_ptr`` words, 0 .. ``max_groups``), column width ``CW``, the weight ROM's ``ROM_COPIES`` and its
    address width (``WAW`` over ``HEADS * OG * F_IN`` words)."""
    return {
        "SPARSE": 1,
        "GAW": nm.maximum(nm.clog2(max_groups), 1.0),
        "GW": nm.maximum(nm.bit_length(max_groups), 1.0),
        "CW": column_width(s.in_features),
        "ROM_COPIES": nm.ceil_div(s.p_in, SPARSE_ROM_PORTS),
        "WAW": nm.maximum(nm.clog2(s.heads * og * s.in_features), 1.0),
    }


def _common(p, family):
    xsw = p["XW"] + (1 - p["X_SIGNED"])
    fix = nm.eq(p["WKIND"], 0)
    pw = nm.where(fix, xsw + p["WW"], xsw + 1)
    # the LUT mapping (MULT_MAP 1) is a shift-and-add: never a DSP
    dsp_per = nm.where(nm.logical_and(fix, nm.logical_not(_lut_map(p))), dsp_count(xsw, p["WW"], family), 0.0)
    on_dsp = nm.gt(dsp_per, 0)
    lanes = p["P_IN"] * p["P_OUT"]
    wrow = p["P_OUT"] * p["P_IN"] * p["WW"]
    wdep = p["HEADS"] * p["OG"] * p["IG"]
    return xsw, fix, pw, dsp_per, on_dsp, lanes, wrow, wdep


def requant_terms(in_w, shift, out_w):
    """LUT-size terms of one ``lpg_requant``: the rounding increment over the kept bits (right shifts
    only) and the saturation (compare the bits above the output, select the output)."""
    kept = nm.maximum(in_w - nm.pos(shift), 1.0)
    rnd = nm.where(nm.gt(shift, 0), kept + 1, 0.0)
    over = nm.pos(kept + nm.pos(-shift) - out_w)
    sat = nm.where(nm.gt(over, 0), over + out_w, 0.0)
    return rnd, sat


def weight_rom(p, family):
    """Dense: one ROM of ``P_OUT * P_IN * WW``-bit words, ``HEADS * OG * IG`` deep; sparse: ``P_IN`` read ports
    of ``P_OUT * WW``-bit words, ``HEADS * OG * F_IN`` deep, two ports per copy (``ROM_COPIES``)."""
    if _sparse(p):
        return rom_copies_cost(p["P_OUT"] * p["WW"], p["HEADS"] * p["OG"] * p["F_IN"], family, p["P_IN"])
    _, _, _, _, _, _, wrow, wdep = _common(p, family)
    return rom_cost(wrow, wdep, family)


def dsp_estimation(p, family):
    _, _, _, dsp_per, _, lanes, _, _ = _common(p, family)
    # lin_waddr = n * HEADS (+ h): a constant multiply, a DSP when HEADS is not a power of two and wide
    addr = nm.where(nm.logical_and(nm.logical_not(nm.is_pow2(p["HEADS"])), nm.ge(p["LAW"], 9)), 1.0, 0.0)
    return lanes * dsp_per + addr


def bram_estimation(p, family):
    rom = weight_rom(p, family)
    return {"bram18": rom.bram18, "bram36": rom.bram36}


def lut_features(p, family):
    """Structural LUT terms: soft multipliers (partial-product bits), sign/negate logic of binary and
    ternary weights, adder-tree bits (in LUTs, or mostly absorbed into the DSP cascade), accumulators
    (only when IG > 1), re-quantiser (rounding add, saturation compares, output mux), the IG:1 input
    select mux (row-buffer input only; 0 for layer 0's direct read), loop counters, the weight ROM when it
    is logic, and a constant."""
    xsw, fix, pw, dsp_per, on_dsp, lanes, wrow, wdep = _common(p, family)
    tree_bits = p["P_OUT"] * nm.pos(p["P_IN"] - 1) * (pw + nm.clog2(p["P_IN"]) / 2)
    rom = weight_rom(p, family)
    accum = nm.where(nm.logical_or(nm.gt(p["IG"], 1), _sparse(p)), p["P_OUT"] * p["ACC_W"], 0.0)
    rq_round, rq_sat = requant_terms(p["ACC_W"], p["SHIFT"], p["LW"])
    return {
        "mult_soft": nm.where(nm.logical_and(nm.logical_and(fix, nm.logical_not(on_dsp)), nm.logical_not(_lut_map(p))),
                              lanes * soft_mult_bits(xsw, p["WW"]), 0.0),
        "mult_binary": nm.where(nm.eq(p["WKIND"], 1), lanes * (xsw + 1), 0.0),
        "mult_ternary": nm.where(nm.eq(p["WKIND"], 2), lanes * (xsw + 1), 0.0),
        "tree_lut": nm.where(on_dsp, 0.0, tree_bits),
        "tree_dsp": nm.where(on_dsp, tree_bits, 0.0),
        "acc": nm.where(on_dsp, 0.0, accum),
        "acc_dsp": nm.where(on_dsp, accum, 0.0),
        "rq_round": p["P_OUT"] * rq_round,
        "rq_sat": p["P_OUT"] * rq_sat,
        "xmux": nm.where(nm.gt(p["IG"], 1), 1.0, 0.0)
        * (1 - _direct(p))
        * (p["P_IN"] * p["XW"] * nm.ceil_div(nm.pos(p["IG"] - 1) + 2, 3)),
        "ctrl": ctrl_bits(p),
        "rom": rom.lut,
        "const": 1.0,
    }


def ctrl_bits(p):
    """Loop-counter and address bits (the fitted ``ctrl`` terms): node, linear-buffer address, og and head
    counters, and the dense read's weight-address and ig counters (the sparse read replaces those two with
    :func:`sparse_lut` / :func:`sparse_ff`'s group counter and address adders)."""
    dense = 0 if _sparse(p) else p["WAW"] + nm.clog2(p["IG"])
    return p["NW"] + p["LAW"] + nm.clog2(p["OG"]) + nm.clog2(p["HEADS"]) + dense


def _sparse(p) -> bool:
    return bool(p.get("SPARSE", 0))


def _lut_map(p):
    return nm.eq(p["MULT_MAP"], 1)


def lut_mapped_products(p):
    """LUTs of the shift-and-add products of ``mult = "lut"`` (measured per adder bit, not fitted with the
    unit's other terms: the calibration samples predate the shift-and-add)."""
    xsw = p["XW"] + (1 - p["X_SIGNED"])
    return nm.where(_lut_map(p), p["P_IN"] * p["P_OUT"] * lut_mult_lut(xsw, p["WW"]), 0.0)


def _direct(p):
    return p.get("DIRECT", 0)


def padding_lanes(p):
    """Lanes of the last input group beyond F_in (masked to zero when reading the host banks)."""
    return nm.pos(p["P_IN"] * p["IG"] - p["F_IN"])


def direct_lut(p):
    """Layer 0's dense read only: the HAW-bit address adder and the padding-lane AND gates."""
    return 0.0 if _sparse(p) else _direct(p) * (p.get("HAW", 1) + padding_lanes(p) * p["XW"])


def direct_ff(p):
    """Layer 0's dense read only: the HAW-bit base address register."""
    return 0.0 if _sparse(p) else _direct(p) * p.get("HAW", 1)


def _rom_base_bits(p):
    """Bits of the weight-ROM base ``(h*OG + og) * F_IN`` (a register stepping by ``F_IN``); none when
    ``HEADS * OG = 1``, where the address is the column itself."""
    return nm.where(nm.gt(p["HEADS"] * p["OG"], 1), p["WAW"], 0.0)


def sparse_lut(p):
    """The sparse read only (structural, coefficient 1): the ``GAW``-bit group counter's incrementer and its
    compare with the row's end (``feat_ptr[n + 1]``), the base's adder and the ``P_IN`` column-to-address
    adders ``base + col`` (``WAW`` bits each, carries through the base's upper bits)."""
    return 2 * p["GAW"] + (1 + p["P_IN"]) * _rom_base_bits(p) if _sparse(p) else 0.0


def sparse_ff(p):
    """The sparse read only (structural, coefficient 1): the group counter and the row's end (``GAW`` bits
    each), the base register, and the codes' stage that waits for the weight ROM (``P_IN * XW``)."""
    return 2 * p["GAW"] + _rom_base_bits(p) + p["P_IN"] * p["XW"] if _sparse(p) else 0.0


def ff_features(p, family):
    """Register bits per pipeline stage (operands, dot products, accumulators, output row, counters,
    ROM output register when the ROM is logic); registers Yosys packs into DSP slices have their own
    terms."""
    xsw, fix, pw, dsp_per, on_dsp, lanes, wrow, wdep = _common(p, family)
    rom = weight_rom(p, family)
    return {
        "x_operands": p["P_IN"] * p["XW"],
        "w_operands": nm.where(on_dsp, 0.0, wrow),
        "w_operands_dsp": nm.where(on_dsp, wrow, 0.0),
        "dot_lut": nm.where(on_dsp, 0.0, p["P_OUT"] * p["SW"]),
        "dot_dsp": nm.where(on_dsp, p["P_OUT"] * p["SW"], 0.0),
        "acc": p["P_OUT"] * p["ACC_W"],
        "row": p["OG"] * p["P_OUT"] * p["LW"],
        "ctrl": ctrl_bits(p),
        "rom": rom.ff,
        "const": 1.0,
    }


def cycles(p, num_nodes, groups=None):
    """N * HEADS * OG * IG steps plus the pipeline depth (lpg_transform.v); sparse: HEADS * OG * ``groups``
    steps (all rows' groups, :func:`lpgnas.sparse.group_count`) plus its depth."""
    if p.get("SPARSE", 0):
        if groups is None:
            raise ValueError("a sparse transform's cycles need the feature groups (lpgnas.sparse.group_count)")
        return groups * p["HEADS"] * p["OG"] + SPARSE_PIPELINE_DEPTH
    return num_nodes * row_steps(p) + PIPELINE_DEPTH


def row_steps(p):
    """Steps per node row of a dense read (``HEADS * OG * IG``): a follower's pace through its input rows
    (:func:`lpgnas.hw_model.units.aggregate.follow_steps`)."""
    return p["HEADS"] * p["OG"] * p["IG"]


def lut_estimation(p, family, coef):
    f = lut_features(p, family)
    return sum(coef.get(k, 0.0) * v for k, v in f.items()) + direct_lut(p) + sparse_lut(p) + lut_mapped_products(p)


def ff_estimation(p, family, coef):
    f = ff_features(p, family)
    return sum(coef.get(k, 0.0) * v for k, v in f.items()) + direct_ff(p) + sparse_ff(p)
