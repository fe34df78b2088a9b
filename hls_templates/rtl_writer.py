"""Verilog backend: IR + hardware config -> synthesizable Verilog-2005 of the accelerator (hls4ml style).

``write_rtl`` copies the module library (``hls_templates/rtl/lpg_*.v``: RAM, ROM, multiplier, dot product,
re-quantiser, transform unit (dense, and layer 0's sparse read), aggregation unit, host load/store), renders
the generated top level (``rtl/top.v.j2``) and writes the weight, bias and activation-table ROM images
(``<layer>_w.mem``, ``<layer>_b.mem``, ``<layer>_act.mem``, ``$readmemh`` format) beside them. Everything
the template needs is computed here, in :func:`rtl_context`: widths of every datapath stage (wide enough
never to overflow), binary-point shifts of every re-quantiser, memory shapes. docs/rtl.md describes the
microarchitecture.

The top level's interface is the one of the Vitis HLS kernel of ``hls_writer`` (``lpgnas_top``:
``ap_ctrl_hs``, ``ap_memory`` host buffers, ``num_nodes`` / ``num_edges``), so one testbench drives both,
plus ``ap_ce``, the block-level clock enable of Vitis HLS (``config_interface -clock_enable``): with it low
no register of the design changes (the off-chip buffers' adapters will stall the design the same way).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lpgnas.errors import LpgnasError
from lpgnas.hls_templates.env import OUTPUT_PORT, TEMPLATE_ROOT, TOP_NAME, make_env
from lpgnas.hls_templates.rtl_attention import (
    ATTENTION_MUTATIONS,
    as_ints,
    attention_ideal_cycles,
    attention_images,
    has_attention_unit,
    insert_after,
    rom_file,
    rtl_attention_params,
)
from lpgnas.hw_model.model import graph_rows
from lpgnas.hw_model.offchip import adapter_params, design_shapes
from lpgnas.hw_model.params import (
    WKIND,
    address_bits,
    globals_for,
    signed_width,
    spec_from_ir,
    stored_width,
    weight_width,
)
from lpgnas.hw_model.units.aggregate import aggregate_params, follow_steps
from lpgnas.hw_model.units.aggregate import row_steps as aggregate_row_steps
from lpgnas.hw_model.units.io import store_row_steps
from lpgnas.hw_model.units.transform import row_steps as transform_row_steps
from lpgnas.hw_model.units.transform import transform_params
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import LayerIR, ModelIR
from lpgnas.names import identifier, layer_identifiers, tensor_name
from lpgnas.numfmt import NumFormat
from lpgnas.operators import ACTIVATIONS
from lpgnas.sparse import max_groups
from lpgnas.tables import function_table

#: the module library, in dependency order
LIBRARY = (
    "lpg_ram.v", "lpg_rom.v", "lpg_rom2.v", "lpg_mul.v", "lpg_dot.v", "lpg_requant.v",
    "lpg_store_rows.v", "lpg_transform.v", "lpg_sparse_transform.v", "lpg_table.v", "lpg_act.v", "lpg_aggregate.v",
)
#: test-only mutations of the generated RTL (the testbench must catch them); ``follow_early``: the units that
#: follow an aggregation's rows see one row more than it has written; ``stall_leak``: the aggregation units'
#: accumulator rings ignore the clock enable ce (they move in stalled cycles too: only a stalled run shows it)
MUTATIONS = ("no_round_offset", "csr_off_by_one", "no_input_mask", "max_as_add", "table_entry", "follow_early",
             "stall_leak")
#: the sparse read's (lpg_sparse_transform's SPARSE_MUT): the walker skips each row's last group; every
#: column reads the weight row after its own
SPARSE_MUTATIONS = {"sparse_group_skip": 1, "sparse_col_off_by_one": 2}
#: test-only mutations of the off-chip read adapters (lpg_axi_rd's MUT): a dropped R beat, a repeated R beat, the
#: tile window's front edge one word too far
AXI_MUTATIONS = {"axi_drop_beat": 1, "axi_repeat_beat": 2, "axi_tile_edge": 3}
#: AXI4 channel signals of an adapter (name, direction seen from the top, width or a DW-relative key)
AXI_READ_PORTS = (
    ("arvalid", "output", 1), ("arready", "input ", 1), ("araddr", "output", "MAW"), ("arlen", "output", 8),
    ("arsize", "output", 3), ("arburst", "output", 2), ("arid", "output", 1), ("arlock", "output", 1),
    ("arcache", "output", 4), ("arprot", "output", 3), ("arqos", "output", 4),
    ("rvalid", "input ", 1), ("rready", "output", 1), ("rdata", "input ", "DW"), ("rresp", "input ", 2),
    ("rlast", "input ", 1), ("rid", "input ", 1),
)
AXI_WRITE_PORTS = (
    ("awvalid", "output", 1), ("awready", "input ", 1), ("awaddr", "output", "MAW"), ("awlen", "output", 8),
    ("awsize", "output", 3), ("awburst", "output", 2), ("awid", "output", 1), ("awlock", "output", 1),
    ("awcache", "output", 4), ("awprot", "output", 3), ("awqos", "output", 4),
    ("wvalid", "output", 1), ("wready", "input ", 1), ("wdata", "output", "DW"), ("wstrb", "output", "DW/8"),
    ("wlast", "output", 1), ("bvalid", "input ", 1), ("bready", "output", 1), ("bresp", "input ", 2),
    ("bid", "input ", 1),
)
#: transform_params' entries of the dense read only (lpg_sparse_transform has no such parameter)
DENSE_READ_PARAMS = ("IG", "DIRECT", "HAW", "MASK_MUT", "SPARSE")
#: the GAT-family attention unit (rtl_attention.py) and its mutations
LIBRARY = (*LIBRARY, "lpg_att_lut.v", "lpg_attention.v")
#: the off-chip buffers' AXI4 adapters (docs/rtl.md "Off-chip buffers")
LIBRARY = (*LIBRARY, "lpg_axi_rd.v", "lpg_axi_wr.v")
MUTATIONS = (*MUTATIONS, *ATTENTION_MUTATIONS, *SPARSE_MUTATIONS, *AXI_MUTATIONS)
#: names of the sparse input's host arrays (images.feature_images writes their images)
FEAT_PTR, FEAT_COL, FEAT_VAL = "feat_ptr", "feat_col", "feat_val"

def _weight_encoding(fmt: NumFormat) -> tuple[int, int]:
    """(WKIND, stored width) of the weight codes: binary 1 bit, ternary 2 bits, fix as signed."""
    wkind = WKIND[fmt.kind]
    return wkind, int(weight_width(wkind, fmt.bits, fmt.signed))


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


def sparse_weight_words(layer: LayerIR, lhw: LayerHW) -> tuple[list[int], int]:
    """Weight ROM words of a sparse layer 0 ((h, og, input row) order: word (h*OG + og)*F_in + c holds
    W[h][c][og*P_out + j] as element j, zero beyond F_out; see lpg_sparse_transform.v) and the word width."""
    wkind, ww = _weight_encoding(layer.formats["weight"])
    p_out = lhw.p_out
    og_n = math.ceil(layer.out_features / p_out)
    w = np.asarray(layer.weight, dtype=np.int64)
    if wkind == 1:
        w = (w > 0).astype(np.int64)  # binary code: 1 -> +1, 0 -> -1
    padded = np.zeros((layer.heads, layer.in_features, og_n * p_out), dtype=np.int64)
    padded[:, :, : layer.out_features] = w
    words = [_pack(padded[h, c, og * p_out:(og + 1) * p_out].tolist(), ww)
             for h in range(layer.heads) for og in range(og_n) for c in range(layer.in_features)]
    return words, p_out * ww


def is_sparse_input(hw: HardwareConfig) -> bool:
    """Layer 0 reads the grouped CSR of the input features (``LayerHW.input == "sparse"``)."""
    return bool(hw.layers) and hw.layers[0].input == "sparse"


def sparse_max_groups(hw: HardwareConfig) -> int:
    """The feature groups a sparse layer 0 has room for (:func:`lpgnas.sparse.max_groups` of the capacity)."""
    return max_groups(hw.max_nonzeros, hw.max_nodes, hw.layers[0].p_in)


def bias_words(layer: LayerIR, lhw: LayerHW) -> tuple[list[int], int]:
    """Bias ROM words (one per head (concat) and feature group of P_AGG lanes) and the word width."""
    assert layer.bias is not None
    bw = signed_width(layer.formats["bias"].bits, layer.formats["bias"].signed)
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
    spec = ACTIVATIONS[layer.activation]
    if spec.table is None:
        return None
    fmt = layer.formats["aggregation"]
    codes = [int(c) for c in function_table(spec.table, fmt.frac, fmt)]
    if spec.half_table:
        codes = codes[: len(codes) // 2]
    if mutation == "table_entry":
        k = len(codes) - 1 if spec.half_table else len(codes) // 2
        codes[k] = fmt.qmax if 2 * codes[k] < fmt.qmin + fmt.qmax else fmt.qmin
    width = stored_width(fmt.bits, fmt.signed)
    return [c & ((1 << width) - 1) for c in codes], width


def _acoef_context(att_params: dict[str, Any], ident: str, g: dict[str, int], hwb: int) -> dict[str, Any]:
    """Shape and read address of the attention unit's coefficient RAM (word e*heads + h)."""
    caw, heads = att_params["CAW"], att_params["HEADS"]

    def pad(sig: str, w: int) -> str:
        return sig if w == caw else "{{" + str(caw - w) + "{1'b0}}, " + sig + "}"

    addr = pad(f"{ident}_coef_address", g["ew_addr"])
    if heads > 1:
        addr = f"{addr} * {caw}'d{heads} + {pad(f'{ident}_coef_head', hwb)}"
    return {"caw": caw, "acoef_depth": att_params["EDGE_D"] * heads, "acoef_raddr": addr}


def _layer_context(
    layer: LayerIR, lhw: LayerHW, index: int, hw: HardwareConfig, g: dict[str, int], mutation: str | None
) -> dict[str, Any]:
    fm = layer.formats
    ident = identifier(layer.name)
    rnd = 0 if mutation == "no_round_offset" else 1
    heads = layer.heads
    hwb = address_bits(heads)
    heads_out = heads if layer.concat else 1
    spec = spec_from_ir(layer, lhw)
    sparse = index == 0 and is_sparse_input(hw)
    t_params: dict[str, Any] = as_ints(transform_params(
        spec, g, hw.max_nodes, direct=index == 0, max_groups=sparse_max_groups(hw) if sparse else None))
    ig_n = t_params["IG"]
    t_params = insert_after(t_params, "L_SIGNED", {"ROUND": rnd})
    if sparse:
        t_params = {k: v for k, v in t_params.items() if k not in DENSE_READ_PARAMS}
        t_params.update(SPARSE_MUT=SPARSE_MUTATIONS.get(mutation or "", 0), WEIGHT_FILE=rom_file(ident, "w"))
    else:
        t_params.update(MASK_MUT=int(mutation == "no_input_mask" and index == 0), WEIGHT_FILE=rom_file(ident, "w"))
    a_params: dict[str, Any] = as_ints(aggregate_params(spec, g, hw.max_nodes))
    a_params = insert_after(a_params, "BIAS_SHIFT", {"BIAS_FILE": rom_file(ident, "b")})
    a_params = insert_after(a_params, "TD", {"TABLE_FILE": rom_file(ident, "act")})
    a_params.update(ROUND=rnd, CSR_MUT=int(mutation == "csr_off_by_one"), STALL_MUT=int(mutation == "stall_leak"))
    if mutation == "max_as_add":
        a_params["AGG_MAX"] = 0
    att_params = (rtl_attention_params(layer, spec, ident, hw.max_nodes, hw.max_edges, g, mutation)
                  if has_attention_unit(layer) else {})
    law, p_agg = t_params["LAW"], lhw.p_agg
    has_recip = "recip" in fm
    cw, rw = a_params["CW"], a_params["RW"]
    summary = (
        f"{layer.in_features}->{heads}x{layer.out_features}, {layer.attention}/{layer.aggregation}/{layer.activation}, "
        f"w {fm['weight']}, P_in={lhw.p_in} P_out={lhw.p_out} P_agg={p_agg}"
    )
    return {
        "index": index, "name": layer.name, "id": ident, "summary": summary,
        "t_params": list(t_params.items()), "a_params": list(a_params.items()),
        "sparse": sparse, "t_module": "lpg_sparse_transform" if sparse else "lpg_transform",
        "t_step": 2 * index, "a_step": 2 * index + 1, "p_in": lhw.p_in, "ig": ig_n,
        "law": law, "lin_width": layer.out_features * t_params["LW"], "lin_depth": hw.max_nodes * heads,
        "raw": g["recip_aw"], "has_coef": "coef" in fm and not has_attention_unit(layer),
        "has_recip": has_recip,
        "coef_q": (f"{ident}_acoef_q" if has_attention_unit(layer) else f"{tensor_name(ident, 'coef')}_q0"
                   if "coef" in fm else f"{{{cw}{{1'b0}}}}"),
        # the attention unit (GAT family): its parameters, the coefficient RAM's shape
        "attention": has_attention_unit(layer), "heads": heads, "hwb": hwb,
        "att_params": list(att_params.items()),
        **(_acoef_context(att_params, ident, g, hwb) if att_params else {}),
        "recip_q": f"{tensor_name(ident, 'recip')}_q0" if has_recip else f"{{{rw}{{1'b0}}}}",
        "coef_w": cw, "recip_w": rw, "out_width": heads_out * layer.out_features * a_params["OW"],
    }


def rtl_context(ir: ModelIR, hw: HardwareConfig, mutation: str | None = None) -> dict[str, Any]:
    """Everything top.v.j2 reads."""
    hw.check(ir)
    if mutation is not None and mutation not in MUTATIONS:
        raise LpgnasError(f"unknown RTL mutation {mutation!r}; known: {', '.join(MUTATIONS)}")
    layer_identifiers([layer.name for layer in ir.layers])
    g = globals_for(hw.max_nodes, hw.max_edges)
    layers = [_layer_context(la, lhw, i, hw, g, mutation)
              for i, (la, lhw) in enumerate(zip(ir.layers, hw.layers, strict=True))]
    fin0, fout = ir.layers[0].formats["input"], ir.layers[-1].formats["output"]
    features_w, outputs_w = stored_width(fin0.bits, fin0.signed), stored_width(fout.bits, fout.signed)
    # features: an interface array partitioned cyclic by layer 0's P_in (Vitis HLS style): bank k holds
    # element (n, ig*P_in + k) at address n*IG + ig, IG = ceil(F_in/P_in); layer 0's transform reads them
    # sparse: feat_ptr (one port) and feat_col / feat_val as P_in banks, bank k holding entry k of group g at g
    p_in0, ig0 = layers[0]["p_in"], layers[0]["ig"]
    sparse = is_sparse_input(hw)
    t0 = dict(layers[0]["t_params"])
    features_aw = t0["GAW"] if sparse else address_bits(hw.max_nodes * ig0)
    outputs_aw = address_bits(hw.max_nodes * ir.num_classes)
    banks = [(FEAT_COL, t0["CW"]), (FEAT_VAL, features_w)] if sparse else [("features", features_w)]
    ports = []
    if sparse:
        ports += [{"dir": "output", "name": f"{FEAT_PTR}_address0", "width": g["nw"]},
                  {"dir": "output", "name": f"{FEAT_PTR}_ce0", "width": 1},
                  {"dir": "input ", "name": f"{FEAT_PTR}_q0", "width": t0["GW"]}]
    for name, width in banks:
        for k in range(p_in0):
            ports += [{"dir": "output", "name": f"{name}_{k}_address0", "width": features_aw},
                      {"dir": "output", "name": f"{name}_{k}_ce0", "width": 1},
                      {"dir": "input ", "name": f"{name}_{k}_q0", "width": width}]
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
              {"dir": "output", "name": f"{OUTPUT_PORT}_d0", "width": outputs_w},
              {"dir": "output", "name": f"{OUTPUT_PORT}_ce0", "width": 1},
              {"dir": "output", "name": f"{OUTPUT_PORT}_we0", "width": 1}]
    buffers = [{"name": f"buf_{L['index'] + 1}", "width": L["out_width"]} for L in layers]
    steps = step_units([L["id"] for L in layers], [L["attention"] for L in layers])
    at = {unit: k for k, units in enumerate(steps) for unit in units}
    for L in layers:
        L["t_step"], L["a_step"] = at[f"{L['id']}_transform"], at[f"{L['id']}_aggregate"]
        if L["attention"]:
            L["att_step"] = at[f"{L['id']}_attention"]
    # units that drive the shared CSR ports (row_ptr, col_idx), by step
    csr_users = [u for L in layers for u in ([(L["att_step"], f"{L['id']}_att")] if L["attention"] else [])
                 + [(L["a_step"], L["id"])]]
    ctx = {
        "top": TOP_NAME, "model_name": ir.name, "output_port": OUTPUT_PORT,
        "max_nodes": hw.max_nodes, "max_edges": hw.max_edges,
        "in_features": ir.in_features, "num_classes": ir.num_classes,
        "nw": g["nw"], "ew": g["ew"], "ew_addr": g["ew_addr"],
        "features_w": features_w, "features_aw": features_aw, "features_banks": p_in0, "features_ig": ig0,
        "sparse": sparse, "col_w": t0.get("CW", 1),
        "outputs_w": outputs_w, "outputs_aw": outputs_aw,
        "ports": ports, "buffers": buffers, "layers": layers, "steps": steps, "csr_users": csr_users,
        "units": [u for units in steps for u in units], "follow_early": mutation == "follow_early",
    }
    ctx["axi"] = _axi_context(ir, hw, ctx, mutation) if hw.offchip else []
    # off-chip host buffers: their ap_memory ports become wires between the units and the adapter
    names = "|".join(re.escape(e["name"]) for e in ctx["axi"])
    host_port = re.compile(f"^({names})" + r"(_\d+)?_(address0|ce0|q0|d0|we0)$")
    ctx["host_wires"] = [q for q in ports if ctx["axi"] and host_port.match(q["name"])]
    ctx["ports"] = [q for q in ports if q not in ctx["host_wires"]] + [q for e in ctx["axi"] for q in e["ports"]]
    # units whose step waits for their off-chip writer to be idle (every element acknowledged)
    ctx["gated"] = {e["flush"]: e["name"] for e in ctx["axi"] if e["write"]}
    offchip = {e["name"]: e for e in ctx["axi"]}
    ctx["offchip"] = sorted(offchip)
    ctx["axi_read_signals"] = [sig for sig, _, _ in AXI_READ_PORTS]
    ctx["axi_write_signals"] = [sig for sig, _, _ in AXI_WRITE_PORTS]
    for b in buffers:
        b["offchip"] = b["name"] in offchip
        if b["offchip"]:
            b["ready"] = _fit(f"{b['name']}_committed", offchip[b["name"]]["waw"] + 1, g["nw"])
    for L in layers:
        L["lin_offchip"] = f"{L['id']}_lin" in offchip
    return ctx


def _fit(signal: str, width: int, to: int) -> str:
    """``signal`` (``width`` bits) as ``to`` bits: the low bits, or zero-extended."""
    if width == to:
        return signal
    return f"{signal}[{to - 1}:0]" if width > to else f"{{{{{to - width}{{1'b0}}}}, {signal}}}"


def _axi_ports(name: str, channels: tuple[tuple[str, str, Any], ...], p: dict[str, int]) -> list[dict[str, Any]]:
    widths = {"MAW": p["MAW"], "DW": p["DW"], "DW/8": p["DW"] // 8}
    return [{"dir": d, "name": f"m_axi_{name}_{s}", "width": widths.get(w, w)} for s, d, w in channels]


def _axi_context(ir: ModelIR, hw: HardwareConfig, ctx: dict[str, Any], mutation: str | None) -> list[dict[str, Any]]:
    """The off-chip buffers' adapters (``hw.offchip``): per buffer its read adapter (stream / gather) and write
    adapter with their parameters (``hw_model.offchip.adapter_params``, the cost model's too) and the unit-side
    nets they serve. Moves the host ports of off-chip host buffers from ``ctx["ports"]`` to ``ctx["host_wires"]``
    and adds the AXI ports."""
    params, shapes = adapter_params(ir, hw), design_shapes(ir, hw)
    layers = {L["id"]: L for L in ctx["layers"]}
    mut = AXI_MUTATIONS.get(mutation or "", 0)
    entries = []
    for name in hw.offchip:
        p = params[name]
        rkind = next((k for k in p if k in ("stream", "gather")), None)
        e: dict[str, Any] = {"name": name, "read": rkind, "write": "write" in p, "lanes": 0}
        if name in ("features", FEAT_COL, FEAT_VAL):  # a banked array: one element = one group of P_in lanes
            lane_w = ctx["col_w"] if name == FEAT_COL else ctx["features_w"]
            addr = ("features_raddr", ctx["features_aw"]) if name == "features" else ("feat_grp_address",
                                                                                     ctx["features_aw"])
            e.update(addr=addr, rd="features_re" if name == "features" else "feat_grp_ce", q=f"{name}_axi_q",
                     lanes=ctx["features_banks"], lane_w=lane_w, width=ctx["features_banks"] * lane_w)
        elif name.endswith("_lin") and name[: -len("_lin")] in layers:
            L = layers[name[: -len("_lin")]]
            e.update(addr=(f"{L['id']}_lin_raddr", L["law"]), rd=f"{L['id']}_lin_re", q=f"{L['id']}_lin_rdata",
                     waddr=(f"{L['id']}_lin_waddr", L["law"]), we=f"{L['id']}_lin_we", d=f"{L['id']}_lin_wdata",
                     flush=f"{L['id']}_transform", width=L["lin_width"])
        elif name.startswith("buf_"):
            k = int(name[4:])
            writer = ctx["layers"][k - 1]
            e.update(addr=(f"{name}_raddr", ctx["nw"]), rd=f"{name}_re", q=f"{name}_rdata",
                     waddr=(f"{name}_waddr", ctx["nw"]), we=f"{name}_we", d=f"{name}_wdata",
                     flush=f"{writer['id']}_aggregate", width=writer["out_width"])
        elif name == OUTPUT_PORT:
            e.update(waddr=(f"{name}_address0", ctx["outputs_aw"]), we=f"{name}_we0", d=f"{name}_d0",
                     flush="store", width=ctx["outputs_w"])
        else:  # a host input on its own port
            port = {q["name"]: q for q in ctx["ports"]}
            e.update(addr=(f"{name}_address0", port[f"{name}_address0"]["width"]), rd=f"{name}_ce0",
                     q=f"{name}_q0", width=port[f"{name}_q0"]["width"])
        for kind, key in ((rkind, "r"), ("write" if e["write"] else None, "w")):
            if kind is None:
                continue
            if p[kind]["EW"] != e["width"]:
                raise LpgnasError(f"internal: off-chip {name}: the cost model's element is {p[kind]['EW']} bits, "
                                  f"the design's {e['width']}")
            e[f"{key}params"] = ([("KIND", f'"{kind}"')] if key == "r" else []) + list(p[kind].items()) + [
                ("MUT", mut if key == "r" else 0)]
            e[f"{key}aw"] = p[kind]["AW"]
        # address bits beyond the adapter's (the units' counters hold the count too) are never set
        e["sinks"] = []
        if rkind:
            e["raddr"] = _fit(*e["addr"], p[rkind]["AW"])
            e["sinks"] += [e["addr"][0]] if e["addr"][1] > p[rkind]["AW"] else []
        if e["write"]:
            e["waddr_fit"] = _fit(*e["waddr"], p["write"]["AW"])
            e["sinks"] += [e["waddr"][0]] if e["waddr"][1] > p["write"]["AW"] else []
        if rkind:
            aw = p[rkind]["AW"]
            e["limit"] = f"{name}_committed" if e["write"] else f"{aw + 1}'d{int(shapes[name].depth)}"
        e["depth"] = int(shapes[name].depth)
        e["ports"] = ([{"dir": "input ", "name": f"{name}_base", "width": 64}]
                      + (_axi_ports(name, AXI_READ_PORTS, p[rkind]) if rkind else [])
                      + (_axi_ports(name, AXI_WRITE_PORTS, p["write"]) if e["write"] else []))
        entries.append(e)
    return entries


def step_units(layer_ids: list[str], attention: list[bool]) -> list[list[str]]:
    """The sequencer's steps, each the units it starts together: layer 0's transform; per layer its attention
    unit (GAT family) alone, then its aggregation with the unit that follows the rows it writes (the next
    layer's transform, the store after the last layer)."""
    steps = [[f"{layer_ids[0]}_transform"]]
    for k, ident in enumerate(layer_ids):
        if attention[k]:
            steps.append([f"{ident}_attention"])
        follower = f"{layer_ids[k + 1]}_transform" if k + 1 < len(layer_ids) else "store"
        steps.append([f"{ident}_aggregate", follower])
    return steps


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
        words, width = (sparse_weight_words if L["sparse"] else weight_words)(layer, lhw)
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
            # ap_ce: the block-level clock enable (Vitis HLS ap_ce; tie high if the host never stalls the kernel)
            {"name": "ap_ce", "dir": "input", "width": 1},
            {"name": "num_nodes", "dir": "input", "width": ctx["nw"]},
            {"name": "num_edges", "dir": "input", "width": ctx["ew"]},
            *({"name": p["name"], "dir": p["dir"].strip(), "width": p["width"]} for p in ctx["ports"]),
        ],
        "steps": ctx["steps"],
        # host arrays split into banks: bank k of <name> is ports <name>_<k>_*, element (n, ig*banks + k) of
        # the flat row-major image (row length row) at address n*groups + ig; padding beyond row reads as zero.
        # The sparse input's feat_col / feat_val: rows of one group (groups 1, row = banks): bank k's address g
        # holds flat element g*banks + k
        "banked": _banked(ctx, hw),
        # off-chip buffers (docs/rtl.md "Off-chip buffers"): their AXI4 master m_axi_<name>_*, base <name>_base
        "axi": {e["name"]: {"read": e["read"], "write": e["write"], **{k: dict(e.get("rparams") or e["wparams"])[k]
                                                                      for k in ("DW", "EB", "EW")},
                            "depth": e["depth"], "lanes": e["lanes"] or 1, "lane_bits": e.get("lane_w", e["width"])}
                for e in ctx["axi"]},
        "mutation": mutation,
    }
    (out / "rtl.json").write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n")
    written.append(out / "rtl.json")
    return written


def _banked(ctx: dict[str, Any], hw: HardwareConfig) -> dict[str, dict[str, int]]:
    """rtl.json's ``banked``: the host arrays layer 0 reads through ``P_in`` banks."""
    banks = ctx["features_banks"]
    if ctx["sparse"]:
        csr = {"banks": banks, "groups": 1, "row": banks, "flat_aw": address_bits(sparse_max_groups(hw) * banks)}
        return {FEAT_COL: csr, FEAT_VAL: dict(csr)}
    return {"features": {"banks": banks, "groups": ctx["features_ig"], "row": ctx["in_features"],
                         "flat_aw": address_bits(hw.max_nodes * ctx["in_features"])}}


def ideal_cycles(ir: ModelIR, hw: HardwareConfig, graph: Any, groups: int | None = None) -> dict[str, float]:
    """Cycle counts of docs/rtl.md's formulas without pipeline fill: each unit's issue cycles alone and ``total``,
    the run's, in which every aggregation overlaps the unit that follows its rows.

    ``graph``: a CSRGraph (its row order makes the overlap exact), else what :func:`hw_model.model.graph_rows`
    takes. ``<layer>_transform``: N * heads * ceil(F_in/P_in) * ceil(F_out/P_out) (layer 0 reads the host's
    features directly, there is no load step); a sparse layer 0: ``groups`` * heads * ceil(F_out/P_out),
    ``groups`` the input features' groups (:func:`lpgnas.sparse.group_count`, required then); ``<layer>_attention``
    (GAT family): its issue cycles; ``<layer>_aggregate``: (E * heads + N * heads_out) * ceil(F_out/P_agg), E
    counting self-loops; ``store``: one element per cycle. In ``total`` an aggregation and its follower (the
    next layer's transform, or the store) take the follower's cycles plus
    :func:`hw_model.units.aggregate.follow_steps`, not their sum.
    """
    rows = graph_rows(graph)
    n, e = rows.num_nodes, rows.num_edges
    if is_sparse_input(hw) and groups is None:
        raise LpgnasError("a sparse layer 0's cycles need the input features' groups (lpgnas.sparse.group_count)")
    g = globals_for(hw.max_nodes, hw.max_edges)
    out: dict[str, float] = {}
    leaders, followers = [], []  # per layer: its aggregation's parameters; the steps per row of its follower
    for i, (layer, lhw) in enumerate(zip(ir.layers, hw.layers, strict=True)):
        ident = identifier(layer.name)
        spec = spec_from_ir(layer, lhw)
        steps = int(transform_row_steps(transform_params(spec, g, hw.max_nodes)))
        if i == 0 and is_sparse_input(hw):
            out[f"{ident}_transform"] = int(groups) * layer.heads * math.ceil(layer.out_features / lhw.p_out)
        else:
            out[f"{ident}_transform"] = n * steps
        if i > 0:
            followers.append(steps)
        if has_attention_unit(layer):
            out[f"{ident}_attention"] = attention_ideal_cycles(layer, n, e)
        leaders.append(aggregate_params(spec, g, hw.max_nodes))
        per_edge, per_row = aggregate_row_steps(leaders[-1])
        out[f"{ident}_aggregate"] = int(e * per_edge + n * per_row)
    out["store"] = n * store_row_steps(ir.num_classes)
    followers.append(store_row_steps(ir.num_classes))
    first = f"{identifier(ir.layers[0].name)}_transform"
    alone = [v for k, v in out.items() if k == first or k.endswith("_attention")]  # the units nothing overlaps
    out["total"] = sum(alone) + sum(n * t + follow_steps(p, t, rows) for p, t in zip(leaders, followers, strict=True))
    return out
