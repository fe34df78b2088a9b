"""Benchmark: seconds per QAT epoch of one search candidate, and a digest of what it trained.

An epoch is what ``search.train.fit`` does for every candidate the search screens or retrains: a training
step (dropout 0.5) and an evaluation of the whole graph. The design is the GCN most searches export (2 x 16,
4-bit layer-0 weights, ternary layer-1 weights, 8-bit activations), trained from seed 0 on the split of
seed 0 with torch on 1 thread. The digest (SHA-256 of the trained weights and of the evaluation's codes)
tells whether two code versions train the same model bit for bit.

    .venv/bin/python benchmarks/qat_epoch.py [--datasets Cora,PubMed,Computers] [--epochs 30] [--repeats 3]

Rows are kept per (dataset, commit of the code imported), so running this script with ``PYTHONPATH`` set to
an older checkout adds that version's rows beside the current ones; writes
``benchmarks/results/qat_epoch.{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from pathlib import Path

import torch

from lpgnas.fileio import write_json_atomic, write_text_atomic
from lpgnas.graph import CSRGraph
from lpgnas.provenance import git_commit
from lpgnas.search.config import SearchConfig, load_search_data
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.space import LayerChoice
from lpgnas.search.supernet import build_quant_gnn
from lpgnas.search.train import TrainConfig, fit

RESULTS = Path(__file__).parent / "results"
SPLITS = {"Cora": None, "CiteSeer": None, "PubMed": None}  # the public split; the others 60/20/20


def time_dataset(name: str, epochs: int, repeats: int) -> dict:
    """Median seconds per epoch over ``repeats`` trainings of ``epochs`` epochs, and the trained digest."""
    cfg = SearchConfig(dataset=name, split=SPLITS.get(name, "random-60-20-20"), seed=0)
    data = load_search_data(cfg)
    g = GraphTensors(CSRGraph.from_edge_index(data.edge_index.numpy(), data.num_nodes))
    arch = [LayerChoice("gcn", "add", "relu", 16, 1, 4, 8, 8, 8, 8, 8),
            LayerChoice("gcn", "add", "identity", data.num_classes, 1, 2, 8, 8, 8, 8, 8)]
    tcfg = TrainConfig(dataset=name, epochs=epochs, seed=0)
    seconds, digests = [], set()
    for _ in range(repeats):
        torch.manual_seed(0)
        model = build_quant_gnn(arch, data.num_features, input_signed=bool((data.x < 0).any()), dropout=0.5)
        t = time.perf_counter()
        fit(model, data, g, tcfg, None, progress=False)
        seconds.append((time.perf_counter() - t) / epochs)
        digest = hashlib.sha256()
        for key, value in model.state_dict().items():
            digest.update(key.encode() + value.numpy().tobytes())
        with torch.no_grad():
            model(data.x, g)
        for layer in model.layers:
            for codes in layer.codes.values():
                digest.update(codes.numpy().tobytes())
        digests.add(digest.hexdigest()[:16])
    assert len(digests) == 1, f"{name}: repeated trainings differ ({digests})"
    return {"dataset": name, "nodes": data.num_nodes, "features": data.num_features, "epochs": epochs,
            "seconds_per_epoch": statistics.median(seconds), "runs": seconds, "digest": digests.pop()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="Cora,PubMed,Photo,Computers,CS")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    full = git_commit()  # of the checkout the code came from
    commit = "unknown" if full is None else full[:7] + full[40:]  # the short hash, "+dirty" kept
    path = RESULTS / "qat_epoch.json"
    rows = json.loads(path.read_text()) if path.is_file() else []
    for name in [d for d in args.datasets.split(",") if d]:
        row = time_dataset(name, args.epochs, args.repeats) | {
            "commit": commit, "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
        rows = [r for r in rows if (r["dataset"], r["commit"]) != (name, commit)] + [row]
        print(f"{name} @ {commit}: {row['seconds_per_epoch']:.3f} s/epoch, digest {row['digest']}", flush=True)
        write_json_atomic(path, rows)
    lines = ["# Seconds per QAT epoch of a search candidate", "",
             "GCN 2x16 (W4 / ternary weights, 8-bit activations), training step + evaluation, torch on 1 thread;",
             "median over repeats (`benchmarks/qat_epoch.py`). Same digest: the same trained model, bit for bit.", "",
             "| dataset | nodes x features | commit | s / epoch | digest | measured |", "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["nodes"], r["measured"])):
        lines.append(f"| {r['dataset']} | {r['nodes']} x {r['features']} | `{r['commit']}` | "
                     f"{r['seconds_per_epoch']:.3f} | `{r['digest']}` | {r['measured']} |")
    write_text_atomic(RESULTS / "qat_epoch.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
