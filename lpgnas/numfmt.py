"""Number formats and the one rounding rule of lpgnas (see docs/number_formats.md).

A format maps an integer code ``q`` to the real value ``q * 2**-frac``:

* ``fix``: ``bits``-bit two's complement (``signed``) or unsigned integer;
* ``binary``: ``q`` in {-1, +1}, stored in 1 bit (0 -> -1, 1 -> +1);
* ``ternary``: ``q`` in {-1, 0, +1}, stored in 2 bits.

Float to integer: ``q = saturate(floor(x * 2**frac + 0.5))`` (binary: ``+1`` if ``x >= 0`` else ``-1``).
Integer to integer: ``requantize(acc, frac_in, fmt)`` shifts with the same round-half-up rule and
saturates. Both exist as a numpy int64 path (the golden semantics) and a torch path (training), which
agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from lpgnas.errors import FormatError

Kind = Literal["fix", "binary", "ternary"]
MAX_BITS = 32


@dataclass(frozen=True)
class NumFormat:
    """A fixed-point, binary or ternary number format."""

    bits: int
    frac: int
    signed: bool = True
    kind: Kind = "fix"

    def __post_init__(self) -> None:
        if self.kind not in ("fix", "binary", "ternary"):
            raise FormatError(f"kind {self.kind!r} is not one of fix, binary, ternary")
        if not isinstance(self.bits, int) or not 1 <= self.bits <= MAX_BITS:
            raise FormatError(f"bits={self.bits!r} is outside 1..{MAX_BITS}")
        if not isinstance(self.frac, int) or not -64 <= self.frac <= 64:
            raise FormatError(f"frac={self.frac!r} is outside -64..64")
        if self.kind == "binary" and (self.bits != 1 or not self.signed):
            raise FormatError("a binary format has bits=1 and signed=True")
        if self.kind == "ternary" and (self.bits != 2 or not self.signed):
            raise FormatError("a ternary format has bits=2 and signed=True")
        if self.kind == "fix" and self.signed and self.bits < 2:
            raise FormatError("a signed fix format needs at least 2 bits (use kind='binary' for 1 bit)")

    @property
    def qmin(self) -> int:
        """Smallest integer code."""
        if self.kind != "fix":
            return -1
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        """Largest integer code."""
        if self.kind != "fix":
            return 1
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def scale(self) -> float:
        """Real value of one integer step, ``2**-frac``."""
        return 2.0 ** -self.frac

    def with_frac(self, frac: int) -> NumFormat:
        return NumFormat(self.bits, frac, self.signed, self.kind)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "bits": self.bits, "frac": self.frac, "signed": self.signed}

    @staticmethod
    def from_dict(d: dict) -> NumFormat:
        return NumFormat(bits=d["bits"], frac=d["frac"], signed=d.get("signed", True), kind=d.get("kind", "fix"))

    def __str__(self) -> str:
        if self.kind != "fix":
            return f"{self.kind}(frac={self.frac})"
        return f"{'' if self.signed else 'u'}fix<{self.bits},{self.frac}>"


def fix(bits: int, frac: int, signed: bool = True) -> NumFormat:
    return NumFormat(bits, frac, signed, "fix")


def binary(frac: int = 0) -> NumFormat:
    return NumFormat(1, frac, True, "binary")


def ternary(frac: int = 0) -> NumFormat:
    return NumFormat(2, frac, True, "ternary")


def from_bits(bits: int, frac: int, signed: bool = True) -> NumFormat:
    """The format a bitwidth flag means: 1 -> binary, 2 -> ternary (when signed), else fix."""
    if signed and bits == 1:
        return binary(frac)
    if signed and bits == 2:
        return ternary(frac)
    return fix(bits, frac, signed)


def frac_for_range(max_abs: float, bits: int, signed: bool = True, kind: Kind = "fix") -> int:
    """The largest ``frac`` whose range still holds ``max_abs`` (calibration of the binary point)."""
    if max_abs <= 0 or not np.isfinite(max_abs):
        return 0 if kind != "fix" else bits - (1 if signed else 0)
    if kind != "fix":
        # codes are +-1; the step is the magnitude, the nearest power of two to max_abs
        return int(-np.round(np.log2(max_abs)))
    int_bits = bits - (1 if signed else 0)
    # need (2**int_bits - 1) * 2**-frac >= max_abs  (approximately: 2**(int_bits - frac) > max_abs)
    frac = int_bits - int(np.floor(np.log2(max_abs))) - 1
    return max(-64, min(64, frac))


# ----------------------------------------------------------------------------------------------------------
# numpy path: the golden semantics
# ----------------------------------------------------------------------------------------------------------

def saturate_np(q: np.ndarray, fmt: NumFormat) -> np.ndarray:
    """Clamp integer codes into the format's range (binary: 0 maps to +1)."""
    q = np.clip(q, fmt.qmin, fmt.qmax)
    if fmt.kind == "binary":
        q = np.where(q >= 0, 1, -1)
    return q.astype(np.int64)


def quantize_np(x: np.ndarray | float, fmt: NumFormat) -> np.ndarray:
    """Float -> integer codes: ``saturate(floor(x * 2**frac + 0.5))`` in float64."""
    x = np.asarray(x, dtype=np.float64)
    if fmt.kind == "binary":
        return np.where(x >= 0, 1, -1).astype(np.int64)
    scaled = np.floor(np.ldexp(x, fmt.frac) + 0.5)
    scaled = np.clip(scaled, fmt.qmin, fmt.qmax)
    return scaled.astype(np.int64)


def dequantize_np(q: np.ndarray, fmt: NumFormat) -> np.ndarray:
    return np.ldexp(np.asarray(q, dtype=np.float64), -fmt.frac)


#: any value of magnitude >= 2**SATURATION_BITS saturates every format (bits <= 32)
SATURATION_BITS = 34

#: accumulator bound (bits, sign included) up to which numpy int64 arithmetic is exact, the rounding
#: offset of a re-quantisation included
INT64_SAFE_BITS = 62


def accumulator_array(a: np.ndarray, bound_bits: int) -> np.ndarray:
    """``a`` as the operand of an accumulation whose worst case needs ``bound_bits`` bits (sign included):
    int64 up to :data:`INT64_SAFE_BITS`, else an object array of Python ints (exact at any width)."""
    return np.asarray(a).astype(object if bound_bits > INT64_SAFE_BITS else np.int64)


def shift_round_np(acc: np.ndarray, shift: int) -> np.ndarray:
    """``acc * 2**-shift`` rounded half up (``(acc + 2**(shift-1)) >> shift``), for saturation next.

    Left shifts (``shift < 0``) first clamp ``acc`` so that the result cannot overflow int64 yet still
    saturates exactly as the unbounded result would.
    """
    if shift > 0:
        if shift > 61 and acc.dtype != object:
            acc = acc.astype(object)
        return (acc + (1 << (shift - 1))) >> shift
    if shift < 0:
        sh = min(-shift, SATURATION_BITS)
        lim = 1 << (SATURATION_BITS - sh)
        return np.clip(acc, -lim, lim) << sh
    return acc


def requantize_np(acc: np.ndarray, frac_in: int, fmt: NumFormat) -> np.ndarray:
    """Integer accumulator with ``frac_in`` -> codes of ``fmt`` (round half up, then saturate)."""
    acc = np.asarray(acc)
    if acc.dtype != object:
        acc = acc.astype(np.int64)
    if fmt.kind == "binary":
        return np.where(acc >= 0, 1, -1).astype(np.int64)
    return saturate_np(shift_round_np(acc, frac_in - fmt.frac), fmt)


def requantize_int(acc: int, frac_in: int, fmt: NumFormat) -> int:
    """Scalar reference of :func:`requantize_np` written with Python ints (used to test it)."""
    if fmt.kind == "binary":
        return 1 if acc >= 0 else -1
    s = frac_in - fmt.frac
    v = (acc + (1 << (s - 1))) >> s if s > 0 else acc << (-s)
    return min(max(v, fmt.qmin), fmt.qmax)


# ----------------------------------------------------------------------------------------------------------
# torch path: training (straight-through estimator)
# ----------------------------------------------------------------------------------------------------------

def quantize_torch(x: torch.Tensor, fmt: NumFormat) -> torch.Tensor:
    """Float -> integer codes (as a tensor of x's dtype); same rule as :func:`quantize_np`."""
    if fmt.kind == "binary":
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))
    scaled = torch.floor(torch.ldexp(x, torch.tensor(fmt.frac, dtype=torch.int32)) + 0.5)
    return torch.clamp(scaled, fmt.qmin, fmt.qmax)


def requantize_torch(acc: torch.Tensor, frac_in: int, fmt: NumFormat) -> torch.Tensor:
    """Integer tensor (int64) with ``frac_in`` -> codes of ``fmt``; same rule as :func:`requantize_np`."""
    if fmt.kind == "binary":
        return torch.where(acc >= 0, 1, -1).to(torch.int64)
    s = frac_in - fmt.frac
    if s > 62:
        return torch.zeros_like(acc).clamp(fmt.qmin, fmt.qmax)  # |acc| < 2**62 rounds to 0
    if s > 0:
        acc = torch.bitwise_right_shift(acc + (1 << (s - 1)), s)
    elif s < 0:
        sh = min(-s, SATURATION_BITS)
        lim = 1 << (SATURATION_BITS - sh)
        acc = torch.bitwise_left_shift(torch.clamp(acc, -lim, lim), sh)
    return torch.clamp(acc, fmt.qmin, fmt.qmax)


class _FakeQuantSTE(torch.autograd.Function):
    """Quantise-dequantise with a clipped straight-through gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, fmt: NumFormat) -> torch.Tensor:  # type: ignore[override]
        q = quantize_torch(x, fmt)
        lo, hi = fmt.qmin * fmt.scale, fmt.qmax * fmt.scale
        ctx.save_for_backward((x >= lo) & (x <= hi) if fmt.kind == "fix" else torch.abs(x) <= 1.0 * hi * 2)
        return torch.ldexp(q, torch.tensor(-fmt.frac, dtype=torch.int32))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (inside,) = ctx.saved_tensors
        return grad * inside.to(grad.dtype), None


def fake_quant(x: torch.Tensor, fmt: NumFormat) -> torch.Tensor:
    """Value of ``x`` after quantisation to ``fmt``, differentiable by the straight-through estimator."""
    return _FakeQuantSTE.apply(x, fmt)
