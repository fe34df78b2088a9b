"""Benchmark: which 2-bit format collapses a GCN's training (docs/search.md, "Activations at 4 bits and below").

``lpgnas train``'s model (2-layer GCN, ternary weights, Cora public split) at a low activation bitwidth, with
some of its formats widened to 8 bits: the GCN coefficients (``coef``: ``--coef-bits``), the biases
(``bias``: ``--bias-bits``) and the last layer's activations, i.e. the logits (``last``: ``--logit-bits``).
Trains as ``lpgnas train`` does (Adam, lr 0.01, weight decay 5e-4 except on binary / ternary weights, dropout
0.5) for 200 epochs; reports
the test accuracy of the best validation epoch of the fake-quantised model (which the golden model equals),
mean ± std over the seeds. Writes benchmarks/results/low_bit_roles.{json,md}.

    .venv/bin/python benchmarks/low_bit_roles.py [--seeds 5] [--data-root ../shared/datasets]
"""

from __future__ import annotations

import argparse
import datetime
import statistics
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lpgnas.fileio import write_json_atomic, write_text_atomic
from lpgnas.provenance import git_commit
from lpgnas.search.config import SearchConfig, load_search_data
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.quant import optimiser_groups
from lpgnas.search.quant_gnn import build_gnn
from lpgnas.search.train import accuracy

#: (activation bits, hidden width, formats kept at 8 bits); ternary weights throughout
ROWS: list[tuple[int, int, tuple[str, ...]]] = [
    (2, 64, ()), (2, 64, ("coef", "bias", "last")), (2, 16, ("coef", "bias", "last")), (2, 64, ("coef", "bias")),
    (2, 64, ("coef", "last")), (2, 64, ("bias", "last")), (3, 64, ("coef", "bias")), (3, 64, ("coef", "bias", "last")),
]
WIDE = 8
EPOCHS = 200


def run(abits: int, hidden: int, keep: tuple[str, ...], seed: int, data_root: str | None) -> float:
    data = load_search_data(SearchConfig(dataset="Cora", split="public", seed=seed), data_root)
    g = GraphTensors.of(data)
    torch.manual_seed(seed)
    np.random.seed(seed)
    wide = {f"{k}_bits": WIDE for k in ("coef", "bias") if k in keep} | ({"logit_bits": WIDE} if "last" in keep else {})
    model = build_gnn(data.num_features, data.num_classes, attention="gcn", wbits=2, abits=abits, hidden=hidden,
                      **wide)
    opt = torch.optim.Adam(optimiser_groups(model, 5e-4), lr=0.01)
    y, val, test = data.y.numpy(), data.val_mask.numpy(), data.test_mask.numpy()
    best = (-1.0, 0.0)
    for _ in range(EPOCHS):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(data.x, g)[data.train_mask], data.y[data.train_mask]).backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(data.x, g).argmax(1).numpy()
        if (v := accuracy(pred, y, val)) > best[0]:
            best = (v, accuracy(pred, y, test))
    return best[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    rows = []
    for abits, hidden, keep in ROWS:
        acc = [run(abits, hidden, keep, s, args.data_root) for s in range(args.seeds)]
        rows.append({"abits": abits, "hidden": hidden, "wide": list(keep), "test_accuracy": acc,
                     "mean": statistics.mean(acc), "std": statistics.pstdev(acc)})
        print(f"A{abits} h{hidden} wide={keep}: {100 * rows[-1]['mean']:.1f} ± {100 * rows[-1]['std']:.1f}", flush=True)
    doc = {"commit": git_commit(), "date": datetime.date.today().isoformat(), "seeds": args.seeds, "rows": rows}
    write_json_atomic(out / "low_bit_roles.json", doc)
    names = {"coef": "coefficients", "bias": "biases", "last": "last layer (logits)"}
    lines = ["# Which 2-bit format collapses a ternary GCN (Cora public)", "",
             f"{args.seeds} seeds, {EPOCHS} epochs, validation-selected test accuracy; commit {doc['commit']}, "
             f"{doc['date']}. Widened formats are at {WIDE} bits, every other format at the row's activation "
             "bits (benchmarks/low_bit_roles.py; docs/search.md, \"Activations at 4 bits and below\").", "",
             "| activation bits | hidden | at 8 bits | test % |", "|---|---|---|---|"]
    for r in rows:
        wide = ", ".join(names[k] for k in r["wide"]) or "none"
        lines.append(f"| {r['abits']} | {r['hidden']} | {wide} | {100 * r['mean']:.1f} ± {100 * r['std']:.1f} |")
    write_text_atomic(out / "low_bit_roles.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
