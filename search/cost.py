"""The search's hardware cost, read from the cost model (``lpgnas.hw_model``).

:class:`SearchCost` is the controllers' cost (``hw_model.expected``); :func:`model_size_bits` and
:func:`hardware_estimate` are the cost model's figures of an exported design; budgets and cost terms.
The formulas are in docs/cost_model.md, the cost's use in docs/search.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import torch

from lpgnas.devices import PRESETS, Device, load_device
from lpgnas.errors import LpgnasError
from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.dse import MAX_PARALLEL, describe_overuse
from lpgnas.hw_model.expected import ExpectedHardwareCost, best_mapping_cycles
from lpgnas.hw_model.model import estimate, model_bits
from lpgnas.hw_model.params import spec_from_ir
from lpgnas.hwconfig import INPUT_MODES, HardwareConfig, LayerHW
from lpgnas.ir import ModelIR
from lpgnas.search.space import SearchSpace

KIB = 8 * 1024


def bram_kib(device: Device) -> float:
    """On-chip block RAM of ``device`` in KiB (RAMB36 count * 36 Kib; URAM not counted)."""
    return device.bram36 * 36 / 8


#: on-chip block RAM of the device presets (``lpgnas.devices``), in KiB
DEVICE_BRAM_KIB: dict[str, float] = {name: bram_kib(d) for name, d in PRESETS.items()}

#: terms of the search's cost: memory (KiB) and the hardware model's resources / latency
COST_TERMS: tuple[str, ...] = ("model", "buffer", "lut", "dsp", "bram", "latency")
COST_ALIASES: dict[str, tuple[str, ...]] = {
    "total": ("model", "buffer"),
    "memory": ("model", "buffer"),
    "hw": COST_TERMS,
}
#: nominal parallelism of every layer when the search costs a path (the flow's DSE picks the real one)
NOMINAL_HW = LayerHW(4, 4, 4)
#: what the controllers trade accuracy against (``SearchCost``)
OBJECTIVES = ("size", "latency")
#: one lane per loop: the smallest design, which must fit the device under the latency objective
ONE_LANE = LayerHW(1, 1, 1)
#: two lanes per loop: with ONE_LANE, what a lane costs (``hw_model.expected.balanced_cycles``)
TWO_LANES = LayerHW(2, 2, 2)
#: the DSE's most lanes per loop (clipped to each loop's length): the least cycles of a unit
MOST_LANES = LayerHW(MAX_PARALLEL, MAX_PARALLEL, MAX_PARALLEL)


def model_size_bits(ir: ModelIR) -> int:
    """Bits of the weights, biases and attention vectors of a fixed design (the cost model's
    ``model_bits`` of every layer)."""
    return int(sum(model_bits(spec_from_ir(layer)) for layer in ir.layers))


def float_gcn_size_bits(in_features: int, hidden: int, num_classes: int, bits: int = 32) -> int:
    """Model size of the float reference: a 2-layer GCN with biases, ``bits`` per parameter."""
    return bits * (in_features * hidden + hidden + hidden * num_classes + num_classes)


def uniform_probs(space: SearchSpace, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Every decision's options equally likely."""
    return {k: torch.full((len(space.options(k)),), 1.0 / len(space.options(k)), dtype=dtype)
            for k in space.decision_keys}


def resolve_budget(budget: str | float | None, device: str, float_gcn_kib: float | None = None) -> float | None:
    """``None``, a number of KiB, ``"device"`` (the device's BRAM, :data:`DEVICE_BRAM_KIB`) or ``"gcn8"``
    (1/8 of the 32-bit float GCN 2x16's model size, ``float_gcn_kib``, the issue's target)."""
    if budget is None:
        return None
    if isinstance(budget, str) and budget.lower() == "gcn8":
        return None if float_gcn_kib is None else float_gcn_kib / 8
    if isinstance(budget, str) and budget.lower() == "device":
        return bram_kib(load_device(device))
    try:
        value = float(budget)
    except ValueError:
        raise LpgnasError(f"--budget-kib {budget!r}: a number of KiB or 'device'") from None
    if value <= 0:
        raise LpgnasError(f"--budget-kib {budget}: must be > 0 KiB (or 'device')")
    return value


def cost_terms(spec: str) -> tuple[str, ...]:
    """``"hw"``, ``"total"``, ``"model"``, ``"lut,dsp"``... -> the terms (in :data:`COST_TERMS` order)."""
    terms: set[str] = set()
    for part in str(spec).split(","):
        part = part.strip()
        if part in COST_ALIASES:
            terms |= set(COST_ALIASES[part])
        elif part in COST_TERMS:
            terms.add(part)
        else:
            raise LpgnasError(f"--cost {spec!r}: {part!r} is not one of {', '.join((*COST_ALIASES, *COST_TERMS))}")
    return tuple(t for t in COST_TERMS if t in terms)


class SearchCost:
    """The controllers' cost: expected model / buffer size and the hardware model's expected LUT, DSP,
    BRAM and latency (``hw_model.expected.ExpectedHardwareCost``: exact, differentiable expectation under
    the controllers' probabilities, one-hot = the fixed design's estimate).

    :meth:`values` gives every term in natural units (KiB, LUTs, DSPs, RAMB36, microseconds).
    :meth:`penalty`, plain mode: ``lam * mean_t C_t(p) / C_t(uniform)`` over the selected terms (``lam``
    nats of task loss buy the whole reference cost); budget mode: ``lam * sum_t relu(C_t - B_t) / B_t``,
    only what exceeds the budget: LUT / DSP / BRAM against the device's (``lpgnas.devices``), the buffers
    against the device's BRAM in KiB, the model size against ``budget_kib`` (default: the device's BRAM in
    KiB); latency has no budget and is ignored in budget mode.

    ``objective="latency"`` (always budget mode; ``terms`` unused): ``lam * (L(p) / L(uniform) + sum_t
    relu(C_t - B_t) / B_t)``, ``L`` the stand-in for the latency at the best parallelism that fits the device
    (``dse_latency``, ``hw_model.expected.balanced_cycles`` from the units at :data:`ONE_LANE`,
    :data:`TWO_LANES` and :data:`MOST_LANES`, at the best of the DSE's multiplier mappings,
    ``best_mapping_cycles``), the limits the one-lane design's LUT, DSP and BRAM
    (``lut1``, ``dsp1``, ``bram1``: the DSE's smallest design must fit) and ``budget_kib``, if given.

    ``feature_nonzeros``: the dataset's input-feature row histogram (``lpgnas.sparse.nonzero_histogram`` of the
    preprocessed features, whole graph; the quantised codes' non-zeros can only be fewer, so a sparse layer 0 is
    costed at most as fast as the exported design's). With it, under the latency objective, layer 0 reads its
    input dense or sparse as the DSE may choose: ``dse_latency`` is the least over both modes, and each limit
    the least of the two one-lane designs' (a relaxation: the DSE needs one mode that fits on every
    resource). Without it layer 0 is dense.
    """

    def __init__(self, space: SearchSpace, num_nodes: int, num_edges: int, device: str, terms: str = "hw",
                 budget_kib: float | None = None, budget_mode: bool = False, objective: str = "size",
                 input_signed: bool = True, feature_nonzeros: Mapping[int, int] | None = None) -> None:
        self.space, self.objective = space, objective
        self.device = load_device(device)
        self.hw = ExpectedHardwareCost.from_space(
            space, hw=[NOMINAL_HW] * len(space.layers), max_nodes=num_nodes, max_edges=num_edges,
            device=self.device.name, input_signed=input_signed)
        dev, dev_kib = self.device, bram_kib(self.device)
        if objective == "latency":
            modes = INPUT_MODES if feature_nonzeros is not None else ("dense",)
            #: per layer-0 input mode: the units at one lane, two lanes and the most lanes
            self.lanes = {mode: tuple(ExpectedHardwareCost.from_space(
                space, hw=[replace(lanes, input=mode)] + [lanes] * (len(space.layers) - 1), max_nodes=num_nodes,
                max_edges=num_edges, device=self.device.name, input_signed=input_signed,
                feature_nonzeros=feature_nonzeros if mode == "sparse" else None)
                for lanes in (ONE_LANE, TWO_LANES, MOST_LANES)) for mode in modes}
            self.one_lane, self.two_lanes, self.most_lanes = self.lanes["dense"]
            self.terms = ("dse_latency", "lut1", "dsp1", "bram1") + (("model",) if budget_kib is not None else ())
            self.budget_mode = True
            #: what limits the lanes in the stand-in: the device's LUT, DSP and RAMB36
            self.lane_budget = {"lut": float(dev.lut), "dsp": float(dev.dsp), "bram36": float(dev.bram36)}
            self.budget = {"lut1": float(dev.lut), "dsp1": float(dev.dsp), "bram1": float(dev.bram36)} | (
                {"model": budget_kib} if budget_kib is not None else {})
        else:
            self.terms = cost_terms(terms)
            self.budget_mode = budget_mode or budget_kib is not None
            self.budget = {"model": budget_kib if budget_kib is not None else dev_kib, "buffer": dev_kib,
                           "lut": float(dev.lut), "dsp": float(dev.dsp), "bram": float(dev.bram36)}
        with torch.no_grad():
            u = self.values(uniform_probs(space, torch.float64))
        self.reference = {k: max(float(v), 1e-9) for k, v in u.items()}

    def values(self, probs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Expected ``model`` / ``buffer`` (KiB), ``lut``, ``dsp``, ``bram`` (RAMB36), ``latency`` (us) at the
        nominal parallelism; under the latency objective also ``dse_latency`` (us) and ``lut1``, ``dsp1``,
        ``bram1`` at one lane."""
        p64 = {k: v.double() for k, v in probs.items()}
        e = self.hw(p64)
        out = {"model": e["model_bits"] / KIB, "buffer": e["buffer_bits"] / KIB, "lut": e["lut"],
               "dsp": e["dsp"], "bram": e["bram36"], "latency": e["latency_us"]}
        if self.objective == "latency":
            cycles = limits = None
            for lanes in self.lanes.values():
                mode_cycles = best_mapping_cycles(*lanes, p64, self.lane_budget)
                one = lanes[0](p64)
                mode_limits = {"lut1": one["lut"], "dsp1": one["dsp"], "bram1": one["bram36"]}
                cycles = mode_cycles if cycles is None else nm.minimum(cycles, mode_cycles)
                limits = mode_limits if limits is None else {k: nm.minimum(v, mode_limits[k])
                                                             for k, v in limits.items()}
            out |= {"dse_latency": cycles / self.one_lane.clock_mhz} | limits
        return out

    def over_budget(self, probs: dict[str, torch.Tensor]) -> list[str]:
        """The budgeted terms whose (expected) value exceeds the budget; always empty outside budget mode."""
        if not self.budget_mode:
            return []
        with torch.no_grad():
            v = self.values(probs)
        return [t for t in self.terms if t in self.budget and float(v[t]) > self.budget[t]]

    def penalty(self, probs: dict[str, torch.Tensor], lam: float) -> torch.Tensor:
        v = self.values(probs)
        if not self.budget_mode:
            return lam * sum(v[t] / self.reference[t] for t in self.terms) / len(self.terms)
        out = torch.zeros((), dtype=torch.float64)
        for t in self.terms:
            if t in self.budget:
                out = out + torch.relu(v[t] - self.budget[t]) / self.budget[t]
        if self.objective == "latency":  # the latency itself counts; the limits only where exceeded
            out = out + v["dse_latency"] / self.reference["dse_latency"]
        return lam * out


def hardware_estimate(ir: ModelIR, num_nodes: int, num_edges: int, device: str) -> dict:
    """``hw_model.model.estimate`` of an exported design at the search's nominal parallelism, buffers sized
    for the whole graph: LUT (incl. LUTRAM), FF, DSP, BRAM36 equivalent, cycles, latency, on-chip buffer
    KiB, whether it fits ``device`` and, if not, by how much (``overuse``)."""
    hw = HardwareConfig(device=load_device(device).name, max_nodes=num_nodes, max_edges=num_edges,
                        layers=[LayerHW(min(NOMINAL_HW.p_in, lay.in_features), min(NOMINAL_HW.p_out, lay.out_features),
                                        min(NOMINAL_HW.p_agg, lay.out_features)) for lay in ir.layers])
    est = estimate(ir, hw, (num_nodes, num_edges), device)
    t = {k: nm.to_float(v) for k, v in est.totals().items()}
    return {
        "lut": round(t["lut_total"]), "ff": round(t["ff"]), "dsp": round(t["dsp"]),
        "bram36": round(t["bram36_equiv"], 1), "cycles": round(t["cycles"]),
        "latency_us": round(t["latency_us"], 1), "buffer_size_kib": round(t["buffer_bits"] / KIB, 3),
        "fits_device": bool(est.fits),
        "overuse": describe_overuse(est),
    }
