"""Number formats: the numpy (golden) and torch (training) paths agree bit for bit, rounding is exact."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lpgnas.errors import FormatError
from lpgnas.numfmt import (
    NumFormat,
    binary,
    fix,
    frac_for_range,
    quantize_np,
    quantize_torch,
    requantize_int,
    requantize_np,
    requantize_torch,
    ternary,
)


@st.composite
def formats(draw, max_bits: int = 16) -> NumFormat:
    kind = draw(st.sampled_from(["fix", "fix", "binary", "ternary"]))
    frac = draw(st.integers(-8, 20))
    if kind == "binary":
        return binary(frac)
    if kind == "ternary":
        return ternary(frac)
    signed = draw(st.booleans())
    bits = draw(st.integers(2 if signed else 1, max_bits))
    return fix(bits, frac, signed)


@st.composite
def values_near_edges(draw, fmt: NumFormat) -> list[float]:
    """Random values plus the saturation edges and the rounding ties around them."""
    step = fmt.scale
    edges = [fmt.qmin, fmt.qmax, fmt.qmin - 1, fmt.qmax + 1, 0]
    vals = [e * step for e in edges] + [(e + d) * step for e in edges for d in (-0.5, 0.5, -0.4999, 0.5001)]
    vals += draw(st.lists(st.floats(-4 * abs(fmt.qmin - 1) * step, 4 * (fmt.qmax + 1) * step,
                                    allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
    return vals


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_quantize_torch_equals_numpy(data):
    fmt = data.draw(formats())
    vals = data.draw(values_near_edges(fmt))
    q_np = quantize_np(np.array(vals), fmt)
    q_t = quantize_torch(torch.tensor(vals, dtype=torch.float64), fmt).to(torch.int64).numpy()
    assert np.array_equal(q_np, q_t)
    assert q_np.min() >= fmt.qmin and q_np.max() <= fmt.qmax


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_quantize_is_round_half_up_then_saturate(data):
    fmt = data.draw(formats())
    if fmt.kind == "binary":
        return
    vals = data.draw(values_near_edges(fmt))
    for v, q in zip(vals, quantize_np(np.array(vals), fmt), strict=True):
        exact = Fraction(v) * Fraction(2) ** fmt.frac + Fraction(1, 2)
        expected = min(max(exact.numerator // exact.denominator, fmt.qmin), fmt.qmax)
        assert int(q) == expected, (v, fmt)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_requantize_matches_exact_python_ints(data):
    fmt = data.draw(formats())
    frac_in = data.draw(st.integers(-8, 40))
    accs = data.draw(st.lists(st.integers(-(2**45), 2**45), min_size=1, max_size=30))
    # ties around the shift, and values that land on the saturation edges
    s = frac_in - fmt.frac
    if s > 0:
        accs += [(fmt.qmax << s) + (1 << (s - 1)), (fmt.qmin << s) - (1 << (s - 1)), -(1 << (s - 1)), (1 << (s - 1)) - 1]
    got = requantize_np(np.array(accs, dtype=np.int64), frac_in, fmt)
    got_t = requantize_torch(torch.tensor(accs, dtype=torch.int64), frac_in, fmt).numpy()
    for a, g, gt in zip(accs, got, got_t, strict=True):
        ref = requantize_int(a, frac_in, fmt)
        assert int(g) == ref == int(gt)
        if fmt.kind != "binary":
            exact = Fraction(a, 1) * Fraction(2) ** -s + Fraction(1, 2)
            assert ref == min(max(exact.numerator // exact.denominator, fmt.qmin), fmt.qmax)


def test_requantize_object_ints_beyond_int64():
    fmt = fix(32, 0)
    acc = np.array([2**80 + 2**19, -(2**70)], dtype=object)
    assert list(requantize_np(acc, 20, fmt)) == [fmt.qmax, fmt.qmin]
    assert requantize_np(np.array([3 << 40], dtype=object), 40, fmt)[0] == 3


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 0), "bits=0 is outside 1..32"),
        ((33, 0), "bits=33 is outside 1..32"),
        ((1, 0, True, "fix"), "signed fix format needs at least 2 bits"),
        ((2, 0, True, "binary"), "binary format has bits=1"),
        ((8, 100), "frac=100 is outside"),
        ((8, 0, True, "float"), "kind 'float'"),
    ],
)
def test_invalid_formats_say_why(args, message):
    with pytest.raises(FormatError, match=message):
        NumFormat(*args)


def test_ranges_and_calibration():
    assert (fix(8, 4).qmin, fix(8, 4).qmax) == (-128, 127)
    assert (fix(8, 4, signed=False).qmin, fix(8, 4, signed=False).qmax) == (0, 255)
    assert (ternary().qmin, ternary().qmax, binary().qmin) == (-1, 1, -1)
    assert list(quantize_np(np.array([-0.3, 0.0, 0.2]), binary(2))) == [-1, 1, 1]
    assert list(quantize_np(np.array([-0.7, -0.1, 0.6, 5.0]), ternary(0))) == [-1, 0, 1, 1]
    for max_abs in (0.01, 0.5, 1.0, 1.5, 3.9, 100.0):
        for bits, signed in ((8, True), (4, False), (16, True)):
            f = frac_for_range(max_abs, bits, signed)
            assert fix(bits, f, signed).qmax * 2.0**-f >= max_abs * (1 - 2.0 ** -(bits - 2))
            assert fix(bits, f + 1, signed).qmax * 2.0 ** -(f + 1) < max_abs
