"""``lpgnas estimate``: the cost model's breakdown of an IR on a device.

    lpgnas estimate RUN/model.ir.json --device xc7z020 --dataset Cora [--data-root D] [--hw CONFIG
                    [--input dense|sparse]] [--nodes N | --full] [--clock MHZ] [--json]

Prints per unit and per layer LUT / LUTRAM / FF / DSP / BRAM18 / BRAM36 / cycles, the totals against
the device budget and whether the design fits (exit status 1 if not). Without ``--hw`` the design-space
exploration (:func:`hw_model.dse.explore`) chooses the parallelism, as ``lpgnas generate`` does; both size
for a breadth-first subgraph of ``--nodes`` (default 256) nodes unless ``--full``. A config whose layer 0
reads its features sparse (``--input sparse`` sets it) is costed on the input codes the design would read
(their non-zeros per row set its cycles; ``max_nonzeros`` is raised to hold them). Register with
``"lpgnas.hw_model.cli:add_parser"``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> None:
    from lpgnas.cli_args import dataset_help, device_help
    from lpgnas.inputs import DEFAULT_NODES

    p = subparsers.add_parser(
        "estimate",
        help="resources, latency and memory of the accelerator for an IR (analytical model)",
        description=(
            "Print the cost model's estimate of the accelerator for an IR: per unit and per layer LUT, "
            "LUTRAM, FF, DSP, RAMB18, RAMB36 and cycles, the latency, the model and buffer sizes, the usage "
            "against the device's budget and whether the design fits (exit status 1 if it does not). "
            "Without --hw the design-space exploration chooses the parallelism, the same choice lpgnas "
            "generate makes for the same IR, graph and device, so the two agree. "
            "Example: lpgnas estimate runs/gcn/model.ir.json --device xc7z020"
        ),
    )
    p.add_argument("ir", help="RUN/model.ir.json")
    p.add_argument("--device", default="xc7z020", help=device_help("xc7z020"))
    p.add_argument("--dataset", default=None, help=dataset_help(None, "graph to size for"))
    p.add_argument("--data-root", default=None, help="dataset root (default: $LPGNAS_DATA or the user cache)")
    p.add_argument("--hw", default=None, help="hardware config JSON (default: the design-space exploration's choice)")
    p.add_argument("--input", choices=("dense", "sparse"), default=None,
                   help="how layer 0 of the --hw config reads its input features: every feature, or only the "
                        "non-zeros (default: the config's)")
    p.add_argument("--nodes", type=int, default=DEFAULT_NODES,
                   help="estimate for a breadth-first subgraph of N nodes, as lpgnas generate sizes its design")
    p.add_argument("--full", action="store_true", help="estimate for the whole graph")
    p.add_argument("--clock", type=float, default=None,
                   help="clock in MHz (default: the --hw config's, else the device's clock_mhz, 100 for the presets)")
    p.add_argument("--json", action="store_true", help="print the full estimate as JSON")
    p.set_defaults(func=run_estimate)


def _graph_size(ir: Any, args: argparse.Namespace, codes: bool = False) -> tuple[int, int, str, dict | None]:
    """(N, E with self-loops, dataset, the input codes' row non-zero histogram if ``codes`` else None) of the
    graph the design is sized for (the codes as ``lpgnas generate`` writes them: ``lpgnas.inputs``)."""
    from lpgnas.errors import LpgnasError
    from lpgnas.inputs import training_config

    if args.nodes is not None and args.nodes < 1:
        raise LpgnasError(f"--nodes {args.nodes}: a subgraph needs at least 1 node")
    train_cfg = training_config(ir)
    dataset = args.dataset or train_cfg.get("dataset")
    if not dataset:
        raise LpgnasError("the IR does not name its dataset; pass --dataset NAME")
    nodes = None if args.full else args.nodes
    if codes:
        from lpgnas.datasets import recorded_feature_mode
        from lpgnas.inputs import design_inputs
        from lpgnas.sparse import nonzero_histogram

        graph, x = design_inputs(ir, dataset, args.data_root, nodes, recorded_feature_mode(train_cfg))
        return graph.num_nodes, graph.num_edges, dataset, nonzero_histogram(x)
    from lpgnas.datasets import load_dataset
    from lpgnas.graph import CSRGraph, bfs_nodes

    data = load_dataset(dataset, data_root=args.data_root)
    graph = CSRGraph.from_edge_index(data.edge_index.numpy(), data.num_nodes)
    if nodes is not None and nodes < graph.num_nodes:
        graph = graph.subgraph(bfs_nodes(graph, nodes))
    return graph.num_nodes, graph.num_edges, dataset, None


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-6 or abs(v) >= 100 else f"{v:,.1f}"


def format_estimate(est: Any, title: str = "") -> str:
    from lpgnas.hw_model.model import RESOURCES

    cols = (*RESOURCES, "cycles")
    lines = [title] if title else []
    head = f"{'unit':<22}" + "".join(f"{c:>11}" for c in cols)
    lines += [head, "-" * len(head)]
    for u in est.units:
        d = u.as_dict()
        lines.append(f"{u.name:<22}" + "".join(f"{_fmt(d[c]):>11}" for c in cols))
    lines.append("-" * len(head))
    for layer, row in est.per_layer().items():
        lines.append(f"{'= ' + layer:<22}" + "".join(f"{_fmt(row[c]):>11}" for c in cols))
    t = est.as_dict()["totals"]
    lines.append(f"{'TOTAL':<22}" + "".join(f"{_fmt(t[c]):>11}" for c in cols))
    lines.append("")
    lines.append(f"latency: {t['cycles']:,.0f} cycles = {t['latency_us']:,.1f} us at {est.clock_mhz:g} MHz")
    lines.append(
        f"model size: {t['model_bits']:,.0f} bits ({t['model_bits'] / 8192:,.1f} KiB); on-chip buffers: "
        f"{t['buffer_bits']:,.0f} bits ({t['buffer_bits'] / 8192:,.1f} KiB); host-side graph: "
        f"{est.as_dict()['graph_bits']:,.0f} bits"
    )
    lines.append(f"device {est.device.name} ({est.device.family}):")
    for k, (used, avail) in est.usage().items():
        pct = 100 * used / avail if avail else float("inf")
        lines.append(f"  {k:<7} {used:>12,.1f} / {avail:>10,}  {pct:6.1f}%{'  OVER' if used > avail else ''}")
    lines.append(
        "fits: yes"
        if est.fits
        else "fits: NO (" + ", ".join(f"{k} over by {v:,.1f}" for k, v in est.overuse().items()) + ")"
    )
    return "\n".join(lines)


def run_estimate(args: argparse.Namespace) -> int:
    from lpgnas.devices import check_clock_mhz, load_device
    from lpgnas.errors import HardwareFitError, LpgnasError
    from lpgnas.hw_model.dse import explore
    from lpgnas.hw_model.model import estimate
    from lpgnas.hwconfig import HardwareConfig
    from lpgnas.ir import load_ir

    ir = load_ir(args.ir)
    device = load_device(args.device)
    clock = None if args.clock is None else check_clock_mhz(args.clock, "--clock")
    hw = HardwareConfig.load(args.hw) if args.hw else None
    if args.input is not None:
        if hw is None or not hw.layers:
            raise LpgnasError("--input needs a --hw config with layers (without one, the design-space "
                              "exploration chooses layer 0's input itself)")
        hw.layers[0].input = args.input
    sparse = hw is not None and bool(hw.layers) and hw.layers[0].input == "sparse"
    n, e, dataset, hist = _graph_size(ir, args, codes=sparse or hw is None)
    if hw is not None:
        hw.device = device.name
        if clock is not None:
            hw.clock_mhz = clock
        hw.max_nodes, hw.max_edges = max(hw.max_nodes, n), max(hw.max_edges, e)
        if sparse:
            hw.max_nonzeros = max(hw.max_nonzeros, sum(k * c for k, c in hist.items()))
        est = estimate(ir, hw, (n, e), device, feature_nonzeros=hist)
        source = f"config {args.hw}"
    else:
        try:  # the same choice as lpgnas generate's (sim.cli.run_generate); the device's clock unless --clock
            hw, est = explore(ir, (n, e), device, clock_mhz=clock, feature_nonzeros=hist)
        except HardwareFitError as exc:  # the answer to "does it fit?" is no: a failed check, exit status 1
            print(f"fits: NO ({exc})")
            return 1
        source = "design-space exploration"
    if args.json:
        doc = est.as_dict() | {"hw_config": hw.to_dict(), "dataset": dataset, "num_nodes": n, "num_edges": e}
        print(json.dumps(doc, indent=2, allow_nan=False))
    else:
        par = ", ".join(
            f"{layer.name}: P_in={h.p_in} P_out={h.p_out} P_agg={h.p_agg} mult={h.mult}"
            + (" input=sparse" if h.input == "sparse" else "")
            for layer, h in zip(ir.layers, hw.layers, strict=True)
        )
        print(
            format_estimate(
                est, f"{ir.name} on {dataset} ({n} nodes, {e} edges with self-loops); parallelism from {source}: {par}"
            )
        )
    return 0 if est.fits else 1
