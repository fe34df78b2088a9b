"""LPGNAS search benchmark: golden accuracy, size and hardware estimate of the searched models, with baselines.

    python benchmarks/search_bench.py [--configs cora-public,citeseer-public,...] [--seeds 10] \
        [--baselines cora-public,citeseer-public] [--report-only]

Configurations (dataset + split): Cora, CiteSeer, PubMed on the public split and on random 60/20/20;
Computers, Photo, CS, Physics on random 60/20/20 (the split's seed is the run's seed); PubMed public again
for the xczu7ev; CS and Physics only for the xczu7ev (``CONFIG_DEVICES``; the others for ``--device``): the
xc7z020's 140 RAMB36 cannot hold their whole-graph buffers even at 4 bits (a GCN: 289 RAMB36 on CS and
374 on Physics at 8 bits), which leaves 2-bit buffers. Per run: golden test
accuracy of the retrained, exported model, model size (KiB), on-chip buffer size (KiB) and LUT / DSP /
BRAM of ``hw_model.model.estimate`` on the exported IR (nominal parallelism, ``search.cost.hardware_estimate``),
search time. Baselines (``search.baselines``): float GCN / GAT / GraphSAGE, uniformly quantised GCN (and GAT
when lpgnas trains it) at W8A8 / W4A8 / W2A8, random search with the LPGNAS run's search time as budget.

Resumable: every run writes one JSON file atomically into ``benchmarks/results/search_runs/``; runs whose
file exists are skipped; a killed LPGNAS search resumes from its checkpoint (run folders under
``cache/search_bench/``). The report (``benchmarks/results/search_bench.json`` + ``.md``) is rebuilt from
whatever run files exist, with the number of seeds of every row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results"
RUNS = RESULTS / "search_runs"
WORK = REPO / "cache" / "search_bench"

CONFIGS: dict[str, tuple[str, str]] = {
    "cora-public": ("Cora", "public"),
    "citeseer-public": ("CiteSeer", "public"),
    "cora-random": ("Cora", "random-60-20-20"),
    "pubmed-public": ("PubMed", "public"),
    "citeseer-random": ("CiteSeer", "random-60-20-20"),
    "pubmed-random": ("PubMed", "random-60-20-20"),
    "computers-random": ("Computers", "random-60-20-20"),
    "photo-random": ("Photo", "random-60-20-20"),
    "cs-random": ("CS", "random-60-20-20"),
    "physics-random": ("Physics", "random-60-20-20"),
    "pubmed-public-xczu7ev": ("PubMed", "public"),
}
#: configurations searched for another device than ``--device``: on the xc7z020 PubMed's whole-graph buffers
#: at 8 bits (181 RAMB36 of 140) do not fit, so that search must also narrow the activations; on the
#: xczu7ev (312 RAMB36) only the model-size budget binds, as for the baselines
CONFIG_DEVICES: dict[str, str] = {"pubmed-public-xczu7ev": "xczu7ev", "cs-random": "xczu7ev",
                                  "physics-random": "xczu7ev"}
COMPONENTS = ("q_weight", "q_input", "q_linear", "q_coef", "q_aggregation", "q_bias")


def _write_atomic(path: Path, doc: dict) -> None:
    from lpgnas.fileio import write_json_atomic

    write_json_atomic(path, doc)


def code_version(repo: Path = REPO) -> str:
    """The commit (short hash) of the checkout ``repo`` (this one by default), with ``+dirty`` when tracked
    files other than the benchmarks' results differ from it."""
    import subprocess

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=repo, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results")
    return commit + ("+dirty" if changed else "")


def _run_file(config: str, method: str, seed: int) -> Path:
    return RUNS / f"{config}__{method}__s{seed}.json"


def _claim(path: Path) -> bool:
    """Claim a job for this process (``<run>.running`` holds its pid), so several workers can share the
    benchmark; a claim whose process is gone is taken over."""
    lock = path.with_suffix(".running")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(lock.read_text() or 0), 0)
                return False
            except PermissionError:
                return False  # alive, another user's
            except (ProcessLookupError, ValueError):
                lock.unlink(missing_ok=True)  # stale: its worker died
                continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def device_for(config: str, args: argparse.Namespace) -> str:
    """The device a configuration is searched and estimated for."""
    return CONFIG_DEVICES.get(config, args.device)


def search_config(dataset: str, split: str, seed: int, args: argparse.Namespace, device: str):
    from lpgnas.search.config import SearchConfig

    budget = None if args.budget_kib == "none" else args.budget_kib
    if budget == "gcn8x0.9":
        from lpgnas.datasets import load_dataset
        from lpgnas.search.cost import KIB, float_gcn_size_bits

        info = load_dataset(dataset, data_root=args.data_root, split=split, seed=seed)
        budget = f"{0.9 * float_gcn_size_bits(info.num_features, 16, info.num_classes) / KIB / 8:.4f}"
    return SearchConfig(dataset=dataset, split=split, seed=seed, device=device, lam=args.lam,
                        epochs=args.epochs, warmup=args.warmup, retrain_epochs=args.retrain_epochs,
                        retrain_patience=args.retrain_patience,
                        weight_steps=args.weight_steps, checkpoint_every=10, budget_kib=budget, cost=args.cost,
                        tau_start=args.tau_start, hidden_sizes=args.hidden_sizes, head_counts=args.head_counts)


def descends_from(screened: list[dict[str, Any]], index: int) -> str:
    """Where the screened design ``index`` comes from: ``draw`` (the controllers) or ``anchor <attention>``,
    following each local-search design back to the centre it was a move from (its ``parent``)."""
    r = screened[index]
    while r["origin"] not in ("draw", "anchor"):
        r = screened[r["parent"]]
    return "draw" if r["origin"] == "draw" else f"anchor {r['architecture'][0]['attention']}"


def run_lpgnas(config: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    from lpgnas.search.baselines import sampling_budget_seconds
    from lpgnas.search.run import CHECKPOINT, search

    dataset, split = CONFIGS[config]
    run_dir = WORK / f"{config}__lpgnas__s{seed}"
    resume = (run_dir / CHECKPOINT).is_file()
    cfg = search_config(dataset, split, seed, args, device_for(config, args))
    m = search(cfg, run_dir, data_root=args.data_root, resume=resume, progress=False)
    return {
        "method": "lpgnas", "test_accuracy": m["test_accuracy_golden"], "test_accuracy_float": m["test_accuracy_float"],
        "val_accuracy": m["val_accuracy_golden"], "model_size_kib": m["model_size_kib"],
        "buffer_size_kib": m["buffer_size_kib"], "hardware": m["hardware"], "architecture": m["architecture"],
        "search_seconds": m["search_seconds"], "retrain_seconds": m["retrain_seconds"],
        "candidate_seconds": m["candidate_seconds"], "candidates": len(m["screened"]) or len(m["candidates"]),
        "sampling_budget_seconds": sampling_budget_seconds(m),  # what random search gets to spend sampling
        "total_seconds": m["total_seconds"], "float_gcn16_model_size_kib": m["float_gcn16_model_size_kib"],
        "resumed_from_epoch": m["resumed_from_epoch"], "config": m["config"],
        "chosen_training": m["chosen_training"],  # the exported model: a finalist's screening or retraining
        "descends_from": descends_from(m["screened"], m["chosen_candidate"]) if m["screened"] else "draw",
    }


def run_baseline(config: str, method: str, seed: int, args: argparse.Namespace) -> dict[str, Any] | None:
    from lpgnas.search import baselines as bl
    from lpgnas.search.config import load_search_data

    dataset, split = CONFIGS[config]
    cfg = search_config(dataset, split, seed, args, device_for(config, args))
    data = load_search_data(cfg, args.data_root)  # the search's pipeline (row-normalised features)
    baseline = bl.parse_baseline(method)
    budget = None
    if baseline.kind == bl.RANDOM_SEARCH:
        ref = _run_file(config, "lpgnas", seed)
        if not ref.is_file():
            return None  # the budget is the LPGNAS run's search time: run that first
        budget = json.loads(ref.read_text())["sampling_budget_seconds"]
    # every baseline trains as the search's finalists do: up to --retrain-epochs, --retrain-patience early stop
    return bl.run_baseline(baseline, data, cfg, args.retrain_epochs, args.retrain_patience, budget)


def run_all(args: argparse.Namespace) -> None:
    import torch

    from lpgnas.search.baselines import standard_baselines

    torch.set_num_threads(args.threads)
    RUNS.mkdir(parents=True, exist_ok=True)
    configs = [c for c in args.configs.split(",") if c]
    base_configs = {c for c in args.baselines.split(",") if c}
    jobs = []
    for seed in range(args.seeds):  # seed-major: every configuration gets seed 0 before any gets seed 1
        for config in configs:
            if args.only in ("all", "lpgnas"):
                jobs.append((config, "lpgnas", seed))
            if config in base_configs and args.only in ("all", "baselines"):
                skip = tuple(x for x in args.skip.split(",") if x)
                jobs += [(config, m, seed) for m in standard_baselines() if not (skip and m.startswith(skip))]
    for config, method, seed in jobs:
        path = _run_file(config, method, seed)
        if path.is_file():
            continue
        if args.deadline and time.time() > args.deadline:
            print("deadline reached; stopping", flush=True)
            break
        if not _claim(path):
            continue  # another worker runs it
        t0 = time.time()
        print(f"[{time.strftime('%H:%M:%S')}] {config} {method} seed {seed} ...", flush=True)
        try:
            res = run_lpgnas(config, seed, args) if method == "lpgnas" else run_baseline(config, method, seed, args)
        except Exception as e:  # record and go on: one failing baseline must not stop the benchmark
            print(f"  failed: {type(e).__name__}: {e}", flush=True)
            res = {"method": method, "error": f"{type(e).__name__}: {e}"}
        if res is None:
            print("  skipped (needs the LPGNAS run first)", flush=True)
            path.with_suffix(".running").unlink(missing_ok=True)
            continue
        res |= {"config": config, "dataset": CONFIGS[config][0], "split": CONFIGS[config][1], "seed": seed,
                "wall_seconds": round(time.time() - t0, 1), "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                "commit": code_version()}
        _write_atomic(path, res)
        path.with_suffix(".running").unlink(missing_ok=True)
        if "error" not in res:
            print(f"  test {res['test_accuracy']:.4f}, model {res.get('model_size_kib')} KiB, "
                  f"{res['wall_seconds']} s", flush=True)
        report()


# ---- report ----------------------------------------------------------------------------------------------------

def _ms(xs: list[float], scale: float = 1.0, digits: int = 1) -> str:
    xs = [x * scale for x in xs if x is not None]
    if not xs:
        return "-"
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def report() -> dict[str, Any]:
    from lpgnas.search.space import LayerChoice

    runs = [json.loads(p.read_text()) for p in sorted(RUNS.glob("*.json"))]
    ok = [r for r in runs if "error" not in r]
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in ok:
        groups[(r["config"], r["method"])].append(r)
    order = list(CONFIGS)
    rows = []
    for (config, method), rs in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1] != "lpgnas",
                                                                       kv[0][1])):
        hw = [r.get("hardware") or {} for r in rs]
        rows.append({
            "config": config, "method": method, "seeds": sorted(r["seed"] for r in rs),
            "test_accuracy": _ms([r["test_accuracy"] for r in rs], 100),
            "model_size_kib": _ms([r.get("model_size_kib") for r in rs], 1, 2),
            "buffer_size_kib": _ms([r.get("buffer_size_kib", (r.get("hardware") or {}).get("buffer_size_kib"))
                                    for r in rs], 1, 1),
            "lut": _ms([h.get("lut") for h in hw], 1, 0), "dsp": _ms([h.get("dsp") for h in hw], 1, 0),
            "bram36": _ms([h.get("bram36") for h in hw], 1, 1),
            "search_seconds": _ms([r.get("search_seconds") for r in rs], 1, 0),
            # the whole command: supernet search + candidate selection + final retraining (random search: its
            # sampling phase + the retraining of its pick)
            "total_seconds": _ms([r.get("total_seconds", r.get("seconds")) for r in rs], 1, 0),
            "float_gcn16_model_size_kib": rs[0].get("float_gcn16_model_size_kib"),
            "commits": sorted({r.get("commit", "unrecorded") for r in rs}),
        })
    quant: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(Counter))
    ops: dict[str, Counter] = defaultdict(Counter)
    for r in ok:
        if r["method"] != "lpgnas":
            continue
        for i, recorded in enumerate(r["architecture"]):
            layer = LayerChoice.from_dict(recorded).to_dict()  # runs before q_bias: the aggregation's bitwidth
            for comp in COMPONENTS:
                quant["all"][comp][str(layer[comp])] += 1
                quant[f"layer{i}"][comp][str(layer[comp])] += 1
            ops["attention"][layer["attention"]] += 1
            ops["aggregation"][layer["aggregation"]] += 1
            if i < len(r["architecture"]) - 1:
                ops["activation"][layer["activation"]] += 1
                ops["hidden x heads"][f"{layer['hidden']}x{layer['heads']}"] += 1
    lineage = Counter(r["descends_from"] for r in ok if "descends_from" in r)
    doc = {"rows": rows, "lineage": dict(lineage),
           "quantisation": {k: {c: dict(v) for c, v in d.items()} for k, d in quant.items()},
           "operators": {k: dict(v) for k, v in ops.items()},
           "failed_runs": [{k: r[k] for k in ("config", "method", "seed", "error")} for r in runs if "error" in r],
           "runs": len(ok)}
    _write_atomic(RESULTS / "search_bench.json", doc)
    (RESULTS / "search_bench.md").write_text(_markdown(doc))
    return doc


def _markdown(doc: dict) -> str:
    lines = [
        "# LPGNAS search benchmark",
        "",
        "Generated by `benchmarks/search_bench.py` from the per-run files in `benchmarks/results/search_runs/`.",
        "Accuracy: test nodes, golden integer model of the exported IR (float baselines: the float torch model).",
        "Model size: weights + biases (+ attention vectors) at their bitwidths. Buffer: on-chip buffers and LUT /",
        "DSP / BRAM36: `hw_model.model.estimate` of the exported IR at the nominal parallelism P=4 (xc7z020",
        "family), buffers sized for the whole graph. search s: the supernet search loop; total s: the whole",
        "command (search + screening of the candidates + retraining of the finalists + export and golden",
        "evaluation). Random search samples for the LPGNAS run's compute before its last retraining, then",
        "retrains its pick. mean ± std over the listed seeds; torch on 1 thread. code: the commit each run was",
        "measured at.",
        "",
        "| config | method | seeds | test acc % | model KiB | buffer KiB | LUT | DSP | BRAM36 | search s | total s "
        "| code |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        seeds = f"{len(r['seeds'])} ({','.join(map(str, r['seeds']))})"
        lines.append(f"| {r['config']} | {r['method']} | {seeds} | {r['test_accuracy']} | {r['model_size_kib']} | "
                     f"{r['buffer_size_kib']} | {r['lut']} | {r['dsp']} | {r['bram36']} | {r['search_seconds']} | "
                     f"{r.get('total_seconds', '-')} | {', '.join(r.get('commits', []))} |")
    floats = {r["config"]: r["float_gcn16_model_size_kib"] for r in doc["rows"] if r["float_gcn16_model_size_kib"]}
    if floats:
        lines += ["", "32-bit float GCN 2x16 model size (KiB) per configuration: "
                  + ", ".join(f"{k} {v:.1f} (1/8: {v / 8:.2f})" for k, v in floats.items())]
    lines += ["", "## Quantisation chosen by LPGNAS", "",
              "How often each bitwidth was chosen per component, over all layers of all LPGNAS runs (weights: "
              "1 = binary, 2 = ternary).", "", "| scope | component | bits: count |", "|---|---|---|"]
    for scope, comps in doc["quantisation"].items():
        for comp, counts in comps.items():
            cs = ", ".join(f"{b}: {n}" for b, n in sorted(counts.items(), key=lambda kv: int(kv[0])))
            lines.append(f"| {scope} | {comp} | {cs} |")
    if doc.get("lineage"):
        lines += ["", "## Where the exported LPGNAS designs come from", "",
                  "Following the local search back from each exported design to a design screened first: a "
                  "draw from the controllers or an anchor (one W8A8 textbook design per attention operator).",
                  "", ", ".join(f"{k}: {v}" for k, v in sorted(doc["lineage"].items(), key=lambda kv: -kv[1]))]
    lines += ["", "## Operators chosen by LPGNAS", ""]
    for k, v in doc["operators"].items():
        lines.append(f"- {k}: " + ", ".join(f"{o} {n}" for o, n in sorted(v.items(), key=lambda kv: -kv[1])))
    if doc["failed_runs"]:
        lines += ["", "## Failed runs", ""] + [f"- {f['config']} {f['method']} seed {f['seed']}: {f['error']}"
                                               for f in doc["failed_runs"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from lpgnas.search.config import SearchConfig

    d = SearchConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated: {', '.join(CONFIGS)}")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--baselines", default="cora-public,citeseer-public",
                   help="configurations that also run the baselines")
    p.add_argument("--device", default=d.device)
    p.add_argument("--lambda", dest="lam", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--warmup", type=int, default=d.warmup)
    p.add_argument("--weight-steps", type=int, default=d.weight_steps)
    p.add_argument("--tau-start", type=float, default=d.tau_start)
    p.add_argument("--hidden-sizes", default="16",
                   help="hidden width options (default 16: with widths shared by slicing, the supernet did not "
                        "train on Cora when widths 16..256 x heads 1..8 were searched; see docs/search.md)")
    p.add_argument("--head-counts", default="1")
    p.add_argument("--retrain-epochs", type=int, default=d.retrain_epochs)
    p.add_argument("--retrain-patience", type=int, default=d.retrain_patience)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: best on a shared 2-core machine)")
    p.add_argument("--data-root", default=os.environ.get("LPGNAS_DATA"))
    p.add_argument("--deadline", type=float, default=None, help="unix time after which no new run starts")
    p.add_argument("--only", default="all", choices=("all", "lpgnas", "baselines"),
                   help="run only the LPGNAS searches or only the baselines (e.g. in two processes)")
    p.add_argument("--budget-kib", default="gcn8",
                   help="model-size budget of the search (budget mode): gcn8 = 1/8 of the float GCN 2x16's size "
                        "(the target; every candidate the search retrains fits it exactly), gcn8x0.9 = 0.9 of "
                        "that, a number of KiB, or 'none' (plain mode)")
    p.add_argument("--cost", default="hw",
                   help="cost terms of the search (default: hw = model size against the budget, buffers, LUT, "
                        "DSP and BRAM against the device's)")
    p.add_argument("--skip", default="", help="comma-separated method prefixes to leave out (e.g. gat-)")
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args(argv)
    if args.report_only:
        report()
        return 0
    run_all(args)
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
