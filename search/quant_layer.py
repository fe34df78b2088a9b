"""``QuantGraphLayer``: one quantised GNN layer whose forward pass is the golden integer model.

Each step runs twice in lock step: the exact path computes the golden model's integer codes (int64 torch
ops, float64 or float32 products where provably exact), the surrogate path the same step in float; the
step's value carries the exact codes forward and the surrogate's gradient back (``search.exact``). The
attention, aggregation and activation are looked up by name in ``search.attentions``,
``search.aggregations`` and ``search.activations``. docs/search.md explains the design.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.utils import softmax as edge_softmax

from lpgnas.errors import LpgnasError
from lpgnas.golden import accumulator_bounds, score_accumulator_bits
from lpgnas.graph import head_mean_reciprocal, mean_reciprocals
from lpgnas.ir import HEAD_MEAN_FRAC
from lpgnas.numfmt import (
    INT64_SAFE_BITS,
    NumFormat,
    fake_quant,
    fix,
    frac_for_range,
    quantize_np,
    requantize_np,
    requantize_torch,
)
from lpgnas.operators import ACTIVATIONS, ATTENTIONS, MEAN_RECIP_FORMAT, layer_format_names
from lpgnas.search.activations import ACTIVATION_MODULES
from lpgnas.search.aggregations import AGGREGATION_FINALISERS
from lpgnas.search.attentions import ATTENTION_COEFFICIENTS, coef_format, exp_format
from lpgnas.search.exact import FLOAT64_EXACT_BITS, QTensor, exact_step, quantize_codes
from lpgnas.search.graph_tensors import GraphTensors, aggregate, scatter
from lpgnas.search.quant import ActQuant, FixedQuant, WeightQuant
from lpgnas.search.sparse import as_double, project, to_dense

#: widest matrix-product accumulator whose codes are read off the float32 product itself: every product
#: and partial sum is an integer multiple of one power of two below 2**24 of it, so float32 (fused
#: multiply-add or not, in any order) computes it exactly
FLOAT32_EXACT_BITS = 24


def product_bits(input_fmt: NumFormat, w_fmt: NumFormat, fan_in: int) -> int:
    """Bits of the magnitude of a ``fan_in``-term sum of input-code x weight-code products."""
    mag = max(abs(input_fmt.qmin), abs(input_fmt.qmax)).bit_length()
    mag += max(abs(w_fmt.qmin), abs(w_fmt.qmax)).bit_length()
    return mag + math.ceil(math.log2(max(fan_in, 1)))


class QuantGraphLayer(nn.Module):
    """Linear transform per head -> edge coefficients -> aggregation -> heads -> bias -> activation.

    ``attention_dropout`` (training only) drops softmax coefficients like GAT: kept ones are scaled by
    ``1/(1-p)`` and re-rounded to integer codes, so the exact path stays an integer pipeline. Weights are
    ``wbits`` wide, activations ``abits``, the bias ``bbits`` and the aggregation coefficients ``cbits`` (default:
    ``abits``).
    """

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
        attention_dropout: float = 0.0,
        bbits: int | None = None,
        cbits: int | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features, self.heads, self.concat = in_features, out_features, heads, concat
        self.attention, self.aggregation, self.activation = attention, aggregation, activation
        self.abits, self.attention_dropout = abits, attention_dropout
        self.bbits = abits if bbits is None else bbits
        self.quantise = True
        self.weight = nn.Parameter(torch.empty(heads, in_features, out_features))
        nn.init.xavier_uniform_(self.weight.view(heads * in_features, out_features))
        out_width = heads * out_features if concat else out_features
        self.bias = nn.Parameter(torch.zeros(out_width)) if bias else None
        self.att = nn.ParameterDict()
        for key in ATTENTIONS[attention].tensors:
            p = nn.Parameter(torch.empty(heads, out_features))
            nn.init.xavier_uniform_(p.view(1, heads, out_features) if heads > 1 else p)
            self.att[key] = p
        self.w_q = WeightQuant(wbits)
        self.lin_q = ActQuant(abits)
        self.coef_q = FixedQuant(coef_format(abits if cbits is None else cbits))
        self.score_q = ActQuant(abits)
        self.agg_q = ActQuant(abits)
        self.out_q = ActQuant(abits, signed=not ACTIVATIONS[activation].non_negative)
        self.codes: dict[str, torch.Tensor] = {}

    # ---- formats ----
    @property
    def softmax(self) -> bool:
        return ATTENTIONS[self.attention].softmax

    def att_format(self) -> NumFormat:
        """``att_weight``: ``abits``-bit fix covering every attention vector of the layer."""
        m = max((float(p.detach().abs().max()) for p in self.att.values()), default=0.0)
        return fix(self.abits, frac_for_range(m, self.abits))

    def exp_format(self) -> NumFormat:
        return exp_format(self.score_q.bits)

    def score_format(self, *tensors: torch.Tensor) -> NumFormat:
        """Calibrate the score format on ``tensors`` (training) and return it."""
        return self.score_q.observe(*tensors)

    def formats(self, input_fmt: NumFormat) -> dict[str, NumFormat]:
        """The IR formats of this layer given the format of its input."""
        fm = {
            "input": input_fmt,
            "weight": self.w_q.fmt_for(self.weight),
            "linear": self.lin_q.fmt(),
            "aggregation": self.agg_q.fmt(),
            "output": self.out_q.fmt(),
        }
        names = layer_format_names(self.attention, self.aggregation)
        if "coef" in names:
            fm["coef"] = self.coef_q.fmt()
        if "recip" in names:
            fm["recip"] = MEAN_RECIP_FORMAT
        if self.softmax:
            fm["att_weight"] = self.att_format()
            fm["score"] = self.score_q.fmt()
            fm["exp"] = self.exp_format()
        fm["bias"] = self.bias_format()
        return fm

    @property
    def output_width(self) -> int:
        return self.heads * self.out_features if self.concat else self.out_features

    def accumulator_frac(self) -> int:
        """Binary point of the aggregation accumulator (``lpgnas.ir.aggregation_frac``)."""
        names = layer_format_names(self.attention, self.aggregation)
        frac = self.lin_q.fmt().frac + (self.coef_q.fmt().frac if "coef" in names else 0)
        frac += MEAN_RECIP_FORMAT.frac if "recip" in names else 0
        return frac + (HEAD_MEAN_FRAC if self.heads > 1 and not self.concat else 0)

    def bias_format(self) -> NumFormat:
        """``bbits``-bit fix covering the bias, binary point at most the aggregation accumulator's."""
        max_abs = float(self.bias.detach().abs().max()) if self.bias is not None else 0.0
        return fix(self.bbits, min(frac_for_range(max_abs, self.bbits), self.accumulator_frac()))

    # ---- pieces of the forward pass ----
    def exact(self, surrogate: torch.Tensor, codes: torch.Tensor, frac: int) -> QTensor:
        """The step's exact values with the surrogate's gradient (the surrogate alone when unquantised)."""
        return exact_step(surrogate, codes, frac) if self.quantise else QTensor(surrogate, codes, frac)

    def fq(self, x: torch.Tensor, fmt: NumFormat) -> torch.Tensor:
        """Fake quantisation (identity when the layer runs unquantised)."""
        return fake_quant(x, fmt) if self.quantise else x

    def attention_vector(self, key: str) -> QTensor:
        """Attention vector ``key`` (heads, out): STE-quantised values, codes of ``att_weight``."""
        fmt = self.att_format()
        p = self.att[key]
        codes = quantize_codes(p.detach(), fmt)
        return self.exact(self.fq(p, fmt), codes, fmt.frac)

    def _wide(self, g: GraphTensors, input_fmt: NumFormat | None) -> bool:
        """Whether the aggregation accumulator may exceed int64 (then it is computed with Python ints, as
        the golden model does); the attention unit's accumulators must fit."""
        fm = self.formats(input_fmt or fix(24, 0))
        ns = SimpleNamespace(formats=fm, in_features=self.in_features, out_features=self.out_features,
                             heads=self.heads, concat=self.concat, bias=self.bias)
        score_bits = score_accumulator_bits(ns)  # type: ignore[arg-type]
        if score_bits > INT64_SAFE_BITS:
            raise LpgnasError(f"the attention unit's accumulators need {score_bits} bits, more than the "
                              f"{INT64_SAFE_BITS} training supports (use narrower formats, e.g. --abits <= 24)")
        return accumulator_bounds(ns, g.max_degree)[1] > INT64_SAFE_BITS  # type: ignore[arg-type]

    def _wide_aggregation(self, g: GraphTensors, coef: torch.Tensor, lin: torch.Tensor, frac: int,
                          agg_fmt: NumFormat) -> torch.Tensor:
        """Aggregation codes (N, width) computed with Python ints (object arrays), for accumulators wider
        than int64: the golden model's aggregate, finalise, heads, bias and re-quantisation."""
        csr, reducer = g.csr, np.add if AGGREGATION_FINALISERS[self.aggregation].reduce == "sum" else np.maximum
        starts = csr.row_ptr[:-1]
        accs = []
        for h in range(self.heads):
            products = coef[:, min(h, coef.shape[1] - 1)].cpu().numpy().astype(object)[:, None]
            products = products * lin[:, h].cpu().numpy().astype(object)[csr.col_idx]
            acc = reducer.reduceat(products, starts, axis=0)
            if AGGREGATION_FINALISERS[self.aggregation].recip:
                acc = acc * mean_reciprocals(csr, MEAN_RECIP_FORMAT).astype(object)[:, None]
            accs.append(acc)
        if self.concat:
            acc = np.concatenate(accs, axis=1)
        else:
            acc = sum(accs[1:], accs[0])
            if self.heads > 1:
                acc = acc * head_mean_reciprocal(self.heads, HEAD_MEAN_FRAC)
        if self.bias is not None:
            b_fmt = self.bias_format()
            b = quantize_np(self.bias.detach().double().cpu().numpy(), b_fmt).astype(object)
            acc = acc + (b << (frac - b_fmt.frac))[None, :]
        return torch.from_numpy(requantize_np(acc, frac, agg_fmt).astype(np.int64)).to(lin.device)

    def _linear_codes(self, x: torch.Tensor, input_fmt: NumFormat | None, input_codes: torch.Tensor | None,
                      w_codes: torch.Tensor, w_fmt: NumFormat, lin_fmt: NumFormat, product: torch.Tensor,
                      input_shift: int | None) -> torch.Tensor:
        """``requant(x @ W[h], in.frac + w.frac -> linear)`` (N, heads, out), exact when the input codes are
        given or ``x`` lies on the input format's grid (always outside training; in training when dropout
        scales by a power of two). ``product`` is the float32 ``x @ W[h]`` of the weights' values; when
        ``x`` is known to be the input codes shifted left by ``input_shift`` bits (0: the codes themselves)
        and the accumulator fits ``FLOAT32_EXACT_BITS``, the codes are read off it (no second product)."""
        if input_fmt is not None and (input_codes is not None or input_shift is not None):
            mag = product_bits(input_fmt, w_fmt, self.in_features) + (input_shift or 0)
            if mag <= FLOAT32_EXACT_BITS:
                acc = (product.double() * 2.0 ** (input_fmt.frac + w_fmt.frac)).long()
                return requantize_torch(acc, input_fmt.frac + w_fmt.frac, lin_fmt)
        if input_fmt is not None:
            xc = as_double(input_codes) if input_codes is not None else as_double(x.detach(), 2.0**input_fmt.frac)
            values = xc.values() if xc.is_sparse else xc
            if input_codes is not None or torch.equal(values, torch.round(values)):
                mag = product_bits(input_fmt, w_fmt, self.in_features)
                if mag <= FLOAT64_EXACT_BITS:
                    acc = project(xc, w_codes.double()).long()
                elif mag <= INT64_SAFE_BITS:  # on the CPU: CUDA has no int64 matrix product
                    acc = torch.einsum("ni,hio->nho", to_dense(xc).long().cpu(), w_codes.cpu()).to(w_codes.device)
                else:  # Python ints, as the golden model
                    xo, wo = to_dense(xc).long().cpu().numpy().astype(object), w_codes.cpu().numpy().astype(object)
                    lin = [requantize_np(xo @ wo[h], input_fmt.frac + w_fmt.frac, lin_fmt) for h in range(self.heads)]
                    return torch.from_numpy(np.stack(lin, axis=1).astype(np.int64)).to(w_codes.device)
                return requantize_torch(acc, input_fmt.frac + w_fmt.frac, lin_fmt)
        # off the grid (training with dropout): the float64 product, quantised by the shared rule
        acc = project(as_double(x.detach()), w_codes.double())
        return quantize_codes(acc * 2.0**-w_fmt.frac, lin_fmt)

    def forward(self, x: torch.Tensor, g: GraphTensors, input_fmt: NumFormat | None = None,
                input_codes: torch.Tensor | None = None, input_shift: int | None = None) -> torch.Tensor:
        """``x``: values of ``input_fmt`` (N, in_features) -> output values (N, output_width). ``input_codes``
        (int64, optional) are ``x``'s codes (needed for exactness when codes are wider than float32's 24 bits).
        ``input_shift``: ``x`` is known to be codes of ``input_fmt`` shifted left by that many bits (dropout
        by ``1 - 2**-k`` keeps a value times ``2**k`` or zeroes it), which spares a check of its grid.

        The int64 codes of every step are kept in ``self.codes`` (linear, coefficients, aggregation,
        output) to compare with ``lpgnas.golden.trace_model``. ``x`` and ``input_codes`` may be sparse COO
        (the input features, see ``QuantGNN``).
        """
        if not self.quantise:
            return self._forward_float(x, g)
        n = g.csr.num_nodes
        w_fmt = self.w_q.fmt_for(self.weight)
        w_codes = quantize_codes(self.weight.detach(), w_fmt)
        product = project(x, self.w_q(self.weight))
        lin_f = self.lin_q(product)
        lin_fmt = self.lin_q.fmt()
        wide = self._wide(g, input_fmt)
        lin_c = self._linear_codes(x, input_fmt, input_codes, w_codes, w_fmt, lin_fmt, product.detach(), input_shift)
        lin = exact_step(lin_f, lin_c, lin_fmt.frac)

        coef = ATTENTION_COEFFICIENTS[self.attention].quantised(self, g, lin)
        if self.training and self.softmax and self.attention_dropout > 0:
            keep = 1.0 - self.attention_dropout
            mask = (torch.rand(coef.codes.shape, device=coef.codes.device) < keep).double() / keep
            codes = torch.floor(coef.codes.double() * mask + 0.5).long()
            coef = exact_step(coef.value * mask.float(), codes, coef.frac)

        agg_rule = AGGREGATION_FINALISERS[self.aggregation]
        acc_f = aggregate(g, coef.value, lin.value, agg_rule.reduce)
        acc_c = coef.codes.new_zeros((n, self.heads, 1)) if wide else \
            aggregate(g, coef.codes, lin.codes, agg_rule.reduce)
        acc_f = agg_rule(acc_f, g)
        acc_c, frac = agg_rule.exact(acc_c, lin.frac + coef.frac, g)
        acc_f, acc_c, frac = self._combine_heads(acc_f, acc_c, frac)
        if self.bias is not None:
            b_fmt = self.bias_format()
            acc_f = acc_f + fake_quant(self.bias, b_fmt)
            if not wide:
                b_codes = quantize_codes(self.bias.detach(), b_fmt)
                acc_c = acc_c + torch.bitwise_left_shift(b_codes, frac - b_fmt.frac)[None, :]
        assert frac == self.accumulator_frac()
        agg_f = self.agg_q(acc_f)
        agg_fmt = self.agg_q.fmt()
        agg_c = self._wide_aggregation(g, coef.codes, lin.codes, frac, agg_fmt) if wide else \
            requantize_torch(acc_c, frac, agg_fmt)
        agg = exact_step(agg_f, agg_c, agg_fmt.frac)
        act_rule = ACTIVATION_MODULES[self.activation]
        act = exact_step(act_rule(agg.value), act_rule.exact(agg.codes, agg_fmt), agg_fmt.frac)
        out_f = self.out_q(act.value)
        out_fmt = self.out_q.fmt()
        out = exact_step(out_f, requantize_torch(act.codes, agg_fmt.frac, out_fmt), out_fmt.frac)
        self.codes = {"linear": lin.codes, "coefficients": coef.codes, "aggregation": agg.codes,
                      "output": out.codes}
        return out.value

    def _combine_heads(self, acc_f: torch.Tensor, acc_c: torch.Tensor, frac: int):
        if self.concat:
            return acc_f.reshape(acc_f.shape[0], -1), acc_c.reshape(acc_c.shape[0], -1), frac
        acc_f, acc_c = acc_f.sum(dim=1), acc_c.sum(dim=1)
        if self.heads > 1:
            r = head_mean_reciprocal(self.heads, HEAD_MEAN_FRAC)
            acc_f, acc_c, frac = acc_f * (r * 2.0**-HEAD_MEAN_FRAC), acc_c * r, frac + HEAD_MEAN_FRAC
        return acc_f, acc_c, frac

    def _forward_float(self, x: torch.Tensor, g: GraphTensors) -> torch.Tensor:
        """The unquantised model with the same parameters (every quantiser bypassed, exact softmax and
        activation functions): the float reference the quantised model is compared with."""
        n = g.csr.num_nodes
        lin = torch.einsum("ni,hio->nho", x, self.weight)
        rule = ATTENTION_COEFFICIENTS[self.attention]
        lin_q = QTensor(lin, torch.zeros(lin.shape, dtype=torch.int64, device=lin.device), 0)
        if self.softmax:
            coef = edge_softmax(rule.scores(self, g, lin_q).value, g.dst, num_nodes=n, dim=0)
            if self.training and self.attention_dropout > 0:
                coef = F.dropout(coef, self.attention_dropout)
        elif rule.make is None:
            coef = torch.ones(g.csr.num_edges, 1, device=lin.device)
        else:
            deg = torch.from_numpy(g.csr.degrees.astype(np.float64)).float().to(lin.device)
            coef = (deg[g.dst] * deg[g.src]).rsqrt()[:, None]
        agg_rule = AGGREGATION_FINALISERS[self.aggregation]
        acc = scatter(coef[:, :, None] * lin[g.src], g.dst, n, agg_rule.reduce)
        if agg_rule.recip:
            acc = acc / torch.from_numpy(g.csr.degrees.astype(np.float64)).float().to(lin.device)[:, None, None]
        acc = acc.reshape(n, -1) if self.concat else acc.mean(dim=1)
        if self.bias is not None:
            acc = acc + self.bias
        return ACTIVATION_MODULES[self.activation](acc)
