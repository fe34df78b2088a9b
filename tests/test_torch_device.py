"""``--torch-device cpu|cuda|auto`` of ``train``, ``search`` and ``baseline``: the resolution rules, the CPU
default unchanged, and (on a machine with CUDA only) runs on the GPU."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from lpgnas.cli import main
from lpgnas.errors import LpgnasError
from lpgnas.golden import predict
from lpgnas.ir import load_ir
from lpgnas.search.config import SearchConfig, load_search_data
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.torch_device import data_on, resolve_torch_device

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA device (torch.cuda.is_available() is False)")
no_cuda = pytest.mark.skipif(CUDA, reason="checks the error without CUDA; this machine has a GPU")

#: the smallest search worth running on karate: two search epochs, two screened candidates, one finalist
TINY_SEARCH = ["--dataset", "karate", "--epochs", "4", "--warmup", "1", "--retrain-epochs", "5",
               "--hidden-sizes", "4,8", "--head-counts", "1,2", "--candidates", "2", "--screen-epochs", "3",
               "--generations", "0", "--finalists", "1", "--checkpoint-every", "2"]
COMMANDS = {
    "train": ["train", "--dataset", "karate", "--epochs", "5", "--hidden", "8", "--wbits", "4"],
    "search": ["search", *TINY_SEARCH],
    "baseline": ["baseline", "gcn-w4a8", "--dataset", "karate", "--epochs", "5"],
}


def _without_times(x):
    """``x`` without wall times (keys ending in ``seconds``) and the device record, at any depth."""
    if isinstance(x, dict):
        return {k: _without_times(v) for k, v in x.items() if not k.endswith("seconds") and k != "torch_device"}
    if isinstance(x, list):
        return [_without_times(v) for v in x]
    return x


def _golden_test_accuracy(run) -> float:
    """The test accuracy of the run's IR under the golden model (numpy, CPU), on the search's data."""
    ir = load_ir(run / "model.ir.json")
    data = load_search_data(SearchConfig(dataset="karate"))
    g = GraphTensors.of(data)
    pred, y, test = predict(ir, g.csr, data.x.numpy()), data.y.numpy(), data.test_mask.numpy()
    return float((pred[test] == y[test]).mean())


def test_resolution_rules():
    assert resolve_torch_device("cpu") == torch.device("cpu")
    assert resolve_torch_device("auto") == torch.device("cuda" if CUDA else "cpu")
    with pytest.raises(LpgnasError, match="--torch-device 'tpu' is unknown"):
        resolve_torch_device("tpu")
    data = load_search_data(SearchConfig(dataset="karate"))
    assert data_on(data, torch.device("cpu")) is data  # nothing copied on the CPU


@no_cuda
@pytest.mark.parametrize("command", list(COMMANDS))
def test_cuda_without_cuda_exits_2_before_the_run_folder_exists(command, tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*COMMANDS[command], "--torch-device", "cuda", "-o", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lpgnas: error: --torch-device cuda: ") and "--torch-device cpu" in err
    assert err.count("\n") == 1 and not run.exists()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_cpu_is_the_default_and_changes_nothing(command, tmp_path):
    """``--torch-device cpu`` (and ``auto`` without CUDA) gives exactly the default's metrics and IR."""
    runs = {"default": [], "cpu": ["--torch-device", "cpu"]}
    if not CUDA:
        runs["auto"] = ["--torch-device", "auto"]
    for name, extra in runs.items():
        assert main(["-q", *COMMANDS[command], *extra, "-o", str(tmp_path / name)]) == 0
    metrics = {name: json.loads((tmp_path / name / "metrics.json").read_text()) for name in runs}
    assert {m["torch_device"] for m in metrics.values()} == {"cpu"}
    for name in runs:
        assert _without_times(metrics[name]) == _without_times(metrics["default"]), name
        ir, ref = load_ir(tmp_path / name / "model.ir.json"), load_ir(tmp_path / "default" / "model.ir.json")
        for layer, ref_layer in zip(ir.layers, ref.layers, strict=True):
            assert np.array_equal(layer.weight, ref_layer.weight) and layer.formats == ref_layer.formats
    golden = "test_accuracy" if command == "baseline" else "test_accuracy_golden"
    assert metrics["default"][golden] == _golden_test_accuracy(tmp_path / "default")


# ---- on a GPU (skipped without CUDA) ---------------------------------------------------------------------------
# What is equal across devices, honestly: the integer codes of a model are the same functions of its weights on
# both (the exact path is int64 arithmetic or float products exact by construction), so the same weights give
# the same codes and predictions on the GPU as on the CPU (test_same_weights_give_the_same_codes_on_the_gpu).
# A training run is not replayed: dropout draws from the GPU's generator and float sums may be summed in another
# order, so a GPU run trains other weights than a CPU run with the same seed. For those runs the tests check
# finite metrics and that the exported IR, under the golden model on the CPU, gives the recorded accuracy.


@needs_cuda
def test_same_weights_give_the_same_codes_on_the_gpu():
    from lpgnas.search.space import LayerChoice
    from lpgnas.search.supernet import build_quant_gnn
    from lpgnas.search.train import TrainConfig, fit

    data = load_search_data(SearchConfig(dataset="karate"))
    arch = [LayerChoice("gat", "add", "elu", 8, 2, 4, 8, 8, 8, 8, 8),
            LayerChoice("gcn", "mean", "identity", data.num_classes, 1, 2, 8, 8, 8, 8, 8)]
    torch.manual_seed(0)
    model = build_quant_gnn(arch, data.num_features, input_signed=False, dropout=0.5)
    fit(model, data, GraphTensors.of(data), TrainConfig(epochs=10), None, progress=False)
    gpu_data = data_on(data, torch.device("cuda"))
    gpu_model = copy.deepcopy(model).to("cuda")
    outs = {}
    for name, m, d in (("cpu", model, data), ("cuda", gpu_model, gpu_data)):
        m.eval()
        with torch.no_grad():
            outs[name] = (m(d.x, GraphTensors.of(d)).cpu(), [{k: v.cpu() for k, v in layer.codes.items()}
                                                             for layer in m.layers])
    assert torch.equal(outs["cuda"][0], outs["cpu"][0])
    for gpu_codes, cpu_codes in zip(outs["cuda"][1], outs["cpu"][1], strict=True):
        assert gpu_codes.keys() == cpu_codes.keys()
        for key in cpu_codes:
            assert torch.equal(gpu_codes[key], cpu_codes[key]), key


@needs_cuda
@pytest.mark.parametrize("command", list(COMMANDS))
def test_runs_on_the_gpu_record_it_and_export_an_ir_the_golden_model_agrees_with(command, tmp_path):
    run = tmp_path / "run"
    assert main(["-q", *COMMANDS[command], "--torch-device", "cuda", "-o", str(run)]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["torch_device"].startswith("cuda")
    golden = "test_accuracy" if command == "baseline" else "test_accuracy_golden"
    assert np.isfinite(m[golden]) and 0.0 <= m[golden] <= 1.0
    assert m[golden] == _golden_test_accuracy(run)
    if command != "baseline":
        assert np.isfinite(m["test_accuracy_float"]) and m["golden_float_agreement"] >= 0.9


@needs_cuda
def test_float_baseline_on_the_gpu(tmp_path):
    assert main(["-q", "baseline", "float-gat", "--dataset", "karate", "--epochs", "5", "--torch-device", "cuda",
                 "-o", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert np.isfinite(m["test_accuracy"]) and m["torch_device"].startswith("cuda")


@needs_cuda
def test_a_cpu_search_resumes_on_the_gpu(tmp_path):
    """The device is no part of the configuration: a checkpoint and trained candidates written on the CPU load
    onto the GPU (a finished search resumed: its candidates are reused, so the export is the CPU run's)."""
    assert main(["-q", "search", *TINY_SEARCH, "-o", str(tmp_path)]) == 0
    cpu = json.loads((tmp_path / "metrics.json").read_text())
    assert main(["-q", "search", "--resume", "--torch-device", "cuda", "-o", str(tmp_path)]) == 0
    gpu = json.loads((tmp_path / "metrics.json").read_text())
    assert gpu["torch_device"].startswith("cuda") and gpu["architecture"] == cpu["architecture"]
    assert gpu["test_accuracy_golden"] == cpu["test_accuracy_golden"]
