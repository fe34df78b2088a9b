"""C simulation: compile a generated HLS project with g++ and check it against the golden outputs.

``run_csim(HW)`` builds ``HW/hls/kernel.cpp`` + ``HW/hls/tb.cpp`` (the very code Vitis HLS synthesises,
with the plain-C++ integer types of ``lpgnas_int.h``) into ``HW/csim/``, runs the testbench on the memory
images in ``HW/data``, and compares the outputs it wrote with ``HW/data/expected.txt`` again in Python, so
the verdict does not rest on the generated testbench alone.

Buffers in external memory (``hw_config.json`` ``offchip``, docs/hls.md "Off-chip buffers") are arrays of their
external-memory elements in the testbench: it allocates the scratch buffers (``<layer>_lin``, ``buf_<k>``), fills
them and the padding lanes of the host's groups with pseudo-random garbage from ``scratch_seed`` (external memory
is not cleared on a real board), and passes them to the kernel, so a kernel reading an element it never wrote is
not bit-exact.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from lpgnas.errors import LpgnasError, ToolMissingError

#: flags of every C simulation build; tests may lower the optimisation level, never change the code
CXX_FLAGS = ("-std=c++17", "-Wno-unknown-pragmas")


def find_cxx(cxx: str | None = None) -> str:
    """Path of the C++ compiler (``cxx``, else ``$CXX``, else ``g++``) or :class:`ToolMissingError`."""
    name = cxx or os.environ.get("CXX") or "g++"
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(
            f"C simulation needs a C++17 compiler, and {name!r} is not on PATH: install g++ "
            "(Debian/Ubuntu: `apt-get install g++`; `make venv` does it) or point $CXX at one"
        )
    return path


def compile_csim(hw_dir: Path, build_dir: Path, *, opt: str = "-O2", cxx: str | None = None,
                 timeout: float = 300.0, ap_types: str | Path | None = None) -> Path:
    """Compile the HLS kernel and testbench of ``hw_dir`` into ``build_dir/csim_tb``; return the binary.

    ``ap_types``: a folder with Xilinx's ``ap_int.h`` (e.g. hls4ml's ``templates/vivado/ap_types``) to
    build with the ``ap_int`` types Vitis HLS uses (``-DLPGNAS_AP_INT``) instead of ``<cstdint>`` ones.
    """
    hls = Path(hw_dir) / "hls"
    sources = [hls / "kernel.cpp", hls / "tb.cpp"]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise LpgnasError(f"{hw_dir}: not a generated hardware folder (missing {', '.join(missing)})")
    compiler = find_cxx(cxx)
    build_dir.mkdir(parents=True, exist_ok=True)
    exe = build_dir / "csim_tb"
    types = [] if ap_types is None else ["-DLPGNAS_AP_INT", f"-I{ap_types}"]
    if ap_types is not None and not (Path(ap_types) / "ap_int.h").is_file():
        raise ToolMissingError(f"{ap_types}: no ap_int.h there (hls4ml ships it in templates/vivado/ap_types)")
    cmd = [compiler, opt, *CXX_FLAGS, *types, f"-I{hls}", *map(str, sources), "-o", str(exe)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LpgnasError(f"csim: compiling {hls} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise LpgnasError(f"csim: {Path(compiler).name} could not compile {hls}:\n{_tail(proc.stderr)}")
    return exe


def run_csim(hw_dir: str | Path, timeout: float = 300.0, *, opt: str = "-O2", cxx: str | None = None,
             build_dir: str | Path | None = None, ap_types: str | Path | None = None,
             scratch_seed: int = 1) -> dict[str, Any]:
    """Compile and run the C simulation of ``hw_dir``; compare every output word with the golden model's.

    Returns ``{"bit_exact", "mismatches", "wall_seconds", "compile_seconds", "outputs", "expected_words",
    "tb_exit", "log"}``: ``outputs`` are the kernel's output codes (flat, node-major), ``mismatches``
    counts differing words (a missing or extra word counts as one), ``tb_exit`` is the testbench's exit
    status (0 = it found no mismatch). Raises :class:`ToolMissingError` without g++ and
    :class:`LpgnasError` when the design does not compile, the data is unreadable, the testbench crashes
    or ``timeout`` (seconds, for compile and run together) expires. ``ap_types``: see :func:`compile_csim`.
    ``scratch_seed`` (>= 0): the garbage the off-chip scratch buffers start with (no effect without them).
    """
    if isinstance(scratch_seed, bool) or not isinstance(scratch_seed, int) or scratch_seed < 0:
        raise LpgnasError(f"csim: scratch_seed must be a non-negative integer, got {scratch_seed!r}")
    hw = Path(hw_dir)
    data = hw / "data"
    expected_path = data / "expected.txt"
    if not expected_path.is_file():
        raise LpgnasError(f"{hw}: {expected_path} is missing; regenerate the design (lpgnas generate)")
    build = Path(build_dir) if build_dir is not None else hw / "csim"
    t0 = time.perf_counter()
    exe = compile_csim(hw, build, opt=opt, cxx=cxx, timeout=timeout, ap_types=ap_types)
    compile_seconds = time.perf_counter() - t0
    out_path = build / "outputs.txt"
    out_path.unlink(missing_ok=True)
    remaining = max(timeout - compile_seconds, 1.0)
    try:
        proc = subprocess.run([str(exe), str(data), str(out_path), str(scratch_seed)], capture_output=True,
                              text=True, timeout=remaining)
    except subprocess.TimeoutExpired:
        raise LpgnasError(f"csim: the testbench of {hw} ran longer than {remaining:.0f} s") from None
    log = proc.stdout + proc.stderr
    if proc.returncode not in (0, 1) or not out_path.is_file():
        raise LpgnasError(f"csim: the testbench of {hw} failed (exit {proc.returncode}):\n{_tail(log)}")
    outputs = _read_words(out_path)
    expected = _read_words(expected_path)
    mismatches = sum(a != b for a, b in zip(outputs, expected, strict=False))
    mismatches += abs(len(outputs) - len(expected))
    return {
        "bit_exact": proc.returncode == 0 and mismatches == 0,
        "mismatches": mismatches,
        "wall_seconds": time.perf_counter() - t0,
        "compile_seconds": compile_seconds,
        "outputs": outputs,
        "expected_words": len(expected),
        "tb_exit": proc.returncode,
        "log": _tail(log),
    }


def _read_words(path: Path) -> list[int]:
    try:
        return [int(tok) for tok in path.read_text().split()]
    except ValueError as e:
        raise LpgnasError(f"{path}: not a list of decimal words ({e})") from None


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
