"""Layer specs: what every unit's parameter function (``hw_model.units.*.*_params``) reads.

A :class:`LayerSpec` is what the hardware needs to know about one layer: shapes, the widths and
signedness of every stored tensor, the binary-point shifts of the re-quantisers, and the layer's
parallelism. Its fields may be numbers or torch tensors (the expected cost enumerates options as
tensors). :func:`spec_from_ir` builds the exact spec of an IR layer; the RTL writer and the cost model
both derive the units' parameters from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lpgnas.graph import head_mean_reciprocal
from lpgnas.hw_model import numeric as nm
from lpgnas.ir import HEAD_MEAN_FRAC, LayerIR, aggregation_frac, linear_acc_frac
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS, MEAN_RECIP_FORMAT

#: ``lpg_transform``'s WKIND of each weight format kind
WKIND = {"fix": 0, "binary": 1, "ternary": 2}
#: the registry's operator codes as the spec's fields hold them (a number, or a tensor over a search
#: decision's options); cost functions select with ``nm.eq``
ATT_CODE = {name: float(s.code) for name, s in ATTENTIONS.items()}
AGG_CODE = {name: float(s.code) for name, s in AGGREGATIONS.items()}
ACT_CODE = {name: float(s.code) for name, s in ACTIVATIONS.items()}


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
    recip_bits: Any = MEAN_RECIP_FORMAT.bits
    recip_signed: Any = 0
    has_bias: Any = 1
    bias_bits: Any = 8
    bias_signed: Any = 1
    agg_bits: Any = 8
    agg_signed: Any = 1
    out_bits: Any = 8
    out_signed: Any = 1
    att_kind: Any = ATT_CODE["const"]
    agg_kind: Any = AGG_CODE["add"]
    act_kind: Any = ACT_CODE["relu"]
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
    sparse: Any = 0  # layer 0 only: 1 when it reads the input features sparse (LayerHW.input, lpgnas.sparse)
    mult: str = "auto"
    name: str = "layer"
    extra: dict = field(default_factory=dict)

    def with_hw(self, p_in, p_out, p_agg, mult: str = "auto", sparse=0) -> LayerSpec:
        return replace(self, p_in=p_in, p_out=p_out, p_agg=p_agg, mult=mult, sparse=sparse)

    @property
    def heads_out(self):
        return nm.where(nm.eq(self.concat, 1), self.heads, 1.0)

    @property
    def output_features(self):
        return self.heads_out * self.out_features


def stored_width(bits, signed):
    """Width of a memory word or port holding codes of ``bits`` bits (signed codes take at least 2)."""
    return nm.where(nm.eq(signed, 1), nm.maximum(bits, 2), bits)


def signed_width(bits, signed):
    """Width of a code as a signed operand (unsigned codes get a zero sign bit)."""
    return stored_width(bits, signed) + (1 - signed)


def weight_width(w_kind, w_bits, w_signed):
    """Stored width of a weight code: fix as a signed operand, binary 1 bit, ternary 2 bits (= WKIND)."""
    return nm.where(nm.eq(w_kind, 0), signed_width(w_bits, w_signed), w_kind)


def spec_from_ir(layer: LayerIR, lhw=None) -> LayerSpec:
    """Exact spec of an IR layer (and its LayerHW, if given)."""
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
        s = s.with_hw(lhw.p_in, lhw.p_out, lhw.p_agg, lhw.mult, int(lhw.input == "sparse"))
    return s


def address_bits(words: int) -> int:
    """Address bits for ``words`` words (at least 1)."""
    return max(1, (int(words) - 1).bit_length())


def globals_for(max_nodes: int, max_edges: int) -> dict[str, int]:
    """Widths shared by the units and the top level."""
    return {
        "nw": max(int(max_nodes).bit_length(), 1),  # num_nodes, node addresses, row_ptr addresses
        "ew": max(int(max_edges).bit_length(), 1),  # num_edges, row_ptr words
        "ew_addr": address_bits(max_edges),  # col_idx / coef addresses
        "ciw": max(int(max_nodes).bit_length(), 1),  # col_idx words
        "recip_aw": address_bits(max_nodes),
    }


def head_mean_recip_code(heads):
    """The quantised 1/heads of averaged heads (``lpgnas.graph.head_mean_reciprocal``), numbers or tensors."""
    if nm.is_tensor(heads):
        import torch

        ht = torch.as_tensor(heads, dtype=torch.float64)
        return torch.floor((2.0**HEAD_MEAN_FRAC) / ht + 0.5)
    return float(head_mean_reciprocal(int(heads), HEAD_MEAN_FRAC)) if heads > 1 else 0.0
