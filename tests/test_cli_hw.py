"""The hardware commands end to end on the built-in karate graph: train -> generate -> verify."""

import json
import subprocess
import sys

import pytest


def lpgnas(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "lpgnas", *map(str, args)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"lpgnas {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def karate_design(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    lpgnas("train", "--dataset", "karate", "--epochs", "20", "--hidden", "8", "--wbits", "4", "-o", run, "--quiet")
    hw = run / "hw"
    lpgnas("generate", run / "model.ir.json", "--device", "xc7z020", "-o", hw)
    return hw


def test_generate_writes_both_backends(karate_design):
    hw = karate_design
    for rel in ("hls/kernel.cpp", "hls/tb.cpp", "hls/run_hls.tcl", "hw_config.json", "design.json",
                "data/features.mem", "data/expected.txt", "model.ir.json", "source.json"):
        assert (hw / rel).is_file(), rel
    assert list((hw / "rtl").glob("*.v")), "no Verilog written"
    assert json.loads((hw / "hw_config.json").read_text())["device"] == "xc7z020"


def test_verify_csim_is_bit_exact_and_writes_verify_json(karate_design):
    proc = lpgnas("verify", karate_design, "--csim", "--sim", "none")
    assert "csim: bit-exact" in proc.stdout
    report = json.loads((karate_design / "verify.json").read_text())
    assert report["csim"]["bit_exact"] is True and report["csim"]["mismatches"] == 0


def test_verify_on_a_smaller_subgraph(karate_design):
    before = (karate_design / "design.json").read_text()
    lpgnas("verify", karate_design, "--csim", "--sim", "none", "--nodes", "12")
    assert (karate_design / "design.json").read_text() == before  # the design itself is not re-targeted
    copy = karate_design / "verify_nodes12"
    assert json.loads((copy / "design.json").read_text())["num_nodes"] == 12
    assert json.loads((copy / "verify.json").read_text())["csim"]["bit_exact"] is True


def test_verify_refuses_a_larger_graph_than_the_design_holds(karate_design, tmp_path):
    small = tmp_path / "small"
    lpgnas("generate", karate_design / "model.ir.json", "--dataset", "karate", "--nodes", "12", "-o", small)
    before = (small / "data" / "expected.txt").read_text()
    proc = lpgnas("verify", small, "--sim", "none", "--nodes", "20", check=False)
    assert proc.returncode == 2 and "the design holds at most 12" in proc.stderr
    assert (small / "data" / "expected.txt").read_text() == before  # earlier data left intact


def test_hardware_command_errors_are_clear(tmp_path):
    proc = lpgnas("verify", tmp_path, "--sim", "none", check=False)
    assert proc.returncode == 2 and "not a generated design" in proc.stderr and "Traceback" not in proc.stderr
    proc = lpgnas("generate", tmp_path / "missing.ir.json", "-o", tmp_path / "hw", check=False)
    assert proc.returncode == 2 and "no such IR file" in proc.stderr
    assert not (tmp_path / "hw").exists()
