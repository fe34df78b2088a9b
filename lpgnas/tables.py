"""Lookup tables of the non-linear functions (exp for softmax, tanh, sigmoid, elu, softplus).

One definition (docs/number_formats.md, "Tables"), used by the golden model, training and every backend:
a code ``q`` of a fix format with binary point ``frac`` indexes a table by its top bits

    shift = max(frac - TABLE_FRAC, 0)          t = frac - shift   (index resolution 2**-t)
    idx   = clamp(q >> shift, lo, hi)           (arithmetic shift = floor)
    lo    = -(TABLE_RANGE << t) if t >= 0 else -max(TABLE_RANGE >> -t, 1),   hi = -lo - 1

so the table covers [-TABLE_RANGE, TABLE_RANGE) at resolution ``2**-min(frac, TABLE_FRAC)`` (exact per
code when ``frac <= TABLE_FRAC``) and has at most ``2 * TABLE_RANGE * 2**TABLE_FRAC`` = 512 entries.
Entry ``idx`` holds ``quantize(f(idx * 2**-t), out_fmt)`` (float64 on the host, the shared rounding rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lpgnas.numfmt import NumFormat, quantize_np

#: resolution of a table index: 2**-TABLE_FRAC
TABLE_FRAC = 5
#: tables cover [-TABLE_RANGE, TABLE_RANGE)
TABLE_RANGE = 8


@dataclass(frozen=True)
class TableIndex:
    """How codes with binary point ``frac`` index a table: ``clamp(q >> shift, lo, hi) - lo``."""

    shift: int
    t: int
    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def points(self) -> np.ndarray:
        """The real input value each entry is evaluated at, in entry order."""
        return np.ldexp(np.arange(self.lo, self.hi + 1, dtype=np.float64), -self.t)

    def index(self, q: np.ndarray) -> np.ndarray:
        """Entry number (0-based) of each code."""
        return np.clip(np.asarray(q) >> self.shift, self.lo, self.hi).astype(np.int64) - self.lo


def table_index(frac: int) -> TableIndex:
    """The indexing rule for inputs with binary point ``frac``."""
    shift = max(frac - TABLE_FRAC, 0)
    t = frac - shift
    lo = -(TABLE_RANGE << t) if t >= 0 else -max(TABLE_RANGE >> -t, 1)
    return TableIndex(shift=shift, t=t, lo=lo, hi=-lo - 1)


#: the tabulated functions (float reference, evaluated on the host only)
TABLE_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),
    "elu": np.expm1,  # used for x < 0 only
    "softplus": lambda x: np.logaddexp(0.0, x),
}


def function_table(function: str, in_frac: int, out_fmt: NumFormat) -> np.ndarray:
    """Codes of ``out_fmt`` for every entry of ``function``'s table on inputs with binary point ``in_frac``."""
    ti = table_index(in_frac)
    return quantize_np(TABLE_FUNCTIONS[function](ti.points()), out_fmt)


def lookup(function: str, q: np.ndarray, in_frac: int, out_fmt: NumFormat) -> np.ndarray:
    """Table output codes for input codes ``q`` (int64 or object arrays)."""
    return function_table(function, in_frac, out_fmt)[table_index(in_frac).index(q)]


# ---- the fixed-point constants of the piecewise-linear functions -------------------------------------------

#: binary point of the leaky-ReLU slopes
LEAKY_FRAC = 10
#: GAT's attention LeakyReLU slope 0.2 (205 / 1024 = 0.2002)
ATTENTION_LEAKY_CODE = round(0.2 * (1 << LEAKY_FRAC))
#: the leaky_relu activation's slope 0.01 (10 / 1024 = 0.00977)
ACTIVATION_LEAKY_CODE = round(0.01 * (1 << LEAKY_FRAC))
#: binary point of the per-node softmax reciprocal 1 / sum(exp)
SOFTMAX_RECIP_FRAC = 16
#: bits of that reciprocal, unsigned (it is at most 1.0: ``exp_sum >= 2**exp_frac``)
SOFTMAX_RECIP_BITS = SOFTMAX_RECIP_FRAC + 1


def leaky(q: np.ndarray, slope_code: int) -> np.ndarray:
    """``q`` if ``q >= 0`` else ``round_half_up(q * slope_code / 2**LEAKY_FRAC)`` (same binary point)."""
    neg = (q * slope_code + (1 << (LEAKY_FRAC - 1))) >> LEAKY_FRAC
    return np.where(q >= 0, q, neg)


def relu6_max_code(fmt: NumFormat) -> int:
    """The code of 6.0 in ``fmt`` (floored when frac < 0), capped at the format's largest code."""
    six = 6 << fmt.frac if fmt.frac >= 0 else 6 >> -fmt.frac
    return min(six, fmt.qmax)


def softmax_reciprocal(exp_sum: np.ndarray, exp_frac: int) -> np.ndarray:
    """``round_half_up(2**(exp_frac + SOFTMAX_RECIP_FRAC) / exp_sum)``: 1/sum with SOFTMAX_RECIP_FRAC
    fractional bits (``exp_sum >= 2**exp_frac`` always: the self-loop's term is exp(0) = 1)."""
    num = 1 << (exp_frac + SOFTMAX_RECIP_FRAC)
    return (2 * num + exp_sum) // (2 * exp_sum)


def exp_format_ok(fmt: NumFormat) -> bool:
    """The softmax's exp format must be unsigned fix with frac = bits - 1 (1.0 is its largest power)."""
    return fmt.kind == "fix" and not fmt.signed and fmt.frac == fmt.bits - 1

