"""The installed distribution: one top-level import package, ``lpgnas``, with the stages inside it and every
template and data file the stages read; it works without the source checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "lpgnas", "search", "hw_model", "hls_templates", "sim")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built (setuptools' PEP 517 backend, no network) from a copy of the sources."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        p = REPO / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(p, src / name)
    dist = tmp_path_factory.mktemp("dist")
    code = f"from setuptools import build_meta; print(build_meta.build_wheel({str(dist)!r}))"
    r = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return dist / r.stdout.strip().splitlines()[-1]


def test_the_wheel_has_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"lpgnas"}
    top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    if top_level:
        assert zipfile.ZipFile(wheel).read(top_level[0]).decode().split() == ["lpgnas"]
    for inside in ("lpgnas/search/run.py", "lpgnas/hw_model/units/transform.py", "lpgnas/hls_templates/rtl/top.v.j2",
                   "lpgnas/hls_templates/hls/kernel.cpp.j2", "lpgnas/hls_templates/hls/lpgnas_int.h",
                   "lpgnas/hls_templates/rtl/lpg_transform.v", "lpgnas/hw_model/calibration.json",
                   "lpgnas/sim/templates/tb_wrapper.v.j2", "lpgnas/sim/cocotb_tests/test_accelerator.py"):
        assert inside in names, inside


def test_the_installed_package_works_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """Unpacked into a folder of its own: the stages import from there, templates render, the cost model
    reads its calibration; no top-level ``search`` etc. exists."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import importlib.util, lpgnas, lpgnas.search.space, lpgnas.sim.rtl\n"
        "from lpgnas.hw_model.model import estimate\n"
        "from lpgnas.hls_templates.env import TEMPLATE_ROOT\n"
        "assert all(p.startswith(sys.argv[1]) for p in lpgnas.__path__), lpgnas.__path__\n"
        "assert lpgnas.search.space.__file__.startswith(sys.argv[1])\n"
        "assert (TEMPLATE_ROOT / 'rtl' / 'top.v.j2').is_file()\n"
        "assert [m for m in ('search', 'sim', 'hw_model', 'hls_templates') if importlib.util.find_spec(m)] == []\n"
        "from lpgnas.testing import random_ir\n"
        "import numpy as np\n"
        "from lpgnas.hwconfig import default_config\n"
        "ir = random_ir(np.random.default_rng(0))\n"
        "print(estimate(ir, default_config(ir, max_nodes=32, max_edges=128), (32, 128), 'xc7z020').totals()['cycles'])\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(site)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-3000:]
    assert float(r.stdout.strip().splitlines()[-1]) > 0
