"""Designs as lists of ``LayerChoice``: the canonical form and single-decision moves."""

from __future__ import annotations

import dataclasses

from lpgnas.operators import layer_format_names
from lpgnas.search.space import LayerChoice, SearchSpace

#: a move: a decision key and its new option
Move = tuple[str, object]


def canonical(space: SearchSpace, arch: list[LayerChoice]) -> list[LayerChoice]:
    """``arch`` with every bitwidth its layer does not use set to the widest option (``const`` attention has
    no coefficient format): designs that differ only there are the same model, trained once."""
    out = []
    for i, c in enumerate(arch):
        if "coef" not in layer_format_names(c.attention, c.aggregation):
            c = dataclasses.replace(c, q_coef=max(space.options(f"layer{i}.q_coef")))
        out.append(c)
    return out


def moved(arch: list[LayerChoice], key: str, option: object) -> list[LayerChoice]:
    """``arch`` with decision ``key`` (``layer<i>.<decision>``) set to ``option``."""
    layer, decision = int(key.split(".")[0][len("layer"):]), key.split(".")[1]
    changed = list(arch)
    changed[layer] = dataclasses.replace(arch[layer], **{decision: option})
    return changed
