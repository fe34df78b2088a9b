"""The fronts of one search: validation accuracy against latency on the device, and against model size.

Every trained candidate of the run (screenings and retrainings) is a design point: its IR, its model size,
and the design-space exploration's accelerator on the run's device (``hw_model.dse.explore``: the best
parallelism that fits, the latency at it, LUT / DSP / BRAM). A point is on a front when no other point is
at most as costly and at least as accurate on validation, and better in one. ``RUN/pareto.json`` lists the
front points (the union of both fronts, with their golden test accuracy and IR under ``RUN/front/``) and
every design considered. docs/search.md (Fronts) explains the choices.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from lpgnas.errors import HardwareFitError, LpgnasError
from lpgnas.fileio import write_json_atomic
from lpgnas.golden import predict, quantize_features
from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.dse import explore
from lpgnas.ir import ModelIR
from lpgnas.search.cost import KIB, model_size_bits
from lpgnas.search.quant_gnn import export_ir
from lpgnas.sparse import nonzero_histogram

PARETO_FILE = "pareto.json"
FRONT_DIR = "front"
#: the fronts: name -> the cost a point's accuracy is traded against (lower is better)
FRONT_COSTS: dict[str, str] = {"latency": "latency_us", "size": "model_size_kib"}


def best_parallelism(ir: ModelIR, num_nodes: int, num_edges: int, device: str, features: Any = None) -> dict[str, Any]:
    """The DSE's accelerator for ``ir`` on ``device``, buffers sized for the whole graph (what ``lpgnas generate
    --full`` builds): latency, cycles, LUT (incl. LUTRAM), FF, DSP, BRAM36 and the hardware config; or
    ``fits: False`` with the reason when even the smallest design does not fit. ``features``: the graph's
    (preprocessed) input features; with them the DSE also tries layer 0's sparse read, on their codes."""
    hist = None if features is None else nonzero_histogram(quantize_features(ir, np.asarray(features)))
    try:
        hw, est = explore(ir, (num_nodes, num_edges), device, feature_nonzeros=hist)
    except HardwareFitError as err:
        return {"fits": False, "why": str(err)}
    t = {k: nm.to_float(v) for k, v in est.totals().items()}
    return {"fits": True, "latency_us": round(t["latency_us"], 3), "cycles": round(t["cycles"]),
            "lut": round(t["lut_total"]), "ff": round(t["ff"]), "dsp": round(t["dsp"]),
            "bram36": round(t["bram36_equiv"], 1), "hardware_config": hw.to_dict()}


def non_dominated(points: Sequence[dict[str, Any]], cost: str, accuracy: str = "val_accuracy",
                  tiebreak: str | None = None) -> list[int]:
    """Indices of the points that no other point dominates on (``cost`` lower, ``accuracy`` higher), in order
    of cost; of points equal on both, the one lowest in ``tiebreak`` (another cost), then the first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][cost], -points[i][accuracy],
                                                      points[i][tiebreak] if tiebreak else 0, i))
    front, best = [], -math.inf
    for i in order:
        if points[i][accuracy] > best:
            front.append(i)
            best = points[i][accuracy]
    return front


def hypervolume(points: Sequence[tuple[float, float]], ref_cost: float, ref_accuracy: float = 0.0) -> float:
    """Area of the (cost, accuracy) region the points dominate, bounded by ``cost <= ref_cost`` and
    ``accuracy >= ref_accuracy`` (costs as given: pass logarithms for a log-scale area). Between two
    consecutive costs the height is the best accuracy of the points at most that costly."""
    pts = sorted((c, a) for c, a in points if c <= ref_cost and a > ref_accuracy)
    area, best = 0.0, ref_accuracy
    for (c, a), nxt in zip(pts, [c for c, _ in pts[1:]] + [ref_cost]):  # noqa: B905 (one more bound)
        best = max(best, a)
        area += (nxt - c) * (best - ref_accuracy)
    return area


def write_fronts(cfg: Any, data: Any, g: Any, trainings: Sequence[dict[str, Any]], out: Path, name: str,
                 shipped: tuple[int, str]) -> dict[str, Any]:
    """The run's fronts from its trained models into ``out/pareto.json`` and ``out/front/point<K>.ir.json``.

    ``cfg``, ``data``, ``g``: the run's ``SearchConfig``, ``Dataset`` and ``GraphTensors`` (a search's or a
    random search's); ``trainings``: every trained model, each a dict of
    ``model``, ``record`` (the candidate's, ``search.selection.train_candidate``) and ``training``
    (``screen`` / ``final``). Of a design's trainings the best-validated one stands for it (ties: the
    retraining). ``shipped``: the (candidate, training) that ``RUN/model.ir.json`` holds. Returns the
    summary that ``metrics.json`` carries (counts, and the shipped model's figures)."""
    designs: dict[str, dict[str, Any]] = {}
    for t in trainings:
        key = json.dumps(t["record"]["architecture"], sort_keys=True)
        rank = (t["record"]["val_accuracy"], t["training"] == "final", -t["record"]["index"])
        if key not in designs or rank > designs[key]["rank"]:
            designs[key] = {**t, "rank": rank}
    n, e, csr = g.csr.num_nodes, g.csr.num_edges, g.csr
    points, irs = [], []
    # in order of preference among equal points: the shipped model, retrainings, then by candidate
    preference = lambda d: ((d["record"]["index"], d["training"]) != shipped, d["training"] != "final",  # noqa: E731
                            d["record"]["index"])
    for d in sorted(designs.values(), key=preference):
        rec = d["record"]
        ir = export_ir(d["model"], f"{name}-c{rec['index']}-{d['training']}",
                       metadata={"search_config": asdict(cfg), "architecture": rec["architecture"],
                                 "candidate": rec["index"], "training": d["training"]})
        points.append({"candidate": rec["index"], "training": d["training"], "origin": rec.get("origin"),
                       "shipped": (rec["index"], d["training"]) == shipped,
                       "architecture": rec["architecture"], "val_accuracy": rec["val_accuracy"],
                       "model_size_kib": round(model_size_bits(ir) / KIB, 3),
                       **best_parallelism(ir, n, e, cfg.device, data.x.cpu().numpy())})
        irs.append(ir)
    fitting = [i for i, p in enumerate(points) if p["fits"]]
    other = {f: next(c for g, c in FRONT_COSTS.items() if g != f) for f in FRONT_COSTS}
    fronts = {f: [fitting[j] for j in non_dominated([points[i] for i in fitting], cost, tiebreak=other[f])]
              for f, cost in FRONT_COSTS.items()}
    on_front = sorted(set().union(*fronts.values()), key=lambda i: (points[i].get("latency_us", 0.0), i))
    x, y = data.x.cpu().numpy(), data.y.cpu().numpy()
    masks = {split: getattr(data, f"{split}_mask").cpu().numpy() for split in ("val", "test")}
    folder, staging = out / FRONT_DIR, out / f".{FRONT_DIR}.partial"
    _remove_own(staging)
    front_points = []
    for k, i in enumerate(on_front):
        pred = predict(irs[i], csr, x)
        golden = {split: float((pred[m] == y[m]).mean()) for split, m in masks.items()}
        if abs(golden["val"] - points[i]["val_accuracy"]) > 1e-12:
            raise LpgnasError(f"candidate {points[i]['candidate']}: the golden model's validation accuracy "
                              f"{golden['val']} differs from the trained model's {points[i]['val_accuracy']} (a bug)")
        irs[i].save(staging / f"point{k}.ir.json")
        front_points.append({"point": k, "ir": f"{FRONT_DIR}/point{k}.ir.json", **points[i],
                             "test_accuracy_golden": golden["test"],
                             "fronts": [f for f in FRONT_COSTS if i in fronts[f]]})
    _remove_own(folder)
    if staging.exists():
        staging.rename(folder)
    doc = {"dataset": data.name, "split": data.split, "device": cfg.device, "num_nodes": n, "num_edges": e,
           "costs": FRONT_COSTS, "points": front_points,
           "fronts": {f: [on_front.index(i) for i in idx] for f, idx in fronts.items()},
           "designs": [{k: v for k, v in p.items() if k not in ("architecture", "hardware_config")} for p in points]}
    write_json_atomic(out / PARETO_FILE, doc)
    shipped_point = next(p for p in points if p["shipped"])
    return {"points": len(front_points), "designs": len(points), "fitting": len(fitting),
            **{f"{f}_front": len(idx) for f, idx in fronts.items()},
            "shipped": {k: v for k, v in shipped_point.items() if k not in ("architecture", "origin", "shipped")}}


def _remove_own(folder: Path) -> None:
    """Remove a fronts folder this module wrote (its files are ``point<K>.ir.json`` / ``.ir.npz`` only)."""
    if folder.is_symlink():
        raise LpgnasError(f"{folder} is a link lpgnas did not make; remove it and rerun")
    if not folder.exists():
        return
    files = list(folder.iterdir())
    if any(not (f.is_file() and f.name.startswith("point") and f.name.endswith((".ir.json", ".ir.npz")))
           for f in files):
        raise LpgnasError(f"{folder} holds files lpgnas did not write there; move them away and rerun")
    for f in files:
        f.unlink()
    folder.rmdir()
