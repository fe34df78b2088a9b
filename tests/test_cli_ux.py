"""The command line a user expects: exit statuses, help text, -q, progress in logs, estimate = generate,
verify timings, the synth table, a cheap `lpgnas datasets`."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lpgnas import cli
from lpgnas.progress import LOG_LINES, LineProgress, progress

ROOT = Path(__file__).resolve().parents[1]

#: the least each command needs to parse
MINIMAL_ARGS = {
    "datasets": [],
    "train": ["-o", "run"],
    "search": ["-o", "run"],
    "baseline": ["float-gcn", "-o", "run"],
    "export": ["run"],
    "estimate": ["model.ir.json"],
    "generate": ["model.ir.json", "-o", "hw"],
    "verify": ["hw"],
    "synth": ["hw"],
    "flow": ["-o", "run"],
    "sweep": ["spec.toml", "-o", "sweep"],
}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def lpgnas(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lpgnas", *map(str, args)], capture_output=True, text=True,
                          timeout=600, **kw)


# ---- exit statuses, documented ------------------------------------------------------------------------


def test_exit_statuses_are_documented_in_help_and_docs():
    text = " ".join(cli.build_parser().format_help().split())
    for phrase in ("0 success", "1 a check failed", "not bit-exact", "does not fit", "2 bad usage or input"):
        assert phrase in text, phrase
    doc = (ROOT / "docs" / "cli.md").read_text()
    assert " ".join(cli.EXIT_STATUSES.split()) in " ".join(doc.split())
    for command in MINIMAL_ARGS:
        assert f"lpgnas {command}" in doc, command


def test_usage_error_is_status_2():
    assert lpgnas("estimate").returncode == 2  # argparse: the IR is missing
    assert lpgnas("verify", "x", "--sim", "ghdl").returncode == 2


def test_verify_with_nothing_to_run_is_bad_usage(karate_hw, capsys):
    assert cli.main(["verify", str(karate_hw), "--sim", "none"]) == 2  # was 0: "verified" with no simulator
    assert "nothing to verify" in capsys.readouterr().err


def test_estimate_that_cannot_fit_is_a_failed_check(karate_ir, tmp_path, capsys):
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps({"name": "tiny", "family": "xc7", "lut": 50, "ff": 100, "dsp": 0, "bram36": 0}))
    assert cli.main(["estimate", str(karate_ir), "--device", str(tiny)]) == 1  # was 2, as for bad input
    assert "fits: NO" in capsys.readouterr().out


# ---- --help: every default, the valid names, one plain paragraph -----------------------------------------


def test_help_shows_every_default_and_the_valid_names():
    from lpgnas.datasets import dataset_names
    from lpgnas.devices import PRESETS
    from lpgnas.operators import ATTENTIONS

    parsers = _subparsers(cli.build_parser())
    assert set(parsers) == set(MINIMAL_ARGS)
    for name, p in parsers.items():
        desc = p.description or ""
        assert desc and "\n" not in desc.strip(), f"{name}: one paragraph"
        assert not re.search(r"`|\*|::", desc), f"{name}: markup in the description"
        formatter = p._get_formatter()
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.dest}: no help"
            text = formatter._get_help_string(action) % {"default": action.default}
            if action.option_strings and not action.required and action.nargs != 0:  # flags have no default
                assert "default" in text, f"{name} {action.option_strings}: help does not show the default"
            if "--dataset" in action.option_strings:
                assert all(d in text for d in dataset_names()), f"{name} --dataset"
            if "--device" in action.option_strings:
                assert all(d in text for d in PRESETS), f"{name} --device"
            if "--arch" in action.option_strings:
                assert all(a in text for a in ATTENTIONS), f"{name} --arch"
    assert all(a in parsers["search"].format_help() for a in ATTENTIONS)


# ---- -q for every command, before or after the command ---------------------------------------------------


@pytest.mark.parametrize("command", list(MINIMAL_ARGS))
def test_global_quiet_reaches_every_command(command):
    parser = cli.build_parser()
    rest = MINIMAL_ARGS[command]
    assert parser.parse_args(["-q", command, *rest]).quiet is True  # flow/train/search reset it to False
    assert parser.parse_args([command, *rest, "-q"]).quiet is True
    assert parser.parse_args([command, *rest, "--quiet"]).quiet is True  # the old per-command flag still works
    assert parser.parse_args([command, *rest]).quiet is False


# ---- progress: a bar on a terminal, a few lines in a log, nothing with -q -------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_in_a_log_writes_a_few_lines(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bar = progress(range(200), desc="train", unit="epochs")
    assert isinstance(bar, LineProgress)
    for _ in bar:
        bar.set_postfix(val="0.5")
    lines = err.getvalue().splitlines()
    assert "\r" not in err.getvalue() and 2 <= len(lines) <= LOG_LINES + 1
    assert lines[0] == "lpgnas: train: 0/200 epochs" and lines[-1] == "lpgnas: train: 200/200 epochs val=0.5"
    err.truncate(0)
    list(progress(range(200), desc="train", enabled=False))
    list(progress(range(5), desc="flow", terminal_only=True))
    assert err.getvalue() == ""


def test_progress_draws_a_bar_on_a_terminal(monkeypatch):
    from tqdm import tqdm

    monkeypatch.setattr(sys, "stderr", _Tty())
    bar = progress(range(3), desc="train")
    assert isinstance(bar, tqdm) and not bar.disable
    bar.close()


@pytest.mark.parametrize("quiet", [False, True])
def test_train_in_a_log(tmp_path, quiet):
    """stderr to a file (a CI log): a few lines, no carriage returns; with lpgnas -q none."""
    args = ["train", "--dataset", "karate", "--epochs", "60", "--hidden", "4", "-o", tmp_path / "run"]
    r = lpgnas(*(["-q"] if quiet else []), *args)
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    if quiet:
        assert r.stderr == ""
    else:
        progress_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("lpgnas: train:")]
        assert 2 <= len(progress_lines) <= LOG_LINES + 1, r.stderr


# ---- estimate and generate agree ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def karate_ir(tmp_path_factory) -> Path:
    from lpgnas.testing import random_ir

    ir = random_ir(np.random.default_rng(3), in_features=34, hidden=8, num_classes=4)
    ir.metadata = {"train_config": {"dataset": "karate"}}
    path = tmp_path_factory.mktemp("ir") / "model.ir.json"
    ir.save(path)
    return path


@pytest.fixture(scope="module")
def karate_hw(karate_ir, tmp_path_factory) -> Path:
    hw = tmp_path_factory.mktemp("design") / "hw"
    assert cli.main(["-q", "generate", str(karate_ir), "--device", "xc7z020", "-o", str(hw)]) == 0
    return hw


def test_generate_without_hw_uses_the_estimate_choice(karate_ir, karate_hw, capsys):
    from lpgnas.hw_model.model import estimate
    from lpgnas.hwconfig import HardwareConfig
    from lpgnas.ir import load_ir

    capsys.readouterr()
    assert cli.main(["estimate", str(karate_ir), "--device", "xc7z020", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    generated = json.loads((karate_hw / "hw_config.json").read_text())
    assert generated == doc["hw_config"]  # was a fixed 4x4 / 4 lanes
    design = json.loads((karate_hw / "design.json").read_text())
    assert (design["num_nodes"], design["num_edges"]) == (doc["num_nodes"], doc["num_edges"])
    from lpgnas.datasets import recorded_feature_mode
    from lpgnas.inputs import design_inputs, training_config
    from lpgnas.sparse import nonzero_histogram

    ir = load_ir(karate_ir)  # layer 0 reads karate's one-hot features sparse: its cycles need their histogram
    _, x = design_inputs(ir, "karate", None, design["num_nodes"], recorded_feature_mode(training_config(ir)))
    est = estimate(ir, HardwareConfig.load(karate_hw / "hw_config.json"),
                   (design["num_nodes"], design["num_edges"]), "xc7z020", feature_nonzeros=nonzero_histogram(x))
    assert est.as_dict()["totals"]["cycles"] == doc["totals"]["cycles"]


def test_estimate_sizes_the_graph_like_generate(tmp_path, data_root, capsys):
    """Both default to a 256-node BFS subgraph (estimate used the whole graph) and both take --full."""
    from lpgnas.testing import random_ir

    ir = random_ir(np.random.default_rng(4), in_features=1433, hidden=8, num_classes=7)
    ir.metadata = {"train_config": {"dataset": "Cora"}}
    ir.save(tmp_path / "model.ir.json")
    base = ["estimate", str(tmp_path / "model.ir.json"), "--data-root", str(data_root), "--json"]
    assert cli.main(base) == 0
    assert json.loads(capsys.readouterr().out)["num_nodes"] == 256
    assert cli.main([*base, "--full"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["num_nodes"] == 2708


# ---- verify: times with compilation, exit 1 on a mismatch ---------------------------------------------


@pytest.mark.slow
def test_verify_times_include_compilation_and_a_mismatch_exits_1(karate_hw, capsys):
    capsys.readouterr()
    assert cli.main(["-q", "verify", str(karate_hw), "--csim", "--sim", "none"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"csim: bit-exact; [\d.]+ s \(build [\d.]+ s \+ run [\d.]+ s\)", out), out
    r = json.loads((karate_hw / "verify.json").read_text())["csim"]
    assert r["build_seconds"] > 0 and r["run_seconds"] >= 0
    assert r["total_seconds"] == pytest.approx(r["build_seconds"] + r["run_seconds"], abs=0.01)
    assert r["total_seconds"] >= r["wall_seconds"] - 0.01  # the whole wall time, compilation included
    expected = karate_hw / "data" / "expected.txt"
    words = expected.read_text().split()
    words[0] = str(int(words[0]) + 1)
    expected.write_text(" ".join(words) + "\n")
    assert cli.main(["-q", "verify", str(karate_hw), "--csim", "--sim", "none"]) == 1
    assert "csim: MISMATCH" in capsys.readouterr().out


# ---- synth: says what it does, prints a table --------------------------------------------------------


def test_synth_prints_a_table_against_the_device(monkeypatch, tmp_path, capsys):
    from lpgnas.sim import synth as sim_synth

    fake = {"family": "xc7", "top": "lpgnas_top", "seconds": 12.0, "log": "synth/yosys_xc7.log", "cells": {},
            "resources": {"LUT": 5320, "FF": 1000, "CARRY": 10, "DSP": 22, "BRAM18": 2, "BRAM36": 7,
                          "BRAM18_equiv": 16, "LUTRAM": 0, "SRL": 0, "URAM": 0, "MUXF": 0}}
    monkeypatch.setattr(sim_synth, "run_synth", lambda hw, family: fake)
    assert cli.main(["synth", str(tmp_path), "--device", "xc7z020"]) == 0
    cap = capsys.readouterr()
    assert "synth: Yosys synth_xilinx -family xc7" in cap.err  # says what it is doing
    rows = {ln.split()[0]: ln.split()[1:] for ln in cap.out.splitlines() if ln.strip()}
    assert rows["resource"] == ["used", "available", "%"]
    assert rows["LUT"] == ["5,320", "53,200", "10.0"] and rows["DSP"] == ["22", "220", "10.0"]
    assert rows["BRAM36"] == ["7", "140", "5.0"]
    assert cli.main(["-q", "synth", str(tmp_path), "--json"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out) == fake and cap.err == ""
    assert cli.main(["synth", str(tmp_path), "--device", "xc7z020", "--family", "xcup"]) == 2


# ---- datasets: the registry without loading anything -----------------------------------------------------


def test_datasets_without_names_loads_nothing(monkeypatch, tmp_path, capsys):
    from lpgnas import datasets

    def refuse(*a, **k):
        raise AssertionError("load_dataset called for the registry")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    root = tmp_path / "root"
    (root / "Cora" / "raw").mkdir(parents=True)
    for f in datasets.expected_raw_paths("Cora", root):
        f.write_text("")
    (root / "Photo" / "raw").mkdir(parents=True)
    assert cli.main(["datasets", "--data-root", str(root), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(rows) == datasets.dataset_names()
    assert rows["Cora"] == {"name": "Cora", "source": "planetoid", "split": "public", "raw_files": "present"}
    assert rows["CiteSeer"]["raw_files"] == "missing 8 of 8" and rows["Photo"]["raw_files"] == "missing 1 of 1"
    assert rows["karate"]["raw_files"] == "built-in" and rows["Physics"]["split"] == "random-60-20-20"
    assert cli.main(["datasets", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "source", "split", "raw_files"]
    assert out[2].split() == ["Cora", "planetoid", "public", "present"]
    assert str(root) in out[-1]
    assert cli.main(["datasets", "--stats"]) == 2  # --stats needs datasets to load


def test_datasets_positional_names(data_root, capsys):
    assert cli.main(["datasets", "karate", "--names", "cora", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out[2:4]] == ["karate", "Cora"]


def test_quiet_flow_prints_no_stage_lines(tmp_path, capsys):
    """lpgnas -q flow: the flow's per-stage lines are progress too (they were printed regardless)."""
    from lpgnas.flow import Flow, FlowConfig

    Flow(FlowConfig(), tmp_path, progress=False).say("model: running")
    assert capsys.readouterr().err == ""
    Flow(FlowConfig(), tmp_path, progress=True).say("model: running")
    assert capsys.readouterr().err == "[flow] model: running\n"
