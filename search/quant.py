"""Fake-quantisation modules for quantisation-aware training.

Each quantiser owns one tensor's number format: its bitwidth is fixed, its binary point is calibrated
(activations: exponential moving average of the largest magnitude seen in training, frozen in eval;
weights: from the current tensor). ``fmt()`` gives the exact :class:`NumFormat` the IR exports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from lpgnas.numfmt import NumFormat, fake_quant, fix, frac_for_range, from_bits

#: at most this many bits, an activation's binary point minimises the quantisation error of its values
#: rather than covering their largest magnitude (docs/search.md, "Activations at 4 bits and below")
ERROR_CALIBRATION_BITS = 4
#: the finer binary points tried beyond the one that covers the largest magnitude
EXTRA_FRAC = 3


def calibration_range(tensors: Sequence[torch.Tensor], bits: int, signed: bool) -> float:
    """The range a ``bits``-bit activation format is calibrated to from ``tensors`` (dense or sparse): their
    largest magnitude; at up to ``ERROR_CALIBRATION_BITS`` bits, the largest value of the format, among the one
    covering that magnitude and ``EXTRA_FRAC`` finer ones (which saturate it), with the least squared error
    on the non-zero values (zeros are exact in every format)."""
    vals = [(t.detach().coalesce().values() if t.is_sparse else t.detach()).reshape(-1) for t in tensors]
    vals = torch.cat([v for v in vals if v.numel()]) if any(v.numel() for v in vals) else torch.zeros(0)
    top = float(vals.abs().max()) if vals.numel() else 0.0
    if bits > ERROR_CALIBRATION_BITS or top == 0.0:
        return top
    vals = vals[vals != 0]
    first = frac_for_range(top, bits, signed)
    errors = [(float(((fake_quant(vals, fix(bits, f, signed)) - vals) ** 2).mean()), f)
              for f in range(first, first + EXTRA_FRAC + 1)]
    best = fix(bits, min(errors)[1], signed)
    return best.qmax * 2.0**-best.frac


class ActQuant(nn.Module):
    """Quantiser of an activation tensor: ``bits``-bit fix, unsigned when ``signed`` is False."""

    def __init__(self, bits: int, signed: bool = True, momentum: float = 0.1) -> None:
        super().__init__()
        self.bits, self.signed, self.momentum = bits, signed, momentum
        self.register_buffer("max_abs", torch.tensor(0.0))

    def fmt(self) -> NumFormat:
        return fix(self.bits, frac_for_range(float(self.max_abs), self.bits, self.signed), self.signed)

    def observe(self, *tensors: torch.Tensor) -> NumFormat:
        """In training, update the running range with ``tensors``' (``calibration_range``); the format."""
        if self.training:
            self.observe_range(calibration_range(tensors, self.bits, self.signed))
        return self.fmt()

    def observe_range(self, m: float) -> NumFormat:
        """In training, update the running range with ``m``, a range from ``calibration_range``; the format."""
        if self.training:
            if float(self.max_abs) == 0.0:
                self.max_abs.fill_(m)
            else:
                self.max_abs.mul_(1 - self.momentum).add_(self.momentum * m)
        return self.fmt()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fake_quant(x, self.observe(x))


class WeightQuant(nn.Module):
    """Quantiser of a weight tensor: 1 bit -> binary, 2 bits -> ternary, else signed fix.

    The binary point of a fix format covers the tensor's largest magnitude; binary and ternary codes
    take the power of two nearest to the mean magnitude (XNOR-Net style scaling, restricted to 2**-k).
    """

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = bits

    def fmt_for(self, w: torch.Tensor) -> NumFormat:
        if self.bits <= 2:
            scale = float(w.detach().abs().mean()) if w.numel() else 1.0
            scale = scale if scale > 0 else 1.0
            return from_bits(self.bits, int(-math.floor(math.log2(scale) + 0.5)))
        return fix(self.bits, frac_for_range(float(w.detach().abs().max()), self.bits))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quant(w, self.fmt_for(w))


def optimiser_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Adam's parameter groups for ``model``: ``weight_decay`` on every parameter but the weights of binary and
    ternary quantisers. Their codes keep only the signs (and zeros) of the latent weights under one power-of-two
    scale from the mean magnitude, so decay does not regularise them: it shrinks them unopposed until Adam's
    steps flip signs at random (docs/search.md, "Binary and ternary weights")."""
    exempt = {id(m.weight) for m in model.modules()
              if isinstance(getattr(m, "w_q", None), WeightQuant) and m.w_q.bits <= 2}
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if id(p) not in exempt], "weight_decay": weight_decay},
              {"params": [p for p in params if id(p) in exempt], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


class FixedQuant(nn.Module):
    """Quantiser with a format fixed in advance (host constants such as edge coefficients)."""

    def __init__(self, fmt: NumFormat) -> None:
        super().__init__()
        self._fmt = fmt

    def fmt(self) -> NumFormat:
        return self._fmt

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fake_quant(x, self._fmt)
