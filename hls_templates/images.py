"""Memory images: the integer contents of every buffer the host loads into the accelerator and reads back.

Both backends (HLS C++ testbench, Verilog ``$readmemh``) read the same images, computed from the IR, the
graph and the input features with the golden model's host functions, so the data they are checked on
cannot drift apart. Each image is a flat int64 array with a word width and signedness.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lpgnas.golden import run_model
from lpgnas.graph import CSRGraph, gcn_coefficients, mean_reciprocals
from lpgnas.hwconfig import HardwareConfig
from lpgnas.ir import ModelIR
from lpgnas.names import tensor_name
from lpgnas.numfmt import NumFormat
from lpgnas.operators import ATTENTIONS
from lpgnas.sparse import column_width, group_features


@dataclass
class MemoryImage:
    """One buffer: ``data`` (flat, row-major), each word ``width`` bits, two's complement if ``signed``.

    ``name`` is the file stem and the accelerator's port prefix (a layer's tensors:
    :func:`lpgnas.names.tensor_name`)."""

    name: str
    data: np.ndarray
    width: int
    signed: bool

    def hex_lines(self) -> list[str]:
        """One word per line, two's complement, zero-padded hex (``$readmemh`` format)."""
        digits = (self.width + 3) // 4
        mask = (1 << self.width) - 1
        return [format(int(v) & mask, f"0{digits}x") for v in self.data]

    def write_mem(self, folder: Path) -> Path:
        path = Path(folder) / f"{self.name}.mem"
        path.write_text("\n".join(self.hex_lines()) + "\n")
        return path

    def write_txt(self, folder: Path) -> Path:
        """Decimal, one word per line (read by the C++ testbench)."""
        path = Path(folder) / f"{self.name}.txt"
        path.write_text("\n".join(str(int(v)) for v in self.data) + "\n")
        return path


def _width_of(data: np.ndarray, signed: bool) -> int:
    lo, hi = (int(data.min()), int(data.max())) if data.size else (0, 0)
    if signed:
        return max(max(hi, -lo - 1).bit_length() + 1, 2)
    return max(hi.bit_length(), 1)


def _fmt_image(name: str, data: np.ndarray, fmt: NumFormat) -> MemoryImage:
    # binary codes (-1/+1) are stored as 2-bit two's complement in memories the host loads
    return MemoryImage(name, np.asarray(data, dtype=np.int64).ravel(), max(fmt.bits, 2) if fmt.signed else fmt.bits,
                       fmt.signed)


def graph_images(ir: ModelIR, graph: CSRGraph) -> list[MemoryImage]:
    """CSR row pointers and column indices, plus per-layer edge coefficients (gcn; the GAT family's are
    computed on chip by the attention unit) and mean reciprocals."""
    images = [
        MemoryImage("row_ptr", graph.row_ptr, _width_of(graph.row_ptr, False), False),
        MemoryImage("col_idx", graph.col_idx, _width_of(graph.col_idx, False), False),
    ]
    for layer in ir.layers:
        if "coef" in layer.formats and not ATTENTIONS[layer.attention].softmax:  # gcn; softmax: on chip
            images.append(_fmt_image(tensor_name(layer.name, "coef"), gcn_coefficients(graph, layer.formats["coef"]),
                                     layer.formats["coef"]))
        if "recip" in layer.formats:
            images.append(_fmt_image(tensor_name(layer.name, "recip"), mean_reciprocals(graph, layer.formats["recip"]),
                                     layer.formats["recip"]))
    return images


def feature_images(ir: ModelIR, x_codes: np.ndarray, hw: HardwareConfig | None = None) -> list[MemoryImage]:
    """Layer 0's input: the codes row-major (``features``), or, when ``hw`` makes layer 0 ``sparse``, their
    grouped CSR (``feat_ptr``, ``feat_col``, ``feat_val``; :mod:`lpgnas.sparse`)."""
    fmt = ir.layers[0].formats["input"]
    if hw is None or not hw.layers or hw.layers[0].input != "sparse":
        return [_fmt_image("features", x_codes, fmt)]
    ptr, col, val = group_features(x_codes, hw.layers[0].p_in)
    return [
        MemoryImage("feat_ptr", ptr, _width_of(ptr, False), False),
        MemoryImage("feat_col", col, column_width(ir.in_features), False),
        _fmt_image("feat_val", val, fmt),
    ]


def io_images(
    ir: ModelIR, graph: CSRGraph, x_codes: np.ndarray, hw: HardwareConfig | None = None
) -> list[MemoryImage]:
    """Input features (:func:`feature_images`) and the golden model's output codes (what the hardware must
    produce)."""
    out = run_model(ir, graph, x_codes)
    return [*feature_images(ir, x_codes, hw), _fmt_image("expected", out, ir.layers[-1].formats["output"])]
