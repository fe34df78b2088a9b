"""``SearchConfig`` (everything that determines a search run) and the search's data pipeline."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lpgnas.datasets import Dataset, load_dataset, preprocess_features, resolve_feature_mode
from lpgnas.errors import LpgnasError
from lpgnas.search.cost import OBJECTIVES, cost_terms, resolve_budget
from lpgnas.search.space import SearchSpace, default_space


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in str(text).split(",") if t.strip())
    except ValueError:
        raise LpgnasError(f"{text!r}: expected comma-separated integers") from None


@dataclass
class SearchConfig:
    """Everything that determines a search run (saved in the checkpoint and in metrics.json)."""

    dataset: str = "Cora"
    split: str | None = None
    device: str = "xc7z020"
    layers: int = 2
    lam: float = 0.5
    budget_kib: str | None = None
    cost: str = "hw"
    objective: str = "size"
    weight_steps: int = 3
    epochs: int = 200
    warmup: int = 100
    lr: float = 0.01
    supernet_lr: float = 0.01
    weight_decay: float = 5e-4
    arch_lr: float = 0.05
    tau_start: float = 5.0
    tau_end: float = 0.5
    dropout: float = 0.5
    hidden_sizes: str = "16,32,64,128,256"
    head_counts: str = "1,2,4,8"
    weight_bits: str = "1,2,4,8,16"
    act_bits: str = "2,4,8,16"
    attentions: str | None = None
    aggregations: str | None = None
    activations: str | None = None
    features: str = "auto"
    fair_weights: bool = True
    controllers: bool = True
    neighbours: bool = True
    anchors: bool = True
    retrain_epochs: int = 1000
    retrain_patience: int = 100
    candidates: int = 12
    screen_epochs: int = 100
    screen_patience: int = 30
    generations: int = 2
    finalists: int = 3
    checkpoint_every: int = 10
    seed: int = 0

    def check(self) -> None:
        if min(self.epochs, self.retrain_epochs, self.candidates, self.screen_epochs, self.finalists) < 1:
            raise LpgnasError("--epochs, --retrain-epochs, --candidates, --screen-epochs and --finalists must "
                              "be >= 1")
        if not self.controllers and not self.anchors:
            raise LpgnasError("--no-controllers with --no-anchors leaves no design to start from: keep the anchors "
                              "(the local search starts from them) or the controllers")
        if self.generations < 0:
            raise LpgnasError(f"--generations {self.generations} must be >= 0 (0: no local search)")
        if not 0 <= self.warmup < self.epochs:
            raise LpgnasError(f"--warmup {self.warmup} must be in 0..epochs-1 ({self.epochs - 1})")
        if self.screen_patience < 0 or self.retrain_patience < 0:
            raise LpgnasError(f"--screen-patience {self.screen_patience} and --retrain-patience "
                              f"{self.retrain_patience} must be >= 0 (0: no early stop)")
        if self.lam < 0:
            raise LpgnasError(f"--lambda {self.lam} must be >= 0")
        for flag, rate in (("--lr", self.lr), ("--supernet-lr", self.supernet_lr), ("--arch-lr", self.arch_lr)):
            if not (math.isfinite(rate) and rate > 0):
                raise LpgnasError(f"{flag} {rate} must be a positive number, e.g. 0.01")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise LpgnasError(f"--weight-decay {self.weight_decay} must be a number >= 0, e.g. 5e-4")
        if not 0.0 <= self.dropout < 1.0:
            raise LpgnasError(f"--dropout {self.dropout} is outside [0, 1)")
        if self.seed < 0:
            raise LpgnasError(f"--seed {self.seed} must be >= 0")
        cost_terms(self.cost)
        if self.objective not in OBJECTIVES:
            raise LpgnasError(f"--objective {self.objective!r}: choose one of {', '.join(OBJECTIVES)}")
        if self.weight_steps < 1:
            raise LpgnasError("--weight-steps must be >= 1")
        if not 0 < self.tau_end <= self.tau_start:
            raise LpgnasError("temperatures need 0 < --tau-end <= --tau-start")
        if self.checkpoint_every < 1:
            raise LpgnasError("--checkpoint-every must be >= 1")
        resolve_budget(self.budget_kib, self.device)
        resolve_feature_mode(self.features, self.dataset)

    def space(self, in_features: int, num_classes: int) -> SearchSpace:
        return default_space(
            in_features, num_classes, self.layers, hidden=_ints(self.hidden_sizes),
            heads=_ints(self.head_counts), weight_bits=_ints(self.weight_bits), act_bits=_ints(self.act_bits),
            operators={k: tuple(v.split(",")) for k, v in (("attention", self.attentions),
                       ("aggregation", self.aggregations), ("activation", self.activations)) if v},
        )


def load_search_data(cfg: SearchConfig, data_root: str | None = None) -> Dataset:
    data = load_dataset(cfg.dataset, data_root=data_root, split=cfg.split, seed=cfg.seed)
    data.x = preprocess_features(data.x, resolve_feature_mode(cfg.features, cfg.dataset))
    return data
