"""``lpgnas sweep`` on a local Ray with 2 CPUs: a grid completes; a worker killed mid-point is retried and
resumes to the uninterrupted results; a killed driver's rerun skips the points that ended; a bad spec stops
before any point runs; a failing point is recorded and the others finish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lpgnas.cli import main
from lpgnas.sweep.methods import command_lines, method
from lpgnas.sweep.runner import ATTEMPTS, RESULT, RESULTS, RUNS, execute_point, unpack
from lpgnas.sweep.spec import load_spec, parse_only

REPO = Path(__file__).resolve().parents[1]

#: a search on the karate graph that runs for a few seconds, checkpointing every 4 epochs
KARATE_SPEC = """
[defaults.lpgnas]
epochs = 60
warmup = 2
retrain-epochs = 30
checkpoint-every = 4
hidden-sizes = "4,8"
head-counts = "1,2"
candidates = 4
screen-epochs = 10
generations = 2
finalists = 2
no-neighbours = true

[defaults.baseline]
epochs = 30

[[grid]]
method = ["lpgnas", "gcn-w4a8"]
dataset = "karate"
seed = [0, 1]
"""

#: what differs between two runs of the same point: times, and whether it was resumed
TIMES = {"search_seconds", "retrain_seconds", "candidate_seconds", "total_seconds", "sampling_budget_seconds",
         "front_seconds",
         "resumed_from_epoch", "seconds"}

pytestmark = pytest.mark.slow


def _spec(folder: Path, text: str = KARATE_SPEC) -> Path:
    path = folder / "spec.toml"
    path.write_text(text)
    return path


def _sweep_cmd(spec: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "lpgnas", "sweep", str(spec), "-o", str(out), "--local-cpus", "2",
            "--cpus-per-run", "1", *extra]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _sweep(spec: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_sweep_cmd(spec, out, *extra), cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=900)


def _results(out: Path) -> dict[str, dict]:
    doc = json.loads((out / RESULTS).read_text())
    return {r["point"]: r for r in doc["records"]}


def _stable(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in TIMES}


def _wait_for(condition, what: str, timeout: float = 300.0) -> None:
    t0 = time.time()
    while not condition():
        assert time.time() - t0 < timeout, f"timed out waiting for {what}"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """The uninterrupted sweep: 2 methods x 2 seeds on karate."""
    folder = tmp_path_factory.mktemp("reference")
    out = folder / "sweep"
    proc = _sweep(_spec(folder), out)
    assert proc.returncode == 0, proc.stderr
    return out, _results(out)


def test_a_sweep_of_two_methods_and_two_seeds_completes(reference):
    out, results = reference
    assert len(results) == 4
    assert sorted((r["method"], r["options"]["seed"]) for r in results.values()) == [
        ("gcn-w4a8", 0), ("gcn-w4a8", 1), ("lpgnas", 0), ("lpgnas", 1)]
    for point, r in results.items():
        assert r["status"] == "ok", r["error"]
        assert 0.0 <= r["result"]["test_accuracy"] <= 1.0
        assert r["result"]["model_size_kib"] > 0
        assert r["attempts"] == 1
        assert r["code"]["lpgnas"]
        assert (out / RUNS / point / "out" / "model.ir.json").is_file()
        assert json.loads((out / RUNS / point / RESULT).read_text())["point"] == point
    search = [r for r in results.values() if r["method"] == "lpgnas"]
    assert all(r["result"]["architecture"] and r["commands"][0][0] == "search" for r in search)
    assert all("--resume" not in r["commands"][0] for r in search)


def test_a_worker_killed_mid_point_is_retried_and_gives_the_same_results(reference, tmp_path):
    _, expected = reference
    out = tmp_path / "sweep"
    proc = subprocess.Popen(_sweep_cmd(_spec(tmp_path), out), cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    searches = [p for p in expected if p.startswith("lpgnas__")]
    victim = out / RUNS / searches[0]
    _wait_for(lambda: (victim / "out" / "search.ckpt").is_file(), "the search's first checkpoint")
    pid = json.loads((victim / ATTEMPTS).read_text().splitlines()[0])["pid"]
    assert not (victim / RESULT).exists()
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr
    results = _results(out)
    killed = results[searches[0]]
    assert killed["attempts"] == 2
    assert killed["commands"][0][-1] == "--resume"  # the retry continued from the killed attempt's checkpoint
    assert killed["result"]["resumed_from_epoch"] is not None
    assert [a["pid"] for a in map(json.loads, (victim / ATTEMPTS).read_text().splitlines())][0] == pid
    assert set(results) == set(expected)
    for point, r in results.items():
        assert r["status"] == "ok", r["error"]
        assert _stable(r["result"]) == _stable(expected[point]["result"]), point


def test_a_killed_driver_rerun_skips_the_points_that_ended(tmp_path):
    out = tmp_path / "sweep"
    spec = _spec(tmp_path, '[[grid]]\nmethod = "train"\ndataset = "karate"\nepochs = 400\nseed = [0, 1, 2, 3]\n')
    proc = subprocess.Popen(_sweep_cmd(spec, out), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_for(lambda: len(list((out / RUNS).glob(f"*/{RESULT}"))) >= 1, "a point to end")
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait(timeout=60)
    workers = {json.loads(line)["pid"] for f in (out / RUNS).glob(f"*/{ATTEMPTS}") for line in f.read_text().splitlines()}
    _wait_for(lambda: not any(_alive(pid) for pid in workers), "the workers to go with their driver", 60)
    ended = {p.parent.name: p.read_bytes() for p in (out / RUNS).glob(f"*/{RESULT}")}
    assert 1 <= len(ended) < 4
    rerun = _sweep(spec, out)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(ended)} ended earlier, {4 - len(ended)} to run" in rerun.stderr
    for point, content in ended.items():
        assert (out / RUNS / point / RESULT).read_bytes() == content  # not run again
        assert len((out / RUNS / point / ATTEMPTS).read_text().splitlines()) == 1
    results = _results(out)
    assert len(results) == 4 and all(r["status"] == "ok" for r in results.values())


def test_a_failing_point_is_recorded_and_the_others_finish(tmp_path):
    spec = _spec(tmp_path, """
[[grid]]
method = "train"
dataset = "karate"
epochs = 5
wbits = [4, 99]
""")
    out = tmp_path / "sweep"
    proc = _sweep(spec, out)
    assert proc.returncode == 1, proc.stderr  # a point failed
    results = list(_results(out).values())
    by_bits = {r["options"]["wbits"]: r for r in results}
    assert by_bits[4]["status"] == "ok" and by_bits[4]["result"]["test_accuracy"] >= 0
    assert by_bits[99]["status"] == "failed" and by_bits[99]["exit_status"] == 2
    assert "99" in by_bits[99]["error"]
    assert "1 failed" in proc.stdout
    log = (out / RUNS / by_bits[99]["point"] / "log.txt").read_text()
    assert "lpgnas: error:" in log


@pytest.mark.parametrize("entry, named", [
    ('method = ["lpgnas", "gcn-w4a9x"]\ndataset = "karate"', "gcn-w4a9x"),
    ('method = "train"\ndataset = ["karate", "Corra"]', "Corra"),
    ('method = "train"\ndataset = "karate"\ndevice = "xc9z999"', "xc9z999"),
    ('method = "train"\ndataset = "karate"\nepochz = 5', "--epochz"),
    ('method = "random-search"\ndataset = "karate"', "random search"),
])
def test_a_bad_spec_entry_stops_the_sweep_before_any_point_runs(tmp_path, capsys, entry, named):
    spec = _spec(tmp_path, f"[[grid]]\n{entry}\n")
    out = tmp_path / "sweep"
    assert main(["sweep", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lpgnas: error:") and len(err.strip().splitlines()) == 1
    assert "grid 1" in err and named in err
    assert not out.exists()


def test_spec_points_are_named_and_ordered_seed_first(tmp_path):
    spec = load_spec(_spec(tmp_path))
    assert [p.id.split("__")[0] + f" s{p.options['seed']}" for p in spec.points] == [
        "lpgnas s0", "gcn-w4a8 s0", "lpgnas s1", "gcn-w4a8 s1"]
    assert len({p.id for p in spec.points}) == 4
    assert spec.points[0].options["epochs"] == 60  # [defaults.lpgnas]
    assert spec.points[1].options["epochs"] == 30  # [defaults.baseline]


def test_only_selects_points_and_keeps_a_random_search_with_its_reference(tmp_path):
    spec = load_spec(_spec(tmp_path, KARATE_SPEC + '\n[[grid]]\nmethod = "random-search"\ndataset = "karate"\n'
                                                  'seed = [0, 1]\n'))
    picked = spec.selected(parse_only(["method=random-search", "seed=1"]))
    assert [(p.method, p.options["seed"]) for p in picked] == [("lpgnas", 1), ("random-search", 1)]
    assert [p.options["seed"] for p in spec.selected(parse_only(["method=gcn-w4a8"]))] == [0, 1]


@pytest.mark.parametrize("only, named", [
    (["seed"], "KEY=VALUE"), (["dataset=Cora"], "Cora"), (["epochz=5"], "'epochz'"),
    (["method=random-search"], "random-search"), (["method=lpgnas", "dataset=karate", "seed=0", "epochs=30"], "epochs=30"),
])
def test_a_bad_only_is_refused_before_any_point_runs(tmp_path, capsys, only, named):
    out = tmp_path / "sweep"
    argv = ["sweep", str(_spec(tmp_path)), "-o", str(out)]
    assert main([*argv, *(a for o in only for a in ("--only", o))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lpgnas: error:") and len(err.strip().splitlines()) == 1 and named in err
    assert not out.exists()


def test_a_sweep_with_only_runs_the_selected_points_and_later_the_rest(tmp_path):
    spec = _spec(tmp_path, '[[grid]]\nmethod = "train"\ndataset = "karate"\nepochs = 5\nseed = [0, 1, 2]\n')
    out = tmp_path / "sweep"
    proc = _sweep(spec, out, "--only", "seed=0,2")
    assert proc.returncode == 0, proc.stderr  # the selected points ran (the third is left for later)
    assert "(2 selected by --only), 0 ended earlier, 2 to run" in proc.stderr
    assert "1 not run of 3 points; of the 2 selected: 2 ok, 0 failed, 0 not run" in proc.stdout
    assert sorted(r["options"]["seed"] for r in _results(out).values()) == [0, 2]
    rest = _sweep(spec, out)
    assert rest.returncode == 0, rest.stderr
    assert "2 ended earlier, 1 to run" in rest.stderr


def test_a_folder_that_is_not_a_sweep_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["sweep", str(_spec(tmp_path)), "-o", str(out)]) == 2
    assert "not empty and holds no sweep" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def _train_point(tmp_path: Path) -> dict:
    spec = load_spec(_spec(tmp_path, '[[grid]]\nmethod = "train"\ndataset = "karate"\nepochs = 5\n'))
    return spec.points[0].to_dict()


def test_a_worker_that_does_not_see_the_sweep_folder_returns_its_run_folder(tmp_path):
    point = _train_point(tmp_path)
    elsewhere = tmp_path / "driver-side"  # no token: as on a node without the driver's file system
    record = execute_point(point, str(elsewhere), "f" * 32, {}, {}, 1)
    assert record["status"] == "ok", record["error"]
    assert not elsewhere.exists()
    assert not (Path(tempfile.gettempdir()) / f"lpgnas-sweep-{'f' * 32}" / RUNS / point["point"]).exists()
    run_dir = tmp_path / "sweep" / RUNS / point["point"]
    unpack(record.pop("archive"), run_dir)
    assert json.loads((run_dir / RESULT).read_text()) == record
    assert (run_dir / "out" / "model.ir.json").is_file() and "lpgnas train" in (run_dir / "log.txt").read_text()


def test_a_sweep_joins_a_running_cluster(tmp_path):
    """``--address HOST:PORT`` and ``ray://`` (Ray Client) against a head started with ``ray start``, token
    authentication on (Ray 2.60's default for a head; the driver then needs RAY_AUTH_MODE=token)."""
    ray_bin = Path(sys.executable).parent / "ray"
    port, client_port = 26379 + os.getpid() % 1000, 20001 + os.getpid() % 1000
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths are limited
    env = _env() | {"RAY_AUTH_MODE": "token"}
    head = subprocess.Popen([str(ray_bin), "start", "--head", "--block", "--num-cpus", "2", f"--port={port}",
                             "--node-ip-address=127.0.0.1",
                             f"--ray-client-server-port={client_port}", "--include-dashboard=false",
                             "--disable-usage-stats", f"--temp-dir={temp}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        spec = _spec(tmp_path, '[[grid]]\nmethod = "train"\ndataset = "karate"\nepochs = 5\nseed = [0, 1]\n')
        for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{client_port}"):
            out = tmp_path / address.replace(":", "_").replace("/", "_")
            proc = None
            for _ in range(60):  # the head needs a few seconds to take connections
                proc = subprocess.run([sys.executable, "-m", "lpgnas", "sweep", str(spec), "-o", str(out),
                                       "--address", address], cwd=REPO, env=env, capture_output=True, text=True,
                                      timeout=600)
                if proc.returncode == 0:
                    break
                time.sleep(2)
            assert proc is not None and proc.returncode == 0, proc.stderr
            results = _results(out)
            assert len(results) == 2 and all(r["status"] == "ok" for r in results.values())
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)


def test_options_go_to_the_commands_that_take_them(tmp_path):
    m = method("verify")
    lines = command_lines(m, {"design": "a/model.ir.json", "dataset": "karate", "device": "xc7z020", "nodes": 16,
                              "sim": "none", "csim": True, "full": False}, tmp_path / "out")
    assert lines == [
        ["generate", "a/model.ir.json", "--dataset", "karate", "--device", "xc7z020", "--nodes", "16", "-o",
         str(tmp_path / "out" / "hw")],
        ["verify", str(tmp_path / "out" / "hw"), "--sim", "none", "--csim"]]
    assert command_lines(method("synth"), {"design": "m.ir.json", "device": "xczu7ev"}, tmp_path)[1] == [
        "synth", str(tmp_path / "hw"), "--device", "xczu7ev"]
    assert command_lines(method("gcn-w4a8"), {"seed": 3}, tmp_path) == [
        ["baseline", "gcn-w4a8", "--seed", "3", "-o", str(tmp_path)]]
    local = method("lpgnas-local")
    assert local.family == "lpgnas" and local.resumable
    assert command_lines(local, {"dataset": "Cora", "objective": "latency"}, tmp_path) == [
        ["search", "--no-controllers", "--dataset", "Cora", "--objective", "latency", "-o", str(tmp_path)]]


def test_verify_synth_and_flow_points_record_their_checks(tmp_path):
    from lpgnas.hwconfig import default_config
    from lpgnas.ir import load_ir

    assert main(["-q", "train", "--dataset", "karate", "--epochs", "5", "-o", str(tmp_path / "gcn")]) == 0
    # a modest design to synthesise: the DSE's fills the device with LUT multipliers (Yosys takes many minutes)
    default_config(load_ir(tmp_path / "gcn" / "model.ir.json"), 34, 190).save(tmp_path / "hw.json")
    spec = _spec(tmp_path, """
[[grid]]
method = "verify"
design = "gcn/*.ir.json"
dataset = "karate"
device = "xc7z020"
sim = "none"
csim = true

[[grid]]
method = "synth"
design = "gcn/model.ir.json"
hw = "hw.json"
dataset = "karate"
device = "xc7z020"

[[grid]]
method = "flow"
dataset = "karate"
arch = "gcn"
epochs = 5
sim = "none"
no-baselines = true
""")
    out = tmp_path / "sweep"
    proc = _sweep(spec, out)
    assert proc.returncode == 0, proc.stderr
    results = {r["method"]: r for r in _results(out).values()}
    verify, synth, flow = results["verify"]["result"], results["synth"]["result"], results["flow"]["result"]
    assert verify["bit_exact"] is True and verify["backends"]["csim"]["mismatches"] == 0
    assert synth["synth"]["lut"] > 0 and synth["synth"]["ff"] > 0 and synth["synth_seconds"] > 0
    assert flow["csim_bit_exact"] is True and flow["fits"] is True
    assert flow["hardware"]["lut"] > 0 and flow["hardware"]["cycles"] > 0 and flow["model_size_kib"] > 0
    assert 0 <= flow["test_accuracy"] <= 1


def test_the_fronts_benchmark_spec_parses_and_dry_runs(capsys):
    """benchmarks/specs/fronts_bench.toml: 9 rows x 12 methods x 5 seeds; --dry-run lists the points and their
    command lines (lpgnas-local: the search with --no-controllers and the lpgnas defaults) and runs nothing."""
    path = REPO / "benchmarks" / "specs" / "fronts_bench.toml"
    spec = load_spec(path)
    assert len(spec.points) == 9 * 12 * 5
    assert {p.options["device"] for p in spec.points if p.options["dataset"] == "CS"} == {"xczu7ev"}
    assert main(["sweep", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("540 points\n")
    local = next(line for line in out.splitlines() if "--no-controllers" in line)
    assert local.startswith("    lpgnas search --no-controllers --objective latency")
    assert main(["sweep", str(path), "--dry-run", "--only", "dataset=CS", "--only", "seed=0"]) == 0
    assert capsys.readouterr().out.endswith("\n12 points\n")
