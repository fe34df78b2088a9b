"""The run report: ``RUN/report.md`` and a self-contained ``RUN/report.html`` (plots embedded as PNG).

Reads only what the flow's stages wrote into the run folder: metrics, the IR, the estimate, the
verification and synthesis results, the baselines and the search log.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from lpgnas.fileio import write_text_atomic


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


def _plots(run: Path, ctx: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots: dict[str, str] = {}
    points = [("this model", ctx["model_kib"], ctx["accuracy_golden"], ctx.get("lut"))]
    points += [(b["name"], b["model_kib"], b["test_accuracy_golden"], b.get("lut")) for b in ctx["baselines"]]
    for key, xlabel, idx in (("accuracy_vs_size", "model size (KiB)", 1), ("accuracy_vs_lut", "LUT (estimated)", 3)):
        pts = [p for p in points if p[idx] is not None]
        if len(pts) < 1:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for name, *vals in pts:
            x, y = (vals[0] if idx == 1 else vals[2]), vals[1]
            ax.scatter(x, 100 * y, marker="*" if name == "this model" else "o", s=120 if name == "this model" else 40)
            ax.annotate(name, (x, 100 * y), fontsize=7, xytext=(4, 3), textcoords="offset points")
        front = pareto_front([((p[1] if idx == 1 else p[3]), p[2]) for p in pts])
        ax.plot([f[0] for f in front], [100 * f[1] for f in front], "k--", lw=0.8, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy, golden (%)")
        ax.legend(fontsize=7)
        plots[key] = _png(fig)

    log = run / "search_log.jsonl"
    if log.is_file():
        recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        if recs:
            keys = [k for k in recs[-1]["probs"] if len(recs[-1]["probs"][k]) > 1]
            fig, axes = plt.subplots(len(keys), 1, figsize=(6, 1.1 * len(keys) + 0.5), sharex=True, squeeze=False)
            for ax, k in zip(axes[:, 0], keys, strict=True):
                series = list(zip(*[r["probs"][k] for r in recs], strict=True))
                ax.stackplot([r["epoch"] for r in recs], series)
                ax.set_ylabel(k, rotation=0, ha="right", fontsize=7)
                ax.set_yticks([])
            axes[-1, 0].set_xlabel("epoch")
            plots["controller_probabilities"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3))
    comps = ["weight", "input", "linear", "coef", "aggregation", "output"]
    width = 0.8 / max(len(ctx["layers"]), 1)
    for i, layer in enumerate(ctx["layers"]):
        ax.bar([c + i * width for c in range(len(comps))],
               [layer["formats"].get(c, {}).get("bits", 0) for c in comps], width, label=layer["name"])
    ax.set_xticks([c + width * (len(ctx["layers"]) - 1) / 2 for c in range(len(comps))], comps, fontsize=8)
    ax.set_ylabel("bits")
    ax.legend(fontsize=7)
    plots["bitwidths"] = _png(fig)

    est = ctx.get("estimate")
    if est:
        units = [u for u in est["units"] if u["lut"] + u.get("lutram", 0) > 0]
        fig, ax = plt.subplots(figsize=(6, 0.25 * len(units) + 1))
        names = [u["name"] if u["layer"] and u["name"].startswith(u["layer"]) else f"{u['layer'] or 'top'}/{u['name']}"
                 for u in units]
        ax.barh(names, [u["lut"] + u.get("lutram", 0) for u in units])
        ax.set_xlabel("LUT (estimated)")
        ax.tick_params(axis="y", labelsize=7)
        plots["resources_by_unit"] = _png(fig)
    return plots


def _context(run: Path) -> dict[str, Any]:
    from lpgnas.ir import load_ir
    from search.cost import buffer_size_bits, model_size_bits

    ir = load_ir(run / "model.ir.json")
    metrics = _load(run, "metrics.json") or {}
    est = _load(run, "estimate.json")
    design = _load(run, "hw/design.json") or {}
    n, e = design.get("num_nodes", 0), design.get("num_edges", 0)
    ctx: dict[str, Any] = {
        "ir": ir, "metrics": metrics, "estimate": est, "design": design,
        "accuracy_golden": metrics.get("test_accuracy_golden"), "accuracy_float": metrics.get("test_accuracy_float"),
        "model_kib": model_size_bits(ir) / 8192,
        # on-chip activation buffers of the generated accelerator (the cost model's count) when estimated
        "buffer_kib": (est["totals"]["buffer_bits"] if est else buffer_size_bits(ir, n, e)) / 8192 if n else None,
        "csim": _load(run, "verify_csim.json"), "rtl": _load(run, "verify_rtl.json"), "synth": _load(run, "synth.json"),
        "baselines": _load(run, "baselines.json") or [],
        "layers": ir.to_json_dict()["layers"],
    }
    if est:
        ctx["lut"] = est["totals"]["lut_total"]
    _baseline_luts(run, ctx, n, e, est)
    return ctx


def _baseline_luts(run: Path, ctx: dict[str, Any], n: int, e: int, est: dict | None) -> None:
    """Estimated LUT of each baseline on the same graph and device (DSE choice); None where nothing fits."""
    if not est or not n:
        return
    from hw_model.dse import explore
    from lpgnas.errors import LpgnasError
    from lpgnas.ir import load_ir

    for b in ctx["baselines"]:
        path = run / b["ir_path"] if b.get("ir_path") else None
        try:
            _, b_est = explore(load_ir(path), (n, e), est["device"]["name"]) if path else (None, None)
            b["lut"] = b_est.totals()["lut_total"] if b_est else None
        except LpgnasError:
            b["lut"] = None


def _verdict(r: dict | None) -> str:
    if r is None:
        return "not run"
    return "bit-exact" if r["bit_exact"] else f"**MISMATCH** ({r['mismatches']} words)"


def _markdown(run: Path, ctx: dict[str, Any]) -> str:
    m, est, ir = ctx["metrics"], ctx["estimate"], ctx["ir"]
    pct = lambda v: "–" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = [f"# lpgnas report: {ir.name}", "",
             f"Dataset **{m.get('dataset', '?')}** (split {m.get('split', '?')}); "
             f"design verified on {ctx['design'].get('num_nodes', '?')} nodes / "
             f"{ctx['design'].get('num_edges', '?')} edges (self-loops included).", "",
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
    if est:
        lines += ["", f"## Resources on {est['device']['name']} (estimated{', and Yosys' if ctx['synth'] else ''})", "",
                  "| resource | estimated | Yosys | available |", "|---|---|---|---|"]
        synth = (ctx["synth"] or {}).get("resources", {})
        yosys = {"lut": synth.get("LUT", 0) + synth.get("LUTRAM", 0), "ff": synth.get("FF"), "dsp": synth.get("DSP"),
                 "bram36": synth.get("BRAM36", 0) + synth.get("BRAM18", 0) / 2, "lutram": synth.get("LUTRAM")}
        for k, u in est["usage"].items():
            y = f"{yosys[k]:,.0f}" if synth and yosys.get(k) is not None else "–"
            lines.append(f"| {k} | {u['used']:,.0f} | {y} | {u['available']:,} |")
        lines += ["", f"Fits: **{'yes' if est['fits'] else 'NO'}**.", "", "## Latency", "",
                  f"Estimated {est['totals']['cycles']:,.0f} cycles ({est['totals']['latency_us']:,.1f} µs at "
                  f"{est['clock_mhz']:.0f} MHz)" + (f"; RTL simulation: {ctx['rtl']['cycles']:,} cycles."
                                                     if ctx["rtl"] and ctx["rtl"].get("cycles") else ".")]
    lines += ["", "## Verification (against the golden integer model)", "",
              f"- C simulation: {_verdict(ctx['csim'])}",
              f"- RTL simulation ({(ctx['rtl'] or {}).get('simulator', '–')}): {_verdict(ctx['rtl'])}"]
    if ctx["baselines"]:
        lines += ["", "## Baselines (same harness and split)", "", "| model | golden accuracy | model size |",
                  "|---|---|---|"]
        lines += [f"| {b['name']} | {pct(b['test_accuracy_golden'])} | {b['model_kib']:.2f} KiB |"
                  for b in ctx["baselines"]]
    return "\n".join(lines) + "\n"


def markdown_to_html(md: str) -> str:
    """The small markdown subset the report uses: headings, tables, list items, paragraphs, bold."""
    import re

    out, in_table = [], False
    for line in md.splitlines():
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(line))
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


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into the run folder; returns their paths."""
    run = Path(run_dir)
    ctx = _context(run)
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
