"""Imports point down (docs/architecture.md): the ground (``lpgnas``'s own modules) imports no stage, a stage
imports only the ground and the stages below it, the orchestration (``cli``, ``flow``, ``report``) sits on
top; no two modules import each other, directly or round a loop. Function-local imports count the same."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: repository folder -> the package it installs as (pyproject.toml [tool.setuptools.package-dir])
PACKAGES = {"lpgnas": "lpgnas", "hw_model": "lpgnas.hw_model", "search": "lpgnas.search",
            "hls_templates": "lpgnas.hls_templates", "sim": "lpgnas.sim"}
#: floor of each stage; a module imports only from a lower floor, or from its own stage
STAGE_FLOORS = {"lpgnas.hw_model": 1, "lpgnas.search": 2, "lpgnas.hls_templates": 2, "lpgnas.sim": 3}
TOP = {"lpgnas.cli", "lpgnas.flow", "lpgnas.report", "lpgnas.__main__", "lpgnas.sweep"}
TOP_FLOOR = 4


def module_sources(root: Path = REPO) -> dict[str, str]:
    """Every module of the package, by its import name, with its source."""
    out = {}
    for folder, package in PACKAGES.items():
        for f in sorted((root / folder).rglob("*.py")):
            parts = [p for p in f.relative_to(root / folder).with_suffix("").parts if p != "__init__"]
            out[".".join([package, *parts])] = f.read_text()
    return out


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """module -> the modules of the package it imports (``from a import b`` names a.b when b is a module)."""
    graph: dict[str, set[str]] = {}
    for name, text in sources.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 0, f"{name}: relative import"
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = {d for d in deps if d in sources and d != name}
    return graph


def floor(module: str) -> tuple[int, str]:
    """(floor, unit): the ground is 0 (unit ``lpgnas``), a stage its floor (unit: the stage), the top 4."""
    if module in TOP or module.startswith("lpgnas.sweep."):
        return TOP_FLOOR, module
    for stage, level in STAGE_FLOORS.items():
        if module == stage or module.startswith(stage + "."):
            return level, stage
    return 0, "lpgnas"


def wrong_way_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that point up a floor, or sideways into another stage of the same floor."""
    bad = []
    for module, deps in graph.items():
        level, unit = floor(module)
        for dep in sorted(deps):
            dep_level, dep_unit = floor(dep)
            if dep_level > level or (dep_level == level and dep_unit != unit and level != TOP_FLOOR):
                bad.append(f"{module} (floor {level}) imports {dep} (floor {dep_level})")
    return bad


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def bare_stage_imports(files: dict[str, str]) -> list[str]:
    """Imports of a stage by its folder name (``import search``): not importable once installed."""
    bad = []
    for label, text in files.items():
        for node in ast.walk(ast.parse(text)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            bad += [f"{label}: {n}" for n in names if n.split(".")[0] in set(PACKAGES) - {"lpgnas"}]
    return bad


def test_imports_point_down_and_never_loop():
    graph = import_graph(module_sources())
    assert len(graph) > 60 and "lpgnas.golden" in graph and "lpgnas.sim.rtl" in graph
    assert wrong_way_imports(graph) == []
    assert import_cycles(graph) == []


def _repo_python() -> dict[str, str]:
    return {str(f.relative_to(REPO)): f.read_text()
            for d in (*PACKAGES, "tests", "benchmarks") for f in sorted((REPO / d).rglob("*.py"))}


def test_everything_imports_the_stages_through_lpgnas():
    assert bare_stage_imports(_repo_python()) == []


@pytest.mark.parametrize(("module", "planted", "expect"), [
    ("lpgnas.golden", "from lpgnas.sim.rtl import run_rtl", "lpgnas.golden (floor 0) imports lpgnas.sim.rtl (floor 3)"),
    ("lpgnas.hw_model.model", "import lpgnas.flow", "lpgnas.hw_model.model (floor 1) imports lpgnas.flow (floor 4)"),
    ("lpgnas.search.cost", "from lpgnas.hls_templates import rtl_writer",
     "lpgnas.search.cost (floor 2) imports lpgnas.hls_templates.rtl_writer (floor 2)"),
])
def test_a_planted_upward_import_is_caught(module, planted, expect):
    sources = module_sources()
    sources[module] += f"\n\ndef _planted():\n    {planted}\n"  # function-local: it counts too
    assert expect in wrong_way_imports(import_graph(sources))


def test_a_planted_cycle_is_caught():
    sources = module_sources()
    sources["lpgnas.numfmt"] += "\n\ndef _planted():\n    from lpgnas import tables\n"  # tables imports numfmt
    assert ["lpgnas.numfmt", "lpgnas.tables"] in import_cycles(import_graph(sources))


def test_a_planted_bare_import_is_caught():
    files = _repo_python()
    files["tests/conftest.py"] += "\n\ndef _planted():\n    import search.nas\n"
    assert bare_stage_imports(files) == ["tests/conftest.py: search.nas"]
