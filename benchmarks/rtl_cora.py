"""Benchmark: full-Cora inference of a trained 2-layer W8A8 GCN in RTL simulation, plus Yosys counts.

Trains (or reuses) the model, generates the design for the whole graph, simulates it under Verilator,
checks every output word against the golden model, and reports cycles, simulated cycles per wall-clock
and per CPU second, and cycles / ideal with ideal = sum over layers of
N*ceil(F_in/P_in)*ceil(F_out/P_out) + (E+N)*ceil(F_out/P_agg); then Yosys synth_xilinx on xc7 and xcup.
Writes benchmarks/results/rtl_cora.{json,md}.

    .venv/bin/python benchmarks/rtl_cora.py [--data-root ../shared/datasets] [--run DIR] [--no-synth]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

from lpgnas.datasets import recorded_feature_mode
from lpgnas.fileio import write_json_atomic, write_text_atomic
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.inputs import design_inputs, training_config
from lpgnas.ir import load_ir
from lpgnas.search.train import TrainConfig, train
from lpgnas.sim.rtl import run_rtl
from lpgnas.sim.synth import run_synth

#: the benchmarked parallelism: 16 products per cycle in each transform lane group, 8 aggregation lanes
PARALLELISM = [LayerHW(p_in=8, p_out=8, p_agg=8), LayerHW(p_in=8, p_out=7, p_agg=7)]


def issue_ideal(ir, hw: HardwareConfig, n: int, e: int) -> int:
    """The issue's ideal: transform and aggregation loops only, no pipeline fill, no host I/O."""
    total = 0
    for layer, p in zip(ir.layers, hw.layers, strict=True):
        total += n * layer.heads * math.ceil(layer.in_features / p.p_in) * math.ceil(layer.out_features / p.p_out)
        total += e * layer.heads * math.ceil(layer.out_features / p.p_agg)  # e counts the N self-loops
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--run", default=None, help="reuse a run folder with model.ir.json (default: train one)")
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lpgnas-rtl-cora-"))
    run = Path(args.run) if args.run else work / "run"
    if not (run / "model.ir.json").is_file():
        train(TrainConfig(dataset="Cora", wbits=8, abits=8), run, data_root=args.data_root)
    ir = load_ir(run / "model.ir.json")
    graph, x = design_inputs(ir, "Cora", args.data_root, None, recorded_feature_mode(training_config(ir)))
    hw = HardwareConfig(device="xc7z020", max_nodes=graph.num_nodes, max_edges=graph.num_edges,
                        layers=PARALLELISM).check(ir)
    hw_dir = generate_design(ir, graph, x, work / "hw", hw=hw)
    t0 = time.time()
    r = run_rtl(hw_dir, simulator="verilator")
    ideal = issue_ideal(ir, hw, graph.num_nodes, graph.num_edges)
    result = {
        "nodes": graph.num_nodes, "edges_with_self_loops": graph.num_edges, "parallelism": hw.to_dict()["layers"],
        "bit_exact": r["bit_exact"], "mismatches": r["mismatches"], "output_words": r.get("num_outputs"),
        "cycles": r["cycles"], "ideal_cycles": ideal, "cycles_over_ideal": r["cycles"] / ideal,
        "sim_wall_seconds": r["wall_seconds"], "sim_cpu_seconds": r.get("cpu_seconds"),
        "cycles_per_wall_second": r["cycles_per_second"],
        "cycles_per_cpu_second": r["cycles"] / r["cpu_seconds"] if r.get("cpu_seconds") else None,
        "build_seconds": r.get("build_seconds"), "total_seconds": time.time() - t0,
        "test_accuracy_golden": json.loads((run / "metrics.json").read_text())["test_accuracy_golden"],
        "synth": {},
    }
    if not args.no_synth:
        for family in ("xc7", "xcup"):
            s = run_synth(hw_dir, family=family)
            result["synth"][family] = {**s["resources"], "seconds": s["seconds"]}
    out = Path(args.out)
    write_json_atomic(out / "rtl_cora.json", result)
    lines = ["# Full-Cora RTL simulation of a 2-layer W8A8 GCN", "",
             f"{result['nodes']} nodes, {result['edges_with_self_loops']} edges with self-loops; parallelism "
             + ", ".join(f"layer{i}: P_in={p.p_in} P_out={p.p_out} P_agg={p.p_agg}" for i, p in enumerate(hw.layers)),
             "", "| bit-exact (all outputs) | cycles | ideal | cycles / ideal | cycles per wall s | cycles per CPU s |",
             "|---|---|---|---|---|---|",
             f"| {result['bit_exact']} ({result['mismatches']} mismatches) | {result['cycles']:,} | {ideal:,} | "
             f"{result['cycles_over_ideal']:.4f} | {result['cycles_per_wall_second']:,.0f} | "
             + (f"{result['cycles_per_cpu_second']:,.0f} |" if result["cycles_per_cpu_second"] else "– |")]
    if result["synth"]:
        lines += ["", "Yosys `synth_xilinx`:", "", "| family | LUT | FF | CARRY | DSP | BRAM18 | BRAM36 | LUTRAM |",
                  "|---|---|---|---|---|---|---|---|"]
        for fam, s in result["synth"].items():
            lines.append(f"| {fam} | " + " | ".join(str(s.get(k)) for k in ("LUT", "FF", "CARRY", "DSP", "BRAM18",
                                                                         "BRAM36", "LUTRAM")) + " |")
    write_text_atomic(out / "rtl_cora.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
