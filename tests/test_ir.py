"""The IR: JSON + npz round trip, and validation errors that name the offending field."""

import copy
import json

import numpy as np
import pytest

from lpgnas.errors import IRValidationError
from lpgnas.ir import ir_from_dict, load_ir, tensors_path
from lpgnas.testing import random_ir


@pytest.fixture
def ir():
    return random_ir(np.random.default_rng(0), attention="gcn", aggregation="mean", wbits=4, abits=8)


def _doc_and_arrays(ir):
    doc = ir.to_json_dict()
    arrays = {}
    for layer in ir.layers:
        arrays[f"{layer.name}.weight"] = layer.weight
        if layer.bias is not None:
            arrays[f"{layer.name}.bias"] = layer.bias
    return doc, arrays


def test_round_trip(ir, tmp_path):
    path = ir.save(tmp_path / "model.ir.json")
    assert tensors_path(path).name == "model.ir.npz"
    back = load_ir(path)
    assert back.to_json_dict() == ir.to_json_dict()
    for a, b in zip(ir.layers, back.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
        assert a.formats == b.formats


def _set(doc, path, value):
    *head, last = path
    for key in head:
        doc = doc[key]
    if value is _DELETE:
        del doc[last]
    else:
        doc[last] = value


_DELETE = object()

MALFORMED = [
    # (what to change in the JSON document, the message it must give)
    (("version",), 2, r"version: this lpgnas reads IR version 1, the file has 2"),
    (("schema",), "onnx", r"schema: expected 'lpgnas-ir'"),
    (("layers", 0, "attention"), "transformer", r"layers\[0\]\.attention: unknown operator 'transformer'; known: const, gcn"),
    (("layers", 1, "aggregation"), "median", r"layers\[1\]\.aggregation: unknown operator 'median'"),
    (("layers", 0, "activation"), "swish", r"layers\[0\]\.activation: unknown operator 'swish'"),
    (("layers", 0, "formats", "weight", "bits"), 40, r"layers\[0\]\.formats\.weight\.bits: 40 is outside 1\.\.32"),
    (("layers", 1, "formats", "linear", "bits"), 0, r"layers\[1\]\.formats\.linear\.bits: 0 is outside 1\.\.32"),
    (("layers", 0, "formats", "coef"), _DELETE, r"layers\[0\]\.formats\.coef: missing format"),
    (("layers", 0, "formats", "weight", "bits"), "8", r"layers\[0\]\.formats\.weight\.bits: expected an integer"),
    (("layers", 0, "in_features"), 9, r"layers\[0\]\.in_features: 9 does not match the previous width 8"),
    (("layers", 0, "out_features"), 7, r"layers\[0\]\.tensors\.weight: shape \(1, 8, 8\), expected \(1, 8, 7\)"),
    (("layers", 1, "out_features"), 5, r"layers\[1\]\.tensors\.weight: shape"),
    (("num_classes",), 3, r"outputs 4 features, num_classes is 3"),
    (("layers", 0, "tensors", "weight"), "nope", r"layers\[0\]\.tensors\.weight: tensor 'nope' is missing"),
    (("layers", 1, "name"), "layer0", r"layers\[1\]\.name: 'layer0' must be a unique identifier"),
    (("layers", 0, "heads"), 9, r"layers\[0\]\.heads: at most 8 heads"),
    (("layers", 1, "formats", "input", "frac"), 31, r"layers\[1\]\.formats\.input: .* differs from the previous layer's output"),
    (("layers", 0, "formats", "bias", "frac"), 60, r"layers\[0\]\.formats\.bias\.frac: 60 exceeds"),
    (("layers", 0, "formats", "extra"), {"bits": 8, "frac": 0}, r"layers\[0\]\.formats\.extra: not a format of this layer"),
    (("layers", 0, "name"), _DELETE, r"layers\[0\]\.name: missing field"),
    (("layers",), [], r"layers: a model needs at least one layer"),
]


@pytest.mark.parametrize("path, value, message", MALFORMED, ids=[m[2][:40] for m in MALFORMED])
def test_malformed_ir_names_the_field(ir, path, value, message):
    doc, arrays = _doc_and_arrays(ir)
    ir_from_dict(copy.deepcopy(doc), arrays)  # the unmodified document is valid
    _set(doc, path, value)
    with pytest.raises(IRValidationError, match=message):
        ir_from_dict(doc, arrays)


def test_tensor_problems_are_named(ir):
    doc, arrays = _doc_and_arrays(ir)
    bad = dict(arrays, **{"layer0.weight": arrays["layer0.weight"] * 100})
    with pytest.raises(IRValidationError, match=r"layers\[0\]\.tensors\.weight: codes span .* outside"):
        ir_from_dict(doc, bad)
    bad = dict(arrays, **{"layer1.bias": arrays["layer1.bias"].astype(np.float32)})
    with pytest.raises(IRValidationError, match=r"layers\[1\]\.tensors\.bias: integer codes expected"):
        ir_from_dict(doc, bad)
    binary_ir = random_ir(np.random.default_rng(1), wbits=1)
    doc, arrays = _doc_and_arrays(binary_ir)
    arrays["layer0.weight"] = np.zeros_like(arrays["layer0.weight"])
    with pytest.raises(IRValidationError, match="binary tensor holds only -1 and"):
        ir_from_dict(doc, arrays)


def test_missing_and_corrupt_files(ir, tmp_path):
    with pytest.raises(IRValidationError, match="no such IR file"):
        load_ir(tmp_path / "absent.ir.json")
    path = ir.save(tmp_path / "m.ir.json")
    tensors_path(path).unlink()
    with pytest.raises(IRValidationError, match="tensor file is missing"):
        load_ir(path)
    path.write_text("{not json")
    with pytest.raises(IRValidationError, match="not valid JSON"):
        load_ir(path)


def test_save_is_atomic_and_keeps_the_old_file_on_failure(ir, tmp_path):
    path = ir.save(tmp_path / "m.ir.json")
    before = path.read_text()
    ir.layers[0].weight = ir.layers[0].weight[:, :1]  # invalid: save must refuse and leave the old files
    with pytest.raises(IRValidationError):
        ir.save(path)
    assert path.read_text() == before and json.loads(before)["version"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ir.json", "m.ir.npz"]
