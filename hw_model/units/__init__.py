"""One module per hardware unit of the RTL library, each with its estimate functions (FINN style):
``transform`` (lpg_transform + lpg_dot + lpg_mul + lpg_requant + weight ROM), ``aggregate``
(lpg_aggregate + bias ROM), ``io`` (lpg_load_rows, lpg_store_rows, the sequencer), ``multiplier``
(product mapping rules). :data:`FEATURES` lists, per unit and fitted resource, the structural-term
function whose coefficients :mod:`hw_model.calibrate` fits."""

from __future__ import annotations

from hw_model.units import aggregate, transform


def _srl_features_t(p, family):
    return {"ctrl": p["NW"] + p["LAW"], "const": 1.0}


def _srl_features_a(p, family):
    return {"ctrl": p["NW"] + p["RW"] * p["HAS_RECIP"], "const": 1.0}


FEATURES = {
    "transform": {"lut": transform.lut_features, "ff": transform.ff_features, "srl": _srl_features_t},
    "aggregate": {"lut": aggregate.lut_features, "ff": aggregate.ff_features, "srl": _srl_features_a},
}
