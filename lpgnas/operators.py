"""The operator registry: every attention, aggregation and activation the toolkit knows, with every fact
about it that more than one stage reads (its numeric code, formats, tables, output sign).

Each stage (training modules in ``search/``, the golden model, the cost model, the templates) keys its
own implementation by these names; ``tests/test_conformance.py`` checks that every name here has every
facet. docs/operators.md lists what adding an operator takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lpgnas.numfmt import NumFormat, fix


@dataclass(frozen=True)
class AttentionSpec:
    """An edge-coefficient rule. ``code``: its number in the cost model's encoding and ``lpg_attention``'s
    ``KIND`` (negative: no attention unit); ``formats``: the per-layer formats it needs beyond the common
    ones; ``tensors``: the per-head attention vectors it reads (each of shape (heads, out_features));
    ``tanh_table``: its scores go through the tanh table (indexed like every table, on score codes)."""

    name: str
    code: int
    formats: tuple[str, ...]
    doc: str
    tensors: tuple[str, ...] = ()
    tanh_table: bool = False

    @property
    def softmax(self) -> bool:
        """Coefficients are a softmax of per-edge scores over each node's in-edges (the GAT family)."""
        return "score" in self.formats


@dataclass(frozen=True)
class AggregationSpec:
    """``code``: its number in the cost model's encoding."""

    name: str
    code: int
    formats: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class ActivationSpec:
    """``code``: its number in the cost model's encoding and ``lpg_act``'s ``ACT``; ``table``: the
    lpgnas.tables function it looks up (None: computed with compares and shifts); ``half_table``: only the
    table's entries of negative inputs are used (non-negative inputs pass through); ``non_negative``: its
    output is never negative (the output quantiser is unsigned)."""

    name: str
    code: int
    doc: str
    table: str | None = None
    half_table: bool = False
    non_negative: bool = False


#: formats of the softmax attentions: attention vectors, scores, exp-table output, normalised coefficient
SOFTMAX_FORMATS: tuple[str, ...] = ("att_weight", "score", "exp", "coef")

ATTENTIONS: dict[str, AttentionSpec] = {
    s.name: s
    for s in (
        AttentionSpec("const", -2, (), "every edge (self-loop included) has coefficient 1"),
        AttentionSpec(
            "gcn", -1, ("coef",), "symmetric normalisation 1/sqrt(deg_i deg_j), deg counts the self-loop"
        ),
        AttentionSpec(
            "gat", 0, SOFTMAX_FORMATS, "e_ij = leaky_0.2(dst_i + src_j), dst/src = lin . att_dst/att_src",
            ("att_src", "att_dst"),
        ),
        AttentionSpec(
            "sym-gat", 1, SOFTMAX_FORMATS, "e_ij = leaky_0.2(dst_i + src_j) + leaky_0.2(dst_j + src_i)",
            ("att_src", "att_dst"),
        ),
        AttentionSpec(
            "cos", 2, SOFTMAX_FORMATS, "e_ij = (lin_i * att_dst) . (lin_j * att_src)", ("att_src", "att_dst")
        ),
        AttentionSpec(
            "linear", 3, SOFTMAX_FORMATS, "e_ij = tanh(lin_j . att_src)", ("att_src",), tanh_table=True
        ),
        AttentionSpec(
            "gene-linear", 4, SOFTMAX_FORMATS,
            "e_ij = att_gene . tanh(lin_i * att_dst + lin_j * att_src)", ("att_src", "att_dst", "att_gene"),
            tanh_table=True,
        ),
    )
}

AGGREGATIONS: dict[str, AggregationSpec] = {
    s.name: s
    for s in (
        AggregationSpec("add", 0, (), "sum over the in-neighbourhood (self-loop included)"),
        AggregationSpec("mean", 1, ("recip",), "sum times the quantised reciprocal of the in-degree"),
        AggregationSpec("max", 2, (), "element-wise maximum over the in-neighbourhood (self-loop included)"),
    )
}

ACTIVATIONS: dict[str, ActivationSpec] = {
    s.name: s
    for s in (
        ActivationSpec("relu", 0, "max(x, 0)", non_negative=True),
        ActivationSpec("identity", 1, "x"),
        ActivationSpec("elu", 2, "x if x >= 0 else table(exp(x) - 1)", "elu", half_table=True),
        ActivationSpec("tanh", 3, "table(tanh)", "tanh"),
        ActivationSpec("sigmoid", 4, "table(sigmoid)", "sigmoid", non_negative=True),
        ActivationSpec("leaky_relu", 5, "x if x >= 0 else x * 10/1024 (slope 0.01), rounded half up"),
        ActivationSpec("relu6", 6, "min(max(x, 0), 6), 6 capped at the format's largest code", non_negative=True),
        ActivationSpec("softplus", 7, "table(log(1 + exp(x))) below 8, x from 8 up", "softplus", non_negative=True),
    )
}

#: the mean's reciprocal 1/deg (deg >= 1, so at most 1.0): unsigned, 16 fractional bits
MEAN_RECIP_FORMAT: NumFormat = fix(17, 16, signed=False)

#: formats every layer has; attention and aggregation add their own (see ``layer_format_names``)
COMMON_FORMATS: tuple[str, ...] = ("input", "weight", "bias", "linear", "aggregation", "output")


def layer_format_names(attention: str, aggregation: str) -> tuple[str, ...]:
    """All format names a layer with these operators must carry."""
    return COMMON_FORMATS + ATTENTIONS[attention].formats + AGGREGATIONS[aggregation].formats
