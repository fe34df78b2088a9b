"""Layer specs and the RTL parameters of each unit, derived the way ``hls_templates.rtl_writer`` does.

A :class:`LayerSpec` is what the cost model needs to know about one layer: shapes, the widths and
signedness of every stored tensor, the binary-point shifts of the re-quantisers, and the layer's
parallelism. Its fields may be numbers or torch tensors (the expected cost enumerates options as
tensors). :func:`spec_from_ir` builds the exact spec of an IR layer; :func:`transform_params` and
:func:`aggregate_params` give the RTL parameters (``tests/test_hw_model.py`` checks them against
``rtl_writer.rtl_context``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from lpgnas.hw_model import numeric as nm

from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS

WKIND = {"fix": 0, "binary": 1, "ternary": 2}
#: numeric codes of the registry's operators (their order in ``lpgnas.operators``): a spec field holds the
#: code (a number, or a tensor over a search decision's options), cost functions select with ``nm.eq``
ATT_CODE = {name: float(k) for k, name in enumerate(ATTENTIONS)}
AGG_CODE = {name: float(k) for k, name in enumerate(AGGREGATIONS)}
ACT_CODE = {name: float(k) for k, name in enumerate(ACTIVATIONS)}


@dataclass
class LayerSpec:
    in_features: Any
    out_features: Any
    heads: Any = 1
    concat: Any = 1
    x_bits: Any = 8
    x_signed: Any = 1
    w_kind: Any = 0  # 0 fix, 1 binary, 2 ternary
    w_bits: Any = 8  # fix weights: bits of the (signed) code
    w_signed: Any = 1
    lin_bits: Any = 8
    lin_signed: Any = 1
    has_coef: Any = 0
    coef_bits: Any = 8
    coef_signed: Any = 0
    has_recip: Any = 0
    recip_bits: Any = 17
    recip_signed: Any = 0
    has_bias: Any = 1
    bias_bits: Any = 8
    bias_signed: Any = 1
    agg_bits: Any = 8
    agg_signed: Any = 1
    out_bits: Any = 8
    out_signed: Any = 1
    relu: Any = 1
    att_kind: Any = 0.0  # ATT_CODE (0: const)
    agg_kind: Any = 0.0  # AGG_CODE (0: add)
    act_kind: Any = 0.0  # ACT_CODE (0: relu)
    att_bits: Any = 8  # softmax attentions: attention vectors (signed fix)
    att_frac: Any = 6
    score_bits: Any = 8  # node / edge scores (signed fix)
    score_signed: Any = 1
    score_frac: Any = 4  # binary point of the scores (sizes the exp / tanh tables)
    exp_bits: Any = 8  # exp-table output (unsigned, frac = bits - 1)
    coef_frac: Any = 7
    ns_shift: Any = 0  # node scores: linear.frac + att_weight.frac - score.frac
    agg_frac: Any = 4  # binary point of the aggregation format (sizes the activation tables)
    shift_lin: Any = 4  # linear acc frac - linear frac
    shift_bias: Any = 0  # aggregation acc frac - bias frac
    shift_agg: Any = 0  # aggregation acc frac - aggregation frac
    shift_out: Any = 0  # aggregation frac - output frac
    p_in: Any = 4
    p_out: Any = 4
    p_agg: Any = 4
    mult: str = "auto"
    name: str = "layer"
    extra: dict = field(default_factory=dict)

    def with_hw(self, p_in, p_out, p_agg, mult: str = "auto") -> LayerSpec:
        return replace(self, p_in=p_in, p_out=p_out, p_agg=p_agg, mult=mult)

    @property
    def heads_out(self):
        return nm.where(nm.eq(self.concat, 1), self.heads, 1.0)

    @property
    def output_features(self):
        return self.heads_out * self.out_features


def stored_width(bits, signed):
    """Width of a memory word holding codes (``rtl_writer._stored_width``)."""
    return nm.where(nm.eq(signed, 1), nm.maximum(bits, 2), bits)


def signed_width(bits, signed):
    return stored_width(bits, signed) + (1 - signed)


def spec_from_ir(layer, lhw=None) -> LayerSpec:
    """Exact spec of an IR layer (and its LayerHW, if given)."""
    from lpgnas.ir import aggregation_frac, linear_acc_frac

    fm = layer.formats
    w = fm["weight"]
    acc_frac = aggregation_frac(layer)
    s = LayerSpec(
        in_features=layer.in_features,
        out_features=layer.out_features,
        heads=layer.heads,
        concat=int(layer.concat),
        x_bits=fm["input"].bits,
        x_signed=int(fm["input"].signed),
        w_kind=WKIND[w.kind],
        w_bits=w.bits,
        w_signed=int(w.signed),
        lin_bits=fm["linear"].bits,
        lin_signed=int(fm["linear"].signed),
        has_coef=int("coef" in fm),
        coef_bits=fm["coef"].bits if "coef" in fm else 2,
        coef_signed=int(fm["coef"].signed) if "coef" in fm else 0,
        has_recip=int("recip" in fm),
        recip_bits=fm["recip"].bits if "recip" in fm else 2,
        recip_signed=int(fm["recip"].signed) if "recip" in fm else 0,
        has_bias=int(layer.bias is not None),
        bias_bits=fm["bias"].bits,
        bias_signed=int(fm["bias"].signed),
        agg_bits=fm["aggregation"].bits,
        agg_signed=int(fm["aggregation"].signed),
        out_bits=fm["output"].bits,
        out_signed=int(fm["output"].signed),
        relu=int(layer.activation == "relu"),
        att_kind=ATT_CODE[layer.attention],
        agg_kind=AGG_CODE[layer.aggregation],
        act_kind=ACT_CODE[layer.activation],
        att_bits=fm["att_weight"].bits if "att_weight" in fm else 2,
        att_frac=fm["att_weight"].frac if "att_weight" in fm else 0,
        score_bits=fm["score"].bits if "score" in fm else 2,
        score_signed=int(fm["score"].signed) if "score" in fm else 1,
        score_frac=fm["score"].frac if "score" in fm else 0,
        exp_bits=fm["exp"].bits if "exp" in fm else 2,
        coef_frac=fm["coef"].frac if "coef" in fm else 0,
        ns_shift=fm["linear"].frac + fm["att_weight"].frac - fm["score"].frac if "score" in fm else 0,
        agg_frac=fm["aggregation"].frac,
        shift_lin=linear_acc_frac(layer) - fm["linear"].frac,
        shift_bias=acc_frac - fm["bias"].frac if layer.bias is not None else 0,
        shift_agg=acc_frac - fm["aggregation"].frac,
        shift_out=fm["aggregation"].frac - fm["output"].frac,
        name=layer.name,
    )
    if lhw is not None:
        s = s.with_hw(lhw.p_in, lhw.p_out, lhw.p_agg, lhw.mult)
    return s


def globals_for(max_nodes, max_edges) -> dict:
    return {
        "nw": max(int(max_nodes).bit_length(), 1),
        "ew": max(int(max_edges).bit_length(), 1),
        "ew_addr": max(1, (int(max_edges) - 1).bit_length()),
        "recip_aw": max(1, (int(max_nodes) - 1).bit_length()),
    }


def _headrec(heads):
    from lpgnas.graph import head_mean_reciprocal
    from lpgnas.ir import HEAD_MEAN_FRAC

    if nm.is_tensor(heads):
        import torch

        ht = torch.as_tensor(heads, dtype=torch.float64)
        return torch.floor((2.0**HEAD_MEAN_FRAC) / ht + 0.5)
    return float(head_mean_reciprocal(int(heads), HEAD_MEAN_FRAC)) if heads > 1 else 0.0


def transform_params(s: LayerSpec, g: dict, max_nodes=None, direct=False) -> dict:
    """``lpg_transform``'s parameters as ``hls_templates.rtl_writer`` sets them. ``direct``: layer 0, which
    reads the host's input features through P_in banked ports (``DIRECT = 1``, host address width
    ``HAW = clog2(max_nodes * IG)``); the other layers read an on-chip row buffer (``DIRECT = 0``, ``HAW = 1``)."""
    fix = nm.eq(s.w_kind, 0)
    ww = nm.where(fix, signed_width(s.w_bits, s.w_signed), s.w_kind)  # binary 1, ternary 2
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
        "MULT_MAP": nm.where(fix, {"auto": 0, "logic": 0, "lut": 1, "dsp": 2}[s.mult], 0.0),
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
    }


def aggregate_params(s: LayerSpec, g: dict, max_nodes) -> dict:
    head_mean = nm.logical_and(nm.gt(s.heads, 1), nm.eq(s.concat, 0))
    has_c, has_r, has_b = nm.eq(s.has_coef, 1), nm.eq(s.has_recip, 1), nm.eq(s.has_bias, 1)
    lsw = signed_width(s.lin_bits, s.lin_signed)
    prw = lsw + nm.where(has_c, signed_width(s.coef_bits, s.coef_signed), 0.0)
    acc = prw + math.ceil(math.log2(max(int(max_nodes), 2))) + nm.where(head_mean, nm.clog2(s.heads), 0.0) + 1
    m_w = acc + nm.where(has_r, signed_width(s.recip_bits, s.recip_signed), 0.0)
    headrec = nm.where(head_mean, _headrec(s.heads), 0.0)
    hrw = nm.bit_length(headrec) + 1
    bw = nm.where(has_b, signed_width(s.bias_bits, s.bias_signed), 2.0)
    bias_shift = nm.where(has_b, s.shift_bias, 0.0)
    v_w = nm.maximum(m_w + nm.where(head_mean, hrw, 0.0), bw + bias_shift) + 2
    return {
        "NW": g["nw"],
        "EW": g["ew"],
        "EAW": g["ew_addr"],
        "RAW": g["recip_aw"],
        "CIW": g["nw"],
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
        "AGG_MAX": nm.where(nm.eq(s.agg_kind, AGG_CODE["max"]), 1.0, 0.0),
        "RELU": s.relu,
        **activation_params(s),
        "OUT_SHIFT": s.shift_out,
        "OW": stored_width(s.out_bits, s.out_signed),
        "O_SIGNED": s.out_signed,
    }


#: parameters the model derives that the RTL does not have (skipped when the tests compare with
#: ``rtl_writer``); none: the tables' binary points follow from their indexing parameters
#: (:func:`hw_model.units.activation.table_frac`)
MODEL_ONLY_PARAMS: frozenset[str] = frozenset()


def _log2c(n):
    """``ceil(log2(max(n, 2)))`` (``rtl_attention._log2c``)."""
    return nm.clog2(nm.maximum(n, 2.0))


def activation_params(s: LayerSpec) -> dict:
    """``lpg_act``'s parameters (through ``lpg_aggregate``), as ``rtl_writer._activation_params``: the
    table's indexing (``TSHIFT``, ``THB``: ``2**THB = -lo``) and depth ``TD`` (elu: the negative half)."""
    from lpgnas.hw_model.units.activation import table_depth

    from lpgnas.tables import ACTIVATION_LEAKY_CODE, LEAKY_FRAC, TABLE_FRAC

    tab = nm.logical_or(
        nm.logical_or(nm.eq(s.act_kind, ACT_CODE["elu"]), nm.eq(s.act_kind, ACT_CODE["tanh"])),
        nm.logical_or(nm.eq(s.act_kind, ACT_CODE["sigmoid"]), nm.eq(s.act_kind, ACT_CODE["softplus"])),
    )
    size = table_depth(s.agg_frac)
    half = nm.eq(s.act_kind, ACT_CODE["elu"])
    qmax = nm.where(nm.eq(s.agg_signed, 1), nm.exp2(s.agg_bits - 1) - 1, nm.exp2(s.agg_bits) - 1)
    six = nm.floor(6 * nm.exp2(s.agg_frac))
    return {
        "ACT": s.act_kind,
        "LEAKY": float(ACTIVATION_LEAKY_CODE),
        "LEAKY_FRAC": float(LEAKY_FRAC),
        "R6MAX": nm.minimum(six, qmax),
        "TSHIFT": nm.where(tab, nm.pos(s.agg_frac - TABLE_FRAC), 0.0),
        "THB": nm.where(tab, nm.clog2(size / 2), 0.0),
        "TD": nm.where(tab, nm.where(half, size / 2, size), 1.0),
    }


def attention_params(s: LayerSpec, g: dict, max_nodes, max_edges) -> dict:
    """``lpg_attention``'s parameters as ``hls_templates.rtl_attention.attention_params`` sets them
    (``KIND`` = the registry code - 2: gat 0, sym-gat 1, cos 2, linear 3, gene-linear 4; negative for
    const / gcn, which have no attention unit and cost nothing)."""
    from lpgnas.hw_model.units.activation import table_depth
    from lpgnas.hw_model.units.attention import vector_count

    from lpgnas.tables import SOFTMAX_RECIP_FRAC

    kind = s.att_kind - 2
    lsw = signed_width(s.lin_bits, s.lin_signed)
    aw = signed_width(s.att_bits, 1)
    ssw = signed_width(s.score_bits, s.score_signed)
    f = s.out_features
    tlo = table_depth(s.score_frac) / 2
    cos, gene = nm.eq(kind, 2), nm.eq(kind, 4)
    return {
        "NW": g["nw"],
        "EW": g["ew"],
        "EAW": g["ew_addr"],
        "CIW": g["nw"],
        "LAW": g["nw"] + nm.maximum(nm.clog2(s.heads), 1.0),
        "HEADS": s.heads,
        "F_OUT": f,
        "LW": stored_width(s.lin_bits, s.lin_signed),
        "L_SIGNED": s.lin_signed,
        "KIND": kind,
        "AW": aw,
        "NVEC": vector_count(s.att_kind),
        "SW": stored_width(s.score_bits, s.score_signed),
        "S_SIGNED": s.score_signed,
        "NS_SHIFT": s.ns_shift,
        "DOT_W": lsw + aw + _log2c(f) + 1,
        "E_SHIFT": nm.where(cos, s.score_frac, nm.where(gene, s.att_frac, 0.0)),
        "EDOT_W": nm.where(
            nm.logical_or(cos, gene), nm.where(cos, 2 * ssw, ssw + aw) + _log2c(f) + 1, 2.0
        ),
        "TS": nm.pos(s.score_frac - 5),
        "TLO": tlo,
        "TAW": nm.maximum(nm.clog2(2 * tlo), 1.0),
        "XAW": nm.maximum(nm.clog2(tlo + 1), 1.0),
        "XW": s.exp_bits,
        "FE": s.exp_bits - 1,
        "SUMW": s.exp_bits + nm.bit_length(max_edges) + 1,
        "CW": stored_width(s.coef_bits, s.coef_signed),
        "C_SIGNED": s.coef_signed,
        "COEF_SHIFT": s.exp_bits - 1 + SOFTMAX_RECIP_FRAC - s.coef_frac,
        "CAW": nm.maximum(nm.clog2(max_edges * s.heads), 1.0),
        "NODE_D": max_nodes * s.heads,
        "EDGE_D": max_edges,
    }
