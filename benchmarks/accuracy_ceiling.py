"""Accuracy ceiling of a split: float models wider and stronger than the search space, in the search's harness.

    python benchmarks/accuracy_ceiling.py [--dataset Cora] [--split random-60-20-20] [--seeds 10] [--threads 1]

Asks whether an accuracy target is within reach of *any* two-layer model the search could find, before a
search is blamed for missing it. Every model trains as the benchmark's baselines and the search's finalists
do (``search.baselines.float_baseline``'s protocol: Adam, up to 1000 epochs, stop 100 epochs after the best
validation accuracy, the test accuracy of that epoch), on the same splits and preprocessed features
(``search.config.load_search_data``), 32-bit float, so every number is an upper reference for the quantised
designs of the same shape. The models: GCN at widths 16 / 64 / 256 with dropout 0.5 and 0.8, GAT 8 x 8
heads, GraphSAGE 64, and APPNP (Gasteiger et al., ICLR 2019: an MLP then 10 steps of personalised PageRank,
alpha 0.1), which is outside the search space and among the strongest classic models on these splits.

One JSON file per (model, seed) under ``benchmarks/results/ceiling_runs/`` (written atomically; existing
ones are skipped, so a killed run resumes); the report ``benchmarks/results/accuracy_ceiling_<dataset>_<split>.md``
is rebuilt from whatever run files exist.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"
RUNS = RESULTS / "ceiling_runs"

#: model name -> (kind, hidden width, dropout, learning rate)
MODELS: dict[str, tuple[str, int, float, float]] = {
    "gcn-16-d0.5": ("gcn", 16, 0.5, 0.01),
    "gcn-64-d0.5": ("gcn", 64, 0.5, 0.01),
    "gcn-256-d0.5": ("gcn", 256, 0.5, 0.01),
    "gcn-64-d0.8": ("gcn", 64, 0.8, 0.01),
    "gcn-256-d0.8": ("gcn", 256, 0.8, 0.01),
    "gat-8x8-d0.6": ("gat", 8, 0.6, 0.005),
    "sage-64-d0.5": ("sage", 64, 0.5, 0.01),
    "appnp-64-d0.5": ("appnp", 64, 0.5, 0.01),
}


def build_model(kind: str, hidden: int, dropout: float, in_features: int, num_classes: int):
    """A two-layer PyG model (APPNP: a two-layer MLP then propagation)."""
    import torch.nn.functional as F
    from torch import nn
    from torch_geometric.nn import APPNP, GATConv, GCNConv, SAGEConv

    from lpgnas.search.baselines import SparseInputLinear
    from lpgnas.search.dropout import sparse_dropout

    class TwoLayer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if kind == "gcn":
                self.c1, self.c2 = GCNConv(in_features, hidden), GCNConv(hidden, num_classes)
            elif kind == "gat":
                self.c1 = GATConv(in_features, hidden, heads=8, dropout=dropout)
                self.c2 = GATConv(8 * hidden, num_classes, heads=1, concat=False, dropout=dropout)
            elif kind == "sage":
                self.c1, self.c2 = SAGEConv(in_features, hidden), SAGEConv(hidden, num_classes)
            elif kind == "appnp":
                self.c1, self.c2 = nn.Linear(in_features, hidden), nn.Linear(hidden, num_classes)
                self.prop = APPNP(K=10, alpha=0.1)
            else:
                raise ValueError(f"unknown model kind {kind!r}")
            if kind != "sage":  # the first product on the non-zeros of sparse features, as the baselines do
                if kind == "appnp":
                    self.c1 = SparseInputLinear(self.c1)
                else:
                    self.c1.lin = SparseInputLinear(self.c1.lin)

        def forward(self, x, edge_index):
            x = sparse_dropout(x, dropout, self.training)
            if kind == "appnp":
                x = F.relu(self.c1(x))
                x = self.c2(F.dropout(x, dropout, self.training))
                return self.prop(x, edge_index)
            x = self.c1(x, edge_index)
            x = F.elu(x) if kind == "gat" else F.relu(x)
            return self.c2(F.dropout(x, dropout, self.training), edge_index)

    return TwoLayer()


def train_one(name: str, data, seed: int, epochs: int = 1000, patience: int = 100) -> dict:
    """The baselines' protocol (``search.baselines.float_baseline``) for model ``name`` on ``data``."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from lpgnas.search.train import accuracy

    kind, hidden, dropout, lr = MODELS[name]
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = build_model(kind, hidden, dropout, data.num_features, data.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)
    from lpgnas.search.sparse import sparse_layout

    ei, y = data.edge_index, data.y
    (x,) = sparse_layout(data.x, data.x) if kind != "sage" else (data.x,)
    t0 = time.time()
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
        val_acc = accuracy(out.argmax(1).numpy(), y.numpy(), data.val_mask.numpy())
        if (val_acc, -val_loss) > (best[0], -best[1]):
            best, best_state, best_epoch = (val_acc, val_loss), copy.deepcopy(model.state_dict()), epoch
        if epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        pred = model(x, ei).argmax(1).numpy()
    return {"model": name, "seed": seed, "test_accuracy": accuracy(pred, y.numpy(), data.test_mask.numpy()),
            "val_accuracy": best[0], "best_epoch": best_epoch, "seconds": round(time.time() - t0, 2)}


def run_file(dataset: str, split: str, name: str, seed: int) -> Path:
    return RUNS / f"{dataset}__{split}__{name}__s{seed}.json"


def report(dataset: str, split: str) -> str:
    """Markdown table of every model's mean ± std test accuracy (%) over the run files present."""
    rows = []
    for name in MODELS:
        runs = [json.loads(p.read_text()) for p in sorted(RUNS.glob(f"{dataset}__{split}__{name}__s*.json"))]
        if not runs:
            continue
        acc = [100 * r["test_accuracy"] for r in runs]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        per_seed = ", ".join(f"{a:.1f}" for a in acc)
        rows.append(f"| {name} | {statistics.mean(acc):.1f} ± {std:.1f} | {max(acc):.1f} | {len(acc)} | {per_seed} |")
    head = (f"# Accuracy ceiling: {dataset} {split}\n\nFloat models, the search's harness and splits "
            "(`benchmarks/accuracy_ceiling.py`); test accuracy % of the best validation epoch.\n\n"
            "| model | mean ± std | best seed | seeds | per seed |\n|---|---|---|---|---|\n")
    return head + "\n".join(rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="Cora")
    ap.add_argument("--split", default="random-60-20-20")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated names of MODELS")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args()

    import torch
    from tqdm import tqdm

    from lpgnas.fileio import write_json_atomic
    from lpgnas.search.config import SearchConfig, load_search_data

    torch.set_num_threads(args.threads)
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"accuracy_ceiling: unknown model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
    RUNS.mkdir(parents=True, exist_ok=True)
    jobs = [(n, s) for s in range(args.seeds) for n in names
            if not run_file(args.dataset, args.split, n, s).is_file()]
    data_by_seed: dict[int, object] = {}
    for name, seed in tqdm(jobs, desc="ceiling", unit="run"):
        if seed not in data_by_seed:
            cfg = SearchConfig(dataset=args.dataset, split=args.split, seed=seed)
            data_by_seed[seed] = load_search_data(cfg, args.data_root)
        result = train_one(name, data_by_seed[seed], seed)
        write_json_atomic(run_file(args.dataset, args.split, name, seed), result)
    text = report(args.dataset, args.split)
    (RESULTS / f"accuracy_ceiling_{args.dataset.lower()}_{args.split}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
