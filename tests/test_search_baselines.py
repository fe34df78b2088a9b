"""Baselines of the search (float PyG models, uniformly quantised QAT, random search) and the benchmark's
resumable bookkeeping, on karate (seconds)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from lpgnas.datasets import load_dataset
from lpgnas.search import baselines as bl
from lpgnas.search.config import SearchConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def karate():
    return load_dataset("karate")


@pytest.mark.parametrize("kind", ["gcn", "gat", "sage"])
def test_float_baselines(karate, kind):
    r = bl.float_baseline(kind, karate, seed=0, epochs=20)
    assert r["method"] == f"float-{kind}" and 0.0 <= r["test_accuracy"] <= 1.0 and r["model_size_kib"] > 0


def test_float_baseline_stops_after_patience_epochs_without_a_better_validation_accuracy(karate):
    """The baselines train as the search's finalists: up to ``epochs``, early stop after ``patience``."""
    r = bl.float_baseline("gcn", karate, seed=0, epochs=400, patience=15)
    assert r["epochs_run"] == r["best_epoch"] + 15 + 1 < 400
    assert bl.float_baseline("gcn", karate, seed=0, epochs=40, patience=0)["epochs_run"] == 40


def test_quantised_baseline_reports_golden_accuracy_size_and_hardware(karate):
    r = bl.quantised_baseline("gcn", 4, 8, karate, seed=0, device="xc7z020", epochs=20)
    assert r["method"] == "gcn-w4a8" and 0.0 <= r["test_accuracy"] <= 1.0
    # 34x16 and 16x2 weights at 4 bits, biases at 8 bits
    assert r["model_size_kib"] == pytest.approx((4 * (34 * 16 + 16 * 2) + 8 * (16 + 2)) / 8192, abs=1e-3)
    assert r["hardware"]["lut"] > 0 and r["hardware"]["fits_device"]
    assert "gcn" in bl.quantised_archs()


def test_random_search_spends_its_budget_and_selects_on_validation(karate):
    cfg = SearchConfig(dataset="karate", hidden_sizes="4,8", head_counts="1,2", retrain_epochs=10)
    r = bl.random_search(cfg, karate, budget_seconds=0.0, short_epochs=5)
    assert r["candidates"] == 1 and 0.0 <= r["test_accuracy"] <= 1.0 and len(r["architecture"]) == 2


def test_random_search_exports_its_better_trained_model(karate):
    """As the search: the sample's short training ships when it validates better than the retraining."""
    for retrain_epochs, short_epochs, seed, exported in ((1, 30, 1, "short"), (200, 5, 0, "retrained")):
        cfg = SearchConfig(dataset="karate", hidden_sizes="4,8", head_counts="1,2", retrain_epochs=retrain_epochs,
                           seed=seed)
        r = bl.random_search(cfg, karate, budget_seconds=0.0, short_epochs=short_epochs)
        assert r["exported"] == exported
        # the golden model's validation accuracy is the exported model's
        assert r["val_accuracy"] == pytest.approx(max(r["short_val_accuracy"], r["retrained_val_accuracy"]))


def test_random_search_writes_the_fronts_of_every_model_it_trained(karate, tmp_path):
    """Every sample and the retraining are design points of the fronts, as a search's candidates are."""
    import json

    cfg = SearchConfig(dataset="karate", hidden_sizes="4,8", head_counts="1,2", retrain_epochs=10, seed=3)
    r = bl.random_search(cfg, karate, budget_seconds=600.0, short_epochs=5, max_candidates=4, out=tmp_path)
    doc = json.loads((tmp_path / "pareto.json").read_text())
    assert r["candidates"] == 4 and r["fronts"]["designs"] == len(doc["designs"]) >= 2
    assert 1 <= r["fronts"]["latency_front"] == len(doc["fronts"]["latency"])
    for p in doc["points"]:
        assert (tmp_path / p["ir"]).is_file() and 0.0 <= p["test_accuracy_golden"] <= 1.0
    cheapest = min((d for d in doc["designs"] if d["fits"]), key=lambda d: (d["latency_us"], -d["val_accuracy"]))
    assert doc["points"][doc["fronts"]["latency"][0]]["latency_us"] == cheapest["latency_us"]


@pytest.mark.parametrize("kind", ["gcn", "gat", "sage"])
def test_float_baseline_on_sparse_features_equals_the_dense_model(kind):
    """The CSR first layer (and GraphSAGE's linear-map-first form) computes the PyG layers' function: same
    outputs and weight gradients as the dense features, including a node without neighbours."""
    import torch

    from lpgnas.search.sparse import sparse_layout

    torch.manual_seed(0)
    x = (torch.rand(40, 30) < 0.1).float() * torch.rand(40, 30)
    edge_index = torch.randint(0, 39, (2, 120))  # node 39 has no edges
    (xs,) = sparse_layout(x, x)
    assert xs.is_sparse
    model = bl.FloatGNN(kind, 30, 4).eval()
    outs, grads = [], []
    for features in (x, xs):
        model.zero_grad()
        out = model(features, edge_index)
        out.square().sum().backward()
        outs.append(out.detach())
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) == len(list(model.parameters()))
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-5)


def _ceiling_module():
    spec = importlib.util.spec_from_file_location("accuracy_ceiling", REPO / "benchmarks" / "accuracy_ceiling.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("kind", ["gcn", "gat", "appnp"])
def test_ceiling_models_take_sparse_features_like_dense_ones(kind):
    """The ceiling benchmark's wider models: the CSR first product computes the dense model's function
    (GraphSAGE there takes dense features)."""
    import torch

    from lpgnas.search.sparse import sparse_layout

    torch.manual_seed(0)
    x = (torch.rand(40, 30) < 0.1).float() * torch.rand(40, 30)
    edge_index = torch.randint(0, 40, (2, 120))
    (xs,) = sparse_layout(x, x)
    model = _ceiling_module().build_model(kind, 8, 0.5, 30, 4).eval()
    assert torch.allclose(model(x, edge_index), model(xs, edge_index), atol=1e-5)


def test_ceiling_trains_every_model_and_reports_the_run_files(karate, tmp_path, monkeypatch):
    ac = _ceiling_module()
    monkeypatch.setattr(ac, "RUNS", tmp_path)
    for name in ac.MODELS:
        r = ac.train_one(name, karate, seed=0, epochs=15, patience=5)
        assert r["model"] == name and 0.0 <= r["test_accuracy"] <= 1.0 and r["best_epoch"] < 15
    for seed, acc in ((0, 0.80), (1, 0.82)):
        ac.run_file("karate", "x", "gcn-64-d0.5", seed).write_text(json.dumps({"test_accuracy": acc}))
    table = ac.report("karate", "x")
    assert "| gcn-64-d0.5 | 81.0 ± 1.4 | 82.0 | 2 | 80.0, 82.0 |" in table and "gat-8x8" not in table
