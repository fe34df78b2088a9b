"""``lpgnas export RUN``: one point of a search's fronts (``RUN/pareto.json``), for ``lpgnas generate``."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from lpgnas.errors import LpgnasError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lpgnas export``."""
    p = sub.add_parser(
        "export", help="pick a point of a search's Pareto fronts (accuracy against latency / model size)",
        description=(
            "Show the fronts of a search run (RUN/pareto.json: the trained designs no other design beats on "
            "validation accuracy at lower latency on the run's device, or at a smaller model), or pick one point: "
            "--point K, or the most accurate on validation within --max-latency-us and / or --max-kib. With -o "
            "the point's IR (model.ir.json + .npz), its accelerator (hw_config.json: the parallelism the "
            "design-space exploration chose for the whole graph) and its record (point.json) are written to a "
            "new folder. Example: lpgnas export runs/search --max-latency-us 2000 -o runs/fast && lpgnas "
            "generate runs/fast/model.ir.json --hw runs/fast/hw_config.json --full -o runs/fast/hw"
        ),
    )
    p.add_argument("run", metavar="RUN", help="an lpgnas search run folder (holding pareto.json)")
    add_pick_arguments(p, "the front point K of pareto.json (default: none; with no point and no limit the "
                          "fronts are listed)")
    p.add_argument("-o", "--out", default=None,
                   help="new folder for the point's IR, hw_config.json and point.json (default: none, only print "
                        "the point)")
    p.set_defaults(func=run_export)


def add_pick_arguments(p: argparse.ArgumentParser, point_help: str) -> None:
    """``--point`` (with ``point_help``), ``--max-latency-us`` and ``--max-kib``: how a front point is picked
    (``pick_point``), for ``lpgnas export`` and ``lpgnas flow``."""
    p.add_argument("--point", type=int, default=None, help=point_help)
    p.add_argument("--max-latency-us", type=float, default=None,
                   help="the most accurate front point (validation) with at most this latency on the run's device "
                        "(default: no limit)")
    p.add_argument("--max-kib", type=float, default=None,
                   help="the most accurate front point (validation) with at most this model size in KiB (default: "
                        "no limit)")


def read_pareto(run: str | Path) -> dict[str, Any]:
    """``RUN/pareto.json`` (an LpgnasError naming the problem and the fix otherwise)."""
    path = Path(run) / "pareto.json"
    if not path.is_file():
        raise LpgnasError(f"{path}: no such file; give the folder of an lpgnas search run (one made by this "
                          "version: older searches wrote no fronts)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise LpgnasError(f"{path}: not valid JSON ({e}); rerun the search into a new folder") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list) or not doc["points"]:
        raise LpgnasError(f"{path}: holds no front points; rerun the search into a new folder")
    return doc


def pick_point(doc: dict[str, Any], point: int | None, max_latency_us: float | None,
               max_kib: float | None) -> dict[str, Any]:
    """The point ``point``, or the most accurate on validation within the limits (ties: faster, then
    smaller)."""
    points = doc["points"]
    if point is not None:
        if max_latency_us is not None or max_kib is not None:
            raise LpgnasError("--point picks one point; leave out --max-latency-us and --max-kib")
        if not 0 <= point < len(points):
            raise LpgnasError(f"--point {point}: the fronts have points 0..{len(points) - 1}")
        return points[point]
    for flag, limit in (("--max-latency-us", max_latency_us), ("--max-kib", max_kib)):
        if limit is not None and not (math.isfinite(limit) and limit > 0):
            raise LpgnasError(f"{flag} {limit} must be a positive number")
    within = [p for p in points if (max_latency_us is None or p["latency_us"] <= max_latency_us)
              and (max_kib is None or p["model_size_kib"] <= max_kib)]
    if not within:
        fastest = min(points, key=lambda p: p["latency_us"])
        smallest = min(points, key=lambda p: p["model_size_kib"])
        raise LpgnasError(
            f"no front point is within {_limits(max_latency_us, max_kib)}; the fastest is point {fastest['point']} "
            f"({fastest['latency_us']:.1f} us), the smallest point {smallest['point']} "
            f"({smallest['model_size_kib']:.3f} KiB): raise the limit")
    return max(within, key=lambda p: (p["val_accuracy"], -p["latency_us"], -p["model_size_kib"]))


def _limits(max_latency_us: float | None, max_kib: float | None) -> str:
    parts = ([f"{max_latency_us:g} us"] if max_latency_us is not None else []) + \
        ([f"{max_kib:g} KiB"] if max_kib is not None else [])
    return " and ".join(parts)


def front_table(doc: dict[str, Any]) -> str:
    """The front points, one line each."""
    lines = [f"fronts of {doc['dataset']} ({doc['split']}) on {doc['device']}: {len(doc['points'])} points",
             f"{'K':>3} {'val':>6} {'test':>6} {'KiB':>8} {'latency us':>11} {'LUT':>7} {'DSP':>5} "
             f"{'BRAM36':>7}  fronts"]
    for p in doc["points"]:
        mark = " (shipped: RUN/model.ir.json)" if p.get("shipped") else ""
        lines.append(f"{p['point']:>3} {p['val_accuracy']:>6.3f} {p['test_accuracy_golden']:>6.3f} "
                     f"{p['model_size_kib']:>8.3f} {p['latency_us']:>11.1f} {p['lut']:>7} {p['dsp']:>5} "
                     f"{p['bram36']:>7}  {','.join(p['fronts'])}{mark}")
    return "\n".join(lines)


def run_export(args: argparse.Namespace) -> int:
    from lpgnas.fileio import write_json_atomic
    from lpgnas.hwconfig import HardwareConfig
    from lpgnas.ir import load_ir

    doc = read_pareto(args.run)
    if args.point is None and args.max_latency_us is None and args.max_kib is None:
        if args.out is not None:
            raise LpgnasError("-o needs a point: give --point K, --max-latency-us or --max-kib")
        print(front_table(doc))
        return 0
    point = pick_point(doc, args.point, args.max_latency_us, args.max_kib)
    ir_path = Path(args.run) / point["ir"]
    ir = load_ir(ir_path)
    hw = HardwareConfig.from_dict(point["hardware_config"]).check(ir)
    print(f"point {point['point']}: validation {point['val_accuracy']:.4f}, golden test "
          f"{point['test_accuracy_golden']:.4f}, {point['model_size_kib']:.3f} KiB, {point['latency_us']:.1f} us on "
          f"{doc['device']} (LUT {point['lut']}, DSP {point['dsp']}, BRAM36 {point['bram36']})")
    if args.out is None:
        print(f"its IR: {ir_path}")
        return 0
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LpgnasError(f"-o {out}: exists and is not an empty folder; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    ir.save(out / "model.ir.json")
    hw.save(out / "hw_config.json")
    write_json_atomic(out / "point.json", {"run": str(Path(args.run).resolve()), "device": doc["device"],
                                           "dataset": doc["dataset"], "split": doc["split"], **point})
    print(f"wrote {out / 'model.ir.json'}, {out / 'hw_config.json'} and {out / 'point.json'}; next: lpgnas generate "
          f"{out / 'model.ir.json'} --hw {out / 'hw_config.json'} --full -o {out / 'hw'}")
    return 0
