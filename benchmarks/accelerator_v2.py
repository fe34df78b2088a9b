"""Benchmark of issue #36 (accelerator v2): full-graph RTL simulation of trained GCNs on Cora, CiteSeer and
PubMed for the xc7z020 and xcu250 presets.

Per dataset x model x device: train the model (or reuse it from ``--out``), explore the design on the whole
graph with the histogram of the input codes (``explore(..., feature_nonzeros=)``: layer 0 dense or sparse),
generate it, simulate it under Verilator and compare every output word with the golden model. Recorded:
bit-exactness, cycles, latency at the device's clock, simulated cycles per second, the estimate's cycles, and
the sparse ideal, per layer ``max(ceil(non-zero multiplies / (P_in * P_out)), (E + N) * heads * ceil(F_out /
P_agg))`` summed over the layers (E + N: the edges with self-loops; layer 0's multiplies ``nnz(codes) * F_out *
heads``, the other layers' ``N * F_in * F_out * heads``). Beside each ``v2`` design: ``today``, the same model
explored with a dense input only (simulated where affordable), and for Cora W8A8 ``dsp135``, the design
explored on an xc7z020 with 135 DSP slices, against the 1,047,217 cycles of benchmarks/results/rtl_cora.md. A
design that does not fit records the fit error. Rows are resumed: a row measured at the current commit is
kept unless ``--rerun``. Writes benchmarks/results/accelerator_v2.{json,md} after every row.

    nice -n 10 python benchmarks/accelerator_v2.py [--datasets Cora,CiteSeer] [--devices xc7z020] \\
        [--models w8a8,w2a4] [--ir PATH ...] [--synth] [--rerun] [--out CACHE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

from lpgnas.datasets import recorded_feature_mode
from lpgnas.devices import load_device
from lpgnas.errors import HardwareFitError
from lpgnas.fileio import cache_root, write_json_atomic, write_text_atomic
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hw_model.dse import explore
from lpgnas.inputs import design_inputs, training_config
from lpgnas.ir import load_ir
from lpgnas.provenance import git_commit
from lpgnas.search.train import TrainConfig, train
from lpgnas.sim.rtl import run_rtl
from lpgnas.sim.synth import run_synth
from lpgnas.sparse import nonzero_histogram

RESULTS = Path(__file__).parent / "results"
DATASETS = ("Cora", "CiteSeer", "PubMed")
DEVICES = ("xc7z020", "xcu250")
#: the trained models: name -> (label, TrainConfig fields); the low-bit one stands in for a searched design
MODELS = {
    "w8a8": ("GCN 2x16 W8A8", {"hidden": 16, "wbits": 8, "abits": 8}),
    "w2a4": ("GCN 2x64 ternary-weight W2A4", {"hidden": 64, "wbits": 2, "abits": 4}),
}
EPOCHS, SEED = 200, 0
#: the designs of a model on a device: the DSE's choice, a dense layer 0 only (today), Cora W8A8 at 135 DSP
VARIANTS = ("v2", "today", "dsp135")
#: today's full-Cora figure (benchmarks/results/rtl_cora.md): trained W8A8 GCN 2x16, fixed P 8/8/8 + 8/7/7,
#: 135 DSP slices in Yosys
TODAY_CORA = {"cycles": 1_047_217, "dsp": 135}
#: a design's dense layer 0 is simulated only up to this many estimated cycles (and never on PubMed)
DENSE_SIM_MAX_CYCLES = 5_000_000
#: GenGNN (Abi-Karam et al., arXiv 2201.08475), DGN on an Alveo U50: the kernel times of their on-board runs
#: (sharc-lab/GenGNN, DGN/DGN_U50_LargeGraphExtension/<dataset>/opencl_summary.csv, mean of 2 runs)
GENGNN_MS = {"Cora": 48.6, "CiteSeer": 76.4, "PubMed": 282.0}


def sparse_ideal(ir, hw, num_nodes: int, num_edges: int, nonzeros: int) -> dict:
    """The issue's sparse ideal per layer and summed: products only where layer 0's input code is non-zero,
    compute and aggregation fully overlapped, no fill, no store."""
    layers = []
    for i, (layer, p) in enumerate(zip(ir.layers, hw.layers, strict=True)):
        rows = nonzeros if i == 0 else num_nodes * layer.in_features
        multiplies = rows * layer.out_features * layer.heads
        compute = math.ceil(multiplies / (p.p_in * p.p_out))
        aggregate = num_edges * layer.heads * math.ceil(layer.out_features / p.p_agg)
        layers.append({"multiplies": multiplies, "compute": compute, "aggregate": aggregate,
                       "ideal": max(compute, aggregate)})
    return {"layers": layers, "total": sum(layer["ideal"] for layer in layers)}


def design_summary(hw, est) -> dict:
    """Parallelism, layer-0 input and the estimate's cycles and device share."""
    usage = est.usage()
    return {
        "clock_mhz": hw.clock_mhz,
        "layers": [dataclasses.asdict(p) for p in hw.layers],
        "input": hw.layers[0].input,
        "max_nonzeros": hw.max_nonzeros,
        "estimate": {"cycles": float(est.cycles), "latency_us": float(est.latency_us),
                     **{k: {"used": round(u, 1), "available": a} for k, (u, a) in usage.items()},
                     "unit_cycles": {u.name: float(u.cycles) for u in est.units if float(u.cycles)}},
    }


class Bench:
    """The benchmark's state: options, caches, results (written after every row)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = Path(args.out)
        self.commit = git_commit()
        self.t0 = time.time()
        path = RESULTS / "accelerator_v2.json"
        self.doc = json.loads(path.read_text()) if path.is_file() else {}
        self.doc.setdefault("rows", {})
        self.models: dict[tuple[str, str], tuple] = {}

    def say(self, text: str) -> None:
        print(f"[{time.time() - self.t0:7.1f} s] {text}", flush=True)

    def model(self, dataset: str, name: str, ir_path: str | None = None):
        """(IR, graph, codes, accuracy, label) of a model, trained on first use and cached under --out."""
        key = (dataset, name)
        if key not in self.models:
            if ir_path is None:
                label, fields = MODELS[name]
                run = self.out / "models" / f"{dataset}-{name}"
                if not (run / "model.ir.json").is_file():
                    self.say(f"{dataset} {name}: training {label}, {EPOCHS} epochs")
                    train(TrainConfig(dataset=dataset, epochs=EPOCHS, seed=SEED, **fields), run,
                          data_root=self.args.data_root, progress=False)
                ir_file = run / "model.ir.json"
                acc = json.loads((run / "metrics.json").read_text())["test_accuracy_golden"]
            else:
                ir_file, acc = Path(ir_path), None
                label = f"IR {ir_file.parent.name}/{ir_file.name}"
            ir = load_ir(ir_file)
            graph, x = design_inputs(ir, dataset, self.args.data_root, None,
                                     recorded_feature_mode(training_config(ir)))
            self.models[key] = (ir, graph, x, acc, label)
        return self.models[key]

    def save(self) -> None:
        self.doc.update({"benchmark": "accelerator_v2 (issue #36)", "epochs": EPOCHS, "seed": SEED,
                         "today_cora": TODAY_CORA, "gengnn_dgn_u50_ms": GENGNN_MS})
        write_json_atomic(RESULTS / "accelerator_v2.json", self.doc)
        write_text_atomic(RESULTS / "accelerator_v2.md", render(self.doc))

    def row(self, dataset: str, device: str, model: str, variant: str, ir_path: str | None = None) -> None:
        """Measure one design (``variant``: v2, today or dsp135) unless it was measured at this commit."""
        key = f"{dataset}/{device}/{model}/{variant}"
        old = self.doc["rows"].get(key)
        if old and old.get("commit") == self.commit and not self.args.rerun:
            self.say(f"{key}: done at {self.commit}, kept")
            return
        ir, graph, x, acc, label = self.model(dataset, model, ir_path)
        n, e = graph.num_nodes, graph.num_edges
        hist = nonzero_histogram(x)
        nonzeros = sum(k * c for k, c in hist.items())
        row = {"dataset": dataset, "device": device, "model": model, "label": label, "variant": variant,
               "commit": self.commit, "date": time.strftime("%Y-%m-%d %H:%M"), "test_accuracy_golden": acc,
               "nodes": n, "edges_with_self_loops": e, "nonzero_codes": nonzeros}
        dev = load_device(device)
        if variant == "dsp135":
            dev = dataclasses.replace(dev, dsp=TODAY_CORA["dsp"])
        inputs = ("dense",) if variant == "today" else ("dense", "sparse")
        t = time.time()
        try:
            hw, est = explore(ir, graph, dev, feature_nonzeros=hist, inputs=inputs)
        except HardwareFitError as err:
            row["error"] = f"HardwareFitError: {err}"
            self.say(f"{key}: does not fit: {err}")
            self.finish(key, row)
            return
        row["dse_seconds"] = round(time.time() - t, 1)
        row.update(design_summary(hw, est))
        ideal = sparse_ideal(ir, hw, n, e, nonzeros)
        row["sparse_ideal"] = ideal
        self.say(f"{key}: {hw.layers[0].input} layer 0, P " + ", ".join(
            f"{p.p_in}/{p.p_out}/{p.p_agg}" for p in hw.layers) + f"; estimate {float(est.cycles):,.0f} cycles, "
            f"sparse ideal {ideal['total']:,}")
        if variant == "today" and (dataset not in self.args.dense_sim or est.cycles > DENSE_SIM_MAX_CYCLES):
            row["rtl"] = None  # estimate only: a dense full-graph run this large is not simulated
            self.finish(key, row)
            return
        t = time.time()
        design = self.out / "designs" / key.replace("/", "-")
        hw_dir = generate_design(ir, graph, x, design, hw=hw, replace=True)
        row["generate_seconds"] = round(time.time() - t, 1)
        self.say(f"{key}: generated in {row['generate_seconds']} s, simulating")
        r = run_rtl(hw_dir, simulator="verilator", build_dir=self.out / "build" / key.replace("/", "-"))
        cycles = r["cycles"]
        row["rtl"] = {
            "bit_exact": r["bit_exact"], "mismatches": r["mismatches"], "output_words": r.get("num_outputs"),
            "cycles": cycles, "latency_us": cycles / hw.clock_mhz,
            "cycles_over_estimate": cycles / float(est.cycles), "cycles_over_sparse_ideal": cycles / ideal["total"],
            "cycles_per_wall_second": r["cycles_per_second"],
            "cycles_per_cpu_second": cycles / r["cpu_seconds"] if r.get("cpu_seconds") else None,
            "sim_wall_seconds": r["wall_seconds"], "build_seconds": r.get("build_seconds"),
        }
        self.say(f"{key}: bit-exact {r['bit_exact']} ({r['mismatches']} mismatches), {cycles:,} cycles "
                 f"({cycles / hw.clock_mhz:,.1f} us at {hw.clock_mhz:g} MHz), {r['cycles_per_second']:,.0f} "
                 f"cycles/s, build {r.get('build_seconds') or 0:.0f} s")
        if self.args.synth and variant != "today" and dev.family == "xc7":
            s = run_synth(hw_dir, family=dev.family)
            row["synth"] = {**s["resources"], "seconds": round(s["seconds"], 1)}
            row["synth"].pop("cells", None)
            self.say(f"{key}: Yosys {row['synth'].get('DSP')} DSP, {row['synth'].get('LUT')} LUT")
        self.finish(key, row)

    def finish(self, key: str, row: dict) -> None:
        self.doc["rows"][key] = row
        self.save()


def _fmt(v, spec: str = ",.0f") -> str:
    return "–" if v is None else format(v, spec)


def render(doc: dict) -> str:
    """The Markdown page: a table per dataset, the DSP-budget comparison, the published figures."""
    rows = doc["rows"]
    commits = sorted({r.get("commit") or "?" for r in rows.values()})
    lines = [
        "# Accelerator v2 (issue #36): full-graph RTL simulation", "",
        "Written by `benchmarks/accelerator_v2.py` (rerun: `nice -n 10 python benchmarks/accelerator_v2.py`; it "
        "redoes every row measured at another commit). Models trained "
        f"{doc.get('epochs')} epochs, seed {doc.get('seed')}, public split; each design explored by the DSE on the "
        "whole graph with the input codes' histogram, simulated under Verilator on every node and compared word "
        "by word with the golden model. `v2`: the DSE's choice of layer-0 input (dense or sparse); `today`: the "
        "same model with a dense layer 0 only (– = estimate only, not simulated: PubMed, or too many cycles); "
        "latency at the preset's clock. Sparse ideal: per layer max(non-zero multiplies / (P_in P_out), "
        "(E + N) ceil(F_out / P_agg)), summed. Simulated cycles per CPU second: the run from ap_start to ap_done "
        "(memory images loaded before), on 2 cores shared with other jobs. Measured at: "
        + ", ".join(f"`{c[:12]}`" for c in commits) + ".",
        "",
    ]
    header = ("| model | test acc % | device | design | layer 0 | P_in/P_out/P_agg per layer | est. DSP | "
              "est. RAMB36 | bit-exact | cycles | latency us | est. cycles (RTL / est.) | sparse ideal (RTL / ideal) | "
              "sim cycles / CPU s |")
    for dataset in DATASETS + tuple(sorted({r["dataset"] for r in rows.values()} - set(DATASETS))):
        ds_rows = [r for r in rows.values() if r["dataset"] == dataset]
        if not ds_rows:
            continue
        r0 = ds_rows[0]
        nonzeros = {r["label"]: r["nonzero_codes"] for r in ds_rows}
        lines += [f"## {dataset}", "",
                  f"{r0['nodes']:,} nodes, {r0['edges_with_self_loops']:,} edges with self-loops; non-zero input "
                  "codes: " + ", ".join(f"{k} {v:,}" for k, v in nonzeros.items()) + ".", "",
                  header, "|" + "---|" * (header.count("|") - 1)]
        for r in sorted(ds_rows, key=lambda r: (r["model"], r["device"], VARIANTS.index(r["variant"]))):
            acc = r.get("test_accuracy_golden")
            head = f"| {r['label']} | {_fmt(acc and 100 * acc, '.1f')} | {r['device']} | {r['variant']} |"
            if "error" in r:
                lines.append(f"{head} {r['error']} |" + " |" * (header.count("|") - 6))
                continue
            p = ", ".join(f"{q['p_in']}/{q['p_out']}/{q['p_agg']}" for q in r["layers"])
            est, ideal, rtl = r["estimate"], r["sparse_ideal"]["total"], r.get("rtl")
            if rtl:
                sim = (f"{rtl['bit_exact']} | {rtl['cycles']:,} | {rtl['latency_us']:,.1f} | {est['cycles']:,.0f} "
                       f"({rtl['cycles_over_estimate']:.3f}) | {ideal:,} ({rtl['cycles_over_sparse_ideal']:.2f}) | "
                       f"{_fmt(rtl['cycles_per_cpu_second'])} |")
            else:
                sim = f"– | – | {est['latency_us']:,.1f} (est.) | {est['cycles']:,.0f} | {ideal:,} | – |"
            lines.append(f"{head} {r['input']} | {p} | {est['dsp']['used']:,.0f} | {est['bram36']['used']:,.1f} | "
                         + sim)
        lines.append("")
    lines += dsp_budget_section(rows) + synth_section(rows) + published_section(doc)
    return "\n".join(lines) + "\n"


def dsp_budget_section(rows: dict) -> list[str]:
    r = rows.get("Cora/xc7z020/w8a8/dsp135")
    if not r:
        return []
    today = TODAY_CORA["cycles"]
    out = ["## Cora, same DSP budget", "",
           f"The trained W8A8 GCN 2x16 on full Cora, explored on an xc7z020 whose DSP budget is "
           f"{TODAY_CORA['dsp']} (today's design: {today:,} cycles with {TODAY_CORA['dsp']} DSP in Yosys, "
           "benchmarks/results/rtl_cora.md). Target: >= 10x fewer cycles.", ""]
    if "error" in r:
        return out + [r["error"], ""]
    rtl = r.get("rtl") or {}
    synth = r.get("synth") or {}
    out += ["| layer 0 | P per layer | est. DSP | Yosys DSP | bit-exact | cycles | today / v2 |",
            "|---|---|---|---|---|---|---|",
            f"| {r['input']} | " + ", ".join(f"{q['p_in']}/{q['p_out']}/{q['p_agg']}" for q in r["layers"])
            + f" | {r['estimate']['dsp']['used']:,.0f} | {synth.get('DSP', '–')} | {rtl.get('bit_exact', '–')} | "
            f"{_fmt(rtl.get('cycles'))} | " + (f"{today / rtl['cycles']:.1f}x |" if rtl.get("cycles") else "– |"), ""]
    return out


def synth_section(rows: dict) -> list[str]:
    """Yosys counts of the designs synthesised with ``--synth``."""
    done = {k: r["synth"] for k, r in rows.items() if r.get("synth")}
    if not done:
        return []
    keys = ("LUT", "FF", "CARRY", "DSP", "BRAM18_equiv", "LUTRAM")
    return ["## Yosys `synth_xilinx` (xc7)", "", "| design | " + " | ".join(keys) + " | seconds |",
            "|---|" + "---|" * (len(keys) + 1)] + [
        f"| {k} | " + " | ".join(str(s.get(c, "–")) for c in keys) + f" | {s.get('seconds')} |"
        for k, s in done.items()] + [""]


def published_section(doc: dict) -> list[str]:
    """GenGNN's DGN figures beside our fastest simulated designs (latency at our preset clock)."""
    rows = doc["rows"]
    out = ["## Beside published figures", "",
           "GenGNN's DGN (Abi-Karam et al., arXiv 2201.08475; the on-board kernel times in sharc-lab/GenGNN, "
           "`DGN/DGN_U50_LargeGraphExtension/<dataset>/opencl_summary.csv`) on an Alveo U50 (xcu50), clock not set "
           "in its build files (the platform's default kernel clock). **Not comparable** beyond the order of "
           "magnitude: DGN (directional aggregation, 100 hidden units, more layers) in 32-bit floats, features "
           "read from HBM, against our quantised 2-layer GCNs with every buffer on chip, latency from RTL "
           "simulation at the preset clock (no place and route, no host transfer).", "",
           "| design | precision | device | clock MHz | " + " | ".join(DATASETS) + " |",
           "|---|---|---|---|" + "---|" * len(DATASETS),
           "| GenGNN DGN | float32 | Alveo U50 | default | "
           + " | ".join(f"{GENGNN_MS[d]:g} ms" for d in DATASETS) + " |"]
    for model, (label, _) in MODELS.items():
        for device in DEVICES:
            cells, clock = [], None
            for d in DATASETS:
                r = rows.get(f"{d}/{device}/{model}/v2") or {}
                rtl = r.get("rtl")
                if rtl and rtl["bit_exact"]:
                    clock = r["clock_mhz"]
                    cells.append(f"{rtl['latency_us'] / 1000:.3f} ms")
                else:
                    cells.append("does not fit" if "error" in r else "–")
            if clock is not None:
                out.append(f"| ours v2, {label} | {label.split()[-1]} | {device} | {clock:g} | " + " | ".join(cells)
                           + " |")
    return out + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma list (default: all three)")
    ap.add_argument("--devices", default=",".join(DEVICES), help="comma list of device presets")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    ap.add_argument("--ir", action="append", default=[], metavar="PATH",
                    help="also benchmark this IR (e.g. a search's front point) on the dataset it was trained on")
    ap.add_argument("--dense-sim", default="Cora,CiteSeer",
                    help="datasets whose dense-input (today) designs are simulated, not only estimated")
    ap.add_argument("--synth", action="store_true",
                    help="also run Yosys on the simulated v2 / dsp135 designs of xc7 devices (about 1-2 min each)")
    ap.add_argument("--rerun", action="store_true", help="redo rows already measured at this commit")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(cache_root() / "benchmarks" / "accelerator_v2"),
                    help="cache folder: trained models, designs, Verilator builds")
    args = ap.parse_args()
    args.dense_sim = set(filter(None, args.dense_sim.split(",")))
    bench = Bench(args)
    if args.render:
        bench.save()
        return
    bench.say(f"commit {bench.commit}, cache {bench.out}")
    devices = [d for d in args.devices.split(",") if d]
    for dataset in [d for d in args.datasets.split(",") if d]:
        for model in [m for m in args.models.split(",") if m]:
            for device in devices:
                bench.row(dataset, device, model, "v2")
                bench.row(dataset, device, model, "today")
            if dataset == "Cora" and model == "w8a8" and "xc7z020" in devices:
                bench.row(dataset, "xc7z020", model, "dsp135")
    for path in args.ir:
        dataset = training_config(load_ir(path)).get("dataset")
        for device in devices:
            for variant in ("v2", "today"):
                bench.row(dataset, device, f"ir-{Path(path).parent.name}-{Path(path).stem}", variant,
                          ir_path=path)
    bench.say("done")


if __name__ == "__main__":
    main()
