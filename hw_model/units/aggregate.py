"""Edge / aggregation unit (``lpg_aggregate``): the CSR walker, P_agg feature lanes that multiply the
neighbour's linear row by the edge coefficient and accumulate in a ring of FG groups, and the finaliser
(mean reciprocal, head mean, bias, re-quantise, activation, re-quantise) with its bias ROM.

``p`` holds the RTL parameters (``P_AGG``, ``FG``, ``ACC_W``, ``PRW``, ``M_W``, ``V_W``, ...), numbers or
tensors; see :mod:`hw_model.units.transform` for the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.memory import rom_cost
from lpgnas.hw_model.params import ACT_CODE, AGG_CODE, LayerSpec, head_mean_recip_code, signed_width, stored_width
from lpgnas.hw_model.units.activation import activation_features, activation_params
from lpgnas.hw_model.units.multiplier import dsp_count, soft_mult_bits, split_adder_bits
from lpgnas.hw_model.units.transform import requant_terms
from lpgnas.operators import ACTIVATIONS

PIPELINE_DEPTH = 8  # seven pipeline stages + done (RTL-measured)
RUN_OVERHEAD = 3  # the walker's INIT0..INIT2 states
#: registry aggregation -> lpg_aggregate's reducer ``AGG_MAX`` (1: element-wise maximum, 0: sum; the mean's
#: reciprocal product is ``HAS_RECIP``, from its ``recip`` format)
AGG_MAX: dict[str, int] = {"add": 0, "mean": 0, "max": 1}


def aggregate_params(s: LayerSpec, g: dict, max_nodes) -> dict:
    """``lpg_aggregate``'s parameters (the RTL writer's and the cost model's), in the RTL's order: the
    datapath widths ``PRW``, ``ACC_W`` (the sum of up to ``max_nodes`` products), ``M_W``, ``V_W`` and the
    finaliser's activation (:func:`hw_model.units.activation.activation_params`)."""
    head_mean = nm.logical_and(nm.gt(s.heads, 1), nm.eq(s.concat, 0))
    has_c, has_r, has_b = nm.eq(s.has_coef, 1), nm.eq(s.has_recip, 1), nm.eq(s.has_bias, 1)
    lsw = signed_width(s.lin_bits, s.lin_signed)
    prw = lsw + nm.where(has_c, signed_width(s.coef_bits, s.coef_signed), 0.0)
    acc = prw + nm.clog2(max(int(max_nodes), 2)) + nm.where(head_mean, nm.clog2(s.heads), 0.0) + 1
    m_w = acc + nm.where(has_r, signed_width(s.recip_bits, s.recip_signed), 0.0)
    headrec = nm.where(head_mean, head_mean_recip_code(s.heads), 0.0)
    hrw = nm.bit_length(headrec) + 1
    bw = nm.where(has_b, signed_width(s.bias_bits, s.bias_signed), 2.0)
    bias_shift = nm.where(has_b, s.shift_bias, 0.0)
    v_w = nm.maximum(m_w + nm.where(head_mean, hrw, 0.0), bw + bias_shift) + 2
    return {
        "NW": g["nw"],
        "EW": g["ew"],
        "EAW": g["ew_addr"],
        "RAW": g["recip_aw"],
        "CIW": g["ciw"],
        "LAW": g["nw"] + nm.maximum(nm.clog2(s.heads), 1.0),
        "LW": stored_width(s.lin_bits, s.lin_signed),
        "L_SIGNED": s.lin_signed,
        "F_OUT": s.out_features,
        "P_AGG": s.p_agg,
        "FG": nm.ceil_div(s.out_features, s.p_agg),
        "HEADS": s.heads,
        "CONCAT": s.concat,
        "HAS_COEF": s.has_coef,
        "CW": nm.where(has_c, stored_width(s.coef_bits, s.coef_signed), 2.0),
        "C_SIGNED": nm.where(has_c, s.coef_signed, 0.0),
        "HAS_RECIP": s.has_recip,
        "RW": nm.where(has_r, stored_width(s.recip_bits, s.recip_signed), 2.0),
        "R_SIGNED": nm.where(has_r, s.recip_signed, 0.0),
        "HEAD_MEAN": nm.where(head_mean, 1.0, 0.0),
        "HEADREC": headrec,
        "HAS_BIAS": s.has_bias,
        "BW": bw,
        "BIAS_SHIFT": bias_shift,
        "PRW": prw,
        "ACC_W": acc,
        "M_W": m_w,
        "V_W": v_w,
        "AGG_SHIFT": s.shift_agg,
        "AGG_W": stored_width(s.agg_bits, s.agg_signed),
        "AGG_SIGNED": s.agg_signed,
        "AGG_MAX": sum((nm.where(nm.eq(s.agg_kind, AGG_CODE[n]), float(m), 0.0) for n, m in AGG_MAX.items()), 0.0),
        **activation_params(s),
        "OUT_SHIFT": s.shift_out,
        "OW": stored_width(s.out_bits, s.out_signed),
        "O_SIGNED": s.out_signed,
    }


def _widths(p):
    lsw = p["LW"] + (1 - p["L_SIGNED"])
    csw = p["CW"] + (1 - p["C_SIGNED"])
    rsw = p["RW"] + (1 - p["R_SIGNED"])
    hrw = nm.bit_length(p["HEADREC"]) + 1
    ho = nm.where(nm.eq(p["CONCAT"], 1), p["HEADS"], 1.0)
    return lsw, csw, rsw, hrw, ho


def bias_rom(p, family):
    _, _, _, _, ho = _widths(p)
    c = rom_cost(p["P_AGG"] * p["BW"], ho * p["FG"], family)
    has = nm.eq(p["HAS_BIAS"], 1)
    for k in ("bram18", "bram36", "lut", "ff"):
        setattr(c, k, nm.where(has, getattr(c, k), 0.0))
    return c


def _mults(p, family):
    """(DSPs, soft-multiplier bits) of the coefficient, mean and head-mean products, per lane."""
    lsw, csw, rsw, hrw, _ = _widths(p)
    has_c, has_r = nm.eq(p["HAS_COEF"], 1), nm.eq(p["HAS_RECIP"], 1)
    hm = nm.logical_and(nm.eq(p["HEAD_MEAN"], 1), nm.logical_not(nm.is_pow2(nm.maximum(p["HEADREC"], 1.0))))
    d_c, d_r, d_h = dsp_count(lsw, csw, family), dsp_count(p["ACC_W"], rsw, family), dsp_count(p["M_W"], hrw, family)
    dsp = nm.where(has_c, d_c, 0.0) + nm.where(has_r, d_r, 0.0) + nm.where(hm, d_h, 0.0)
    soft = (
        nm.where(nm.logical_and(has_c, nm.eq(d_c, 0)), soft_mult_bits(lsw, csw), 0.0)
        + nm.where(nm.logical_and(has_r, nm.eq(d_r, 0)), soft_mult_bits(p["ACC_W"], rsw), 0.0)
        + nm.where(nm.logical_and(hm, nm.eq(d_h, 0)), soft_mult_bits(p["M_W"], hrw), 0.0)
    )
    return dsp, soft


def _split_bits(p, family):
    """Per lane: adder bits summing the partial products of the coefficient, mean and head-mean products
    that span several DSP slices (:func:`split_adder_bits`; the mean product ``ACC_W x RSW`` of a wide
    accumulator is the usual one)."""
    lsw, csw, rsw, hrw, _ = _widths(p)
    has_c, has_r = nm.eq(p["HAS_COEF"], 1), nm.eq(p["HAS_RECIP"], 1)
    hm = nm.logical_and(nm.eq(p["HEAD_MEAN"], 1), nm.logical_not(nm.is_pow2(nm.maximum(p["HEADREC"], 1.0))))
    return (nm.where(has_c, split_adder_bits(lsw, csw, family), 0.0)
            + nm.where(has_r, split_adder_bits(p["ACC_W"], rsw, family), 0.0)
            + nm.where(hm, split_adder_bits(p["M_W"], hrw, family), 0.0))


def _act(p, family):
    """Per-lane activation terms (no ``ACT`` parameter: relu / identity, as the unit samples predating
    lpg_act)."""
    if "ACT" not in p:
        return {"act_dsp": 0.0}
    return activation_features(p, family)


def dsp_estimation(p, family):
    dsp, _ = _mults(p, family)
    addr = nm.where(nm.logical_and(nm.logical_not(nm.is_pow2(p["HEADS"])), nm.ge(p["LAW"], 9)), 1.0, 0.0)
    return p["P_AGG"] * (dsp + _act(p, family)["act_dsp"]) + addr


def table_bits(p):
    """Bits of the activation tables (``TD`` words of ``AGG_W`` bits per lane; 0 without a table)."""
    if "TD" not in p:
        return 0.0
    tab = sum((nm.where(nm.eq(p["ACT"], ACT_CODE[n]), 1.0, 0.0) for n, a in ACTIVATIONS.items() if a.table), 0.0)
    return tab * p["P_AGG"] * p["TD"] * p["AGG_W"]


def bram_estimation(p, family):
    rom = bias_rom(p, family)
    return {"bram18": rom.bram18, "bram36": rom.bram36}


def lut_features(p, family):
    lsw, csw, rsw, hrw, ho = _widths(p)
    dsp, soft = _mults(p, family)
    lanes = p["P_AGG"]
    asw = p["AGG_W"] + (1 - p["AGG_SIGNED"])
    rq1, rq2 = requant_terms(p["V_W"], p["AGG_SHIFT"], p["AGG_W"]), requant_terms(asw, p["OUT_SHIFT"], p["OW"])
    is_max = _is_max(p)
    return {
        "mult_soft": lanes * soft,
        "mult_dsp": lanes * nm.where(nm.gt(dsp, 0), 1.0, 0.0),
        "mult_split": lanes * _split_bits(p, family),
        "linmux": lanes * p["LW"] * nm.pos(p["FG"] - 1),
        "acc": nm.where(is_max, 0.0, lanes * p["ACC_W"]) + nm.where(_maxsum(p), lanes * p["ACC_W"], 0.0),
        "max": nm.where(is_max, lanes * p["ACC_W"], 0.0),
        "bias": nm.where(nm.eq(p["HAS_BIAS"], 1), lanes * p["V_W"], 0.0),
        "rq_round": lanes * (rq1[0] + rq2[0]),
        "rq_sat": lanes * (rq1[1] + rq2[1]),
        "walker": p["EW"] * 4 + p["NW"] * 2 + p["LAW"],
        "rom": bias_rom(p, family).lut,
        "const": 1.0,
    }


def ff_features(p, family):
    lsw, csw, rsw, hrw, ho = _widths(p)
    lanes = p["P_AGG"]
    has_r = nm.eq(p["HAS_RECIP"], 1)
    plain = plain_copy(p)
    lsw, csw, rsw, hrw, ho = _widths(p)
    c_dsp = nm.logical_and(nm.eq(p["HAS_COEF"], 1), nm.gt(dsp_count(lsw, csw, family), 0))
    r_dsp = nm.logical_and(has_r, nm.gt(dsp_count(p["ACC_W"], rsw, family), 0))
    return {
        # products on DSPs: Yosys packs their pipeline registers into the slice (MREG / PREG)
        "prod": nm.where(c_dsp, 0.0, lanes * p["PRW"]),
        "prod_dsp": nm.where(c_dsp, lanes * p["PRW"], 0.0),
        "mean_dsp": nm.where(r_dsp, lanes * p["M_W"], 0.0),
        # the ring's middle groups are a pure delay line: Yosys makes them SRLs (see srl_features); max over
        # averaged heads has a second ring summing the heads' maxima
        "ring": (nm.minimum(p["FG"], 2.0) + 1) * lanes * p["ACC_W"]
        + nm.where(_maxsum(p), nm.minimum(p["FG"], 2.0) * lanes * p["ACC_W"], 0.0),
        "mean": nm.where(nm.logical_or(plain, r_dsp), 0.0, lanes * nm.where(has_r, p["M_W"], p["ACC_W"])),
        "final": nm.where(plain, 0.0, lanes * p["V_W"]),
        "orow": ho * p["FG"] * lanes * p["OW"],
        "side": nm.where(nm.eq(p["HAS_COEF"], 1), p["CW"], 0.0)
        + nm.where(has_r, 2 * p["RW"], 0.0)
        + nm.where(nm.eq(p["HAS_BIAS"], 1), lanes * p["BW"], 0.0),
        "walker": p["EW"] * 4 + p["NW"] * 2 + p["LAW"],
        "rom": bias_rom(p, family).ff,
        "const": 1.0,
    }


def _is_max(p):
    """Max aggregation: a compare and a select per lane instead of the adder (``AGG_MAX``)."""
    return nm.eq(p.get("AGG_MAX", 0.0), 1)


def _maxsum(p):
    """Max aggregation over averaged heads: a second accumulator ring sums the heads' maxima."""
    return nm.logical_and(_is_max(p), nm.eq(p["HEAD_MEAN"], 1))


def plain_copy(p):
    """No mean reciprocal, no head mean, no bias: the finaliser's first stages only delay the sums."""
    return nm.logical_and(nm.logical_and(nm.eq(p["HAS_RECIP"], 0), nm.eq(p["HAS_BIAS"], 0)), nm.eq(p["HEAD_MEAN"], 0))


def srl_features(p, family):
    """Delay chains of >= 3 registers become SRL16E/SRLC32E (LUTs used as memory): the accumulator ring's
    middle groups (FG >= 3), the finaliser's copy stages when it has nothing to do, the node index and
    flag pipelines."""
    lanes = p["P_AGG"]
    return {
        "ring": nm.where(nm.ge(p["FG"], 3), lanes * p["ACC_W"], 0.0)
        * nm.where(_maxsum(p), 2.0, 1.0),
        "copy": nm.where(plain_copy(p), lanes * p["ACC_W"], 0.0),
        "nw": p["NW"],
        "recip": p["RW"] * p["HAS_RECIP"],
        "h": nm.clog2(p["HEADS"]),
        "fg": nm.clog2(p["FG"]),
        "const": 1.0,
    }


def cycles(p, num_nodes, num_edges):
    """(E * HEADS + N * HO) * FG steps, the walker's start-up and the pipeline (lpg_aggregate.v)."""
    per_edge, per_row = row_steps(p)
    return num_edges * per_edge + num_nodes * per_row + RUN_OVERHEAD + PIPELINE_DEPTH


def row_steps(p):
    """(steps per in-edge, steps per row): row j takes ``a_j = HEADS*FG*deg_j + HO*FG`` steps, one per cycle,
    with no bubble between rows (deg_j counting the self-loop)."""
    _, _, _, _, ho = _widths(p)
    return p["HEADS"] * p["FG"], ho * p["FG"]


#: cycles from the unit's start to the first cycle a follower can read row m of its output, beyond the steps of
#: rows 0..m: the walker's start-up and the pipeline to the row write (RTL-measured)
ROW_READY = RUN_OVERHEAD + 7
#: the cycles a follower's run takes beyond :func:`follow_steps` and its own cycles alone (``ROW_READY`` less
#: the one its first step takes alone)
FOLLOW_LATENCY = ROW_READY - 1


@dataclass(frozen=True)
class RowProfile:
    """The graph as the aggregation walks it, for the cycles of a unit that follows its rows: N, E (self-loops
    included) and the points ``(m, edges of rows 0..m-1)`` among the prefixes ``m = 1..N`` of the row order
    where :func:`follow_steps`'s maximum can lie: :func:`exact_rows` (the node order of a CSR graph),
    :func:`worst_rows` (a degree histogram in the order that makes every prefix largest: an upper bound) or
    :func:`mean_rows` (N and E only: every row of the mean degree; exact on regular graphs, neither bound)."""

    num_nodes: int
    num_edges: int
    prefixes: tuple[tuple[float, float], ...]


def exact_rows(row_ptr) -> RowProfile:
    """The node order of a CSR graph's ``row_ptr`` (exact): the upper convex hull of ``(m, row_ptr[m])``."""
    ptr = [int(v) - int(row_ptr[0]) for v in row_ptr]
    hull: list[tuple[int, int]] = []
    for point in enumerate(ptr[1:], start=1):  # x increasing: pop the points that do not turn right
        while len(hull) >= 2 and ((hull[-1][0] - hull[-2][0]) * (point[1] - hull[-2][1])
                                  - (hull[-1][1] - hull[-2][1]) * (point[0] - hull[-2][0])) >= 0:
            hull.pop()
        hull.append(point)
    return RowProfile(len(ptr) - 1, ptr[-1], tuple((float(m), float(e)) for m, e in hull) or ((0.0, 0.0),))


def worst_rows(degree_histogram: Mapping) -> RowProfile:
    """A degree histogram's ``{degree: rows}`` (self-loop counted) in descending degree (an upper bound)."""
    bins = sorted(((int(d), int(c)) for d, c in degree_histogram.items() if int(c) > 0), reverse=True)
    points, rows, edges = [(1.0, float(bins[0][0]))], 0, 0
    for degree, count in bins:
        rows, edges = rows + count, edges + degree * count
        points.append((float(rows), float(edges)))
    return RowProfile(rows, edges, tuple(points))


def mean_rows(num_nodes: int, num_edges: int) -> RowProfile:
    """``num_nodes`` rows of the mean degree, ``num_edges`` (self-loops included) in all."""
    n, e = int(num_nodes), int(num_edges)
    return RowProfile(n, e, ((1.0, e / n), (float(n), float(e))) if n else ((0.0, 0.0),))


def follow_steps(p, steps, profile: RowProfile):
    """The cycles by which a unit that follows this unit's rows (row n only once row n is written; ``steps``
    cycles per row) and starts with it outlasts its own ``N * steps`` alone, without latencies: with ``a_j`` of
    :func:`row_steps`, its last row ends ``(N + 1) * steps + max_m sum_{j<m} (a_j - steps)`` after the start
    (the max-plus recurrence ``S_n = max(ready_n, S_{n-1} + steps)`` over the rows), so this is
    ``steps + max_m sum_{j<m} (a_j - steps)``, the maximum over :class:`RowProfile`'s prefixes."""
    per_edge, per_row = row_steps(p)
    top = None
    for rows, edges in profile.prefixes:
        term = per_edge * edges + (per_row - steps) * rows
        top = term if top is None else nm.maximum(top, term)
    return steps + top


#: structural priors of terms the stored calibration may predate (used when a coefficient is missing)
PRIOR = {"max": 2.5, "mult_split": 1.0}


def lut_estimation(p, family, coef):
    return sum(coef.get(k, PRIOR.get(k, 0.0)) * v for k, v in lut_features(p, family).items())


def ff_estimation(p, family, coef):
    return sum(coef.get(k, PRIOR.get(k, 0.0)) * v for k, v in ff_features(p, family).items())


def aggregate_cost(p, family, coef=None) -> dict:
    """Resources of the whole unit (``coef``: ``{"lut": {...}, "ff": {...}}``, the fitted coefficients)."""
    coef = coef or {}
    b = bram_estimation(p, family)
    return {
        "lut": lut_estimation(p, family, coef.get("lut", {})),
        "ff": ff_estimation(p, family, coef.get("ff", {})),
        "dsp": dsp_estimation(p, family),
        "bram18": b["bram18"],
        "bram36": b["bram36"],
    }


def _with(**over):
    def cost(p, family, coef=None):
        return aggregate_cost({**p, **over}, family, coef)

    return cost


#: registry aggregation -> estimate function of the unit with that reducer / finaliser: add (adders),
#: mean (adders + the reciprocal product), max (compare-select instead of the adders)
AGGREGATION_COSTS = {
    "add": _with(HAS_RECIP=0.0, AGG_MAX=0.0),
    "mean": _with(HAS_RECIP=1.0, AGG_MAX=0.0),
    "max": _with(HAS_RECIP=0.0, AGG_MAX=1.0),
}
