"""Expected hardware cost under the search controllers' probabilities, as a torch expression.

Every decision of the search space gets its own tensor axis, and the fixed-design formulas
(:func:`hw_model.model.estimate_specs`) are evaluated once on those tensors; the expectation is exact,
multilinear and differentiable, and equals the fixed design's cost at one-hot probabilities
(docs/cost_model.md, "Expected cost (search)"). A placement (``offchip``: buffers in the device's external
memory, ``HardwareConfig.offchip``) goes through the same derivation (:mod:`hw_model.offchip`): those buffers'
RAM drops out, their adapters and the stall cycles they add per step come in.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch

from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.model import estimate_specs, model_bits
from lpgnas.hw_model.params import ACT_CODE, AGG_CODE, ATT_CODE, LayerSpec
from lpgnas.hw_model.units.io import TOP_OVERHEAD
from lpgnas.hw_model.units.transform import products_on_dsp
from lpgnas.hwconfig import LayerHW
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS, MEAN_RECIP_FORMAT
from lpgnas.tables import TABLE_RANGE

DECISIONS = (
    "attention",
    "aggregation",
    "activation",
    "hidden",
    "heads",
    "q_weight",
    "q_input",
    "q_linear",
    "q_coef",
    "q_aggregation",
    "q_bias",
)
#: cost keys returned by :class:`ExpectedHardwareCost`
COST_KEYS = ("lut", "ff", "dsp", "bram36", "cycles", "latency_us", "model_bits", "buffer_bits")
MEAN_RECIP_BITS = MEAN_RECIP_FORMAT.bits
#: nominal integer bits (sign included) of scores, attention vectors and aggregation codes: binary points
#: are not searched, so their codes are taken to cover the tables' input range [-TABLE_RANGE, TABLE_RANGE)
NOMINAL_INT_BITS = TABLE_RANGE.bit_length()

#: quantities derived from a categorical decision: name -> (decision, option -> value)
DERIVED: dict[str, tuple[str, Any]] = {
    "has_coef": ("attention", lambda a: float("coef" in ATTENTIONS[a].formats)),
    "att_kind": ("attention", lambda a: ATT_CODE[a]),
    "has_recip": ("aggregation", lambda a: float("recip" in AGGREGATIONS[a].formats)),
    "agg_kind": ("aggregation", lambda a: AGG_CODE[a]),
    "act_kind": ("activation", lambda a: ACT_CODE[a]),
    "act_signed": ("activation", lambda a: float(not ACTIVATIONS[a].non_negative)),
}


def spec_for_choice(get, i: int, n_layers: int, in_features, hw: LayerHW, input_signed: bool) -> LayerSpec:
    """Spec of layer ``i`` from decision values; ``get(decision, layer)`` returns numbers or tensors.

    Categorical decisions arrive pre-encoded (:data:`DERIVED`): ``has_coef`` and ``has_recip``
    flags, the operator codes ``att_kind``, ``agg_kind``, ``act_kind`` and ``act_signed``. The softmax attentions'
    formats follow the trained layer's (``search.quant_layer.QuantGraphLayer``): attention vectors and scores at
    the aggregation bitwidth, exp at the coefficient bitwidth; binary points are nominal,
    :data:`NOMINAL_INT_BITS` below the top. Signedness as in the trained model: the first layer's input
    ``input_signed`` (the features'), every layer's output signed unless its activation is non-negative
    (``act_signed``), the next layer's input likewise. Layer 0 reads its features sparse when ``hw.input`` says
    so (a fixed choice, not searched).
    """
    last = i == n_layers - 1
    hidden, heads = get("hidden", i), get("heads", i)
    in_f = in_features if i == 0 else get("hidden", i - 1) * get("heads", i - 1)
    wq = get("q_weight", i)
    w_kind = nm.where(nm.eq(wq, 1), 1.0, nm.where(nm.eq(wq, 2), 2.0, 0.0))
    x_bits, lin_bits, agg_bits = get("q_input", i), get("q_linear", i), get("q_aggregation", i)
    out_bits = agg_bits if last else get("q_input", i + 1)
    has_coef, has_recip = get("has_coef", i), get("has_recip", i)
    coef_bits = get("q_coef", i)
    wb = nm.where(nm.eq(w_kind, 0), wq, w_kind)
    return LayerSpec(
        in_features=in_f,
        out_features=hidden,
        heads=heads,
        concat=1,
        x_bits=x_bits,
        x_signed=float(input_signed) if i == 0 else get("act_signed", i - 1),
        w_kind=w_kind,
        w_bits=wq,
        w_signed=1,
        lin_bits=lin_bits,
        lin_signed=1,
        has_coef=has_coef,
        coef_bits=coef_bits,
        coef_signed=0,
        has_recip=has_recip,
        recip_bits=MEAN_RECIP_BITS,
        recip_signed=0,
        has_bias=1,
        bias_bits=get("q_bias", i),
        bias_signed=1,
        agg_bits=agg_bits,
        agg_signed=1,
        out_bits=out_bits,
        out_signed=get("act_signed", i),
        att_kind=get("att_kind", i),
        agg_kind=get("agg_kind", i),
        act_kind=get("act_kind", i),
        att_bits=agg_bits,
        score_bits=agg_bits,
        score_frac=agg_bits - NOMINAL_INT_BITS,
        exp_bits=coef_bits,
        coef_frac=coef_bits - 1,
        att_frac=agg_bits - NOMINAL_INT_BITS,
        agg_frac=agg_bits - NOMINAL_INT_BITS,
        shift_lin=nm.maximum(x_bits + wb - lin_bits, 0.0),
        shift_bias=has_coef * (coef_bits - 1) + has_recip * (MEAN_RECIP_BITS - 1),
        shift_agg=0,
        shift_out=0,
        p_in=nm.minimum(hw.p_in, in_f),
        p_out=nm.minimum(hw.p_out, hidden),
        p_agg=nm.minimum(hw.p_agg, hidden),
        sparse=int(hw.input == "sparse"),
        mult=hw.mult,
        name=f"layer{i}",
    )


def _unit_values(u) -> dict[str, Any]:
    """The expected cost's terms of one unit of an estimate."""
    return {
        "lut": u.lut + u.lutram,
        "ff": u.ff,
        "dsp": u.dsp,
        "bram36": u.bram36 + u.bram18 / 2,
        "cycles": u.cycles,
        "buffer_bits": u.bits if u.kind == "buffer" else 0.0,
    }


class ExpectedHardwareCost:
    """Expected cost of the accelerator over a search space.

    ``options``: ``{"layer<i>.<decision>": tuple of options}`` for every decision in :data:`DECISIONS`
    (a ``search.space.SearchSpace`` works via :meth:`from_space`). ``hw``: per-layer parallelism (clipped to
    each path's shapes). ``input_signed``: whether the features (the first layer's input) take negative
    values. Call with ``{key: probabilities}`` (1-D tensors, same order as the options).
    """

    def __init__(
        self,
        options: Mapping[str, Sequence],
        *,
        in_features: int,
        num_classes: int,
        hw: Sequence[LayerHW],
        max_nodes: int,
        max_edges: int,
        num_nodes: int | None = None,
        num_edges: int | None = None,
        device: str = "xc7z020",
        clock_mhz: float | None = None,
        input_signed: bool = True,
        feature_nonzeros: Mapping[int, int] | None = None,
        max_nonzeros: int | None = None,
        offchip: Sequence[str] = (),
    ):
        self.options = {k: tuple(v) for k, v in options.items()}
        self.n_layers = 1 + max(int(k.split(".")[0][len("layer") :]) for k in self.options)
        for i in range(self.n_layers):
            for d in DECISIONS:
                if f"layer{i}.{d}" not in self.options:
                    raise KeyError(f"missing decision layer{i}.{d}")
        self.keys = [f"layer{i}.{d}" for i in range(self.n_layers) for d in DECISIONS]
        self.axis = {k: j for j, k in enumerate(self.keys)}
        self.kw = dict(
            in_features=in_features,
            num_classes=num_classes,
            max_nodes=max_nodes,
            max_edges=max_edges,
            num_nodes=num_nodes if num_nodes is not None else max_nodes,
            num_edges=num_edges if num_edges is not None else max_edges,
            device=device,
            clock_mhz=clock_mhz,
            feature_nonzeros=feature_nonzeros,
            max_nonzeros=max_nonzeros if max_nonzeros is not None
            else sum(k * c for k, c in (feature_nonzeros or {}).items()),
            offchip=tuple(offchip),
        )
        self.hw = list(hw)
        self.input_signed = input_signed
        self._cache: list | None = None
        self._lut_cache: tuple | None = None

    @classmethod
    def from_space(cls, space, **kw) -> ExpectedHardwareCost:
        return cls(
            {k: space.options(k) for k in space.decision_keys},
            in_features=space.in_features,
            num_classes=space.num_classes,
            **kw,
        )

    # -- option tensors, one axis per decision --------------------------------------------------------
    def _axis_tensor(self, key: str, values: Sequence[float]) -> torch.Tensor:
        shape = [1] * len(self.keys)
        shape[self.axis[key]] = len(values)
        return torch.tensor([float(v) for v in values], dtype=torch.float64).view(shape)

    def _get_tensor(self, decision: str, i: int):
        key = lambda d: f"layer{i}.{d}"  # noqa: E731
        if decision in DERIVED:
            src, fn = DERIVED[decision]
            return self._axis_tensor(key(src), [fn(a) for a in self.options[key(src)]])
        return self._axis_tensor(key(decision), self.options[key(decision)])

    def _specs(self, get, mult: str | None = None) -> list[LayerSpec]:
        """Every layer's spec from ``get``; ``mult`` overrides every layer's multiplier mapping."""
        return [
            spec_for_choice(get, i, self.n_layers, self.kw["in_features"],
                            self.hw[i] if mult is None else replace(self.hw[i], mult=mult), self.input_signed)
            for i in range(self.n_layers)
        ]

    def _unit_tensors(self):
        """Per-unit cost tensors (computed once; they do not depend on the probabilities)."""
        if self._cache is None:
            specs = self._specs(self._get_tensor)
            est = estimate_specs(specs, **self.kw)
            self._kinds = [u.kind for u in est.units] + ["model"] * len(specs) + ["control"]
            self._layers = [u.layer for u in est.units]
            terms = [_unit_values(u) for u in est.units]
            for s in specs:
                terms.append({"model_bits": model_bits(s)})
            terms.append({"cycles": float(TOP_OVERHEAD)})
            self._clock = est.clock_mhz
            self._cache = terms
        return self._cache

    def _lut_unit_tensors(self):
        """Per unit, its cost tensors under ``mult = "lut"`` where its layer's products go to DSPs under
        ``auto`` (the DSE's other mapping), else ``None``; and the layers that have such products under
        some option."""
        if self._lut_cache is None:
            auto = self._unit_tensors()
            specs = self._specs(self._get_tensor, "lut")
            on_dsp = {s.name: products_on_dsp(s) for s in specs}
            est = estimate_specs(specs, **self.kw)
            lut: list = [None] * len(auto)
            for j, (u, layer) in enumerate(zip(est.units, self._layers, strict=True)):
                if layer in on_dsp:
                    lut[j] = {k: nm.where(on_dsp[layer], v, auto[j][k]) for k, v in _unit_values(u).items()}
            mappable = tuple(i for i, s in enumerate(specs) if bool(torch.as_tensor(on_dsp[s.name]).any()))
            self._lut_cache = (lut, mappable)
        return self._lut_cache

    @property
    def lut_mappable_layers(self) -> tuple[int, ...]:
        """Layers whose products go to DSPs under ``auto`` for some option (the DSE may map them to LUTs)."""
        return self._lut_unit_tensors()[1]

    def _expect(self, t, probs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        dtype = next(iter(probs.values())).dtype
        if not torch.is_tensor(t):
            return torch.tensor(float(t), dtype=dtype)
        t = t.to(dtype)
        w = torch.ones((), dtype=dtype)
        for j, n in enumerate(t.shape):
            if n > 1:
                p = probs[self.keys[j]]
                shape = [1] * t.dim()
                shape[j] = n
                w = w * p.view(shape)
        return (t * w).sum()

    def __call__(self, probs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        terms = self._unit_tensors()
        out = {k: None for k in COST_KEYS if k != "latency_us"}
        for term in terms:
            for k, v in term.items():
                e = self._expect(v, probs)
                out[k] = e if out[k] is None else out[k] + e
        dtype = next(iter(probs.values())).dtype
        out = {k: (v if v is not None else torch.zeros((), dtype=dtype)) for k, v in out.items()}
        out["latency_us"] = out["cycles"] / self._clock
        return out

    @property
    def clock_mhz(self) -> float:
        self._unit_tensors()
        return self._clock

    def unit_terms(self, probs: Mapping[str, torch.Tensor], lut_layers: Sequence[int] = ()
                   ) -> list[tuple[str, dict[str, torch.Tensor]]]:
        """Per unit, in the estimate's order, and the top level's fixed cycles last (``control``): its kind and
        its expected ``lut``, ``dsp``, ``bram36`` and ``cycles`` under ``probs``. The layers in ``lut_layers``
        take the DSE's ``mult = "lut"`` where their products go to DSPs under ``auto``."""
        terms = list(self._unit_tensors())
        if lut_layers:
            lut, _ = self._lut_unit_tensors()
            names = {f"layer{i}" for i in lut_layers}
            for j, layer in enumerate(self._layers):
                if layer in names:
                    terms[j] = lut[j]
        return [(kind, {k: self._expect(term.get(k, 0.0), probs) for k in ("lut", "dsp", "bram36", "cycles")})
                for kind, term in zip(self._kinds, terms, strict=True) if "cycles" in term]

    def fixed(self, choice: Mapping[str, Any]) -> dict[str, float]:
        """Cost of one path (``{key: option}``) through the same formulas with plain numbers."""

        def get(decision, i):
            key = lambda d: f"layer{i}.{d}"  # noqa: E731
            if decision in DERIVED:
                src, fn = DERIVED[decision]
                return float(fn(choice[key(src)]))
            return float(choice[key(decision)])

        specs = self._specs(get)
        est = estimate_specs(specs, **self.kw)
        t = est.totals()
        return {
            "lut": nm.to_float(t["lut_total"]),
            "ff": nm.to_float(t["ff"]),
            "dsp": nm.to_float(t["dsp"]),
            "bram36": nm.to_float(t["bram36_equiv"]),
            "cycles": nm.to_float(t["cycles"]),
            "latency_us": nm.to_float(t["latency_us"]),
            "model_bits": nm.to_float(t["model_bits"]),
            "buffer_bits": nm.to_float(t["buffer_bits"]),
        }

    def one_hot(self, choice: Mapping[str, Any], dtype=torch.float64) -> dict[str, torch.Tensor]:
        return {
            k: torch.tensor([1.0 if o == choice[k] else 0.0 for o in self.options[k]], dtype=dtype) for k in self.keys
        }


#: the units whose cycles fall as their lanes rise, and the lanes two-lane parallelism (P = 2) adds to one
#: lane (transform: P_in x P_out = 4, aggregate: P_agg = 2); the other units take fixed time
ADDED_LANES: dict[str, float] = {"transform": 3.0, "aggregate": 1.0}
#: the least share of a resource left to the lanes in ``balanced_cycles`` (keeps the stand-in finite)
MIN_LANE_SHARE = 0.05

#: per unit: its kind and its ``lut``, ``dsp``, ``bram36`` and ``cycles`` (``ExpectedHardwareCost.unit_terms``)
UnitTerms = Sequence[tuple[str, Mapping[str, Any]]]


def balanced_cycles(one_lane: UnitTerms, two_lanes: UnitTerms, most_lanes: UnitTerms, budget: Mapping[str, float]):
    """A smooth stand-in for the cycles at the best parallelism that fits (the DSE's), from every unit's
    costs at one lane (P = 1), at two (P = 2) and at the most lanes its loops allow, and the device's
    ``budget`` of each resource (``{"lut": ..., "dsp": ..., "bram36": ...}``): the largest of
    :func:`lane_limited_cycles` over the resources, each a relaxation (that resource the only limit).
    Numbers or tensors (then differentiable). docs/cost_model.md ("Latency at the best parallelism") has the
    derivation and its agreement with the DSE."""
    out = None
    for resource, amount in budget.items():
        cycles = lane_limited_cycles(one_lane, two_lanes, most_lanes, resource, amount)
        out = cycles if out is None else nm.maximum(out, cycles)
    return out


def lane_limited_cycles(one_lane: UnitTerms, two_lanes: UnitTerms, most_lanes: UnitTerms, resource: str,
                        amount: float):
    """Least cycles when only ``resource`` (``amount`` of it) limits the lanes: unit ``u`` takes ``c_u``
    cycles at one lane and at least ``m_u``; each added lane costs ``a_u`` of the device (the increment from
    one lane to two, per lane, over ``amount``), the rest of its one-lane cost is overhead ``o_u``. With
    ``r_u <= c_u / m_u`` lanes it takes ``c_u / r_u`` cycles; the lanes that minimise ``sum c_u / r_u`` under
    ``sum r_u a_u <= B = 1 - sum o_u`` (Lagrange; the units whose optimum exceeds their cap held there, the
    rest shared again) give ``(sum_free sqrt(c_u a_u))**2 / (B - sum_capped a_u c_u / m_u) + sum_capped
    m_u``; units that do not scale add their cycles."""
    scaling, fixed, overhead = [], 0.0, 0.0
    for (kind, one), (_, two), (_, most) in zip(one_lane, two_lanes, most_lanes, strict=True):
        share = one[resource] / amount
        if kind in ADDED_LANES:
            lane = nm.maximum((two[resource] / amount - share) / ADDED_LANES[kind], 1e-12)
            overhead = overhead + share - lane
            scaling.append((one["cycles"], lane, most["cycles"]))
        else:
            fixed = fixed + one["cycles"]
            overhead = overhead + share
    budget = nm.maximum(1.0 - overhead, MIN_LANE_SHARE)
    capped: set[int] = set()
    while True:
        free = [j for j in range(len(scaling)) if j not in capped]
        left = budget - sum((lane * c / m for j, (c, lane, m) in enumerate(scaling) if j in capped), 0.0)
        root = sum((nm.sqrt(scaling[j][0] * scaling[j][1]) for j in free), 0.0)
        over_cap = {j for j in free if nm.to_float(left / root * nm.sqrt(scaling[j][0] / scaling[j][1]))
                    > nm.to_float(scaling[j][0] / scaling[j][2])}
        if not over_cap:
            break
        capped |= over_cap
    held = sum((scaling[j][2] for j in capped), 0.0)
    return (root * root / left if free else 0.0) + held + fixed


def best_mapping_cycles(one_lane: ExpectedHardwareCost, two_lanes: ExpectedHardwareCost,
                        most_lanes: ExpectedHardwareCost, probs: Mapping[str, torch.Tensor],
                        budget: Mapping[str, float], stand_in=balanced_cycles):
    """``stand_in`` (:func:`balanced_cycles`) at the DSE's best multiplier mapping: the least over every set
    of layers that take LUT lanes (``ExpectedHardwareCost.unit_terms``'s ``lut_layers``, among the layers
    whose products go to DSPs under ``auto`` for some option), the rest ``auto``. The three costs are the
    units at one lane, two and the most lanes, over the same space."""
    layers = one_lane.lut_mappable_layers
    out = None
    for chosen in itertools.chain.from_iterable(itertools.combinations(layers, k) for k in range(len(layers) + 1)):
        cycles = stand_in(*(c.unit_terms(probs, chosen) for c in (one_lane, two_lanes, most_lanes)), budget)
        out = cycles if out is None else nm.minimum(out, cycles)
    return out
