"""The single-path one-shot supernet of LPGNAS and the builder of a derived architecture.

Every layer holds one max-size weight ``(H_max, in_heads_max, in_width_max, D_max)`` and bias
``(H_max, D_max)``; a path with ``heads=h``, ``hidden=d`` after a layer with ``(h', d')`` uses the slice
``[:h, :h', :d', :d]``, so an input unit (head, feature) always meets the same weight row whatever the
widths. Weights are shared by all bitwidth candidates: the sampled bitwidth only changes the fake
quantiser; activation quantisers calibrate their binary point on the current pass
(:data:`SUPERNET_MOMENTUM`). Per step exactly one path runs (the controllers' hard one-hots); its computation mirrors
``search.layers.QuantGraphLayer`` step by step (same quantisers, same host constants through
``GraphTensors``, same ``ATTENTION_COEFFICIENTS`` / ``AGGREGATION_FINALISERS`` / ``ACTIVATION_MODULES``),
and at every point where a decision acts the chosen candidate's output goes through :func:`gate` with its
one-hot entry (identity in the forward pass) so the gradient reaches the controllers' logits (as GDAS's
multiplication by the one-hot, normalised by the output's scale).

:func:`build_quant_gnn` turns a derived architecture (one :class:`LayerChoice` per layer) into a
``QuantGNN`` of ``QuantGraphLayer`` with the per-tensor bitwidths, for QAT retraining and export.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import MessagePassing

from lpgnas.numfmt import NumFormat, fake_quant, fix, frac_for_range
from search.layers import (
    ACTIVATION_MODULES,
    AGGREGATION_FINALISERS,
    ATTENTION_COEFFICIENTS,
    MEAN_RECIP_FORMAT,
    NON_NEGATIVE_ACTIVATIONS,
    GraphTensors,
    QuantGNN,
    QuantGraphLayer,
    coef_format,
)
from search.quant import ActQuant, FixedQuant, WeightQuant
from search.space import ARCH_DECISIONS, QUANT_DECISIONS, LayerChoice, SearchSpace

OneHots = dict[str, torch.Tensor]

#: calibration of the supernet's activation quantisers: the current tensor's range (no running average).
#: Paths differ in scale by orders of magnitude (``const``+``add`` sums up to max-degree neighbours,
#: ``gcn`` normalises), so a running average shared by all paths would quantise one path with another's
#: range and zero it out.
SUPERNET_MOMENTUM = 1.0


def gate(y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``y`` unchanged in the forward pass; the gradient to the one-hot entry ``m`` is
    ``<dL/dy, y> / rms(y)``.

    A plain ``m * y`` gives ``<dL/dy, y>``, which grows with the scale of the candidate's output, so the
    controller drifts toward candidates with large outputs (unnormalised ``const`` + ``add`` sums over
    up to max-degree neighbours) whatever their accuracy; dividing by the output's RMS removes that bias.
    """
    rms = y.detach().pow(2).mean().sqrt().clamp_min(1e-12)
    return y * (1.0 + (m - m.detach()) / rms)


def pick(space: SearchSpace, onehots: OneHots, key: str) -> tuple[object, torch.Tensor]:
    """The option a one-hot selects and its (unit, differentiable) multiplier."""
    h = onehots[key]
    idx = int(h.detach().argmax())
    return space.options(key)[idx], h[idx]


class SuperLayer(MessagePassing):
    """All candidates of one layer, run one path at a time."""

    def __init__(self, space: SearchSpace, index: int, in_heads: int, in_width: int) -> None:
        super().__init__(aggr="add", node_dim=0)
        self.space, self.index = space, index
        ls = space.layers[index]
        self.h_max, self.d_max = max(ls.heads), max(ls.hidden)
        self.weight = nn.Parameter(torch.empty(self.h_max, in_heads, in_width, self.d_max))
        fan_in, fan_out = in_heads * in_width, self.d_max
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        nn.init.uniform_(self.weight, -bound, bound)
        self.bias = nn.Parameter(torch.zeros(self.h_max, self.d_max))
        self.w_q = WeightQuant(8)
        self.lin_q = ActQuant(8, momentum=SUPERNET_MOMENTUM)
        self.agg_q = ActQuant(8, momentum=SUPERNET_MOMENTUM)
        self.out_q = ActQuant(8, momentum=SUPERNET_MOMENTUM)

    def key(self, decision: str) -> str:
        return f"layer{self.index}.{decision}"

    def forward(self, x: torch.Tensor, g: GraphTensors, onehots: OneHots, in_hd: tuple[int, int],
                out_bits: tuple[int, torch.Tensor]) -> tuple[torch.Tensor, tuple[int, int]]:
        """``x`` (N, h'*d') -> (N, h*d) output codes' values; returns the output and its (h, d)."""
        c = {d: pick(self.space, onehots, self.key(d)) for d in ARCH_DECISIONS + QUANT_DECISIONS}
        attention, m_att = c["attention"]
        aggregation, m_agg = c["aggregation"]
        activation, m_act = c["activation"]
        (d, m_d), (h, m_h) = c["hidden"], c["heads"]
        (wbits, m_wq), (lbits, m_lq), (cbits, m_cq), (abits, m_aq) = (
            c["q_weight"], c["q_linear"], c["q_coef"], c["q_aggregation"])
        ih, iw = in_hd
        w = self.weight[:h, :ih, :iw, :d].reshape(h, ih * iw, d)
        self.w_q.bits = wbits
        w = gate(self.w_q(w), m_d * m_h * m_wq)
        self.lin_q.bits = lbits
        lin = gate(self.lin_q(torch.einsum("ni,hio->nho", x, w)), m_lq)
        coef_q = FixedQuant(coef_format(cbits))
        coef = gate(ATTENTION_COEFFICIENTS[attention](SimpleNamespace(coef_q=coef_q), g), m_att)
        if attention == "gcn":
            coef = gate(coef, m_cq)
        acc = self.propagate(g.edge_index, x=lin, coef=coef)
        acc = gate(AGGREGATION_FINALISERS[aggregation](acc, g).reshape(acc.shape[0], -1), m_agg)
        acc_frac = self.lin_q.fmt().frac + (coef_q.fmt().frac if attention == "gcn" else 0)
        acc_frac += MEAN_RECIP_FORMAT.frac if aggregation == "mean" else 0
        b = self.bias[:h, :d].reshape(-1)
        acc = acc + fake_quant(b, _bias_format(b, abits, acc_frac))
        self.agg_q.bits = abits
        agg = gate(self.agg_q(acc), m_aq)
        a = gate(ACTIVATION_MODULES[activation](agg), m_act)
        self.out_q.bits, self.out_q.signed = out_bits[0], activation not in NON_NEGATIVE_ACTIVATIONS
        return gate(self.out_q(a), out_bits[1]), (h, d)

    def message(self, x_j: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
        return coef.view(-1, 1, 1) * x_j


def _bias_format(b: torch.Tensor, bits: int, acc_frac: int) -> NumFormat:
    """As ``QuantGraphLayer.bias_format``: ``bits``-bit fix, binary point at most the accumulator's."""
    max_abs = float(b.detach().abs().max()) if b.numel() else 0.0
    return fix(bits, min(frac_for_range(max_abs, bits), acc_frac))


class SuperNet(nn.Module):
    """Input quantiser + one :class:`SuperLayer` per layer of the space."""

    def __init__(self, space: SearchSpace, input_signed: bool, dropout: float = 0.5) -> None:
        super().__init__()
        self.space, self.dropout = space, dropout
        self.input_q = ActQuant(8, signed=input_signed, momentum=SUPERNET_MOMENTUM)
        layers, in_heads, in_width = [], 1, space.in_features
        for i, ls in enumerate(space.layers):
            layers.append(SuperLayer(space, i, in_heads, in_width))
            in_heads, in_width = max(ls.heads), max(ls.hidden)
        self.layers = nn.ModuleList(layers)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, g: GraphTensors, onehots: OneHots) -> torch.Tensor:
        """Logits of a path without dropout, its quantisers calibrated on this pass (see SUPERNET_MOMENTUM)."""
        dropout, self.dropout = self.dropout, 0.0
        self.train()
        try:
            return self(x, g, onehots)
        finally:
            self.dropout = dropout

    def forward(self, x: torch.Tensor, g: GraphTensors, onehots: OneHots) -> torch.Tensor:
        """Logits of the path the one-hots select (``onehots`` holds every decision key)."""
        bits, m = pick(self.space, onehots, "layer0.q_input")
        self.input_q.bits = bits
        x = gate(self.input_q(x), m)
        hd = (1, self.space.in_features)
        n = len(self.layers)
        for i, layer in enumerate(self.layers):
            x = F.dropout(x, self.dropout, self.training)
            # the output quantiser of layer i is the input quantiser of layer i+1; the logits keep the
            # last layer's aggregation bitwidth
            nxt = f"layer{i + 1}.q_input" if i + 1 < n else f"layer{i}.q_aggregation"
            x, hd = layer(x, g, onehots, hd, pick(self.space, onehots, nxt))
        return x


def onehots_for(space: SearchSpace, arch: list[LayerChoice]) -> OneHots:
    """Constant one-hots selecting a fixed architecture."""
    out = {}
    for key in space.decision_keys:
        layer, decision = key.split(".")
        value = getattr(arch[int(layer[len("layer"):])], decision)
        opts = space.options(key)
        out[key] = F.one_hot(torch.tensor(opts.index(value)), len(opts)).float()
    return out


def architecture_from_choices(space: SearchSpace, choices: dict[str, object]) -> list[LayerChoice]:
    """``{"layer0.attention": "gcn", ...}`` (every key of the space) -> one LayerChoice per layer."""
    return [
        LayerChoice(**{d: choices[f"layer{i}.{d}"] for d in ARCH_DECISIONS + QUANT_DECISIONS})  # type: ignore[arg-type]
        for i in range(len(space.layers))
    ]


def build_quant_gnn(arch: list[LayerChoice], in_features: int, *, input_signed: bool,
                    dropout: float = 0.5) -> QuantGNN:
    """A ``QuantGNN`` for a derived architecture, each tensor quantised to its chosen bitwidth.

    The last layer's ``hidden`` is the class count. Output quantiser of layer ``i`` = input bitwidth of
    layer ``i+1``; the logits use the last layer's aggregation bitwidth. The bias uses the aggregation
    bitwidth (``QuantGraphLayer``'s ``abits``).
    """
    mods: list[QuantGraphLayer] = []
    width = in_features
    for i, c in enumerate(arch):
        out_bits = arch[i + 1].q_input if i + 1 < len(arch) else c.q_aggregation
        layer = QuantGraphLayer(
            width, c.hidden, attention=c.attention, aggregation=c.aggregation, activation=c.activation,
            heads=c.heads, concat=True, wbits=c.q_weight, abits=c.q_aggregation,
        )
        layer.lin_q = ActQuant(c.q_linear)
        layer.coef_q = FixedQuant(coef_format(c.q_coef))
        layer.agg_q = ActQuant(c.q_aggregation)
        layer.out_q = ActQuant(out_bits, signed=c.activation not in NON_NEGATIVE_ACTIVATIONS)
        mods.append(layer)
        width = c.heads * c.hidden
    return QuantGNN(mods, input_bits=arch[0].q_input, input_signed=input_signed, dropout=dropout)


def load_path_into(model: QuantGNN, net: SuperNet, arch: list[LayerChoice]) -> None:
    """Copy the supernet's weights and calibrations of ``arch``'s path into ``model`` (for testing)."""
    with torch.no_grad():
        model.input_q.max_abs.copy_(net.input_q.max_abs)
        ih, iw = 1, net.space.in_features
        for layer, sl, c in zip(model.layers, net.layers, arch, strict=True):
            layer.weight.copy_(sl.weight[: c.heads, :ih, :iw, : c.hidden].reshape(c.heads, ih * iw, c.hidden))
            layer.bias.copy_(sl.bias[: c.heads, : c.hidden].reshape(-1))
            for name in ("lin_q", "agg_q", "out_q"):
                getattr(layer, name).max_abs.copy_(getattr(sl, name).max_abs)
            ih, iw = c.heads, c.hidden
