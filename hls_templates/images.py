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


# ---- off-chip buffers: the bytes external memory holds (docs/rtl.md "Off-chip buffers") -------------------------
# A buffer in ``HardwareConfig.offchip`` keeps element i at byte ``base + i*EB`` (little-endian, the element in the
# low EW bits, the rest of its EB bytes zero); a banked host array's element is a group of ``lanes`` codes of
# ``lane_bits`` bits (lane k at bits k*lane_bits). ``entry`` is the buffer's record of rtl.json "axi" (keys DW, EB,
# EW, depth, lanes, lane_bits).


def axi_elements(image: MemoryImage, entry: dict, row: int | None = None) -> list[int]:
    """The elements (EW-bit, two's complement) an off-chip buffer holds for ``image``: one per image word
    (``lanes`` 1), or, for a banked array (``lanes`` L > 1), groups of L codes: with ``row`` (the dense features,
    ``row`` = F_in codes per node, ``IG = ceil(row / L)`` groups per node) element ``n*IG + ig`` has in lane k the
    code of feature ``ig*L + k`` of node n, all ones past the row (padding the design must mask); without
    ``row`` (the sparse ``feat_col`` / ``feat_val``) element g has in lane k the flat image's code ``g*L + k``."""
    lanes, ew = int(entry["lanes"]), int(entry["EW"])
    data = [int(v) for v in np.asarray(image.data, dtype=np.int64).ravel()]
    if lanes <= 1:
        return [v & ((1 << ew) - 1) for v in data]
    w = int(entry["lane_bits"])
    if lanes * w > ew:
        raise ValueError(f"{image.name}: {lanes} lanes of {w} bits do not fit an element of {ew} bits")
    lane_mask = (1 << w) - 1
    if row is None:
        groups = -(-len(data) // lanes)
        codes = [[data[g * lanes + k] if g * lanes + k < len(data) else lane_mask for k in range(lanes)]
                 for g in range(groups)]
    else:
        if row < 1 or len(data) % row:
            raise ValueError(f"{image.name}: {len(data)} codes are no whole rows of {row}")
        ig_count = -(-row // lanes)
        codes = []
        for n in range(len(data) // row):
            for ig in range(ig_count):
                f0 = ig * lanes
                codes.append([data[n * row + f0 + k] if f0 + k < row else lane_mask for k in range(lanes)])
    out = []
    for lane_codes in codes:
        e = 0
        for k, c in enumerate(lane_codes):
            e |= (c & lane_mask) << (k * w)
        out.append(e)
    return out


def elements_to_bytes(elements: list[int], entry: dict) -> bytes:
    """Elements (EW-bit) laid out as external memory holds them from the buffer's base: EB bytes each,
    little-endian."""
    eb, mask = int(entry["EB"]), (1 << int(entry["EW"])) - 1
    return b"".join((int(e) & mask).to_bytes(eb, "little") for e in elements)


def bytes_to_words(data: bytes, data_bits: int) -> list[int]:
    """Little-endian bytes as ``data_bits``-bit bus words (word j = bytes j*DW/8 ..; a short last word padded
    with zero bytes)."""
    nb = data_bits // 8
    padded = bytes(data) + bytes(-len(data) % nb)
    return [int.from_bytes(padded[i:i + nb], "little") for i in range(0, len(padded), nb)]


def words_to_bytes(words: list[int], data_bits: int) -> bytes:
    """The inverse of :func:`bytes_to_words`."""
    nb = data_bits // 8
    return b"".join((int(w) & ((1 << data_bits) - 1)).to_bytes(nb, "little") for w in words)


def axi_words(image: MemoryImage, entry: dict, row: int | None = None) -> list[int]:
    """The DW-bit bus words holding ``image`` in external memory from the buffer's base (4 KB aligned, so word j
    is at byte ``base + j*DW/8``): :func:`axi_elements` at EB bytes each, little-endian, the last word padded
    with zeros."""
    return bytes_to_words(elements_to_bytes(axi_elements(image, entry, row), entry), int(entry["DW"]))


def axi_codes(words: list[int], entry: dict, count: int, signed: bool) -> list[int]:
    """The first ``count`` element codes of an off-chip buffer (``lanes`` 1: the outputs) from its DW-bit words
    starting at the base: the inverse of :func:`axi_words`, two's complement on EW bits when ``signed``."""
    eb, ew = int(entry["EB"]), int(entry["EW"])
    data = words_to_bytes(words, int(entry["DW"]))
    if len(data) < count * eb:
        raise ValueError(f"{len(data)} bytes hold fewer than {count} elements of {eb} bytes")
    out = []
    for i in range(count):
        v = int.from_bytes(data[i * eb:(i + 1) * eb], "little") & ((1 << ew) - 1)
        if signed and v >> (ew - 1):
            v -= 1 << ew
        out.append(v)
    return out
