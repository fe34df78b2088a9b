"""The run report: ``RUN/report.md`` and a self-contained ``RUN/report.html`` (plots embedded as PNG).

What an FPGA engineer needs to act on the design: accuracy and size; the hardware configuration
(per-layer parallelism, multiplier mapping, buffer capacity, clock); utilisation of the device in %
(above :data:`FLAG_UTILISATION` flagged) and the cost model's resources per unit; latency, throughput
and cycles per node of the verified subgraph and of the whole graph; which nodes were verified, how
many words were compared and with which tools; the interface (ports, memory images, host data layout)
with links to the generated files and the logs; provenance (command line, versions, commit, date,
seeds, time per stage).

Reads what the flow wrote into the run folder; the whole graph is loaded again (from the data root
recorded in ``hw/source.json``) for its size and the ids of the verified nodes.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpgnas.fileio import write_text_atomic

#: utilisation of a device resource above which the report flags it
FLAG_UTILISATION = 0.9
#: how many ids of the verified nodes the report lists
SHOWN_NODE_IDS = 16
THIS_MODEL = "this model"


def _load(run: Path, name: str) -> Any:
    p = run / name
    return json.loads(p.read_text()) if p.is_file() else None


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not dominated by another with smaller-or-equal cost and higher-or-equal accuracy."""
    front, best = [], -1.0
    for cost, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((cost, acc))
            best = acc
    return front


# ---- plots ---------------------------------------------------------------------------------------------

def plain_log_axis(axis, lo: float, hi: float) -> None:
    """Plain numbers on a log axis spanning ``lo..hi`` ("5", "10", "2,000"; never "6x10^0"): labelled
    ticks at 1-2-3-5, 1-2-5 or 1 per decade, depending on how many decades the axis spans."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 0.0
    subs = (1.0, 2.0, 3.0, 5.0) if decades < 1.2 else (1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def scatter_plot(points: list[tuple[str, float, float]], xlabel: str):
    """Accuracy (%) over a cost on a log axis; every model a legend entry (no labels in the plot)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, (name, x, acc) in enumerate(points):
        this = name == THIS_MODEL
        # this model's star under the baselines' dots: a baseline on the same point stays visible
        ax.scatter(x, 100 * acc, marker="*" if this else "o", s=260 if this else 40, color=f"C{i}",
                   zorder=2 if this else 3, label=name)
    front = pareto_front([(x, acc) for _, x, acc in points])
    if len(front) > 1:
        ax.plot([f[0] for f in front], [100 * f[1] for f in front], "k--", lw=0.8, label="Pareto front")
    ax.set_xscale("log")
    xs = [x for _, x, _ in points]
    plain_log_axis(ax.xaxis, min(xs), max(xs))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy, golden (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig


def front_plot(pareto: dict[str, Any], baselines: list[dict[str, Any]], picked: dict[str, Any] | None):
    """Golden test accuracy (%) over the latency on the device (whole graph, the DSE's parallelism): the
    search's latency front as a staircase, the baselines as dots, the built point as a star."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    front = [pareto["points"][k] for k in pareto["fronts"]["latency"]]
    xs = [p["latency_us"] for p in front]
    ax.step(xs, [100 * p["test_accuracy_golden"] for p in front], "k-", where="post", lw=0.8, zorder=1)
    ax.scatter(xs, [100 * p["test_accuracy_golden"] for p in front], color="k", s=18, zorder=2,
               label="LPGNAS latency front")
    shown = [b for b in baselines if b.get("latency_us")]
    for i, b in enumerate(shown):
        ax.scatter(b["latency_us"], 100 * b["test_accuracy_golden"], color=f"C{i}", s=40, zorder=3, label=b["name"])
        xs.append(b["latency_us"])
    chosen = picked or next((p for p in pareto["points"] if p.get("shipped")), None)
    if chosen:
        ax.scatter(chosen["latency_us"], 100 * chosen["test_accuracy_golden"], marker="*", s=260, color="C3",
                   zorder=2, label="built" if picked else "shipped (model.ir.json)")
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis, min(xs), max(xs))
    ax.set_xlabel(f"latency on {pareto['device']}, whole graph (us)")
    ax.set_ylabel("test accuracy, golden (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig


def _decision_options(ir) -> dict[str, list[str]]:
    """Option names of every decision of the search that produced ``ir`` (empty if it was not searched)."""
    cfg = ir.metadata.get("search_config")
    if not cfg:
        return {}
    from lpgnas.errors import LpgnasError
    from lpgnas.search.config import SearchConfig

    try:
        space = SearchConfig(**cfg).space(ir.in_features, ir.num_classes)
    except (TypeError, LpgnasError):  # a configuration of another lpgnas version: options are numbered
        return {}
    return {k: [str(o) for o in space.options(k)] for k in space.decision_keys}


def controller_plot(recs: list[dict[str, Any]], options: dict[str, list[str]]):
    """Per decision with more than one option: the controller's probabilities over the epochs, stacked."""
    import matplotlib.pyplot as plt

    keys = [k for k in recs[-1]["probs"] if len(recs[-1]["probs"][k]) > 1]
    fig, axes = plt.subplots(len(keys), 1, figsize=(7.5, 1.25 * len(keys) + 0.6), sharex=True, squeeze=False)
    epochs = [r["epoch"] for r in recs]
    for ax, k in zip(axes[:, 0], keys, strict=True):
        series = list(zip(*[r["probs"][k] for r in recs], strict=True))
        names = options.get(k)
        labels = names if names and len(names) == len(series) else [f"option {i}" for i in range(len(series))]
        ax.stackplot(epochs, series, labels=labels)
        ax.set_ylim(0, 1)
        ax.set_yticks([0, 0.5, 1])
        ax.tick_params(axis="y", labelsize=6)
        ax.set_title(k, fontsize=7, loc="left", pad=2)
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5), borderaxespad=0,
                  ncol=1 + (len(series) - 1) // 5)
    axes[-1, 0].set_xlabel("search epoch")
    fig.supylabel("probability", fontsize=8)
    fig.tight_layout()
    return fig


def bitwidth_plot(layers: list[dict[str, Any]]):
    """Bits of every quantised tensor per layer (``layers``: the IR's JSON layers); integer bit ticks."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.5, 3))
    comps = ["weight", "input", "linear", "coef", "aggregation", "output"]
    width = 0.8 / max(len(layers), 1)
    top = 1
    for i, layer in enumerate(layers):
        bits = [layer["formats"].get(c, {}).get("bits", 0) for c in comps]
        top = max(top, *bits)
        ax.bar([c + i * width for c in range(len(comps))], bits, width, label=layer["name"])
    ax.set_xticks([c + width * (len(layers) - 1) / 2 for c in range(len(comps))], comps, fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, top + 1)
    ax.set_ylabel("bits")
    ax.set_xlabel("tensor (0 bits: the layer has none)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig


def unit_plot(est: dict[str, Any]):
    """Estimated logic LUT and LUTRAM of every unit that uses any."""
    import matplotlib.pyplot as plt

    units = [u for u in est["units"] if u["lut"] + u.get("lutram", 0) > 0]
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(units) + 1.2))
    names = [_unit_name(u) for u in units]
    ax.barh(names, [u["lut"] for u in units], label="logic LUT")
    ax.barh(names, [u.get("lutram", 0) for u in units], left=[u["lut"] for u in units], label="LUTRAM")
    ax.set_xlabel("LUT (estimated)")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    return fig


def _plots(run: Path, ctx: dict[str, Any]) -> dict[str, str]:
    """Every plot of the report as a base64 PNG, by name."""
    import matplotlib

    matplotlib.use("Agg")
    figs = {}
    models = [(THIS_MODEL, ctx["model_kib"], ctx["accuracy_golden"], ctx.get("lut"))]
    models += [(b["name"], b["model_kib"], b["test_accuracy_golden"], b.get("lut")) for b in ctx["baselines"]]
    for key, xlabel, idx in (("accuracy_vs_size", "model size (KiB)", 1), ("accuracy_vs_lut", "LUT (estimated)", 3)):
        pts = [(m[0], m[idx], m[2]) for m in models if m[idx] is not None and m[2] is not None]
        if pts:
            figs[key] = scatter_plot(pts, xlabel)
    if ctx["pareto"]:
        figs["accuracy_vs_latency_fronts"] = front_plot(ctx["pareto"], ctx["baselines"], ctx["picked"])
    log = run / "search_log.jsonl"
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
    if recs:
        figs["controller_probabilities"] = controller_plot(recs, _decision_options(ctx["ir"]))
    figs["bitwidths"] = bitwidth_plot(ctx["layers"])
    if ctx.get("estimate"):
        figs["resources_by_unit"] = unit_plot(ctx["estimate"])
    return {k: _png(fig) for k, fig in figs.items()}


# ---- what the run folder holds --------------------------------------------------------------------------

def _unit_name(u: dict[str, Any]) -> str:
    return u["name"] if u["layer"] and u["name"].startswith(u["layer"]) else f"{u['layer'] or 'top'}/{u['name']}"


def _whole_graph(ctx: dict[str, Any]) -> dict[str, Any] | None:
    """The whole graph the design was verified on a subgraph of: its size, the ids of the verified nodes
    (the breadth-first subgraph ``sim.cli.design_inputs`` takes) and the estimate of a design with the
    same parallelism sized for it. None before the design exists; ``{"error"}`` if the data is gone."""
    src, est, hw, n_sub = ctx["source"], ctx["estimate"], ctx["hw_config"], ctx["design"].get("num_nodes")
    if not (src and est and hw and n_sub):
        return None
    from lpgnas.devices import Device
    from lpgnas.errors import LpgnasError
    from lpgnas.graph import bfs_nodes
    from lpgnas.hw_model.model import estimate
    from lpgnas.hwconfig import HardwareConfig
    from lpgnas.inputs import design_inputs
    from lpgnas.sparse import nonzero_histogram

    try:
        graph, x = design_inputs(ctx["ir"], src["dataset"], src.get("data_root"), None, src["features"])
    except LpgnasError as e:
        return {"error": str(e)}
    full_hw = HardwareConfig.from_dict(hw)
    full_hw.max_nodes, full_hw.max_edges = graph.num_nodes, graph.num_edges
    full_hw.max_nonzeros = max(full_hw.max_nonzeros, int((x != 0).sum())) if full_hw.max_nonzeros else 0
    full = estimate(ctx["ir"], full_hw, (graph.num_nodes, graph.num_edges), Device(**est["device"]),
                    feature_nonzeros=nonzero_histogram(x))
    return {"dataset": src["dataset"], "num_nodes": graph.num_nodes, "num_edges": graph.num_edges,
            "verified": [int(i) for i in bfs_nodes(graph, n_sub)], "estimate": full.as_dict()}


def _features(ctx: dict[str, Any]):
    """The design's dataset's input features, preprocessed as in training (whole graph), or None without a
    design or its data."""
    src = ctx["source"]
    if not src:
        return None
    from lpgnas.datasets import load_dataset, preprocess_features
    from lpgnas.errors import LpgnasError

    try:
        return preprocess_features(load_dataset(src["dataset"], data_root=src.get("data_root")).x,
                                   src["features"]).numpy()
    except LpgnasError:
        return None


def _context(run: Path, stages: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    from lpgnas.ir import load_ir
    from lpgnas.provenance import PROVENANCE_FILE
    from lpgnas.search.cost import KIB, model_size_bits

    picked = _load(run, "point.json") if any(name == "pick" for name, _ in stages) else None
    ir = load_ir(run / ("design.ir.json" if picked else "model.ir.json"))
    metrics = _load(run, "metrics.json") or {}
    est = _load(run, "estimate.json")
    design = _load(run, "hw/design.json") or {}
    n, e = design.get("num_nodes", 0), design.get("num_edges", 0)
    ctx: dict[str, Any] = {
        "ir": ir, "metrics": metrics, "estimate": est, "design": design,
        "picked": picked, "pareto": _load(run, "pareto.json"),
        # a picked front point: its golden accuracy (its torch model was not kept to run apart)
        "accuracy_golden": picked["test_accuracy_golden"] if picked else metrics.get("test_accuracy_golden"),
        "accuracy_float": None if picked else metrics.get("test_accuracy_float"),
        "model_kib": model_size_bits(ir) / KIB,
        # on-chip buffers of the generated accelerator (the cost model's count)
        "buffer_kib": est["totals"]["buffer_bits"] / KIB if est and n else None,
        "csim": _load(run, "verify_csim.json"), "rtl": _load(run, "verify_rtl.json"), "synth": _load(run, "synth.json"),
        "baselines": _load(run, "baselines.json") or [],
        "layers": ir.to_json_dict()["layers"],
        "hw_config": _load(run, "hw_config.json"), "rtl_manifest": _load(run, "hw/rtl/rtl.json"),
        "source": _load(run, "hw/source.json"), "provenance": _load(run, PROVENANCE_FILE) or [],
        "stages": list(stages),
    }
    if est:
        ctx["lut"] = est["totals"]["lut_total"]
    ctx["whole_graph"] = _whole_graph(ctx)
    _baseline_luts(run, ctx, n, e, est)
    _baseline_latencies(run, ctx)
    return ctx


def _baseline_latencies(run: Path, ctx: dict[str, Any]) -> None:
    """Each baseline's latency on the search's whole graph and device at the DSE's parallelism (the fronts'
    measure, ``search.pareto.best_parallelism``); None where nothing fits. Only beside fronts."""
    front = ctx["pareto"]
    if not front:
        return
    from lpgnas.ir import load_ir
    from lpgnas.search.pareto import best_parallelism

    x = _features(ctx)
    for b in ctx["baselines"]:
        acc = best_parallelism(load_ir(run / b["ir_path"]), front["num_nodes"], front["num_edges"], front["device"],
                               x) if b.get("ir_path") else {"fits": False}
        b["latency_us"] = acc["latency_us"] if acc["fits"] else None


def _baseline_luts(run: Path, ctx: dict[str, Any], n: int, e: int, est: dict | None) -> None:
    """Estimated LUT of each baseline on the same graph and device (DSE choice); None where nothing fits."""
    if not est or not n:
        return
    from lpgnas.devices import Device
    from lpgnas.errors import LpgnasError
    from lpgnas.golden import quantize_features
    from lpgnas.graph import CSRGraph, bfs_nodes
    from lpgnas.hw_model.dse import explore
    from lpgnas.ir import load_ir
    from lpgnas.sparse import nonzero_histogram

    x = _features(ctx)
    if x is not None:  # the design's subgraph, as lpgnas.inputs.design_inputs takes it
        from lpgnas.datasets import load_dataset

        data = load_dataset(ctx["source"]["dataset"], data_root=ctx["source"].get("data_root"))
        if n < data.num_nodes:
            x = x[bfs_nodes(CSRGraph.from_edge_index(data.edge_index.numpy(), data.num_nodes), n)]
    for b in ctx["baselines"]:
        path = run / b["ir_path"] if b.get("ir_path") else None
        try:
            b_ir = load_ir(path) if path else None
            hist = None if x is None or b_ir is None else nonzero_histogram(quantize_features(b_ir, x))
            _, b_est = explore(b_ir, (n, e), Device(**est["device"]), feature_nonzeros=hist) if path else (None, None)
            b["lut"] = b_est.totals()["lut_total"] if b_est else None
        except LpgnasError:
            b["lut"] = None


# ---- markdown -------------------------------------------------------------------------------------------

def _verdict(r: dict | None) -> str:
    if r is None:
        return "not run"
    return "bit-exact" if r["bit_exact"] else f"**MISMATCH** ({r['mismatches']} words)"


def _amount(v: float) -> str:
    from lpgnas.hw_model.cli import _fmt

    return _fmt(v)


def utilisation(used: float, available: float) -> str:
    """``used`` of ``available`` in %, flagged in bold above :data:`FLAG_UTILISATION`."""
    if not available:
        return "–" if not used else "**no such resource on the device**"
    pct = f"{100 * used / available:.1f} %"
    if used > available:
        return f"**{pct} (over budget)**"
    return f"**{pct} (above {100 * FLAG_UTILISATION:.0f} %)**" if used > FLAG_UTILISATION * available else pct


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _hardware_section(ctx: dict[str, Any]) -> list[str]:
    hw, est, ir = ctx["hw_config"], ctx["estimate"], ctx["ir"]
    if not hw:
        return []
    per_layer = (est or {}).get("per_layer", {})
    rows = []
    for layer, lhw in zip(ir.layers, hw["layers"], strict=True):
        cost = per_layer.get(layer.name, {})
        rows.append([layer.name, str(lhw["p_in"]), str(lhw["p_out"]), str(lhw["p_agg"]), lhw["mult"],
                     *(_amount(cost[k]) if k in cost else "–" for k in ("dsp", "lut", "cycles"))])
    return ["", "## Hardware configuration", "",
            f"Device **{hw['device']}**, clock **{hw['clock_mhz']:g} MHz**; capacity of the on-chip graph buffers: "
            f"max_nodes **{hw['max_nodes']:,}**, max_edges **{hw['max_edges']:,}** (self-loops included).", "",
            *_table(["layer", "P_in", "P_out", "P_agg", "multipliers", "DSP (est.)", "LUT (est.)", "cycles (est.)"],
                    rows), "",
            "P_in multipliers per dot product and P_out dot products (transform), P_agg feature lanes "
            "(aggregation). Multipliers: `auto` lets synthesis choose (wide products on DSPs), `logic` for "
            "binary/ternary weights, `lut` / `dsp` forced. To change them, edit a copy of `hw_config.json` and run "
            "`lpgnas generate model.ir.json --hw COPY.json -o DIR`, then `lpgnas verify DIR`."]


def _utilisation_section(ctx: dict[str, Any]) -> list[str]:
    est = ctx["estimate"]
    synth = (ctx["synth"] or {}).get("resources", {})
    yosys = {"lut": synth.get("LUT", 0) + synth.get("LUTRAM", 0), "ff": synth.get("FF"), "dsp": synth.get("DSP"),
             "bram36": synth.get("BRAM36", 0) + synth.get("BRAM18", 0) / 2, "lutram": synth.get("LUTRAM")}
    rows, flagged = [], []
    for k, u in est["usage"].items():
        y = yosys.get(k) if synth else None
        rows.append([k, _amount(u["used"]), "–" if y is None else _amount(y), f"{u['available']:,}",
                     utilisation(u["used"], u["available"]), "–" if y is None else utilisation(y, u["available"])])
        flagged += [f"{k} ({src})" for src, v in (("estimated", u["used"]), ("Yosys", y))
                    if v is not None and v > FLAG_UTILISATION * u["available"]]
    lines = ["", f"## Utilisation of {est['device']['name']} (estimated{', and Yosys' if synth else ''})", "",
             *_table(["resource", "estimated", "Yosys", "available", "utilisation", "Yosys utilisation"], rows), "",
             f"Fits: **{'yes' if est['fits'] else 'NO'}**."]
    if flagged:
        lines += ["", f"Above {100 * FLAG_UTILISATION:.0f} %: **{', '.join(flagged)}** (little headroom for place "
                  "and route: lower the parallelism of the layer that uses most of it, see the table below, or "
                  "choose a larger `--device`)."]
    return lines


def _units_section(est: dict[str, Any]) -> list[str]:
    from lpgnas.hw_model.model import RESOURCES

    cols = (*RESOURCES, "cycles")
    rows = [[_unit_name(u), u["kind"], *(_amount(u[c]) for c in cols)] for u in est["units"]
            if any(u[c] for c in cols)]
    rows.append(["**total**", "", *(f"**{_amount(est['totals'][c])}**" for c in cols)])
    return ["", "## Resources per unit (cost model)", "", *_table(["unit", "kind", *cols], rows), "",
            "Each aggregation runs together with the unit that follows its rows (the next layer's transform, the "
            "store), which is charged only the cycles it outlasts the aggregation; the other units run one after "
            "the other, so the latency is the sum of the cycles shown plus the sequencer's start/finish overhead. "
            "Units without resources or cycles in this design are left out."]


def _latency_row(label: str, nodes: int, edges: int, cycles: float, clock_mhz: float) -> list[str]:
    us = cycles / clock_mhz
    per_s = 1e6 / us
    return [label, f"{nodes:,}", f"{edges:,}", f"{cycles:,.0f}", f"{us:,.1f}", f"{per_s:,.1f}",
            f"{nodes * per_s:,.0f}", f"{cycles / nodes:,.1f}"]


def _latency_section(ctx: dict[str, Any]) -> list[str]:
    est, rtl, whole, design = ctx["estimate"], ctx["rtl"], ctx["whole_graph"], ctx["design"]
    clock, n, e = est["clock_mhz"], design.get("num_nodes"), design.get("num_edges")
    if not n:
        return ["", "## Latency", "", f"Estimated {est['totals']['cycles']:,.0f} cycles."]
    rows = [_latency_row("verified subgraph, estimated", n, e, est["totals"]["cycles"], clock)]
    if rtl and rtl.get("cycles"):
        rows.append(_latency_row(f"verified subgraph, RTL simulation ({rtl['simulator']})", n, e, rtl["cycles"], clock))
    notes = []
    if rtl and rtl.get("cycles"):
        off = 100 * (est["totals"]["cycles"] - rtl["cycles"]) / rtl["cycles"]
        notes.append(f"RTL simulation: {rtl['cycles']:,} cycles; the cost model's estimate is {off:+.1f} % off.")
    if whole and "error" in whole:
        notes.append(f"Whole graph: not estimated ({whole['error']}).")
    elif whole and whole["num_nodes"] != n:
        fest = whole["estimate"]
        rows.append(_latency_row(f"whole graph ({whole['dataset']}), estimated", whole["num_nodes"],
                                 whole["num_edges"], fest["totals"]["cycles"], clock))
        use = ", ".join(f"{k} {utilisation(u['used'], u['available'])}" for k, u in fest["usage"].items())
        notes.append(f"Whole graph: the same parallelism with buffers for {whole['num_nodes']:,} nodes / "
                     f"{whole['num_edges']:,} edges would use {use}; it "
                     + ("fits." if fest["fits"] else "does **not** fit (the buffers are on chip): "
                        "`lpgnas flow --full` sizes the design for the whole graph, or partition the graph."))
    elif whole:
        notes.append("The verified design holds the whole graph.")
    return ["", "## Latency and throughput", "",
            *_table(["graph", "nodes", "edges", "cycles", f"latency (µs at {clock:g} MHz)", "graphs/s", "nodes/s",
                     "cycles/node"], rows), "",
            "One run processes the whole (sub)graph: graphs/s = 1 / latency, nodes/s = nodes / latency. "
            "Edges include the self-loops.", *(x for note in notes for x in ("", note))]


#: tool versions a verification record may hold, and how the report labels them
_TOOL_KEYS = {"compiler": "", "simulator_version": "", "cocotb": "cocotb "}


def _tools(r: dict[str, Any]) -> str:
    found = [f"{label}{r[k]}" for k, label in _TOOL_KEYS.items() if r.get(k)]
    return "; ".join(found) if found else "tool versions not recorded"


def _verification_section(ctx: dict[str, Any]) -> list[str]:
    design, whole, csim, rtl = ctx["design"], ctx["whole_graph"], ctx["csim"], ctx["rtl"]
    n, e = design.get("num_nodes"), design.get("num_edges")
    lines = ["", "## Verification (against the golden integer model)", ""]
    if whole and "error" not in whole:
        ids = whole["verified"]
        if n == whole["num_nodes"]:
            lines.append(f"Verified nodes: all **{n:,}** nodes of {whole['dataset']} ({e:,} edges with self-loops).")
        else:
            shown = ", ".join(map(str, ids[:SHOWN_NODE_IDS])) + (", …" if len(ids) > SHOWN_NODE_IDS else "")
            lines.append(f"Verified nodes: **{n:,}** of {whole['num_nodes']:,} nodes of {whole['dataset']}, the "
                         f"breadth-first subgraph from node {ids[0]} (`lpgnas.graph.bfs_nodes`) with {e:,} edges "
                         f"(self-loops included; edges leaving it are cut). Node ids in BFS order: {shown}")
    elif n:
        lines.append(f"Verified nodes: a subgraph of **{n:,}** nodes / {e:,} edges (self-loops included).")
    lines.append("")
    for label, r in (("C simulation", csim), (f"RTL simulation ({(rtl or {}).get('simulator', '–')})", rtl)):
        if r is None:
            lines.append(f"- {label}: not run")
            continue
        words = r.get("words_compared")
        extra = f", {words:,} output words compared" if words is not None else ""
        if r.get("cycles"):
            extra += f", {r['cycles']:,} cycles"
        lines.append(f"- {label}: {_verdict(r)}{extra} ({_tools(r)})")
    return lines


_IMAGE_LAYOUT = {
    "row_ptr": "CSR row offsets (destination-major): node n's in-edges, self-loop included, are "
               "col_idx[row_ptr[n] .. row_ptr[n+1]-1]",
    "col_idx": "source node of each edge, in CSR order",
    "coef": "GCN edge coefficient 1/sqrt(deg_dst·deg_src) per edge, in CSR order",
    "recip": "1/deg per node (mean aggregation)",
    "features": "input feature codes, node-major (row-major N × F_in)",
    "feat_ptr": "sparse input: node n's groups of P_in non-zero features are feat_ptr[n] .. feat_ptr[n+1]-1",
    "feat_col": "sparse input: column of entry k of group g at g·P_in + k (padding: 0)",
    "feat_val": "sparse input: code of entry k of group g at g·P_in + k (padding: 0)",
    "expected": "the golden model's output codes, node-major (row-major N × classes): what `outputs` must hold",
}


def _image_layout(name: str) -> str:
    return _IMAGE_LAYOUT.get(name) or _IMAGE_LAYOUT.get(name.rsplit("_", 1)[-1], "")


def _interface_section(ctx: dict[str, Any]) -> list[str]:
    rtl, design = ctx["rtl_manifest"], ctx["design"]
    if not rtl:
        return []
    banked = rtl.get("banked", {})
    rows, seen = [], set()
    for p in rtl["ports"]:
        name, count = p["name"], 1
        for arr, b in banked.items():
            m = re.fullmatch(rf"{re.escape(arr)}_(\d+)_(\w+)", name)
            if m:
                name, count = f"{arr}_<k>_{m.group(2)}", b["banks"]
        if name not in seen:
            seen.add(name)
            rows.append([f"`{name}`", p["dir"], str(p["width"]), f"k = 0..{count - 1}" if count > 1 else ""])
    lines = ["", "## Interface", "",
             f"Top level `{rtl['top']}` (the Vitis HLS kernel's interface): `ap_clk`, `ap_rst` (synchronous, "
             "active high), block handshake `ap_ctrl_hs` (`ap_start`, `ap_done`, `ap_idle`, `ap_ready`), and "
             "`ap_memory` ports per host buffer (`_address0`, `_ce0`, `_q0`; read data one cycle after the "
             "address), `outputs_*` written by the accelerator.", "",
             *_table(["port", "direction", "width", "banks"], rows)]
    for arr, b in banked.items():
        if arr == "features":
            lines += ["", f"`{arr}` is split into {b['banks']} banks (cyclic, P_in of layer 0): bank k holds element "
                          f"(n, ig·{b['banks']} + k) of the row-major image (row length {b['row']}) at address "
                          f"n·{b['groups']} + ig; padding positions (≥ {b['row']}) are ignored."]
        else:  # the sparse input's grouped CSR (lpgnas.sparse)
            lines += ["", f"`{arr}` is split into {b['banks']} banks (cyclic, P_in of layer 0): bank k holds entry k "
                          f"of group g (flat element g·{b['banks']} + k) at address g."]
    if design.get("images"):
        img_rows = [[f"`{img['name']}`", f"{img['words']:,}", str(img["width"]), "yes" if img["signed"] else "no",
                     _image_layout(img["name"])] for img in design["images"]]
        lines += ["", f"Host memory images in `hw/data/` (`<name>.mem`: hex, one word per line, for `$readmemh`; "
                      f"`<name>.txt`: decimal) for {design['num_nodes']:,} nodes / {design['num_edges']:,} edges:",
                  "", *_table(["image", "words", "width (bits)", "signed", "layout"], img_rows)]
    lines += ["", "Weights, biases and lookup tables are ROMs inside the design (`hw/rtl/<layer>_*.mem`, read "
                  "with `$readmemh` from the top level's `MEM_DIR`)."]
    return lines


def _link(run: Path, rel: str, what: str) -> str | None:
    return f"- [{rel}]({rel}): {what}" if (run / rel).exists() else None


def _files_section(run: Path, ctx: dict[str, Any]) -> list[str]:
    from lpgnas.provenance import PROVENANCE_FILE

    sim = (ctx["rtl"] or {}).get("simulator")
    synth_log = (ctx["synth"] or {}).get("log")  # an absolute path
    synth_rel = (str(Path(synth_log).relative_to(run.resolve()))
                 if synth_log and Path(synth_log).is_relative_to(run.resolve()) else None)
    links = [
        _link(run, "hw/hls/", "Vitis HLS project (kernel, weights, C++ testbench)"),
        _link(run, "hw/hls/run_hls.tcl", "Vitis HLS script: `vitis_hls -f run_hls.tcl` in hw/hls/"),
        _link(run, "hw/rtl/", "Verilog (module library, generated top level, ROM images, rtl.json)"),
        _link(run, "hw/data/", "host memory images"),
        _link(run, "hw_config.json", "hardware configuration"),
        _link(run, "estimate.json", "cost model estimate"),
        _link(run, "train_log.jsonl", "training log (per epoch)"),
        _link(run, "search_log.jsonl", "search log (per epoch)"),
        *((_link(run, f"build/{sim}/build.log", f"{sim} build log"), _link(run, f"build/{sim}/sim.log",
                                                                             f"{sim} simulation log")) if sim else ()),
        _link(run, synth_rel, "Yosys log") if synth_rel else None,
        _link(run, PROVENANCE_FILE, "provenance (every flow invocation)"),
    ]
    return ["", "## Files", "", *(x for x in links if x)]


def command_line(argv: list[str]) -> str:
    """A recorded ``sys.argv`` as a shell command (``python -m <package>`` for a package's ``__main__``)."""
    if not argv:
        return "?"
    head = Path(argv[0])
    prog = ("python -c …" if argv[0] == "-c" else f"python -m {head.parent.name}" if head.name == "__main__.py"
            else head.name)
    return " ".join([prog, *map(shlex.quote, argv[1:])])


def _provenance_section(ctx: dict[str, Any]) -> list[str]:
    lines = ["", "## Provenance", ""]
    history = ctx["provenance"]
    if history:
        last = history[-1]
        cfg = last.get("config", {})
        lines += [f"- Command: `{command_line(last.get('argv', []))}`",
                  f"- Date: {last.get('date', '?')}; lpgnas {last.get('lpgnas_version', '?')}, git commit "
                  f"{last.get('git_commit') or 'unknown (not a git checkout)'}, Python {last.get('python', '?')}",
                  f"- Seed: {cfg.get('seed', '?')}",
                  "- Options: " + ", ".join(f"{k}={v}" for k, v in cfg.items())]
        if len(history) > 1:
            lines.append(f"- Earlier invocations into this folder: {len(history) - 1} (dates: "
                         + ", ".join(h.get("date", "?") for h in history[:-1]) + "); the stages below say when "
                         "each result was made")
    train_cfg = ctx["metrics"].get("config", {}) or ctx["ir"].metadata.get("search_config", {})
    if "seed" in train_cfg:
        lines.append(f"- Model seed (training / search configuration): {train_cfg['seed']}")
    if ctx["stages"]:
        rows = [[name, f"{rec.get('seconds', 0):,.1f}", str(rec.get("finished", "?"))] for name, rec in ctx["stages"]]
        lines += ["", *_table(["stage", "seconds", "finished"], rows)]
    return lines


def _markdown(run: Path, ctx: dict[str, Any]) -> str:
    m, est, ir = ctx["metrics"], ctx["estimate"], ctx["ir"]
    pct = lambda v: "–" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = [f"# lpgnas report: {ir.name}", "",
             f"Dataset **{m.get('dataset', '?')}** (split {m.get('split', '?')}); "
             f"design verified on {ctx['design'].get('num_nodes', '?')} nodes / "
             f"{ctx['design'].get('num_edges', '?')} edges (self-loops included).", "",
             *([f"Hardware built for **front point {ctx['picked']['point']}** of the search (RUN/design.ir.json; "
                f"validation {pct(ctx['picked']['val_accuracy'])}, {ctx['picked']['latency_us']:.1f} us on the whole "
                "graph), not the shipped model.ir.json.", ""] if ctx["picked"] else []),
             "## Accuracy and size", "",
             "| test accuracy (float, torch) | test accuracy (golden, integer) | model size | on-chip buffers |",
             "|---|---|---|---|",
             f"| {pct(ctx['accuracy_float'])} | {pct(ctx['accuracy_golden'])} | {ctx['model_kib']:.2f} KiB | "
             + (f"{ctx['buffer_kib']:.1f} KiB |" if ctx["buffer_kib"] is not None else "– |"), "",
             "## Architecture", "", "| layer | attention | aggregation | activation | heads | width | weight | act. |",
             "|---|---|---|---|---|---|---|---|"]
    for layer in ir.layers:
        lines.append(f"| {layer.name} | {layer.attention} | {layer.aggregation} | {layer.activation} | {layer.heads} | "
                     f"{layer.in_features}→{layer.output_features} | {layer.formats['weight']} | "
                     f"{layer.formats['output']} |")
    lines += _hardware_section(ctx)
    if est:
        lines += _utilisation_section(ctx) + _units_section(est) + _latency_section(ctx)
    lines += _verification_section(ctx)
    if ctx["pareto"]:
        lines += _fronts_section(ctx["pareto"], ctx["picked"])
    if ctx["baselines"]:
        whole = ctx["pareto"] is not None
        rows = [[b["name"], pct(b["test_accuracy_golden"]), f"{b['model_kib']:.2f} KiB",
                 "–" if b.get("lut") is None else _amount(b["lut"])]
                + (["–" if b.get("latency_us") is None else f"{b['latency_us']:,.1f}"] if whole else [])
                for b in ctx["baselines"]]
        lines += ["", "## Baselines (same harness and split)", "",
                  *_table(["model", "golden accuracy", "model size", "LUT (est.)"]
                          + (["latency us (whole graph, DSE)"] if whole else []), rows)]
    lines += _interface_section(ctx) + _files_section(run, ctx) + _provenance_section(ctx)
    return "\n".join(lines) + "\n"


def _fronts_section(pareto: dict[str, Any], picked: dict[str, Any] | None) -> list[str]:
    """The search's front points (RUN/pareto.json): accuracy against latency and model size."""
    rows = []
    for p in pareto["points"]:
        mark = " (built)" if picked and p["point"] == picked["point"] else " (shipped)" if p.get("shipped") else ""
        rows.append([f"{p['point']}{mark}", f"{100 * p['val_accuracy']:.1f} %",
                     f"{100 * p['test_accuracy_golden']:.1f} %", f"{p['model_size_kib']:.3f}",
                     f"{p['latency_us']:,.1f}", _amount(p["lut"]), _amount(p["dsp"]), _amount(p["bram36"]),
                     ", ".join(p["fronts"])])
    return ["", f"## Fronts of the search ({pareto['device']}, whole graph)", "",
            f"The trained designs no other beats on validation accuracy at a lower latency (the DSE's, on "
            f"{pareto['num_nodes']} nodes / {pareto['num_edges']} edges) or a smaller model; "
            f"{len(pareto['designs'])} designs considered. `lpgnas export RUN --point K` picks one; `lpgnas flow "
            "--point K` builds it.", "",
            *_table(["point", "validation", "test (golden)", "KiB", "latency us", "LUT", "DSP", "BRAM36", "fronts"],
                    rows)]


def markdown_to_html(md: str) -> str:
    """The small markdown subset the report uses: headings, tables, list items, paragraphs, bold, code, links."""
    out, in_table = [], False
    for line in md.splitlines():
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(line))
        text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
        text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"<a href='\2'>\1</a>", text)
        if line.startswith("|"):
            cells = [c.strip() for c in text.strip("|").split("|")]
            if all(set(c) <= {"-"} for c in cells):
                continue
            tag = "th" if not in_table else "td"
            out.append(("<table>" if not in_table else "") + "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells)
                       + "</tr>")
            in_table = True
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{text[level:].strip()}</h{level}>")
        elif line.startswith("- "):
            out.append(f"<li>{text[2:]}</li>")
        elif line.strip():
            out.append(f"<p>{text}</p>")
    if in_table:
        out.append("</table>")
    return "\n".join(out)


def write_report(run_dir: str | Path, stages: Sequence[tuple[str, dict[str, Any]]] = ()) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into the run folder; returns their paths. ``stages``: (name,
    record) of every finished flow stage, in flow order (the flow passes them)."""
    run = Path(run_dir)
    ctx = _context(run, stages)
    md = _markdown(run, ctx)
    plots = _plots(run, ctx)
    md_plots = md + "\n## Plots\n\n" + "\n".join(f"- {k.replace('_', ' ')} (in report.html)" for k in plots) + "\n"
    write_text_atomic(run / "report.md", md_plots)
    body = "".join(f"<h2>{html.escape(k.replace('_', ' '))}</h2><img src='data:image/png;base64,{v}'/>"
                   for k, v in plots.items())
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>lpgnas report</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
            f"{markdown_to_html(md)}{body}</body></html>")
    write_text_atomic(run / "report.html", page)
    return run / "report.md", run / "report.html"
