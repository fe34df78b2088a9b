"""IR + hardware config -> Vitis HLS project (hls4ml-style: this module computes, the templates render).

``write_hls`` writes into ``out_dir``:

    lpgnas_int.h   integer types and the re-quantiser (static; g++ without Vitis, ap_int under Vitis)
    kernel.h       sizes, port types and the top function ``lpgnas_top``
    kernel.cpp     the accelerator: per layer a transform unit and an edge/aggregation unit
    weights.h      weight ROMs and biases as integer constants
    tb.cpp         testbench: reads ``data/*.txt``, runs the kernel, compares with ``expected``
    run_hls.tcl    csim, csynth, cosim, export for Vitis HLS

The integers are those of :mod:`lpgnas.golden`; every number the templates need (shifts, saturation
bounds, widths) is computed here from the IR with the golden model's own helpers. Accumulators are
int64 in C simulation, so a layer whose accumulator bound exceeds 62 bits (where the golden model
switches to Python ints) is refused with a :class:`FormatError`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from hls_templates.config import HardwareConfig
from hls_templates.env import TEMPLATE_ROOT, make_env, sanitize
from lpgnas.errors import FormatError, LpgnasError
from lpgnas.golden import accumulator_bounds
from lpgnas.graph import head_mean_reciprocal
from lpgnas.ir import HEAD_MEAN_FRAC, LayerIR, ModelIR, aggregation_frac, linear_acc_frac
from lpgnas.numfmt import NumFormat

#: accumulator bound (bits, sign included) up to which int64 arithmetic is exact; as in lpgnas.golden
INT64_SAFE_BITS = 62

#: top function of the kernel (and module name of the RTL Vitis HLS makes from it)
TOP_NAME = "lpgnas_top"

#: name of the output port / buffer (the host reads it; ``data/expected.txt`` holds what it must contain)
OUTPUT_PORT = "outputs"

#: full part names of the device presets (``hw.device`` may also be a full part name already)
PARTS = {
    "xc7z020": "xc7z020clg400-1",
    "xc7z045": "xc7z045ffg900-2",
    "xczu3eg": "xczu3eg-sbva484-1-e",
    "xczu7ev": "xczu7ev-ffvc1156-2-e",
    "xczu9eg": "xczu9eg-ffvb1156-2-e",
    "xcu50": "xcu50-fsvh2104-2-e",
    "xcu250": "xcu250-figd2104-2L-e",
}

_TEMPLATES = ("kernel.h", "kernel.cpp", "weights.h", "tb.cpp", "run_hls.tcl")
_STATIC_FILES = ("lpgnas_int.h",)


def write_hls(ir: ModelIR, hw: HardwareConfig, out_dir: Path) -> list[Path]:
    """Render the HLS project of ``ir`` with parallelism ``hw`` into ``out_dir``; return the files written."""
    out = Path(out_dir)
    context = hls_context(ir, hw)
    env = make_env("hls")
    env.filters["cstr"] = _c_string
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in _STATIC_FILES:
        written.append(Path(shutil.copyfile(TEMPLATE_ROOT / "hls" / name, out / name)))
    for name in _TEMPLATES:
        path = out / name
        path.write_text(env.get_template(f"{name}.j2").render(**context))
        written.append(path)
    return written


def hls_context(ir: ModelIR, hw: HardwareConfig) -> dict[str, Any]:
    """Everything the templates read: sizes, port types, and one dict per layer (see ``_layer_context``)."""
    hw.check(ir)
    idents = [sanitize(layer.name) for layer in ir.layers]
    if len(set(idents)) != len(idents):
        raise LpgnasError(
            f"layer names {[layer.name for layer in ir.layers]} map to clashing C identifiers {idents}; "
            "rename the layers so they differ in [A-Za-z0-9_]"
        )
    max_deg = hw.max_nodes  # duplicates are merged, so no node has more in-edges than there are nodes
    layers = [
        _layer_context(layer, lhw, max_deg, last=i == len(ir.layers) - 1)
        for i, (layer, lhw) in enumerate(zip(ir.layers, hw.layers, strict=True))
    ]
    # each layer's output buffer is read by the next transform P_IN words at a time
    for cur, nxt in zip(layers, layers[1:], strict=False):
        cur["y_partition"] = nxt["p_in"]
    return {
        "model_name": ir.name,
        "top": TOP_NAME,
        "output_port": OUTPUT_PORT,
        "max_nodes": hw.max_nodes,
        "max_edges": hw.max_edges,
        "in_features": ir.in_features,
        "num_classes": ir.num_classes,
        "node_bits": max(hw.max_nodes.bit_length(), 1),
        "edge_bits": max(hw.max_edges.bit_length(), 1),
        "features_t": _ctype(ir.layers[0].formats["input"]),
        "outputs_t": _ctype(ir.layers[-1].formats["output"]),
        "layers": layers,
        "part": PARTS.get(hw.device, hw.device),
        "clock_period_ns": round(1000.0 / hw.clock_mhz, 3),
    }


def accumulator_bits(layer: LayerIR, max_deg: int) -> tuple[int, int]:
    """Bounds (bits, sign included) of the transform and aggregation accumulators: the golden model's."""
    return accumulator_bounds(layer, max_deg)


def _layer_context(layer: LayerIR, lhw: Any, max_deg: int, last: bool) -> dict[str, Any]:
    fm = layer.formats
    for key in ("input", "linear", "aggregation", "output"):
        if fm[key].kind != "fix":  # the IR validates this; the re-quantiser below relies on it
            raise FormatError(f"layer {layer.name!r}: format {key} must be fix, got {fm[key]}")
    lin_bits, agg_bits = accumulator_bits(layer, max_deg)
    for what, bits in (("transform", lin_bits), ("aggregation", agg_bits)):
        if bits > INT64_SAFE_BITS:
            raise FormatError(
                f"layer {layer.name!r}: formats too wide for the generated C++: the {what} accumulator "
                f"needs {bits} bits ({_fmt_summary(layer)}; up to {max_deg} in-edges per node), the C++ "
                f"computes exactly in int64 up to {INT64_SAFE_BITS} bits; narrow the formats or the graph "
                "capacity (max_nodes)"
            )
    w_fmt = fm["weight"]
    agg_frac = aggregation_frac(layer)
    head_mean = layer.heads > 1 and not layer.concat
    ctx: dict[str, Any] = {
        "name": layer.name,
        "in_f": layer.in_features,
        "out_f": layer.out_features,
        "heads": layer.heads,
        "concat": layer.concat,
        "out_w": layer.output_features,
        "attention": layer.attention,
        "aggregation": layer.aggregation,
        "activation": layer.activation,
        "last": last,
        "p_in": lhw.p_in,
        "p_out": lhw.p_out,
        "p_agg": lhw.p_agg,
        "y_partition": 1,
        "lin_bits": lin_bits,
        "agg_bits": agg_bits,
        "in_t": _ctype(fm["input"]),
        "lin_t": _ctype(fm["linear"]),
        "out_t": _ctype(fm["output"]),
        "w_kind": w_fmt.kind,
        "w_t": "lp_uint<1>" if w_fmt.kind == "binary" else _ctype(w_fmt),
        "weight": _c_array(_weight_codes(layer.weight, w_fmt)),
        "lin": _requant(linear_acc_frac(layer), fm["linear"]),
        "agg": _requant(agg_frac, fm["aggregation"]),
        "out": _requant(fm["aggregation"].frac, fm["output"]),
        "coef_t": _ctype(fm["coef"]) if "coef" in fm else None,
        "recip_t": _ctype(fm["recip"]) if "recip" in fm else None,
        "head_recip": head_mean_reciprocal(layer.heads, HEAD_MEAN_FRAC) if head_mean else None,
        "bias": None,
    }
    if layer.bias is not None:
        ctx["bias"] = _c_array(np.asarray(layer.bias, dtype=np.int64))
        ctx["bias_t"] = _ctype(fm["bias"])
        ctx["bias_shift"] = agg_frac - fm["bias"].frac
    return ctx


def _ctype(fmt: NumFormat) -> str:
    """Storage type of a format's codes (binary/ternary codes are stored as 2-bit signed)."""
    return f"lp_int<{max(fmt.bits, 2)}>" if fmt.signed else f"lp_uint<{fmt.bits}>"


def _requant(frac_in: int, fmt: NumFormat) -> dict[str, int]:
    """Arguments of ``lp_requant`` taking an accumulator with ``frac_in`` to ``fmt``."""
    return {"shift": frac_in - fmt.frac, "qmin": fmt.qmin, "qmax": fmt.qmax}


def _weight_codes(weight: np.ndarray, fmt: NumFormat) -> np.ndarray:
    """Binary weights are stored as one bit (1 -> +1, 0 -> -1), the others as their codes."""
    w = np.asarray(weight, dtype=np.int64)
    return (w > 0).astype(np.int64) if fmt.kind == "binary" else w


def _c_array(a: np.ndarray, per_line: int = 24) -> str:
    """Brace initialiser of an integer array of any rank (one line per ``per_line`` innermost values)."""
    if a.ndim == 1:
        words = [_c_int(int(v)) for v in a]
        lines = [", ".join(words[i : i + per_line]) for i in range(0, len(words), per_line)]
        return "{" + ",\n".join(lines) + "}"
    return "{\n" + ",\n".join(_c_array(sub, per_line) for sub in a) + "}"


def _c_int(v: int) -> str:
    """Decimal literal; values beyond 32 bits get the long long suffix."""
    return f"{v}LL" if abs(v) >= 1 << 31 else str(v)


def _c_string(s: str) -> str:
    """C string literal of ``s`` (UTF-8 bytes, octal-escaped outside printable ASCII)."""
    out = []
    for b in str(s).encode():
        ch = chr(b)
        out.append(f"\\{b:03o}" if b < 32 or b > 126 or ch in '"\\?' else ch)
    return '"' + "".join(out) + '"'


def _fmt_summary(layer: LayerIR) -> str:
    return ", ".join(f"{k}={v}" for k, v in layer.formats.items())
