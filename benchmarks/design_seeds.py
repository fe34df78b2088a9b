"""How much of a search result is the design, and how much the training seed.

    python benchmarks/design_seeds.py lpgnas__PubMed__public__xc7z020__s6 [more points] [--seeds 8]

Retrains the design a search benchmark point exported (its record
``benchmarks/results/search_bench/runs/<point>/result.json``; a point id without its hash suffices) from
``--seeds`` initialisations with the search's finalist training (QAT up to ``--retrain-epochs``, early stop
after ``--retrain-patience`` epochs without a better validation accuracy, the run's data split) and reports
the golden test accuracy of each: mean, std, and the run's own figure beside them. A run whose export sits
well below its design's mean was unlucky in its initialisation; a design whose mean sits below another's
was a worse pick. Results: ``benchmarks/results/design_seeds.json`` + ``.md`` (one entry per run, rewritten
atomically after each run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"
RUNS = RESULTS / "search_bench" / "runs"
OUT = RESULTS / "design_seeds.json"


def design_name(arch: list[dict[str, Any]]) -> str:
    """``gcn/add/relu w4 i8 l4 c8 a8 b4 ; ...``: operators and bitwidths, layer by layer."""
    from lpgnas.search.space import LayerChoice

    layers = [LayerChoice.from_dict(c) for c in arch]
    return " ; ".join(f"{c.attention}/{c.aggregation}/{c.activation} w{c.q_weight} i{c.q_input} l{c.q_linear} "
                      f"c{c.q_coef} a{c.q_aggregation} b{c.q_bias}" for c in layers)


def retrain_over_seeds(run: dict[str, Any], seeds: list[int], data_root: str | None) -> list[dict[str, Any]]:
    """Golden test / validation accuracy of the run's design trained from each of ``seeds``."""
    from lpgnas.search.config import SearchConfig, load_search_data
    from lpgnas.search.loop import Search
    from lpgnas.search.quant_gnn import export_ir
    from lpgnas.search.selection import train_design
    from lpgnas.search.space import LayerChoice
    from lpgnas.search.train import evaluate

    # the benchmark's training settings are the search's defaults; the split is the run's (its seed)
    options = run["options"]
    cfg = SearchConfig(dataset=options["dataset"], split=options["split"], seed=options["seed"])
    data = load_search_data(cfg, data_root)
    s = Search(cfg, data)
    arch = [LayerChoice.from_dict(c) for c in run["result"]["architecture"]]
    out = []
    for seed in seeds:
        t = time.time()
        model, info = train_design(cfg, s, arch, cfg.retrain_epochs, cfg.retrain_patience, seed)
        ev = evaluate(model, export_ir(model, f"{cfg.dataset}-design"), data, s.g)
        out.append({"seed": seed, "test_accuracy": ev["test_accuracy_golden"],
                    "val_accuracy": ev["val_accuracy_golden"], "best_epoch": info["best_epoch"],
                    "seconds": round(time.time() - t, 1)})
        print(f"  seed {seed}: test {ev['test_accuracy_golden']:.4f}, val {ev['val_accuracy_golden']:.4f}, "
              f"best epoch {info['best_epoch']}", flush=True)
    return out


def markdown(doc: dict[str, Any]) -> str:
    lines = ["# Exported designs retrained from other seeds", "",
             "Golden test accuracy (%) of each run's exported design trained from other initialisations with the "
             "search's finalist training (`benchmarks/design_seeds.py`).", "",
             "| run | design | run's export | mean ± std | seeds | min-max |", "|---|---|---|---|---|---|"]
    for name, e in doc.items():
        accs = [100 * r["test_accuracy"] for r in e["retrained"]]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        lines.append(f"| {name} | `{e['design']}` | {100 * e['run_test_accuracy']:.1f} | "
                     f"{statistics.mean(accs):.2f} ± {sd:.2f} | {len(accs)} | {min(accs):.1f}-{max(accs):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="search benchmark points, e.g. lpgnas__PubMed__public__xc7z020__s6")
    p.add_argument("--seeds", type=int, default=8, help="training seeds 0..N-1")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-root", default=os.environ.get("LPGNAS_DATA"))
    args = p.parse_args(argv)
    import torch

    from lpgnas.fileio import write_json_atomic, write_text_atomic

    torch.set_num_threads(args.threads)
    doc = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for given in args.runs:
        found = sorted(RUNS.glob(f"{given}/result.json")) or sorted(RUNS.glob(f"{given}__*/result.json"))
        if len(found) != 1:
            p.error(f"{given}: {len(found)} points of {RUNS} match; name one point of the search benchmark")
        run = json.loads(found[0].read_text())
        name = run["point"]
        if run["method"] != "lpgnas":
            p.error(f"{name} is a {run['method']} point: only LPGNAS searches export a searched design")
        if run["status"] != "ok":
            p.error(f"{name} failed ({run['error']}): it exported no design")
        arch = run["result"]["architecture"]
        print(f"{name}: {design_name(arch)}", flush=True)
        doc[name] = {"design": design_name(arch), "architecture": arch,
                     "run_test_accuracy": run["result"]["test_accuracy"],
                     "retrained": retrain_over_seeds(run, list(range(args.seeds)), args.data_root)}
        write_json_atomic(OUT, doc)
        write_text_atomic(OUT.with_suffix(".md"), markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
