"""LPGNAS search: architecture and quantisation found together, then QAT-retrained and exported.

``lpgnas search --dataset Cora --device xc7z020 [--lambda L] [--budget-kib K|device] [--epochs E]
[--layers 2] -o RUN [--resume]``

1. **Search** (``--epochs``, full batch): every epoch ``--weight-steps`` weight steps (supernet weights,
   cross-entropy on the training nodes; architecture decisions drawn uniformly, single-path one-shot
   style, unless ``--controller-weights``: a supernet trained on the controller's favourite path rates
   the other operators through weights that never served them, and the favourite wins by default) and,
   after ``--warmup`` epochs of weights only, one controller step (controller
   logits, cross-entropy on the validation nodes + ``lambda`` * normalised expected cost). Each step
   samples one path with straight-through Gumbel-softmax at temperature ``tau``, annealed exponentially
   from ``--tau-start`` to ``--tau-end``.
2. **Derive** ``--candidates`` architectures: the argmax (every decision's most likely option), then
   distinct draws from the controllers' distributions; in budget mode each one's weight bitwidths fitted
   to the budget (``fit_weights_to_budget``), a design that cannot fit skipped. Beside them (unless
   ``--no-anchors``) one textbook design per attention operator at W8A8 with 4-bit biases
   (``anchor_architectures``).
3. **Select and retrain** (successive halving): QAT of every candidate from scratch for
   ``--screen-epochs``; then (unless ``--no-neighbours``) ``--generations`` rounds of local search, each
   screening every design one decision (an operator, width, heads or bitwidth of one layer) away from the
   best screened design not expanded yet, fitted the same way, and then that design with all its improving
   moves at once (``combined_moves``); the
   ``--finalists`` best screened by validation accuracy (ties: the smaller model) again
   from scratch for up to ``--retrain-epochs``, until ``--retrain-patience`` epochs bring no better validation
   accuracy (``search.train.fit``), from another initialisation; of the finalists' trained models (each
   finalist's screening and its retraining) the one with the best validation accuracy is **exported** and its
   golden accuracy reported (``search.train.evaluate``). Why more than the argmax: the shared supernet
   weights tell the bad options (``max`` aggregation, ``sigmoid``, 2-bit inputs: the controllers learn to
   avoid them) from the good ones, but rank the good ones poorly (on Cora after warm-up,
   ``const``+``add``+``tanh`` scores above ``gcn``+``add``+``relu`` through the shared weights, 77.6 vs
   75.8% validation; trained alone they reach 76.4 and 81.5% test). The controllers propose, the
   candidates' own validation accuracy decides; ``--candidates 1 --no-neighbours --no-anchors`` is the
   plain argmax derivation.

Writes ``RUN/search_log.jsonl`` (per epoch: losses, accuracy of the argmax path, expected cost, the
controllers' probabilities), ``RUN/search.ckpt`` (every ``--checkpoint-every`` epochs, atomically),
``RUN/candidates/{screen,final}/<i>.json`` + ``<i>.pt`` (every trained candidate, atomically: a resumed
run skips them), ``RUN/model.ir.json`` (+ ``.npz``) and ``RUN/metrics.json``. ``--resume`` continues from
``RUN/search.ckpt`` with the configuration saved there (the other options are ignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lpgnas.search.controllers import ArchController, QuantController, temperature
from lpgnas.search.cost import (
    KIB,
    SearchCost,
    buffer_size_bits,
    cost_terms,
    float_gcn_size_bits,
    hardware_estimate,
    model_size_bits,
    resolve_budget,
)
from lpgnas.search.layers import GraphTensors, QuantGNN, export_ir
from lpgnas.search.space import QUANT_DECISIONS, LayerChoice, SearchSpace, default_space
from lpgnas.search.supernet import SuperNet, architecture_from_choices, build_quant_gnn, onehots_for
from lpgnas.search.train import TrainConfig, accuracy, evaluate, fit, write_json_atomic

from lpgnas.datasets import (
    FEATURE_MODES,
    Dataset,
    data_identity,
    load_dataset,
    preprocess_features,
    resolve_feature_mode,
)
from lpgnas.errors import LpgnasError
from lpgnas.fileio import atomic_path, folder_lock, json_log_line, write_text_atomic
from lpgnas.graph import CSRGraph
from lpgnas.operators import layer_format_names
from lpgnas.progress import progress as progress_bar

CHECKPOINT = "search.ckpt"
SEARCH_LOG = "search_log.jsonl"
#: test hook: SIGKILL the process right after this epoch (and its checkpoint, if one is due)
KILL_ENV = "LPGNAS_SEARCH_KILL_AFTER_EPOCH"
#: candidate draws tried per wanted candidate before giving up (duplicates and designs that cannot fit the
#: budget are rejected)
DRAWS_PER_CANDIDATE = 50
#: the finalists' retraining starts from the run's seed + this (the screening from the run's seed)
FINAL_SEED_OFFSET = 1
#: gradient-norm clip of the supernet's weight steps (unnormalised const+add paths give loss spikes)
WEIGHT_GRAD_CLIP = 5.0


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


class Search:
    """State of one search: data, supernet, controllers, optimisers, cost."""

    def __init__(self, cfg: SearchConfig, data: Dataset) -> None:
        self.cfg, self.data = cfg, data
        self.g = GraphTensors(CSRGraph.from_edge_index(data.edge_index.numpy(), data.num_nodes))
        self.space = cfg.space(data.num_features, data.num_classes)
        self.input_signed = bool((data.x < 0).any())
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        self.net = SuperNet(self.space, self.input_signed, cfg.dropout)
        self.arch = ArchController(self.space)
        self.quant = QuantController(self.space)
        self.w_opt = torch.optim.Adam(self.net.parameters(), lr=cfg.supernet_lr, weight_decay=cfg.weight_decay)
        self.c_opt = torch.optim.Adam([*self.arch.parameters(), *self.quant.parameters()], lr=cfg.arch_lr)
        float_kib = float_gcn_size_bits(data.num_features, 16, data.num_classes) / KIB
        self.budget_kib = resolve_budget(cfg.budget_kib, cfg.device, float_kib)
        self.cost = SearchCost(self.space, self.g.csr.num_nodes, self.g.csr.num_edges, cfg.device, cfg.cost,
                               budget_kib=self.budget_kib)
        self.epoch = 0
        self.search_seconds = 0.0
        self.data_identity: dict[str, Any] | None = None  # of the data files (``data_identity``), set by search

    def probs(self) -> dict[str, torch.Tensor]:
        return {**self.arch.probs(), **self.quant.probs()}

    def sample(self, tau: float) -> dict[str, torch.Tensor]:
        return {**self.arch.sample(tau), **self.quant.sample(tau)}

    def uniform_arch(self) -> dict[str, torch.Tensor]:
        """A uniformly drawn one-hot for every architecture decision (the weight steps' default; not with
        ``--controller-weights``)."""
        return {k: F.one_hot(torch.randint(len(self.space.options(k)), ()), len(self.space.options(k))).float()
                for k in self.arch.keys}

    def widest_bits(self, path: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``path`` with every bitwidth decision at its widest option (the warm-up's weight steps: the shared
        weights first learn the task at high precision on sampled architectures; a random low-bit path,
        e.g. 2-bit row-normalised features, which round to zero, mostly teaches them noise)."""
        out = dict(path)
        for k in self.quant.keys:
            opts = self.space.options(k)
            out[k] = F.one_hot(torch.tensor(max(range(len(opts)), key=lambda j: opts[j])), len(opts)).float()
        return out

    def argmax_choices(self) -> dict[str, object]:
        return {**self.arch.choices(), **self.quant.choices()}

    def architecture(self) -> list[LayerChoice]:
        return architecture_from_choices(self.space, self.argmax_choices())

    def run_epoch(self, epoch: int) -> dict[str, Any]:
        """One weight step, one controller step (after warm-up), evaluation of the argmax path."""
        cfg, d, g = self.cfg, self.data, self.g
        tau = temperature(epoch, cfg.epochs, cfg.tau_start, cfg.tau_end)
        self.net.train()
        for _ in range(cfg.weight_steps):
            self.w_opt.zero_grad()
            with torch.no_grad():
                path = self.sample(tau)  # constant one-hots: the weight step does not touch the controllers
                if cfg.fair_weights:
                    path |= self.uniform_arch()
                if epoch < cfg.warmup:
                    path = self.widest_bits(path)
            out = self.net(d.x, g, path)
            loss = F.cross_entropy(out[d.train_mask], d.y[d.train_mask])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), WEIGHT_GRAD_CLIP)
            self.w_opt.step()
        rec: dict[str, Any] = {"epoch": epoch, "tau": round(tau, 5), "train_loss": loss.item()}
        if epoch >= cfg.warmup:
            self.c_opt.zero_grad()
            self.net.zero_grad(set_to_none=True)
            out = self.net(d.x, g, self.sample(tau))
            ce = F.cross_entropy(out[d.val_mask], d.y[d.val_mask])
            penalty = self.cost.penalty(self.probs(), cfg.lam)
            (ce + penalty.float()).backward()
            self.c_opt.step()
            self.net.zero_grad(set_to_none=True)
            rec |= {"val_loss": ce.item(), "penalty": penalty.item()}
        pred = self.net.evaluate(d.x, g, {**self.arch.argmax(), **self.quant.argmax()}).argmax(1).numpy()
        with torch.no_grad():
            probs = self.probs()
            cost = {k: round(float(v), 3) for k, v in self.cost.values(probs).items()}
        y = d.y.numpy()
        rec |= {
            "train_accuracy": accuracy(pred, y, d.train_mask.numpy()),
            "val_accuracy": accuracy(pred, y, d.val_mask.numpy()),
            "expected_cost": cost,
            "argmax": self.argmax_choices(),
            "probs": {k: [round(float(p), 4) for p in v] for k, v in probs.items()},
        }
        return rec

    # ---- checkpoints ------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch, "config": asdict(self.cfg), "data": self.data_identity,
            "search_seconds": self.search_seconds,
            "net": self.net.state_dict(), "arch": self.arch.state_dict(), "quant": self.quant.state_dict(),
            "w_opt": self.w_opt.state_dict(), "c_opt": self.c_opt.state_dict(),
            "torch_rng": torch.get_rng_state(), "numpy_rng": np.random.get_state(),
        }

    def save(self, path: Path) -> None:
        """Write the checkpoint atomically (temp file in the same folder, then ``os.replace``)."""
        with atomic_path(path) as tmp:
            torch.save(self.state(), tmp)

    def load(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.arch.load_state_dict(state["arch"])
        self.quant.load_state_dict(state["quant"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.c_opt.load_state_dict(state["c_opt"])
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        self.epoch, self.search_seconds = state["epoch"], state["search_seconds"]


def _truncate_log(path: Path, epochs: int) -> None:
    """Keep only the log lines of epochs ``< epochs`` (a killed run may have logged past its checkpoint)."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["epoch"] < epochs]
    write_text_atomic(path, "".join(ln + "\n" for ln in keep))


def load_search_data(cfg: SearchConfig, data_root: str | None = None) -> Dataset:
    data = load_dataset(cfg.dataset, data_root=data_root, split=cfg.split, seed=cfg.seed)
    data.x = preprocess_features(data.x, resolve_feature_mode(cfg.features, cfg.dataset))
    return data


def search(cfg: SearchConfig, out_dir: str | os.PathLike, data_root: str | None = None,
           resume: bool | None = False, progress: bool = True) -> dict[str, Any]:
    """Search, derive, retrain, export and evaluate; returns the metrics written to ``RUN/metrics.json``.

    ``resume``: True continues from ``RUN/search.ckpt`` with the configuration saved there; None (``lpgnas
    flow``) continues from it only if it was made with ``cfg`` and the same data files, else starts afresh;
    False starts afresh. The run folder is created once the options and the data checked out, and locked."""
    out = Path(out_dir)
    ckpt_path = out / CHECKPOINT
    state = None
    if resume is True:
        if not ckpt_path.is_file():
            raise LpgnasError(f"--resume: no checkpoint {ckpt_path} (start the search without --resume)")
        state = torch.load(ckpt_path, weights_only=False)
        cfg = SearchConfig(**state["config"])
    cfg.check()
    cfg = dataclasses.replace(cfg, features=resolve_feature_mode(cfg.features, cfg.dataset))  # recorded concretely
    data_id = data_identity(cfg.dataset, data_root)
    if resume is None and ckpt_path.is_file():
        state = torch.load(ckpt_path, weights_only=False)
        if state["config"] != asdict(cfg) or state.get("data") != data_id:
            state = None
    if state is not None and state.get("data", data_id) != data_id:  # older checkpoints record no data
        raise LpgnasError(f"--resume: {ckpt_path} was made from other data files than {cfg.dataset}'s under this "
                          "data root now; point --data-root at the search's data or start without --resume")
    t0 = time.time()
    data = load_search_data(cfg, data_root)
    with folder_lock(out):
        return _search(cfg, data, data_id, out, state, t0, progress)


def _search(cfg: SearchConfig, data: Dataset, data_id: dict[str, Any], out: Path, state: dict[str, Any] | None,
            t0: float, progress: bool) -> dict[str, Any]:
    """``search`` in the locked run folder ``out``, from the checkpoint ``state`` if given."""
    ckpt_path, log_path = out / CHECKPOINT, out / SEARCH_LOG
    s = Search(cfg, data)
    s.data_identity = data_id
    resumed_from = None
    if state is not None:
        s.load(state)
        resumed_from = s.epoch
        _truncate_log(log_path, s.epoch)
    elif log_path.exists():
        log_path.unlink()
    kill_after = int(os.environ[KILL_ENV]) if os.environ.get(KILL_ENV) else None

    bar = progress_bar(range(s.epoch, cfg.epochs), desc="search", enabled=progress, initial=s.epoch,
                       total=cfg.epochs, unit="epochs")
    with open(log_path, "a") as log:
        for epoch in bar:
            t_epoch = time.time()
            rec = s.run_epoch(epoch)
            s.search_seconds += time.time() - t_epoch
            rec["seconds"] = round(s.search_seconds, 2)
            log.write(json_log_line(rec))
            log.flush()
            s.epoch = epoch + 1
            if s.epoch % cfg.checkpoint_every == 0 or s.epoch == cfg.epochs:
                s.save(ckpt_path)
            bar.set_postfix(val=f"{rec['val_accuracy']:.3f}", model_kib=f"{rec['expected_cost']['model']:.1f}")
            if kill_after is not None and epoch >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    with torch.no_grad():
        final_cost = {k: float(v) for k, v in s.cost.values(s.probs()).items()}
    searched_here = s.search_seconds - (state["search_seconds"] if state is not None else 0.0)
    return _retrain(cfg, s, candidate_architectures(s), out, t0, searched_here, resumed_from, final_cost,
                    progress)


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


#: the operators and bitwidths of the anchor designs, where the space offers them (else its first option).
#: Biases start at 4 bits: an eighth of float GCN's size is 4 bits per parameter, biases included, and
#: 4-bit biases cost a GCN nothing measurable (10 initialisations, golden test %: PubMed public W4A8 79.05
#: with 4-bit biases, 79.2 with 8-bit; Cora public 81.9 and 81.8; docs/search.md).
ANCHOR_CHOICES: dict[str, object] = {"aggregation": "add", "activation": "relu", "hidden": 16, "heads": 1,
                                     "q_weight": 8, "q_input": 8, "q_linear": 8, "q_coef": 8, "q_aggregation": 8,
                                     "q_bias": 4}


def anchor_architectures(s: Search) -> list[list[LayerChoice]]:
    """One uniform design per attention operator of the space: that attention in every layer, ``add``,
    ``relu``, width 16 with one head and W8A8, 4-bit biases (``ANCHOR_CHOICES``), weights fitted to the budget
    (where no weight bitwidth can fit, the activation formats narrowed to the device first:
    ``narrow_activations_to_device``); those that still cannot fit dropped. These are the textbook designs
    (GCN, GAT, ... at W8A8): screened beside the draws, they give the local search a sound start when the
    controllers' draws are all poor (Cora, seed 0: the best of 12 draws reached 71 % validation; a GCN
    reaches 80 %)."""
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


#: the activation formats (every layer's input, linear output, attention coefficients, aggregation output)
ACTIVATION_DECISIONS: tuple[str, ...] = tuple(d for d in QUANT_DECISIONS if d not in ("q_weight", "q_bias"))


def narrow_activations_to_device(s: Search, arch: list[LayerChoice]) -> list[LayerChoice]:
    """``arch`` with activation formats narrowed, one option at a time, until the terms other than the model
    size fit (buffer, BRAM, LUT, DSP): each step the one-option narrowing that most reduces the excess over
    the budget (ties: the one left widest, then the earlier layer and decision). Stops when nothing
    narrower helps.

    Why: on PubMed the whole-graph buffers of a W8A8 design take 181 RAMB36 of the xc7z020's 140, so no
    weight bitwidth can make the anchors fit and they used to be dropped, leaving the local search only
    the controllers' draws to start from. 4-bit buffers of the first layer's output fit."""
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
                    trial = canonical(s.space, _moved(arch, f"layer{i}.{decision}", max(narrower)))
                    steps.append((excess(trial), -max(narrower), trial))
        best = min(steps, key=lambda st: st[:2], default=None)
        if best is None or best[0] >= now:
            break
        arch = best[2]
    return arch


def canonical(space: SearchSpace, arch: list[LayerChoice]) -> list[LayerChoice]:
    """``arch`` with every bitwidth its layer does not use set to the widest option (``const`` attention has
    no coefficient format): designs that differ only there are the same model, trained once."""
    out = []
    for i, c in enumerate(arch):
        if "coef" not in layer_format_names(c.attention, c.aggregation):
            c = dataclasses.replace(c, q_coef=max(space.options(f"layer{i}.q_coef")))
        out.append(c)
    return out


def _fits(s: Search, arch: list[LayerChoice]) -> bool:
    return not s.cost.over_budget(onehots_for(s.space, arch))


Move = tuple[str, object]  # a decision key and its new option


def neighbours_within_budget(s: Search, arch: list[LayerChoice]) -> list[tuple[Move, list[LayerChoice]]]:
    """``neighbours`` of ``arch``, each passed through ``fit_weights_to_budget`` (the layer whose weights the
    move changed keeps its bitwidth) with its move; distinct, those that cannot fit dropped."""
    out: list[tuple[Move, list[LayerChoice]]] = []
    for move, changed in neighbours(s.space, arch):
        fitted = fit_weights_to_budget(s, changed, _moved_weights(arch, changed))
        if fitted is not None and fitted not in [a for _, a in out]:
            out.append((move, fitted))
    return out


def _moved_weights(before: list[LayerChoice], after: list[LayerChoice]) -> set[int]:
    return {i for i, (a, b) in enumerate(zip(after, before, strict=True)) if a.q_weight != b.q_weight}


def combined_moves(s: Search, centre: list[LayerChoice], centre_val: float,
                   tried: list[tuple[Move, float]]) -> list[LayerChoice] | None:
    """``centre`` with every improving move at once: per decision, the move whose neighbour scored best, if
    above ``centre_val``; fitted to the budget (the moved weights kept if they can be). None if no move
    improves or the result cannot fit.

    Why: one screened design per round of local search tests whether the single-decision improvements add
    up; the noisy controllers often leave several budget-free bitwidths (layer-1 inputs, aggregation) too
    narrow, and hill climbing fixes one per round."""
    best: dict[str, tuple[float, object]] = {}
    for (key, option), val in tried:
        if val > centre_val and val > best.get(key, (-1.0, None))[0]:
            best[key] = (val, option)
    if not best:
        return None
    arch = list(centre)
    for key, (_, option) in best.items():
        arch = _moved(arch, key, option)
    arch = canonical(s.space, arch)
    fitted = fit_weights_to_budget(s, arch, _moved_weights(centre, arch))
    return fitted if fitted is not None else fit_weights_to_budget(s, arch)


def fit_weights_to_budget(s: Search, arch: list[LayerChoice], kept: set[int] = frozenset()
                          ) -> list[LayerChoice] | None:
    """Budget mode: ``arch`` with its weight bitwidths spending the budget. Over a budget, the weights are
    narrowed (the smallest layer first, one option at a time); then each layer's weights (the largest
    layer first) are widened to the widest option that fits once the smaller layers are narrowed again.
    Layers in ``kept`` keep their weight bitwidth. None if nothing fits; ``arch`` unchanged outside budget
    mode.

    Why: the budget penalty acts on the *expected* size, so the controllers spread the weight bitwidths
    and their argmax is often binary where 4 bits fit (Cora: 3.1 KiB designs under an 11.3 KiB budget);
    and a design with binary layer-0 and 16-bit layer-1 weights cannot step to 4 + 2 bits by changing one
    decision. Other bitwidths (activations, coefficients) stay the controllers' choice."""
    if not s.cost.budget_mode:
        return arch
    kept = set(kept)
    arch = _narrowed(s, list(arch), kept)
    if arch is None:
        return None
    for i in sorted(set(range(len(arch))) - kept, key=lambda j: -_weight_count(s, arch, j)):
        kept.add(i)  # a larger layer, once fitted, is never narrowed for a smaller one
        for bits in sorted(s.space.options(f"layer{i}.q_weight"), reverse=True):
            if bits <= arch[i].q_weight:
                break
            trial = list(arch)
            trial[i] = dataclasses.replace(arch[i], q_weight=bits)
            trial = _narrowed(s, trial, kept)
            if trial is not None:
                arch = trial
                break
    return arch


def _weight_count(s: Search, arch: list[LayerChoice], i: int) -> int:
    fan_in = s.space.in_features if i == 0 else arch[i - 1].hidden * arch[i - 1].heads
    return fan_in * arch[i].hidden * arch[i].heads


def _narrowed(s: Search, arch: list[LayerChoice], kept: set[int]) -> list[LayerChoice] | None:
    """``arch`` narrowed until it fits: the weights of the smallest layer not in ``kept``, one option at a
    time; None if that cannot make it fit."""
    while not _fits(s, arch):
        for i in sorted(range(len(arch)), key=lambda j: _weight_count(s, arch, j)):
            narrower = [b for b in s.space.options(f"layer{i}.q_weight") if b < arch[i].q_weight]
            if i not in kept and narrower:
                arch[i] = dataclasses.replace(arch[i], q_weight=max(narrower))
                break
        else:
            return None
    return arch


def neighbours(space: SearchSpace, arch: list[LayerChoice]) -> list[tuple[Move, list[LayerChoice]]]:
    """Every ``canonical`` architecture that differs from ``arch`` in one decision (an operator, the width,
    the heads or a bitwidth of one layer), with its move. The supernet's shared weights rank the good
    operators poorly (see the module docstring) and one poor bitwidth can spoil a design, so the screening,
    not the controllers, decides between each of a design's choices and its alternatives."""
    out: list[tuple[Move, list[LayerChoice]]] = []
    for key in space.decision_keys:
        for option in space.options(key):
            changed = canonical(space, _moved(arch, key, option))
            if changed != arch and changed not in [a for _, a in out]:
                out.append(((key, option), changed))
    return out


def _moved(arch: list[LayerChoice], key: str, option: object) -> list[LayerChoice]:
    """``arch`` with decision ``key`` (``layer<i>.<decision>``) set to ``option``."""
    layer, decision = int(key.split(".")[0][len("layer"):]), key.split(".")[1]
    changed = list(arch)
    changed[layer] = dataclasses.replace(arch[layer], **{decision: option})
    return changed


def train_design(cfg: SearchConfig, s: Search, arch: list[LayerChoice], epochs: int, patience: int, seed: int,
                 log_path: Path | None = None, progress: bool = False) -> tuple[QuantGNN, dict[str, Any]]:
    """QAT of one design from scratch, initialised from ``seed``, for ``epochs`` (early stop after ``patience``
    epochs without a better validation accuracy, if > 0), with the run's learning rate, weight decay and
    dropout; the model at its best validation epoch and ``fit``'s summary."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = build_quant_gnn(arch, s.data.num_features, input_signed=s.input_signed, dropout=cfg.dropout)
    tcfg = TrainConfig(
        dataset=cfg.dataset, split=cfg.split, arch=arch[0].attention, aggregation=arch[0].aggregation,
        layers=len(arch), epochs=epochs, lr=cfg.lr, weight_decay=cfg.weight_decay,
        dropout=cfg.dropout, seed=seed, patience=patience,
    )
    return model, fit(model, s.data, s.g, tcfg, log_path, progress)


def candidate_key(cfg: SearchConfig, s: Search, arch_dicts: list[dict], epochs: int, patience: int, seed: int
                  ) -> str:
    """Digest of everything a trained candidate depends on: the run's whole configuration, the data files,
    the toolkit version, the design and its training's epochs, patience and seed."""
    from lpgnas import __version__

    produced_by = {"config": asdict(cfg), "data": s.data_identity, "version": __version__,
                   "architecture": arch_dicts, "epochs": epochs, "patience": patience, "seed": seed}
    return hashlib.sha256(json.dumps(produced_by, sort_keys=True).encode()).hexdigest()


def _train_candidate(cfg: SearchConfig, s: Search, arch: list[LayerChoice], index: int, folder: Path,
                     epochs: int, progress: bool, patience: int = 0, seed: int | None = None
                     ) -> tuple[QuantGNN, dict[str, Any]]:
    """``train_design`` of one candidate (seed default: the run's); its model and record, cached in
    ``folder`` under a key of everything that produced them (``candidate_key``): a resumed run loads them, a
    run with other settings or data trains again."""
    seed = cfg.seed if seed is None else seed
    folder.mkdir(parents=True, exist_ok=True)
    rec_path, state_path = folder / f"{index}.json", folder / f"{index}.pt"
    arch_dicts = [c.to_dict() for c in arch]
    key = candidate_key(cfg, s, arch_dicts, epochs, patience, seed)
    if rec_path.is_file() and state_path.is_file():
        rec = json.loads(rec_path.read_text())
        if rec.get("key") == key:
            model = build_quant_gnn(arch, s.data.num_features, input_signed=s.input_signed, dropout=cfg.dropout)
            model.load_state_dict(torch.load(state_path, weights_only=True))
            model.eval()
            return model, rec
    t = time.time()
    model, info = train_design(cfg, s, arch, epochs, patience, seed, folder / f"{index}.train_log.jsonl", progress)
    with torch.no_grad():
        cost = {k: round(float(v), 3) for k, v in s.cost.values(onehots_for(s.space, arch)).items()}
    rec = {"index": index, "key": key, "epochs": epochs, "seed": seed, "architecture": arch_dicts,
           "val_accuracy": info["val_accuracy_float"], "best_epoch": info["best_epoch"], "cost": cost,
           "seconds": round(time.time() - t, 2)}
    with atomic_path(state_path) as tmp:
        torch.save(model.state_dict(), tmp)
    write_json_atomic(rec_path, rec)
    return model, rec


def _retrain(cfg: SearchConfig, s: Search, candidates: list[list[LayerChoice]], out: Path, t0: float,
             searched_here: float, resumed_from: int | None, final_cost: dict[str, float],
             progress: bool) -> dict[str, Any]:
    """Two rounds of QAT from scratch: every candidate for ``--screen-epochs`` (the draws, then the local
    search's rounds), the ``--finalists`` best of those (validation accuracy, then the smaller model) for
    ``--retrain-epochs`` from another initialisation; the finalists' trained model (screening or
    retraining) with the best validation accuracy is exported; golden accuracy, metrics.json. Without local
    search and anchors and with as many finalists as candidates the screening is skipped."""
    t_train = time.time()
    data, g = s.data, s.g
    trained_here = 0.0  # wall time of the trainings in this process (a resumed run loads earlier ones)

    def train(arch: list[LayerChoice], index: int, stage: str, epochs: int, patience: int,
              seed: int | None = None, show: bool = False) -> tuple[QuantGNN, dict[str, Any]]:
        nonlocal trained_here
        t = time.time()
        model, rec = _train_candidate(cfg, s, arch, index, out / "candidates" / stage, epochs, show, patience, seed)
        trained_here += time.time() - t
        return model, rec

    rank = lambda r: (r["val_accuracy"], -r["cost"]["model"], -r["index"])  # noqa: E731
    screened: list[dict[str, Any]] = []
    if len(candidates) > cfg.finalists or cfg.neighbours or cfg.anchors:
        bar = progress_bar(desc="screen", enabled=progress, total=len(candidates), unit="candidates")

        def screen_new(generation: int, origin: str, parent: int | None = None) -> None:
            bar.total = len(candidates)
            for i in range(len(screened), len(candidates)):
                rec = train(candidates[i], i, "screen", cfg.screen_epochs, cfg.screen_patience)[1]
                screened.append({**rec, "generation": generation, "origin": origin, "parent": parent})
                bar.update()

        screen_new(0, "draw")
        if cfg.anchors:
            candidates += [a for a in anchor_architectures(s) if a not in candidates]
            screen_new(0, "anchor")
        expanded: list[list[LayerChoice]] = []
        for generation in range(1, cfg.generations + 1) if cfg.neighbours else ():
            # local search: the neighbours of the best screened design not expanded yet
            unexpanded = [r for r in screened if candidates[r["index"]] not in expanded]
            if not unexpanded:
                break
            centre_rec = max(unexpanded, key=rank)
            centre = candidates[centre_rec["index"]]
            expanded.append(centre)
            moves = neighbours_within_budget(s, centre)
            candidates += [a for _, a in moves if a not in candidates]
            screen_new(generation, "neighbour", centre_rec["index"])
            tried = [(move, screened[candidates.index(a)]["val_accuracy"]) for move, a in moves]
            combined = combined_moves(s, centre, centre_rec["val_accuracy"], tried)
            if combined is not None and combined not in candidates:
                candidates.append(combined)
                screen_new(generation, "combined", centre_rec["index"])
        bar.close()
        finalists = sorted(sorted(screened, key=rank, reverse=True)[: cfg.finalists], key=lambda r: r["index"])
        chosen_idx = [r["index"] for r in finalists]
    else:
        chosen_idx = list(range(len(candidates)))
    # the finalists are trained again from another initialisation; the export is the trained model with the
    # best validation accuracy among all of their trainings (screening and retraining; ties: the retraining,
    # which trained longer, then the screening's rank): a model, not a design, is what ships
    screen_rec = {r["index"]: r for r in screened}
    runs: list[tuple[tuple, QuantGNN, dict[str, Any]]] = []
    records = []
    for i in progress_bar(chosen_idx, desc="retrain", enabled=progress, unit="finalists"):
        model, rec = train(candidates[i], i, "final", cfg.retrain_epochs, cfg.retrain_patience,
                           cfg.seed + FINAL_SEED_OFFSET, progress)
        records.append(rec)
        runs.append(((rec["val_accuracy"], 1, *rank(rec)), model, {**rec, "training": "final"}))
        if i in screen_rec:  # the screening's model of this finalist, loaded from its folder
            model, rec = train(candidates[i], i, "screen", cfg.screen_epochs, cfg.screen_patience)
            runs.append(((rec["val_accuracy"], 0, *rank(rec)), model, {**rec, "training": "screen"}))
    _, model, chosen = max(runs, key=lambda r: r[0])
    arch = candidates[chosen["index"]]
    arch_dicts = [c.to_dict() for c in arch]
    fit_info = {"best_epoch": chosen["best_epoch"], "val_accuracy_float": chosen["val_accuracy"]}
    candidate_seconds = sum(r["seconds"] for r in records + screened)
    ir = export_ir(model, f"{cfg.dataset}-lpgnas",
                   metadata={"search_config": asdict(cfg), "architecture": arch_dicts})
    ir.save(out / "model.ir.json")
    n, e = g.csr.num_nodes, g.csr.num_edges
    model_kib = model_size_bits(ir) / KIB
    hw_est = hardware_estimate(ir, n, e, cfg.device)
    float_kib = float_gcn_size_bits(data.num_features, 16, data.num_classes) / KIB
    metrics = {
        "dataset": data.name, "split": data.split, "device": cfg.device,
        **evaluate(model, ir, data, g), **fit_info,
        "architecture": arch_dicts,
        "chosen_candidate": chosen["index"],
        "chosen_training": chosen["training"],
        "candidates": records,
        "screened": screened,
        "model_size_kib": round(model_kib, 3),
        "memory_buffer_kib": round(buffer_size_bits(ir, n, e) / KIB, 3),
        "float_gcn16_model_size_kib": round(float_kib, 3),
        "model_compression_vs_float_gcn16": round(float_kib / model_kib, 2),
        "expected_cost": {k: round(v, 3) for k, v in final_cost.items()},
        "reference_cost": {k: round(v, 3) for k, v in s.cost.reference.items()},
        "buffer_size_kib": hw_est["buffer_size_kib"],
        "hardware": hw_est,
        "budget_kib": s.budget_kib,
        "resumed_from_epoch": resumed_from,
        "search_seconds": round(s.search_seconds, 2),
        "retrain_seconds": round(time.time() - t_train, 2),
        "candidate_seconds": round(candidate_seconds, 2),
        # the search loop and every training, whichever process ran them, plus this process's other work
        "total_seconds": round(s.search_seconds + candidate_seconds
                               + (time.time() - t0 - searched_here - trained_here), 2),
        "config": asdict(cfg),
    }
    write_json_atomic(out / "metrics.json", metrics)
    return metrics


# ---- command line -----------------------------------------------------------------------------------------

def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lpgnas search``."""
    from lpgnas.cli_args import dataset_help, device_help
    from lpgnas.datasets import SPLITS
    from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS

    p = sub.add_parser(
        "search", help="LPGNAS: search architecture and quantisation, retrain, export the IR",
        description=(
            "Search architecture and quantisation together with a supernet and controllers whose loss adds "
            "lambda times the hardware cost, derive candidate designs (the argmax, draws from the "
            "controllers, one textbook design per attention operator and a local search around the best), "
            "screen each by quantisation-aware training, retrain the best finalists from scratch and "
            "export the one with the best validation accuracy. Writes RUN/search_log.jsonl, "
            "RUN/search.ckpt, RUN/candidates/, RUN/model.ir.json and RUN/metrics.json; --resume continues "
            "from RUN/search.ckpt with the configuration saved there. docs/search.md explains the method. "
            "Example: lpgnas search --dataset Cora --device xc7z020 -o runs/search"
        ),
    )
    d = SearchConfig()
    p.add_argument("--dataset", default=d.dataset, help=dataset_help(d.dataset))
    p.add_argument("--data-root", default=None, help="dataset root (default: $LPGNAS_DATA or the user cache)")
    p.add_argument("--split", default=None, choices=SPLITS,
                   help="train/val/test split (default: public for Cora, CiteSeer, PubMed, else random-60-20-20)")
    p.add_argument("--device", default=d.device,
                   help=device_help(d.device) + "; its budgets enter the cost and --budget-kib device")
    p.add_argument("--layers", type=int, default=d.layers, help="1..4")
    p.add_argument("--lambda", dest="lam", type=float, default=d.lam,
                   help="weight of the normalised expected cost in the controller loss")
    p.add_argument("--budget-kib", default=None,
                   help="budget mode: penalise only what exceeds the budgets: model size above this many KiB "
                        "('device': the device's BRAM; 'gcn8': 1/8 of the float GCN 2x16's size), LUT/DSP/BRAM "
                        "and buffers above the device's (default: none, the whole cost counts)")
    p.add_argument("--cost", default=d.cost,
                   help="cost terms, comma-separated: model, buffer (KiB), lut, dsp, bram, latency (hw_model's "
                        "expected estimate); 'total' = model,buffer; 'hw' (default) = all")
    p.add_argument("--weight-steps", type=int, default=d.weight_steps,
                   help="supernet weight steps per epoch (one controller step per epoch after warm-up)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="search epochs")
    p.add_argument("--warmup", type=int, default=d.warmup, help="epochs of weight steps only")
    p.add_argument("--retrain-epochs", type=int, default=d.retrain_epochs,
                   help="most epochs of the finalists' retraining (default %(default)s)")
    p.add_argument("--retrain-patience", type=int, default=d.retrain_patience,
                   help="stop a finalist's retraining after this many epochs without a better validation "
                        "accuracy (default %(default)s; 0: train all --retrain-epochs)")
    p.add_argument("--candidates", type=int, default=d.candidates,
                   help="architectures retrained (argmax + draws from the controllers), each for "
                        "--screen-epochs; the --finalists best by validation accuracy for --retrain-epochs; "
                        "the best of those is exported")
    p.add_argument("--no-neighbours", dest="neighbours", action="store_false",
                   help="no local search: screen the argmax and the draws only (else also, for --generations "
                        "rounds, every design one decision away from the best screened not expanded yet)")
    p.add_argument("--no-anchors", dest="anchors", action="store_false",
                   help="screen only the controllers' designs, not also one W8A8 design (4-bit biases) per "
                        "attention operator (every layer: that attention, add, relu)")
    p.add_argument("--screen-epochs", type=int, default=d.screen_epochs, help="epochs of each candidate's screening")
    p.add_argument("--screen-patience", type=int, default=d.screen_patience,
                   help="stop screening a candidate after this many epochs without a better validation "
                        "accuracy (0: never)")
    p.add_argument("--generations", type=int, default=d.generations,
                   help="rounds of local search after the candidates are screened: each screens the neighbours of "
                        "the best screened design not expanded yet, then its improving moves combined")
    p.add_argument("--finalists", type=int, default=d.finalists,
                   help="best screened candidates retrained for --retrain-epochs")
    p.add_argument("--lr", type=float, default=d.lr, help="weight learning rate of the retraining")
    p.add_argument("--supernet-lr", type=float, default=d.supernet_lr,
                   help="weight learning rate of the supernet (each path gets a share of the steps)")
    p.add_argument("--arch-lr", type=float, default=d.arch_lr, help="controller learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="Adam weight decay")
    p.add_argument("--dropout", type=float, default=d.dropout, help="feature dropout")
    p.add_argument("--tau-start", type=float, default=d.tau_start, help="Gumbel-softmax temperature at the start")
    p.add_argument("--tau-end", type=float, default=d.tau_end, help="Gumbel-softmax temperature at the end")
    p.add_argument("--hidden-sizes", default=d.hidden_sizes, help="hidden width options")
    p.add_argument("--head-counts", default=d.head_counts, help="head count options")
    p.add_argument("--weight-bits", default=d.weight_bits, help="weight bitwidths (1 binary, 2 ternary)")
    p.add_argument("--act-bits", default=d.act_bits, help="activation bitwidths (2..16)")
    p.add_argument("--attentions", default=None,
                   help=f"restrict the attention options, comma-separated (default: all: {', '.join(ATTENTIONS)})")
    p.add_argument("--aggregations", default=None,
                   help=f"restrict the aggregation options (default: all: {', '.join(AGGREGATIONS)})")
    p.add_argument("--activations", default=None,
                   help=f"restrict the hidden activation options (default: all: {', '.join(ACTIVATIONS)})")
    p.add_argument("--features", choices=("auto", *FEATURE_MODES), default=d.features,
                   help="host-side feature preprocessing, as lpgnas train (default auto: centred for Amazon, "
                        "row-normalised otherwise; on Cora a W4A8 GCN-16 reaches 81.9%% golden row-normalised, "
                        "78.5%% raw)")
    p.add_argument("--controller-weights", dest="fair_weights", action="store_false",
                   help="weight steps follow the controllers' architecture samples (default: uniform draws, "
                        "so the shared weights do not specialise to the early favourite and every operator "
                        "stays comparable; the quantisation decisions follow the controller either way)")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                   help="write RUN/search.ckpt every this many search epochs")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the search, the screening and random splits")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from RUN/search.ckpt")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    cfg = SearchConfig(**{f.name: getattr(args, f.name) for f in fields(SearchConfig)})
    m = search(cfg, args.out, data_root=args.data_root, resume=args.resume, progress=not args.quiet)
    print(f"architecture (candidate {m['chosen_candidate']}, its {m['chosen_training']} training, validation "
          f"{m['val_accuracy_float']:.4f}):")
    for i, c in enumerate(m["architecture"]):
        print(f"  layer{i}: " + ", ".join(f"{k}={v}" for k, v in c.items()))
    print(f"test accuracy: float {m['test_accuracy_float']:.4f}, golden {m['test_accuracy_golden']:.4f}; "
          f"model {m['model_size_kib']:.1f} KiB ({size_versus_float(m['model_compression_vs_float_gcn16'])} a "
          f"float GCN-16), buffers {m['buffer_size_kib']:.1f} KiB; search {m['search_seconds']:.0f} s")
    print(f"wrote {Path(args.out) / 'model.ir.json'} and {Path(args.out) / 'metrics.json'}")
    hw = m["hardware"]
    if not hw["fits_device"]:
        logging.getLogger(__name__).warning(
            f"warning: the exported design does not fit {m['device']} at the search's nominal parallelism: "
            f"{hw['overuse']}; lpgnas generate will refuse it: search again with --budget-kib device, or target "
            "a larger --device")
    return 0


def size_versus_float(compression: float) -> str:
    """``4.0x smaller than`` for a compression of 4, ``2.0x larger than`` for 0.5 (a model twice as large)."""
    if compression >= 1:
        return f"{compression:.1f}x smaller than"
    return f"{1 / compression:.1f}x larger than"


def main(argv: list[str] | None = None) -> int:
    """``python -m lpgnas.search.nas [search options]`` (the same as ``lpgnas search``)."""
    from lpgnas.cli_args import finish_subparsers

    parser = argparse.ArgumentParser(prog="lpgnas.search.nas")
    parser.set_defaults(quiet=False)
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_parser(sub)
    finish_subparsers(sub)
    args = parser.parse_args(["search", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except LpgnasError as e:
        print(f"lpgnas: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
