"""``lpgnas baseline METHOD``: one baseline of ``search.baselines`` into a run folder."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from lpgnas.cli_args import dataset_help, device_help
from lpgnas.errors import LpgnasError
from lpgnas.search.config import SearchConfig
from lpgnas.search.torch_device import add_torch_device_argument


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lpgnas baseline``."""
    from lpgnas.datasets import SPLITS
    from lpgnas.search.baselines import standard_baselines

    d = SearchConfig()
    p = sub.add_parser(
        "baseline", help="train a baseline of the search (float, uniformly quantised, random search)",
        description=(
            "Train one baseline of the search in its harness: the search's data pipeline and split, the best "
            "validation epoch, golden test accuracy of the exported IR. METHOD: float-gcn, float-gat, "
            "float-sage (32-bit float PyG models), <arch>-w<W>a<A> (a 2-layer GCN-16 or GAT 8x8 quantised "
            "uniformly, e.g. gcn-w4a8; W=1 binary, W=2 ternary weights) or random-search (uniform samples "
            "of the search space for a search's sampling budget, the best retrained; --like gives the search "
            "run whose configuration and budget it takes, or --budget-seconds). The standard set: "
            f"{', '.join(standard_baselines())}. Writes RUN/metrics.json and, for the quantised models and "
            "random search, RUN/model.ir.json (+ .npz). "
            "Example: lpgnas baseline random-search --like runs/search/metrics.json -o runs/random"
        ),
    )
    p.add_argument("method", metavar="METHOD",
                   help="float-gcn, float-gat, float-sage, <arch>-w<W>a<A> or random-search")
    p.add_argument("--dataset", default=None, help=dataset_help(d.dataset) + "; with --like: the search's")
    p.add_argument("--data-root", default=None, help="dataset root (default: $LPGNAS_DATA or the user cache)")
    p.add_argument("--split", default=None, choices=SPLITS,
                   help="train/val/test split (default: public for Cora, CiteSeer, PubMed, else random-60-20-20; "
                        "with --like: the search's)")
    p.add_argument("--seed", type=int, default=None,
                   help=f"seed of the initialisation, the sampling and random splits (default: {d.seed}; with "
                        "--like: the search's)")
    p.add_argument("--device", default=None,
                   help=device_help(d.device) + " for the hardware estimate; with --like: the search's")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"most training epochs (random search: of its pick's retraining) (default: "
                        f"{d.retrain_epochs}, as the search's retraining; with --like: that search's)")
    p.add_argument("--patience", type=int, default=None,
                   help=f"stop after this many epochs without a better validation accuracy, 0: never (default: "
                        f"{d.retrain_patience}, as the search's retraining; with --like: that search's)")
    p.add_argument("--like", metavar="SEARCH_METRICS_JSON", default=None,
                   help="random-search: the metrics.json of an lpgnas search run, whose configuration (space, "
                        "objective, data, seed, retraining) and sampling budget random search takes (default: none)")
    p.add_argument("--budget-seconds", type=float, default=None,
                   help="random-search: seconds of sampling (default: the --like run's sampling budget; needed "
                        "without --like)")
    add_torch_device_argument(p)
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.set_defaults(func=_run)


#: the options of the configuration, as (option, SearchConfig field): --like's run sets the first four (an
#: explicit option must agree: the same data and objective), its retraining the last two unless given
_CONFIG_OPTIONS = (("dataset", "dataset"), ("split", "split"), ("seed", "seed"), ("device", "device"),
                   ("epochs", "retrain_epochs"), ("patience", "retrain_patience"))
_LIKE_FIELDS = _CONFIG_OPTIONS[:4]


def _read_search_metrics(path: str) -> dict[str, Any]:
    """The metrics.json of an ``lpgnas search`` run (an LpgnasError naming the file for anything else)."""
    p = Path(path)
    if not p.is_file():
        raise LpgnasError(f"--like {path}: no such file; give the metrics.json of an lpgnas search run")
    try:
        metrics = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise LpgnasError(f"--like {path}: not valid JSON ({e}); give the metrics.json of an lpgnas search run") \
            from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("config"), dict):
        raise LpgnasError(f"--like {path}: records no search configuration; give the metrics.json of an lpgnas "
                          "search run")
    return metrics


def _like_config(args: argparse.Namespace) -> tuple[SearchConfig, float]:
    """The configuration and sampling budget of the --like search run (--epochs, --patience and
    --budget-seconds override its retraining and budget); an error for an explicit dataset, split, seed or
    device that contradicts it."""
    from lpgnas.datasets import canonical_name, default_split
    from lpgnas.search.baselines import sampling_budget_seconds

    metrics = _read_search_metrics(args.like)
    try:
        cfg = SearchConfig(**metrics["config"])
    except TypeError as e:
        raise LpgnasError(f"--like {args.like}: its configuration is not one this lpgnas reads ({e})") from None
    budget = sampling_budget_seconds(metrics) if args.budget_seconds is None else args.budget_seconds
    for option, field in _LIKE_FIELDS:
        given, recorded = getattr(args, option), getattr(cfg, field)
        if option == "dataset" and given is not None:
            given, recorded = canonical_name(given), canonical_name(recorded)
        if option == "split" and given is not None:
            recorded = recorded or default_split(cfg.dataset)
        if given is not None and given != recorded:
            raise LpgnasError(f"--{option} {given} contradicts --like {args.like} ({recorded}); leave --{option} "
                              "out (the search's value is used) or give another run's metrics")
    retraining = {field: getattr(args, option) for option, field in _CONFIG_OPTIONS[4:]
                  if getattr(args, option) is not None}
    return replace(cfg, **retraining), budget


def _options_config(args: argparse.Namespace) -> SearchConfig:
    """The configuration from the command's options (defaults: SearchConfig's)."""
    given = {field: getattr(args, option) for option, field in _CONFIG_OPTIONS if getattr(args, option) is not None}
    return SearchConfig(**given)


def _run(args: argparse.Namespace) -> int:
    from lpgnas.devices import load_device
    from lpgnas.fileio import folder_lock, write_json_atomic
    from lpgnas.search.baselines import RANDOM_SEARCH, parse_baseline, run_baseline
    from lpgnas.search.config import load_search_data
    from lpgnas.search.torch_device import data_on, resolve_torch_device

    baseline = parse_baseline(args.method)
    sampled = baseline.kind == RANDOM_SEARCH
    if not sampled and (args.like is not None or args.budget_seconds is not None):
        raise LpgnasError(f"--like and --budget-seconds are options of random-search, not of {baseline.name}; "
                          "leave them out")
    if sampled and args.like is None and args.budget_seconds is None:
        raise LpgnasError("random-search needs a sampling budget: --like RUN/metrics.json of an lpgnas search "
                          "run, or --budget-seconds S")
    if args.budget_seconds is not None and not (math.isfinite(args.budget_seconds) and args.budget_seconds >= 0):
        raise LpgnasError(f"--budget-seconds {args.budget_seconds} must be a number >= 0")
    device = resolve_torch_device(args.torch_device)
    if args.like is not None:
        cfg, budget = _like_config(args)
    else:
        cfg, budget = _options_config(args), args.budget_seconds
    if cfg.retrain_epochs < 1 or cfg.retrain_patience < 0:
        raise LpgnasError(f"--epochs {cfg.retrain_epochs} must be >= 1 and --patience {cfg.retrain_patience} >= 0 "
                          "(0: no early stop)")
    cfg.check()
    load_device(cfg.device)  # an unknown device fails now, not after the training
    data = data_on(load_search_data(cfg, args.data_root), device)
    out = Path(args.out)
    with folder_lock(out):  # created only now that the options and the data checked out
        result = run_baseline(baseline, data, cfg, cfg.retrain_epochs, cfg.retrain_patience, budget,
                              out if baseline.kind != "float" else None)
        metrics = {**result, "dataset": data.name, "split": data.split, "seed": cfg.seed, "device": cfg.device,
                   "torch_device": str(device)}
        write_json_atomic(out / "metrics.json", metrics)
    kind = "float model" if baseline.kind == "float" else "golden"
    print(f"{baseline.name}: test accuracy {metrics['test_accuracy']:.4f} ({kind}), model "
          f"{metrics['model_size_kib']:.1f} KiB")
    written = [out / "metrics.json"] + ([out / "model.ir.json"] if baseline.kind != "float" else [])
    print("wrote " + " and ".join(str(p) for p in written))
    return 0
