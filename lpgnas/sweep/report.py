"""``lpgnas sweep report SWEEP``: ``SWEEP/results.json`` as markdown tables and plots, and optionally the main
table between a README's markers."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpgnas.errors import LpgnasError
from lpgnas.fileio import atomic_path, write_text_atomic
from lpgnas.sweep import fronts
from lpgnas.sweep.methods import SEARCH
from lpgnas.sweep.panels import MARKS, finish_panels, log_panel, panel_grid
from lpgnas.sweep.runner import RESULTS
from lpgnas.sweep.spec import NAMED_OPTIONS
from lpgnas.sweep.stats import mean_std, mean_std_text

REPORT = "report.md"
PLOTS = "plots"
BEGIN = "<!-- lpgnas sweep report: begin -->"
END = "<!-- lpgnas sweep report: end -->"
FRONTS_PLOT = "fronts_latency"
COMPONENTS = ("q_weight", "q_input", "q_linear", "q_coef", "q_aggregation", "q_bias")


def seed_list(seeds: list[Any]) -> str:
    """``0-4,7,9``: the seeds with runs of consecutive integers as ranges."""
    ints = sorted(s for s in seeds if isinstance(s, int))
    parts: list[str] = []
    i = 0
    while i < len(ints):
        j = i
        while j + 1 < len(ints) and ints[j + 1] == ints[j] + 1:
            j += 1
        parts.append(str(ints[i]) if i == j else f"{ints[i]}-{ints[j]}")
        i = j + 1
    return ",".join(parts + [str(s) for s in seeds if not isinstance(s, int)])


def load_results(sweep: Path) -> dict[str, Any]:
    """``SWEEP/results.json``; an :class:`LpgnasError` when there is none or it is not a sweep's."""
    path = Path(sweep) / RESULTS
    if not path.is_file():
        raise LpgnasError(f"{path}: no such file; give the folder of a sweep (lpgnas sweep SPEC.toml -o SWEEP)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise LpgnasError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), list) or "counts" not in doc:
        raise LpgnasError(f"{path}: not the results of an lpgnas sweep (no records and counts)")
    return doc


def _value(v: Any) -> str:
    return Path(v).stem if isinstance(v, str) and v.endswith(".json") else str(v)


@dataclass
class Group:
    """The records of the points that differ only by seed."""

    method: str
    shown: dict[str, str]  # the options that vary across the sweep, as shown
    records: list[dict[str, Any]]

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "ok"]

    def values(self, key: str) -> list[Any]:
        return [r["result"].get(key) for r in self.ok]

    def hardware(self, key: str) -> list[Any]:
        return [(r["result"].get("hardware") or {}).get(key) for r in self.ok]


def varying_options(records: list[dict[str, Any]]) -> list[str]:
    """The options (but the seed) that take more than one value among the points of one method: the
    dataset, split and device first, then the others by name."""
    keys_of: dict[str, set[str]] = defaultdict(set)
    for r in records:
        keys_of[r["method"]] |= set(r["options"])
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        for k in keys_of[r["method"]]:
            values[(r["method"], k)].add(json.dumps(r["options"].get(k)))  # an option a point lacks: null
    keys = {k for (_, k), vs in values.items() if len(vs) > 1 and k != "seed"}
    return [k for k in NAMED_OPTIONS if k in keys] + sorted(keys - set(NAMED_OPTIONS))


def groups(records: list[dict[str, Any]]) -> tuple[list[str], list[Group]]:
    """(the varying options, the groups): configurations in the order they first appear, the search first and
    then the other methods in the order they first appear."""
    shown = varying_options(records)
    by_key: dict[str, Group] = {}
    for r in records:
        key = json.dumps([r["method"], {k: v for k, v in r["options"].items() if k != "seed"}], sort_keys=True)
        if key not in by_key:
            by_key[key] = Group(r["method"], {k: _value(r["options"].get(k, "-")) for k in shown}, [])
        by_key[key].records.append(r)
    configs = list(dict.fromkeys(tuple(g.shown.values()) for g in by_key.values()))
    methods = list(dict.fromkeys(g.method for g in by_key.values()))
    ordered = sorted(by_key.values(), key=lambda g: (configs.index(tuple(g.shown.values())), g.method != SEARCH,
                                                     methods.index(g.method)))
    return shown, ordered


def _short(commit: str | None) -> str:
    """``0123abc`` (``+dirty`` kept) of a commit hash."""
    if commit is None:
        return "unrecorded"
    sha, plus, rest = commit.partition("+")
    return sha[:7] + plus + rest


def _commits(g: Group) -> str:
    return ", ".join(sorted({_short((r.get("code") or {}).get("commit")) for r in g.records}))


def _cells(g: Group) -> dict[str, str]:
    """A group's figures as table cells, by column."""
    failed = len(g.records) - len(g.ok)
    seeds = [r["options"].get("seed") for r in g.ok if "seed" in r["options"]]
    totals = [r["result"].get("total_seconds", r.get("seconds")) for r in g.ok]
    return {
        "runs": f"{len(g.ok)}" + (f" + {failed} failed" if failed else ""),
        "seeds": seed_list(seeds) or "-",
        "test acc %": mean_std_text(g.values("test_accuracy"), 100),
        "model KiB": mean_std_text(g.values("model_size_kib"), 1, 2),
        "buffer KiB": mean_std_text([v if v is not None else h for v, h in zip(g.values("buffer_size_kib"),
                                                                     g.hardware("buffer_size_kib"), strict=True)]),
        "LUT": mean_std_text(g.hardware("lut"), 1, 0), "DSP": mean_std_text(g.hardware("dsp"), 1, 0),
        "BRAM36": mean_std_text(g.hardware("bram36"), 1, 1),
        "search s": mean_std_text(g.values("search_seconds"), 1, 0), "total s": mean_std_text(totals, 1, 0),
        "code": _commits(g),
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table without the columns that are ``-`` in every row."""
    if not rows:
        return ["No point of the sweep has ended yet."]
    keep = [i for i in range(len(header)) if any(row[i] != "-" for row in rows)]
    return ["| " + " | ".join(header[i] for i in keep) + " |", "|" + "---|" * len(keep)] + \
        ["| " + " | ".join(row[i] for i in keep) + " |" for row in rows]


def main_table(shown: list[str], gs: list[Group]) -> list[str]:
    columns = ["runs", "seeds", "test acc %", "model KiB", "buffer KiB", "LUT", "DSP", "BRAM36", "search s",
               "total s", "code"]
    rows = [[*g.shown.values(), g.method, *(_cells(g)[c] for c in columns)] for g in gs]
    return _table([*shown, "method", *columns], rows)


def readme_table(shown: list[str], gs: list[Group]) -> list[str]:
    """The compact table of a README: configuration, method, seeds, test accuracy, model size, LUT/DSP/BRAM."""
    columns = ["test acc %", "model KiB", "LUT", "DSP", "BRAM36"]
    rows = []
    for g in gs:
        cells = _cells(g)
        rows.append([", ".join(g.shown.values()) or "-", g.method, str(len(g.ok)), *(cells[c] for c in columns)])
    return _table([" / ".join(shown) or "configuration", "method", "seeds", *columns], rows)


def layer_statistics(records: list[dict[str, Any]]) -> tuple[dict, dict, dict]:
    """Per method with architectures: (bitwidth counts by scope (``all``, ``layer<i>``) and component,
    operator counts, lineage counts) over the ok records."""
    from lpgnas.search.space import LayerChoice

    quant: dict[str, dict[str, dict[str, Counter]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(Counter)))
    ops: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    lineage: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        arch = r["result"].get("architecture") if r["status"] == "ok" else None
        if not arch:
            continue
        m = r["method"]
        for i, recorded in enumerate(arch):
            layer = LayerChoice.from_dict(recorded).to_dict()  # records before q_bias: the aggregation's bits
            for comp in COMPONENTS:
                quant[m]["all"][comp][str(layer[comp])] += 1
                quant[m][f"layer{i}"][comp][str(layer[comp])] += 1
            ops[m]["attention"][layer["attention"]] += 1
            ops[m]["aggregation"][layer["aggregation"]] += 1
            if i < len(arch) - 1:
                ops[m]["activation"][layer["activation"]] += 1
                ops[m]["hidden x heads"][f"{layer['hidden']}x{layer['heads']}"] += 1
        if r["result"].get("descends_from"):
            lineage[m][r["result"]["descends_from"]] += 1
    return quant, ops, lineage


def _counts(c: Counter, numeric: bool = False) -> str:
    items = sorted(c.items(), key=lambda kv: int(kv[0])) if numeric else sorted(c.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k}: {n}" for k, n in items)


def markdown(doc: dict[str, Any], plots: list[Path], sweep: Path | None = None) -> str:
    records = doc["records"]
    shown, gs = groups(records)
    c = doc["counts"]
    lines = [
        f"# Sweep report: {doc['spec']}", "",
        f"Generated by `lpgnas sweep report` from `{RESULTS}` (spec `{doc['spec']}`, sha256 "
        f"`{doc['spec_sha256'][:16]}`, updated {doc['updated']}): {doc['points_in_spec']} points in the spec, "
        f"{c['ok']} ok, {c['failed']} failed, {c['not_run']} not run.", "",
        "One row per group of points that differ only by seed; mean ± std over the seeds of its ok runs. "
        "test acc: the method's test accuracy (golden integer model of the exported IR; float baselines: the "
        "float model). Model size: weights + biases (+ attention vectors) at their bitwidths. Buffer, LUT, DSP, "
        "BRAM36: the hardware estimate of the exported IR. search s: the search loop (random search: its "
        "sampling); total s: the whole command. code: the commit each run was measured at.", "",
        *main_table(shown, gs),
    ]
    floats = {", ".join(g.shown.values()): g.values("float_gcn16_model_size_kib")[0]
              for g in gs if g.ok and g.values("float_gcn16_model_size_kib")[0]}
    if floats:
        lines += ["", "32-bit float GCN 2x16 model size (KiB) per configuration: "
                  + "; ".join(f"{k} {v:.1f} (1/8: {v / 8:.2f})" for k, v in floats.items())]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p.stem}]({PLOTS}/{p.name})" for p in plots if p.stem != FRONTS_PLOT]
    lines += fronts.markdown(fronts.rows(records, sweep), next((p for p in plots if p.stem == FRONTS_PLOT), None),
                             PLOTS)
    quant, ops, lineage = layer_statistics(records)
    if quant:
        lines += ["", "## Quantisation chosen", "",
                  "How often each bitwidth was chosen per component, per layer and over all layers of the ok runs "
                  "that exported an architecture (weights: 1 = binary, 2 = ternary).", "",
                  "| method | scope | component | bits: count |", "|---|---|---|---|"]
        for m, scopes in quant.items():
            for scope, comps in sorted(scopes.items(), key=lambda kv: (kv[0] != "all", kv[0])):
                lines += [f"| {m} | {scope} | {comp} | {_counts(counts, numeric=True)} |"
                          for comp, counts in comps.items()]
        lines += ["", "## Operators chosen", ""]
        for m, kinds in ops.items():
            lines += [f"- {m}, {k}: {_counts(v)}" for k, v in kinds.items()]
    if lineage:
        lines += ["", "## Where the exported designs come from", "",
                  "Following the local search back from each exported design to a design screened first: a draw "
                  "from the controllers or an anchor (one W8A8 textbook design per attention operator).", ""]
        lines += [f"- {m}: {_counts(v)}" for m, v in lineage.items()]
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed points", ""] + [f"- {r['point']}: {r.get('error')}" for r in failed]
    return "\n".join(lines) + "\n"


# ---- plots -----------------------------------------------------------------------------------------------------

def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def accuracy_plot(gs: list[Group], path: Path) -> bool:
    """Test accuracy over model size (log) per configuration, every method a marker with std error bars."""
    import matplotlib.pyplot as plt

    configs = list(dict.fromkeys(", ".join(g.shown.values()) for g in gs))
    methods = list(dict.fromkeys(g.method for g in gs))
    points = defaultdict(list)
    for g in gs:
        acc, size = mean_std(g.values("test_accuracy")), mean_std(g.values("model_size_kib"))
        if acc and size and size[0] > 0:
            points[", ".join(g.shown.values())].append((g.method, size, acc))
    if not points:
        return False
    configs = [c for c in configs if points[c]]
    fig, axes = panel_grid(len(configs), 4.2, 3.2)
    cmap = plt.get_cmap("tab20")
    for ax, config in zip(axes.flat, configs, strict=False):
        sizes = [size[0] for _, size, _ in points[config]]
        lo, hi = min(sizes) / 1.5, max(sizes) * 1.5
        for m, size, acc in points[config]:
            i = methods.index(m)
            ax.errorbar(size[0], 100 * acc[0], xerr=size[1], yerr=100 * acc[1], fmt=MARKS[i % len(MARKS)],
                        color=cmap(i % 20), label=m, capsize=2, markersize=5)
        log_panel(ax, lo, hi, config or "all", "model size (KiB)", "test accuracy (%)")
    finish_panels(fig, axes, len(configs))
    _save(fig, path)
    return True


def bitwidth_plot(quant: dict[str, dict[str, dict[str, Counter]]], path: Path) -> bool:
    """Per component, how often each bitwidth was chosen over all layers, one bar per method."""
    import matplotlib.pyplot as plt

    if not quant:
        return False
    fig, axes = plt.subplots(2, 3, figsize=(12, 6))
    methods = list(quant)
    width = 0.8 / len(methods)
    for ax, comp in zip(axes.flat, COMPONENTS, strict=True):
        bits = sorted({int(b) for m in methods for b in quant[m]["all"].get(comp, {})})
        for i, m in enumerate(methods):
            counts = quant[m]["all"].get(comp, Counter())
            ax.bar([j + i * width for j in range(len(bits))], [counts.get(str(b), 0) for b in bits], width,
                   label=m)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(bits))], [str(b) for b in bits])
        ax.set_title(comp, fontsize=9)
        ax.set_xlabel("bits", fontsize=8)
        ax.set_ylabel("layers", fontsize=8)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    return True


def time_plot(gs: list[Group], path: Path) -> bool:
    """The total seconds of the ok runs, one box per method (log scale)."""
    import matplotlib.pyplot as plt

    times: dict[str, list[float]] = defaultdict(list)
    for g in gs:
        times[g.method] += [t for t in (r["result"].get("total_seconds", r.get("seconds")) for r in g.ok)
                            if t is not None and t > 0]
    times = {m: ts for m, ts in times.items() if ts}
    if not times:
        return False
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(times)), 3.6))
    ax.boxplot(list(times.values()), tick_labels=list(times))
    ax.set_yscale("log")
    ax.set_ylabel("total seconds per run", fontsize=8)
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    _save(fig, path)
    return True


def write_plots(sweep: Path, doc: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    _, gs = groups(doc["records"])
    quant, _, _ = layer_statistics(doc["records"])
    folder = Path(sweep) / PLOTS
    written = []
    for name, draw in (("accuracy_vs_model_size", lambda p: accuracy_plot(gs, p)),
                       ("bitwidths", lambda p: bitwidth_plot(quant, p)), ("run_times", lambda p: time_plot(gs, p))):
        path = folder / f"{name}.png"
        if draw(path):
            written.append(path)
    fig = fronts.fronts_figure(fronts.rows(doc["records"], Path(sweep)))
    if fig is not None:
        written.append(folder / f"{FRONTS_PLOT}.png")
        _save(fig, written[-1])
    return written


# ---- the README region -----------------------------------------------------------------------------------------

def rewrite_readme(readme: Path, table: list[str]) -> None:
    """Replace what lies between :data:`BEGIN` and :data:`END` in ``readme`` by ``table``; the rest stays."""
    try:
        text = readme.read_bytes().decode("utf-8")  # bytes: line ends stay as they are
    except (OSError, UnicodeDecodeError) as e:
        raise LpgnasError(f"--readme {readme}: cannot read it ({e})") from None
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise LpgnasError(f"--readme {readme}: needs one line {BEGIN} and, after it, one line {END}, around the "
                          "table to generate")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with atomic_path(readme) as tmp:
        tmp.write_bytes((head + BEGIN + "\n" + "\n".join(table) + "\n" + END + tail).encode("utf-8"))


def write_report(sweep: Path, readme: Path | None = None) -> list[Path]:
    """``SWEEP/report.md`` and ``SWEEP/plots/*.png`` from ``SWEEP/results.json`` (and the main table into
    ``readme``'s region); the paths written."""
    sweep = Path(sweep)
    doc = load_results(sweep)
    if readme is not None:
        shown, gs = groups(doc["records"])
        rewrite_readme(Path(readme), readme_table(shown, gs))
    plots = write_plots(sweep, doc)
    write_text_atomic(sweep / REPORT, markdown(doc, plots, sweep))
    return [sweep / REPORT, *plots] + ([Path(readme)] if readme is not None else [])
