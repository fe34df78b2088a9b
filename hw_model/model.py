"""The cost model of the whole accelerator: per unit, per layer, totals against a device budget.

:func:`estimate` takes an IR (or a list of :class:`~hw_model.params.LayerSpec`), a
:class:`~lpgnas.hwconfig.HardwareConfig`, the graph's size (``num_nodes``, ``num_edges`` with
self-loops; a :class:`lpgnas.datasets.GraphStats` works) and a device, and returns an :class:`Estimate`.
A layer 0 that reads its input features sparse (``LayerHW.input``) also needs the features' row non-zeros
(:func:`feature_histogram`): its cycles follow the groups they make (:func:`lpgnas.sparse.group_count`).
The microarchitecture is the generated RTL's (``hls_templates/rtl``): per layer a transform unit (with
its weight ROM) and an aggregation unit (with its bias ROM), the on-chip row buffers ``buf_k``, k >= 1
(``max_nodes`` words of a whole node row; layer 0's transform reads the input features directly from
P_in banked host ports, so there is no load step and no ``buf_0``), the per-layer linear buffers
(``max_nodes * heads`` words), a store unit and a sequencer that runs the steps one after the other, each
aggregation together with the unit that follows its rows (:func:`overlap`; the graph's row order,
:func:`graph_rows`, makes those cycles exact, a bound or an estimate). The
graph (row pointers, column indices, GCN coefficients, mean reciprocals) stays in host memories
behind ``ap_memory`` ports; its size is reported as ``graph_bits``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lpgnas import sparse
from lpgnas.devices import Device, load_device
from lpgnas.errors import LpgnasError
from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model import offchip as oc
from lpgnas.hw_model.memory import ram_cost
from lpgnas.hw_model.params import ATT_CODE, LayerSpec, globals_for, spec_from_ir, stored_width
from lpgnas.hw_model.units import activation as act_unit
from lpgnas.hw_model.units import aggregate as agg_unit
from lpgnas.hw_model.units import attention as att_unit
from lpgnas.hw_model.units import io as io_unit
from lpgnas.hw_model.units import transform as tr_unit
from lpgnas.names import tensor_name

RESOURCES = ("lut", "lutram", "ff", "dsp", "bram18", "bram36")
CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"

#: used when calibration.json lacks a family/unit (rough structural defaults)
DEFAULT_COEF = {
    "transform": {
        "lut": {
            "mult_soft": 0.6,
            "mult_sign": 1.0,
            "tree_lut": 1.0,
            "tree_dsp": 0.5,
            "acc": 1.0,
            "requant": 0.8,
            "xmux": 0.5,
            "ctrl": 2.0,
            "rom": 1.0,
            "const": 20.0,
        },
        "ff": {
            "operands": 1.0,
            "dot_lut": 1.0,
            "dot_dsp": 0.5,
            "acc": 1.0,
            "row": 1.0,
            "ctrl": 3.0,
            "rom": 1.0,
            "const": 10.0,
        },
    },
    "aggregate": {
        "lut": {
            "mult_soft": 0.6,
            "mult_dsp": 2.0,
            "linmux": 0.5,
            "acc": 1.2,
            "bias": 1.0,
            "requant": 0.8,
            "walker": 2.0,
            "rom": 1.0,
            "const": 30.0,
        },
        "ff": {
            "prod": 1.0,
            "ring": 1.0,
            "mean": 1.0,
            "final": 1.0,
            "orow": 1.0,
            "side": 1.0,
            "walker": 1.5,
            "rom": 1.0,
            "const": 20.0,
        },
    },
}
DEFAULT_COEF["attention"] = {"lut": {}, "ff": {}, "srl": {}}  # priors: hw_model/units/attention.py
DEFAULT_COEF["activation"] = {"lut": {}}  # priors: hw_model/units/activation.py
for _u in DEFAULT_COEF.values():
    _u.setdefault("srl", {"nw": 1.0, "const": 2.0})


@lru_cache(maxsize=4)
def _calibration(path: str) -> dict:
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else {}


def coefficients(family: str, unit: str, resource: str) -> dict[str, float]:
    cal = _calibration(str(CALIBRATION_FILE))
    try:
        return cal["families"][family][unit][resource]["coef"]
    except KeyError:
        return DEFAULT_COEF[unit][resource]


def integration_scale(family: str, resource: str, kind: str = "") -> float:
    """Whole-design factor on the units' LUT (logic) / FF sums, fitted on complete calibration designs
    (``kind`` "attention": the attention units' own factor, fitted on GAT-family calibration designs)."""
    cal = _calibration(str(CALIBRATION_FILE))
    try:
        e = cal["families"][family]["integration"][resource]
    except KeyError:
        return 1.0
    return float(e.get("attention_scale", e["scale"]) if kind == "attention" else e["scale"])


def calibration_info() -> dict:
    cal = _calibration(str(CALIBRATION_FILE))
    return {k: cal.get(k) for k in ("date", "yosys", "samples")}


@dataclass
class UnitCost:
    """Resources and cycles of one unit or memory."""

    name: str
    kind: str
    lut: Any = 0.0
    lutram: Any = 0.0
    ff: Any = 0.0
    dsp: Any = 0.0
    bram18: Any = 0.0
    bram36: Any = 0.0
    cycles: Any = 0.0
    bits: Any = 0.0
    layer: str | None = None
    #: the parameters it was costed from (the RTL's; the cycle composition reads them)
    params: dict | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "layer": self.layer,
            **{k: nm.to_float(getattr(self, k)) for k in (*RESOURCES, "cycles", "bits")},
        }


@dataclass
class Estimate:
    device: Device
    clock_mhz: float
    units: list[UnitCost] = field(default_factory=list)
    model_bits: Any = 0.0
    buffer_bits: Any = 0.0
    graph_bits: Any = 0.0
    #: the buffers in external memory (``HardwareConfig.offchip``) and their bits there
    offchip: list[str] = field(default_factory=list)
    offchip_bits: Any = 0.0

    def total(self, key: str):
        return sum((getattr(u, key) for u in self.units), 0.0)

    @property
    def cycles(self):
        return self.total("cycles") + io_unit.TOP_OVERHEAD

    @property
    def latency_us(self):
        return self.cycles / self.clock_mhz

    def totals(self) -> dict[str, Any]:
        t = {k: self.total(k) for k in RESOURCES}
        t["bram36_equiv"] = t["bram36"] + t["bram18"] / 2
        t["lut_total"] = t["lut"] + t["lutram"]
        t["cycles"] = self.cycles
        t["latency_us"] = self.latency_us
        t["model_bits"] = self.model_bits
        t["buffer_bits"] = self.buffer_bits
        return t

    def usage(self) -> dict[str, tuple[float, float]]:
        """resource -> (used, available) in the device's units."""
        t = self.totals()
        d = self.device
        return {
            "lut": (nm.to_float(t["lut_total"]), d.lut),
            "ff": (nm.to_float(t["ff"]), d.ff),
            "dsp": (nm.to_float(t["dsp"]), d.dsp),
            "bram36": (nm.to_float(t["bram36_equiv"]), d.bram36),
            "lutram": (nm.to_float(t["lutram"]), d.budget()["lutram"]),
        }

    def overuse(self) -> dict[str, float]:
        """resource -> how much over budget (only those over)."""
        return {k: u - a for k, (u, a) in self.usage().items() if u > a}

    @property
    def fits(self) -> bool:
        return not self.overuse()

    def per_layer(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for u in self.units:
            key = u.layer or "top"
            row = out.setdefault(key, {k: 0.0 for k in (*RESOURCES, "cycles", "bits")})
            for k in row:
                row[k] += nm.to_float(getattr(u, k))
        return out

    def as_dict(self) -> dict:
        return {
            "device": self.device.to_dict(),
            "clock_mhz": self.clock_mhz,
            "units": [u.as_dict() for u in self.units],
            "per_layer": self.per_layer(),
            "totals": {k: nm.to_float(v) for k, v in self.totals().items()},
            "graph_bits": nm.to_float(self.graph_bits),
            "offchip": list(self.offchip),
            "offchip_bits": nm.to_float(self.offchip_bits),
            "usage": {k: {"used": u, "available": a} for k, (u, a) in self.usage().items()},
            "fits": self.fits,
            "overuse": self.overuse(),
            "calibration": calibration_info(),
        }


def _mem_unit(name, kind, width, depth, family, layer=None) -> UnitCost:
    m = ram_cost(width, depth, family)
    return UnitCost(
        name,
        kind,
        lut=m.lut,
        lutram=m.lutram,
        ff=m.ff,
        bram18=m.bram18,
        bram36=m.bram36,
        bits=width * depth,
        layer=layer,
    )


def layer_units(
    s: LayerSpec, g: dict, family: str, max_nodes, num_nodes, num_edges, index: int = 1, max_edges=None,
    groups=None, max_groups=None,
) -> list[UnitCost]:
    """Transform unit, linear buffer, attention unit and its memories (softmax attentions only; zero
    otherwise) and aggregation unit of one layer (``index`` 0: the transform reads the host's input
    features directly, see :mod:`hw_model.units.transform`; sparse, ``s.sparse``: ``groups`` of them, at
    most ``max_groups``, :mod:`lpgnas.sparse`). A layer of plain numbers is computed once per process (the
    DSE and the search's fronts cost the same layers many times); the caller gets copies."""
    max_edges = max_edges if max_edges is not None else max_nodes * 8
    fields = astuple(s)
    if not s.extra and not nm.is_tensor(*fields, max_nodes, num_nodes, num_edges, max_edges):
        key = (fields[:-1], tuple(sorted(g.items())), family, max_nodes, num_nodes, num_edges, index == 0, max_edges,
               groups, max_groups)
        units = _PLAIN_LAYER_UNITS.get(key)
        if units is None:
            if len(_PLAIN_LAYER_UNITS) >= PLAIN_LAYER_CACHE_SIZE:
                _PLAIN_LAYER_UNITS.clear()
            units = _PLAIN_LAYER_UNITS[key] = tuple(
                _layer_units(s, g, family, max_nodes, num_nodes, num_edges, index, max_edges, groups, max_groups))
        return [copy.copy(u) for u in units]
    return _layer_units(s, g, family, max_nodes, num_nodes, num_edges, index, max_edges, groups, max_groups)


#: layers of plain numbers costed so far, by everything their units depend on (``layer_units``)
_PLAIN_LAYER_UNITS: dict[tuple, tuple[UnitCost, ...]] = {}
PLAIN_LAYER_CACHE_SIZE = 20_000


def clear_caches() -> None:
    """Forget the calibration read and the layers costed with it (after calibration.json changed)."""
    _calibration.cache_clear()
    _PLAIN_LAYER_UNITS.clear()


def _layer_units(
    s: LayerSpec, g: dict, family: str, max_nodes, num_nodes, num_edges, index: int, max_edges, groups, max_groups
) -> list[UnitCost]:
    if s.sparse and (index != 0 or groups is None or max_groups is None):
        raise LpgnasError(f"{s.name}: only layer 0 reads sparse input features, and it needs their groups")
    tp = tr_unit.transform_params(s, g, max_nodes, direct=index == 0, max_groups=max_groups if s.sparse else None)
    ap = agg_unit.aggregate_params(s, g, max_nodes)
    xp = att_unit.attention_params(s, g, max_nodes, max_edges)
    tb = tr_unit.bram_estimation(tp, family)
    ab = agg_unit.bram_estimation(ap, family)
    rom_t, rom_a = tr_unit.weight_rom(tp, family), agg_unit.bias_rom(ap, family)
    from lpgnas.hw_model.units import FEATURES

    def srl(unit, p):  # pipeline registers Yosys turns into SRL16E (LUTs used as memory)
        return _lin(FEATURES[unit]["srl"](p, family), coefficients(family, unit, "srl"))

    t = UnitCost(
        f"{s.name}.transform",
        "transform",
        layer=s.name,
        lutram=srl("transform", tp),
        lut=tr_unit.lut_estimation(tp, family, coefficients(family, "transform", "lut")),
        ff=tr_unit.ff_estimation(tp, family, coefficients(family, "transform", "ff")),
        dsp=tr_unit.dsp_estimation(tp, family),
        bram18=tb["bram18"],
        bram36=tb["bram36"],
        cycles=tr_unit.cycles(tp, num_nodes, groups if s.sparse else None) + io_unit.STEP_OVERHEAD,
        bits=rom_t.bits,
        params=tp,
    )
    lin = _mem_unit(
        f"{s.name}.lin_buffer",
        "buffer",
        s.out_features * stored_width(s.lin_bits, s.lin_signed),
        max_nodes * s.heads,
        family,
        s.name,
    )
    xc = att_unit.softmax_cost(xp, family, {r: coefficients(family, "attention", r) for r in ("lut", "ff", "srl")})
    att = UnitCost(
        f"{s.name}.attention",
        "attention",
        layer=s.name,
        lut=xc["lut"],
        lutram=xc["lutram"],
        ff=xc["ff"],
        dsp=xc["dsp"],
        bram18=xc["bram18"],
        bram36=xc["bram36"],
        # the step, start to the next step's start (Verilator: the RTL formula includes the hand-off cycle)
        cycles=att_unit.attention_cycles(xp, num_nodes, num_edges),
        bits=att_unit.rom_bits(xp, family),
    )
    att_buffers = UnitCost(
        f"{s.name}.attention_buffers", "buffer", layer=s.name, bits=att_unit.buffer_bits(xp, family)
    )
    a = UnitCost(
        f"{s.name}.aggregate",
        "aggregate",
        layer=s.name,
        lutram=srl("aggregate", ap),
        lut=agg_unit.lut_estimation(ap, family, coefficients(family, "aggregate", "lut"))
        + act_unit.activation_lut(ap, family, coefficients(family, "activation", "lut")),
        ff=agg_unit.ff_estimation(ap, family, coefficients(family, "aggregate", "ff")),
        dsp=agg_unit.dsp_estimation(ap, family),
        bram18=ab["bram18"],
        bram36=ab["bram36"],
        cycles=agg_unit.cycles(ap, num_nodes, num_edges) + io_unit.STEP_OVERHEAD,
        bits=nm.where(nm.eq(s.has_bias, 1), rom_a.bits, 0.0) + agg_unit.table_bits(ap),
        params=ap,
    )
    return [t, lin, att, att_buffers, a]


def model_bits(s: LayerSpec):
    """Bits of weights, bias and attention vectors of a layer as the IR stores them (``heads * in * out *
    bits`` + bias + ``vectors * heads * out * att_bits`` for softmax attentions)."""
    wb = nm.where(nm.eq(s.w_kind, 0), s.w_bits, s.w_kind)
    return (
        s.heads * s.in_features * s.out_features * wb
        + nm.where(nm.eq(s.has_bias, 1), s.output_features * s.bias_bits, 0.0)
        + att_unit.vector_count(s.att_kind) * s.heads * s.out_features * s.att_bits
    )


def graph_bits(specs: list[LayerSpec], num_nodes, num_edges):
    """Host-side graph memories: row pointers, column indices, per-layer coefficients / reciprocals."""
    n, e = num_nodes, num_edges
    bits = (n + 1) * nm.bit_length(e) + e * nm.maximum(nm.bit_length(nm.maximum(n - 1, 1)), 1.0)
    for s in specs:
        host_coef = nm.eq(s.att_kind, ATT_CODE["gcn"])  # softmax coefficients are computed on chip
        bits = bits + nm.where(host_coef, e * stored_width(s.coef_bits, s.coef_signed), 0.0)
        bits = bits + nm.where(nm.eq(s.has_recip, 1), n * stored_width(s.recip_bits, s.recip_signed), 0.0)
    return bits


def estimate_specs(
    specs: list[LayerSpec],
    *,
    in_features,
    num_classes,
    max_nodes: int,
    max_edges: int,
    num_nodes,
    num_edges,
    device: Device | str,
    clock_mhz: float | None = None,
    integration: bool = True,
    max_nonzeros: int = 0,
    feature_nonzeros: Mapping[int, int] | None = None,
    rows: agg_unit.RowProfile | None = None,
    offchip: Sequence[str] = (),
) -> Estimate:
    """The cost of an accelerator given per-layer specs (numbers or tensors); ``integration=False`` leaves
    out the whole-design LUT / FF factors (used when fitting them). A sparse layer 0 (``specs[0].sparse``, its
    ``p_in`` a plain number) needs the capacity ``max_nonzeros`` and the graph's ``feature_nonzeros``
    histogram (:func:`lpgnas.sparse.nonzero_histogram`). ``rows``: the graph's row order for the units that
    follow an aggregation's rows (:func:`overlap`; default: every row of the mean degree). ``offchip``: the
    buffers in the device's external memory (``HardwareConfig.offchip``, :mod:`hw_model.offchip`): a row buffer
    there costs no RAM, each buffer its AXI adapters (units of kind ``axi``), and every step the stalls they add
    (units of kind ``stall``, named ``<buffer>.stall@<step>``)."""
    dev = load_device(device)
    fam = dev.family
    g = globals_for(max_nodes, max_edges)
    est = Estimate(dev, float(dev.clock_mhz if clock_mhz is None else clock_mhz))
    memory = oc.require_memory(dev, offchip)
    groups = cap = None
    if specs and specs[0].sparse:
        groups, cap = sparse_groups(specs[0], max_nodes, max_nonzeros, feature_nonzeros)
    shapes = None
    if offchip:
        shapes = oc.buffer_shapes(specs, max_nodes=max_nodes, max_edges=max_edges, num_classes=num_classes,
                                  max_groups=cap)
        oc.check_names(offchip, shapes)
    for i, s in enumerate(specs):
        units = layer_units(s, g, fam, max_nodes, num_nodes, num_edges, index=i, max_edges=max_edges,
                            groups=groups if i == 0 else None, max_groups=cap if i == 0 else None)
        if tensor_name(s.name, "lin") in offchip:  # the linear rows live in external memory
            units = [_offchip_buffer(u) if u.kind == "buffer" and u.name == f"{s.name}.lin_buffer" else u
                     for u in units]
        est.units.extend(units)
        buf = _mem_unit(f"buf_{i + 1}", "buffer", s.output_features * stored_width(s.out_bits, s.out_signed),
                        max_nodes, fam)
        est.units.append(_offchip_buffer(buf) if f"buf_{i + 1}" in offchip else buf)
        est.model_bits = est.model_bits + model_bits(s)
    sl = specs[-1]
    ow = stored_width(sl.out_bits, sl.out_signed)
    haw_out = max(1, (int(max_nodes * num_classes) - 1).bit_length())
    store_p = {"NW": g["nw"], "HAW": haw_out, "W": ow, "F": num_classes}
    est.units.append(
        UnitCost(
            "store",
            "io",
            cycles=io_unit.store_cycles(num_nodes, num_classes) + io_unit.STEP_OVERHEAD,
            lut=_lin(io_unit.store_lut_features(store_p), IO_COEF["store_lut"]),
            ff=_lin(io_unit.store_ff_features(store_p), IO_COEF["store_ff"]),
            params=store_p,
        )
    )
    overlap(est.units, [s.name for s in specs], rows or agg_unit.mean_rows(num_nodes, num_edges))
    # per layer transform, attention (softmax attentions) and aggregate, store (no load step)
    nsteps = 1 + 2 * len(specs) + sum((nm.where(att_unit.is_softmax(s.att_kind), 1.0, 0.0) for s in specs), 0.0)
    est.units.append(
        UnitCost(
            "sequencer",
            "control",
            lut=io_unit.sequencer_luts(nsteps, g["nw"], g["ew_addr"], len(specs)),
            ff=io_unit.sequencer_ffs(nsteps),
        )
    )
    if integration:  # whole-design factors (cross-unit optimisation by Yosys), see benchmarks/cost_model/calibrate.py
        for u in est.units:
            u.lut = u.lut * integration_scale(fam, "lut", u.kind)
            u.ff = u.ff * integration_scale(fam, "ff", u.kind)
    if offchip:  # structural adapter counts (coefficient 1, no integration factor) and the stalls per step
        assert memory is not None and shapes is not None
        cost = oc.offchip_costs(
            specs, offchip, shapes, memory, oc.memory_timing(memory, dev.clock_mhz, est.clock_mhz), fam,
            max_nodes=max_nodes, max_edges=max_edges, num_nodes=num_nodes, num_edges=num_edges,
            num_classes=num_classes, groups=groups, max_groups=cap)
        for name, layer, p, res in cost.adapters:
            est.units.append(UnitCost(name, "axi", layer=layer, params=p, **res))
        for name, layer, cycles in cost.stalls:
            est.units.append(UnitCost(name, "stall", layer=layer, cycles=cycles))
        est.offchip, est.offchip_bits = list(offchip), cost.bits
    est.buffer_bits = sum((u.bits for u in est.units if u.kind == "buffer"), 0.0)
    est.graph_bits = graph_bits(specs, max_nodes, max_edges)
    return est


def _offchip_buffer(unit: UnitCost) -> UnitCost:
    """A row buffer moved to external memory: no RAM, no bits on chip (its adapters are costed apart)."""
    return UnitCost(unit.name, unit.kind, layer=unit.layer)


def follower_steps(unit: UnitCost):
    """Steps per row of a unit that follows an aggregation's rows: a dense transform or the store."""
    assert unit.params is not None
    return io_unit.store_row_steps(unit.params["F"]) if unit.kind == "io" else tr_unit.row_steps(unit.params)


def overlap(units: list[UnitCost], layer_names: list[str], rows: agg_unit.RowProfile) -> None:
    """Charge each unit that follows an aggregation's rows (layer k+1's transform after layer k's aggregation,
    the store after the last) the cycles by which it outlasts that aggregation: both start together, the follower
    takes its cycles alone plus ``FOLLOW_LATENCY`` plus :func:`agg_unit.follow_steps` (and always ends last),
    so the units' cycles still add up to the run's (docs/rtl.md, "Total cycles")."""
    by_name = {u.name: u for u in units}
    for k, name in enumerate(layer_names):
        agg = by_name[f"{name}.aggregate"]
        follower = by_name[f"{layer_names[k + 1]}.transform"] if k + 1 < len(layer_names) else by_name["store"]
        assert agg.params is not None
        follows = agg_unit.FOLLOW_LATENCY + agg_unit.follow_steps(agg.params, follower_steps(follower), rows)
        follower.cycles = follower.cycles + follows - agg.cycles


def sparse_groups(s: LayerSpec, max_nodes: int, max_nonzeros: int, feature_nonzeros: Mapping[int, int] | None
                  ) -> tuple[int, int]:
    """(groups of the graph's features, the most groups the design holds) of a sparse layer 0 at its ``p_in``,
    or a clear error naming what is missing."""
    if feature_nonzeros is None:
        raise LpgnasError(
            "layer 0 reads sparse input features, so its cycles need the features' non-zeros per row: pass the "
            "graph's GraphStats (lpgnas.datasets.graph_stats) or feature_nonzeros=lpgnas.sparse.nonzero_histogram(x)"
        )
    if max_nonzeros < 1:
        raise LpgnasError("layer 0 reads sparse input features but max_nonzeros is 0; set the design's capacity")
    p_in = int(nm.to_float(s.p_in))
    return sparse.group_count(feature_nonzeros, p_in), sparse.max_groups(max_nonzeros, max_nodes, p_in)


IO_COEF = {  # see hw_model/units/io.py
    "store_lut": {"ctrl": 1.0, "row": 1.0, "const": 4.0},
    "store_ff": {"ctrl": 1.0, "row": 1.0, "const": 5.0},
}


def _lin(features: dict, coef: dict):
    return sum(coef.get(k, 0.0) * v for k, v in features.items())


def graph_size(stats_or_graph: Any) -> tuple[int, int]:
    """(N, E with self-loops) of a GraphStats, a CSRGraph, a dict or a tuple."""
    if isinstance(stats_or_graph, tuple):
        return int(stats_or_graph[0]), int(stats_or_graph[1])
    if isinstance(stats_or_graph, dict):
        return int(stats_or_graph["num_nodes"]), int(
            stats_or_graph.get("num_edges_with_self_loops", stats_or_graph.get("num_edges"))
        )
    if hasattr(stats_or_graph, "num_edges_with_self_loops"):
        return int(stats_or_graph.num_nodes), int(stats_or_graph.num_edges_with_self_loops)
    return int(stats_or_graph.num_nodes), int(stats_or_graph.num_edges)


def graph_rows(stats: Any) -> agg_unit.RowProfile:
    """The row order a follower's cycles need (:class:`agg_unit.RowProfile`): exact from a CSRGraph's
    ``row_ptr``, an upper bound from a GraphStats' (or its dict's) ``degree_histogram``, else every row of the
    mean degree (``(N, E)``); a RowProfile as is."""
    if isinstance(stats, agg_unit.RowProfile):
        return stats
    if hasattr(stats, "row_ptr"):
        return agg_unit.exact_rows(stats.row_ptr)
    hist = stats.get("degree_histogram") if isinstance(stats, dict) else getattr(stats, "degree_histogram", None)
    return agg_unit.worst_rows(hist) if hist else agg_unit.mean_rows(*graph_size(stats))


def feature_histogram(stats: Any) -> dict[int, int] | None:
    """The input features' ``{non-zeros in a row: rows}`` of a GraphStats (``feature_nonzeros``) or a dict
    with ``"feature_nonzeros"`` (JSON's string keys read as numbers); None when it has none."""
    hist = stats.get("feature_nonzeros") if isinstance(stats, dict) else getattr(stats, "feature_nonzeros", None)
    return None if hist is None else {int(k): int(v) for k, v in hist.items()}


def estimate(
    ir, hw, stats, device: Device | str | None = None, *, integration: bool = True,
    feature_nonzeros: Mapping[int, int] | None = None,
) -> Estimate:
    """Cost of ``ir`` with hardware config ``hw`` running on a graph with ``stats`` on ``device``
    (default: ``hw.device``). ``hw.max_nodes`` / ``hw.max_edges`` size the buffers; the graph's N and
    E (self-loops included) set the cycles, and its row order (:func:`graph_rows`: a CSRGraph's exactly, a
    GraphStats' degree histogram as a bound, else rows of the mean degree) the overlap's (:func:`overlap`).
    A sparse layer 0 takes its groups from ``feature_nonzeros``
    (:func:`lpgnas.sparse.nonzero_histogram` of the codes the design reads, whose non-zeros may be fewer than
    the float features') or else from ``stats`` (:func:`feature_histogram`), one row per node."""
    hw.check(ir)
    n, e = graph_size(stats)
    specs = [spec_from_ir(layer, lhw) for layer, lhw in zip(ir.layers, hw.layers, strict=True)]
    hist = feature_nonzeros if feature_nonzeros is not None else feature_histogram(stats)
    if specs[0].sparse and hist is not None and sum(hist.values()) != n:
        raise LpgnasError(
            f"the feature histogram counts {sum(hist.values())} rows but the graph has {n} nodes; take it from "
            "the same (sub)graph's features"
        )
    return estimate_specs(
        specs,
        in_features=ir.in_features,
        num_classes=ir.num_classes,
        max_nodes=hw.max_nodes,
        max_edges=hw.max_edges,
        num_nodes=n,
        num_edges=e,
        device=device or hw.device,
        clock_mhz=hw.clock_mhz,
        integration=integration,
        max_nonzeros=hw.max_nonzeros,
        feature_nonzeros=hist,
        rows=graph_rows(stats),
        offchip=hw.offchip,
    )
