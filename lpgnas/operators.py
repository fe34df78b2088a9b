"""The operator registry: every attention, aggregation and activation the toolkit knows.

Each stage (training modules in ``search/``, the golden model, the cost model, the templates) keys its
own implementation by these names; ``tests/test_conformance.py`` checks that every name here has every
facet. Adding an operator starts here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttentionSpec:
    """An edge-coefficient rule. ``formats`` lists the per-layer formats it needs beyond the common ones."""

    name: str
    formats: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class AggregationSpec:
    name: str
    formats: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class ActivationSpec:
    name: str
    doc: str


ATTENTIONS: dict[str, AttentionSpec] = {
    s.name: s
    for s in (
        AttentionSpec("const", (), "every edge (self-loop included) has coefficient 1"),
        AttentionSpec(
            "gcn", ("coef",), "symmetric normalisation 1/sqrt(deg_i deg_j), deg counts the self-loop"
        ),
    )
}

AGGREGATIONS: dict[str, AggregationSpec] = {
    s.name: s
    for s in (
        AggregationSpec("add", (), "sum over the in-neighbourhood (self-loop included)"),
        AggregationSpec("mean", ("recip",), "sum times the quantised reciprocal of the in-degree"),
    )
}

ACTIVATIONS: dict[str, ActivationSpec] = {
    s.name: s
    for s in (
        ActivationSpec("relu", "max(x, 0)"),
        ActivationSpec("identity", "x"),
    )
}

#: formats every layer has; attention and aggregation add their own (see ``layer_format_names``)
COMMON_FORMATS: tuple[str, ...] = ("input", "weight", "bias", "linear", "aggregation", "output")


def layer_format_names(attention: str, aggregation: str) -> tuple[str, ...]:
    """All format names a layer with these operators must carry."""
    return COMMON_FORMATS + ATTENTIONS[attention].formats + AGGREGATIONS[aggregation].formats
