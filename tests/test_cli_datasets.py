"""The CLI: --help, `lpgnas datasets` (table and --json), error reporting without tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lpgnas import cli


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lpgnas", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_help_lists_datasets_command():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    assert "usage: lpgnas" in r.stdout and "datasets" in r.stdout
    r = run("datasets", "--help")
    assert r.returncode == 0 and "--data-root" in r.stdout and "--json" in r.stdout


def test_console_script_installed():
    exe = Path(sys.executable).parent / "lpgnas"
    if not exe.exists():
        pytest.skip("the lpgnas console script is not installed in this environment (pip install -e .)")
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("lpgnas ")


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert "usage: lpgnas" in capsys.readouterr().err


def test_datasets_json_subprocess(data_root):
    r = run("datasets", "--json", "--names", "cora,CiteSeer,karate", "--data-root", str(data_root))
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["name"] for row in rows] == ["Cora", "CiteSeer", "karate"]
    cora = rows[0]
    assert {k: cora[k] for k in ("nodes", "edges", "features", "classes", "train", "val", "test")} == {
        "nodes": 2708,
        "edges": 10556,
        "features": 1433,
        "classes": 7,
        "train": 140,
        "val": 500,
        "test": 1000,
    }
    assert cora["split"] == "public" and cora["edges_with_self_loops"] == 10556 + 2708
    assert rows[2]["split"] == "random-60-20-20" and rows[2]["nodes"] == 34
    assert "Processing" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_datasets_all_json_subprocess(data_root):
    r = run("datasets", "--all", "--json", env={"LPGNAS_DATA": str(data_root)})  # without names or --all nothing is loaded
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert list(rows) == ["Cora", "CiteSeer", "PubMed", "Computers", "Photo", "CS", "Physics", "karate"]
    got = {n: (r["nodes"], r["edges"], r["features"], r["classes"]) for n, r in rows.items()}
    assert got == {
        "Cora": (2708, 10556, 1433, 7),
        "CiteSeer": (3327, 9104, 3703, 6),
        "PubMed": (19717, 88648, 500, 3),
        "Computers": (13752, 491722, 767, 10),
        "Photo": (7650, 238162, 745, 8),
        "CS": (18333, 163788, 6805, 15),
        "Physics": (34493, 495924, 8415, 5),
        "karate": (34, 156, 34, 2),
    }
    assert (rows["PubMed"]["train"], rows["PubMed"]["val"], rows["PubMed"]["test"]) == (60, 500, 1000)
    for n in ("Computers", "Photo", "CS", "Physics"):
        assert rows[n]["split"] == "random-60-20-20"
        assert rows[n]["train"] + rows[n]["val"] + rows[n]["test"] == rows[n]["nodes"]


def test_datasets_table_in_process(data_root, capsys):
    assert cli.main(["datasets", "--names", "Cora,karate", "--data-root", str(data_root), "--stats"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "name", "nodes", "edges", "features", "classes", "split", "train", "val", "test",
        "edges_with_self_loops", "max_degree", "mean_degree", "feature_density",
    ]  # fmt: skip
    assert out[2].split()[:9] == ["Cora", "2708", "10556", "1433", "7", "public", "140", "500", "1000"]
    assert out[3].split()[:9] == ["karate", "34", "156", "34", "2", "random-60-20-20", "20", "6", "8"]
    assert str(data_root) in out[-1]


def test_unknown_dataset_is_a_clean_error():
    r = run("datasets", "--names", "Cora,Reddit")
    assert r.returncode == 2
    assert r.stderr.startswith("lpgnas: error: unknown dataset 'Reddit'")
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_missing_files_are_a_clean_error(data_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(data_root / "Cora", root / "Cora")
    (root / "Cora" / "raw" / "ind.cora.x").unlink()
    r = run("datasets", "--names", "Cora,karate", "--json", "--data-root", str(root))
    assert r.returncode == 2
    assert "lpgnas: error: dataset Cora: raw file(s) missing" in r.stderr
    assert str(root / "Cora" / "raw" / "ind.cora.x") in r.stderr
    assert "Traceback" not in r.stderr
    rows = json.loads(r.stdout)  # the datasets that loaded are still reported
    assert rows[0]["name"] == "Cora" and "error" in rows[0]
    assert rows[1]["name"] == "karate" and rows[1]["nodes"] == 34


def test_nonexistent_data_root_env(tmp_path):
    r = run("datasets", "--names", "PubMed", env={"LPGNAS_DATA": str(tmp_path / "nope")})
    assert r.returncode == 2
    assert "lpgnas: error: data root" in r.stderr and "LPGNAS_DATA" in r.stderr
    assert "Traceback" not in r.stderr


def test_registry_accepts_module_strings(monkeypatch, capsys):
    calls = []

    def add_ping_parser(subparsers):
        p = subparsers.add_parser("ping", help="test command")
        p.set_defaults(func=lambda args: calls.append(args) or 0)

    monkeypatch.setattr(cli, "SUBCOMMANDS", ["lpgnas.cli:add_datasets_parser", add_ping_parser])
    helptext = cli.build_parser().format_help()
    assert "datasets" in helptext and "ping" in helptext
    assert cli.main(["ping"]) == 0 and len(calls) == 1
