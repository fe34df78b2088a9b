"""Hardware cost for the search: model size and on-chip buffer size, exact and expected.

Until the analytical cost model (``hw_model/``) lands, the cost is memory, in bits (reported in KiB):

* **model size**: every layer's weights ``heads * in * out * weight.bits`` plus its bias
  ``len(bias) * bias.bits``;
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

from lpgnas.ir import ModelIR
from lpgnas.operators import AGGREGATIONS, ATTENTIONS
from search.layers import MEAN_RECIP_FORMAT
from search.space import SearchSpace

KIB = 8 * 1024

#: on-chip block RAM of device presets, in KiB (RAMB36 count * 36 Kib; URAM not counted), until hw_model's
#: device presets land
DEVICE_BRAM_KIB: dict[str, float] = {
    "xc7z020": 140 * 36 / 8,
    "xc7z045": 545 * 36 / 8,
    "xczu3eg": 216 * 36 / 8,
    "xczu7ev": 312 * 36 / 8,
    "xczu9eg": 912 * 36 / 8,
    "xcu250": 2688 * 36 / 8,
}


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
            model = model + in_width * width * m("q_weight") + width * m("q_aggregation")
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


def resolve_budget(budget: str | float | None, device: str) -> float | None:
    """``None``, a number of KiB, or ``"device"`` (the device's BRAM, :data:`DEVICE_BRAM_KIB`)."""
    if budget is None:
        return None
    if isinstance(budget, str) and budget.lower() == "device":
        if device not in DEVICE_BRAM_KIB:
            from lpgnas.errors import LpgnasError

            raise LpgnasError(f"--budget-kib device: no BRAM figure for device {device!r}; "
                              f"known: {', '.join(DEVICE_BRAM_KIB)}")
        return DEVICE_BRAM_KIB[device]
    value = float(budget)
    if value <= 0:
        from lpgnas.errors import LpgnasError

        raise LpgnasError(f"--budget-kib {budget}: must be > 0 KiB (or 'device')")
    return value
