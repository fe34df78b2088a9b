"""Fitting a design to the search's budget: weight bitwidths spending it, activations narrowed to the device.

docs/search.md (Derivation) gives the reasons and the measurements.
"""

from __future__ import annotations

import dataclasses

import torch

from lpgnas.search.designs import canonical, moved
from lpgnas.search.loop import Search
from lpgnas.search.space import QUANT_DECISIONS, LayerChoice
from lpgnas.search.supernet import onehots_for

#: the activation formats (every layer's input, linear output, attention coefficients, aggregation output)
ACTIVATION_DECISIONS: tuple[str, ...] = tuple(d for d in QUANT_DECISIONS if d not in ("q_weight", "q_bias"))


def fits(s: Search, arch: list[LayerChoice]) -> bool:
    """Whether ``arch`` meets every budget of the search (its exact, one-hot cost)."""
    return not s.cost.over_budget(onehots_for(s.space, arch))


def fit_weights_to_budget(s: Search, arch: list[LayerChoice], kept: set[int] = frozenset()
                          ) -> list[LayerChoice] | None:
    """Budget mode: ``arch`` with its weight bitwidths spending the budget. Over a budget, the weights are
    narrowed (the smallest layer first, one option at a time); then, under the size objective, each layer's
    weights (the largest layer first) are widened to the widest option that fits once the smaller layers are
    narrowed again (under the latency objective every bit costs latency: nothing is widened). Layers in
    ``kept`` keep their weight bitwidth. None if nothing fits; ``arch`` unchanged outside budget mode. Other
    bitwidths (activations, coefficients) stay the controllers' choice."""
    if not s.cost.budget_mode:
        return arch
    kept = set(kept)
    arch = narrowed(s, list(arch), kept)
    if arch is None or s.cost.objective == "latency":
        return arch
    for i in sorted(set(range(len(arch))) - kept, key=lambda j: -weight_count(s, arch, j)):
        kept.add(i)  # a larger layer, once fitted, is never narrowed for a smaller one
        for bits in sorted(s.space.options(f"layer{i}.q_weight"), reverse=True):
            if bits <= arch[i].q_weight:
                break
            trial = list(arch)
            trial[i] = dataclasses.replace(arch[i], q_weight=bits)
            trial = narrowed(s, trial, kept)
            if trial is not None:
                arch = trial
                break
    return arch


def weight_count(s: Search, arch: list[LayerChoice], i: int) -> int:
    fan_in = s.space.in_features if i == 0 else arch[i - 1].hidden * arch[i - 1].heads
    return fan_in * arch[i].hidden * arch[i].heads


def narrowed(s: Search, arch: list[LayerChoice], kept: set[int]) -> list[LayerChoice] | None:
    """``arch`` narrowed until it fits: the weights of the smallest layer not in ``kept``, one option at a
    time; None if that cannot make it fit."""
    while not fits(s, arch):
        for i in sorted(range(len(arch)), key=lambda j: weight_count(s, arch, j)):
            narrower = [b for b in s.space.options(f"layer{i}.q_weight") if b < arch[i].q_weight]
            if i not in kept and narrower:
                arch[i] = dataclasses.replace(arch[i], q_weight=max(narrower))
                break
        else:
            return None
    return arch


def narrow_activations_to_device(s: Search, arch: list[LayerChoice]) -> list[LayerChoice]:
    """``arch`` with activation formats narrowed, one option at a time, until the terms other than the model
    size fit (buffer, BRAM, LUT, DSP): each step the one-option narrowing that most reduces the excess over
    the budget (ties: the one left widest, then the earlier layer and decision). Stops when nothing
    narrower helps."""
    if not s.cost.budget_mode:
        return arch

    def excess(a: list[LayerChoice]) -> float:
        with torch.no_grad():
            v = s.cost.values(onehots_for(s.space, a))
        return sum(max(0.0, float(v[t]) - b) / b for t, b in s.cost.budget.items()
                   if t != "model" and t in s.cost.terms)

    arch = list(arch)
    while (now := excess(arch)) > 0:
        steps = []
        for i, c in enumerate(arch):
            for decision in ACTIVATION_DECISIONS:
                narrower = [b for b in s.space.options(f"layer{i}.{decision}") if b < getattr(c, decision)]
                if narrower:
                    trial = canonical(s.space, moved(arch, f"layer{i}.{decision}", max(narrower)))
                    steps.append((excess(trial), -max(narrower), trial))
        best = min(steps, key=lambda st: st[:2], default=None)
        if best is None or best[0] >= now:
            break
        arch = best[2]
    return arch
