"""Verilog backend: IR + hardware config -> synthesizable Verilog-2005 of the accelerator (hls4ml style).

``write_rtl`` copies the module library (``hls_templates/rtl/lpg_*.v``: RAM, ROM, multiplier, dot
product, re-quantiser, transform unit, aggregation unit, host load/store), renders the generated top
level (``rtl/top.v.j2``) and writes the weight, bias and activation-table ROM images
(``<layer>_w.mem``, ``<layer>_b.mem``, ``<layer>_act.mem``, ``$readmemh`` format) beside them. Everything
the template needs is computed here, in :func:`rtl_context`: widths of every datapath stage (wide enough
never to overflow), binary-point shifts of every re-quantiser, memory shapes. docs/rtl.md describes the
microarchitecture.

The top level's interface is the one of the Vitis HLS kernel of ``hls_writer`` (``lpgnas_top``:
``ap_ctrl_hs``, ``ap_memory`` host buffers, ``num_nodes`` / ``num_edges``), so one testbench drives both.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lpgnas.hls_templates.env import TEMPLATE_ROOT, make_env
from lpgnas.hls_templates.rtl_attention import (
    ATTENTION_MUTATIONS,
    RTL_ATTENTIONS,
    attention_ideal_cycles,
    attention_images,
    attention_params,
    has_attention_unit,
    rom_file,
)

from lpgnas.errors import LpgnasError
from lpgnas.graph import head_mean_reciprocal
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import HEAD_MEAN_FRAC, LayerIR, ModelIR, aggregation_frac, linear_acc_frac
from lpgnas.names import identifier, layer_identifiers, tensor_name
from lpgnas.numfmt import NumFormat
from lpgnas.operators import ACTIVATIONS
from lpgnas.tables import ACTIVATION_LEAKY_CODE, LEAKY_FRAC, function_table, relu6_max_code, table_index

#: module name of the generated top level (the same as the HLS kernel's top function)
TOP_NAME = "lpgnas_top"
#: name of the output buffer / port (as in the HLS kernel)
OUTPUT_PORT = "outputs"
#: the module library, in dependency order
LIBRARY = (
    "lpg_ram.v", "lpg_rom.v", "lpg_mul.v", "lpg_dot.v", "lpg_requant.v",
    "lpg_store_rows.v", "lpg_transform.v", "lpg_table.v", "lpg_act.v", "lpg_aggregate.v",
)
#: test-only mutations of the generated RTL (the testbench must catch them)
MUTATIONS = ("no_round_offset", "csr_off_by_one", "no_input_mask", "max_as_add", "table_entry")
MULT_MAP = {"auto": 0, "logic": 0, "lut": 1, "dsp": 2}
#: the GAT-family attention unit (rtl_attention.py) and its mutations
LIBRARY = (*LIBRARY, "lpg_att_lut.v", "lpg_attention.v")
MUTATIONS = (*MUTATIONS, *ATTENTION_MUTATIONS)

#: aggregation -> the lpg_aggregate parameters that select its reducer and finaliser (``AGG_MAX``: the
#: element-wise maximum replaces the sum; ``HAS_RECIP``: the mean's reciprocal product)
RTL_AGGREGATIONS: dict[str, dict[str, int]] = {
    "add": {"AGG_MAX": 0, "HAS_RECIP": 0},
    "mean": {"AGG_MAX": 0, "HAS_RECIP": 1},
    "max": {"AGG_MAX": 1, "HAS_RECIP": 0},
}


@dataclass(frozen=True)
class RtlActivation:
    """How ``lpg_act`` computes an activation: ``act`` is its ``ACT`` code (the activation's position in
    ``lpgnas.operators.ACTIVATIONS``, as ``hw_model.params.ACT_CODE``), ``table`` the ``lpgnas.tables``
    function in the layer's table ROM (``<layer>_act.mem``), ``half``: the ROM holds only the entries of
    negative inputs (elu: ``x >= 0`` passes through)."""

    act: int
    table: str | None = None
    half: bool = False


RTL_ACTIVATIONS: dict[str, RtlActivation] = {
    "relu": RtlActivation(0),
    "identity": RtlActivation(1),
    "elu": RtlActivation(2, "elu", half=True),
    "tanh": RtlActivation(3, "tanh"),
    "sigmoid": RtlActivation(4, "sigmoid"),
    "leaky_relu": RtlActivation(5),
    "relu6": RtlActivation(6),
    "softplus": RtlActivation(7, "softplus"),
}
assert all(RTL_ACTIVATIONS[n].act == k and RTL_ACTIVATIONS[n].table == s.table for k, (n, s) in
           enumerate(ACTIVATIONS.items())), "RTL_ACTIVATIONS must follow lpgnas.operators.ACTIVATIONS"


def clog2(n: int) -> int:
    """Address bits for ``n`` words (at least 1)."""
    return max(1, (int(n) - 1).bit_length())


def _stored_width(fmt: NumFormat) -> int:
    """Width of a memory word / port holding codes of ``fmt`` (the width of its memory image)."""
    return max(fmt.bits, 2) if fmt.signed else fmt.bits


def _signed_width(fmt: NumFormat) -> int:
    """Width of the code as a signed operand (unsigned codes get a zero sign bit)."""
    return _stored_width(fmt) + (0 if fmt.signed else 1)


def _weight_encoding(fmt: NumFormat) -> tuple[int, int]:
    """(WKIND, stored width) of the weight codes: binary 1 bit, ternary 2 bits, fix as signed."""
    if fmt.kind == "binary":
        return 1, 1
    if fmt.kind == "ternary":
        return 2, 2
    return 0, _signed_width(fmt)


def _pack(values: list[int], width: int) -> int:
    """Concatenate two's complement ``values`` (element 0 in the low bits) into one word."""
    mask = (1 << width) - 1
    word = 0
    for k, v in enumerate(values):
        word |= (int(v) & mask) << (k * width)
    return word


def _write_words(path: Path, words: list[int], width: int) -> Path:
    digits = (width + 3) // 4
    path.write_text("".join(format(w, f"0{digits}x") + "\n" for w in words))
    return path


def weight_words(layer: LayerIR, lhw: LayerHW) -> tuple[list[int], int]:
    """Weight ROM words (h, og, ig order) and the word width; see lpg_transform.v for the layout."""
    wkind, ww = _weight_encoding(layer.formats["weight"])
    p_in, p_out = lhw.p_in, lhw.p_out
    ig_n, og_n = math.ceil(layer.in_features / p_in), math.ceil(layer.out_features / p_out)
    w = np.asarray(layer.weight, dtype=np.int64)
    if wkind == 1:
        w = (w > 0).astype(np.int64)  # binary code: 1 -> +1, 0 -> -1
    padded = np.zeros((layer.heads, ig_n * p_in, og_n * p_out), dtype=np.int64)
    padded[:, : layer.in_features, : layer.out_features] = w
    words = []
    for h in range(layer.heads):
        for og in range(og_n):
            for ig in range(ig_n):
                block = padded[h, ig * p_in:(ig + 1) * p_in, og * p_out:(og + 1) * p_out]  # (k, j)
                words.append(_pack(block.T.ravel().tolist(), ww))  # element j*P_IN + k
    return words, p_out * p_in * ww


def bias_words(layer: LayerIR, lhw: LayerHW) -> tuple[list[int], int]:
    """Bias ROM words (one per head (concat) and feature group of P_AGG lanes) and the word width."""
    assert layer.bias is not None
    bw = _signed_width(layer.formats["bias"])
    p_agg = lhw.p_agg
    fg_n = math.ceil(layer.out_features / p_agg)
    heads_out = layer.heads if layer.concat else 1
    b = np.asarray(layer.bias, dtype=np.int64).reshape(heads_out, layer.out_features)
    padded = np.zeros((heads_out, fg_n * p_agg), dtype=np.int64)
    padded[:, : layer.out_features] = b
    words = [_pack(padded[h, fg * p_agg:(fg + 1) * p_agg].tolist(), bw) for h in range(heads_out) for fg in range(fg_n)]
    return words, p_agg * bw


def activation_table(layer: LayerIR, mutation: str | None = None) -> tuple[list[int], int] | None:
    """The words of ``layer``'s activation table ROM (``lpgnas.tables.function_table`` on the aggregation
    format, element ``clamp(q >> shift, lo, hi) - lo``; elu: the negative half only) and the word width;
    None for activations without a table. ``table_entry`` (a test mutation) replaces the entry of input 0
    (elu: of the largest negative input) by the format's code farthest from it."""
    spec = RTL_ACTIVATIONS[layer.activation]
    if spec.table is None:
        return None
    fmt = layer.formats["aggregation"]
    codes = [int(c) for c in function_table(spec.table, fmt.frac, fmt)]
    if spec.half:
        codes = codes[: len(codes) // 2]
    if mutation == "table_entry":
        k = len(codes) - 1 if spec.half else len(codes) // 2
        codes[k] = fmt.qmax if 2 * codes[k] < fmt.qmin + fmt.qmax else fmt.qmin
    width = _stored_width(fmt)
    return [c & ((1 << width) - 1) for c in codes], width


def _activation_params(layer: LayerIR, ident: str) -> dict[str, Any]:
    """lpg_act's parameters of ``layer`` (through lpg_aggregate)."""
    fagg = layer.formats["aggregation"]
    spec = RTL_ACTIVATIONS[layer.activation]
    tshift, thb, td = 0, 0, 1
    if spec.table is not None:
        ti = table_index(fagg.frac)
        thb = (-ti.lo).bit_length() - 1
        assert -ti.lo == 1 << thb, ti  # tables span +-2^thb index steps
        tshift, td = ti.shift, ti.size // 2 if spec.half else ti.size
    return {
        "ACT": spec.act, "LEAKY": ACTIVATION_LEAKY_CODE, "LEAKY_FRAC": LEAKY_FRAC, "R6MAX": relu6_max_code(fagg),
        "TSHIFT": tshift, "THB": thb, "TD": td, "TABLE_FILE": rom_file(ident, "act"),
    }


def _acoef_context(layer: LayerIR, ident: str, hw: HardwareConfig, g: dict[str, int], hwb: int) -> dict[str, Any]:
    """Shape and read address of the attention unit's coefficient RAM (word e*heads + h)."""
    caw = clog2(hw.max_edges * layer.heads)

    def pad(sig: str, w: int) -> str:
        return sig if w == caw else "{{" + str(caw - w) + "{1'b0}}, " + sig + "}"

    addr = pad(f"{ident}_coef_address", g["ew_addr"])
    if layer.heads > 1:
        addr = f"{addr} * {caw}'d{layer.heads} + {pad(f'{ident}_coef_head', hwb)}"
    return {"caw": caw, "acoef_depth": hw.max_edges * layer.heads, "acoef_raddr": addr}


def _layer_context(
    layer: LayerIR, lhw: LayerHW, index: int, hw: HardwareConfig, g: dict[str, int], mutation: str | None
) -> dict[str, Any]:
    fm = layer.formats
    ident = identifier(layer.name)
    rnd = 0 if mutation == "no_round_offset" else 1
    heads = layer.heads
    hwb = clog2(heads)
    head_mean = heads > 1 and not layer.concat
    heads_out = heads if layer.concat else 1

    # transform unit
    fin, flin = fm["input"], fm["linear"]
    wkind, ww = _weight_encoding(fm["weight"])
    xsw = _signed_width(fin)
    pw = xsw + ww if wkind == 0 else xsw + 1
    ig_n = math.ceil(layer.in_features / lhw.p_in)
    og_n = math.ceil(layer.out_features / lhw.p_out)
    sw = pw + math.ceil(math.log2(lhw.p_in))
    acc_w = pw + math.ceil(math.log2(ig_n * lhw.p_in)) + 1
    mult = lhw.mult if wkind == 0 else "logic"
    law = g["nw"] + hwb
    t_params = {
        "NW": g["nw"], "XW": _stored_width(fin), "X_SIGNED": int(fin.signed),
        "F_IN": layer.in_features, "P_IN": lhw.p_in, "IG": ig_n,
        "F_OUT": layer.out_features, "P_OUT": lhw.p_out, "OG": og_n, "HEADS": heads,
        "WW": ww, "WKIND": wkind, "MULT_MAP": MULT_MAP[mult], "SW": sw, "ACC_W": acc_w,
        "SHIFT": linear_acc_frac(layer) - flin.frac, "LW": _stored_width(flin), "L_SIGNED": int(flin.signed),
        "ROUND": rnd, "LAW": law, "WAW": clog2(heads * og_n * ig_n),
        # layer 0 reads the host's features through P_in banked ports (address n*IG + ig), the others buf_k
        "DIRECT": int(index == 0), "HAW": clog2(hw.max_nodes * ig_n) if index == 0 else 1,
        "MASK_MUT": int(mutation == "no_input_mask" and index == 0),
        "WEIGHT_FILE": rom_file(ident, "w"),
    }

    # aggregation unit
    p_agg = lhw.p_agg
    fg_n = math.ceil(layer.out_features / p_agg)
    lsw = _signed_width(flin)
    has_coef, has_recip, has_bias = "coef" in fm, "recip" in fm, layer.bias is not None
    agg_sel = RTL_AGGREGATIONS[layer.aggregation]
    assert agg_sel["HAS_RECIP"] == int(has_recip), layer.aggregation
    cw = _stored_width(fm["coef"]) if has_coef else 2
    rw = _stored_width(fm["recip"]) if has_recip else 2
    prw = lsw + (_signed_width(fm["coef"]) if has_coef else 0)
    agg_acc = prw + math.ceil(math.log2(max(hw.max_nodes, 2))) + (math.ceil(math.log2(heads)) if head_mean else 0) + 1
    m_w = agg_acc + (_signed_width(fm["recip"]) if has_recip else 0)
    headrec = head_mean_reciprocal(heads, HEAD_MEAN_FRAC) if head_mean else 0
    hrw = headrec.bit_length() + 1
    acc_frac = aggregation_frac(layer)
    bw = _signed_width(fm["bias"]) if has_bias else 2
    bias_shift = acc_frac - fm["bias"].frac if has_bias else 0
    v_w = max(m_w + (hrw if head_mean else 0), bw + bias_shift) + 2
    fagg, fout = fm["aggregation"], fm["output"]
    a_params = {
        "NW": g["nw"], "EW": g["ew"], "EAW": g["ew_addr"], "RAW": g["recip_aw"], "CIW": g["ciw"], "LAW": law,
        "LW": _stored_width(flin), "L_SIGNED": int(flin.signed),
        "F_OUT": layer.out_features, "P_AGG": p_agg, "FG": fg_n, "HEADS": heads, "CONCAT": int(layer.concat),
        "HAS_COEF": int(has_coef), "CW": cw, "C_SIGNED": int(fm["coef"].signed) if has_coef else 0,
        "HAS_RECIP": int(has_recip), "RW": rw, "R_SIGNED": int(fm["recip"].signed) if has_recip else 0,
        "HEAD_MEAN": int(head_mean), "HEADREC": headrec,
        "HAS_BIAS": int(has_bias), "BW": bw, "BIAS_SHIFT": bias_shift,
        "BIAS_FILE": rom_file(ident, "b"),
        "PRW": prw, "ACC_W": agg_acc, "M_W": m_w, "V_W": v_w,
        "AGG_SHIFT": acc_frac - fagg.frac, "AGG_W": _stored_width(fagg), "AGG_SIGNED": int(fagg.signed),
        "AGG_MAX": 0 if mutation == "max_as_add" else agg_sel["AGG_MAX"],
        "RELU": int(layer.activation == "relu"),
        **_activation_params(layer, ident),
        "OUT_SHIFT": fagg.frac - fout.frac, "OW": _stored_width(fout), "O_SIGNED": int(fout.signed),
        "ROUND": rnd, "CSR_MUT": int(mutation == "csr_off_by_one"),
    }
    summary = (
        f"{layer.in_features}->{heads}x{layer.out_features}, {layer.attention}/{layer.aggregation}/{layer.activation}, "
        f"w {fm['weight']}, P_in={lhw.p_in} P_out={lhw.p_out} P_agg={p_agg}"
    )
    return {
        "index": index, "name": layer.name, "id": ident, "summary": summary,
        "t_params": list(t_params.items()), "a_params": list(a_params.items()),
        "t_step": 2 * index, "a_step": 2 * index + 1, "p_in": lhw.p_in, "ig": ig_n,
        "law": law, "lin_width": layer.out_features * _stored_width(flin), "lin_depth": hw.max_nodes * heads,
        "raw": g["recip_aw"], "has_coef": RTL_ATTENTIONS[layer.attention]["coef"] == "host",
        "has_recip": has_recip,
        "coef_q": (f"{ident}_acoef_q" if has_attention_unit(layer) else f"{tensor_name(ident, 'coef')}_q0" if has_coef
                   else f"{{{cw}{{1'b0}}}}"),
        # the attention unit (GAT family): its parameters, the coefficient RAM's shape
        "attention": has_attention_unit(layer), "heads": heads, "hwb": hwb,
        "att_params": list(attention_params(layer, ident, hw.max_nodes, hw.max_edges, g, law, mutation).items())
        if has_attention_unit(layer) else [],
        **_acoef_context(layer, ident, hw, g, hwb),
        "recip_q": f"{tensor_name(ident, 'recip')}_q0" if has_recip else f"{{{rw}{{1'b0}}}}",
        "coef_w": cw, "recip_w": rw, "out_width": heads_out * layer.out_features * _stored_width(fout),
    }


def rtl_context(ir: ModelIR, hw: HardwareConfig, mutation: str | None = None) -> dict[str, Any]:
    """Everything top.v.j2 reads."""
    hw.check(ir)
    if mutation is not None and mutation not in MUTATIONS:
        raise LpgnasError(f"unknown RTL mutation {mutation!r}; known: {', '.join(MUTATIONS)}")
    layer_identifiers([layer.name for layer in ir.layers])
    g = {
        "nw": max(hw.max_nodes.bit_length(), 1),          # num_nodes, node addresses, row_ptr addresses
        "ew": max(hw.max_edges.bit_length(), 1),          # num_edges, row_ptr words
        "ew_addr": clog2(hw.max_edges),                   # col_idx / coef addresses
        "ciw": max(hw.max_nodes.bit_length(), 1),         # col_idx words
        "recip_aw": clog2(hw.max_nodes),
    }
    layers = [_layer_context(la, lhw, i, hw, g, mutation)
              for i, (la, lhw) in enumerate(zip(ir.layers, hw.layers, strict=True))]
    fin0, fout = ir.layers[0].formats["input"], ir.layers[-1].formats["output"]
    features_w, outputs_w = _stored_width(fin0), _stored_width(fout)
    # features: an interface array partitioned cyclic by layer 0's P_in (Vitis HLS style): bank k holds
    # element (n, ig*P_in + k) at address n*IG + ig, IG = ceil(F_in/P_in); layer 0's transform reads them
    p_in0, ig0 = layers[0]["p_in"], layers[0]["ig"]
    features_aw, outputs_aw = clog2(hw.max_nodes * ig0), clog2(hw.max_nodes * ir.num_classes)
    ports = []
    for k in range(p_in0):
        ports += [{"dir": "output", "name": f"features_{k}_address0", "width": features_aw},
                  {"dir": "output", "name": f"features_{k}_ce0", "width": 1},
                  {"dir": "input ", "name": f"features_{k}_q0", "width": features_w}]
    ports += [
        {"dir": "output", "name": "row_ptr_address0", "width": g["nw"]},
        {"dir": "output", "name": "row_ptr_ce0", "width": 1},
        {"dir": "input ", "name": "row_ptr_q0", "width": g["ew"]},
        {"dir": "output", "name": "col_idx_address0", "width": g["ew_addr"]},
        {"dir": "output", "name": "col_idx_ce0", "width": 1},
        {"dir": "input ", "name": "col_idx_q0", "width": g["ciw"]},
    ]
    for L in layers:
        # host-loaded tensors: port prefix = memory image name (lpgnas.names.tensor_name, as images.py)
        for tensor, aw, width in (("coef", g["ew_addr"], L["coef_w"]), ("recip", g["recip_aw"], L["recip_w"])):
            if L[f"has_{tensor}"]:
                port = tensor_name(L["id"], tensor)
                ports += [{"dir": "output", "name": f"{port}_address0", "width": aw},
                          {"dir": "output", "name": f"{port}_ce0", "width": 1},
                          {"dir": "input ", "name": f"{port}_q0", "width": width}]
    ports += [{"dir": "output", "name": f"{OUTPUT_PORT}_address0", "width": outputs_aw},
              {"dir": "output", "name": f"{OUTPUT_PORT}_d0", "width": outputs_w}]
    buffers = [{"name": f"buf_{L['index'] + 1}", "width": L["out_width"]} for L in layers]
    steps = []
    for L in layers:  # per layer: transform, attention (GAT family), aggregate
        L["t_step"] = len(steps)
        steps.append(f"{L['id']}_transform")
        if L["attention"]:
            L["att_step"] = len(steps)
            steps.append(f"{L['id']}_attention")
        L["a_step"] = len(steps)
        steps.append(f"{L['id']}_aggregate")
    steps.append("store")
    # units that drive the shared CSR ports (row_ptr, col_idx), by step
    csr_users = [u for L in layers for u in ([(L["att_step"], f"{L['id']}_att")] if L["attention"] else [])
                 + [(L["a_step"], L["id"])]]
    return {
        "top": TOP_NAME, "model_name": ir.name, "output_port": OUTPUT_PORT,
        "max_nodes": hw.max_nodes, "max_edges": hw.max_edges,
        "in_features": ir.in_features, "num_classes": ir.num_classes,
        "nw": g["nw"], "ew": g["ew"], "ew_addr": g["ew_addr"],
        "features_w": features_w, "features_aw": features_aw, "features_banks": p_in0, "features_ig": ig0,
        "outputs_w": outputs_w, "outputs_aw": outputs_aw,
        "ports": ports, "buffers": buffers, "layers": layers, "steps": steps, "csr_users": csr_users,
    }


def write_rtl(ir: ModelIR, hw: HardwareConfig, out_dir: Path, *, mutation: str | None = None) -> list[Path]:
    """Write the Verilog of ``ir`` with parallelism ``hw`` into ``out_dir``; return the files written.

    ``mutation`` (tests only) plants a known bug (:data:`MUTATIONS`) that verification must detect.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = rtl_context(ir, hw, mutation)
    written = [Path(shutil.copyfile(TEMPLATE_ROOT / "rtl" / name, out / name)) for name in LIBRARY]
    top = out / f"{TOP_NAME}.v"
    top.write_text(make_env("rtl").get_template("top.v.j2").render(**ctx))
    written.append(top)
    for L, layer, lhw in zip(ctx["layers"], ir.layers, hw.layers, strict=True):
        words, width = weight_words(layer, lhw)
        written.append(_write_words(out / f"{tensor_name(L['id'], 'w')}.mem", words, width))
        if layer.bias is not None:
            words, width = bias_words(layer, lhw)
            written.append(_write_words(out / f"{tensor_name(L['id'], 'b')}.mem", words, width))
        if L["attention"]:
            for suffix, (words, width) in attention_images(layer, mutation).items():
                written.append(_write_words(out / f"{tensor_name(L['id'], suffix)}.mem", words, width))
        table = activation_table(layer, mutation)
        if table is not None:
            written.append(_write_words(out / f"{tensor_name(L['id'], 'act')}.mem", *table))
    manifest = {
        "top": TOP_NAME,
        "sources": [*LIBRARY, top.name],
        "ports": [
            {"name": "num_nodes", "dir": "input", "width": ctx["nw"]},
            {"name": "num_edges", "dir": "input", "width": ctx["ew"]},
            *({"name": p["name"], "dir": p["dir"].strip(), "width": p["width"]} for p in ctx["ports"]),
            {"name": f"{OUTPUT_PORT}_ce0", "dir": "output", "width": 1},
            {"name": f"{OUTPUT_PORT}_we0", "dir": "output", "width": 1},
        ],
        "steps": ctx["steps"],
        # host arrays split into banks: bank k of <name> is ports <name>_<k>_*, element (n, ig*banks + k) of
        # the flat row-major image (row length row) at address n*groups + ig; padding beyond row reads as zero
        "banked": {"features": {"banks": ctx["features_banks"], "groups": ctx["features_ig"],
                                "row": ctx["in_features"],
                                "flat_aw": clog2(hw.max_nodes * ctx["in_features"])}},
        "mutation": mutation,
    }
    (out / "rtl.json").write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n")
    written.append(out / "rtl.json")
    return written


def ideal_cycles(ir: ModelIR, hw: HardwareConfig, num_nodes: int, num_edges: int) -> dict[str, int]:
    """Cycle counts of docs/rtl.md's formulas per unit (no pipeline fill) and their sum.

    ``transform``: N * heads * ceil(F_in/P_in) * ceil(F_out/P_out) (layer 0 reads the host's features
    directly, there is no load step); ``aggregate``: (E * heads + N * heads_out) * ceil(F_out/P_agg), E
    counting self-loops; ``store``: one element per cycle.
    """
    n, e = num_nodes, num_edges
    out: dict[str, int] = {}
    for layer, lhw in zip(ir.layers, hw.layers, strict=True):
        ident = identifier(layer.name)
        ig_n, og_n = math.ceil(layer.in_features / lhw.p_in), math.ceil(layer.out_features / lhw.p_out)
        fg_n = math.ceil(layer.out_features / lhw.p_agg)
        heads_out = layer.heads if layer.concat else 1
        out[f"{ident}_transform"] = n * layer.heads * ig_n * og_n
        if has_attention_unit(layer):
            out[f"{ident}_attention"] = attention_ideal_cycles(layer, n, e)
        out[f"{ident}_aggregate"] = (e * layer.heads + n * heads_out) * fg_n
    out["store"] = n * ir.num_classes
    out["total"] = sum(out.values())
    return out
