"""Every operator in the registry has every facet: training module, golden semantics (and, as the
hardware and cost stages land, their facets are added to FACETS below)."""

import pytest

from lpgnas import golden
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS
from search import layers

FACETS = {
    "attention": (ATTENTIONS, {"training": layers.ATTENTION_COEFFICIENTS, "golden": golden.EDGE_COEFFICIENTS}),
    "aggregation": (AGGREGATIONS, {"training": layers.AGGREGATION_FINALISERS, "golden": golden.AGGREGATION_FINALISERS}),
    "activation": (ACTIVATIONS, {"training": layers.ACTIVATION_MODULES, "golden": golden.ACTIVATION_FUNCTIONS}),
}


@pytest.mark.parametrize("kind", FACETS)
def test_every_registered_operator_has_every_facet(kind):
    registry, facets = FACETS[kind]
    for facet, table in facets.items():
        assert set(table) == set(registry), f"{kind} {facet}: {sorted(set(registry) ^ set(table))}"
