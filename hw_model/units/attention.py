"""Attention unit of the GAT family (``lpg_attention``) and its memories; one estimate function per
resource (``attention_dsp``, ``attention_bram``, ``attention_lut`` / ``attention_ff`` (fitted structural
terms), ``attention_cycles``) and :data:`ATTENTION_COSTS` over the registry.

The unit (``hls_templates/rtl/lpg_attention.v``, parameters from :func:`attention_params`, which the RTL
writer reads too) runs as its own sequencer step between the layer's transform
and aggregation:

* phase A, one linear row per cycle (``N * HEADS`` cycles): ``F_OUT`` parallel products ``lin * att``
  per attention vector read (gat, sym-gat, cos, gene-linear: src and dst; linear: src), summed by adder
  chains and re-quantised (gat, sym-gat, linear; linear then looks up tanh) or re-quantised per element
  (cos, gene-linear), written to the node-score RAM (``NODE_D = max_nodes * HEADS`` words);
* phase B, per node and head, three passes over the CSR row (edge score + running max into the edge RAM,
  exp table + sum, coefficient ``p * r`` into the coefficient RAM) and a restoring divider (1 + 17
  cycles) for ``r = 2**(FE + 16) / sum``. The edge score: gat one LeakyReLU (a constant product by 205),
  sym-gat two, cos ``F_OUT`` products and an adder chain, gene-linear ``F_OUT`` tanh tables (asynchronous
  LUT ROMs), ``F_OUT`` products and an adder chain, linear nothing;
* memories: node-score RAM, edge RAM (``max_edges`` words), attention-vector ROM (``HEADS`` words of
  ``NVEC * F_OUT * AW`` bits), exp ROM (``TLO + 1`` words), tanh LUT ROMs; and in the top level the
  per-edge coefficient RAM (``max_edges * HEADS`` words of ``CW`` bits) that the aggregation unit reads.

Cycles (``rtl_attention.attention_cycles``): ``N*H + 3*H*E + H*N*(1 + 3*3 + 18) + 2*N + 7``.
``p`` holds the RTL parameters (numbers or tensors); ``KIND`` is the attention's registry code, and const /
gcn (no attention unit, negative codes) cost nothing.
"""

from __future__ import annotations

from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.memory import MemoryCost, ram_cost, rom_cost
from lpgnas.hw_model.params import ATT_CODE, LayerSpec, signed_width, stored_width
from lpgnas.hw_model.units.activation import table_depth, table_frac, table_logic
from lpgnas.hw_model.units.multiplier import dsp_count, soft_mult_bits
from lpgnas.hw_model.units.transform import requant_terms
from lpgnas.operators import ATTENTIONS
from lpgnas.tables import SOFTMAX_RECIP_BITS, SOFTMAX_RECIP_FRAC, TABLE_FRAC

#: cycles of the reciprocal divider per (node, head): one set-up + one per quotient bit
DIV_CYCLES = 1 + SOFTMAX_RECIP_BITS
#: per (node, head): one set-up cycle, three passes with 3 drain cycles each, the divider
NODE_HEAD_OVERHEAD = 1 + 3 * 3 + DIV_CYCLES
#: the GAT LeakyReLU slope 205 / 1024 as a signed constant operand (9 bits)
LEAKY_CONST_BITS = 9


def _kind(p, name):
    return nm.eq(p["KIND"], ATT_CODE[name])


def softmax(p):
    """The layer has an attention unit (a GAT-family attention)."""
    return is_softmax(p["KIND"])


def is_softmax(att_kind):
    """The attention coded ``att_kind`` (registry code; a number or a tensor) is a softmax attention."""
    return nm.gt(sum((nm.where(nm.eq(att_kind, ATT_CODE[n]), 1.0, 0.0) for n, a in ATTENTIONS.items() if a.softmax),
                     0.0), 0)


def vector_count(att_kind):
    """Attention vectors of the kind (``lpgnas.operators.ATTENTIONS[...].tensors``)."""
    out = 0.0
    for name, spec in ATTENTIONS.items():
        out = out + nm.where(nm.eq(att_kind, ATT_CODE[name]), float(len(spec.tensors)), 0.0)
    return out


def elementwise(p):
    """cos / gene-linear keep ``F_OUT`` scores per node (``u = lin * att``), the others one per vector."""
    return nm.logical_or(_kind(p, "cos"), _kind(p, "gene-linear"))


def _w(p):
    """Signed widths: linear element, score, node-score field, edge score, node-RAM word, edge-RAM word."""
    lsw = p["LW"] + (1 - p["L_SIGNED"])
    ssw = p["SW"] + (1 - p["S_SIGNED"])
    fw = nm.where(elementwise(p), p["F_OUT"] * ssw, ssw)
    nf = nm.where(_kind(p, "linear"), 1.0, 2.0)
    esw = ssw + 2
    ebw = nm.maximum(esw, p["XW"])
    return lsw, ssw, fw, nf, esw, ebw


def _scale(m: MemoryCost, k) -> MemoryCost:
    return MemoryCost(**{f: getattr(m, f) * k for f in ("bram18", "bram36", "lutram", "lut", "ff", "bits")})


def _log2c(n):
    """``ceil(log2(max(n, 2)))``: the bits an adder chain of ``n`` terms adds."""
    return nm.clog2(nm.maximum(n, 2.0))


def attention_params(s: LayerSpec, g: dict, max_nodes, max_edges) -> dict:
    """``lpg_attention``'s parameters (the RTL writer's and the cost model's), in the RTL's order; ``KIND``
    is the attention's registry code (negative for const / gcn, which have no attention unit and cost
    nothing)."""
    kind = s.att_kind
    lsw = signed_width(s.lin_bits, s.lin_signed)
    aw = signed_width(s.att_bits, 1)
    ssw = signed_width(s.score_bits, s.score_signed)
    f = s.out_features
    tlo = table_depth(s.score_frac) / 2
    cos, gene = nm.eq(kind, ATT_CODE["cos"]), nm.eq(kind, ATT_CODE["gene-linear"])
    return {
        "NW": g["nw"],
        "EW": g["ew"],
        "EAW": g["ew_addr"],
        "CIW": g["ciw"],
        "LAW": g["nw"] + nm.maximum(nm.clog2(s.heads), 1.0),
        "HEADS": s.heads,
        "F_OUT": f,
        "LW": stored_width(s.lin_bits, s.lin_signed),
        "L_SIGNED": s.lin_signed,
        "KIND": kind,
        "AW": aw,
        "NVEC": vector_count(s.att_kind),
        "SW": stored_width(s.score_bits, s.score_signed),
        "S_SIGNED": s.score_signed,
        "NS_SHIFT": s.ns_shift,
        "DOT_W": lsw + aw + _log2c(f) + 1,
        "E_SHIFT": nm.where(cos, s.score_frac, nm.where(gene, s.att_frac, 0.0)),
        "EDOT_W": nm.where(
            nm.logical_or(cos, gene), nm.where(cos, 2 * ssw, ssw + aw) + _log2c(f) + 1, 2.0
        ),
        "TS": nm.pos(s.score_frac - TABLE_FRAC),
        "TLO": tlo,
        "TAW": nm.maximum(nm.clog2(2 * tlo), 1.0),
        "XAW": nm.maximum(nm.clog2(tlo + 1), 1.0),
        "XW": s.exp_bits,
        "FE": s.exp_bits - 1,
        "SUMW": s.exp_bits + nm.bit_length(max_edges) + 1,
        "CW": stored_width(s.coef_bits, s.coef_signed),
        "C_SIGNED": s.coef_signed,
        "COEF_SHIFT": s.exp_bits - 1 + SOFTMAX_RECIP_FRAC - s.coef_frac,
        "CAW": nm.maximum(nm.clog2(max_edges * s.heads), 1.0),
        "NODE_D": max_nodes * s.heads,
        "EDGE_D": max_edges,
    }


def memories(p, family) -> dict[str, MemoryCost]:
    """The unit's memories and the top level's coefficient RAM (all zero without an attention unit)."""
    lsw, ssw, fw, nf, esw, ebw = _w(p)
    on = nm.where(softmax(p), 1.0, 0.0)
    return {
        "node_scores": _scale(ram_cost(nf * fw, p["NODE_D"], family), on),
        "edge_ram": _scale(ram_cost(ebw, p["EDGE_D"], family), on),
        "coef_ram": _scale(ram_cost(p["CW"], p["EDGE_D"] * p["HEADS"], family), on),
        "att_rom": _scale(rom_cost(p["NVEC"] * p["F_OUT"] * p["AW"], p["HEADS"], family), on),
        "exp_rom": _scale(rom_cost(p["XW"], p["TLO"] + 1, family), on),
    }


#: memories that hold constants (model-derived ROMs) and those that hold run-time data (buffers)
ROMS = ("att_rom", "exp_rom")
BUFFERS = ("node_scores", "edge_ram", "coef_ram")


def rom_bits(p, family):
    ms = memories(p, family)
    return sum((ms[k].bits for k in ROMS), 0.0)


def buffer_bits(p, family):
    ms = memories(p, family)
    return sum((ms[k].bits for k in BUFFERS), 0.0)


def _products(p, family):
    """(count, a_w, b_w) of each product group: phase-A node scores, cos / gene-linear edge products, the
    LeakyReLU constant products, the coefficient ``p * r``."""
    lsw, ssw, fw, nf, esw, ebw = _w(p)
    f = p["F_OUT"]
    return {
        "node": (nm.where(_kind(p, "linear"), 1.0, 2.0) * f, lsw, p["AW"]),
        "cos": (nm.where(_kind(p, "cos"), f, 0.0), ssw, ssw),
        "gene": (nm.where(_kind(p, "gene-linear"), f, 0.0), ssw, p["AW"]),
        "leaky": (nm.where(_kind(p, "gat"), 1.0, nm.where(_kind(p, "sym-gat"), 2.0, 0.0)), ssw + 1,
                  float(LEAKY_CONST_BITS)),
        "coef": (1.0, p["XW"] + 1, float(SOFTMAX_RECIP_BITS + 1)),
    }


def unit_addr_dsp(p):
    """Constant products ``* HEADS`` of the unit's addresses (node-score reads of j and i, coefficient-RAM
    write e*HEADS + h) when HEADS is not a power of two: Yosys shares the mutually exclusive ones (``share``)
    and maps the survivor to one DSP when its result has >= 9 bits (measured on unit runs)."""
    npow2 = nm.logical_not(nm.is_pow2(p["HEADS"]))
    return nm.where(nm.logical_and(npow2, nm.ge(nm.maximum(p["LAW"], p["CAW"]), 9)), 1.0, 0.0)


def top_addr_dsp(p):
    """The top level's coefficient-RAM read address ``e * HEADS + h`` (CAW bits)."""
    npow2 = nm.logical_not(nm.is_pow2(p["HEADS"]))
    return nm.where(nm.logical_and(npow2, nm.ge(p["CAW"], 9)), 1.0, 0.0)


def attention_dsp(p, family):
    dsp = unit_addr_dsp(p) + top_addr_dsp(p)
    for n, a, b in _products(p, family).values():
        dsp = dsp + n * dsp_count(a, b, family)
    return nm.where(softmax(p), dsp, 0.0)


def attention_bram(p, family):
    ms = memories(p, family)
    return {
        "bram18": sum((m.bram18 for m in ms.values()), 0.0),
        "bram36": sum((m.bram36 for m in ms.values()), 0.0),
    }


def lutram(p, family):
    ms = memories(p, family)
    return sum((m.lutram for m in ms.values()), 0.0)


def _tanh_tables(p):
    """tanh LUT ROMs: one (linear, phase A) or F_OUT (gene-linear, per edge feature); their logic."""
    n = nm.where(_kind(p, "linear"), 1.0, nm.where(_kind(p, "gene-linear"), p["F_OUT"], 0.0))
    frac = table_frac(nm.clog2(p["TLO"]), p["TS"])
    return n, table_logic("tanh", p["SW"], frac, p["S_SIGNED"])


def lut_features(p, family):
    """Structural LUT terms (a softmax attention; all zero otherwise)."""
    on = nm.where(softmax(p), 1.0, 0.0)
    lsw, ssw, fw, nf, esw, ebw = _w(p)
    f = p["F_OUT"]
    soft = 0.0
    prods = _products(p, family)
    for _key, (n, a, b) in prods.items():
        soft = soft + nm.where(nm.eq(dsp_count(a, b, family), 0), n * soft_mult_bits(a, b), 0.0)
    vec = nm.where(elementwise(p), 1.0, 0.0)
    n_node = nm.where(_kind(p, "linear"), 1.0, 2.0)
    # adder chains: phase A (gat, sym-gat, linear), edge dot products (cos, gene-linear); next to DSP
    # products Yosys packs most of a chain into the slices' post-adders (xilinx_dsp), like the transform's tree
    node_dsp = nm.gt(dsp_count(*prods["node"][1:], family), 0)
    edge_dsp = nm.gt(dsp_count(*prods["cos"][1:], family), 0) * nm.where(_kind(p, "cos"), 1.0, 0.0) + nm.gt(
        dsp_count(*prods["gene"][1:], family), 0
    ) * nm.where(_kind(p, "gene-linear"), 1.0, 0.0)
    chain_a = (1 - vec) * n_node * f * p["DOT_W"]
    chain_e = vec * f * p["EDOT_W"]
    chain_lut = nm.where(node_dsp, 0.0, chain_a) + nm.where(nm.gt(edge_dsp, 0), 0.0, chain_e)
    rq_a = requant_terms(nm.where(nm.eq(vec, 1), lsw + p["AW"], p["DOT_W"]), p["NS_SHIFT"], p["SW"])
    rq_e = requant_terms(p["EDOT_W"], p["E_SHIFT"], p["SW"])
    rq_c = requant_terms(p["XW"] + SOFTMAX_RECIP_BITS + 1, p["COEF_SHIFT"], p["CW"])
    n_rq_a = nm.where(nm.eq(vec, 1), 2 * f, n_node)
    ntanh, tanh_logic = _tanh_tables(p)
    ms = memories(p, family)
    sumw = p["SUMW"]
    # adder chains next to DSP products are left out: Yosys packs them into the slices' post-adders / cascade
    # (xilinx_dsp), as the transform's adder tree next to DSPs (its tree_dsp fits to 0 on xc7)
    return {
        "mult_soft": on * soft,
        "chain": on * chain_lut,
        "requant": on * (n_rq_a * (rq_a[0] + rq_a[1]) + vec * (rq_e[0] + rq_e[1]) + rq_c[0] + rq_c[1]),
        "tables": on * ntanh * (tanh_logic + p["TAW"] + ssw),
        "edge": on * (nm.where(_kind(p, "sym-gat"), 2.0, nm.where(_kind(p, "gat"), 1.0, 0.0)) * (esw + 12)
                      + nm.where(_kind(p, "gene-linear"), f * (ssw + 1), 0.0)),
        "softmax": on * (2 * esw + (esw + 1) + p["TAW"] + sumw),
        "divider": on * (2 * (sumw + 2) + SOFTMAX_RECIP_BITS),
        "ctrl": on * (2 * p["NW"] + 3 * p["EW"] + 2 * p["LAW"] + p["CAW"]),
        "mem": sum((m.lut for m in ms.values()), 0.0),
        "const": on,
    }


def ff_features(p, family):
    """Register bits: node-score write word and node i's captured word, edge pipeline (score, p, coef
    write), running max and sum, divider (remainder, dividend shift, quotient), counters and addresses."""
    on = nm.where(softmax(p), 1.0, 0.0)
    lsw, ssw, fw, nf, esw, ebw = _w(p)
    gene = nm.where(_kind(p, "gene-linear"), 1.0, 0.0)
    ms = memories(p, family)
    sumw = p["SUMW"]
    return {
        "node_word": on * 2 * nf * fw,
        "att_word": on * gene * p["F_OUT"] * p["AW"],
        "edge": on * (2 * esw + p["XW"] + p["CW"] + p["CAW"] + (p["XW"] + SOFTMAX_RECIP_BITS + 1)),
        "divider": on * (sumw + (sumw + 2) + 2 * SOFTMAX_RECIP_BITS + 6),
        "ctrl": on * (4 * p["NW"] + 4 * p["EW"] + 3 * p["LAW"] + 3 * p["EAW"]),
        "mem": sum((m.ff for m in ms.values()), 0.0),
        "const": on,
    }


def srl_features(p, family):
    on = nm.where(softmax(p), 1.0, 0.0)
    return {"const": on}


#: structural priors where the stored calibration has no attention coefficients
PRIOR = {
    "lut": {"mult_soft": 1.0, "chain": 1.0, "requant": 0.7, "tables": 1.0, "edge": 1.0, "softmax": 1.0,
            "divider": 1.0, "ctrl": 1.0, "mem": 1.0, "const": 30.0},
    "ff": {"node_word": 1.0, "att_word": 1.0, "edge": 1.0, "divider": 1.0, "ctrl": 1.0, "mem": 1.0,
           "const": 20.0},
    "srl": {"const": 0.0},
}


def _lin(features, coef, prior):
    return sum((coef.get(k, prior.get(k, 0.0)) * v for k, v in features.items()), 0.0)


def attention_lut(p, family, coef=None):
    return _lin(lut_features(p, family), coef or {}, PRIOR["lut"])


def attention_ff(p, family, coef=None):
    return _lin(ff_features(p, family), coef or {}, PRIOR["ff"])


def attention_srl(p, family, coef=None):
    return _lin(srl_features(p, family), coef or {}, PRIOR["srl"])


def attention_cycles(p, num_nodes, num_edges):
    """One run, start to done (``rtl_attention.attention_cycles``); 0 without an attention unit."""
    h = p["HEADS"]
    c = num_nodes * h + 3 * h * num_edges + h * num_nodes * NODE_HEAD_OVERHEAD + 2 * num_nodes + 7
    return nm.where(softmax(p), c, 0.0)


def softmax_cost(p, family, coef=None) -> dict:
    """Resources of the attention unit and its memories (``coef``: ``{"lut": {...}, "ff": {...}, "srl":
    {...}}``); zero for const / gcn."""
    coef = coef or {}
    b = attention_bram(p, family)
    return {
        "lut": attention_lut(p, family, coef.get("lut")),
        "ff": attention_ff(p, family, coef.get("ff")),
        "dsp": attention_dsp(p, family),
        "bram18": b["bram18"],
        "bram36": b["bram36"],
        "lutram": lutram(p, family) + attention_srl(p, family, coef.get("srl")),
    }


def _with_kind(name):
    def cost(p, family, coef=None):
        return softmax_cost({**p, "KIND": ATT_CODE[name]}, family, coef)

    cost.__name__ = f"{name.replace('-', '_')}_cost"
    return cost


#: registry attention -> estimate function ``(p, family, coef) -> resources``: const has no unit; gcn's
#: coefficients come from the host (their product is the aggregation unit's); the GAT family's unit
ATTENTION_COSTS = {name: _with_kind(name) for name in ATT_CODE}
