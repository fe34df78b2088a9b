"""``lpgnas generate``, ``lpgnas verify`` and ``lpgnas synth``: from an IR to checked hardware.

* ``generate RUN/model.ir.json --device D [--hw CONFIG] [--nodes N | --full] -o HW`` writes the design
  for the IR's dataset (from the IR's training metadata unless ``--dataset`` is given), sized for a
  breadth-first subgraph of N nodes (default 256) or the whole graph.
* ``verify HW [--sim verilator|icarus] [--csim] [--nodes N]`` runs the C and/or RTL simulation and
  compares every output word with the golden model; ``--nodes`` re-targets the data to a smaller
  subgraph first. Writes ``HW/verify.json``.
* ``synth HW --family xc7|xcup`` runs Yosys ``synth_xilinx`` and writes ``HW/synth.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lpgnas.datasets import recorded_feature_mode
from lpgnas.errors import LpgnasError
from lpgnas.fileio import write_json_atomic

DEFAULT_NODES = 256


def design_inputs(ir: Any, dataset: str, data_root: str | None, nodes: int | None, features: str):
    """(CSR graph, input codes) of ``dataset`` or of its breadth-first subgraph of ``nodes`` nodes, its
    features preprocessed as in training (``features``: a mode of ``lpgnas.datasets.FEATURE_MODES``)."""
    from lpgnas.datasets import load_dataset, preprocess_features
    from lpgnas.golden import quantize_features
    from lpgnas.graph import CSRGraph, bfs_nodes

    data = load_dataset(dataset, data_root=data_root)
    if data.num_features != ir.in_features:
        raise LpgnasError(f"{dataset} has {data.num_features} features, the IR expects {ir.in_features}")
    x = preprocess_features(data.x, features)  # over the whole graph, as in training, before any subgraph
    graph = CSRGraph.from_edge_index(data.edge_index.numpy(), data.num_nodes)
    x_np = x.numpy()
    if nodes is not None and nodes < graph.num_nodes:
        keep = bfs_nodes(graph, nodes)
        graph, x_np = graph.subgraph(keep), x_np[keep]
    return graph, quantize_features(ir, x_np)


def training_config(ir: Any) -> dict[str, Any]:
    """The configuration the IR was trained with (by ``lpgnas train`` or ``lpgnas search``), if recorded."""
    return ir.metadata.get("train_config") or ir.metadata.get("search_config") or {}


def _source(ir: Any, args: argparse.Namespace) -> dict[str, Any]:
    train_cfg = training_config(ir)
    dataset = args.dataset or train_cfg.get("dataset")
    if not dataset:
        raise LpgnasError("the IR does not name its dataset; pass --dataset NAME")
    return {"dataset": dataset, "data_root": args.data_root, "features": recorded_feature_mode(train_cfg)}


def run_generate(args: argparse.Namespace) -> int:
    from hls_templates.config import HardwareConfig, default_config
    from hls_templates.generate import generate_design
    from lpgnas.ir import load_ir

    ir = load_ir(args.ir)
    src = _source(ir, args)
    graph, x = design_inputs(ir, src["dataset"], src["data_root"], None if args.full else args.nodes,
                             src["features"])
    if args.hw:
        hw = HardwareConfig.load(args.hw)
        hw.device = args.device
    else:
        hw = default_config(ir, max_nodes=graph.num_nodes, max_edges=graph.num_edges, device=args.device)
    out = generate_design(ir, graph, x, args.out, hw=hw)
    write_json_atomic(out / "source.json", src | {"nodes": graph.num_nodes})
    print(f"wrote {out}: {graph.num_nodes} nodes, {graph.num_edges} edges (with self-loops); "
          f"HLS project in {out / 'hls'}, Verilog in {out / 'rtl'}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from hls_templates.generate import write_graph_data
    from lpgnas.ir import load_ir

    hw_dir = Path(args.hw_dir)
    if not (hw_dir / "design.json").is_file():
        raise LpgnasError(f"{hw_dir} is not a generated design (no design.json); run lpgnas generate first")
    ir = load_ir(hw_dir / "model.ir.json")
    if args.nodes is not None:
        src = json.loads((hw_dir / "source.json").read_text())
        graph, x = design_inputs(ir, src["dataset"], src["data_root"], args.nodes, recorded_feature_mode(src))
        write_graph_data(ir, graph, x, hw_dir)
    report: dict[str, Any] = {}
    if args.csim:
        from sim.csim import run_csim

        r = run_csim(hw_dir)
        report["csim"] = {k: r[k] for k in ("bit_exact", "mismatches", "wall_seconds")}
    if args.sim != "none":
        from sim.rtl import run_rtl

        r = run_rtl(hw_dir, simulator=args.sim)
        report[args.sim] = {k: r.get(k) for k in ("bit_exact", "mismatches", "cycles", "wall_seconds",
                                                   "cycles_per_second")}
    write_json_atomic(hw_dir / "verify.json", report)
    for backend, r in report.items():
        verdict = "bit-exact" if r["bit_exact"] else f"MISMATCH ({r['mismatches']} words)"
        cycles = f", {r['cycles']} cycles" if r.get("cycles") else ""
        print(f"{backend}: {verdict}{cycles}, {r['wall_seconds']:.1f} s")
    return 0 if all(r["bit_exact"] for r in report.values()) else 1


def run_synth_cmd(args: argparse.Namespace) -> int:
    from sim.synth import run_synth

    r = run_synth(Path(args.hw_dir), family=args.family)
    print(json.dumps(r, indent=2))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("generate", help="HLS C++ and Verilog for an IR")
    g.add_argument("ir", help="RUN/model.ir.json")
    g.add_argument("--device", default="xc7z020")
    g.add_argument("--hw", default=None, help="hardware config JSON (default: 4x4 transform, 4 lanes)")
    g.add_argument("--dataset", default=None, help="default: the dataset the IR was trained on")
    g.add_argument("--data-root", default=None)
    g.add_argument("--nodes", type=int, default=DEFAULT_NODES, help="size the design for a BFS subgraph")
    g.add_argument("--full", action="store_true", help="size the design for the whole graph")
    g.add_argument("-o", "--out", required=True)
    g.set_defaults(func=run_generate)

    v = sub.add_parser("verify", help="C / RTL simulation, compared bit for bit with the golden model")
    v.add_argument("hw_dir")
    v.add_argument("--sim", choices=["verilator", "icarus", "none"], default="verilator")
    v.add_argument("--csim", action="store_true", help="also run the C simulation (g++)")
    v.add_argument("--nodes", type=int, default=None, help="re-target to a BFS subgraph of N nodes")
    v.set_defaults(func=run_verify)

    s = sub.add_parser("synth", help="Yosys synth_xilinx resource counts")
    s.add_argument("hw_dir")
    s.add_argument("--family", choices=["xc7", "xcup"], default="xc7")
    s.set_defaults(func=run_synth_cmd)
