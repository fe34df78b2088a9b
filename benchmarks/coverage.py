"""Coverage of issue #36 part 6: every dataset on every device preset, a design that fits or a clear reason.

Per dataset x device: a W8A8 GCN 2x16 of the dataset's shape (``lpgnas.testing.random_ir``: the cost and the
placement depend on the shapes and formats, not on trained weights) explored on the whole graph with the
histogram of its input codes, first with every buffer on chip (``offchip="never"``, the v1 placement) and then
with ``offchip="auto"`` (host buffers in the device's external memory, then row buffers until it fits). Recorded:
fits or the fit error, the placement, BRAM / LUT / DSP, the estimated cycles and latency at the device clock. For
each design that fits with ``auto`` the RTL is generated and linted with Verilator (``--lint-only -Wall``): it
builds. Not simulated here (that is benchmarks/accelerator_v2.py). Writes benchmarks/results/coverage.{json,md}.

    nice -n 10 python benchmarks/coverage.py [--datasets Cora,PubMed] [--devices xc7z020] [--no-lint]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from lpgnas.datasets import load_dataset
from lpgnas.devices import PRESETS, load_device
from lpgnas.errors import HardwareFitError
from lpgnas.fileio import write_json_atomic, write_text_atomic
from lpgnas.golden import quantize_features
from lpgnas.graph import CSRGraph
from lpgnas.hls_templates.rtl_writer import write_rtl
from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.dse import explore
from lpgnas.provenance import git_commit
from lpgnas.sparse import nonzero_histogram
from lpgnas.testing import random_ir

RESULTS = Path(__file__).parent / "results"
DATASETS = ("Cora", "CiteSeer", "PubMed", "Photo", "Computers", "CS", "Physics")


def lint(ir, hw) -> str:
    """``ok`` or Verilator's first complaint about the generated RTL."""
    with tempfile.TemporaryDirectory() as tmp:
        write_rtl(ir, hw, Path(tmp))
        sources = [str(Path(tmp) / s) for s in json.loads((Path(tmp) / "rtl.json").read_text())["sources"]]
        run = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "lpgnas_top", *sources],
                             capture_output=True, text=True)
    return "ok" if run.returncode == 0 and "%Warning" not in run.stderr else run.stderr.strip().splitlines()[0]


def measure(ir, graph: CSRGraph, hist, device: str, offchip: str, do_lint: bool) -> dict:
    t = time.time()
    try:
        hw, est = explore(ir, graph, device, feature_nonzeros=hist, offchip=offchip)
    except HardwareFitError as err:
        return {"fits": False, "why": str(err), "seconds": round(time.time() - t, 1)}
    seconds = round(time.time() - t, 1)
    tot = {k: nm.to_float(v) for k, v in est.totals().items()}
    row = {"fits": True, "latency_ms": tot["latency_us"] / 1000, "cycles": round(tot["cycles"]),
           "lut": round(tot["lut_total"]), "dsp": round(tot["dsp"]), "bram36": round(tot["bram36_equiv"], 1),
           "offchip": hw.offchip, "input": hw.layers[0].input,
           "parallelism": [[lh.p_in, lh.p_out, lh.p_agg] for lh in hw.layers], "seconds": seconds}
    if do_lint and offchip == "auto":
        row["lint"] = lint(ir, hw)
    return row


def render(doc: dict) -> str:
    lines = [
        "# Coverage: every dataset on every device preset (issue #36 part 6)", "",
        f"Written by `benchmarks/coverage.py` at {doc['commit']}: a W8A8 GCN 2x16 of each dataset's shape on the "
        "whole graph, explored with every buffer on chip (`never`) and with buffers placed in the device's "
        "external memory as needed (`auto`: host buffers off chip, then row buffers). Cycles and latency are the "
        "cost model's (stalls included, not yet calibrated against RTL runs with a memory model); `lint`: the "
        "generated RTL passes `verilator --lint-only -Wall`.", "",
        "| dataset | device | on chip only | auto: latency ms | cycles | BRAM36 | LUT | DSP | off chip | lint |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in doc["rows"].items():
        dataset, device = key.split("/")
        never, auto = r["never"], r["auto"]
        on = f"{never['latency_ms']:.2f} ms" if never["fits"] else "no"
        if auto["fits"]:
            lines.append(f"| {dataset} | {device} | {on} | {auto['latency_ms']:.2f} | {auto['cycles']:,} | "
                         f"{auto['bram36']:.0f} | {auto['lut']:,} | {auto['dsp']} | {', '.join(auto['offchip']) or '-'}"
                         f" | {auto.get('lint', '-')} |")
        else:
            lines.append(f"| {dataset} | {device} | {on} | does not fit: {auto['why']} | | | | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--devices", default=",".join(PRESETS))
    ap.add_argument("--no-lint", action="store_true")
    args = ap.parse_args()
    out_json, out_md = RESULTS / "coverage.json", RESULTS / "coverage.md"
    doc = {"commit": git_commit(), "rows": {}}
    for dataset in args.datasets.split(","):
        data = load_dataset(dataset)
        graph = CSRGraph.from_edge_index(data.edge_index.numpy(), data.num_nodes)
        ir = random_ir(np.random.default_rng(0), in_features=data.num_features, hidden=16,
                       num_classes=data.num_classes, name=f"gcn2x16_w8a8_{dataset}")
        hist = nonzero_histogram(quantize_features(ir, data.x.numpy()))
        for device in args.devices.split(","):
            load_device(device)
            row = {mode: measure(ir, graph, hist, device, mode, not args.no_lint) for mode in ("never", "auto")}
            doc["rows"][f"{dataset}/{device}"] = row
            brief = {m: (r["fits"], r.get("latency_ms"), r.get("why", "")[:80]) for m, r in row.items()}
            print(dataset, device, brief, flush=True)
            write_json_atomic(out_json, doc)
            write_text_atomic(out_md, render(doc))


if __name__ == "__main__":
    main()
