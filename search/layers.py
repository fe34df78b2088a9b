"""Quantisation-aware training modules that mirror the golden integer model step by step.

``QuantGraphLayer`` is one PyG ``MessagePassing`` layer whose attention, aggregation and activation are
chosen by name from the operator registry (``lpgnas.operators``); every tensor the golden model
quantises is fake-quantised here at the same point, with the same format, so the exported IR computes
what was trained. ``export_ir`` turns a trained ``QuantGNN`` into the IR with integer tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import MessagePassing

from lpgnas.graph import CSRGraph, gcn_coefficients, head_mean_reciprocal, mean_reciprocals
from lpgnas.ir import HEAD_MEAN_FRAC, LayerIR, ModelIR
from lpgnas.numfmt import NumFormat, dequantize_np, fake_quant, fix, frac_for_range, quantize_np
from search.quant import ActQuant, FixedQuant, WeightQuant

#: format of the per-node reciprocal of the degree used by ``mean`` aggregation
MEAN_RECIP_FORMAT = fix(17, 16, signed=False)


def coef_format(bits: int) -> NumFormat:
    """Format of edge coefficients in (0, 1]: unsigned, one integer bit."""
    return fix(bits, bits - 1, signed=False)


@dataclass
class GraphTensors:
    """The normalised graph as torch tensors, with host constants dequantised from their integer codes."""

    csr: CSRGraph
    edge_index: torch.Tensor = field(init=False)
    _cache: dict = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.edge_index = torch.from_numpy(np.stack([self.csr.col_idx, self.csr.dst_idx]))

    def constant(self, key: str, fmt: NumFormat, make: Callable[[CSRGraph, NumFormat], np.ndarray]) -> torch.Tensor:
        """Codes from ``make`` (one of lpgnas.graph's host functions), dequantised and cached."""
        if (key, fmt) not in self._cache:
            self._cache[(key, fmt)] = torch.from_numpy(dequantize_np(make(self.csr, fmt), fmt)).float()
        return self._cache[(key, fmt)]


def _const_coefficients(layer: QuantGraphLayer, g: GraphTensors) -> torch.Tensor:
    return torch.ones(g.csr.num_edges)


def _gcn_coefficients(layer: QuantGraphLayer, g: GraphTensors) -> torch.Tensor:
    return g.constant("gcn", layer.coef_q.fmt(), gcn_coefficients)


#: training-time edge coefficients per attention kind (the golden model's EDGE_COEFFICIENTS mirror)
ATTENTION_COEFFICIENTS: dict[str, Callable[[QuantGraphLayer, GraphTensors], torch.Tensor]] = {
    "const": _const_coefficients,
    "gcn": _gcn_coefficients,
}

def _mean_finalise(acc: torch.Tensor, g: GraphTensors) -> torch.Tensor:
    return acc * g.constant("mean", MEAN_RECIP_FORMAT, mean_reciprocals)[:, None, None]


#: training-time aggregation finalisers (the golden model's AGGREGATION_FINALISERS mirror)
AGGREGATION_FINALISERS: dict[str, Callable[[torch.Tensor, GraphTensors], torch.Tensor]] = {
    "add": lambda acc, g: acc,
    "mean": _mean_finalise,
}

ACTIVATION_MODULES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "identity": lambda x: x,
}

NON_NEGATIVE_ACTIVATIONS = {"relu"}


class QuantGraphLayer(MessagePassing):
    """Linear transform per head -> edge coefficients -> add/mean aggregation -> bias -> activation."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        attention: str = "gcn",
        aggregation: str = "add",
        activation: str = "relu",
        heads: int = 1,
        concat: bool = True,
        wbits: int = 8,
        abits: int = 8,
        bias: bool = True,
    ) -> None:
        super().__init__(aggr="add", node_dim=0)
        self.in_features, self.out_features, self.heads, self.concat = in_features, out_features, heads, concat
        self.attention, self.aggregation, self.activation = attention, aggregation, activation
        self.abits = abits
        self.weight = nn.Parameter(torch.empty(heads, in_features, out_features))
        nn.init.xavier_uniform_(self.weight.view(heads * in_features, out_features))
        out_width = heads * out_features if concat else out_features
        self.bias = nn.Parameter(torch.zeros(out_width)) if bias else None
        self.w_q = WeightQuant(wbits)
        self.lin_q = ActQuant(abits)
        self.coef_q = FixedQuant(coef_format(abits))
        self.agg_q = ActQuant(abits)
        self.out_q = ActQuant(abits, signed=activation not in NON_NEGATIVE_ACTIVATIONS)

    def formats(self, input_fmt: NumFormat) -> dict[str, NumFormat]:
        """The IR formats of this layer given the format of its input."""
        fm = {
            "input": input_fmt,
            "weight": self.w_q.fmt_for(self.weight),
            "linear": self.lin_q.fmt(),
            "aggregation": self.agg_q.fmt(),
            "output": self.out_q.fmt(),
        }
        if self.attention == "gcn":
            fm["coef"] = self.coef_q.fmt()
        if self.aggregation == "mean":
            fm["recip"] = MEAN_RECIP_FORMAT
        fm["bias"] = self.bias_format()
        return fm

    @property
    def output_width(self) -> int:
        return self.heads * self.out_features if self.concat else self.out_features

    def bias_format(self) -> NumFormat:
        """``abits``-bit fix covering the bias, binary point at most the aggregation accumulator's."""
        acc_frac = self.lin_q.fmt().frac + (self.coef_q.fmt().frac if self.attention == "gcn" else 0)
        acc_frac += MEAN_RECIP_FORMAT.frac if self.aggregation == "mean" else 0
        acc_frac += HEAD_MEAN_FRAC if self.heads > 1 and not self.concat else 0
        max_abs = float(self.bias.detach().abs().max()) if self.bias is not None else 0.0
        return fix(self.abits, min(frac_for_range(max_abs, self.abits), acc_frac))

    def forward(self, x: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        w = self.w_q(self.weight)
        lin = self.lin_q(torch.einsum("ni,hio->nho", x, w))
        coef = ATTENTION_COEFFICIENTS[self.attention](self, g)
        acc = self.propagate(g.edge_index, x=lin, coef=coef)
        acc = AGGREGATION_FINALISERS[self.aggregation](acc, g)
        if self.concat:
            acc = acc.reshape(acc.shape[0], -1)
        else:
            acc = acc.sum(dim=1)
            if self.heads > 1:
                acc = acc * head_mean_reciprocal(self.heads, HEAD_MEAN_FRAC) * 2.0**-HEAD_MEAN_FRAC
        if self.bias is not None:
            acc = acc + fake_quant(self.bias, self.bias_format())
        agg = self.agg_q(acc)
        return self.out_q(ACTIVATION_MODULES[self.activation](agg))

    def message(self, x_j: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
        return coef.view(-1, 1, 1) * x_j


class QuantGNN(nn.Module):
    """A stack of ``QuantGraphLayer`` with a quantiser on the input features."""

    def __init__(self, layers: list[QuantGraphLayer], input_bits: int, input_signed: bool, dropout: float = 0.5):
        super().__init__()
        self.input_q = ActQuant(input_bits, signed=input_signed)
        self.layers = nn.ModuleList(layers)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        x = self.input_q(x)
        for layer in self.layers:
            x = F.dropout(x, self.dropout, self.training)
            x = layer(x, g)
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
    wbits: int = 8,
    abits: int = 8,
    input_signed: bool = False,
    dropout: float = 0.5,
    activation: str = "relu",
) -> QuantGNN:
    """A fixed architecture: ``layers`` layers, hidden width ``hidden`` per head, logits at the end."""
    mods = []
    width = in_features
    for i in range(layers):
        last = i == layers - 1
        out = num_classes if last else hidden
        mods.append(
            QuantGraphLayer(
                width, out, attention=attention, aggregation=aggregation,
                activation="identity" if last else activation, heads=1 if last else heads,
                concat=True, wbits=wbits, abits=abits,
            )
        )
        width = out if last else out * heads
    return QuantGNN(mods, input_bits=abits, input_signed=input_signed, dropout=dropout)


def export_ir(model: QuantGNN, name: str, metadata: dict | None = None) -> ModelIR:
    """Integer IR of a trained model: the same formats its fake quantisers use."""
    layers = []
    in_fmt = model.input_q.fmt()
    for i, layer in enumerate(model.layers):
        fm = layer.formats(in_fmt)
        w = layer.weight.detach().double().numpy()
        b = layer.bias.detach().double().numpy() if layer.bias is not None else None
        layers.append(
            LayerIR(
                name=f"layer{i}", in_features=layer.in_features, out_features=layer.out_features,
                attention=layer.attention, aggregation=layer.aggregation, activation=layer.activation,
                heads=layer.heads, concat=layer.concat, formats=fm,
                weight=quantize_np(w, fm["weight"]),
                bias=quantize_np(b, fm["bias"]) if b is not None else None,
            )
        )
        in_fmt = fm["output"]
    ir = ModelIR(
        name=name, in_features=model.layers[0].in_features, num_classes=model.layers[-1].output_width,
        layers=layers, metadata=metadata or {},
    )
    return ir.validate()
