"""A search's fronts (search/pareto.py) and ``lpgnas export``: dominance, hypervolume, RUN/pareto.json of a
karate search checked against its own designs and the golden model, picking a point, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lpgnas.cli import main
from lpgnas.datasets import load_dataset, preprocess_features
from lpgnas.golden import predict
from lpgnas.graph import CSRGraph
from lpgnas.hw_model import model as hw_model
from lpgnas.hw_model.dse import explore
from lpgnas.hw_model.model import estimate
from lpgnas.hwconfig import HardwareConfig
from lpgnas.ir import ModelIR, load_ir
from lpgnas.search.config import SearchConfig
from lpgnas.search.pareto import FRONT_COSTS, hypervolume, non_dominated
from lpgnas.search.run import search

TINY = dict(dataset="karate", epochs=12, warmup=2, retrain_epochs=30, checkpoint_every=4,
            hidden_sizes="4,8", head_counts="1,2", candidates=3, screen_epochs=10, generations=1, finalists=2)


def same_model(a: ModelIR, b: ModelIR) -> bool:
    """The same layers, formats and integer tensors (names and metadata aside)."""
    da, db = a.to_json_dict(), b.to_json_dict()
    if da["layers"] != db["layers"]:
        return False
    return all(np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)
               and la.attention_tensors.keys() == lb.attention_tensors.keys()
               and all(np.array_equal(la.attention_tensors[k], lb.attention_tensors[k]) for k in la.attention_tensors)
               for la, lb in zip(a.layers, b.layers, strict=True))


@pytest.fixture(scope="module")
def karate_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("pareto") / "run"
    search(SearchConfig(**TINY), run, progress=False)
    return run


def test_non_dominated_keeps_exactly_the_undominated_points():
    pts = [{"c": 1.0, "a": 0.5, "t": 9}, {"c": 2.0, "a": 0.5, "t": 0},  # 1 is dominated by 0 (costlier, equal)
           {"c": 2.0, "a": 0.7, "t": 5}, {"c": 2.0, "a": 0.7, "t": 3},  # equal: the lower tiebreak (3) stays
           {"c": 3.0, "a": 0.6, "t": 0}, {"c": 4.0, "a": 0.9, "t": 0}, {"c": 0.5, "a": 0.1, "t": 0}]
    assert non_dominated(pts, "c", "a") == [6, 0, 2, 5]
    assert non_dominated(pts, "c", "a", tiebreak="t") == [6, 0, 3, 5]
    for i in non_dominated(pts, "c", "a"):
        assert not any(q["c"] <= pts[i]["c"] and q["a"] >= pts[i]["a"] and (q["c"], q["a"]) != (pts[i]["c"], pts[i]["a"])
                       for q in pts)


def test_hypervolume_is_the_area_of_the_dominated_staircase():
    # (1, .5) and (3, .8) against cost <= 5, accuracy >= 0: 2 * .5 + 2 * .8 = 2.6
    assert hypervolume([(1.0, 0.5), (3.0, 0.8)], 5.0) == pytest.approx(2.6)
    # a dominated point and points outside the reference box add nothing; a better one does
    assert hypervolume([(1.0, 0.5), (3.0, 0.8), (4.0, 0.6), (6.0, 0.99)], 5.0) == pytest.approx(2.6)
    assert hypervolume([(1.0, 0.5), (3.0, 0.8), (2.0, 0.9)], 5.0) > 2.6
    assert hypervolume([(1.0, 0.5)], 5.0, ref_accuracy=0.5) == 0.0
    assert hypervolume([], 5.0) == 0.0


def test_layer_units_cache_returns_the_uncached_costs_and_copies(karate_run):
    """The DSE's per-layer memo (hw_model.model.layer_units) gives what the computation gives, and a caller that
    changes a unit does not change the next caller's."""
    ir = load_ir(karate_run / "model.ir.json")
    hw = HardwareConfig.from_dict(json.loads((karate_run / "pareto.json").read_text())["points"][0]["hardware_config"])
    hw_model.clear_caches()
    cold = estimate(ir, hw, (34, 112)).as_dict()
    warm = estimate(ir, hw, (34, 112))
    assert warm.as_dict() == cold
    warm.units[0].lut = -1.0
    assert estimate(ir, hw, (34, 112)).as_dict() == cold


def test_fronts_are_the_undominated_designs_with_golden_accuracy(karate_run):
    doc = json.loads((karate_run / "pareto.json").read_text())
    metrics = json.loads((karate_run / "metrics.json").read_text())
    designs, points = doc["designs"], doc["points"]
    assert metrics["fronts"]["designs"] == len(designs) > len(points) >= 1
    fitting = [d for d in designs if d["fits"]]
    for name, cost in FRONT_COSTS.items():
        front = [points[k] for k in doc["fronts"][name]]
        assert all(name in p["fronts"] for p in front)
        assert [p[cost] for p in front] == sorted(p[cost] for p in front)
        for p in front:  # nothing considered beats a front point ...
            assert not any(d[cost] <= p[cost] and d["val_accuracy"] >= p["val_accuracy"]
                           and (d[cost], d["val_accuracy"]) != (p[cost], p["val_accuracy"]) for d in fitting)
        for d in fitting:  # ... and every design considered is matched or beaten by one
            assert any(p[cost] <= d[cost] and p["val_accuracy"] >= d["val_accuracy"] for p in front)
    d = load_dataset("karate", split=metrics["split"], seed=TINY.get("seed", 0))
    x = preprocess_features(d.x, metrics["config"]["features"]).numpy()
    csr = CSRGraph.from_edge_index(d.edge_index.numpy(), d.num_nodes)
    y = d.y.numpy()
    for p in points:
        ir = load_ir(karate_run / p["ir"])
        pred = predict(ir, csr, x)
        assert float((pred[d.test_mask.numpy()] == y[d.test_mask.numpy()]).mean()) == p["test_accuracy_golden"]
        assert float((pred[d.val_mask.numpy()] == y[d.val_mask.numpy()]).mean()) == p["val_accuracy"]
        hw, est = explore(ir, (csr.num_nodes, csr.num_edges), doc["device"])
        assert hw.to_dict() == p["hardware_config"]
        assert round(float(est.latency_us), 3) == p["latency_us"]
    # the shipped model (RUN/model.ir.json) is a front point, or designs as accurate and cheaper on both axes are
    shipped = [d for d in designs if d["shipped"]]
    assert len(shipped) == 1 and (shipped[0]["candidate"], shipped[0]["training"]) == \
        (metrics["chosen_candidate"], metrics["chosen_training"])
    on_front = [p for p in points if p["shipped"]]
    if on_front:
        assert same_model(load_ir(karate_run / on_front[0]["ir"]), load_ir(karate_run / "model.ir.json"))
    else:
        for cost in FRONT_COSTS.values():
            assert any(p[cost] <= shipped[0][cost] and p["val_accuracy"] >= shipped[0]["val_accuracy"]
                       for p in points)


def test_export_picks_points_and_writes_a_generate_ready_folder(karate_run, tmp_path, capsys):
    doc = json.loads((karate_run / "pareto.json").read_text())
    assert main(["export", str(karate_run)]) == 0
    assert f"{len(doc['points'])} points" in capsys.readouterr().out
    out = tmp_path / "picked"
    assert main(["export", str(karate_run), "--point", "0", "-o", str(out)]) == 0
    assert same_model(load_ir(out / "model.ir.json"), load_ir(karate_run / doc["points"][0]["ir"]))
    assert HardwareConfig.load(out / "hw_config.json").to_dict() == doc["points"][0]["hardware_config"]
    assert json.loads((out / "point.json").read_text())["point"] == 0
    # the most accurate within a size limit; the smallest point's size always admits it
    smallest = min(doc["points"], key=lambda p: p["model_size_kib"])
    limit = smallest["model_size_kib"]
    best = max((p for p in doc["points"] if p["model_size_kib"] <= limit), key=lambda p: p["val_accuracy"])
    assert main(["export", str(karate_run), "--max-kib", str(limit)]) == 0
    assert f"point {best['point']}:" in capsys.readouterr().out


@pytest.mark.parametrize("args, says", [
    (["--point", "99"], "--point 99"),
    (["--max-kib", "0.0000001"], "no front point is within"),
    (["--max-latency-us", "-3"], "must be a positive number"),
    (["--point", "0", "--max-kib", "1"], "leave out"),
    (["-o", "OUT"], "-o needs a point"),
])
def test_export_bad_input_is_one_line_exit_2(karate_run, tmp_path, capsys, args, says):
    args = [str(tmp_path / "o") if a == "OUT" else a for a in args]
    assert main(["export", str(karate_run), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lpgnas: error:") and says in err[0]


def test_export_refuses_a_folder_without_fronts_and_a_used_output(karate_run, tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    assert "pareto.json: no such file" in capsys.readouterr().err
    used = tmp_path / "used"
    used.mkdir()
    (used / "mine.txt").write_text("keep")
    assert main(["export", str(karate_run), "--point", "0", "-o", str(used)]) == 2
    assert (used / "mine.txt").read_text() == "keep" and sorted(p.name for p in used.iterdir()) == ["mine.txt"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pareto.json").write_text("{not json")
    assert main(["export", str(broken)]) == 2


def test_a_rerun_replaces_its_own_front_but_not_foreign_files(tmp_path):
    from lpgnas.errors import LpgnasError
    from lpgnas.search.pareto import _remove_own

    own = tmp_path / "front"
    own.mkdir()
    (own / "point0.ir.json").write_text("{}")
    _remove_own(own)
    assert not own.exists()
    foreign = tmp_path / "front2"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(LpgnasError, match="did not write"):
        _remove_own(foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    users = tmp_path / "users"  # a link in the front's place to a user's folder of look-alike files
    users.mkdir()
    (users / "point0.ir.json").write_text("{}")
    (tmp_path / "front3").symlink_to(users, target_is_directory=True)
    with pytest.raises(LpgnasError, match="a link"):
        _remove_own(tmp_path / "front3")
    assert (users / "point0.ir.json").is_file()
