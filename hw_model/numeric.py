"""Arithmetic that works on Python numbers and on torch tensors alike.

Every cost formula of hw_model is written once with these helpers, so the same code gives the exact
cost of a fixed design (floats) and, evaluated on tensors that enumerate the options of a search
decision, the terms of the expected cost (:mod:`hw_model.expected`).
"""

from __future__ import annotations

import math
from typing import Any, Union

try:  # torch is a dependency of lpgnas, but keep the fixed-design path importable without it
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]

Num = Union[int, float, "torch.Tensor"]


_TENSOR_TYPE = torch.Tensor if torch is not None else ()


def is_tensor(*xs: Any) -> bool:
    for x in xs:  # a plain loop: this runs millions of times in a DSE
        if isinstance(x, _TENSOR_TYPE):
            return True
    return False


def ceil(x: Num) -> Num:
    return torch.ceil(x) if is_tensor(x) else float(math.ceil(x - 1e-9))


def floor(x: Num) -> Num:
    return torch.floor(x) if is_tensor(x) else float(math.floor(x + 1e-9))


def ceil_div(a: Num, b: Num) -> Num:
    """``ceil(a / b)`` for positive integers (exact for floats holding integers)."""
    if is_tensor(a, b):
        return torch.ceil(torch.as_tensor(a, dtype=torch.float64) / b - 1e-9)
    return float(-(-int(round(a)) // int(round(b))))


def log2(x: Num) -> Num:
    return torch.log2(x) if is_tensor(x) else math.log2(x)


def clog2(x: Num) -> Num:
    """``ceil(log2(x))`` for x >= 1 (0 for x = 1)."""
    if is_tensor(x):
        return torch.ceil(torch.log2(torch.clamp(torch.as_tensor(x, dtype=torch.float64), min=1.0)) - 1e-9)
    return float(max(0, (int(round(x)) - 1).bit_length()))


def bit_length(x: Num) -> Num:
    """Bits of a non-negative integer (``int.bit_length``): floor(log2 x) + 1, 0 for 0."""
    if is_tensor(x):
        xt = torch.as_tensor(x, dtype=torch.float64)
        return torch.where(xt >= 1, torch.floor(torch.log2(torch.clamp(xt, min=1.0)) + 1e-9) + 1, torch.zeros_like(xt))
    return float(int(round(x)).bit_length())


def sqrt(x: Num) -> Num:
    return torch.sqrt(x) if is_tensor(x) else math.sqrt(x)


def maximum(a: Num, b: Num) -> Num:
    if is_tensor(a, b):
        return torch.maximum(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))
    return a if a >= b else b


def minimum(a: Num, b: Num) -> Num:
    if is_tensor(a, b):
        return torch.minimum(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))
    return a if a <= b else b


def where(cond: Any, a: Num, b: Num) -> Num:
    if is_tensor(cond, a, b):
        c = torch.as_tensor(cond)
        return torch.where(c.bool(), torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))
    return a if cond else b


def gt(a: Num, b: Num) -> Any:
    return torch.as_tensor(a) > b if is_tensor(a, b) else a > b


def ge(a: Num, b: Num) -> Any:
    return torch.as_tensor(a) >= b if is_tensor(a, b) else a >= b


def le(a: Num, b: Num) -> Any:
    return torch.as_tensor(a) <= b if is_tensor(a, b) else a <= b


def eq(a: Num, b: Num) -> Any:
    return torch.as_tensor(a) == b if is_tensor(a, b) else a == b


def logical_and(a: Any, b: Any) -> Any:
    return torch.logical_and(torch.as_tensor(a), torch.as_tensor(b)) if is_tensor(a, b) else bool(a and b)


def logical_or(a: Any, b: Any) -> Any:
    return torch.logical_or(torch.as_tensor(a), torch.as_tensor(b)) if is_tensor(a, b) else bool(a or b)


def to_float(x: Num) -> float:
    return float(x.item()) if is_tensor(x) else float(x)


def lt(a: Num, b: Num) -> Any:
    return torch.as_tensor(a) < b if is_tensor(a, b) else a < b


def ne(a: Num, b: Num) -> Any:
    return torch.as_tensor(a) != b if is_tensor(a, b) else a != b


def is_pow2(x: Num) -> Any:
    """x is a power of two (x >= 1)."""
    if is_tensor(x):
        xt = torch.as_tensor(x, dtype=torch.float64)
        return torch.abs(torch.exp2(torch.round(torch.log2(torch.clamp(xt, min=1.0)))) - xt) < 1e-9
    xi = int(round(x))
    return xi >= 1 and (xi & (xi - 1)) == 0


def pos(x: Num) -> Num:
    """max(x, 0)."""
    return maximum(x, 0.0)


def logical_not(a: Any) -> Any:
    return torch.logical_not(torch.as_tensor(a)) if is_tensor(a) else not a


def exp2(x: Num) -> Num:
    """``2 ** x``."""
    return torch.exp2(torch.as_tensor(x, dtype=torch.float64)) if is_tensor(x) else 2.0**x
