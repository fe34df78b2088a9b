"""Architecture and quantisation controllers: learnable logits per decision, straight-through Gumbel.

A controller owns one logit vector per decision key (``layer<i>.<decision>``). ``sample(tau)`` draws a
hard one-hot per decision with the straight-through Gumbel-softmax (forward: exactly one-hot, so one
path is active; backward: the gradient of the tempered soft sample). The supernet multiplies the output
of the chosen candidate by the one-hot's (unit) entry, which is how the task loss reaches the logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lpgnas.search.space import SearchSpace


def _pname(key: str) -> str:
    return key.replace(".", "__")


def gumbel_straight_through(logits: torch.Tensor, tau: float, generator: torch.Generator | None = None
                            ) -> torch.Tensor:
    """Hard one-hot sample whose gradient is that of ``softmax((logits + g) / tau)``."""
    u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype, device=logits.device).clamp(1e-12, 1.0 - 1e-7)
    g = -torch.log(-torch.log(u))
    soft = F.softmax((logits + g) / tau, dim=-1)
    hard = F.one_hot(soft.argmax(-1), logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


class Controller(nn.Module):
    """Logits for a set of decision keys of a :class:`SearchSpace` (zero-initialised: uniform)."""

    def __init__(self, space: SearchSpace, keys: list[str]) -> None:
        super().__init__()
        self.space = space
        self.keys = list(keys)
        self.logits = nn.ParameterDict(
            {_pname(k): nn.Parameter(torch.zeros(len(space.options(k)))) for k in self.keys}
        )

    def logit(self, key: str) -> torch.Tensor:
        return self.logits[_pname(key)]

    def probs(self) -> dict[str, torch.Tensor]:
        """Softmax of every decision's logits."""
        return {k: F.softmax(self.logit(k), dim=-1) for k in self.keys}

    def sample(self, tau: float) -> dict[str, torch.Tensor]:
        """Straight-through Gumbel one-hot per decision."""
        return {k: gumbel_straight_through(self.logit(k), tau) for k in self.keys}

    def argmax(self) -> dict[str, torch.Tensor]:
        """The most likely option of every decision as a (constant) one-hot."""
        return {k: F.one_hot(self.logit(k).detach().argmax(), len(self.space.options(k))).float()
                for k in self.keys}

    def choices(self) -> dict[str, object]:
        """The most likely option value of every decision."""
        return {k: self.space.options(k)[int(self.logit(k).detach().argmax())] for k in self.keys}

    def entropy(self) -> float:
        """Mean entropy (nats) of the decisions with more than one option."""
        hs = [float(-(p * p.clamp_min(1e-12).log()).sum()) for k, p in self.probs().items()
              if len(self.space.options(k)) > 1]
        return sum(hs) / len(hs) if hs else 0.0


class ArchController(Controller):
    """Attention, aggregation, activation, hidden width and heads of every layer."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__(space, space.keys("arch"))


class QuantController(Controller):
    """Bitwidth of every quantised tensor of every layer."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__(space, space.keys("quant"))


def temperature(epoch: int, epochs: int, tau_start: float, tau_end: float) -> float:
    """Exponential annealing from ``tau_start`` (epoch 0) to ``tau_end`` (last epoch)."""
    if epochs <= 1:
        return tau_end
    return tau_start * math.exp(math.log(tau_end / tau_start) * epoch / (epochs - 1))
