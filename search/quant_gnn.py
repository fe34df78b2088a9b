"""``QuantGNN`` (a stack of ``QuantGraphLayer``), the fixed-architecture builder and the export to the IR."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch import nn

from lpgnas.ir import LayerIR, ModelIR
from lpgnas.numfmt import NumFormat, quantize_np
from lpgnas.search.dropout import dropout_shift, sparse_dropout
from lpgnas.search.exact import quantize_codes
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.quant import ActQuant, calibration_range
from lpgnas.search.quant_layer import QuantGraphLayer
from lpgnas.search.sparse import sparse_layout

#: (id, version, shape, what) of a feature tensor -> (weak reference to it, derived value); see feature_cache
_FEATURE_CACHE: dict[tuple, tuple[weakref.ref, Any]] = {}
_FEATURE_CACHE_ENTRIES = 8


def feature_cache(features: torch.Tensor, what: Hashable, compute: Callable[[], Any]) -> Any:
    """``compute()``, a value derived from ``features`` alone, remembered for as long as that very tensor
    (identity and in-place version) lives: a search trains ~100 models on one feature matrix, and
    quantising CS's or Physics's (18-35k nodes x 7-8k features) takes 5-20 s each time. Bounded to the
    ``_FEATURE_CACHE_ENTRIES`` newest entries."""
    key = (id(features), features._version, tuple(features.shape), what)
    hit = _FEATURE_CACHE.get(key)
    if hit is not None and hit[0]() is features:
        return hit[1]
    value = compute()
    _FEATURE_CACHE[key] = (weakref.ref(features), value)
    for stale in [k for k, (ref, _) in _FEATURE_CACHE.items() if ref() is None]:
        del _FEATURE_CACHE[stale]
    while len(_FEATURE_CACHE) > _FEATURE_CACHE_ENTRIES:
        del _FEATURE_CACHE[next(iter(_FEATURE_CACHE))]
    return value


class QuantGNN(nn.Module):
    """A stack of ``QuantGraphLayer`` with a quantiser on the input features."""

    def __init__(self, layers: list[QuantGraphLayer], input_bits: int, input_signed: bool, dropout: float = 0.5):
        super().__init__()
        self.input_q = ActQuant(input_bits, signed=input_signed)
        self.layers = nn.ModuleList(layers)
        self.dropout = dropout

    def set_quantise(self, on: bool) -> None:
        """``False``: run every layer unquantised (the float reference of the same parameters)."""
        for layer in self.layers:
            layer.quantise = on

    def _quantised_input(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, NumFormat]:
        """Values and codes of the input features as the host quantises them, sparse COO when the codes
        are mostly zero; cached across models (``feature_cache``), as the features rarely change (the range
        too: it feeds the calibration)."""
        q = self.input_q
        fmt = q.observe_range(feature_cache(features, ("range", q.bits, q.signed),
                                            lambda: calibration_range([features], q.bits, q.signed)))

        def quantised() -> tuple[torch.Tensor, torch.Tensor]:
            codes = quantize_codes(features.detach(), fmt)
            return sparse_layout(codes, codes.float() * 2.0**-fmt.frac, codes)

        self._input_value = feature_cache(features, fmt, quantised)
        return *self._input_value, fmt

    def forward(self, x: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        quantise = all(layer.quantise for layer in self.layers)
        fmt, codes = None, None
        if quantise:
            x, codes, fmt = self._quantised_input(x)
        dropout = self.training and self.dropout > 0
        shift = dropout_shift(self.dropout) if dropout else 0
        for layer in self.layers:
            x = sparse_dropout(x, self.dropout, self.training)
            x = layer(x, g, fmt, None if dropout or not quantise else codes, shift if quantise else None)
            fmt, codes = layer.out_q.fmt(), layer.codes.get("output")
        return x


def build_gnn(
    in_features: int,
    num_classes: int,
    *,
    attention: str,
    aggregation: str = "add",
    layers: int = 2,
    hidden: int = 16,
    heads: int = 1,
    out_heads: int = 1,
    wbits: int = 8,
    abits: int = 8,
    input_signed: bool = False,
    dropout: float = 0.5,
    attention_dropout: float = 0.0,
    activation: str = "relu",
    coef_bits: int | None = None,
    bias_bits: int | None = None,
    logit_bits: int | None = None,
) -> QuantGNN:
    """A fixed architecture: ``layers`` layers, ``heads`` x ``hidden`` concatenated in the hidden layers,
    logits at the end from ``out_heads`` heads (averaged when more than one), identity activation.
    Activations are ``abits`` wide, except the last layer's (the logits: ``logit_bits``), the aggregation
    coefficients ``coef_bits`` (default ``abits``) and the biases ``bias_bits`` (default: the layer's
    activation bits)."""
    mods = []
    width = in_features
    for i in range(layers):
        last = i == layers - 1
        out = num_classes if last else hidden
        h = out_heads if last else heads
        layer_bits = logit_bits if last and logit_bits is not None else abits
        mods.append(
            QuantGraphLayer(
                width, out, attention=attention, aggregation=aggregation,
                activation="identity" if last else activation, heads=h,
                concat=not (last and h > 1), wbits=wbits, abits=layer_bits, attention_dropout=attention_dropout,
                bbits=bias_bits, cbits=abits if coef_bits is None else coef_bits,
            )
        )
        width = out if last else out * heads
    return QuantGNN(mods, input_bits=abits, input_signed=input_signed, dropout=dropout)


def export_ir(model: QuantGNN, name: str, metadata: dict | None = None) -> ModelIR:
    """Integer IR of a trained model (on any device): the same formats and codes its quantised forward pass
    uses."""
    layers = []
    in_fmt = model.input_q.fmt()
    for i, layer in enumerate(model.layers):
        fm = layer.formats(in_fmt)
        w = layer.weight.detach().double().cpu().numpy()
        b = layer.bias.detach().double().cpu().numpy() if layer.bias is not None else None
        att = {k: quantize_np(p.detach().double().cpu().numpy(), fm["att_weight"]) for k, p in layer.att.items()}
        layers.append(
            LayerIR(
                name=f"layer{i}", in_features=layer.in_features, out_features=layer.out_features,
                attention=layer.attention, aggregation=layer.aggregation, activation=layer.activation,
                heads=layer.heads, concat=layer.concat, formats=fm,
                weight=quantize_np(w, fm["weight"]),
                bias=quantize_np(b, fm["bias"]) if b is not None else None,
                attention_tensors=att,
            )
        )
        in_fmt = fm["output"]
    ir = ModelIR(
        name=name, in_features=model.layers[0].in_features, num_classes=model.layers[-1].output_width,
        layers=layers, metadata=metadata or {},
    )
    return ir.validate()
