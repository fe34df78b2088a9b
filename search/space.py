"""The LPGNAS search space: per-layer architecture and quantisation decisions.

Each layer has two groups of decisions, each a tuple of options:

* architecture (``ARCH_DECISIONS``): ``attention``, ``aggregation``, ``activation``, ``hidden`` (width per
  head) and ``heads``. The last layer produces the logits: its width is the number of classes, it has
  one head and the identity activation, so those decisions are fixed to one option there.
* quantisation (``QUANT_DECISIONS``), the bitwidth of each tensor the golden model quantises:
  ``q_weight`` (weights), ``q_input`` (the layer's input: for layer 0 the input features, for layer
  ``i > 0`` the previous layer's output, which *is* this layer's input), ``q_linear`` (linear-transform
  output), ``q_coef`` (precomputed edge coefficients, used by ``gcn``), ``q_aggregation``
  (aggregation output) and ``q_bias`` (the bias, added to the aggregation accumulator).

Bitwidth decisions
------------------
* Weights: {binary (1), ternary (2), 4, 8, 16}. The issue's "2 bits" for weights *is* ternary here:
  ``lpgnas.numfmt.from_bits`` maps a signed 2-bit weight to the ternary format (codes -1, 0, +1, which
  need no multiplier), so a separate 2-bit fix weight option would duplicate it.
* Activations (input, linear, coefficients, aggregation) and biases: fix {2, 4, 8, 16}. Binary and
  ternary are not offered there: the golden model's accumulate/requantise path and the IR validator only
  allow fix formats for every tensor but the weights.
* Biases have a bitwidth of their own (docs/search.md says why).
* The binary point is not searched: the quantisers of ``search/quant.py`` calibrate it — activations
  from an exponential moving average of the largest magnitude seen in training (frozen in eval), weights
  from the current tensor (fix: its largest magnitude; binary/ternary: the power of two nearest its mean
  magnitude). In the supernet one calibration per tensor is shared by all bitwidth candidates.

The operators are the registry's
--------------------------------
:func:`default_space` offers every operator of ``lpgnas.operators`` (in the registry's order) that also has a
quantisation-aware training implementation (``search.attentions`` / ``search.aggregations`` /
``search.activations``): the golden model may gain an operator before the training modules do, and the
search cannot train what it cannot run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lpgnas.errors import LpgnasError
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS
from lpgnas.search.activations import ACTIVATION_MODULES
from lpgnas.search.aggregations import AGGREGATION_FINALISERS
from lpgnas.search.attentions import ATTENTION_COEFFICIENTS

HIDDEN_SIZES: tuple[int, ...] = (16, 32, 64, 128, 256)
HEAD_COUNTS: tuple[int, ...] = (1, 2, 4, 8)
#: weight bitwidths: 1 = binary, 2 = ternary, else signed fix
WEIGHT_BITS: tuple[int, ...] = (1, 2, 4, 8, 16)
#: activation bitwidths (fix only)
ACT_BITS: tuple[int, ...] = (2, 4, 8, 16)

ARCH_DECISIONS: tuple[str, ...] = ("attention", "aggregation", "activation", "hidden", "heads")
QUANT_DECISIONS: tuple[str, ...] = ("q_weight", "q_input", "q_linear", "q_coef", "q_aggregation", "q_bias")
MAX_LAYERS = 4


def trainable_operators() -> dict[str, tuple[str, ...]]:
    """The registry's operators, in its order, that have a training implementation (the default space)."""
    return {
        "attention": tuple(n for n in ATTENTIONS if n in ATTENTION_COEFFICIENTS),
        "aggregation": tuple(n for n in AGGREGATIONS if n in AGGREGATION_FINALISERS),
        "activation": tuple(n for n in ACTIVATIONS if n in ACTIVATION_MODULES),
    }


@dataclass(frozen=True)
class LayerSpace:
    """The options of every decision of one layer (a one-option tuple fixes the decision)."""

    attention: tuple[str, ...]
    aggregation: tuple[str, ...]
    activation: tuple[str, ...]
    hidden: tuple[int, ...]
    heads: tuple[int, ...]
    q_weight: tuple[int, ...] = WEIGHT_BITS
    q_input: tuple[int, ...] = ACT_BITS
    q_linear: tuple[int, ...] = ACT_BITS
    q_coef: tuple[int, ...] = ACT_BITS
    q_aggregation: tuple[int, ...] = ACT_BITS
    q_bias: tuple[int, ...] = ACT_BITS

    def options(self, decision: str) -> tuple:
        return getattr(self, decision)


@dataclass(frozen=True)
class SearchSpace:
    """Per-layer decision options; the last layer's ``hidden`` is the class count."""

    layers: tuple[LayerSpace, ...]
    num_classes: int
    in_features: int
    decision_keys: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = ARCH_DECISIONS + QUANT_DECISIONS
        keys = tuple(f"layer{i}.{d}" for i in range(len(self.layers)) for d in names)
        object.__setattr__(self, "decision_keys", keys)

    def options(self, key: str) -> tuple:
        """Options of a decision key ``layer<i>.<decision>``."""
        layer, decision = key.split(".")
        return self.layers[int(layer[len("layer"):])].options(decision)

    def keys(self, group: str) -> list[str]:
        """Decision keys of ``"arch"`` or ``"quant"``."""
        names = ARCH_DECISIONS if group == "arch" else QUANT_DECISIONS
        return [k for k in self.decision_keys if k.split(".")[1] in names]

    def size(self) -> int:
        """Number of distinct paths through the space."""
        n = 1
        for k in self.decision_keys:
            n *= len(self.options(k))
        return n


@dataclass(frozen=True)
class LayerChoice:
    """One layer of a derived architecture (bitwidths: 1 binary, 2 ternary for weights)."""

    attention: str
    aggregation: str
    activation: str
    hidden: int
    heads: int
    q_weight: int
    q_input: int
    q_linear: int
    q_coef: int
    q_aggregation: int
    q_bias: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> LayerChoice:
        """From :meth:`to_dict`'s output; records written before ``q_bias`` existed had biases at the
        aggregation bitwidth."""
        return cls(**{"q_bias": record["q_aggregation"], **record})


def default_space(
    in_features: int,
    num_classes: int,
    layers: int = 2,
    *,
    hidden: tuple[int, ...] = HIDDEN_SIZES,
    heads: tuple[int, ...] = HEAD_COUNTS,
    weight_bits: tuple[int, ...] = WEIGHT_BITS,
    act_bits: tuple[int, ...] = ACT_BITS,
    operators: dict[str, tuple[str, ...]] | None = None,
) -> SearchSpace:
    """The space over the registry's operators (see the module docstring).

    ``operators`` (e.g. ``{"attention": ("gcn",)}``) restricts a decision to a subset of the registry.
    """
    if not 1 <= layers <= MAX_LAYERS:
        raise LpgnasError(f"--layers {layers} is outside 1..{MAX_LAYERS}")
    for name, bits in (("weight", weight_bits), ("activation", act_bits)):
        lo = 1 if name == "weight" else 2
        if not bits or any(not lo <= b <= 16 for b in bits):
            raise LpgnasError(f"{name} bitwidths {bits} must be non-empty and within {lo}..16")
    ops = trainable_operators()
    att, agg, act = ops["attention"], ops["aggregation"], ops["activation"]
    for kind, allowed in (operators or {}).items():
        offered = {"attention": att, "aggregation": agg, "activation": act}[kind]
        if not allowed or any(op not in offered for op in allowed):
            raise LpgnasError(f"{kind} operators {allowed} must be a non-empty subset of {offered}")
        if kind == "attention":
            att = tuple(allowed)
        elif kind == "aggregation":
            agg = tuple(allowed)
        else:
            act = tuple(allowed)
    out = []
    for i in range(layers):
        last = i == layers - 1
        out.append(
            LayerSpace(
                attention=att, aggregation=agg,
                activation=("identity",) if last else act,
                hidden=(num_classes,) if last else tuple(hidden),
                heads=(1,) if last else tuple(heads),
                q_weight=tuple(weight_bits), q_input=tuple(act_bits), q_linear=tuple(act_bits),
                q_coef=tuple(act_bits), q_aggregation=tuple(act_bits), q_bias=tuple(act_bits),
            )
        )
    return SearchSpace(layers=tuple(out), num_classes=num_classes, in_features=in_features)
