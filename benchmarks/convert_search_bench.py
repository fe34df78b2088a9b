"""How the search benchmark's figures came over into a sweep: the run files of the retired
``benchmarks/search_bench.py`` (``benchmarks/results/search_runs/<config>__<method>__s<seed>.json``, in the git
history) as the run records of ``benchmarks/specs/search_bench.toml``'s points in
``benchmarks/results/search_bench/``.

    python benchmarks/convert_search_bench.py [--runs benchmarks/results/search_runs]

Each run file becomes ``runs/<point>/result.json`` of the point with its method, dataset, split, device and
seed, with the summary the sweep's method writes, its commit, wall time and end, and ``converted_from``.
A run is converted only if the settings it ran with equal the point's: search_bench.py recorded none but the
configuration's name, so they are read from the code at the run's commit (``SearchConfig``'s defaults and
search_bench.py's option defaults) and compared with the point's options over today's defaults; for a random
search also its budget against its LPGNAS run's sampling budget. Mismatched and unmatched runs are listed
and left out. Then ``results.json`` is rebuilt, so that ``lpgnas sweep`` sees the converted points as ended.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SPEC = Path("benchmarks/specs/search_bench.toml")  # relative to REPO: results.json names it so
SWEEP = REPO / "benchmarks" / "results" / "search_bench"

#: search_bench.py's configurations (dataset, split, device)
CONFIGS: dict[str, tuple[str, str, str]] = {
    "cora-public": ("Cora", "public", "xc7z020"),
    "citeseer-public": ("CiteSeer", "public", "xc7z020"),
    "cora-random": ("Cora", "random-60-20-20", "xc7z020"),
    "pubmed-public": ("PubMed", "public", "xc7z020"),
    "citeseer-random": ("CiteSeer", "random-60-20-20", "xc7z020"),
    "pubmed-random": ("PubMed", "random-60-20-20", "xc7z020"),
    "computers-random": ("Computers", "random-60-20-20", "xc7z020"),
    "photo-random": ("Photo", "random-60-20-20", "xc7z020"),
    "cs-random": ("CS", "random-60-20-20", "xczu7ev"),
    "physics-random": ("Physics", "random-60-20-20", "xczu7ev"),
    "pubmed-public-xczu7ev": ("PubMed", "public", "xczu7ev"),
}
#: what an LPGNAS run file holds of the search's summary (search_bench.py's run_lpgnas)
SEARCH_KEYS = ("test_accuracy", "test_accuracy_float", "val_accuracy", "model_size_kib", "buffer_size_kib",
               "hardware", "architecture", "search_seconds", "retrain_seconds", "candidate_seconds", "candidates",
               "sampling_budget_seconds", "total_seconds", "float_gcn16_model_size_kib", "resumed_from_epoch",
               "chosen_training", "descends_from")
#: the settings a float or uniformly quantised baseline depends on
BASELINE_FIELDS = ("dataset", "split", "seed", "device", "retrain_epochs", "retrain_patience", "features")


def _git_show(commit: str, path: str) -> str | None:
    proc = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None


@cache
def settings_at(commit: str) -> dict[str, Any]:
    """The search settings search_bench.py ran with at ``commit``: ``SearchConfig``'s defaults there, with
    search_bench.py's own option defaults and its fixed ``checkpoint_every=10`` over them."""
    for path in ("search/config.py", "search/nas.py"):
        text = _git_show(commit, path)
        if text and "class SearchConfig" in text:
            body = text.split("class SearchConfig", 1)[1].split("\n    def ", 1)[0]
            fields = {k: ast.literal_eval(v) for k, v in re.findall(r"^    (\w+): [^=\n]+= (.+)$", body, re.M)}
            break
    else:
        raise SystemExit(f"no SearchConfig at commit {commit}")
    bench = _git_show(commit, "benchmarks/search_bench.py") or ""
    for option, dest, value in re.findall(r'add_argument\("--([\w-]+)"(?:, dest="(\w+)")?[^)]*?default=([^,)\n]+)',
                                          bench, re.S):
        field = dest or option.replace("-", "_")
        if field in fields and not value.startswith("d."):
            fields[field] = ast.literal_eval(value)
    if fields.get("budget_kib") == "none":
        fields["budget_kib"] = None
    return fields | {"checkpoint_every": 10}


def today(options: dict[str, Any]) -> dict[str, Any]:
    """The settings of a point with ``options`` under today's ``SearchConfig`` defaults."""
    from lpgnas.search.config import SearchConfig

    given = {("lam" if k == "lambda" else k.replace("-", "_")): v for k, v in options.items()}
    return dataclasses.asdict(dataclasses.replace(SearchConfig(), **given))


def features(fields: dict[str, Any], dataset: str) -> str:
    """The feature preprocessing a configuration means on ``dataset`` (before ``features`` there was
    ``normalize_features``: row-normalised or raw, on every dataset)."""
    from lpgnas.datasets import resolve_feature_mode

    if "normalize_features" in fields:
        return "row" if fields["normalize_features"] else "raw"
    return resolve_feature_mode(fields["features"], dataset)


def mismatches(run: dict[str, Any], options: dict[str, Any], fields: tuple[str, ...] | None) -> list[str]:
    """What differs between the settings ``run`` ran with and a point's ``options`` (over ``fields``, or all)."""
    then, now = dict(settings_at(run["commit"])), today(options)
    then |= {"dataset": run["dataset"], "split": run["split"], "seed": run["seed"],
             "device": CONFIGS[run["config"]][2]}
    then["features"], now["features"] = features(then, run["dataset"]), features(now, run["dataset"])
    then.pop("normalize_features", None)
    keys = fields or sorted(set(then) | set(now))
    return [f"{k}: ran with {then.get(k, '(no such setting)')!r}, the point has {now.get(k, '(no such setting)')!r}"
            for k in keys if then.get(k) != now.get(k)]


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """The run's figures as the sweep method's summary."""
    if run["method"] == "lpgnas":
        return {k: run[k] for k in SEARCH_KEYS}
    import tempfile

    from lpgnas.sweep.methods import summarise_baseline

    with tempfile.TemporaryDirectory() as tmp:  # the baseline's metrics.json, read as the sweep reads it
        metrics = {k: v for k, v in run.items() if k != "config"}
        (Path(tmp) / "metrics.json").write_text(json.dumps(metrics))
        return summarise_baseline(Path(tmp))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=Path, default=REPO / "benchmarks" / "results" / "search_runs",
                   help="the folder of search_bench.py's run files")
    args = p.parse_args(argv)
    runs_dir = args.runs.resolve()
    runs = {f: json.loads(f.read_text()) for f in sorted(runs_dir.glob("*.json"))}
    if not runs:
        p.error(f"no run files in {runs_dir}; they are in the git history (git checkout <commit>^ -- "
                "benchmarks/results/search_runs, <commit> being the one that removed them)")
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    from lpgnas.fileio import write_json_atomic, write_text_atomic
    from lpgnas.sweep.runner import RESULT, RUNS, TOKEN, read_records, write_results
    from lpgnas.sweep.spec import load_spec

    spec = load_spec(SPEC)
    points = {(q.method, q.options["dataset"], q.options["split"], q.options["device"], q.options["seed"]): q
              for q in spec.points}
    lpgnas_runs = {(r["config"], r["seed"]): r for r in runs.values() if r["method"] == "lpgnas"}
    converted, mismatched, unmatched = [], [], []
    SWEEP.mkdir(parents=True, exist_ok=True)
    if not (SWEEP / TOKEN).is_file():
        write_text_atomic(SWEEP / TOKEN, secrets.token_hex(16) + "\n")
    for path, run in runs.items():
        name = f"benchmarks/results/search_runs/{path.name}"  # where search_bench.py wrote it (git history)
        dataset, split, device = CONFIGS[run["config"]]
        point = points.get((run["method"], dataset, split, device, run["seed"]))
        if point is None or (run["dataset"], run["split"]) != (dataset, split):
            unmatched.append(f"{name}: no point of the spec has its method, dataset, split, device and seed")
            continue
        if run["method"] == "random-search":
            reference = next(q for q in spec.points if q.id == spec.references[point.id])
            problems = mismatches(run, reference.options, None)
            budget = lpgnas_runs[(run["config"], run["seed"])]["sampling_budget_seconds"]
            if run["budget_seconds"] != round(budget, 1):  # random_search records it to 0.1 s
                problems.append(f"budget_seconds {run['budget_seconds']} is not its LPGNAS run's sampling budget "
                                f"{budget}")
        else:
            problems = mismatches(run, point.options, None if run["method"] == "lpgnas" else BASELINE_FIELDS)
        if problems:
            mismatched.append(f"{name} ({point.id}): " + "; ".join(problems))
            continue
        failed = "error" in run
        finished = time.strptime(run["finished"], "%Y-%m-%d %H:%M:%S")
        write_json_atomic(SWEEP / RUNS / point.id / RESULT, {
            **point.to_dict(), "status": "failed" if failed else "ok", "exit_status": None if failed else 0,
            "error": run.get("error"), "result": {} if failed else summary(run), "attempts": 1, "host": None,
            "seconds": run["wall_seconds"], "finished": time.strftime("%Y-%m-%dT%H:%M:%S", finished),
            "torch_threads": None, "code": {"lpgnas": None, "commit": run["commit"]}, "commands": None,
            "converted_from": name,
        })
        converted.append(point.id)
    doc = write_results(SWEEP, spec, read_records(SWEEP))
    print(f"{len(runs)} run files: {len(converted)} converted, {len(mismatched)} mismatched, "
          f"{len(unmatched)} unmatched; results.json: {doc['counts']} of {doc['points_in_spec']} points")
    for line in mismatched + unmatched:
        print(f"  left out: {line}")
    return 1 if mismatched or unmatched else 0


if __name__ == "__main__":
    sys.exit(main())
