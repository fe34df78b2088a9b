"""lpgnas flow: end to end on karate, resume after an interrupted stage, and the clear errors."""

import json
import shutil

import pytest

from lpgnas import flow as flow_mod
from lpgnas.errors import DatasetError, HardwareFitError, LpgnasError, ToolMissingError
from lpgnas.flow import STAGES, Flow, FlowConfig, run_flow
from lpgnas.hwconfig import HardwareConfig


def _cfg(**kw) -> FlowConfig:
    base = {"dataset": "karate", "arch": "gcn", "epochs": 20, "hidden": 8, "baselines": False, "rtl_sim": "none"}
    return FlowConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("flow") / "run"
    status = run_flow(_cfg(rtl_sim="verilator", baselines=True, synth=True), run, progress=False)
    return run, status


def test_flow_runs_every_stage_and_reports(finished_run):
    run, status = finished_run
    assert status == {"model": "ran", "pick": "disabled", "baselines": "ran", "estimate": "ran", "generate": "ran", "csim": "ran",
                      "rtl": "ran", "synth": "ran", "report": "ran"}
    assert json.loads((run / "verify_csim.json").read_text())["bit_exact"] is True
    rtl = json.loads((run / "verify_rtl.json").read_text())
    assert rtl["bit_exact"] is True and rtl["cycles"] > 0
    md = (run / "report.md").read_text()
    for needle in ("test accuracy (golden, integer)", "C simulation: bit-exact", "RTL simulation (verilator): bit-exact",
                   "Fits: **yes**", "GCN W4A8", "RTL simulation: ", "(estimated, and Yosys)"):
        assert needle in md, needle
    dsp_row = next(line for line in md.splitlines() if line.startswith("| dsp |"))
    assert dsp_row.split("|")[3].strip() != "–"  # the Yosys column is filled
    page = (run / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4 and "<table>" in page and "src='http" not in page


def test_rerun_skips_every_finished_stage(finished_run):
    run, _ = finished_run
    before = (run / "report.md").read_text()
    status = run_flow(_cfg(rtl_sim="verilator", baselines=True, synth=True), run, progress=False)
    assert set(status.values()) <= {"skipped", "disabled"}
    assert (run / "report.md").read_text() == before


def test_a_changed_option_redoes_only_what_depends_on_it(tmp_path):
    run = tmp_path / "run"
    run_flow(_cfg(), run, progress=False)
    ir_before = (run / "model.ir.npz").read_bytes()
    status = run_flow(_cfg(nodes=20), run, progress=False)
    assert status["model"] == "skipped"
    assert [status[s] for s in ("estimate", "generate", "csim", "report")] == ["ran"] * 4
    assert json.loads((run / "hw" / "design.json").read_text())["num_nodes"] == 20
    assert (run / "model.ir.npz").read_bytes() == ir_before


def test_an_interrupted_stage_resumes_where_it_stopped(tmp_path, monkeypatch):
    run = tmp_path / "run"
    calls = []

    def dying_csim(flow):
        calls.append("csim")
        (flow.run / "verify_csim.json").write_text("{half")  # a partial write, then the kill
        raise KeyboardInterrupt

    stages = [s if s.name != "csim" else flow_mod.Stage("csim", s.outputs, dying_csim, s.reads) for s in STAGES]
    with pytest.raises(KeyboardInterrupt):
        Flow(_cfg(), run, progress=False).execute(stages)
    assert (run / ".flow" / "generate.json").is_file() and not (run / ".flow" / "csim.json").exists()
    status = run_flow(_cfg(), run, progress=False)
    assert [status[s] for s in ("model", "estimate", "generate")] == ["skipped"] * 3
    assert status["csim"] == "ran" and status["report"] == "ran" and calls == ["csim"]
    assert json.loads((run / "verify_csim.json").read_text())["bit_exact"] is True


def test_a_corrupted_output_is_detected_and_redone(tmp_path):
    run = tmp_path / "run"
    run_flow(_cfg(), run, progress=False)
    (run / "estimate.json").write_text("garbage")
    (run / ".flow" / "csim.json").write_text("{not json")
    status = run_flow(_cfg(), run, progress=False)
    assert status["model"] == "skipped" and status["estimate"] == "ran" and status["csim"] == "ran"
    assert json.loads((run / "estimate.json").read_text())["fits"] is True


def test_unknown_dataset_and_device_fail_before_any_work(tmp_path):
    with pytest.raises(DatasetError, match="Atlantis"):
        run_flow(_cfg(dataset="Atlantis"), tmp_path / "a", progress=False)
    with pytest.raises(LpgnasError, match="xc9z999"):
        run_flow(_cfg(device="xc9z999"), tmp_path / "b", progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LpgnasError, match="not an lpgnas run folder"):
        run_flow(_cfg(), tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_missing_tool_is_named_before_any_work(tmp_path, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "g++" else real_which(name, *a, **k))
    with pytest.raises(ToolMissingError, match="g\\+\\+"):
        run_flow(_cfg(), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "model.ir.json").exists()


def test_a_budget_nothing_fits_stops_with_the_shortfall_and_keeps_the_model(tmp_path):
    run = tmp_path / "run"
    run_flow(_cfg(), run, progress=False)
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps({"name": "tiny", "family": "xc7", "lut": 100, "ff": 200, "dsp": 0, "bram36": 0}))
    model_before = (run / "model.ir.npz").read_bytes()
    hw_before = HardwareConfig.load(run / "hw_config.json")
    with pytest.raises(HardwareFitError, match="nothing fits tiny"):
        run_flow(_cfg(device=str(tiny)), run, progress=False)
    assert (run / "model.ir.npz").read_bytes() == model_before
    assert HardwareConfig.load(run / "hw_config.json") == hw_before  # earlier results intact


SEARCH = {"arch": None, "search_epochs": 6, "epochs": 10}


@pytest.fixture(scope="module")
def searched_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("flow_search") / "run"
    return run, run_flow(_cfg(**SEARCH), run, progress=False)


def test_flow_with_the_search_plots_the_controllers(searched_run):
    run, status = searched_run
    assert status["model"] == "ran" and (run / "search_log.jsonl").is_file()
    md = (run / "report.md").read_text()
    assert "controller probabilities (in report.html)" in md and "C simulation: bit-exact" in md
    assert (run / "report.html").read_text().count("data:image/png;base64,") >= 4


def test_flow_builds_and_verifies_a_picked_front_point(searched_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(searched_run[0], run)
    pareto = json.loads((run / "pareto.json").read_text())
    fastest = min(pareto["points"], key=lambda p: p["latency_us"])
    model_before = (run / "model.ir.npz").read_bytes()

    status = run_flow(_cfg(**SEARCH, point=fastest["point"]), run, progress=False)
    assert status["model"] == "skipped" and status["pick"] == "ran"
    assert status["estimate"] == status["generate"] == status["csim"] == "ran"  # rebuilt for the picked point
    assert (run / "design.ir.npz").read_bytes() == (run / fastest["ir"].replace(".ir.json", ".ir.npz")).read_bytes()
    assert (run / "model.ir.npz").read_bytes() == model_before  # the shipped model stays
    assert json.loads((run / "verify_csim.json").read_text())["bit_exact"]
    md = (run / "report.md").read_text()
    assert f"{fastest['point']} (built)" in md and "C simulation: bit-exact" in md

    with pytest.raises(LpgnasError, match="leave out --arch"):
        run_flow(_cfg(point=fastest["point"]), run, progress=False)
    with pytest.raises(LpgnasError, match="no front point is within"):
        run_flow(_cfg(**SEARCH, max_latency_us=1e-6), run, progress=False)
    assert (run / "design.ir.npz").read_bytes() == (run / fastest["ir"].replace(".ir.json", ".ir.npz")).read_bytes()
