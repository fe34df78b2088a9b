"""``lpgnas flow``: dataset -> model (search or fixed architecture) -> design-space exploration ->
HLS + Verilog -> C simulation -> RTL simulation -> (Yosys) -> report, in one run folder.

Every stage records a fingerprint of its inputs (the options it depends on, the identity of the dataset's raw
files under the data root (``--data-root``, else ``$LPGNAS_DATA``), the toolkit version and the hashes of the
files it reads) in ``RUN/.flow/<stage>.json`` once its outputs are written (atomically). A rerun skips a stage
whose fingerprint and outputs are unchanged, so a run that was killed resumes at the stage it was in (the
search within it from its checkpoint), and a changed option redoes exactly the stages it affects. The run
folder is locked while the flow writes it: a second flow into it stops at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lpgnas import __version__
from lpgnas.errors import LpgnasError, ToolMissingError
from lpgnas.fileio import LOCK_NAME, folder_lock, write_json_atomic
from lpgnas.provenance import record_invocation, tool_versions

FLOW_DIR = ".flow"
UNIFORM_BASELINES = [(16, 16), (8, 8), (4, 8), (2, 8)]


@dataclass
class FlowConfig:
    """Options of a flow run (what the stages' fingerprints are made of)."""

    dataset: str = "Cora"
    device: str = "xc7z020"
    data_root: str | None = None
    arch: str | None = None  # a fixed architecture (attention name) instead of the search
    layers: int = 2
    hidden: int | None = None  # None: the architecture's default (GCN 16; GAT family 8 per head)
    heads: int | None = None  # None: the architecture's default (GCN 1; GAT family 8)
    wbits: int = 8
    abits: int = 8
    epochs: int = 200
    search_epochs: int = 60
    lam: float = 0.5
    nodes: int = 256
    full: bool = False
    rtl_sim: str = "verilator"
    synth: bool = False
    baselines: bool = True
    seed: int = 0
    point: int | None = None  # a point of the search's fronts to build instead of the shipped model
    max_latency_us: float | None = None  # ... or the most accurate within these limits
    max_kib: float | None = None

    @property
    def picks(self) -> bool:
        """Whether the hardware is built for a point of the search's fronts (not the shipped model)."""
        return self.point is not None or self.max_latency_us is not None or self.max_kib is not None

    @property
    def design_ir(self) -> str:
        """The IR the hardware stages build, relative to the run folder."""
        return "design.ir.json" if self.picks else "model.ir.json"


@dataclass
class Stage:
    name: str
    outputs: list[str]
    run: Callable[[Flow], None]
    reads: list[str] | Callable[[FlowConfig], list[str]] = field(default_factory=list)
    optional_reads: list[str] = field(default_factory=list)
    keys: tuple[str, ...] | Callable[[FlowConfig], tuple[str, ...]] = ()
    enabled: Callable[[FlowConfig], bool] = lambda cfg: True


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(path)).encode())
                h.update(p.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


class Flow:
    """One run folder and its stages."""

    def __init__(self, cfg: FlowConfig, run_dir: str | Path, progress: bool = True) -> None:
        self.cfg, self.run, self.progress = cfg, Path(run_dir), progress
        self.log: list[str] = []

    # ---- paths --------------------------------------------------------------------------------------
    @property
    def hw(self) -> Path:
        return self.run / "hw"

    def _stamp(self, stage: Stage) -> Path:
        return self.run / FLOW_DIR / f"{stage.name}.json"

    # ---- checks before any work --------------------------------------------------------------------
    def preflight(self, stages: list[Stage]) -> None:
        """Unknown dataset or device, missing tools, a folder that is not a run: say so before working."""
        from lpgnas.datasets import canonical_name
        from lpgnas.devices import load_device

        self.cfg.dataset = canonical_name(self.cfg.dataset)
        load_device(self.cfg.device)
        if (self.run.exists() and any(p.name != LOCK_NAME for p in self.run.iterdir())
                and not (self.run / FLOW_DIR).is_dir()):
            raise LpgnasError(f"{self.run} exists and is not an lpgnas run folder (no {FLOW_DIR}/); "
                              "choose a new -o folder or empty it")
        if self.cfg.picks and self.cfg.arch:
            raise LpgnasError("--point, --max-latency-us and --max-kib pick a point of the search's fronts; "
                              "leave out --arch (a fixed architecture has no fronts)")
        names = {s.name for s in stages if s.enabled(self.cfg)}
        if "csim" in names and shutil.which("g++") is None:
            raise ToolMissingError("g++ is needed for the C simulation: apt-get install g++ (or make venv)")
        if "rtl" in names:
            from lpgnas.sim.rtl import check_simulator

            check_simulator(self.cfg.rtl_sim)

    # ---- stage bookkeeping ---------------------------------------------------------------------------
    def fingerprint(self, stage: Stage) -> dict[str, Any]:
        from lpgnas.datasets import data_identity

        cfg = asdict(self.cfg)
        reads = {}
        for rel in stage.reads(self.cfg) if callable(stage.reads) else stage.reads:
            p = self.run / rel
            if not p.exists():
                raise LpgnasError(f"{p} is missing: the run folder is incomplete; rerun lpgnas flow")
            reads[rel] = _sha(p)
        for rel in stage.optional_reads:
            p = self.run / rel
            reads[rel] = _sha(p) if p.exists() else None
        keys = stage.keys(self.cfg) if callable(stage.keys) else stage.keys
        fp = {"config": {k: cfg[k] for k in keys}, "reads": reads, "version": __version__}
        if "data_root" in keys:  # the stage reads the dataset: its files, wherever they come from
            fp["data"] = data_identity(self.cfg.dataset, self.cfg.data_root)
        return fp

    def is_done(self, stage: Stage) -> bool:
        stamp = self._stamp(stage)
        if not stamp.is_file():
            return False
        try:
            rec = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            self.say(f"{stage.name}: its record {stamp} is corrupt; redoing the stage")
            return False
        if rec.get("fingerprint") != self.fingerprint(stage):
            return False
        for rel, digest in rec.get("outputs", {}).items():
            p = self.run / rel
            if not p.exists() or _sha(p) != digest:
                self.say(f"{stage.name}: {rel} is missing or was changed since the stage wrote it; redoing it")
                return False
        return True

    def mark_done(self, stage: Stage, fp: dict[str, Any], seconds: float) -> None:
        outputs = {rel: _sha(self.run / rel) for rel in stage.outputs}
        write_json_atomic(self._stamp(stage), {"fingerprint": fp, "outputs": outputs, "seconds": round(seconds, 2),
                                               "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def records(self) -> list[tuple[str, dict[str, Any]]]:
        """(stage, its record) of every finished stage, in flow order: what the report lists."""
        out = []
        for stage in STAGES:
            try:
                out.append((stage.name, json.loads(self._stamp(stage).read_text())))
            except (OSError, json.JSONDecodeError):
                continue
        return out

    def say(self, msg: str) -> None:
        self.log.append(msg)
        if self.progress:  # lpgnas -q: quiet
            print(f"[flow] {msg}", file=sys.stderr)

    def execute(self, stages: list[Stage]) -> dict[str, str]:
        """Run what is not done yet; returns stage -> 'ran' | 'skipped' | 'disabled'."""
        self.preflight(stages)
        with folder_lock(self.run):
            return self._execute(stages)

    def _execute(self, stages: list[Stage]) -> dict[str, str]:
        from lpgnas.progress import progress

        (self.run / FLOW_DIR).mkdir(parents=True, exist_ok=True)
        record_invocation(self.run, asdict(self.cfg))
        status = {}
        bar = progress(stages, desc="flow", enabled=self.progress, unit="stages", leave=True, terminal_only=True)
        for stage in bar:
            bar.set_postfix(stage=stage.name)
            if not stage.enabled(self.cfg):
                status[stage.name] = "disabled"
                continue
            if self.is_done(stage):
                status[stage.name] = "skipped"
                self.say(f"{stage.name}: up to date")
                continue
            self._stamp(stage).unlink(missing_ok=True)
            fp = self.fingerprint(stage)
            t0 = time.time()
            self.say(f"{stage.name}: running")
            stage.run(self)
            self.mark_done(stage, fp, time.time() - t0)
            status[stage.name] = "ran"
        return status

    # ---- shared inputs ------------------------------------------------------------------------------
    def ir(self):
        """The IR the hardware is built for: the shipped model, or the picked front point."""
        from lpgnas.ir import load_ir

        return load_ir(self.run / self.cfg.design_ir)

    def source(self, ir) -> dict[str, Any]:
        """Where the design's verification data come from (also saved as ``hw/source.json``)."""
        from lpgnas.datasets import recorded_feature_mode
        from lpgnas.inputs import training_config

        return {"dataset": self.cfg.dataset, "data_root": self.cfg.data_root,
                "features": recorded_feature_mode(training_config(ir))}

    def design_graph(self, ir):
        from lpgnas.inputs import design_inputs

        src = self.source(ir)
        return design_inputs(ir, src["dataset"], src["data_root"], None if self.cfg.full else self.cfg.nodes,
                             src["features"])


# ---- the stages ---------------------------------------------------------------------------------------

def _model(flow: Flow) -> None:
    cfg = flow.cfg
    if cfg.arch:
        from lpgnas.search.train import preset_config, train

        train(preset_config(cfg.arch, dataset=cfg.dataset, layers=cfg.layers, hidden=cfg.hidden, heads=cfg.heads,
                            wbits=cfg.wbits, abits=cfg.abits, epochs=cfg.epochs, seed=cfg.seed),
              flow.run, data_root=cfg.data_root, progress=flow.progress)
    else:
        from lpgnas.search.config import SearchConfig
        from lpgnas.search.run import search

        warmup = max(1, cfg.search_epochs // 2)
        search(SearchConfig(dataset=cfg.dataset, device=cfg.device, layers=cfg.layers, lam=cfg.lam,
                            epochs=cfg.search_epochs, warmup=warmup, retrain_epochs=cfg.epochs,
                            screen_epochs=min(SearchConfig.screen_epochs, cfg.epochs), seed=cfg.seed),
               flow.run, data_root=cfg.data_root, resume=None, progress=flow.progress)  # a killed search resumes


def _pick(flow: Flow) -> None:
    from lpgnas.ir import load_ir
    from lpgnas.search.export_cli import pick_point, read_pareto

    cfg = flow.cfg
    point = pick_point(read_pareto(flow.run), cfg.point, cfg.max_latency_us, cfg.max_kib)
    load_ir(flow.run / point["ir"]).save(flow.run / "design.ir.json")
    write_json_atomic(flow.run / "point.json", point)
    flow.say(f"pick: front point {point['point']} ({point['latency_us']:.1f} us, {point['model_size_kib']:.3f} KiB, "
             f"validation {point['val_accuracy']:.3f})")


def _baselines(flow: Flow) -> None:
    from lpgnas.search.train import TrainConfig, train

    rows = []
    for wbits, abits in UNIFORM_BASELINES:
        sub = flow.run / "baselines" / f"gcn_w{wbits}a{abits}"
        m = train(TrainConfig(dataset=flow.cfg.dataset, arch="gcn", layers=2, hidden=16, wbits=wbits, abits=abits,
                              epochs=flow.cfg.epochs, seed=flow.cfg.seed),
                  sub, data_root=flow.cfg.data_root, progress=False)
        from lpgnas.ir import load_ir
        from lpgnas.search.cost import model_size_bits

        rows.append({"name": f"GCN W{wbits}A{abits}", "wbits": wbits, "abits": abits,
                     "ir_path": str((sub / "model.ir.json").relative_to(flow.run)),
                     "test_accuracy_golden": m["test_accuracy_golden"],
                     "test_accuracy_float": m["test_accuracy_float"],
                     "model_kib": model_size_bits(load_ir(sub / "model.ir.json")) / 8192})
    write_json_atomic(flow.run / "baselines.json", rows)


def _estimate(flow: Flow) -> None:
    from lpgnas.hw_model.dse import explore
    from lpgnas.sparse import nonzero_histogram

    ir = flow.ir()
    graph, x = flow.design_graph(ir)
    hw, est = explore(ir, graph, flow.cfg.device, feature_nonzeros=nonzero_histogram(x))
    hw.save(flow.run / "hw_config.json")
    write_json_atomic(flow.run / "estimate.json", est.as_dict())


def _generate(flow: Flow) -> None:
    from lpgnas.hls_templates.generate import generate_design
    from lpgnas.hwconfig import HardwareConfig

    ir = flow.ir()
    graph, x = flow.design_graph(ir)
    generate_design(ir, graph, x, flow.hw, hw=HardwareConfig.load(flow.run / "hw_config.json"),
                    source=flow.source(ir) | {"nodes": graph.num_nodes}, replace=True)


def _csim(flow: Flow) -> None:
    from lpgnas.sim.csim import find_cxx, run_csim

    r = run_csim(flow.hw, build_dir=flow.run / "build" / "csim")
    write_json_atomic(flow.run / "verify_csim.json", {k: r[k] for k in ("bit_exact", "mismatches", "wall_seconds")}
                      | {"words_compared": r["expected_words"]} | tool_versions("g++", find_cxx()))


def _rtl(flow: Flow) -> None:
    from lpgnas.sim.rtl import run_rtl, tool_env

    r = run_rtl(flow.hw, simulator=flow.cfg.rtl_sim, build_dir=flow.run / "build" / flow.cfg.rtl_sim)
    with tool_env():
        versions = tool_versions(flow.cfg.rtl_sim)
    write_json_atomic(flow.run / "verify_rtl.json", {k: r.get(k) for k in (
        "simulator", "bit_exact", "mismatches", "cycles", "wall_seconds", "cycles_per_second")}
                      | {"words_compared": r["num_outputs"]} | versions)


def _synth(flow: Flow) -> None:
    from lpgnas.devices import load_device
    from lpgnas.sim.synth import run_synth

    r = run_synth(flow.hw, family=load_device(flow.cfg.device).family)
    write_json_atomic(flow.run / "synth.json", r)


def _report(flow: Flow) -> None:
    from lpgnas.report import write_report

    write_report(flow.run, flow.records())


TRAIN_KEYS = ("dataset", "data_root", "arch", "layers", "hidden", "heads", "wbits", "abits", "epochs", "seed")
SEARCH_KEYS = ("dataset", "data_root", "layers", "epochs", "search_epochs", "lam", "seed", "device")


def _model_keys(cfg: FlowConfig) -> tuple[str, ...]:
    """A fixed architecture does not depend on the device; the hardware-aware search does."""
    return TRAIN_KEYS if cfg.arch else SEARCH_KEYS


GRAPH_KEYS = ("dataset", "data_root", "nodes", "full", "device")


def _design_files(cfg: FlowConfig) -> list[str]:
    """The IR (and its tensors) the hardware stages read."""
    return [cfg.design_ir, cfg.design_ir.replace(".ir.json", ".ir.npz")]

STAGES: list[Stage] = [
    Stage("model", ["model.ir.json", "model.ir.npz", "metrics.json"], _model, keys=_model_keys),
    Stage("pick", ["design.ir.json", "design.ir.npz", "point.json"], _pick, reads=["pareto.json"],
          keys=("point", "max_latency_us", "max_kib"), enabled=lambda c: c.picks),
    Stage("baselines", ["baselines.json"], _baselines, keys=("dataset", "data_root", "epochs", "seed", "baselines"),
          enabled=lambda c: c.baselines),
    Stage("estimate", ["hw_config.json", "estimate.json"], _estimate, reads=_design_files, keys=GRAPH_KEYS),
    Stage("generate", ["hw/hls", "hw/rtl", "hw/data", "hw/design.json"], _generate,
          reads=lambda c: [*_design_files(c), "hw_config.json"], keys=GRAPH_KEYS),
    Stage("csim", ["verify_csim.json"], _csim, reads=["hw/hls", "hw/data"]),
    Stage("rtl", ["verify_rtl.json"], _rtl, reads=["hw/rtl", "hw/data"], keys=("rtl_sim",),
          enabled=lambda c: c.rtl_sim != "none"),
    Stage("synth", ["synth.json"], _synth, reads=["hw/rtl"], keys=("device",), enabled=lambda c: c.synth),
    Stage("report", ["report.md", "report.html"], _report,
          reads=["metrics.json", "estimate.json", "verify_csim.json"],
          optional_reads=["baselines.json", "verify_rtl.json", "synth.json", "search_log.jsonl", "pareto.json",
                          "point.json"]),
]


def run_flow(cfg: FlowConfig, run_dir: str | Path, progress: bool = True) -> dict[str, str]:
    """Run (or resume) the flow; returns what each stage did."""
    return Flow(cfg, run_dir, progress).execute(STAGES)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from lpgnas.cli_args import dataset_help, device_help
    from lpgnas.operators import ATTENTIONS
    from lpgnas.search.export_cli import add_pick_arguments

    p = sub.add_parser(
        "flow", help="dataset -> model -> hardware -> verification -> report, resumable",
        description=(
            "Run the whole flow in one run folder: the model (the LPGNAS search, or training of a fixed "
            "architecture with --arch), uniform GCN baselines, the design-space exploration, HLS C++ and "
            "Verilog generation, C simulation, RTL simulation, optionally Yosys synthesis, and a report "
            "(RUN/report.html and report.md). Each stage records what it was made from in RUN/.flow/; a "
            "rerun skips the stages whose inputs are unchanged and resumes a killed run, and a changed "
            "option redoes exactly the stages it affects. "
            "Example: lpgnas flow --dataset Cora --device xc7z020 --arch gcn -o runs/demo"
        ),
    )
    d = FlowConfig()
    p.add_argument("--dataset", default=d.dataset, help=dataset_help(d.dataset))
    p.add_argument("--device", default=d.device, help=device_help(d.device))
    p.add_argument("--data-root", default=None, help="dataset root (default: $LPGNAS_DATA or the user cache)")
    p.add_argument("--arch", default=None,
                   help=f"train this fixed architecture instead of searching: {', '.join(ATTENTIONS)} "
                        "(default: none, search)")
    p.add_argument("--layers", type=int, default=d.layers, help="GNN layers")
    p.add_argument("--hidden", type=int, default=d.hidden,
                   help="with --arch: width per head (default: GCN 16, GAT family 8 as Velickovic et al.)")
    p.add_argument("--heads", type=int, default=d.heads, help="with --arch (default: GCN 1, GAT family 8)")
    p.add_argument("--wbits", type=int, default=d.wbits, help="with --arch: weight bits")
    p.add_argument("--abits", type=int, default=d.abits, help="with --arch: activation bits")
    p.add_argument("--epochs", type=int, default=d.epochs, help="training / retraining epochs")
    p.add_argument("--search-epochs", type=int, default=d.search_epochs, help="epochs of the search (without --arch)")
    p.add_argument("--lambda", dest="lam", type=float, default=d.lam,
                   help="weight of the hardware cost in the search (without --arch)")
    p.add_argument("--nodes", type=int, default=d.nodes, help="size and verify the design on a BFS subgraph of N nodes")
    p.add_argument("--full", action="store_true", help="size and verify the design for the whole graph")
    p.add_argument("--sim", dest="rtl_sim", choices=["verilator", "icarus", "none"], default=d.rtl_sim,
                   help="RTL simulator")
    p.add_argument("--synth", action="store_true", help="also run Yosys synthesis")
    p.add_argument("--no-baselines", dest="baselines", action="store_false",
                   help="skip the uniform GCN W16A16 / W8A8 / W4A8 / W2A8 baselines")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the training or search")
    add_pick_arguments(p, "build the hardware for point K of the search's fronts (RUN/pareto.json, lpgnas "
                          "export RUN lists them; --max-latency-us / --max-kib pick the most accurate within limits) "
                          "instead of the shipped model (default: the shipped model)")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    cfg = FlowConfig(**{k: getattr(args, k) for k in FlowConfig.__dataclass_fields__})
    status = run_flow(cfg, args.out, progress=not args.quiet)
    print(", ".join(f"{k}: {v}" for k, v in status.items()))
    print(f"open {Path(args.out) / 'report.html'} (or report.md)")
    return 0
