"""Benchmark: fixed-architecture QAT of a 2x16 GCN on Cora (public split) at several precisions.

Reports, per precision and over seeds, the float (fake-quantised torch) and golden (integer) test
accuracy and the training time; writes benchmarks/results/train_cora.{json,md}.

    .venv/bin/python benchmarks/train_cora.py [--seeds 5] [--data-root ../shared/datasets]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tqdm import tqdm

from lpgnas.fileio import write_json_atomic, write_text_atomic
from lpgnas.search.train import TrainConfig, train

PRECISIONS = [(16, 16), (8, 8), (4, 8), (2, 8), (1, 8)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    rows = []
    for wbits, abits in tqdm(PRECISIONS, desc="precisions"):
        runs = [train(TrainConfig(dataset="Cora", wbits=wbits, abits=abits, seed=s),
                      Path(tempfile.gettempdir()) / "lpgnas-bench" / f"w{wbits}a{abits}s{s}",
                      data_root=args.data_root, progress=False) for s in range(args.seeds)]
        col = {k: [r[k] for r in runs] for k in ("test_accuracy_float", "test_accuracy_golden", "train_seconds")}
        rows.append({"wbits": wbits, "abits": abits, **{f"{k}_mean": statistics.mean(v) for k, v in col.items()},
                     **{f"{k}_std": statistics.pstdev(v) for k, v in col.items()}, "runs": col})
    out = Path(args.out)
    write_json_atomic(out / "train_cora.json", rows)
    lines = ["# GCN 2x16 on Cora (public split), quantisation-aware training", "",
             f"{args.seeds} seeds each; accuracy on the 1000 test nodes, mean ± std.", "",
             "| weights | activations | float (torch) | golden (integer) | train s |", "|---|---|---|---|---|"]
    for r in rows:
        w = {1: "binary", 2: "ternary"}.get(r["wbits"], f"{r['wbits']}-bit")
        lines.append(f"| {w} | {r['abits']}-bit | {100 * r['test_accuracy_float_mean']:.1f} ± "
                     f"{100 * r['test_accuracy_float_std']:.1f} | {100 * r['test_accuracy_golden_mean']:.1f} ± "
                     f"{100 * r['test_accuracy_golden_std']:.1f} | {r['train_seconds_mean']:.0f} |")
    write_text_atomic(out / "train_cora.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
