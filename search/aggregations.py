"""Training implementations of the aggregations: reduction and finaliser (``mean``'s reciprocal)."""

from __future__ import annotations

import torch

from lpgnas.graph import mean_reciprocals
from lpgnas.operators import MEAN_RECIP_FORMAT
from lpgnas.search.graph_tensors import GraphTensors


class Aggregation:
    """How messages are reduced (``reduce``: "sum" or "amax") and finalised.

    Called as ``finaliser(acc, g)`` on float accumulators (N, heads, out); ``exact(acc, frac, g)`` on
    int64 ones returns ``(codes, frac)`` like ``lpgnas.golden.AGGREGATION_FINALISERS``.
    """

    def __init__(self, reduce: str, recip: bool) -> None:
        self.reduce, self.recip = reduce, recip

    def __call__(self, acc: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        if not self.recip:
            return acc
        return acc * g.constant("mean", MEAN_RECIP_FORMAT, mean_reciprocals)[:, None, None]

    def exact(self, acc: torch.Tensor, frac: int, g: GraphTensors) -> tuple[torch.Tensor, int]:
        if not self.recip:
            return acc, frac
        recip = g.codes("mean", MEAN_RECIP_FORMAT, mean_reciprocals)
        return acc * recip[:, None, None], frac + MEAN_RECIP_FORMAT.frac


#: training-time aggregations (the golden model's AGGREGATION_REDUCERS / AGGREGATION_FINALISERS mirror)
AGGREGATION_FINALISERS: dict[str, Aggregation] = {
    "add": Aggregation("sum", recip=False),
    "mean": Aggregation("sum", recip=True),
    "max": Aggregation("amax", recip=False),
}
