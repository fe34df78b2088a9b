"""``lpgnas baseline METHOD``: every kind through the CLI into a run folder, the same results as the baseline
functions, the names, the sampling budget of ``--like``, bad input (exit 2 before the folder exists)."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from lpgnas.cli import main
from lpgnas.datasets import recorded_feature_mode
from lpgnas.errors import LpgnasError
from lpgnas.golden import predict
from lpgnas.inputs import design_inputs, training_config
from lpgnas.ir import load_ir
from lpgnas.search import baselines as bl
from lpgnas.search.config import SearchConfig, load_search_data

#: a small search space on karate: random search's candidates train in well under a second
SMALL = dict(dataset="karate", hidden_sizes="4,8", head_counts="1,2", retrain_epochs=5, retrain_patience=100)
EPOCHS = 5


@pytest.fixture(scope="module")
def karate():
    return load_search_data(SearchConfig(dataset="karate"))


def _search_metrics(tmp_path, **config) -> str:
    """A hand-made metrics.json of a search run: its configuration and what the sampling budget needs
    (0.4 s search + 1.0 s of trainings - 0.3 s retraining of the exported candidate = 1.1 s)."""
    cfg = SearchConfig(**(SMALL | config))
    doc = {"config": asdict(cfg), "search_seconds": 0.4, "candidate_seconds": 1.0, "chosen_candidate": 2,
           "candidates": [{"index": 0, "seconds": 0.7}, {"index": 2, "seconds": 0.3}]}
    path = tmp_path / "search" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return str(path)


def _without_times(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("seconds", "search_seconds", "candidates")}


@pytest.mark.parametrize("method", ["float-gcn", "float-gat", "float-sage", "gcn-w1a8", "gcn-w2a8", "gcn-w8a8",
                                    "gat-w4a8"])
def test_each_baseline_writes_the_functions_results(method, karate, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["baseline", method, "--dataset", "karate", "--epochs", str(EPOCHS), "-o", str(run)]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["method"] == method and np.isfinite(m["test_accuracy"]) and 0.0 <= m["test_accuracy"] <= 1.0
    assert np.isfinite(m["val_accuracy"]) and m["model_size_kib"] > 0
    assert {k: m[k] for k in ("dataset", "split", "seed", "device", "torch_device")} == \
        {"dataset": "karate", "split": "random-60-20-20", "seed": 0, "device": "xc7z020", "torch_device": "cpu"}
    b = bl.parse_baseline(method)
    # deterministic on the CPU: the command equals the baseline function, same seed and data
    direct = bl.run_baseline(b, karate, SearchConfig(dataset="karate"), EPOCHS, 100)
    assert _without_times(m) == _without_times({**direct, **{k: m[k] for k in ("dataset", "split", "seed",
                                                                              "device", "torch_device")}})
    out = capsys.readouterr().out
    assert f"{method}: test accuracy {m['test_accuracy']:.4f}" in out and "KiB" in out
    if b.kind == "float":
        assert not (run / "model.ir.json").exists()
        return
    ir = load_ir(run / "model.ir.json")
    assert [lay.formats["weight"].bits for lay in ir.layers] == [b.wbits] * 2
    # the IR records the search pipeline's features, so the hardware's inputs are the ones it trained on
    cfg = training_config(ir)
    assert cfg["features"] == "row" and cfg["dataset"] == "karate" and cfg["split"] == "random-60-20-20"
    graph, _ = design_inputs(ir, "karate", None, None, recorded_feature_mode(cfg))
    pred, y, test = predict(ir, graph, karate.x.numpy()), karate.y.numpy(), karate.test_mask.numpy()
    assert float((pred[test] == y[test]).mean()) == m["test_accuracy"]


def test_random_search_like_a_search_run_takes_its_config_and_budget(karate, tmp_path):
    like = _search_metrics(tmp_path)
    assert bl.sampling_budget_seconds(json.loads(open(like).read())) == pytest.approx(1.1)
    run = tmp_path / "run"
    assert main(["baseline", "random-search", "--like", like, "-o", str(run)]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["budget_seconds"] == pytest.approx(1.1) and m["candidates"] >= 1
    assert m["config"] == json.loads(open(like).read())["config"] and m["dataset"] == "karate"
    assert np.isfinite(m["test_accuracy"]) and (run / "model.ir.json").is_file()
    ir = load_ir(run / "model.ir.json")
    assert ir.metadata["architecture"] == m["architecture"]
    assert training_config(ir)["hidden_sizes"] == "4,8"


def test_random_search_command_equals_the_function(karate, tmp_path):
    """With a budget of 0 s random search trains exactly one draw: deterministic, so comparable."""
    like = _search_metrics(tmp_path)
    run = tmp_path / "run"
    # --dataset / --seed equal to the search's (any case) are no conflict
    assert main(["baseline", "random-search", "--like", like, "--budget-seconds", "0", "--dataset", "KARATE",
                 "--seed", "0", "-o", str(run)]) == 0
    m = json.loads((run / "metrics.json").read_text())
    (tmp_path / "direct").mkdir()
    direct = bl.random_search(SearchConfig(**json.loads(open(like).read())["config"]), karate, 0.0,
                              out=tmp_path / "direct")
    assert (run / "pareto.json").read_text() == (tmp_path / "direct" / "pareto.json").read_text()
    assert m["candidates"] == direct["candidates"] == 1
    assert _without_times(m) == _without_times({**direct, **{k: m[k] for k in ("dataset", "split", "seed",
                                                                              "device", "torch_device")}})


def _fake_random_search(monkeypatch) -> dict:
    seen: dict = {}

    def fake(cfg, data, budget_seconds, out=None):
        seen.update(cfg=cfg, budget=budget_seconds, out=out, nodes=data.num_nodes)
        return {"method": "random-search", "test_accuracy": 0.5, "model_size_kib": 1.0}

    monkeypatch.setattr(bl, "random_search", fake)
    return seen


def test_epochs_patience_and_budget_override_the_like_runs(tmp_path, monkeypatch):
    seen = _fake_random_search(monkeypatch)
    like = _search_metrics(tmp_path)
    assert main(["baseline", "random-search", "--like", like, "-o", str(tmp_path / "a")]) == 0
    assert (seen["cfg"].retrain_epochs, seen["cfg"].retrain_patience, seen["budget"]) == (5, 100, 1.1)
    assert main(["baseline", "random-search", "--like", like, "--epochs", "7", "--patience", "2",
                 "--budget-seconds", "0.5", "-o", str(tmp_path / "b")]) == 0
    assert (seen["cfg"].retrain_epochs, seen["cfg"].retrain_patience, seen["budget"]) == (7, 2, 0.5)
    assert seen["cfg"].hidden_sizes == "4,8"  # the rest is the search's


def test_random_search_without_like_takes_the_options(tmp_path, monkeypatch):
    seen = _fake_random_search(monkeypatch)
    run = tmp_path / "run"
    assert main(["baseline", "random-search", "--dataset", "karate", "--seed", "3", "--epochs", "7",
                 "--patience", "2", "--device", "xczu7ev", "--budget-seconds", "2.5", "-o", str(run)]) == 0
    cfg = seen["cfg"]
    assert (cfg.dataset, cfg.seed, cfg.retrain_epochs, cfg.retrain_patience, cfg.device, cfg.features) == \
        ("karate", 3, 7, 2, "xczu7ev", "auto")
    assert seen["budget"] == 2.5 and seen["out"] == run and seen["nodes"] == 34
    m = json.loads((run / "metrics.json").read_text())
    assert (m["seed"], m["device"], m["test_accuracy"]) == (3, "xczu7ev", 0.5)


@pytest.mark.parametrize("method", ["foo", "gcn-w0a8", "gcn-w4a1", "gcn-w33a8", "gcn-w04a8", "float-mlp", "sage-w4a8",
                                    "GCN-W4A8", "random"])
def test_an_unknown_method_exits_2_naming_it_before_the_run_folder_exists(method, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["baseline", method, "--dataset", "karate", "-o", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lpgnas: error: ") and repr(method) in err and "gcn-w4a8" in err and err.count("\n") == 1
    assert not run.exists()


@pytest.mark.parametrize("extra, says", [
    (["--dataset", "Cora"], "--dataset Cora contradicts --like"),
    (["--split", "public"], "--split public contradicts --like"),
    (["--seed", "1"], "--seed 1 contradicts --like"),
    (["--device", "xczu7ev"], "--device xczu7ev contradicts --like"),
    (["--budget-seconds", "-1"], "--budget-seconds -1.0 must be a number >= 0"),
])
def test_options_that_contradict_like_are_errors(extra, says, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["baseline", "random-search", "--like", _search_metrics(tmp_path), *extra, "-o", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lpgnas: error: ") and says in err
    assert not run.exists()


def test_bad_input_exits_2_before_the_run_folder_exists(tmp_path, capsys):
    train_metrics = tmp_path / "train.json"
    train_metrics.write_text(json.dumps({"config": {"arch": "gcn", "wbits": 4}}))
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    no_budget = tmp_path / "nobudget.json"
    no_budget.write_text(json.dumps({"config": asdict(SearchConfig(**SMALL))}))
    cases = [
        (["random-search", "--like", str(tmp_path / "missing.json")], "no such file"),
        (["random-search", "--like", str(not_json)], "not valid JSON"),
        (["random-search", "--like", str(train_metrics)], "not one this lpgnas reads"),
        (["random-search", "--like", str(no_budget)], "not the metrics of an lpgnas search run"),
        (["random-search", "--dataset", "karate"], "random-search needs a sampling budget"),
        (["float-gcn", "--like", str(no_budget)], "options of random-search, not of float-gcn"),
        (["gcn-w4a8", "--budget-seconds", "3"], "options of random-search, not of gcn-w4a8"),
        (["float-gcn", "--dataset", "nosuch"], "nosuch"),
        (["gcn-w4a8", "--dataset", "karate", "--device", "nosuch"], "nosuch"),
        (["gcn-w4a8", "--dataset", "karate", "--epochs", "0"], "--epochs 0 must be >= 1"),
    ]
    for args, says in cases:
        run = tmp_path / "run"
        assert main(["baseline", *args, "-o", str(run)]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("lpgnas: error: ") and says in err and err.count("\n") == 1, (args, err)
        assert not run.exists(), args


def test_names_parse_and_print_back():
    names = bl.standard_baselines()
    assert names[:7] == ["float-gcn", "float-gat", "float-sage", "gcn-w8a8", "gcn-w4a8", "gcn-w2a8", "random-search"]
    assert [bl.parse_baseline(n).name for n in names] == names
    assert bl.parse_baseline("gcn-w1a8") == bl.Baseline("quantised", "gcn", 1, 8)
    assert bl.parse_baseline("float-sage") == bl.Baseline("float", "sage")
    assert bl.parse_baseline("random-search") == bl.Baseline("random-search")
    with pytest.raises(LpgnasError, match="unknown baseline 'gcn'"):
        bl.parse_baseline("gcn")


def test_sampling_budget_of_a_malformed_record_is_an_error():
    with pytest.raises(LpgnasError, match="not the metrics of an lpgnas search run"):
        bl.sampling_budget_seconds({"search_seconds": 1.0, "candidate_seconds": 2.0, "candidates": [],
                                    "chosen_candidate": 0})
