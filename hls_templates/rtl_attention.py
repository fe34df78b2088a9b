"""The attention facet of the Verilog backend: parameters, ROM images and cycle counts of ``lpg_attention``.

``rtl_writer`` calls these for every layer whose attention is a softmax (the GAT family); ``const`` and
``gcn`` need no attention unit (``gcn``'s coefficients come from the host, as before). The unit's schedule
and memories are described at the top of ``rtl/lpg_attention.v`` and in docs/rtl.md.
"""

from __future__ import annotations

import math
from typing import Any

from lpgnas.ir import LayerIR
from lpgnas.names import tensor_name, verilog_string
from lpgnas.numfmt import NumFormat
from lpgnas.operators import ATTENTIONS
from lpgnas.tables import SOFTMAX_RECIP_FRAC, function_table, table_index

#: attention -> how the RTL computes its edge coefficients: ``unit`` the module (None: no attention unit),
#: ``kind`` lpg_attention's KIND code, ``coef`` where the aggregation unit reads coefficients from
#: (``none``: coefficient 1, ``host``: the ``<layer>_coef`` host port, ``ram``: the attention unit's RAM)
RTL_ATTENTIONS: dict[str, dict[str, Any]] = {
    "const": {"unit": None, "kind": None, "coef": "none"},
    "gcn": {"unit": None, "kind": None, "coef": "host"},
    "gat": {"unit": "lpg_attention", "kind": 0, "coef": "ram"},
    "sym-gat": {"unit": "lpg_attention", "kind": 1, "coef": "ram"},
    "cos": {"unit": "lpg_attention", "kind": 2, "coef": "ram"},
    "linear": {"unit": "lpg_attention", "kind": 3, "coef": "ram"},
    "gene-linear": {"unit": "lpg_attention", "kind": 4, "coef": "ram"},
}
assert set(RTL_ATTENTIONS) == set(ATTENTIONS)
assert all((RTL_ATTENTIONS[n]["coef"] == "ram") == s.softmax for n, s in ATTENTIONS.items())

#: test-only mutations of the attention unit
ATTENTION_MUTATIONS = ("softmax_recip", "exp_entry")
#: quotient bits of the reciprocal divider (r <= 2**16 < 2**17)
RECIP_BITS = SOFTMAX_RECIP_FRAC + 1
#: cycles of the divider per (node, head): one set-up + one per quotient bit
DIV_CYCLES = 1 + RECIP_BITS


def rom_file(layer_name: str, tensor: str) -> str:
    """The Verilog expression naming the ROM image of ``layer_name``'s ``tensor`` in the design folder
    (``{MEM_DIR, "<tensor_name>.mem"}``; the file ``rtl_writer.write_rtl`` writes)."""
    return "{MEM_DIR, " + verilog_string(f"{tensor_name(layer_name, tensor)}.mem") + "}"


def _clog2(n: int) -> int:
    return max(1, (int(n) - 1).bit_length())


def _stored_width(fmt: NumFormat) -> int:
    return max(fmt.bits, 2) if fmt.signed else fmt.bits


def _signed_width(fmt: NumFormat) -> int:
    return _stored_width(fmt) + (0 if fmt.signed else 1)


def _log2c(n: int) -> int:
    return math.ceil(math.log2(max(n, 2)))


def has_attention_unit(layer: LayerIR) -> bool:
    return RTL_ATTENTIONS[layer.attention]["unit"] is not None


def attention_params(
    layer: LayerIR, ident: str, max_nodes: int, max_edges: int, g: dict[str, int], law: int,
    mutation: str | None,
) -> dict[str, Any]:
    """lpg_attention's parameters for ``layer`` (a softmax attention)."""
    fm = layer.formats
    flin, fatt, fsc, fexp, fcoef = fm["linear"], fm["att_weight"], fm["score"], fm["exp"], fm["coef"]
    kind = RTL_ATTENTIONS[layer.attention]["kind"]
    f = layer.out_features
    aw = _signed_width(fatt)
    ssw = _signed_width(fsc)
    pw = _signed_width(flin) + aw
    ti = table_index(fsc.frac)
    tlo = -ti.lo
    e_shift = fsc.frac if kind == 2 else fatt.frac if kind == 4 else 0
    edot_w = (2 * ssw if kind == 2 else ssw + aw) + _log2c(f) + 1 if kind in (2, 4) else 2
    return {
        "NW": g["nw"], "EW": g["ew"], "EAW": g["ew_addr"], "CIW": g["ciw"], "LAW": law,
        "HEADS": layer.heads, "F_OUT": f, "LW": _stored_width(flin), "L_SIGNED": int(flin.signed),
        "KIND": kind, "AW": aw, "NVEC": len(ATTENTIONS[layer.attention].tensors),
        "ATT_FILE": rom_file(ident, "att"),
        "SW": _stored_width(fsc), "S_SIGNED": int(fsc.signed),
        "NS_SHIFT": flin.frac + fatt.frac - fsc.frac, "DOT_W": pw + _log2c(f) + 1,
        "E_SHIFT": e_shift, "EDOT_W": edot_w,
        "TS": ti.shift, "TLO": tlo, "TAW": _clog2(2 * tlo), "TANH_FILE": rom_file(ident, "tanh"),
        "XAW": _clog2(tlo + 1), "EXP_FILE": rom_file(ident, "exp"),
        "XW": fexp.bits, "FE": fexp.frac, "SUMW": fexp.bits + max_edges.bit_length() + 1,
        "CW": _stored_width(fcoef), "C_SIGNED": int(fcoef.signed),
        "COEF_SHIFT": fexp.frac + SOFTMAX_RECIP_FRAC - fcoef.frac,
        "CAW": _clog2(max_edges * layer.heads), "NODE_D": max_nodes * layer.heads, "EDGE_D": max_edges,
        "ROUND": 0 if mutation == "no_round_offset" else 1, "RECIP_MUT": int(mutation == "softmax_recip"),
    }


def attention_images(layer: LayerIR, mutation: str | None) -> dict[str, tuple[list[int], int]]:
    """ROM images of the attention unit: ``att`` (per head the attention vectors src, dst, gene, element k
    of vector v at bits ``(v*F_OUT + k)*AW``), ``exp`` (the non-positive half of the exp table, entry
    ``clamp(d >> shift, lo, 0) - lo``), ``tanh`` (the whole tanh table; linear and gene-linear only).
    Keys are file suffixes, values (words, width). ``exp_entry`` (a test mutation) lowers exp(0)'s entry."""
    fm = layer.formats
    fsc, fexp = fm["score"], fm["exp"]
    aw = _signed_width(fm["att_weight"])
    mask = (1 << aw) - 1
    words = []
    for h in range(layer.heads):
        values = [int(v) for t in ATTENTIONS[layer.attention].tensors for v in layer.attention_tensors[t][h]]
        words.append(sum((v & mask) << (k * aw) for k, v in enumerate(values)))
    out = {"att": (words, len(ATTENTIONS[layer.attention].tensors) * layer.out_features * aw)}
    tlo = -table_index(fsc.frac).lo
    exp = [int(c) for c in function_table("exp", fsc.frac, fexp)[: tlo + 1]]
    if mutation == "exp_entry":
        exp[tlo] -= 1
    out["exp"] = (exp, fexp.bits)
    if layer.attention in ("linear", "gene-linear"):
        sw = _stored_width(fsc)
        out["tanh"] = ([int(c) & ((1 << sw) - 1) for c in function_table("tanh", fsc.frac, fsc)], sw)
    return out


def attention_cycles(layer: LayerIR, num_nodes: int, num_edges: int) -> int:
    """Exact cycles of one run of the attention unit (start to done), E counting self-loops:
    N*H (phase A) + 3*H*E (three edge passes) + H*N*(1 + 3*3 + DIV_CYCLES) (per node and head: set-up,
    pass drains, divider) + 2*N (row pointers) + 7."""
    n, e, h = num_nodes, num_edges, layer.heads
    if n == 0:
        return 3
    return n * h + 3 * h * e + h * n * (1 + 3 * 3 + DIV_CYCLES) + 2 * n + 7


def attention_ideal_cycles(layer: LayerIR, num_nodes: int, num_edges: int) -> int:
    """The issue cycles without drains and set-up: N*H + 3*H*E + H*N*17 (the divider's quotient bits)."""
    return num_nodes * layer.heads + 3 * layer.heads * num_edges + layer.heads * num_nodes * RECIP_BITS
