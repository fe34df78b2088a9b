"""Baselines for the LPGNAS search, in the same harness and on the same splits.

* **Float** GCN, GAT and GraphSAGE built from PyG's ``GCNConv`` / ``GATConv`` / ``SAGEConv`` (32-bit float,
  accuracy of the torch model; there is no integer model of a float network). Sparse input features (at
  most ``SPARSE_INPUT_DENSITY`` non-zero: the citation and co-author graphs) stay sparse: the first layer's
  products run as CSR products on the non-zeros (``search.sparse.project``; docs/search.md, Speed).
* **Uniformly quantised** GCN (and GAT once ``"gat"`` is in ``lpgnas.operators.ATTENTIONS`` with a training
  implementation in ``search.attentions``) at W8A8, W4A8 and W2A8 (2-bit weights are ternary in lpgnas) through
  the QAT path of ``lpgnas train`` (``search.train``): exported IR, golden integer accuracy, model size,
  hardware estimate.
* **Random search** with the LPGNAS search's compute budget (:func:`sampling_budget_seconds`): architectures
  and bitwidths sampled uniformly from the same space, each trained briefly (``short_epochs``) until the
  budget (seconds) is spent, the best by the search's own objective (validation cross-entropy + ``lambda`` *
  the same normalised cost of that path) retrained from scratch like the search's result, exported, golden
  test accuracy.

Every baseline uses the search's data pipeline (features preprocessed by its ``features`` mode), the best
validation epoch (``search.train.fit``), and never looks at the test nodes before the end. Models train on
the device of the data's tensors. Baselines are named as :func:`parse_baseline` reads them (``lpgnas
baseline METHOD``, ``search.baseline_cli``).
"""

from __future__ import annotations

import copy
import random
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lpgnas.datasets import Dataset, resolve_feature_mode
from lpgnas.errors import LpgnasError
from lpgnas.numfmt import MAX_BITS
from lpgnas.operators import ATTENTIONS
from lpgnas.search.attentions import ATTENTION_COEFFICIENTS
from lpgnas.search.config import SearchConfig
from lpgnas.search.cost import KIB, SearchCost, float_gcn_size_bits, hardware_estimate, model_size_bits, resolve_budget
from lpgnas.search.dropout import sparse_dropout
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.pareto import best_parallelism, write_fronts
from lpgnas.search.quant_gnn import build_gnn, export_ir
from lpgnas.search.space import LayerChoice
from lpgnas.search.sparse import project, sparse_layout
from lpgnas.search.supernet import architecture_from_choices, build_quant_gnn, onehots_for
from lpgnas.search.train import TrainConfig, accuracy, evaluate, fit
from lpgnas.sparse import nonzero_histogram

#: uniform quantisation settings of the baselines (weight bits, activation bits); 2 = ternary weights
UNIFORM_BITS: tuple[tuple[int, int], ...] = ((8, 8), (4, 8), (2, 8))


def quantised_archs() -> list[str]:
    """Attentions the uniformly quantised baselines cover: GCN, and GAT once lpgnas trains it."""
    return [a for a in ("gcn", "gat") if a in ATTENTIONS and a in ATTENTION_COEFFICIENTS]


# ---- names ------------------------------------------------------------------------------------------------------

RANDOM_SEARCH = "random-search"
_QUANTISED_NAME = re.compile(r"(?P<arch>[a-z][a-z0-9-]*)-w(?P<wbits>[1-9][0-9]*)a(?P<abits>[1-9][0-9]*)")


@dataclass(frozen=True)
class Baseline:
    """One baseline: ``kind`` "float" (``arch``: gcn, gat or sage), "quantised" (``arch`` of
    :func:`quantised_archs` at ``wbits`` / ``abits``) or "random-search"."""

    kind: str
    arch: str | None = None
    wbits: int | None = None
    abits: int | None = None

    @property
    def name(self) -> str:
        """The name :func:`parse_baseline` reads back."""
        if self.kind == "float":
            return f"float-{self.arch}"
        if self.kind == "quantised":
            return f"{self.arch}-w{self.wbits}a{self.abits}"
        return RANDOM_SEARCH


def parse_baseline(name: str) -> Baseline:
    """``float-gcn`` / ``float-gat`` / ``float-sage``, ``<arch>-w<W>a<A>`` (weight bits 1..MAX_BITS, 1 binary
    and 2 ternary, activation bits 2..MAX_BITS, as ``lpgnas train``) or ``random-search``; an
    :class:`LpgnasError` listing these forms for anything else."""
    if name == RANDOM_SEARCH:
        return Baseline(RANDOM_SEARCH)
    if name.startswith("float-") and name[len("float-"):] in FLOAT_HPARAMS:
        return Baseline("float", name[len("float-"):])
    m = _QUANTISED_NAME.fullmatch(name)
    if m and m["arch"] in quantised_archs() and 1 <= int(m["wbits"]) <= MAX_BITS and 2 <= int(m["abits"]) <= MAX_BITS:
        return Baseline("quantised", m["arch"], int(m["wbits"]), int(m["abits"]))
    raise LpgnasError(
        f"unknown baseline {name!r}; choose {', '.join(f'float-{k}' for k in FLOAT_HPARAMS)}, {RANDOM_SEARCH} or "
        f"<arch>-w<W>a<A> with <arch> one of {', '.join(quantised_archs())}, W in 1..{MAX_BITS} weight bits "
        f"(1 binary, 2 ternary), A in 2..{MAX_BITS} activation bits (e.g. gcn-w4a8)")


def standard_baselines() -> list[str]:
    """The baselines a benchmark runs: the float models, GCN at :data:`UNIFORM_BITS`, random search, then the
    other quantised attentions (GAT, 8 heads: the slowest) at :data:`UNIFORM_BITS`."""
    out = [f"float-{k}" for k in FLOAT_HPARAMS]
    out += [f"gcn-w{w}a{x}" for w, x in UNIFORM_BITS] + [RANDOM_SEARCH]
    return out + [f"{a}-w{w}a{x}" for a in quantised_archs() if a != "gcn" for w, x in UNIFORM_BITS]


def sampling_budget_seconds(metrics: dict[str, Any]) -> float:
    """What random search gets to spend sampling, from an ``lpgnas search`` run's metrics.json: the run's
    compute before the final retraining of one model (the search loop and every candidate's training but the
    exported candidate's retraining)."""
    try:
        chosen = next(c["seconds"] for c in metrics["candidates"] if c["index"] == metrics["chosen_candidate"])
        return round(metrics["search_seconds"] + metrics["candidate_seconds"] - chosen, 2)
    except (KeyError, TypeError, StopIteration):
        raise LpgnasError("not the metrics of an lpgnas search run: the sampling budget needs its search_seconds, "
                          "candidate_seconds, candidates and chosen_candidate") from None


def run_baseline(baseline: Baseline, data: Dataset, cfg: SearchConfig, epochs: int, patience: int,
                 budget_seconds: float | None = None, out: Path | None = None) -> dict[str, Any]:
    """``baseline`` on ``data`` (loaded by ``load_search_data(cfg)``), seeded by ``cfg.seed``: the float and
    quantised models train for up to ``epochs`` with ``patience``; random search samples for
    ``budget_seconds`` and retrains as ``cfg`` says. Quantised models and random search write their IR into
    ``out`` when given."""
    if baseline.kind == "float":
        return float_baseline(baseline.arch, data, cfg.seed, epochs, patience)
    if baseline.kind == "quantised":
        return quantised_baseline(baseline.arch, baseline.wbits, baseline.abits, data, cfg.seed, cfg.device, epochs,
                                  patience, features=cfg.features, out=out)
    if budget_seconds is None:
        raise LpgnasError("random-search needs a budget: the metrics of an lpgnas search run or a number of seconds")
    return random_search(cfg, data, budget_seconds, out=out)


# ---- float baselines ------------------------------------------------------------------------------------------

def sparse_matmul(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x @ weight.T`` for sparse COO ``x`` and a ``Linear``'s ``weight`` (out, in), as CSR on the non-zeros;
    the gradient reaches the weight only."""
    return project(x, weight.t().unsqueeze(0)).squeeze(1)


def sparse_linear(linear: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``linear(x)`` (a ``Linear`` with ``weight`` and optional ``bias``) for dense or sparse COO ``x``."""
    if not x.is_sparse:
        return linear(x)
    out = sparse_matmul(x, linear.weight)
    return out if linear.bias is None else out + linear.bias


class SparseInputLinear(nn.Module):
    """Stands in for a PyG layer's input ``Linear`` so that the layer accepts sparse COO features."""

    def __init__(self, linear: nn.Module) -> None:
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sparse_linear(self.linear, x)


class FloatGNN(nn.Module):
    """Two PyG layers: GCN 16 hidden, GAT 8 heads x 8 (dropout 0.6, as Velickovic et al.), SAGE 16 (mean).
    The first layer takes dense or sparse COO features."""

    def __init__(self, kind: str, in_features: int, num_classes: int) -> None:
        super().__init__()
        from torch_geometric.nn import GATConv, GCNConv, SAGEConv

        self.kind = kind
        if kind == "gcn":
            self.c1, self.c2, self.p = GCNConv(in_features, 16), GCNConv(16, num_classes), 0.5
            self.c1.lin = SparseInputLinear(self.c1.lin)
        elif kind == "gat":
            self.c1 = GATConv(in_features, 8, heads=8, dropout=0.6)
            self.c2 = GATConv(64, num_classes, heads=1, concat=False, dropout=0.6)
            self.c1.lin = SparseInputLinear(self.c1.lin)
            self.p = 0.6
        elif kind == "sage":
            self.c1, self.c2, self.p = SAGEConv(in_features, 16), SAGEConv(16, num_classes), 0.5
        else:
            raise ValueError(kind)

    def first_layer(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """``c1(x)``; for GraphSAGE on sparse ``x`` as ``mean_j(x_j W_l) + b_l + x W_r`` (the linear map first,
        which equals SAGEConv's ``lin_l(mean_j x_j) + lin_r(x)``: the mean of no neighbours is 0 either way)."""
        if self.kind != "sage" or not x.is_sparse:
            return self.c1(x, edge_index)
        c = self.c1
        h = sparse_matmul(x, c.lin_l.weight)
        return c.propagate(edge_index, x=(h, h)) + c.lin_l.bias + sparse_linear(c.lin_r, x)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = sparse_dropout(x, self.p, self.training)
        x = self.first_layer(x, edge_index)
        x = F.elu(x) if self.kind == "gat" else F.relu(x)
        x = F.dropout(x, self.p, self.training)
        return self.c2(x, edge_index)


FLOAT_HPARAMS = {"gcn": (0.01, 5e-4), "gat": (0.005, 5e-4), "sage": (0.01, 5e-4)}


def float_baseline(kind: str, data: Dataset, seed: int, epochs: int = 1000, patience: int = 100) -> dict[str, Any]:
    """Train a float PyG model for up to ``epochs``, stopping after ``patience`` epochs without a better
    validation accuracy (0: never), as the search's finalists are; test accuracy of the best epoch."""
    t0 = time.time()
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = FloatGNN(kind, data.num_features, data.num_classes).to(data.x.device)
    lr, wd = FLOAT_HPARAMS[kind]
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    ei, y = data.edge_index, data.y
    y_host, val_host = y.cpu().numpy(), data.val_mask.cpu().numpy()
    (x,) = sparse_layout(data.x, data.x)
    best, best_state, best_epoch = (-1.0, float("inf")), None, -1
    for epoch in range(epochs):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(x, ei)[data.train_mask], y[data.train_mask]).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            out = model(x, ei)
        val_loss = float(F.cross_entropy(out[data.val_mask], y[data.val_mask]))
        val_acc = accuracy(out.argmax(1).cpu().numpy(), y_host, val_host)
        if (val_acc, -val_loss) > (best[0], -best[1]):
            best, best_state, best_epoch = (val_acc, val_loss), copy.deepcopy(model.state_dict()), epoch
        if patience and epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        pred = model(x, ei).argmax(1).cpu().numpy()
    params = sum(p.numel() for p in model.parameters())
    return {
        "method": f"float-{kind}", "test_accuracy": accuracy(pred, y_host, data.test_mask.cpu().numpy()),
        "val_accuracy": best[0], "best_epoch": best_epoch, "epochs_run": epoch + 1,
        "model_size_kib": round(32 * params / KIB, 3),
        "seconds": round(time.time() - t0, 2),
    }


# ---- uniformly quantised baselines ------------------------------------------------------------------------------

def quantised_baseline(arch: str, wbits: int, abits: int, data: Dataset, seed: int, device: str,
                       epochs: int = 1000, patience: int = 100, features: str = "auto",
                       out: Path | None = None) -> dict[str, Any]:
    """QAT of a 2-layer GCN-16 (GAT: 8 heads x 8) at ``wbits``/``abits`` everywhere, for up to ``epochs`` with
    early stop after ``patience`` epochs without a better validation accuracy; golden accuracy. ``features``:
    the preprocessing ``data`` had (recorded in the IR); with ``out``, the IR is saved as
    ``out/model.ir.json``."""
    t0 = time.time()
    g = GraphTensors.of(data)
    torch.manual_seed(seed)
    np.random.seed(seed)
    heads, hidden = (8, 8) if arch == "gat" else (1, 16)
    dropout = 0.6 if arch == "gat" else 0.5
    activation = "elu" if arch == "gat" and "elu" in _activations() else "relu"
    model = build_gnn(data.num_features, data.num_classes, attention=arch, layers=2, hidden=hidden, heads=heads,
                      wbits=wbits, abits=abits, input_signed=bool((data.x < 0).any()), dropout=dropout,
                      activation=activation).to(data.x.device)
    tcfg = TrainConfig(dataset=data.name, split=data.split, arch=arch, activation=activation, layers=2,
                       hidden=hidden, heads=heads, wbits=wbits, abits=abits, epochs=epochs,
                       lr=0.005 if arch == "gat" else 0.01, dropout=dropout,
                       features=resolve_feature_mode(features, data.name), seed=seed, patience=patience)
    info = fit(model, data, g, tcfg, None, progress=False)
    ir = export_ir(model, f"{data.name}-{arch}-w{wbits}a{abits}", metadata={"train_config": asdict(tcfg)})
    if out is not None:
        ir.save(out / "model.ir.json")
    n, e = g.csr.num_nodes, g.csr.num_edges
    ev = evaluate(model, ir, data, g)
    return {
        "method": f"{arch}-w{wbits}a{abits}", "test_accuracy": ev["test_accuracy_golden"],
        "test_accuracy_float": ev["test_accuracy_float"], "val_accuracy": ev["val_accuracy_golden"],
        "best_epoch": info["best_epoch"],
        "model_size_kib": round(model_size_bits(ir) / KIB, 3), "hardware": hardware_estimate(ir, n, e, device),
        "accelerator": best_parallelism(ir, n, e, device, data.x.cpu().numpy()), "seconds": round(time.time() - t0, 2),
    }


def _activations() -> set[str]:
    from lpgnas.search.activations import ACTIVATION_MODULES

    return set(ACTIVATION_MODULES)


# ---- random search ----------------------------------------------------------------------------------------------

def random_search(cfg: SearchConfig, data: Dataset, budget_seconds: float, short_epochs: int = 50,
                  max_candidates: int = 200, out: Path | None = None) -> dict[str, Any]:
    """Uniform samples of the search space, each trained ``short_epochs`` until ``budget_seconds`` are spent
    (at least one); the best by validation accuracy (then cross-entropy + the search's cost penalty) is
    retrained from scratch as the search's finalists are (``cfg.retrain_epochs``, ``cfg.retrain_patience``);
    the better of its two trained models by validation accuracy (ties: the retraining), as the search picks,
    is exported and evaluated with the golden model (saved as ``out/model.ir.json`` with ``out``). In budget
    mode, draws over the budget are skipped untrained, as the search's candidates are. With ``out``, every
    trained model (the samples and the retraining) is a design point of the run's fronts, as a search's
    candidates are (``search.pareto.write_fronts``: ``out/pareto.json``, ``out/front/``)."""
    t0 = time.time()
    g = GraphTensors.of(data)
    space = cfg.space(data.num_features, data.num_classes)
    float_kib = float_gcn_size_bits(data.num_features, 16, data.num_classes) / KIB
    signed = bool((data.x < 0).any())
    cost = SearchCost(space, g.csr.num_nodes, g.csr.num_edges, cfg.device, cfg.cost,  # the search's objective
                      budget_kib=resolve_budget(cfg.budget_kib, cfg.device, float_kib), objective=cfg.objective,
                      input_signed=signed, feature_nonzeros=nonzero_histogram(data.x.cpu().numpy()))
    rng = random.Random(cfg.seed)
    tried: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    score = lambda r: (r["val_accuracy"], -(r["val_ce"] + r["penalty"]))  # noqa: E731
    draws = 0
    while len(tried) < max_candidates and (not tried or time.time() - t0 < budget_seconds):
        arch = architecture_from_choices(space, {k: rng.choice(space.options(k)) for k in space.decision_keys})
        draws += 1
        if cost.over_budget(onehots_for(space, arch)) and draws < 1000 * max_candidates:
            continue
        torch.manual_seed(cfg.seed + len(tried))
        model = build_quant_gnn(arch, data.num_features, input_signed=signed, dropout=cfg.dropout).to(data.x.device)
        tcfg = TrainConfig(epochs=short_epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed)
        val_acc = fit(model, data, g, tcfg, None, progress=False)["val_accuracy_float"]
        with torch.no_grad():
            logits = model(data.x, g)
            val_ce = float(F.cross_entropy(logits[data.val_mask], data.y[data.val_mask]))
            pen = float(cost.penalty({k: v.double() for k, v in onehots_for(space, arch).items()}, cfg.lam))
        tried.append({"index": len(tried), "arch": arch, "val_accuracy": val_acc, "val_ce": val_ce, "penalty": pen,
                      "model": model if out is not None else None})  # the fronts need every trained model
        if best is None or score(tried[-1]) > score(best):
            best = {**tried[-1], "model": model}
    search_seconds = time.time() - t0
    assert best is not None
    arch: list[LayerChoice] = best["arch"]
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = build_quant_gnn(arch, data.num_features, input_signed=signed, dropout=cfg.dropout).to(data.x.device)
    tcfg = TrainConfig(epochs=cfg.retrain_epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed,
                       patience=cfg.retrain_patience)
    retrained = fit(model, data, g, tcfg, None, progress=False)
    retrained_model = model
    exported = "short" if best["val_accuracy"] > retrained["val_accuracy_float"] else "retrained"
    if exported == "short":  # as the search: the better trained model ships
        model = best["model"]
    arch_dicts = [c.to_dict() for c in arch]
    recorded = replace(cfg, features=resolve_feature_mode(cfg.features, cfg.dataset))
    ir = export_ir(model, f"{data.name}-random",
                   metadata={"search_config": asdict(recorded), "architecture": arch_dicts})
    if out is not None:
        ir.save(out / "model.ir.json")
    ev = evaluate(model, ir, data, g)
    n, e = g.csr.num_nodes, g.csr.num_edges
    fronts = {}
    if out is not None:
        record = lambda t, val: {"index": t["index"], "architecture": [c.to_dict() for c in t["arch"]],  # noqa: E731
                                 "val_accuracy": val}
        trainings = [{"model": t["model"], "record": record(t, t["val_accuracy"]), "training": "screen"}
                     for t in tried]
        trainings.append({"model": retrained_model, "record": record(best, retrained["val_accuracy_float"]),
                          "training": "final"})
        shipped = (best["index"], "screen" if exported == "short" else "final")
        fronts = write_fronts(recorded, data, g, trainings, out, f"{data.name}-random", shipped)
    return {
        "method": "random-search", "test_accuracy": ev["test_accuracy_golden"],
        "val_accuracy": ev["val_accuracy_golden"], "model_size_kib": round(model_size_bits(ir) / KIB, 3),
        "hardware": hardware_estimate(ir, n, e, cfg.device),
        "accelerator": best_parallelism(ir, n, e, cfg.device, data.x.cpu().numpy()),
        "architecture": arch_dicts,
        "exported": exported, "short_val_accuracy": best["val_accuracy"],
        "retrained_val_accuracy": retrained["val_accuracy_float"],
        "candidates": len(tried), "budget_seconds": round(budget_seconds, 1),
        **({"fronts": {k: v for k, v in fronts.items() if k != "shipped"}} if fronts else {}),
        "search_seconds": round(search_seconds, 2), "seconds": round(time.time() - t0, 2),
        "float_gcn16_model_size_kib": round(float_gcn_size_bits(data.num_features, 16, data.num_classes) / KIB, 3),
        "config": asdict(cfg),
    }
