"""The exact/surrogate pair of quantisation-aware training, and the golden model's integer steps in torch.

Where the golden model quantises, a training step's value is ``y_float + (y_exact - y_float)`` with the
difference detached (:func:`exact_value`): the forward pass yields the golden model's codes, the backward
pass the float surrogate's gradient (docs/search.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lpgnas.numfmt import NumFormat
from lpgnas.tables import LEAKY_FRAC, function_table, table_index

#: widest matrix-product accumulator computed in float64 (exact below 2**53)
FLOAT64_EXACT_BITS = 52


class _Replace(torch.autograd.Function):
    """Forward: the exact values; backward: the gradient goes to the surrogate unchanged."""

    @staticmethod
    def forward(ctx, surrogate: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return exact.to(surrogate.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad, None


def dequantize_torch(codes: torch.Tensor, frac: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Values ``codes * 2**-frac`` (exact in float32 for codes of at most 24 bits)."""
    return (codes.to(torch.float64) * 2.0**-frac).to(dtype)


def quantize_codes(x: torch.Tensor, fmt: NumFormat) -> torch.Tensor:
    """``lpgnas.numfmt.quantize_torch`` on float64 as int64 codes (scaling by a power of two is exact, so
    the multiplication equals its ``ldexp``, only faster)."""
    if fmt.kind == "binary":
        return torch.where(x >= 0, 1, -1).long()
    return torch.clamp(torch.floor(x.double() * 2.0**fmt.frac + 0.5), fmt.qmin, fmt.qmax).long()


def exact_value(surrogate: torch.Tensor, codes: torch.Tensor, frac: int) -> torch.Tensor:
    """``surrogate + (codes * 2**-frac - surrogate).detach()``, computed so the forward value is exact."""
    return _Replace.apply(surrogate, dequantize_torch(codes, frac, surrogate.dtype))


@dataclass
class QTensor:
    """One step's result: differentiable ``value`` (= ``codes * 2**-frac`` in the forward pass), int64 codes."""

    value: torch.Tensor
    codes: torch.Tensor
    frac: int


def exact_step(surrogate: torch.Tensor, codes: torch.Tensor, frac: int) -> QTensor:
    """The step's ``QTensor``: the exact values of ``codes`` carrying ``surrogate``'s gradient."""
    return QTensor(exact_value(surrogate, codes, frac), codes, frac)


#: the tables as torch tensors, by (function, input binary point, output format, torch device)
_TABLES: dict[tuple[str, int, NumFormat, torch.device], torch.Tensor] = {}


def table_lookup(function: str, q: torch.Tensor, in_frac: int, out_fmt: NumFormat) -> torch.Tensor:
    """``lpgnas.tables.lookup`` with torch ops: codes ``q`` (int64) -> table output codes (on ``q``'s device)."""
    key = (function, in_frac, out_fmt, q.device)
    if key not in _TABLES:
        table = torch.from_numpy(function_table(function, in_frac, out_fmt).astype(np.int64))
        _TABLES[key] = table.to(q.device)
    ti = table_index(in_frac)
    idx = torch.clamp(torch.bitwise_right_shift(q, ti.shift), ti.lo, ti.hi) - ti.lo
    return _TABLES[key][idx]


def leaky_codes(q: torch.Tensor, slope_code: int) -> torch.Tensor:
    """``lpgnas.tables.leaky`` with torch ops."""
    neg = torch.bitwise_right_shift(q * slope_code + (1 << (LEAKY_FRAC - 1)), LEAKY_FRAC)
    return torch.where(q >= 0, q, neg)
