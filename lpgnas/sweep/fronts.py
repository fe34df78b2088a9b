"""The fronts section of ``lpgnas sweep report``: per row (dataset, split, device) golden test accuracy against
the DSE's latency for the latency fronts (the searches', random search's) and the other baselines' points,
their hypervolumes, the speed-up at the W8A8 GCN's accuracy minus 1 point, the dominance check and the
bitwidths along the fronts.

docs/sweep.md (Fronts) states the choices (reference point, tolerance, latency bands).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpgnas.errors import LpgnasError
from lpgnas.search.pareto import hypervolume
from lpgnas.sweep.methods import OUT, latency_front
from lpgnas.sweep.panels import MARKS, finish_panels, log_panel, panel_grid
from lpgnas.sweep.runner import RUNS
from lpgnas.sweep.stats import mean_std, mean_std_text

#: the uniform baseline the speed-up is measured against
REFERENCE_BASELINE = "gcn-w8a8"
#: the accuracy (fraction) the speed-up's design may lose against :data:`REFERENCE_BASELINE`
SPEEDUP_TOLERANCE = 0.01
#: the hypervolume's reference point: the row's largest latency times this, its lowest accuracy minus this
HV_LATENCY_MARGIN = 1.1
HV_ACCURACY_MARGIN = 0.01


@dataclass
class Row:
    """The latency-accuracy points of one (dataset, split, device): per method with fronts and seed its latency
    front, per baseline and seed its point."""

    key: tuple[str, str, str]
    fronts: dict[str, dict[Any, list[dict[str, Any]]]] = field(default_factory=lambda: defaultdict(dict))
    baselines: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))

    def all_points(self) -> list[dict[str, Any]]:
        return ([p for seeds in self.fronts.values() for front in seeds.values() for p in front]
                + [p for seeds in self.baselines.values() for p in seeds.values()])

    def reference(self) -> tuple[float, float]:
        """The hypervolume's reference point (log10 latency, accuracy), the same for every method of the row."""
        pts = self.all_points()
        return (math.log10(max(p["latency_us"] for p in pts) * HV_LATENCY_MARGIN),
                min(p["test_accuracy"] for p in pts) - HV_ACCURACY_MARGIN)


def is_uniform(name: str) -> bool:
    """A uniformly quantised baseline (``<arch>-w<W>a<A>``)."""
    from lpgnas.search.baselines import parse_baseline

    try:
        return parse_baseline(name).kind == "quantised"
    except LpgnasError:
        return False


def rows(records: list[dict[str, Any]], sweep: Path | None = None) -> list[Row]:
    """The rows with any latency point, in the order their points first appear. A run with a latency front
    (a search's, random search's) adds its front: its record's ``latency_front`` or, for results summarised
    before it was kept, its run folder's ``pareto.json``; any other run with an accelerator that fits, its
    point."""
    out: dict[tuple[str, str, str], Row] = {}
    for r in records:
        if r["status"] != "ok":
            continue
        key = tuple(str(r["options"].get(k, "-")) for k in ("dataset", "split", "device"))
        seed, result = r["options"].get("seed"), r["result"]
        front = result.get("latency_front")
        if front is None and sweep is not None:
            front = latency_front(sweep / RUNS / r["point"] / OUT)
        if front:
            out.setdefault(key, Row(key)).fronts[r["method"]][seed] = front
        else:
            acc = result.get("accelerator") or {}
            if acc.get("fits") and result.get("test_accuracy") is not None:
                out.setdefault(key, Row(key)).baselines[r["method"]][seed] = {
                    "latency_us": acc["latency_us"], "test_accuracy": result["test_accuracy"]}
    return list(out.values())


def front_hypervolume(points: list[dict[str, Any]], ref: tuple[float, float]) -> float:
    """Hypervolume of ``points`` (latency_us, test_accuracy) on log10 latency against ``ref``, in accuracy
    points (%) times decades of latency."""
    return 100 * hypervolume([(math.log10(p["latency_us"]), p["test_accuracy"]) for p in points], *ref)


def hypervolumes(row: Row) -> dict[str, list[float]]:
    """Per method with fronts its hypervolumes (one per seed), and under ``uniform baselines`` the
    hypervolume of the union of the uniform baselines' points of each seed."""
    ref = row.reference()
    out = {m: [front_hypervolume(front, ref) for front in seeds.values()] for m, seeds in row.fronts.items()}
    by_seed: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for name, seeds in row.baselines.items():
        if is_uniform(name):
            for seed, p in seeds.items():
                by_seed[seed].append(p)
    if by_seed:
        out["uniform baselines"] = [front_hypervolume(pts, ref) for pts in by_seed.values()]
    return out


def speedups(row: Row) -> dict[str, tuple[list[float], int]] | None:
    """Per method with fronts, per seed: :data:`REFERENCE_BASELINE`'s mean latency over the latency of the fastest
    front point with a test accuracy at least its mean accuracy minus :data:`SPEEDUP_TOLERANCE`; (the
    speed-ups of the seeds that have such a point, the number of seeds). None without that baseline."""
    ref = row.baselines.get(REFERENCE_BASELINE)
    if not ref:
        return None
    latency = statistics.mean(p["latency_us"] for p in ref.values())
    wanted = statistics.mean(p["test_accuracy"] for p in ref.values()) - SPEEDUP_TOLERANCE
    out = {}
    for m, seeds in row.fronts.items():
        found = [min(p["latency_us"] for p in front if p["test_accuracy"] >= wanted)
                 for front in seeds.values() if any(p["test_accuracy"] >= wanted for p in front)]
        out[m] = ([latency / f for f in found], len(seeds))
    return out


def dominance(row: Row, name: str, seeds: dict[Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Method ``name``'s fronts (``seeds``) against every baseline point of the row. Per seed the front's
    accuracy at the baseline's mean latency: its best point at most that slow, or, where the baseline is faster
    than the whole front, the front's fastest point. The baseline beats the front when its mean accuracy exceeds
    the mean of those by more than the seeds' std (the larger of the baseline's and the front's)."""
    out = []
    for b, points in row.baselines.items():
        latency = statistics.mean(p["latency_us"] for p in points.values())
        acc, acc_std = mean_std([p["test_accuracy"] for p in points.values()])
        at, faster = [], False
        for front in seeds.values():
            reach = [p["test_accuracy"] for p in front if p["latency_us"] <= latency]
            if not reach:
                faster = True
                reach = [min(front, key=lambda p: p["latency_us"])["test_accuracy"]]
            at.append(max(reach))
        front_acc, front_std = mean_std(at)
        out.append({"method": name, "baseline": b, "latency_us": latency, "accuracy": acc, "accuracy_std": acc_std,
                    "front_accuracy": front_acc, "front_std": front_std, "faster_than_front": faster,
                    "beats_front": acc - front_acc > max(acc_std, front_std)})
    return out


def _band(latency_us: float) -> str:
    """The decade of latency (µs) a point lies in: ``10-100``."""
    lo = 10 ** math.floor(math.log10(latency_us))
    return f"{lo:g}-{10 * lo:g}"


def bit_bands(row: Row) -> list[list[str]]:
    """Per method with fronts and decade of latency: the front points, their mean weight and activation bits per
    layer, and the most frequent per-layer bitwidths."""
    out = []
    for m, seeds in row.fronts.items():
        bands: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for front in seeds.values():
            for p in front:
                bands[_band(p["latency_us"])].append(p)
        for band in sorted(bands, key=lambda b: float(b.split("-")[0])):
            pts = bands[band]
            layers = len(pts[0]["weight_bits"])
            mean_w = " / ".join(f"{statistics.mean(p['weight_bits'][i] for p in pts):.1f}" for i in range(layers))
            mean_a = " / ".join(f"{statistics.mean(p['act_bits'][i] for p in pts):.1f}" for i in range(layers))
            shapes = defaultdict(int)
            for p in pts:
                shapes[_bits_text(p)] += 1
            common = ", ".join(f"{s}: {n}" for s, n in sorted(shapes.items(), key=lambda kv: -kv[1])[:3])
            out.append([m, band, str(len(pts)), mean_w, mean_a, common])
    return out


def _bits_text(p: dict[str, Any]) -> str:
    """``W4/2 A8/8``: the per-layer weight and activation bits of a front point."""
    return f"W{'/'.join(map(str, p['weight_bits']))} A{'/'.join(map(str, p['act_bits']))}"


def _row_title(row: Row) -> str:
    return ", ".join(v for v in row.key if v != "-") or "all"


def markdown(rs: list[Row], plot: Path | None, plots_dir: str) -> list[str]:
    """The report's fronts section (nothing without a latency point)."""
    if not rs:
        return []
    lines = ["", "## Fronts: accuracy against latency", "",
             "Per row: golden test accuracy (the validation-selected models) against the DSE's latency on the "
             "device, for every seed's latency front of a search or random search (`RUN/pareto.json`) and every "
             "other baseline's point (its "
             "accelerator). Hypervolume: on log10 latency, in accuracy points x decades, from a reference point "
             f"shared by a row's methods (its largest latency x {HV_LATENCY_MARGIN}, its lowest accuracy - "
             f"{100 * HV_ACCURACY_MARGIN:g} pt); uniform baselines: the union of the uniformly quantised "
             f"baselines' points of each seed. Speed-up: {REFERENCE_BASELINE}'s mean latency over the fastest "
             f"front point at least as accurate as its mean accuracy - {100 * SPEEDUP_TOLERANCE:g} pt, per seed. "
             "Dominance: a baseline beats a front when it is more accurate than the front at the baseline's "
             "latency (or than the front's fastest point, when faster than the whole front) by more than the "
             "seeds' std.", ""]
    if plot is not None:
        lines += [f"![fronts]({plots_dir}/{plot.name})", ""]
    for row in rs:
        lines += [f"### {_row_title(row)}", ""]
        hv = hypervolumes(row)
        ref = row.reference()
        lines += [f"Hypervolume (reference: {10 ** ref[0]:.1f} µs, {100 * ref[1]:.1f} %):", "",
                  "| method | seeds | hypervolume |", "|---|---|---|"]
        lines += [f"| {m} | {len(v)} | {mean_std_text(v, 1, 3)} |" for m, v in hv.items()]
        sp = speedups(row)
        if sp is not None:
            lines += ["", f"Speed-up over {REFERENCE_BASELINE} at its accuracy - {100 * SPEEDUP_TOLERANCE:g} pt:", "",
                      "| method | seeds with such a point | speed-up |", "|---|---|---|"]
            lines += [f"| {m} | {len(v)} of {n} | {mean_std_text(v, 1, 2)}x |" if v else f"| {m} | 0 of {n} | - |"
                      for m, (v, n) in sp.items()]
        checks = [c for m, seeds in row.fronts.items() for c in dominance(row, m, seeds)]
        if checks:
            beaten = [c for c in checks if c["beats_front"]]
            lines += ["", "Dominance: " + ("no baseline point beats a front (by more than the seeds' "
                                          "std)." if not beaten else
                                          f"**{len(beaten)} baseline point(s) beat a front**."), "",
                      "| method | baseline | latency µs | baseline acc % | front acc % at that latency | verdict |",
                      "|---|---|---|---|---|---|"]
            for c in checks:
                verdict = ("**beats the front**" + (" (faster than the front)" if c["faster_than_front"] else "")
                           if c["beats_front"] else "faster, less accurate" if c["faster_than_front"]
                           else "dominated")
                lines.append(f"| {c['method']} | {c['baseline']} | {c['latency_us']:.1f} | "
                             f"{100 * c['accuracy']:.1f} ± {100 * c['accuracy_std']:.1f} | "
                             f"{100 * c['front_accuracy']:.1f} ± {100 * c['front_std']:.1f} | {verdict} |")
        bands = bit_bands(row)
        if bands:
            lines += ["", "Bitwidths along the fronts, by decade of latency (per layer; activations: the layer's "
                          "input):", "",
                      "| method | latency µs | points | mean weight bits | mean activation bits | most frequent |",
                      "|---|---|---|---|---|---|"]
            lines += ["| " + " | ".join(b) + " |" for b in bands]
        lines += ["", "<details><summary>every point</summary>", "",
                  "| method | seed | latency µs | test acc % | bits |", "|---|---|---|---|---|"]
        for m, seeds in row.fronts.items():
            for seed, front in seeds.items():
                lines += [f"| {m} | {seed} | {p['latency_us']:.1f} | {100 * p['test_accuracy']:.1f} | "
                          f"{_bits_text(p)} |" for p in sorted(front, key=lambda p: p["latency_us"])]
        for b, seeds in row.baselines.items():
            lines += [f"| {b} | {seed} | {p['latency_us']:.1f} | {100 * p['test_accuracy']:.1f} | |"
                      for seed, p in seeds.items()]
        lines += ["", "</details>", ""]
    return lines


def fronts_figure(rs: list[Row]) -> Any:
    """One panel per row: test accuracy against latency (log), each search seed's front as a step line, each
    baseline's mean with std error bars; None without rows."""
    import matplotlib.pyplot as plt

    if not rs:
        return None
    fig, axes = panel_grid(len(rs), 4.4, 3.4)
    names = list(dict.fromkeys([m for r in rs for m in r.fronts] + [b for r in rs for b in r.baselines]))
    cmap = plt.get_cmap("tab20")
    for ax, row in zip(axes.flat, rs, strict=False):
        for m, seeds in row.fronts.items():
            i = names.index(m)
            for k, front in enumerate(seeds.values()):
                pts = sorted(front, key=lambda p: p["latency_us"])
                ax.step([p["latency_us"] for p in pts], [100 * p["test_accuracy"] for p in pts], where="post",
                        color=cmap(i % 20), alpha=0.6, marker=".", label=m if k == 0 else None)
        for b, seeds in row.baselines.items():
            i = names.index(b)
            lat = [p["latency_us"] for p in seeds.values()]
            acc = mean_std([100 * p["test_accuracy"] for p in seeds.values()])
            ax.errorbar(statistics.mean(lat), acc[0], yerr=acc[1], fmt=MARKS[i % len(MARKS)], color=cmap(i % 20),
                        label=b, capsize=2, markersize=5)
        lats = [p["latency_us"] for p in row.all_points()]
        log_panel(ax, min(lats) / 1.5, max(lats) * 1.5, _row_title(row), "latency on the device (µs)",
                  "test accuracy, golden (%)")
    finish_panels(fig, axes, len(rs))
    return fig
