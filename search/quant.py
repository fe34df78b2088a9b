"""Fake-quantisation modules for quantisation-aware training.

Each quantiser owns one tensor's number format: its bitwidth is fixed, its binary point is calibrated
(activations: exponential moving average of the largest magnitude seen in training, frozen in eval;
weights: from the current tensor). ``fmt()`` gives the exact :class:`NumFormat` the IR exports.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lpgnas.numfmt import NumFormat, fake_quant, fix, frac_for_range, from_bits


class ActQuant(nn.Module):
    """Quantiser of an activation tensor: ``bits``-bit fix, unsigned when ``signed`` is False."""

    def __init__(self, bits: int, signed: bool = True, momentum: float = 0.1) -> None:
        super().__init__()
        self.bits, self.signed, self.momentum = bits, signed, momentum
        self.register_buffer("max_abs", torch.tensor(0.0))

    def fmt(self) -> NumFormat:
        return fix(self.bits, frac_for_range(float(self.max_abs), self.bits, self.signed), self.signed)

    def observe(self, *tensors: torch.Tensor) -> NumFormat:
        """In training, update the running range with the largest magnitude of ``tensors``; the format."""
        if self.training:
            m = max((float(t.detach().abs().max()) for t in tensors if t.numel()), default=0.0)
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
