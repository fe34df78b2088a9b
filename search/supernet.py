"""The single-path one-shot supernet of LPGNAS and the builder of a derived architecture.

Every layer holds one max-size weight ``(H_max, in_heads_max, in_width_max, D_max)`` and bias
``(H_max, D_max)``; a path with ``heads=h``, ``hidden=d`` after a layer with ``(h', d')`` uses the slice
``[:h, :h', :d', :d]``, so an input unit (head, feature) always meets the same weight row whatever the
widths. Weights are shared by all bitwidth candidates: the sampled bitwidth only changes the fake
quantiser; activation quantisers calibrate their binary point on the current pass
(:data:`SUPERNET_MOMENTUM`). Per step exactly one path runs (the controllers' hard one-hots); its computation mirrors
``search.quant_layer.QuantGraphLayer`` step by step (same quantisers, same host constants through
``GraphTensors``, same ``ATTENTION_COEFFICIENTS`` / ``AGGREGATION_FINALISERS`` / ``ACTIVATION_MODULES``),
and at every point where a decision acts, :func:`mix` passes the chosen candidate's output on unchanged
while the gradient reaches the one-hot entry of *every* option of that decision through cheap candidate
outputs (the same tensor at every bitwidth, every attention's coefficients, every finaliser and
activation on the same accumulator, narrower widths as masks): a first-order estimate of the loss of
switching, instead of GDAS's gradient to the chosen entry only.

:func:`build_quant_gnn` turns a derived architecture (one :class:`LayerChoice` per layer) into a
``QuantGNN`` of ``QuantGraphLayer`` with the per-tensor bitwidths, for QAT retraining and export.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lpgnas.errors import LpgnasError
from lpgnas.numfmt import NumFormat, fake_quant, fix, frac_for_range
from lpgnas.operators import ACTIVATIONS, ATTENTIONS, MEAN_RECIP_FORMAT, layer_format_names
from lpgnas.search.activations import ACTIVATION_MODULES
from lpgnas.search.aggregations import AGGREGATION_FINALISERS
from lpgnas.search.attentions import ATTENTION_COEFFICIENTS, HostCoefficients, SoftmaxCoefficients, coef_format
from lpgnas.search.dropout import sparse_dropout
from lpgnas.search.graph_tensors import GraphTensors, aggregate
from lpgnas.search.quant import ActQuant, FixedQuant, WeightQuant
from lpgnas.search.quant_gnn import QuantGNN
from lpgnas.search.quant_layer import QuantGraphLayer
from lpgnas.search.space import ARCH_DECISIONS, QUANT_DECISIONS, LayerChoice, SearchSpace
from lpgnas.search.sparse import project, sparse_coo, sparse_indices

OneHots = dict[str, torch.Tensor]

#: calibration of the supernet's activation quantisers: the current tensor's range (no running average).
#: Paths differ in scale by orders of magnitude (``const``+``add`` sums up to max-degree neighbours,
#: ``gcn`` normalises), so a running average shared by all paths would quantise one path with another's
#: range and zero it out.
SUPERNET_MOMENTUM = 1.0


def unsupported_operators(space: SearchSpace) -> list[str]:
    """Operators of ``space`` the supernet cannot run, each with the reason (empty: all supported).

    The supernet runs any attention whose ``search.attentions.ATTENTION_COEFFICIENTS`` rule is host
    coefficients (``HostCoefficients``) or a softmax over scores (``SoftmaxCoefficients``), any aggregation
    with a ``reduce`` ("sum" / "amax") and any activation of ``ACTIVATION_MODULES``."""
    bad = []
    for i, ls in enumerate(space.layers):
        for a in ls.attention:
            rule = ATTENTION_COEFFICIENTS.get(a)
            if not isinstance(rule, HostCoefficients | SoftmaxCoefficients):
                bad.append(f"layer{i} attention {a!r}: no host or softmax coefficient rule in search.attentions")
        for a in ls.aggregation:
            rule = AGGREGATION_FINALISERS.get(a)
            if rule is None or getattr(rule, "reduce", None) not in ("sum", "amax"):
                bad.append(f"layer{i} aggregation {a!r}: no sum/amax aggregation rule in search.aggregations")
        for a in ls.activation:
            if a not in ACTIVATION_MODULES:
                bad.append(f"layer{i} activation {a!r}: no training implementation in search.activations")
    return bad


class _PathView:
    """What ``search.attentions``' coefficient rules read from a layer, for one path of a :class:`SuperLayer`:
    the path's slices of the attention vectors and its quantisers (methods borrowed from QuantGraphLayer)."""

    quantise = True
    att_format = QuantGraphLayer.att_format
    exp_format = QuantGraphLayer.exp_format
    score_format = QuantGraphLayer.score_format
    fq = QuantGraphLayer.fq
    exact = QuantGraphLayer.exact
    attention_vector = QuantGraphLayer.attention_vector

    def __init__(self, att: dict[str, torch.Tensor], abits: int, lin_q: ActQuant, coef_q: FixedQuant,
                 score_q: ActQuant) -> None:
        self.att, self.abits, self.lin_q, self.coef_q, self.score_q = att, abits, lin_q, coef_q, score_q


def mix(y: torch.Tensor, h: torch.Tensor, candidates) -> torch.Tensor:
    """``y`` (the chosen candidate's output) in the forward pass; the gradient to one-hot entry ``h[k]`` is
    ``<dL/dy, candidates[k]>`` for *every* option ``k``.

    ``h`` is a straight-through one-hot: its forward value is exactly one-hot, its gradient that of the
    tempered softmax, whose Jacobian turns these into ``<dL/dy, c_k - E[c]>``: the first-order estimate of
    the loss change when the decision switches to option ``k``. Only the chosen path's weights get a
    gradient (``candidates`` are detached): single-path training, with a signal for every option.
    Candidates are cheap: the same tensor quantised at every bitwidth, coefficients of every attention,
    every finaliser / activation applied to the same accumulator.
    """
    if len(h) == 1 or not h.requires_grad:
        return y
    if callable(candidates):  # built only when a controller gradient is wanted
        candidates = candidates()
    c = torch.stack([t.detach().expand_as(y) for t in candidates])
    dh = (h - h.detach()).to(y.dtype)
    return y + torch.tensordot(dh, c, dims=1)


def _scaled(candidates: list[torch.Tensor], ref: torch.Tensor) -> list[torch.Tensor]:
    """Candidates rescaled to ``ref``'s RMS: operator choices are compared by shape, not output scale
    (an unnormalised ``const``+``add`` sum is orders of magnitude larger than ``gcn``'s, and the downstream
    quantisers recalibrate to it; GDAS's plain product drove the controller to ``const``+``add``)."""
    r = ref.detach().pow(2).mean().sqrt()
    return [c * (r / c.detach().pow(2).mean().sqrt().clamp_min(1e-12)) for c in candidates]


def _first(n: int, keep: int, like: torch.Tensor) -> torch.Tensor:
    """(n,): 1 for the first ``keep`` entries, 0 for the rest, in ``like``'s dtype and on its device."""
    return (torch.arange(n, device=like.device) < keep).to(like.dtype)


def _act_candidates(x: torch.Tensor, q: ActQuant, options) -> list[torch.Tensor]:
    """``x`` quantised at every bitwidth option, binary point calibrated from ``q``'s current range."""
    m = float(q.max_abs)
    return [fake_quant(x.detach(), fix(b, frac_for_range(m, b, q.signed), q.signed)) for b in options]


def pick(space: SearchSpace, onehots: OneHots, key: str) -> tuple[object, torch.Tensor]:
    """The option a one-hot selects and its (unit, differentiable) multiplier."""
    h = onehots[key]
    idx = int(h.detach().argmax())
    return space.options(key)[idx], h[idx]


class SuperLayer(nn.Module):
    """All candidates of one layer, run one path at a time."""

    def __init__(self, space: SearchSpace, index: int, in_heads: int, in_width: int) -> None:
        super().__init__()
        self.space, self.index = space, index
        ls = space.layers[index]
        self.h_max, self.d_max = max(ls.heads), max(ls.hidden)
        self.weight = nn.Parameter(torch.empty(self.h_max, in_heads, in_width, self.d_max))
        fan_in, fan_out = in_heads * in_width, self.d_max
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        nn.init.uniform_(self.weight, -bound, bound)
        self.bias = nn.Parameter(torch.zeros(self.h_max, self.d_max))
        self.att = nn.ParameterDict()
        for key in sorted({t for a in ls.attention for t in ATTENTIONS[a].tensors}):
            p = nn.Parameter(torch.empty(self.h_max, self.d_max))
            nn.init.xavier_uniform_(p.view(1, self.h_max, self.d_max) if self.h_max > 1 else p)
            self.att[key] = p
        self.score_q = ActQuant(8, momentum=SUPERNET_MOMENTUM)
        self.w_q = WeightQuant(8)
        self.lin_q = ActQuant(8, momentum=SUPERNET_MOMENTUM)
        self.agg_q = ActQuant(8, momentum=SUPERNET_MOMENTUM)
        self.out_q = ActQuant(8, momentum=SUPERNET_MOMENTUM)

    def key(self, decision: str) -> str:
        return f"layer{self.index}.{decision}"

    def forward(self, x: torch.Tensor, g: GraphTensors, onehots: OneHots, in_hd: tuple[int, int],
                out_key: str) -> tuple[torch.Tensor, tuple[int, int]]:
        """``x`` (N, h'*d') -> (N, h*d) output codes' values; returns the output and its (h, d).

        ``out_key``: the decision that sets this layer's output bitwidth (next layer's ``q_input``, or
        this layer's ``q_aggregation`` for the logits)."""
        sp, oh = self.space, onehots
        opt = lambda d: pick(sp, oh, self.key(d))[0]  # noqa: E731
        attention, aggregation, activation = opt("attention"), opt("aggregation"), opt("activation")
        d, h, wbits, lbits, cbits, abits = (opt(k) for k in ("hidden", "heads", "q_weight", "q_linear",
                                                              "q_coef", "q_aggregation"))
        ih, iw = in_hd
        w = self.weight[:h, :ih, :iw, :d].reshape(h, ih * iw, d)
        self.w_q.bits = wbits
        wq = self.w_q(w)
        wq = mix(wq, oh[self.key("q_weight")], lambda: [
            fake_quant(w.detach(), WeightQuant(b).fmt_for(w)) for b in sp.options(self.key("q_weight"))])
        self.lin_q.bits = lbits
        pre = project(x, wq)
        lin = mix(self.lin_q(pre), oh[self.key("q_linear")],
                  lambda: _act_candidates(pre, self.lin_q, sp.options(self.key("q_linear"))))
        # width and heads: a narrower candidate is the chosen output with columns / heads masked out; a wider
        # one is not computed (its candidate is the chosen output, so it only gains through the cost)
        lin = mix(lin, oh[self.key("hidden")], lambda: [lin * _first(d, dd, lin) if dd < d else lin
                                                for dd in sp.options(self.key("hidden"))])
        lin = mix(lin, oh[self.key("heads")], lambda: [lin * _first(h, hh, lin)[:, None] if hh < h
                                               else lin for hh in sp.options(self.key("heads"))])
        coef_q = FixedQuant(coef_format(cbits))
        has_coef = "coef" in layer_format_names(attention, aggregation)
        agg_rule = AGGREGATION_FINALISERS[aggregation]
        self.score_q.bits = abits  # QuantGraphLayer's score_q and att_weight use the layer's abits
        view = _PathView({k: p[:h, :d] for k, p in self.att.items()}, abits, self.lin_q, coef_q, self.score_q)
        n_edges = g.csr.num_edges

        def coefficients(att: str, v: _PathView) -> torch.Tensor:
            """(E, h) coefficient values of attention ``att`` on this path."""
            c = ATTENTION_COEFFICIENTS[att](v, g, lin)
            return c.reshape(n_edges, -1).expand(n_edges, h)

        att_opts = sp.options(self.key("attention"))
        if len(att_opts) > 1 and oh[self.key("attention")].requires_grad:
            with torch.no_grad():  # before the chosen one: the candidates also calibrate score_q
                cands = [coefficients(a, view) for a in att_opts]
        else:
            cands = []
        coef = coefficients(attention, view)
        coef = mix(coef, oh[self.key("attention")], _scaled(cands, coef)) if cands else coef
        if has_coef:  # the coefficient bitwidth acts only where the attention has a coef format
            coef = mix(coef, oh[self.key("q_coef")], lambda: [
                fake_quant(coef.detach(), coef_format(b)) if ATTENTIONS[attention].softmax
                else coefficients(attention, _PathView(view.att, abits, self.lin_q, FixedQuant(coef_format(b)),
                                                       self.score_q))
                for b in sp.options(self.key("q_coef"))])
        n = g.csr.num_nodes
        fin = agg_rule(aggregate(g, coef, lin, agg_rule.reduce), g).reshape(n, -1)
        aggs = sp.options(self.key("aggregation"))
        if len(aggs) > 1 and oh[self.key("aggregation")].requires_grad:
            with torch.no_grad():
                cands = [AGGREGATION_FINALISERS[a](aggregate(g, coef, lin, AGGREGATION_FINALISERS[a].reduce), g)
                         .reshape(n, -1) for a in aggs]
            acc = mix(fin, oh[self.key("aggregation")], _scaled(cands, fin))
        else:
            acc = fin
        acc_frac = self.lin_q.fmt().frac + (coef_q.fmt().frac if has_coef else 0)
        acc_frac += MEAN_RECIP_FORMAT.frac if agg_rule.recip else 0
        b = self.bias[:h, :d].reshape(-1)
        bq = mix(fake_quant(b, _bias_format(b, opt("q_bias"), acc_frac)), oh[self.key("q_bias")], lambda: [
            fake_quant(b.detach(), _bias_format(b, bits, acc_frac)) for bits in sp.options(self.key("q_bias"))])
        acc = acc + bq
        self.agg_q.bits = abits
        agg = self.agg_q(acc)
        agg = mix(agg, oh[self.key("q_aggregation")],
                  lambda: _act_candidates(acc, self.agg_q, sp.options(self.key("q_aggregation"))))
        a = ACTIVATION_MODULES[activation](agg)
        a = mix(a, oh[self.key("activation")], lambda: _scaled([ACTIVATION_MODULES[f](agg.detach())
                                                        for f in sp.options(self.key("activation"))], a))
        self.out_q.bits, self.out_q.signed = pick(sp, oh, out_key)[0], not ACTIVATIONS[activation].non_negative
        y = self.out_q(a)
        return mix(y, oh[out_key], lambda: _act_candidates(a, self.out_q, sp.options(out_key))), (h, d)


def _bias_format(b: torch.Tensor, bits: int, acc_frac: int) -> NumFormat:
    """As ``QuantGraphLayer.bias_format``: ``bits``-bit fix, binary point at most the accumulator's."""
    max_abs = float(b.detach().abs().max()) if b.numel() else 0.0
    return fix(bits, min(frac_for_range(max_abs, bits), acc_frac))


class SuperNet(nn.Module):
    """Input quantiser + one :class:`SuperLayer` per layer of the space."""

    def __init__(self, space: SearchSpace, input_signed: bool, dropout: float = 0.5) -> None:
        super().__init__()
        bad = unsupported_operators(space)
        if bad:
            raise LpgnasError("the supernet cannot run: " + "; ".join(bad)
                              + " (restrict the space with --attentions/--aggregations/--activations)")
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

    def _feature_nonzeros(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(indices, values) of the input features' non-zeros when sparse enough (``sparse_indices``: the
        input then stays a sparse tensor), else None; cached per features tensor."""
        key = (id(x), x._version, x.shape)
        if getattr(self, "_nonzeros_key", None) != key:
            idx = sparse_indices(x)
            self._nonzeros_key = key
            self._nonzeros = None if idx is None else (idx, x.detach()[idx[0], idx[1]])
        return self._nonzeros

    def forward(self, x: torch.Tensor, g: GraphTensors, onehots: OneHots) -> torch.Tensor:
        """Logits of the path the one-hots select (``onehots`` holds every decision key; the controllers'
        live on the CPU, their gradient comes back through the move to ``x``'s device)."""
        onehots = {k: h.to(x.device) for k, h in onehots.items()}
        key = "layer0.q_input"
        self.input_q.bits = pick(self.space, onehots, key)[0]
        nonzeros = self._feature_nonzeros(x)
        raw = x if nonzeros is None else nonzeros[1]
        q = mix(self.input_q(raw), onehots[key], lambda: _act_candidates(raw, self.input_q, self.space.options(key)))
        x = q if nonzeros is None else sparse_coo(nonzeros[0], q, x.shape)
        hd = (1, self.space.in_features)
        n = len(self.layers)
        for i, layer in enumerate(self.layers):
            x = sparse_dropout(x, self.dropout, self.training)
            # the output quantiser of layer i is the input quantiser of layer i+1; the logits keep the
            # last layer's aggregation bitwidth
            nxt = f"layer{i + 1}.q_input" if i + 1 < n else f"layer{i}.q_aggregation"
            x, hd = layer(x, g, onehots, hd, nxt)
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
    layer ``i+1``; the logits use the last layer's aggregation bitwidth; the bias has its own (``q_bias``).
    """
    mods: list[QuantGraphLayer] = []
    width = in_features
    for i, c in enumerate(arch):
        out_bits = arch[i + 1].q_input if i + 1 < len(arch) else c.q_aggregation
        layer = QuantGraphLayer(
            width, c.hidden, attention=c.attention, aggregation=c.aggregation, activation=c.activation,
            heads=c.heads, concat=True, wbits=c.q_weight, abits=c.q_aggregation, bbits=c.q_bias,
        )
        layer.lin_q = ActQuant(c.q_linear)
        layer.coef_q = FixedQuant(coef_format(c.q_coef))
        layer.agg_q = ActQuant(c.q_aggregation)
        layer.out_q = ActQuant(out_bits, signed=not ACTIVATIONS[c.activation].non_negative)
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
            for key, p in layer.att.items():
                p.copy_(sl.att[key][: c.heads, : c.hidden])
            for name in ("lin_q", "agg_q", "out_q", "score_q"):
                getattr(layer, name).max_abs.copy_(getattr(sl, name).max_abs)
            ih, iw = c.heads, c.hidden
