"""Mean and standard deviation over a sweep's seeds, as numbers and as table text."""

from __future__ import annotations

import statistics
from typing import Any


def mean_std(xs: list[Any]) -> tuple[float, float] | None:
    """(mean, sample std) of the values that are not None (one value: std 0; none: None)."""
    vs = [x for x in xs if x is not None]
    if not vs:
        return None
    return statistics.mean(vs), statistics.stdev(vs) if len(vs) > 1 else 0.0


def mean_std_text(xs: list[float | None], scale: float = 1.0, digits: int = 1) -> str:
    """``mean ± std`` of the values that are not None (one value: itself; none: ``-``)."""
    vs = [x * scale for x in xs if x is not None]
    if not vs:
        return "-"
    if len(vs) == 1:
        return f"{vs[0]:.{digits}f}"
    return f"{statistics.mean(vs):.{digits}f} ± {statistics.stdev(vs):.{digits}f}"
