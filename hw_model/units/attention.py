"""Attention unit of the GAT family (``lpg_attention``): per-edge softmax coefficients.

DRAFT structure (aligned to the RTL in a later commit): node scores from the linear buffer, per-edge
scores, running max, exp table, sum, reciprocal, coefficient product into a per-edge coefficient RAM that
the aggregation unit reads instead of the host's coefficient port.

``p`` holds the unit's parameters (:func:`hw_model.params.attention_params`), numbers or tensors.
"""

from __future__ import annotations

from hw_model import numeric as nm
from hw_model.memory import ram_cost, rom_cost
from hw_model.params import ATT_CODE
from hw_model.units.activation import table_depth
from hw_model.units.multiplier import dsp_count, soft_mult_bits

SOFTMAX_KINDS = ("gat", "sym-gat", "cos", "linear", "gene-linear")
PIPELINE_DEPTH = 8
RUN_OVERHEAD = 3


def _kind(p, name):
    return nm.eq(p["KIND"], ATT_CODE[name])


def _any(p, names):
    out = False
    for n in names:
        out = nm.logical_or(out, _kind(p, n))
    return out


def softmax(p):
    return _any(p, SOFTMAX_KINDS)


def is_softmax(att_kind):
    """The attention coded ``att_kind`` is a softmax attention (GAT family)."""
    return softmax({"KIND": att_kind})


def vector_count(att_kind):
    """Attention vectors of the kind (``lpgnas.operators.ATTENTIONS[...].tensors``)."""
    from lpgnas.operators import ATTENTIONS

    out = 0.0
    for name, spec in ATTENTIONS.items():
        out = out + nm.where(nm.eq(att_kind, ATT_CODE[name]), float(len(spec.tensors)), 0.0)
    return out


def elementwise(p):
    """cos / gene-linear keep per-feature node terms (u = lin * att), the others one score per node."""
    return _any(p, ("cos", "gene-linear"))


def memories(p, family) -> dict:
    """Name -> MemoryCost of the unit's memories (all zero for const / gcn)."""
    sm = softmax(p)
    el = elementwise(p)
    nvec = p["NVEC"]
    # attention-vector ROMs: one per vector, HEADS * FG words of LANES elements
    att = rom_cost(p["LANES"] * p["AW"], p["HEADS"] * p["FG"], family)
    node_w = nm.where(el, p["F_OUT"] * p["SW"], p["SW"])
    node = ram_cost(node_w, p["MAXN"] * p["HEADS"], family)
    coef = ram_cost(p["CW"], p["MAXE"] * p["HEADS"], family)
    exp_t = rom_cost(p["EXW"], table_depth(p["SFRAC"]), family)
    tanh_t = rom_cost(p["SW"], table_depth(p["SFRAC"]), family)
    ntanh = nm.where(_kind(p, "linear"), 1.0, nm.where(_kind(p, "gene-linear"), p["LANES"], 0.0))
    out = {}
    for name, m, n in (
        ("att_rom", att, nvec),
        ("node_scores", node, nm.where(_kind(p, "linear"), 1.0, nvec)),
        ("coef_ram", coef, 1.0),
        ("exp_table", exp_t, 1.0),
        ("tanh_table", tanh_t, ntanh),
    ):
        out[name] = _scale(m, nm.where(sm, n, 0.0))
    return out


ROMS = ("att_rom", "exp_table", "tanh_table")
BUFFERS = ("node_scores", "coef_ram")


def rom_bits(p, family):
    ms = memories(p, family)
    return sum((ms[k].bits for k in ROMS), 0.0)


def buffer_bits(p, family):
    ms = memories(p, family)
    return sum((ms[k].bits for k in BUFFERS), 0.0)


def _scale(m, k):
    from hw_model.memory import MemoryCost

    return MemoryCost(**{f: getattr(m, f) * k for f in ("bram18", "bram36", "lutram", "lut", "ff", "bits")})


def attention_dsp(p, family):
    lsw = p["LW"] + (1 - p["L_SIGNED"])
    dot = dsp_count(lsw, p["AW"], family) * p["LANES"]
    cos = nm.where(_kind(p, "cos"), dsp_count(p["SW"], p["SW"], family) * p["LANES"], 0.0)
    gene = nm.where(_kind(p, "gene-linear"), dsp_count(p["SW"], p["AW"], family) * p["LANES"], 0.0)
    cf = dsp_count(p["EXW"] + 1, p["RCW"] + 1, family)
    return nm.where(softmax(p), dot + cos + gene + cf, 0.0)


def attention_bram(p, family):
    ms = memories(p, family)
    return {
        "bram18": sum((m.bram18 for m in ms.values()), 0.0),
        "bram36": sum((m.bram36 for m in ms.values()), 0.0),
    }


def lut_features(p, family):
    sm = nm.where(softmax(p), 1.0, 0.0)
    lsw = p["LW"] + (1 - p["L_SIGNED"])
    soft = nm.where(nm.eq(dsp_count(lsw, p["AW"], family), 0), soft_mult_bits(lsw, p["AW"]), 0.0) * p["LANES"]
    ms = memories(p, family)
    return {
        "mult_soft": sm * soft,
        "adders": sm * p["LANES"] * p["DACC_W"],
        "score": sm * 4 * p["SW"],
        "exp": sm * (p["SW"] + 2 + p["EXW"]),
        "sum": sm * p["SUMW"],
        "div": sm * p["SUMW"] * 2,
        "walker": sm * (p["EW"] * 4 + p["NW"] * 2),
        "mem": sum((m.lut for m in ms.values()), 0.0),
        "const": sm,
    }


def ff_features(p, family):
    sm = nm.where(softmax(p), 1.0, 0.0)
    ms = memories(p, family)
    return {
        "dot": sm * p["LANES"] * p["DACC_W"],
        "score": sm * 4 * p["SW"],
        "sum": sm * (p["SUMW"] + p["RCW"] + p["EXW"]),
        "walker": sm * (p["EW"] * 4 + p["NW"] * 3),
        "mem": sum((m.ff for m in ms.values()), 0.0),
        "const": sm,
    }


def lutram(p, family):
    ms = memories(p, family)
    return sum((m.lutram for m in ms.values()), 0.0)


def attention_cycles(p, num_nodes, num_edges):
    """DRAFT: node phase N*H*FG; edge phase E*H*(2*EFG + 1); reciprocal per node and head."""
    efg = nm.where(elementwise(p), p["FG"], 1.0)
    c = (
        num_nodes * p["HEADS"] * p["FG"]
        + num_edges * p["HEADS"] * (2 * efg + 1)
        + num_nodes * p["HEADS"] * p["DIV_CYCLES"]
        + RUN_OVERHEAD
        + PIPELINE_DEPTH
    )
    return nm.where(softmax(p), c, 0.0)


def attention_lut(p, family, coef):
    return sum(coef.get(k, 1.0 if k != "const" else 30.0) * v for k, v in lut_features(p, family).items())


def attention_ff(p, family, coef):
    return sum(coef.get(k, 1.0 if k != "const" else 20.0) * v for k, v in ff_features(p, family).items())


def _none(p, family, coef=None):
    return {"lut": 0.0, "ff": 0.0, "dsp": 0.0, "bram18": 0.0, "bram36": 0.0, "lutram": 0.0}


def softmax_cost(p, family, coef=None):
    """Resources of the attention unit of a softmax attention (``p["KIND"]`` picks the score rule)."""
    coef = coef or {}
    b = attention_bram(p, family)
    return {
        "lut": attention_lut(p, family, coef.get("lut", {})),
        "ff": attention_ff(p, family, coef.get("ff", {})),
        "dsp": attention_dsp(p, family),
        "bram18": b["bram18"],
        "bram36": b["bram36"],
        "lutram": lutram(p, family),
    }


#: registry attention -> estimate function ``(p, family, coef) -> resources``; const has no unit, gcn's
#: coefficients come precomputed from the host (their product is in the aggregation unit)
ATTENTION_COSTS = {
    "const": _none,
    "gcn": _none,
    "gat": softmax_cost,
    "sym-gat": softmax_cost,
    "cos": softmax_cost,
    "linear": softmax_cost,
    "gene-linear": softmax_cost,
}
