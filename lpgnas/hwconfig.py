"""The hardware configuration: what the generator needs beyond the IR.

Per layer: ``p_in`` multipliers per dot-product lane, ``p_out`` lanes (the transform unit),
``p_agg`` feature lanes of the edge/aggregation unit, how multipliers map to hardware
(``logic`` for binary/ternary operands, ``lut``, ``dsp``, or ``auto``) and, for layer 0, whether it reads its
input features ``dense`` (every feature) or ``sparse`` (only the non-zeros, :mod:`lpgnas.sparse`). Global: the
target device, the clock, and the capacity of the on-chip graph buffers (``max_nodes``, ``max_edges`` counting
self-loops) and of the sparse input (``max_nonzeros``), and which buffers live in external memory behind AXI4
master ports (``offchip``, names from :mod:`lpgnas.buffers`; empty: today's design, host buffers on ``ap_memory``
ports and every row buffer on chip).
Saved as ``hw_config.json`` in a generated hardware folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lpgnas.buffers import buffer_names
from lpgnas.devices import check_clock_mhz
from lpgnas.errors import LpgnasError
from lpgnas.ir import ModelIR

MULT_MAPPINGS = ("auto", "logic", "lut", "dsp")
#: how layer 0 reads its input features (the other layers read on-chip row buffers: ``dense``)
INPUT_MODES = ("dense", "sparse")

log = logging.getLogger(__name__)


@dataclass
class LayerHW:
    """Parallelism and multiplier mapping of one layer."""

    p_in: int = 4
    p_out: int = 4
    p_agg: int = 4
    mult: str = "auto"
    input: str = "dense"


@dataclass
class HardwareConfig:
    """Everything the templates need that the IR does not say."""

    device: str = "xc7z020"
    clock_mhz: float = 100.0
    max_nodes: int = 256
    max_edges: int = 2048
    max_nonzeros: int = 0  # input-feature non-zeros a sparse layer 0 holds (0: dense input only)
    layers: list[LayerHW] = field(default_factory=list)
    offchip: list[str] = field(default_factory=list)  # buffers in external memory (lpgnas.buffers names)

    def check_globals(self, where: str = "hardware config") -> HardwareConfig:
        """Raise a clear error (naming ``where``) for a clock that is not a positive number or a capacity that
        is not a positive integer."""
        check_clock_mhz(self.clock_mhz, f"{where}: clock_mhz")
        for key in ("max_nodes", "max_edges", "max_nonzeros"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise LpgnasError(f"{where}: {key} must be an integer, got {v!r}")
        if self.max_nonzeros < 0:
            raise LpgnasError(f"{where}: max_nonzeros must be >= 0, got {self.max_nonzeros}")
        if self.max_nodes < 1 or self.max_edges < self.max_nodes:
            raise LpgnasError(f"{where}: max_nodes >= 1 and max_edges >= max_nodes (self-loops) are required")
        return self

    def check(self, ir: ModelIR) -> HardwareConfig:
        """Raise a clear error if this config does not fit ``ir`` (or :meth:`check_globals` fails); clamp
        ``p_agg`` to the layer's output features (with a warning)."""
        self.check_globals()
        if len(self.layers) != len(ir.layers):
            raise LpgnasError(f"hardware config has {len(self.layers)} layers, the IR has {len(ir.layers)}")
        for i, (hw, layer) in enumerate(zip(self.layers, ir.layers, strict=True)):
            for key in ("p_in", "p_out", "p_agg"):
                v = getattr(hw, key)
                if not isinstance(v, int) or v < 1:
                    raise LpgnasError(f"hardware config layers[{i}].{key}: must be a positive integer, got {v!r}")
            if hw.p_in > layer.in_features or hw.p_out > layer.out_features:
                raise LpgnasError(
                    f"hardware config layers[{i}]: p_in={hw.p_in}/p_out={hw.p_out} exceed the layer's "
                    f"{layer.in_features}x{layer.out_features} weights"
                )
            if hw.p_agg > layer.out_features:  # the lanes beyond the layer's features would idle
                log.warning(
                    "hardware config layers[%d].p_agg=%d exceeds the layer's %d output features; using p_agg=%d",
                    i, hw.p_agg, layer.out_features, layer.out_features,
                )
                hw.p_agg = layer.out_features
            if hw.mult not in MULT_MAPPINGS:
                raise LpgnasError(f"hardware config layers[{i}].mult: {hw.mult!r} is not one of {MULT_MAPPINGS}")
            if hw.input not in INPUT_MODES:
                raise LpgnasError(f"hardware config layers[{i}].input: {hw.input!r} is not one of {INPUT_MODES}")
            if hw.input == "sparse" and i > 0:
                raise LpgnasError(
                    f"hardware config layers[{i}].input: only layer 0 reads the input features; use 'dense'"
                )
            if hw.input == "sparse" and self.max_nonzeros < 1:
                raise LpgnasError(
                    "hardware config: layer 0 reads sparse features but max_nonzeros is 0; set it to the "
                    "graph's non-zero feature count (or more)"
                )
        self.check_offchip(ir)
        return self

    def check_offchip(self, ir: ModelIR) -> None:
        """Raise a clear error for an ``offchip`` entry that names no buffer of ``ir``'s accelerator, or twice."""
        if not isinstance(self.offchip, list) or not all(isinstance(n, str) for n in self.offchip):
            raise LpgnasError(f"hardware config: offchip must be a list of buffer names, got {self.offchip!r}")
        known = buffer_names(ir, bool(self.layers) and self.layers[0].input == "sparse")
        for name in self.offchip:
            if name not in known:
                raise LpgnasError(
                    f"hardware config: offchip names {name!r}, not a buffer of this design; known: {', '.join(known)}")
        if len(set(self.offchip)) != len(self.offchip):
            raise LpgnasError(f"hardware config: offchip names a buffer twice: {self.offchip}")

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> HardwareConfig:
        layers = [LayerHW(**ld) for ld in d.get("layers", [])]
        return HardwareConfig(**{k: v for k, v in d.items() if k != "layers"}, layers=layers)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    @staticmethod
    def load(path: str | Path) -> HardwareConfig:
        try:
            hw = HardwareConfig.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError) as e:
            raise LpgnasError(f"{path}: not a readable hardware config ({e})") from None
        return hw.check_globals(str(path))


def default_config(ir: ModelIR, max_nodes: int, max_edges: int, device: str = "xc7z020") -> HardwareConfig:
    """A modest default: 4x4 transform, 4 aggregation lanes, clipped to each layer's shape."""
    layers = [
        LayerHW(p_in=min(4, layer.in_features), p_out=min(4, layer.out_features), p_agg=min(4, layer.out_features))
        for layer in ir.layers
    ]
    return HardwareConfig(device=device, max_nodes=max_nodes, max_edges=max_edges, layers=layers)
