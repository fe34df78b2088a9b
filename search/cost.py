"""Hardware cost for the search: model size and on-chip buffer size, exact and expected.

Until the analytical cost model (``hw_model/``) lands, the cost is memory, in bits (reported in KiB):

* **model size**: every layer's weights ``heads * in * out * weight.bits`` plus its bias
  ``len(bias) * bias.bits`` and, for softmax attentions, its attention vectors ``heads * out * att.bits``;
* **buffer size**: per layer the input buffer ``N * in * input.bits``, the linear-output buffer
  ``N * heads * out * linear.bits`` and the aggregation buffer ``N * heads * out * aggregation.bits``;
  the logits buffer ``N * classes * output.bits``; the graph in CSR (``N + 1`` row pointers of
  ``ceil(log2(E + 1))`` bits, ``E`` column indices of ``ceil(log2 N)`` bits, ``E`` counting the
  self-loops); per-edge coefficients ``E * coef.bits`` for attentions with a ``coef`` format
  (precomputed on the host, e.g. ``gcn``); per-node reciprocals ``N * recip.bits`` for aggregations with
  a ``recip`` format (``mean``). Buffers are not reused across layers (an upper bound).

:func:`model_size_bits` / :func:`buffer_size_bits` give the exact figures of a fixed design (an IR).
:class:`ExpectedCost` gives the same formulas as a torch expression of the controllers' probabilities:
each term is a product of *distinct, independent* decisions (e.g. ``E[heads] * E[hidden] * E[bits]``),
so the product of per-decision expectations is the exact expectation, and at one-hot probabilities it
equals the fixed design's size.
"""

from __future__ import annotations

import math

import torch
from lpgnas.hw_model.expected import ExpectedHardwareCost
from lpgnas.search.space import SearchSpace

from lpgnas.devices import PRESETS, load_device
from lpgnas.errors import LpgnasError
from lpgnas.hwconfig import LayerHW
from lpgnas.ir import ModelIR
from lpgnas.operators import AGGREGATIONS, ATTENTIONS, MEAN_RECIP_FORMAT

KIB = 8 * 1024

#: on-chip block RAM of the device presets (``lpgnas.devices``), in KiB (RAMB36 count * 36 Kib; URAM
#: not counted)
DEVICE_BRAM_KIB: dict[str, float] = {name: d.bram36 * 36 / 8 for name, d in PRESETS.items()}

#: terms of the search's cost: memory (KiB) and the hardware model's resources / latency
COST_TERMS: tuple[str, ...] = ("model", "buffer", "lut", "dsp", "bram", "latency")
COST_ALIASES: dict[str, tuple[str, ...]] = {
    "total": ("model", "buffer"),
    "memory": ("model", "buffer"),
    "hw": COST_TERMS,
}
#: nominal parallelism of every layer when the search costs a path (the flow's DSE picks the real one)
NOMINAL_HW = LayerHW(4, 4, 4)


def _index_bits(n: int) -> int:
    """Bits of an unsigned index into ``n`` items."""
    return max(1, math.ceil(math.log2(max(n, 2))))


def csr_bits(num_nodes: int, num_edges: int) -> int:
    """Row pointers (``N + 1`` offsets up to ``E``) and column indices (``E`` node ids)."""
    return (num_nodes + 1) * _index_bits(num_edges + 1) + num_edges * _index_bits(num_nodes)


def model_size_bits(ir: ModelIR) -> int:
    """Bits of all weights and biases of a fixed design."""
    bits = 0
    for layer in ir.layers:
        bits += layer.heads * layer.in_features * layer.out_features * layer.formats["weight"].bits
        if layer.bias is not None:
            bits += layer.output_features * layer.formats["bias"].bits
        for t in (getattr(layer, "attention_tensors", None) or {}).values():  # softmax attentions' vectors
            bits += int(t.size) * layer.formats["att_weight"].bits
    return bits


def buffer_size_bits(ir: ModelIR, num_nodes: int, num_edges: int) -> int:
    """Bits of the on-chip activation buffers and graph memories (``num_edges`` with self-loops)."""
    n, fm_last = num_nodes, ir.layers[-1].formats
    bits = csr_bits(num_nodes, num_edges)
    for layer in ir.layers:
        fm = layer.formats
        width = layer.heads * layer.out_features
        bits += n * layer.in_features * fm["input"].bits
        bits += n * width * fm["linear"].bits
        bits += n * layer.output_features * fm["aggregation"].bits
        if "coef" in fm:
            bits += num_edges * fm["coef"].bits
        if "recip" in fm:
            bits += n * fm["recip"].bits
    bits += n * ir.num_classes * fm_last["output"].bits
    return bits


def float_gcn_size_bits(in_features: int, hidden: int, num_classes: int, bits: int = 32) -> int:
    """Model size of the float reference: a 2-layer GCN with biases, ``bits`` per parameter."""
    return bits * (in_features * hidden + hidden + hidden * num_classes + num_classes)


class ExpectedCost:
    """Expected model and buffer size (bits) under per-decision probabilities, as a torch expression."""

    def __init__(self, space: SearchSpace, num_nodes: int, num_edges: int) -> None:
        self.space, self.num_nodes, self.num_edges = space, num_nodes, num_edges
        self.csr = csr_bits(num_nodes, num_edges)

    def _mean(self, probs: dict[str, torch.Tensor], key: str) -> torch.Tensor:
        p = probs[key]
        return p @ torch.tensor([float(v) for v in self.space.options(key)], dtype=p.dtype)

    def _prob_of(self, probs: dict[str, torch.Tensor], key: str, pred) -> torch.Tensor:
        """Probability that decision ``key`` takes an option satisfying ``pred``."""
        p = probs[key]
        mask = torch.tensor([1.0 if pred(v) else 0.0 for v in self.space.options(key)], dtype=p.dtype)
        return p @ mask

    def bits(self, probs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"model": ..., "buffer": ...}`` in bits; ``probs`` holds every decision key of the space."""
        n, e = float(self.num_nodes), float(self.num_edges)
        ref = next(iter(probs.values()))
        model = torch.zeros((), dtype=ref.dtype)
        buffer = torch.full((), float(self.csr), dtype=ref.dtype)
        in_width = torch.full((), float(self.space.in_features), dtype=ref.dtype)
        for i in range(len(self.space.layers)):
            m = lambda d, i=i: self._mean(probs, f"layer{i}.{d}")  # noqa: E731
            width = m("heads") * m("hidden")
            model = model + in_width * width * m("q_weight") + width * m("q_bias")
            buffer = buffer + n * in_width * m("q_input") + n * width * (m("q_linear") + m("q_aggregation"))
            p_coef = self._prob_of(probs, f"layer{i}.attention", lambda a: "coef" in ATTENTIONS[a].formats)
            p_recip = self._prob_of(probs, f"layer{i}.aggregation",
                                    lambda a: "recip" in AGGREGATIONS[a].formats)
            buffer = buffer + e * p_coef * m("q_coef") + n * MEAN_RECIP_FORMAT.bits * p_recip
            in_width = width
        last = len(self.space.layers) - 1
        buffer = buffer + n * self.space.num_classes * self._mean(probs, f"layer{last}.q_aggregation")
        return {"model": model, "buffer": buffer}

    def kib(self, probs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Model, buffer and total in KiB."""
        b = self.bits(probs)
        out = {k: v / KIB for k, v in b.items()}
        out["total"] = out["model"] + out["buffer"]
        return out


def uniform_probs(space: SearchSpace, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    return {k: torch.full((len(space.options(k)),), 1.0 / len(space.options(k)), dtype=dtype)
            for k in space.decision_keys}


def cost_penalty(cost_kib: torch.Tensor, lam: float, reference_kib: float, budget_kib: float | None
                 ) -> torch.Tensor:
    """``lam * cost / reference`` (no budget), or ``lam * relu(cost - budget) / budget`` (budget mode).

    Normalising makes ``lam`` dimensionless: in plain mode ``lam`` nats of task loss buy the whole
    reference cost (the expected cost at uniform probabilities); in budget mode only the excess over
    the budget is penalised, ``lam`` nats per budget's worth of excess.
    """
    if budget_kib is None:
        return lam * cost_kib / reference_kib
    return lam * torch.relu(cost_kib - budget_kib) / budget_kib


def resolve_budget(budget: str | float | None, device: str, float_gcn_kib: float | None = None) -> float | None:
    """``None``, a number of KiB, ``"device"`` (the device's BRAM, :data:`DEVICE_BRAM_KIB`) or ``"gcn8"``
    (1/8 of the 32-bit float GCN 2x16's model size, ``float_gcn_kib``, the issue's target)."""
    if budget is None:
        return None
    if isinstance(budget, str) and budget.lower() == "gcn8":
        return None if float_gcn_kib is None else float_gcn_kib / 8
    if isinstance(budget, str) and budget.lower() == "device":
        return load_device(device).bram36 * 36 / 8
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
    """

    def __init__(self, space: SearchSpace, num_nodes: int, num_edges: int, device: str, terms: str = "hw",
                 budget_kib: float | None = None, budget_mode: bool = False) -> None:
        self.space, self.terms = space, cost_terms(terms)
        self.device = load_device(device)
        self.hw = ExpectedHardwareCost.from_space(
            space, hw=[NOMINAL_HW] * len(space.layers), max_nodes=num_nodes, max_edges=num_edges,
            device=self.device.name)
        self.budget_mode = budget_mode or budget_kib is not None
        dev = self.device
        bram_kib = dev.bram36 * 36 / 8
        self.budget = {"model": budget_kib if budget_kib is not None else bram_kib, "buffer": bram_kib,
                       "lut": float(dev.lut), "dsp": float(dev.dsp), "bram": float(dev.bram36)}
        with torch.no_grad():
            u = self.values(uniform_probs(space, torch.float64))
        self.reference = {k: max(float(v), 1e-9) for k, v in u.items()}

    def values(self, probs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Expected ``model`` / ``buffer`` (KiB), ``lut``, ``dsp``, ``bram`` (RAMB36), ``latency`` (us)."""
        p64 = {k: v.double() for k, v in probs.items()}
        e = self.hw(p64)
        return {"model": e["model_bits"] / KIB, "buffer": e["buffer_bits"] / KIB, "lut": e["lut"],
                "dsp": e["dsp"], "bram": e["bram36"], "latency": e["latency_us"]}

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
        return lam * out


def hardware_estimate(ir: ModelIR, num_nodes: int, num_edges: int, device: str) -> dict:
    """``hw_model.model.estimate`` of an exported design at the search's nominal parallelism, buffers sized
    for the whole graph: LUT (incl. LUTRAM), FF, DSP, BRAM36 equivalent, cycles, latency, on-chip buffer
    KiB, whether it fits ``device`` and, if not, by how much (``overuse``)."""
    from lpgnas.hw_model import numeric as nm
    from lpgnas.hw_model.dse import describe_overuse
    from lpgnas.hw_model.model import estimate

    from lpgnas.hwconfig import HardwareConfig

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
