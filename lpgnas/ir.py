"""The quantised-model IR: the one description of a model that every stage reads.

An IR is a JSON document (architecture, number format of every tensor) plus an ``.npz`` file of integer
tensors. ``load_ir`` validates both and raises :class:`IRValidationError` naming the offending field,
e.g. ``layers[1].formats.weight.bits: 40 is outside 1..32``. See docs/ir.md for the schema.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lpgnas.errors import FormatError, IRValidationError
from lpgnas.fileio import atomic_path, write_json_atomic
from lpgnas.names import check_text, layer_identifiers
from lpgnas.numfmt import NumFormat
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS, layer_format_names
from lpgnas.tables import exp_format_ok

SCHEMA = "lpgnas-ir"
SCHEMA_VERSION = 1


@dataclass
class LayerIR:
    """One message-passing layer: linear transform per head, edge coefficients, aggregation, activation.

    ``weight`` has shape (heads, in_features, out_features); ``bias`` has shape (heads * out_features,)
    when heads are concatenated, else (out_features,), or is None. ``attention_tensors`` holds the
    attention vectors the attention kind reads (``lpgnas.operators.ATTENTIONS[...].tensors``), each of
    shape (heads, out_features), codes of ``formats['att_weight']``.
    """

    name: str
    in_features: int
    out_features: int
    attention: str
    aggregation: str
    activation: str
    formats: dict[str, NumFormat]
    weight: np.ndarray
    bias: np.ndarray | None = None
    heads: int = 1
    concat: bool = True
    attention_tensors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def output_features(self) -> int:
        """Width of the layer's output (the next layer's input)."""
        return self.heads * self.out_features if self.concat else self.out_features


@dataclass
class ModelIR:
    """A whole quantised model."""

    name: str
    in_features: int
    num_classes: int
    layers: list[LayerIR]
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    def validate(self) -> ModelIR:
        _validate(self)
        return self

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "version": self.version,
            "name": self.name,
            "in_features": self.in_features,
            "num_classes": self.num_classes,
            "metadata": self.metadata,
            "layers": [
                {
                    "name": layer.name,
                    "in_features": layer.in_features,
                    "out_features": layer.out_features,
                    "heads": layer.heads,
                    "concat": layer.concat,
                    "attention": layer.attention,
                    "aggregation": layer.aggregation,
                    "activation": layer.activation,
                    "formats": {k: f.to_dict() for k, f in layer.formats.items()},
                    "tensors": {"weight": f"{layer.name}.weight"}
                    | ({"bias": f"{layer.name}.bias"} if layer.bias is not None else {})
                    | {k: f"{layer.name}.{k}" for k in layer.attention_tensors},
                }
                for layer in self.layers
            ],
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (``*.ir.json``) and its tensors beside it (``*.ir.npz``), each atomically."""
        self.validate()
        json_path = Path(path)
        npz_path = tensors_path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for layer in self.layers:
            arrays[f"{layer.name}.weight"] = layer.weight.astype(np.int64)
            if layer.bias is not None:
                arrays[f"{layer.name}.bias"] = layer.bias.astype(np.int64)
            for key, arr in layer.attention_tensors.items():
                arrays[f"{layer.name}.{key}"] = arr.astype(np.int64)
        with atomic_path(npz_path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        write_json_atomic(json_path, self.to_json_dict())
        return json_path


def tensors_path(json_path: str | os.PathLike) -> Path:
    """``model.ir.json`` -> ``model.ir.npz``."""
    p = Path(json_path)
    return p.with_name(p.name[: -len(".json")] + ".npz") if p.name.endswith(".json") else p.with_suffix(".npz")


def load_ir(path: str | os.PathLike) -> ModelIR:
    """Read and validate an IR (JSON + npz)."""
    json_path = Path(path)
    if not json_path.is_file():
        raise IRValidationError(f"{json_path}: no such IR file (expected a *.ir.json written by lpgnas)")
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise IRValidationError(f"{json_path}: not UTF-8 text ({e.reason} at byte {e.start}); an IR is UTF-8 "
                                "JSON written by lpgnas train / search") from None
    except json.JSONDecodeError as e:
        raise IRValidationError(f"{json_path}: not valid JSON ({e})") from None
    npz_path = tensors_path(json_path)
    if not npz_path.is_file():
        raise IRValidationError(f"{npz_path}: the IR's tensor file is missing (it belongs beside {json_path.name})")
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, zlib.error) as e:
        raise IRValidationError(
            f"{npz_path}: the IR's tensor file is damaged or truncated ({type(e).__name__}: {e}); "
            "export the model again or restore the file"
        ) from None
    return ir_from_dict(doc, arrays)


def ir_from_dict(doc: Any, arrays: dict[str, np.ndarray]) -> ModelIR:
    """Build and validate an IR from its JSON document and its tensors; errors name the field."""
    if not isinstance(doc, dict):
        raise IRValidationError("the IR document must be a JSON object")
    if doc.get("schema") != SCHEMA:
        raise IRValidationError(f"schema: expected {SCHEMA!r}, got {doc.get('schema')!r}")
    version = doc.get("version")
    if version != SCHEMA_VERSION:
        raise IRValidationError(
            f"version: this lpgnas reads IR version {SCHEMA_VERSION}, the file has {version!r}; "
            "re-export the model with this version of lpgnas"
        )
    layers_doc = _get(doc, "layers", list, "")
    layers = [_layer_from_dict(ld, arrays, f"layers[{i}]") for i, ld in enumerate(layers_doc)]
    ir = ModelIR(
        name=str(_get(doc, "name", str, "")),
        in_features=_get(doc, "in_features", int, ""),
        num_classes=_get(doc, "num_classes", int, ""),
        layers=layers,
        metadata=doc.get("metadata", {}) or {},
        version=version,
    )
    return ir.validate()


def _get(d: Any, key: str, typ: type, where: str) -> Any:
    path = f"{where}.{key}" if where else key
    if not isinstance(d, dict) or key not in d:
        raise IRValidationError(f"{path}: missing field")
    v = d[key]
    if typ is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise IRValidationError(f"{path}: expected an integer, got {v!r}")
    if typ is not int and not isinstance(v, typ):
        raise IRValidationError(f"{path}: expected {typ.__name__}, got {type(v).__name__}")
    return v


def _format_from_dict(d: Any, where: str) -> NumFormat:
    if not isinstance(d, dict):
        raise IRValidationError(f"{where}: expected a format object, got {d!r}")
    for key in ("bits", "frac"):
        _get(d, key, int, where)
    bits = d["bits"]
    if not 1 <= bits <= 32:
        raise IRValidationError(f"{where}.bits: {bits} is outside 1..32")
    try:
        return NumFormat.from_dict(d)
    except FormatError as e:
        raise IRValidationError(f"{where}: {e}") from None


def _layer_from_dict(ld: Any, arrays: dict[str, np.ndarray], where: str) -> LayerIR:
    name = _get(ld, "name", str, where)
    formats_doc = _get(ld, "formats", dict, where)
    formats = {k: _format_from_dict(v, f"{where}.formats.{k}") for k, v in formats_doc.items()}
    tensors = _get(ld, "tensors", dict, where)
    weight_key = _get(tensors, "weight", str, f"{where}.tensors")
    if weight_key not in arrays:
        raise IRValidationError(f"{where}.tensors.weight: tensor {weight_key!r} is missing from the .npz file")
    bias = None
    if "bias" in tensors:
        if tensors["bias"] not in arrays:
            raise IRValidationError(f"{where}.tensors.bias: tensor {tensors['bias']!r} is missing from the .npz file")
        bias = arrays[tensors["bias"]]
    attention_tensors = {}
    for key, tensor_name in tensors.items():
        if key in ("weight", "bias"):
            continue
        if not isinstance(tensor_name, str) or tensor_name not in arrays:
            raise IRValidationError(f"{where}.tensors.{key}: tensor {tensor_name!r} is missing from the .npz file")
        attention_tensors[key] = arrays[tensor_name]
    concat = ld.get("concat", True)
    if not isinstance(concat, bool):
        raise IRValidationError(f"{where}.concat: expected true or false, got {concat!r}")
    return LayerIR(
        name=name,
        in_features=_get(ld, "in_features", int, where),
        out_features=_get(ld, "out_features", int, where),
        heads=_get(ld, "heads", int, where) if "heads" in ld else 1,
        concat=concat,
        attention=_get(ld, "attention", str, where),
        aggregation=_get(ld, "aggregation", str, where),
        activation=_get(ld, "activation", str, where),
        formats=formats,
        weight=arrays[weight_key],
        bias=bias,
        attention_tensors=attention_tensors,
    )


def _check_codes(arr: np.ndarray, fmt: NumFormat, where: str) -> None:
    if not np.issubdtype(arr.dtype, np.integer):
        raise IRValidationError(f"{where}: integer codes expected, got dtype {arr.dtype}")
    if arr.size == 0:
        return
    lo, hi = int(arr.min()), int(arr.max())
    if lo < fmt.qmin or hi > fmt.qmax:
        raise IRValidationError(f"{where}: codes span [{lo}, {hi}], outside {fmt} range [{fmt.qmin}, {fmt.qmax}]")
    if fmt.kind == "binary" and np.any(arr == 0):
        raise IRValidationError(f"{where}: a binary tensor holds only -1 and +1, found 0")


def _validate(ir: ModelIR) -> None:
    if ir.version != SCHEMA_VERSION:
        raise IRValidationError(f"version: expected {SCHEMA_VERSION}, got {ir.version}")
    if ir.in_features < 1:
        raise IRValidationError(f"in_features: must be >= 1, got {ir.in_features}")
    if ir.num_classes < 1:
        raise IRValidationError(f"num_classes: must be >= 1, got {ir.num_classes}")
    if not ir.layers:
        raise IRValidationError("layers: a model needs at least one layer")
    check_text(ir.name, "name")
    layer_identifiers([layer.name for layer in ir.layers])
    expected_in = ir.in_features
    prev_out: NumFormat | None = None
    for i, layer in enumerate(ir.layers):
        w = f"layers[{i}]"
        for key, registry in (("attention", ATTENTIONS), ("aggregation", AGGREGATIONS), ("activation", ACTIVATIONS)):
            value = getattr(layer, key)
            if value not in registry:
                raise IRValidationError(f"{w}.{key}: unknown operator {value!r}; known: {', '.join(registry)}")
        for key in ("in_features", "out_features", "heads"):
            if getattr(layer, key) < 1:
                raise IRValidationError(f"{w}.{key}: must be >= 1, got {getattr(layer, key)}")
        if layer.heads > 8:
            raise IRValidationError(f"{w}.heads: at most 8 heads are supported, got {layer.heads}")
        if layer.in_features != expected_in:
            raise IRValidationError(
                f"{w}.in_features: {layer.in_features} does not match the previous width {expected_in}"
            )
        required = layer_format_names(layer.attention, layer.aggregation)
        for key in required:
            if key not in layer.formats:
                raise IRValidationError(f"{w}.formats.{key}: missing format (required for this layer)")
        for key in layer.formats:
            if key not in required:
                raise IRValidationError(
                    f"{w}.formats.{key}: not a format of this layer; expected {', '.join(required)}"
                )
        fm = layer.formats
        if prev_out is not None and fm["input"] != prev_out:
            raise IRValidationError(
                f"{w}.formats.input: {fm['input']} differs from the previous layer's output {prev_out}"
            )
        for key in ("input", "linear", "aggregation", "output", "bias", "coef", "recip", "att_weight", "score", "exp"):
            if key in fm and fm[key].kind != "fix":
                raise IRValidationError(f"{w}.formats.{key}: must be a fix format, got {fm[key].kind}")
        if "exp" in fm and not exp_format_ok(fm["exp"]):
            raise IRValidationError(
                f"{w}.formats.exp: {fm['exp']} must be unsigned with frac = bits - 1 (exp(0) = 1 is its top power)"
            )
        wanted_tensors = ATTENTIONS[layer.attention].tensors
        for key in layer.attention_tensors:
            if key not in wanted_tensors:
                raise IRValidationError(
                    f"{w}.tensors.{key}: not a tensor of attention {layer.attention!r}; "
                    f"expected weight, bias{''.join(', ' + t for t in wanted_tensors)}"
                )
        for key in wanted_tensors:
            if key not in layer.attention_tensors:
                raise IRValidationError(f"{w}.tensors.{key}: missing (attention {layer.attention!r} needs it)")
            arr = layer.attention_tensors[key]
            if arr.shape != (layer.heads, layer.out_features):
                raise IRValidationError(
                    f"{w}.tensors.{key}: shape {arr.shape}, expected {(layer.heads, layer.out_features)}"
                )
            _check_codes(arr, fm["att_weight"], f"{w}.tensors.{key}")
        shape = (layer.heads, layer.in_features, layer.out_features)
        if layer.weight.shape != shape:
            raise IRValidationError(f"{w}.tensors.weight: shape {layer.weight.shape}, expected {shape}")
        _check_codes(layer.weight, fm["weight"], f"{w}.tensors.weight")
        if layer.bias is not None:
            bshape = (layer.output_features,)
            if layer.bias.shape != bshape:
                raise IRValidationError(f"{w}.tensors.bias: shape {layer.bias.shape}, expected {bshape}")
            _check_codes(layer.bias, fm["bias"], f"{w}.tensors.bias")
            acc_frac = aggregation_frac(layer)
            if fm["bias"].frac > acc_frac:
                raise IRValidationError(
                    f"{w}.formats.bias.frac: {fm['bias'].frac} exceeds the aggregation accumulator's frac {acc_frac}"
                )
        expected_in = layer.output_features
        prev_out = fm["output"]
    if expected_in != ir.num_classes:
        raise IRValidationError(
            f"layers[{len(ir.layers) - 1}]: outputs {expected_in} features, num_classes is {ir.num_classes}"
        )


#: format of the reciprocal of the head count used when heads are averaged
HEAD_MEAN_FRAC = 16


def linear_acc_frac(layer: LayerIR) -> int:
    """Binary point of the transform unit's accumulator."""
    return layer.formats["input"].frac + layer.formats["weight"].frac


def aggregation_frac(layer: LayerIR) -> int:
    """Binary point of the aggregation accumulator, after mean and head averaging (bias is added here)."""
    frac = layer.formats["linear"].frac
    if "coef" in layer.formats:
        frac += layer.formats["coef"].frac
    if "recip" in layer.formats:
        frac += layer.formats["recip"].frac
    if layer.heads > 1 and not layer.concat:
        frac += HEAD_MEAN_FRAC
    return frac
