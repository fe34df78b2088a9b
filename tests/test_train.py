"""Fixed-architecture training: export, golden accuracy, the acceptance figures on Cora, errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from lpgnas.errors import LpgnasError
from lpgnas.golden import predict
from lpgnas.ir import load_ir
from lpgnas.search.train import TrainConfig, train


def test_karate_train_exports_an_ir_the_golden_model_agrees_with(tmp_path):
    m = train(TrainConfig(dataset="karate", epochs=30, hidden=8, wbits=4, abits=8), tmp_path, progress=False)
    ir = load_ir(tmp_path / "model.ir.json")
    assert [layer.formats["weight"].bits for layer in ir.layers] == [4, 4]
    assert 0.0 <= m["test_accuracy_golden"] <= 1.0
    # the torch model mirrors the integer pipeline: both predict the same classes on (almost) every node
    assert m["golden_float_agreement"] >= 0.9
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_accuracy_golden"] == m["test_accuracy_golden"]
    assert (tmp_path / "train_log.jsonl").read_text().count("\n") == 30


def test_hardware_inputs_follow_the_recorded_feature_preprocessing(tmp_path):
    """A model trained on centred features records ``center``; the hardware's inputs built from that record
    give the golden accuracy training reported (row-normalised inputs would give other codes)."""
    from lpgnas.datasets import load_dataset, preprocess_features, recorded_feature_mode
    from lpgnas.golden import quantize_features, run_model
    from lpgnas.inputs import design_inputs, training_config

    m = train(TrainConfig(dataset="karate", epochs=30, hidden=8, features="center"), tmp_path, progress=False)
    ir = load_ir(tmp_path / "model.ir.json")
    assert training_config(ir)["features"] == "center"
    assert ir.layers[0].formats["input"].signed  # centred features are negative where a word is absent
    graph, codes = design_inputs(ir, "karate", None, None, recorded_feature_mode(training_config(ir)))
    data = load_dataset("karate")
    assert np.array_equal(codes, quantize_features(ir, preprocess_features(data.x, "center").numpy()))
    pred, y, test = np.argmax(run_model(ir, graph, codes), axis=1), data.y.numpy(), data.test_mask.numpy()
    assert float((pred[test] == y[test]).mean()) == m["test_accuracy_golden"]
    assert not np.array_equal(design_inputs(ir, "karate", None, None, "row")[1], codes)
    # "auto" is recorded as the mode it stands for
    train(TrainConfig(dataset="karate", epochs=1, hidden=4), tmp_path / "auto", progress=False)
    assert training_config(load_ir(tmp_path / "auto" / "model.ir.json"))["features"] == "row"


@pytest.mark.parametrize("wbits, kind", [(1, "binary"), (2, "ternary")])
def test_binary_and_ternary_weights(tmp_path, wbits, kind):
    train(TrainConfig(dataset="karate", epochs=5, hidden=4, wbits=wbits), tmp_path, progress=False)
    ir = load_ir(tmp_path / "model.ir.json")
    assert {layer.formats["weight"].kind for layer in ir.layers} == {kind}
    assert set(np.unique(ir.layers[0].weight)) <= {-1, 0, 1}


def test_cli_trains_a_gat_with_the_velickovic_layout(tmp_path):
    """``--arch gat --heads 8``: 8 heads x 8 hidden concatenated with elu, one output head; the torch model's
    forward is the golden model, so float and golden accuracies are equal."""
    cmd = [sys.executable, "-m", "lpgnas", "train", "--dataset", "karate", "--arch", "gat", "--heads", "8",
           "--epochs", "3", "-o", str(tmp_path), "--quiet"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    m = json.loads((tmp_path / "metrics.json").read_text())
    ir = load_ir(tmp_path / "model.ir.json")
    l0, l1 = ir.layers
    assert (l0.attention, l0.heads, l0.out_features, l0.concat, l0.activation) == ("gat", 8, 8, True, "elu")
    assert (l1.heads, l1.in_features, l1.activation) == (1, 64, "identity")
    assert set(l0.attention_tensors) == {"att_src", "att_dst"} and l0.attention_tensors["att_src"].shape == (8, 8)
    assert m["config"]["dropout"] == 0.6 and m["config"]["attention_dropout"] == 0.6
    assert m["golden_float_agreement"] == 1.0 and m["test_accuracy_float"] == m["test_accuracy_golden"]


def test_operators_and_averaged_output_heads_are_options(tmp_path):
    cfg = TrainConfig(dataset="karate", epochs=3, arch="gene-linear", aggregation="max", activation="softplus",
                      heads=2, out_heads=3, hidden=4, wbits=4, abits=6)
    m = train(cfg, tmp_path, progress=False)
    ir = load_ir(tmp_path / "model.ir.json")
    assert [(lay.attention, lay.aggregation, lay.heads, lay.concat) for lay in ir.layers] == [
        ("gene-linear", "max", 2, True), ("gene-linear", "max", 3, False)]
    assert ir.layers[0].activation == "softplus" and ir.layers[0].formats["exp"].bits == 6
    assert m["golden_float_agreement"] == 1.0


@pytest.mark.parametrize(
    "change, message",
    [({"wbits": 0}, "--wbits 0 is outside 1..32"), ({"abits": 1}, "--abits 1 is outside 2..32"),
     ({"arch": "transformer"}, "--arch 'transformer' is unknown"), ({"aggregation": "median"}, "unknown"),
     ({"out_heads": 9}, "--out-heads 9 is outside 1..8"),
     ({"attention_dropout": 1.0}, r"--attention-dropout 1.0 is outside \[0, 1\)"),
     ({"patience": -1}, "--patience -1 must be >= 0"), ({"coef_bits": 1}, "--coef-bits 1 is outside 2..32"),
     ({"logit_bits": 33}, "--logit-bits 33 is outside 2..32"),
     ({"dataset": "Imaginary"}, "Imaginary"), ({"features": "zscore"}, "unknown feature preprocessing 'zscore'")],
)
def test_bad_training_options_say_what_is_wrong(tmp_path, change, message):
    with pytest.raises(LpgnasError, match=message):
        train(TrainConfig(**{"dataset": "karate", "epochs": 1, **change}), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_binary_and_ternary_weights_get_no_weight_decay():
    from lpgnas.search.quant import optimiser_groups
    from lpgnas.search.quant_gnn import build_gnn

    for wbits, exempt in [(2, 2), (1, 2), (4, 0)]:
        model = build_gnn(30, 3, attention="gcn", wbits=wbits, abits=8)
        decayed, *rest = optimiser_groups(model, 5e-4)
        assert decayed["weight_decay"] == 5e-4 and all(g["weight_decay"] == 0.0 for g in rest)
        free = [p for g in rest for p in g["params"]]
        assert len(free) == exempt and all(any(p is layer.weight for layer in model.layers) for p in free)
        assert sum(p.numel() for g in (decayed, *rest) for p in g["params"]) == \
            sum(p.numel() for p in model.parameters())


@pytest.mark.slow
def test_ternary_gcn_trains_on_cora_60_20_20(tmp_path, data_root):
    """Weight decay on ternary weights shrank them until the GCN predicted the majority class (validation
    29.6 %); without it the golden test accuracy is 87-88 % (docs/search.md, "Binary and ternary weights")."""
    m = train(TrainConfig(dataset="Cora", split="random-60-20-20", wbits=2, abits=8), tmp_path,
              data_root=data_root, progress=False)
    assert m["test_accuracy_golden"] >= 0.85


def test_activations_at_4_bits_and_below_calibrate_to_the_least_error():
    import torch

    from lpgnas.numfmt import frac_for_range
    from lpgnas.search.quant import calibration_range

    x = torch.cat([torch.full((999,), 0.05), torch.tensor([1.0])])  # row-normalised features: one short row
    assert calibration_range([x], 8, False) == 1.0  # 8 bits: the largest magnitude, as before
    # 4 bits: the largest magnitude would give binary point 3 (steps of 1/8: 0.05 rounds to 0); the least
    # error is binary point 4 (0.05 -> 1/16, the outlier saturates at 15/16)
    assert frac_for_range(1.0, 4, False) == 3
    assert frac_for_range(calibration_range([x], 4, False), 4, False) == 4
    assert calibration_range([torch.zeros(5)], 4, True) == 0.0


@pytest.mark.slow
def test_ternary_gcn_with_4_bit_activations_trains_on_cora(tmp_path, data_root):
    """4-bit inputs calibrated to the largest feature (1.0) rounded Cora's row-normalised features (~0.05) to 0:
    47.9 % test accuracy (ternary, width 64, 5 seeds); calibrated to the least error 79.1 % (seed 0)."""
    m = train(TrainConfig(dataset="Cora", wbits=2, abits=4, hidden=64), tmp_path, data_root=data_root, progress=False)
    assert m["test_accuracy_golden"] >= 0.75 and m["golden_float_agreement"] == 1.0


def test_coefficient_bias_and_logit_bits_are_options(tmp_path):
    """--abits sets the activations; the coefficients, biases and logits can be wider (2-bit ones collapse a
    GCN: docs/search.md), in the trained model and its IR alike."""
    m = train(TrainConfig(dataset="karate", epochs=20, hidden=8, wbits=2, abits=2, coef_bits=8, bias_bits=6,
                          logit_bits=8), tmp_path, progress=False)
    first, last = load_ir(tmp_path / "model.ir.json").layers
    assert (first.formats["input"].bits, first.formats["linear"].bits, first.formats["output"].bits) == (2, 2, 2)
    assert first.formats["coef"].bits == last.formats["coef"].bits == 8
    assert first.formats["bias"].bits == last.formats["bias"].bits == 6
    assert (last.formats["linear"].bits, last.formats["aggregation"].bits, last.formats["output"].bits) == (8, 8, 8)
    assert m["golden_float_agreement"] == 1.0 and m["config"]["logit_bits"] == 8


@pytest.mark.slow
def test_ternary_gcn_with_2_bit_activations_trains_on_cora(tmp_path, data_root):
    """Everything at 2 bits: 28.4 % (5 seeds); 2-bit input and hidden activations with 8-bit coefficients,
    biases and logits: 78.4 +- 0.5 % (benchmarks/results/low_bit_roles.md; width 64, 200 epochs)."""
    m = train(TrainConfig(dataset="Cora", wbits=2, abits=2, coef_bits=8, bias_bits=8, logit_bits=8, hidden=64),
              tmp_path, data_root=data_root, progress=False)
    assert m["test_accuracy_golden"] >= 0.75 and m["golden_float_agreement"] == 1.0


def _cli_train(run, data_root, wbits, abits):
    cmd = [sys.executable, "-m", "lpgnas", "train", "--dataset", "Cora", "--data-root", str(data_root),
           "--arch", "gcn", "--layers", "2", "--hidden", "16", "--wbits", str(wbits), "--abits", str(abits),
           "-o", str(run), "--quiet"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("wbits, abits, minimum", [(16, 16, None), (8, 8, 0.79), (4, 8, 0.77)])
def test_cora_acceptance(tmp_path, data_root, wbits, abits, minimum):
    """Issue 2: 16-bit golden within 0.5 points of float; W8A8 >= 79 %; W4A8 >= 77 % (public split)."""
    m = _cli_train(tmp_path, data_root, wbits, abits)
    ir = load_ir(tmp_path / "model.ir.json")
    assert ir.layers[0].formats["weight"].bits == wbits
    if minimum is None:
        assert abs(m["test_accuracy_golden"] - m["test_accuracy_float"]) <= 0.005
    else:
        assert m["test_accuracy_golden"] >= minimum


@pytest.mark.slow
def test_reported_golden_accuracy_is_recomputable(cora_w8a8_run):
    ir, data, metrics = cora_w8a8_run
    from lpgnas.graph import CSRGraph

    pred = predict(ir, CSRGraph.from_edge_index(data.edge_index.numpy(), data.x.shape[0]), data.x.numpy())
    test = data.test_mask.numpy()
    assert float((pred[test] == data.y.numpy()[test]).mean()) == metrics["test_accuracy_golden"]


@pytest.mark.slow
def test_cora_gat_acceptance(tmp_path, data_root):
    """Issue 6: a trained GAT (8 heads x 8, elu; 1 output head) on Cora at 16 bits loses <= 0.5 points
    between float and golden test accuracy. "float" is the trained torch model, as for the GCN above; its
    forward pass is the golden model, so the two agree on every node. Against the same parameters run
    unquantised (float softmax and activations), the 16-bit model stays within 3 points: the softmax's exp
    table has a resolution of 2^-5 at any bitwidth, so this gap is a property of the trained weights and moves
    with them (measured: 0.2 points here, 1.5 on the CI machine, whose thread count changes the training)."""
    cmd = [sys.executable, "-m", "lpgnas", "train", "--dataset", "Cora", "--data-root", str(data_root),
           "--arch", "gat", "--heads", "8", "--wbits", "16", "--abits", "16", "-o", str(tmp_path), "--quiet"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert abs(m["test_accuracy_golden"] - m["test_accuracy_float"]) <= 0.005
    assert m["golden_float_agreement"] == 1.0
    assert abs(m["test_accuracy_golden"] - m["test_accuracy_unquantised"]) <= 0.03
    assert m["test_accuracy_golden"] >= 0.79
    ir = load_ir(tmp_path / "model.ir.json")
    assert (ir.layers[0].heads, ir.layers[0].attention, ir.layers[0].formats["score"].bits) == (8, "gat", 16)
