"""Benchmark: fixed-architecture QAT of a 2-layer GCN on Cora (public split) at several precisions and widths.

Reports, per row and over seeds, the float (fake-quantised torch) and golden (integer) test accuracy and the
training time; writes benchmarks/results/train_cora.{json,md}. ``--rows`` measures only the named rows (e.g.
``w2a8h16,w1a8h64``) and keeps the others' earlier figures; every row records the commit and date it was
measured at, and the report shows them.

    .venv/bin/python benchmarks/train_cora.py [--seeds 5] [--rows w1a8h16,...] [--data-root ../shared/datasets]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import tempfile
from pathlib import Path

from tqdm import tqdm

from lpgnas.fileio import write_json_atomic, write_text_atomic
from lpgnas.provenance import git_commit
from lpgnas.search.train import TrainConfig, train

#: (weight bits, activation bits, hidden width); 1 = binary, 2 = ternary weights
ROWS = [(16, 16, 16), (8, 8, 16), (4, 8, 16), (2, 8, 16), (1, 8, 16), (2, 8, 32), (1, 8, 32), (2, 8, 64),
        (1, 8, 64), (4, 4, 16), (2, 4, 16), (2, 4, 64), (1, 4, 64)]


def row_name(wbits: int, abits: int, hidden: int) -> str:
    return f"w{wbits}a{abits}h{hidden}"


def measure(wbits: int, abits: int, hidden: int, seeds: int, data_root: str | None) -> dict:
    runs = [train(TrainConfig(dataset="Cora", wbits=wbits, abits=abits, hidden=hidden, seed=s),
                  Path(tempfile.gettempdir()) / "lpgnas-bench" / f"{row_name(wbits, abits, hidden)}s{s}",
                  data_root=data_root, progress=False) for s in range(seeds)]
    col = {k: [r[k] for r in runs] for k in ("test_accuracy_float", "test_accuracy_golden", "train_seconds")}
    return {"wbits": wbits, "abits": abits, "hidden": hidden, "seeds": seeds,
            "commit": git_commit(), "date": datetime.date.today().isoformat(),
            **{f"{k}_mean": statistics.mean(v) for k, v in col.items()},
            **{f"{k}_std": statistics.pstdev(v) for k, v in col.items()}, "runs": col}


def report(rows: list[dict]) -> str:
    lines = ["# 2-layer GCN on Cora (public split), quantisation-aware training", "",
             "Accuracy on the 1000 test nodes, mean ± std over the seeds. Binary and ternary weights train without "
             "weight decay since 2026-12-07 (docs/search.md, \"Binary and ternary weights\"), and activations at 4 "
             "bits and below are calibrated to the least error (\"Activations at 4 bits and below\"); rows measured "
             "before that are marked. Train s: wall seconds per run, beside whatever else the machine ran (not a "
             "speed benchmark; benchmarks/results/qat_epoch.md is one).", "",
             "| weights | activations | hidden | float (torch) | golden (integer) | seeds | train s | measured |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        w = {1: "binary", 2: "ternary"}.get(r["wbits"], f"{r['wbits']}-bit")
        lines.append(
            f"| {w} | {r['abits']}-bit | {r.get('hidden', 16)} | {100 * r['test_accuracy_float_mean']:.1f} ± "
            f"{100 * r['test_accuracy_float_std']:.1f} | {100 * r['test_accuracy_golden_mean']:.1f} ± "
            f"{100 * r['test_accuracy_golden_std']:.1f} | {r.get('seeds', len(r['runs']['test_accuracy_golden']))} | "
            f"{r['train_seconds_mean']:.0f} | {r.get('date', 'before 2026-12-07')} {(r.get('commit') or '')[:7]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rows", default=None, help="comma-separated rows to measure, e.g. w2a8h16 (default: all)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    names = {row_name(*r): r for r in ROWS}
    wanted = list(names) if args.rows is None else args.rows.split(",")
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise SystemExit(f"train_cora: error: unknown rows {unknown}; choose from {', '.join(names)}")
    out = Path(args.out)
    path = out / "train_cora.json"
    earlier = {row_name(r["wbits"], r["abits"], r.get("hidden", 16)): r
               for r in (json.loads(path.read_text()) if path.is_file() else [])}
    for name in tqdm(wanted, desc="rows"):
        earlier[name] = measure(*names[name], args.seeds, args.data_root)
        rows = [earlier[n] for n in names if n in earlier]
        write_json_atomic(path, rows)  # each finished row is kept
        write_text_atomic(out / "train_cora.md", report(rows))
    print(report([earlier[n] for n in names if n in earlier]))


if __name__ == "__main__":
    main()
