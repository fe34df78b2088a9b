"""Training implementations of the activations: smooth float surrogate and exact codes."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from lpgnas.numfmt import NumFormat
from lpgnas.search.exact import leaky_codes, table_lookup
from lpgnas.tables import ACTIVATION_LEAKY_CODE, LEAKY_FRAC, relu6_max_code, table_index


class Activation:
    """Called as ``act(x)``: the smooth float surrogate; ``exact(q, fmt)``: codes of ``fmt`` -> codes of
    ``fmt`` (``lpgnas.golden.ACTIVATION_FUNCTIONS`` with torch ops)."""

    def __init__(self, surrogate: Callable[[torch.Tensor], torch.Tensor],
                 exact: Callable[[torch.Tensor, NumFormat], torch.Tensor]) -> None:
        self.surrogate, self.exact = surrogate, exact

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.surrogate(x)


def _softplus_codes(q: torch.Tensor, fmt: NumFormat) -> torch.Tensor:
    ti = table_index(fmt.frac)
    return torch.where(torch.bitwise_right_shift(q, ti.shift) > ti.hi, q, table_lookup("softplus", q, fmt.frac, fmt))


ACTIVATION_MODULES: dict[str, Activation] = {
    "relu": Activation(F.relu, lambda q, fmt: torch.clamp(q, min=0)),
    "identity": Activation(lambda x: x, lambda q, fmt: q),
    "elu": Activation(F.elu, lambda q, fmt: torch.where(q >= 0, q, table_lookup("elu", q, fmt.frac, fmt))),
    "tanh": Activation(torch.tanh, lambda q, fmt: table_lookup("tanh", q, fmt.frac, fmt)),
    "sigmoid": Activation(torch.sigmoid, lambda q, fmt: table_lookup("sigmoid", q, fmt.frac, fmt)),
    "leaky_relu": Activation(lambda x: F.leaky_relu(x, ACTIVATION_LEAKY_CODE / (1 << LEAKY_FRAC)),
                             lambda q, fmt: leaky_codes(q, ACTIVATION_LEAKY_CODE)),
    "relu6": Activation(F.relu6, lambda q, fmt: torch.clamp(q, 0, relu6_max_code(fmt))),
    "softplus": Activation(F.softplus, _softplus_codes),
}
