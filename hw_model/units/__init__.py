"""One module per hardware unit of the RTL library, each with its estimate functions (FINN style):
``transform`` (lpg_transform + lpg_dot + lpg_mul + lpg_requant + weight ROM), ``aggregate``
(lpg_aggregate + bias ROM; add / mean / max), ``activation`` (the finaliser's activation per lane:
compares, shift-add, table ROMs), ``attention`` (lpg_attention: the GAT family's softmax unit and its
memories), ``io`` (lpg_store_rows, the sequencer; no load unit), ``multiplier`` (product mapping
rules). :data:`FEATURES` lists, per unit and fitted resource, the structural-term function whose
coefficients ``benchmarks/cost_model/calibrate.py`` fits.

Per registry operator (``lpgnas.operators``; ``tests/test_conformance.py`` checks the coverage):
:data:`ATTENTION_COSTS`, :data:`AGGREGATION_COSTS`, :data:`ACTIVATION_COSTS` map each name to its
estimate function."""

from __future__ import annotations

from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.units import activation, aggregate, attention, transform
from lpgnas.hw_model.units.activation import ACTIVATION_COSTS
from lpgnas.hw_model.units.aggregate import AGGREGATION_COSTS
from lpgnas.hw_model.units.attention import ATTENTION_COSTS

__all__ = ["ACTIVATION_COSTS", "AGGREGATION_COSTS", "ATTENTION_COSTS", "FEATURES"]


def _srl_features_t(p, family):
    """Delay chains of >= 3 stages become SRL16E: node index n1..n4, head h1..h4, loop flags."""
    return {
        "nw": p["NW"],
        "h": nm.clog2(p["HEADS"]),
        "ig": nm.where(nm.gt(p["IG"], 1), 1.0, 0.0),
        "og": nm.where(nm.gt(p["OG"], 1), 1.0, 0.0),
        "const": 1.0,
    }


FEATURES = {
    # activation before aggregate: the aggregation unit's fit subtracts its lanes' activations
    "activation": {"lut": activation.unit_lut_features},
    "transform": {"lut": transform.lut_features, "ff": transform.ff_features, "srl": _srl_features_t},
    "aggregate": {"lut": aggregate.lut_features, "ff": aggregate.ff_features, "srl": aggregate.srl_features},
    "attention": {"lut": attention.lut_features, "ff": attention.ff_features, "srl": attention.srl_features},
}
