"""The operator registry: every attention, aggregation and activation the toolkit knows.

Each stage (training modules in ``search/``, the golden model, the cost model, the templates) keys its
own implementation by these names; ``tests/test_conformance.py`` checks that every name here has every
facet. Adding an operator starts here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttentionSpec:
    """An edge-coefficient rule. ``formats`` lists the per-layer formats it needs beyond the common ones,
    ``tensors`` the per-head attention vectors it reads (each of shape (heads, out_features))."""

    name: str
    formats: tuple[str, ...]
    doc: str
    tensors: tuple[str, ...] = ()

    @property
    def softmax(self) -> bool:
        """Coefficients are a softmax of per-edge scores over each node's in-edges (the GAT family)."""
        return "score" in self.formats


@dataclass(frozen=True)
class AggregationSpec:
    name: str
    formats: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class ActivationSpec:
    """``table``: the lpgnas.tables function it looks up (None: computed with compares and shifts)."""

    name: str
    doc: str
    table: str | None = None


#: formats of the softmax attentions: attention vectors, scores, exp-table output, normalised coefficient
SOFTMAX_FORMATS: tuple[str, ...] = ("att_weight", "score", "exp", "coef")

ATTENTIONS: dict[str, AttentionSpec] = {
    s.name: s
    for s in (
        AttentionSpec("const", (), "every edge (self-loop included) has coefficient 1"),
        AttentionSpec(
            "gcn", ("coef",), "symmetric normalisation 1/sqrt(deg_i deg_j), deg counts the self-loop"
        ),
        AttentionSpec(
            "gat", SOFTMAX_FORMATS, "e_ij = leaky_0.2(dst_i + src_j), dst/src = lin . att_dst/att_src",
            ("att_src", "att_dst"),
        ),
        AttentionSpec(
            "sym-gat", SOFTMAX_FORMATS, "e_ij = leaky_0.2(dst_i + src_j) + leaky_0.2(dst_j + src_i)",
            ("att_src", "att_dst"),
        ),
        AttentionSpec(
            "cos", SOFTMAX_FORMATS, "e_ij = (lin_i * att_dst) . (lin_j * att_src)", ("att_src", "att_dst")
        ),
        AttentionSpec("linear", SOFTMAX_FORMATS, "e_ij = tanh(lin_j . att_src)", ("att_src",)),
        AttentionSpec(
            "gene-linear", SOFTMAX_FORMATS,
            "e_ij = att_gene . tanh(lin_i * att_dst + lin_j * att_src)", ("att_src", "att_dst", "att_gene"),
        ),
    )
}

AGGREGATIONS: dict[str, AggregationSpec] = {
    s.name: s
    for s in (
        AggregationSpec("add", (), "sum over the in-neighbourhood (self-loop included)"),
        AggregationSpec("mean", ("recip",), "sum times the quantised reciprocal of the in-degree"),
        AggregationSpec("max", (), "element-wise maximum over the in-neighbourhood (self-loop included)"),
    )
}

ACTIVATIONS: dict[str, ActivationSpec] = {
    s.name: s
    for s in (
        ActivationSpec("relu", "max(x, 0)"),
        ActivationSpec("identity", "x"),
        ActivationSpec("elu", "x if x >= 0 else table(exp(x) - 1)", "elu"),
        ActivationSpec("tanh", "table(tanh)", "tanh"),
        ActivationSpec("sigmoid", "table(sigmoid)", "sigmoid"),
        ActivationSpec("leaky_relu", "x if x >= 0 else x * 10/1024 (slope 0.01), rounded half up"),
        ActivationSpec("relu6", "min(max(x, 0), 6), 6 capped at the format's largest code"),
        ActivationSpec("softplus", "table(log(1 + exp(x))) below 8, x from 8 up", "softplus"),
    )
}

#: formats every layer has; attention and aggregation add their own (see ``layer_format_names``)
COMMON_FORMATS: tuple[str, ...] = ("input", "weight", "bias", "linear", "aggregation", "output")


def layer_format_names(attention: str, aggregation: str) -> tuple[str, ...]:
    """All format names a layer with these operators must carry."""
    return COMMON_FORMATS + ATTENTIONS[attention].formats + AGGREGATIONS[aggregation].formats
