"""Local search around a screened design: its neighbours one decision away, and its improving moves combined.

The screening, not the supernet, judges each of a design's choices against its alternatives (docs/search.md,
Derivation).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from lpgnas.search.budget import fit_weights_to_budget
from lpgnas.search.designs import Move, canonical, moved
from lpgnas.search.loop import Search
from lpgnas.search.pareto import non_dominated
from lpgnas.search.space import LayerChoice, SearchSpace


def neighbours(space: SearchSpace, arch: list[LayerChoice]) -> list[tuple[Move, list[LayerChoice]]]:
    """Every ``canonical`` architecture that differs from ``arch`` in one decision (an operator, the width,
    the heads or a bitwidth of one layer), with its move."""
    out: list[tuple[Move, list[LayerChoice]]] = []
    for key in space.decision_keys:
        for option in space.options(key):
            changed = canonical(space, moved(arch, key, option))
            if changed != arch and changed not in [a for _, a in out]:
                out.append(((key, option), changed))
    return out


def neighbours_within_budget(s: Search, arch: list[LayerChoice]) -> list[tuple[Move, list[LayerChoice]]]:
    """``neighbours`` of ``arch``, each passed through ``fit_weights_to_budget`` (the layer whose weights the
    move changed keeps its bitwidth) with its move; distinct, those that cannot fit dropped."""
    out: list[tuple[Move, list[LayerChoice]]] = []
    for move, changed in neighbours(s.space, arch):
        fitted = fit_weights_to_budget(s, changed, moved_weights(arch, changed))
        if fitted is not None and fitted not in [a for _, a in out]:
            out.append((move, fitted))
    return out


def moved_weights(before: list[LayerChoice], after: list[LayerChoice]) -> set[int]:
    return {i for i, (a, b) in enumerate(zip(after, before, strict=True)) if a.q_weight != b.q_weight}


def combined_moves(s: Search, centre: list[LayerChoice], centre_val: float,
                   tried: list[tuple[Move, float]]) -> list[LayerChoice] | None:
    """``centre`` with every improving move at once: per decision, the move whose neighbour scored best, if
    above ``centre_val``; fitted to the budget (the moved weights kept if they can be). None if no move
    improves or the result cannot fit."""
    best: dict[str, tuple[float, object]] = {}
    for (key, option), val in tried:
        if val > centre_val and val > best.get(key, (-1.0, None))[0]:
            best[key] = (val, option)
    if not best:
        return None
    arch = list(centre)
    for key, (_, option) in best.items():
        arch = moved(arch, key, option)
    arch = canonical(s.space, arch)
    fitted = fit_weights_to_budget(s, arch, moved_weights(centre, arch))
    return fitted if fitted is not None else fit_weights_to_budget(s, arch)


def next_centre(screened: list[dict[str, Any]], expanded: Collection[int], cost: str,
                rank: Callable[[dict[str, Any]], Any]) -> dict[str, Any] | None:
    """The screened record whose design the next round of local search expands: the best by ``rank`` (validation
    accuracy first) of the unexpanded designs on the front of validation accuracy against ``cost`` (a key of
    the records' ``cost``: the objective's) over every screened design; if every design on it is expanded, the
    best unexpanded design; None if all are expanded."""
    front = non_dominated([{"val_accuracy": r["val_accuracy"], "cost": r["cost"][cost]} for r in screened], "cost")
    on_front = {screened[i]["index"] for i in front}
    unexpanded = [r for r in screened if r["index"] not in expanded]
    pool = [r for r in unexpanded if r["index"] in on_front] or unexpanded
    return max(pool, key=rank) if pool else None
