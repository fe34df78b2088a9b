"""IR + hardware config -> Vitis HLS project (hls4ml-style: this module computes, the templates render).

``write_hls`` writes into ``out_dir``:

    lpgnas_int.h   integer types and the re-quantiser (g++ without Vitis, ap_int under Vitis; its limits are
                   lpgnas.numfmt's and WIDE_SAFE_BITS)
    kernel.h       sizes, port types and the top function ``lpgnas_top``
    kernel.cpp     the accelerator: per layer a transform unit, an attention unit (GAT family only) and an
                   edge/aggregation unit; per-operator code comes from the macros of operators.j2
    weights.h      weight ROMs, biases, attention vectors and function tables as integer constants
    tb.cpp         testbench: reads ``data/*.txt``, runs the kernel, compares with ``expected``
    run_hls.tcl    csim, csynth, cosim, export for Vitis HLS

The integers are those of :mod:`lpgnas.golden`; every number the templates need (shifts, saturation
bounds, widths) is computed here from the IR with the golden model's own helpers. In C simulation an
accumulator is int64 up to a 62-bit bound (where the golden model switches to Python ints) and __int128
beyond; a layer whose accumulator bound exceeds ``WIDE_SAFE_BITS`` (126) is refused with a
:class:`FormatError`.

Layer 0 reads its input features dense (``features``) or, with ``LayerHW.input = "sparse"``, as the grouped
CSR of :mod:`lpgnas.sparse` (``feat_ptr``, ``feat_col``, ``feat_val``), multiplying only the non-zeros.

Buffers named in ``HardwareConfig.offchip`` (:mod:`lpgnas.buffers`) live in external memory: a host buffer becomes
an ``m_axi`` port (its own bundle ``gmem_<name>``, base address in the ``control`` AXI4-Lite), an internal row buffer
(``<layer>_lin``, ``buf_<k>``) a kernel argument to scratch memory the host allocates; see :func:`offchip_buffers`
for their elements. With ``offchip`` empty the generated C++ is today's, byte for byte.

``HLS_ATTENTIONS``, ``HLS_AGGREGATIONS`` and ``HLS_ACTIVATIONS`` map every operator of the registry
(:mod:`lpgnas.operators`) to the ``operators.j2`` macro that emits its C++; an operator missing there is
refused with an :class:`LpgnasError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lpgnas.buffers import SPARSE_FEATURES, host_buffers, internal_buffers
from lpgnas.devices import full_part
from lpgnas.errors import FormatError, LpgnasError
from lpgnas.golden import accumulator_bounds, score_accumulator_bits
from lpgnas.graph import head_mean_reciprocal
from lpgnas.hls_templates.env import OUTPUT_PORT, TOP_NAME, make_env
from lpgnas.hw_model.params import globals_for, spec_from_ir, stored_width
from lpgnas.hw_model.units.axi import AXI_ADDR_BITS, BURST_BEATS, element_bytes
from lpgnas.hw_model.units.transform import SPARSE_ROM_PORTS, transform_params
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import HEAD_MEAN_FRAC, LayerIR, ModelIR, aggregation_frac, linear_acc_frac
from lpgnas.names import layer_identifiers, tensor_name
from lpgnas.numfmt import INT64_SAFE_BITS, SATURATION_BITS, NumFormat
from lpgnas.operators import ACTIVATIONS, ATTENTIONS
from lpgnas.sparse import max_groups, row_groups
from lpgnas.tables import (
    ACTIVATION_LEAKY_CODE,
    ATTENTION_LEAKY_CODE,
    LEAKY_FRAC,
    SOFTMAX_RECIP_BITS,
    SOFTMAX_RECIP_FRAC,
    function_table,
    relu6_max_code,
    table_index,
)

#: accumulator bound (bits, sign included) up to which the generated C++ is exact (``__int128`` in C
#: simulation; ``LP_WIDE_SAFE_BITS`` in lpgnas_int.h)
WIDE_SAFE_BITS = 126

#: attention -> operators.j2 macro: the edge coefficient (const, gcn) or the per-edge score of the
#: attention unit (GAT family; its coefficients are then the softmax's, read by ``coef_softmax``)
HLS_ATTENTIONS: dict[str, str] = {
    "const": "coef_const",
    "gcn": "coef_port",
    "gat": "score_gat",
    "sym-gat": "score_sym_gat",
    "cos": "score_cos",
    "linear": "score_linear",
    "gene-linear": "score_gene_linear",
}

#: aggregation -> operators.j2 macro reducing one weighted message into a lane's accumulator
#: (mean: a sum, then times the 1/deg port in the finalise step)
HLS_AGGREGATIONS: dict[str, str] = {"add": "reduce_add", "mean": "reduce_mean", "max": "reduce_max"}

#: activation -> operators.j2 macro computing it on the aggregation code ``q`` (tables as ROMs in weights.h)
HLS_ACTIVATIONS: dict[str, str] = {
    "relu": "act_relu",
    "identity": "act_identity",
    "elu": "act_elu",
    "tanh": "act_table",
    "sigmoid": "act_table",
    "leaky_relu": "act_leaky_relu",
    "relu6": "act_relu6",
    "softplus": "act_softplus",
}

#: per-node score kind of each softmax attention: ``dot`` = lin . att per node (``tanh`` after it for
#: linear), ``elementwise`` = lin * att per node and feature (cos, gene-linear)
_NODE_SCORES = {"gat": "dot", "sym-gat": "dot", "linear": "dot_tanh", "cos": "elementwise",
                "gene-linear": "elementwise"}

#: widest off-chip element (bits): the ``ap_uint`` an element is under Vitis HLS holds at most 4096 bits
#: (``AP_INT_MAX_W``); the default limit of the ap_int headers is 1024
MAX_ELEMENT_BITS = 4096
AP_INT_DEFAULT_MAX_W = 1024

#: rendered from ``<name>.j2``; the header ``lpgnas_int.h`` is rendered from itself (no per-design content)
_TEMPLATES = ("kernel.h", "kernel.cpp", "weights.h", "tb.cpp", "run_hls.tcl")
_HEADERS = ("lpgnas_int.h",)


def check_operators(layer: LayerIR) -> None:
    """Raise :class:`LpgnasError` if the HLS backend has no implementation of one of ``layer``'s operators."""
    for kind, name, table in (
        ("attention", layer.attention, HLS_ATTENTIONS),
        ("aggregation", layer.aggregation, HLS_AGGREGATIONS),
        ("activation", layer.activation, HLS_ACTIVATIONS),
    ):
        if name not in table:
            raise LpgnasError(
                f"layer {layer.name!r}: the HLS backend has no implementation of {kind} {name!r} "
                f"(it implements {', '.join(sorted(table))}); add it to HLS_{kind.upper()}S in "
                "hls_templates/hls_writer.py and its macro to hls_templates/hls/operators.j2"
            )


def write_hls(ir: ModelIR, hw: HardwareConfig, out_dir: Path) -> list[Path]:
    """Render the HLS project of ``ir`` with parallelism ``hw`` into ``out_dir``; return the files written."""
    out = Path(out_dir)
    context = hls_context(ir, hw)
    env = make_env("hls")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    limits = {"int64_safe_bits": INT64_SAFE_BITS, "wide_safe_bits": WIDE_SAFE_BITS, "saturation_bits": SATURATION_BITS}
    for name in _HEADERS:
        path = out / name
        path.write_text(env.get_template(name).render(**limits))
        written.append(path)
    for name in _TEMPLATES:
        path = out / name
        path.write_text(env.get_template(f"{name}.j2").render(**context))
        written.append(path)
    return written


def hls_context(ir: ModelIR, hw: HardwareConfig) -> dict[str, Any]:
    """Everything the templates read: sizes, port types, and one dict per layer (see ``_layer_context``)."""
    hw.check(ir)
    layer_identifiers([layer.name for layer in ir.layers])
    max_deg = hw.max_nodes  # duplicates are merged, so no node has more in-edges than there are nodes
    sparse = _sparse_input_context(ir.layers[0], hw.layers[0], hw) if hw.layers[0].input == "sparse" else None
    layers = [
        _layer_context(layer, lhw, max_deg, last=i == len(ir.layers) - 1,
                       weight_copies=sparse["rom_copies"] if sparse and i == 0 else None)
        for i, (layer, lhw) in enumerate(zip(ir.layers, hw.layers, strict=True))
    ]
    # each layer's output buffer is read by the next transform P_IN words at a time
    for cur, nxt in zip(layers, layers[1:], strict=False):
        cur["y_partition"] = nxt["p_in"]
    offchip = offchip_buffers(ir, hw)
    _link_offchip(layers, offchip)
    widest = max((b["element_bits"] for b in offchip.values() if b["lanes"]), default=0)
    return {
        "model_name": ir.name,
        "top": TOP_NAME,
        "output_port": OUTPUT_PORT,
        "max_nodes": hw.max_nodes,
        "max_edges": hw.max_edges,
        "in_features": ir.in_features,
        "num_classes": ir.num_classes,
        "node_bits": _count_bits(hw.max_nodes),
        "edge_bits": _count_bits(hw.max_edges),
        "features_t": _ctype(ir.layers[0].formats["input"]),
        "outputs_t": _ctype(ir.layers[-1].formats["output"]),
        "layers": layers,
        "sparse": sparse,
        "offchip": offchip,
        "host_axi": [offchip[name] for name in host_buffers(ir, sparse is not None) if name in offchip],
        "scratch": [offchip[name] for name in internal_buffers(ir) if name in offchip],
        "lanes_types": [b for b in offchip.values() if b["lanes"]],
        # ap_int headers: elements wider than their default limit need AP_INT_MAX_W raised
        "ap_int_max_w": 1 << (widest - 1).bit_length() if widest > AP_INT_DEFAULT_MAX_W else None,
        "burst_beats": BURST_BEATS,
        "axi_addr_bits": AXI_ADDR_BITS,
        "in_groups": None if sparse else feature_groups(ir, hw),
        "part": full_part(hw.device),
        "clock_period_ns": round(1000.0 / hw.clock_mhz, 3),
    }


def offchip_buffers(ir: ModelIR, hw: HardwareConfig) -> dict[str, dict[str, Any]]:
    """The buffers of ``hw.offchip`` (names checked by ``HardwareConfig.check``), each with its element in
    external memory (docs/rtl.md "Off-chip buffers", docs/hls.md): ``depth`` elements of ``element_bits``
    bits (``bytes`` = ``hw_model.units.axi.element_bytes``, the stride). A word buffer (``lanes`` 0: graph CSR,
    coefficients, reciprocals, ``feat_ptr``, outputs) has one host word per element, type ``<name>_t``; a lanes
    buffer holds ``lanes`` codes of ``lane_bits`` bits per element (lane ``k`` in bits ``k*lane_bits ..``), type
    ``lp_lanes``: the dense features and ``feat_col``/``feat_val`` one group of layer 0's ``P_in`` (element
    ``n*IG + ig``, resp. ``g``), ``<layer>_lin`` one row of ``F_out`` (element ``n*heads + h``), ``buf_<k>`` one
    row of layer ``k``'s input (``buf_<L>``: the outputs; element ``n``)."""
    hw.check(ir)
    sparse_input = hw.layers[0].input == "sparse"
    host = host_buffers(ir, sparse_input)
    first, last = ir.layers[0], ir.layers[-1]
    p_in = hw.layers[0].p_in
    n = hw.max_nodes
    in_w, in_signed = _stored(first.formats["input"])
    words: dict[str, tuple[int, int]] = {  # word buffers: depth, bits (the port types of kernel.h)
        "row_ptr": (n + 1, _count_bits(hw.max_edges)), "col_idx": (hw.max_edges, _count_bits(n)),
        OUTPUT_PORT: (n * ir.num_classes, _stored(last.formats["output"])[0]),
    }
    lanes: dict[str, tuple[int, int, int, bool, str]] = {}  # lanes buffers: depth, lanes, lane bits, signed, kind
    if sparse_input:
        sp = _sparse_input_context(first, hw.layers[0], hw)
        words["feat_ptr"] = (n + 1, sp["ptr_bits"])
        lanes["feat_col"] = (sp["max_groups"], p_in, sp["col_bits"], False, "group")
        lanes["feat_val"] = (sp["max_groups"], p_in, in_w, in_signed, "group")
    else:
        lanes["features"] = (n * feature_groups(ir, hw), p_in, in_w, in_signed, "group")
    for k, layer in enumerate(ir.layers):
        fm = layer.formats
        if "coef" in fm and not ATTENTIONS[layer.attention].softmax:
            words[tensor_name(layer.name, "coef")] = (hw.max_edges, _stored(fm["coef"])[0])
        if "recip" in fm:
            words[tensor_name(layer.name, "recip")] = (n, _stored(fm["recip"])[0])
        lanes[tensor_name(layer.name, "lin")] = (n * layer.heads, layer.out_features, *_stored(fm["linear"]), "row")
        lanes[f"buf_{k + 1}"] = (n, layer.output_features, *_stored(fm["output"]), "row")
    out: dict[str, dict[str, Any]] = {}
    for name in hw.offchip:
        if name in words:
            depth, bits = words[name]
            info = {"lanes": 0, "lane_bits": bits, "signed": False, "kind": "word", "elem_t": f"{name}_t",
                    "element_bits": bits}
        else:
            depth, count, bits, signed, kind = lanes[name]
            info = {"lanes": count, "lane_bits": bits, "signed": signed, "kind": kind,
                    "elem_t": f"{name}_{kind}_t", "element_bits": count * bits}
            if info["element_bits"] > MAX_ELEMENT_BITS:
                raise LpgnasError(
                    f"hardware config: offchip buffer {name!r} has elements of {info['element_bits']} bits "
                    f"({count} x {bits}); the HLS kernel's off-chip elements hold at most {MAX_ELEMENT_BITS} bits "
                    "(ap_uint under Vitis HLS): keep it on chip, or narrow the layer / its formats"
                )
        out[name] = {"name": name, "depth": depth, "bytes": element_bytes(info["element_bits"]),
                     "scratch": name not in host, **info}
    return out


def feature_groups(ir: ModelIR, hw: HardwareConfig) -> int:
    """``IG``: groups of layer 0's ``P_in`` input features per node (``transform_params``, the RTL's number);
    dense features off chip are ``max_nodes * IG`` elements, node ``n``'s group ``ig`` at ``n*IG + ig``."""
    spec = spec_from_ir(ir.layers[0], hw.layers[0])
    return int(transform_params(spec, globals_for(hw.max_nodes, hw.max_edges), hw.max_nodes, direct=True)["IG"])


def _link_offchip(layers: list[dict[str, Any]], offchip: dict[str, dict[str, Any]]) -> None:
    """Per layer the off-chip buffers its units use (``None``: that buffer is on chip): ``lin_row_t`` (the element
    type of its linear buffer), ``x_off`` (its input: the features' groups for layer 0, ``buf_<k>``'s rows else),
    ``y_off`` (``buf_<k+1>``: the rows it writes); layer 0 also ``feat_ptr_off`` .. ``feat_val_off``."""
    for k, L in enumerate(layers):
        lin = offchip.get(tensor_name(L["name"], "lin"))
        x = offchip.get("features" if k == 0 else f"buf_{k}")
        y = offchip.get(f"buf_{k + 1}")
        L["lin_row_t"] = lin["elem_t"] if lin else None
        L["x_off"] = x
        L["y_off"] = y
    for name in SPARSE_FEATURES:  # the sparse transform reads feat_col / feat_val groups (feat_ptr: words)
        layers[0][f"{name}_off"] = offchip.get(name)


def _count_bits(count: int) -> int:
    """Width of an unsigned word holding ``0 .. count`` (node / edge indices and counts)."""
    return max(count.bit_length(), 1)


def _stored(fmt: NumFormat) -> tuple[int, bool]:
    """Stored width and signedness of a format's codes (the width of ``_ctype``)."""
    return int(stored_width(fmt.bits, int(fmt.signed))), bool(fmt.signed)


def _sparse_input_context(layer: LayerIR, lhw: LayerHW, hw: HardwareConfig) -> dict[str, Any]:
    """Layer 0's sparse input (:mod:`lpgnas.sparse`): the group capacity, the port widths and the weight ROM's
    copies (``transform_params``' sparse parameters, as the RTL gets them)."""
    groups = max_groups(hw.max_nonzeros, hw.max_nodes, lhw.p_in)
    p = transform_params(spec_from_ir(layer, lhw), globals_for(hw.max_nodes, hw.max_edges), hw.max_nodes,
                         direct=True, max_groups=groups)
    return {
        "max_groups": groups,
        "group_size": lhw.p_in,
        "ptr_bits": int(p["GW"]),  # feat_ptr[N] may equal max_groups
        "col_bits": int(p["CW"]),
        "rom_copies": int(p["ROM_COPIES"]),
        "rom_ports": SPARSE_ROM_PORTS,  # lane k reads copy k / rom_ports
        "weight_rom": _rom_type(min(lhw.p_in, SPARSE_ROM_PORTS)),
        "row_groups": int(row_groups(layer.in_features, lhw.p_in)),  # most groups of one row (a trip count)
    }


def _layer_context(
    layer: LayerIR, lhw: Any, max_deg: int, last: bool, weight_copies: int | None = None
) -> dict[str, Any]:
    """One layer's numbers; ``weight_copies``: layer 0 reads sparse input, its weights are that many ROMs."""
    check_operators(layer)
    fm = layer.formats
    for key in ("input", "linear", "aggregation", "output"):
        if fm[key].kind != "fix":  # the IR validates this; the re-quantiser below relies on it
            raise FormatError(f"layer {layer.name!r}: format {key} must be fix, got {fm[key]}")
    lin_bits, agg_bits = accumulator_bounds(layer, max_deg)
    for what, bits in (("transform", lin_bits), ("aggregation", agg_bits),
                       ("attention score", score_accumulator_bits(layer))):
        if bits > WIDE_SAFE_BITS:
            raise FormatError(
                f"layer {layer.name!r}: formats too wide for the generated C++: the {what} accumulator "
                f"needs {bits} bits ({_fmt_summary(layer)}; up to {max_deg} in-edges per node), the "
                f"hardware computes exactly up to {WIDE_SAFE_BITS} bits; narrow the formats (a bias binary "
                "point close to the accumulator's, fewer bits) or the graph capacity (max_nodes)"
            )
    w_fmt = fm["weight"]
    agg_frac = aggregation_frac(layer)
    head_mean = layer.heads > 1 and not layer.concat
    softmax = ATTENTIONS[layer.attention].softmax
    coef_port = "coef" in fm and not softmax  # gcn: precomputed on the host, one word per edge
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
        "mult": lhw.mult,
        "y_partition": 1,
        "lin_bits": lin_bits,
        "agg_bits": agg_bits,
        "in_t": _ctype(fm["input"]),
        "lin_t": _ctype(fm["linear"]),
        "out_t": _ctype(fm["output"]),
        "w_kind": w_fmt.kind,
        "w_t": "lp_uint<1>" if w_fmt.kind == "binary" else _ctype(w_fmt),
        "weight": _c_array(_weight_codes(layer.weight, w_fmt, weight_copies)),
        "weight_copies": weight_copies,
        "lin": _requant(linear_acc_frac(layer), fm["linear"]),
        "agg": _requant(agg_frac, fm["aggregation"]),
        "out": _requant(fm["aggregation"].frac, fm["output"]),
        "coef_t": _ctype(fm["coef"]) if coef_port else None,
        "recip_t": _ctype(fm["recip"]) if "recip" in fm else None,
        "head_recip": head_mean_reciprocal(layer.heads, HEAD_MEAN_FRAC) if head_mean else None,
        "bias": None,
        # operators: the operators.j2 macros that emit them
        "coef_macro": "coef_softmax" if softmax else HLS_ATTENTIONS[layer.attention],
        "reduce_macro": HLS_AGGREGATIONS[layer.aggregation],
        "act_macro": HLS_ACTIVATIONS[layer.activation],
        # max with averaged heads keeps one accumulator per head (the heads' maxima are summed)
        "per_head_acc": head_mean and layer.aggregation == "max",
        "agg_init": _max_init(agg_bits) if layer.aggregation == "max" else "0",
        "att": _attention_context(layer, lhw, max_deg) if softmax else None,
        "act": _activation_context(layer, lhw),
    }
    if layer.bias is not None:
        ctx["bias"] = _c_array(np.asarray(layer.bias, dtype=np.int64))
        ctx["bias_t"] = _ctype(fm["bias"])
        ctx["bias_shift"] = agg_frac - fm["bias"].frac
    return ctx


def _attention_context(layer: LayerIR, lhw: Any, max_deg: int) -> dict[str, Any]:
    """The attention unit of a GAT-family layer: node scores, edge scores, softmax (lpgnas.golden)."""
    fm = layer.formats
    att_fmt, score, exp, coef = fm["att_weight"], fm["score"], fm["exp"], fm["coef"]
    score_bits = score_accumulator_bits(layer)
    node = _NODE_SCORES[layer.attention]
    ti = table_index(score.frac)
    ctx: dict[str, Any] = {
        "kind": layer.attention,
        "score_macro": HLS_ATTENTIONS[layer.attention],
        "node": node,
        "acc_bits": score_bits,
        "att_t": _ctype(att_fmt),
        "score_t": _ctype(score),
        # per-edge scores: gat has one extra integer bit (a sum of two scores), sym-gat two
        "edge_t": f"lp_int<{score.bits + 2}>",
        "edge_min": -(1 << (score.bits + 1)),
        "exp_t": _ctype(exp),
        "coef_t": _ctype(coef),
        "recip_t": f"lp_uint<{SOFTMAX_RECIP_BITS}>",
        "recip_frac": SOFTMAX_RECIP_FRAC,
        "sum_bits": exp.bits + max(max_deg, 1).bit_length(),
        "tensors": [
            {"key": key, "init": _c_array(np.asarray(layer.attention_tensors[key], dtype=np.int64))}
            for key in ATTENTIONS[layer.attention].tensors
        ],
        "node_rq": _requant(fm["linear"].frac + att_fmt.frac, score),
        "cos_rq": _requant(2 * score.frac, score),
        "gene_rq": _requant(score.frac + att_fmt.frac, score),
        "leaky_code": ATTENTION_LEAKY_CODE,
        "leaky_frac": LEAKY_FRAC,
        "score_index": {"shift": ti.shift, "lo": ti.lo, "hi": ti.hi},
        # exp(d) for d = e - max <= 0 only: the table's entries lo..0
        "exp_table": _c_array(function_table("exp", score.frac, exp)[: -ti.lo + 1]),
        "exp_size": -ti.lo + 1,
        "recip_num2": 2 << (exp.frac + SOFTMAX_RECIP_FRAC),
        "num_bits": exp.frac + SOFTMAX_RECIP_FRAC + 2,  # 2^(Fe+17) + sum < 2^(Fe+18)
        "coef_rq": _requant(exp.frac + SOFTMAX_RECIP_FRAC, coef),
        "tanh_table": None,
        "tanh_rom": "rom_1p",
    }
    if ATTENTIONS[layer.attention].tanh_table:
        ctx["tanh_table"] = _c_array(function_table("tanh", score.frac, score))
        ctx["tanh_size"] = ti.size
        # gene-linear looks up one tanh per feature lane and cycle
        ctx["tanh_rom"] = _rom_type(lhw.p_agg if layer.attention == "gene-linear" else 1)
    return ctx


def _activation_context(layer: LayerIR, lhw: Any) -> dict[str, Any]:
    """Constants of the activation on aggregation codes (tables: lpgnas.tables.function_table)."""
    fmt = layer.formats["aggregation"]
    ti = table_index(fmt.frac)
    ctx: dict[str, Any] = {
        "kind": layer.activation,
        "table": None,
        "index": {"shift": ti.shift, "lo": ti.lo, "hi": ti.hi},
        "t": _ctype(fmt),
        "rom": _rom_type(lhw.p_agg),  # one lookup per feature lane in the finalise step
        "leaky_code": ACTIVATION_LEAKY_CODE,
        "leaky_frac": LEAKY_FRAC,
        "relu6_max": relu6_max_code(fmt),
    }
    function = ACTIVATIONS[layer.activation].table
    if function is not None:
        table = function_table(function, fmt.frac, fmt)
        if ACTIVATIONS[layer.activation].half_table:  # used for q < 0 only: entries lo..-1
            table = table[: -ti.lo]
            ctx["index"]["hi"] = -1
        ctx["table"] = _c_array(table)
        ctx["size"] = int(table.size)
    return ctx


def _max_init(agg_bits: int) -> str:
    """C initialiser of a ``max`` accumulator: below every product (two codes of <= 32 bits each: an int64)."""
    return f"{-(1 << (agg_bits - 1))}LL" if agg_bits <= 63 else "INT64_MIN"


def _rom_type(lookups_per_cycle: int) -> str:
    """Vitis HLS storage type of a table read ``lookups_per_cycle`` times per cycle."""
    return "rom_1p" if lookups_per_cycle <= 1 else "rom_2p" if lookups_per_cycle == 2 else "rom_np"


def _ctype(fmt: NumFormat) -> str:
    """Storage type of a format's codes (binary/ternary codes are stored as 2-bit signed)."""
    width, signed = _stored(fmt)
    return f"lp_int<{width}>" if signed else f"lp_uint<{width}>"


def _requant(frac_in: int, fmt: NumFormat) -> dict[str, int]:
    """Arguments of ``lp_requant`` taking an accumulator with ``frac_in`` to ``fmt``."""
    return {"shift": frac_in - fmt.frac, "qmin": fmt.qmin, "qmax": fmt.qmax}


def _weight_codes(weight: np.ndarray, fmt: NumFormat, copies: int | None = None) -> np.ndarray:
    """Binary weights are stored as one bit (1 -> +1, 0 -> -1), the others as their codes; ``copies``: that
    many identical copies along a new first axis."""
    w = np.asarray(weight, dtype=np.int64)
    w = (w > 0).astype(np.int64) if fmt.kind == "binary" else w
    return w if copies is None else np.broadcast_to(w, (copies, *w.shape))


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


def _fmt_summary(layer: LayerIR) -> str:
    return ", ".join(f"{k}={v}" for k, v in layer.formats.items())
