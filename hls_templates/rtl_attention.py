"""The attention facet of the Verilog backend: parameters, ROM images and cycle counts of ``lpg_attention``.

``rtl_writer`` calls these for every layer whose attention is a softmax (the GAT family); ``const`` and
``gcn`` need no attention unit (``gcn``'s coefficients come from the host, as before). The unit's schedule
and memories are described at the top of ``rtl/lpg_attention.v`` and in docs/rtl.md.
"""

from __future__ import annotations

from typing import Any

from lpgnas.hw_model.params import LayerSpec, signed_width, stored_width
from lpgnas.hw_model.units.attention import attention_cycles as unit_attention_cycles
from lpgnas.hw_model.units.attention import attention_params
from lpgnas.ir import LayerIR
from lpgnas.names import tensor_name, verilog_string
from lpgnas.operators import ATTENTIONS
from lpgnas.tables import SOFTMAX_RECIP_BITS, function_table, table_index

#: test-only mutations of the attention unit
ATTENTION_MUTATIONS = ("softmax_recip", "exp_entry")


def rom_file(layer_name: str, tensor: str) -> str:
    """The Verilog expression naming the ROM image of ``layer_name``'s ``tensor`` in the design folder
    (``{MEM_DIR, "<tensor_name>.mem"}``; the file ``rtl_writer.write_rtl`` writes)."""
    return "{MEM_DIR, " + verilog_string(f"{tensor_name(layer_name, tensor)}.mem") + "}"


def has_attention_unit(layer: LayerIR) -> bool:
    """The layer's coefficients come from an ``lpg_attention`` (a softmax attention)."""
    return ATTENTIONS[layer.attention].softmax


def insert_after(params: dict[str, Any], key: str, extra: dict[str, Any]) -> dict[str, Any]:
    """``params`` with ``extra`` inserted right after ``key`` (the RTL parameter order)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        out[k] = v
        if k == key:
            out.update(extra)
    return out


def as_ints(params: dict[str, Any]) -> dict[str, int]:
    """A unit's parameters (numbers from :mod:`lpgnas.hw_model.units`) as the integers the Verilog gets."""
    out = {}
    for k, v in params.items():
        assert float(v) == int(v), (k, v)
        out[k] = int(v)
    return out


def rtl_attention_params(
    layer: LayerIR, spec: LayerSpec, ident: str, max_nodes: int, max_edges: int, g: dict[str, int],
    mutation: str | None,
) -> dict[str, Any]:
    """lpg_attention's parameters for ``layer`` (a softmax attention): the unit's
    (:func:`lpgnas.hw_model.units.attention.attention_params`), its ROM files and the test hooks."""
    p: dict[str, Any] = as_ints(attention_params(spec, g, max_nodes, max_edges))
    p = insert_after(p, "NVEC", {"ATT_FILE": rom_file(ident, "att")})
    p = insert_after(p, "TAW", {"TANH_FILE": rom_file(ident, "tanh")})
    p = insert_after(p, "XAW", {"EXP_FILE": rom_file(ident, "exp")})
    return {**p, "ROUND": 0 if mutation == "no_round_offset" else 1, "RECIP_MUT": int(mutation == "softmax_recip")}


def attention_images(layer: LayerIR, mutation: str | None) -> dict[str, tuple[list[int], int]]:
    """ROM images of the attention unit: ``att`` (per head the attention vectors src, dst, gene, element k
    of vector v at bits ``(v*F_OUT + k)*AW``), ``exp`` (the non-positive half of the exp table, entry
    ``clamp(d >> shift, lo, 0) - lo``), ``tanh`` (the whole tanh table; linear and gene-linear only).
    Keys are file suffixes, values (words, width). ``exp_entry`` (a test mutation) lowers exp(0)'s entry."""
    fm = layer.formats
    fsc, fexp = fm["score"], fm["exp"]
    aw = signed_width(fm["att_weight"].bits, int(fm["att_weight"].signed))
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
    if ATTENTIONS[layer.attention].tanh_table:
        sw = stored_width(fsc.bits, int(fsc.signed))
        out["tanh"] = ([int(c) & ((1 << sw) - 1) for c in function_table("tanh", fsc.frac, fsc)], sw)
    return out


def attention_cycles(layer: LayerIR, num_nodes: int, num_edges: int) -> int:
    """Exact cycles of one run of the attention unit (start to done), E counting self-loops: the cost
    model's :func:`lpgnas.hw_model.units.attention.attention_cycles` (3 on an empty graph; 0 without a unit)."""
    if num_nodes == 0:
        return 3 if has_attention_unit(layer) else 0
    unit = {"HEADS": layer.heads, "KIND": ATTENTIONS[layer.attention].code}
    return int(unit_attention_cycles(unit, num_nodes, num_edges))


def attention_ideal_cycles(layer: LayerIR, num_nodes: int, num_edges: int) -> int:
    """The issue cycles without drains and set-up: N*H + 3*H*E + H*N*17 (the divider's quotient bits)."""
    return num_nodes * layer.heads + 3 * layer.heads * num_edges + layer.heads * num_nodes * SOFTMAX_RECIP_BITS
