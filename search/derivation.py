"""Deriving candidate designs from a finished search: the controllers' argmax and draws, and the anchors.

docs/search.md (Derivation) explains why both.
"""

from __future__ import annotations

import torch

from lpgnas.search.budget import fit_weights_to_budget, narrow_activations_to_device
from lpgnas.search.designs import canonical
from lpgnas.search.loop import Search
from lpgnas.search.space import LayerChoice
from lpgnas.search.supernet import architecture_from_choices

#: candidate draws tried per wanted candidate before giving up (duplicates and designs that cannot fit the
#: budget are rejected)
DRAWS_PER_CANDIDATE = 50


def candidate_architectures(s: Search) -> list[list[LayerChoice]]:
    """Up to ``cfg.candidates`` distinct architectures: the argmax, then draws from the controllers'
    distributions (seeded by the run's seed: a resumed run draws the same), each in ``canonical`` form.
    In budget mode every design's weight bitwidths are fitted to the budget (``fit_weights_to_budget``),
    and one that cannot fit is skipped; if none fits, the argmax alone is kept."""
    cfg, space = s.cfg, s.space
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        probs = s.probs()
    found: list[list[LayerChoice]] = []
    argmax = canonical(space, s.architecture())
    for draw in range(cfg.candidates * DRAWS_PER_CANDIDATE):
        if len(found) == cfg.candidates:
            break
        if draw == 0:
            arch = argmax
        else:
            choices = {k: space.options(k)[int(torch.multinomial(p, 1, generator=gen))] for k, p in probs.items()}
            arch = canonical(space, architecture_from_choices(space, choices))
        arch = fit_weights_to_budget(s, arch)
        if arch is not None and arch not in found:
            found.append(arch)
    return found or [argmax]


#: the operators and bitwidths of the anchor designs, where the space offers them (else its first option);
#: biases at 4 bits, as an eighth of float GCN's size allows (docs/search.md, "Where the remaining points go")
ANCHOR_CHOICES: dict[str, object] = {"aggregation": "add", "activation": "relu", "hidden": 16, "heads": 1,
                                     "q_weight": 8, "q_input": 8, "q_linear": 8, "q_coef": 8, "q_aggregation": 8,
                                     "q_bias": 4}


def anchor_architectures(s: Search) -> list[list[LayerChoice]]:
    """One uniform design per attention operator of the space: that attention in every layer, ``add``,
    ``relu``, width 16 with one head and W8A8, 4-bit biases (``ANCHOR_CHOICES``), weights fitted to the budget
    (where no weight bitwidth can fit, the activation formats narrowed to the device first:
    ``narrow_activations_to_device``); those that still cannot fit dropped: the textbook designs (GCN, GAT,
    ... at W8A8) that the local search can start from (docs/search.md, Derivation)."""
    space, out = s.space, []
    for attention in space.options("layer0.attention"):
        choices = {}
        for key in space.decision_keys:
            decision, options = key.split(".")[1], space.options(key)
            wanted = attention if decision == "attention" else ANCHOR_CHOICES[decision]
            choices[key] = wanted if wanted in options else options[0]
        arch = canonical(space, architecture_from_choices(space, choices))
        fitted = fit_weights_to_budget(s, arch)
        if fitted is None:
            fitted = fit_weights_to_budget(s, narrow_activations_to_device(s, arch))
        if fitted is not None and fitted not in out:
            out.append(fitted)
    return out
