"""Off-chip buffers (``HardwareConfig.offchip``) in the cost model: their adapters, parameters, resources and stalls.

A buffer named in ``offchip`` lives in the device's external memory (:class:`lpgnas.devices.ExternalMemory`)
behind its own AXI4 master (docs/rtl.md, "Off-chip buffers"): a host buffer gets one read adapter (``stream``;
the outputs a ``write`` adapter), a ``<layer>_lin`` buffer a ``write`` adapter (its transform) and a ``gather``
reader (the aggregation's reads by edge, the attention unit's rows), a ``buf_<k>`` a ``write`` adapter (the
aggregation of layer k-1) and a ``stream`` reader (the unit that follows its rows). Each adapter's parameters come
from :func:`lpgnas.hw_model.units.axi.axi_port_params` of the buffer's element width and depth
(:func:`buffer_shapes`); :func:`adapter_params` is what the RTL writer instantiates, the model costs the same dicts.

Cycles = the design's ce-cycles + every off-chip buffer's stalls, per step (:func:`offchip_costs`), from the
access counts the cycle model already has: rows, edges, groups, passes per row (the step's loop nest) and the
unit's own cycles (its pace). Everything here takes plain numbers or tensors (:mod:`hw_model.numeric`), so the
expected cost (:mod:`hw_model.expected`) reads the same derivation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lpgnas.buffers import OUTPUTS
from lpgnas.devices import Device, ExternalMemory
from lpgnas.errors import LpgnasError
from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.params import ATT_CODE, LayerSpec, globals_for, stored_width
from lpgnas.hw_model.units import aggregate as agg_unit
from lpgnas.hw_model.units import attention as att_unit
from lpgnas.hw_model.units import axi
from lpgnas.hw_model.units import io as io_unit
from lpgnas.hw_model.units import transform as tr_unit
from lpgnas.names import tensor_name


@dataclass(frozen=True)
class MemoryTiming:
    """The external memory as the adapters see it at the design's clock: latencies in kernel cycles and the cycles
    one bus beat takes (1 while a port's share of the memory's peak keeps up with ``DW`` bits per cycle)."""

    read_latency: float
    write_latency: float
    beat_cycles: float


def memory_timing(memory: ExternalMemory, device_clock_mhz: float, clock_mhz: float) -> MemoryTiming:
    """``memory``'s latencies (given in cycles at ``device_clock_mhz``) at ``clock_mhz``, and the beat time: a port
    moves ``data_bits / 8`` bytes per cycle unless its share of the peak (``peak / ports``) is less."""
    scale = clock_mhz / device_clock_mhz
    port_bytes_per_s = memory.data_bits / 8 * clock_mhz * 1e6
    share = memory.peak_bytes_per_s / memory.ports
    return MemoryTiming(float(nm.ceil(memory.read_latency * scale)), float(nm.ceil(memory.write_latency * scale)),
                        max(1.0, port_bytes_per_s / share))


def require_memory(device: Device, offchip: Sequence[str]) -> ExternalMemory | None:
    """The device's external memory, or a clear error when ``offchip`` names buffers and it has none."""
    if offchip and device.memory is None:
        raise LpgnasError(
            f"device {device.name} has no external memory, so the buffers in offchip ({', '.join(offchip)}) have "
            "nowhere to go: use a device with memory (the presets have it) or give the device file a \"memory\" "
            "object (docs/cost_model.md, \"Off-chip buffers\"), or keep offchip empty")
    return device.memory


def buffer_kind(name: str) -> str:
    """``"host"``, ``"lin"`` or ``"buf"`` for a buffer name of :mod:`lpgnas.buffers`."""
    if name.endswith("_lin"):
        return "lin"
    if name.startswith("buf_") and name[4:].isdigit():
        return "buf"
    return "host"


def adapter_kinds(name: str) -> tuple[str, ...]:
    """The adapters an off-chip buffer takes: lin ``write`` + ``gather``, buf ``write`` + ``stream``, the outputs
    ``write``, every other host buffer ``stream``."""
    kind = buffer_kind(name)
    if kind == "lin":
        return ("write", "gather")
    if kind == "buf":
        return ("write", "stream")
    return ("write",) if name == OUTPUTS else ("stream",)


@dataclass
class BufferShape:
    """One buffer as external memory holds it: element width, depth (the capacity), and ``present`` (1, or 0 /
    a tensor where the buffer exists only for some options: a gcn layer's coefficients, a mean's reciprocals)."""

    element_bits: Any
    depth: Any
    present: Any = 1.0
    layer: str | None = None


def buffer_shapes(specs: Sequence[LayerSpec], *, max_nodes: int, max_edges: int, num_classes, max_groups=None
                  ) -> dict[str, BufferShape]:
    """Every buffer :mod:`lpgnas.buffers` may name, with its element width and depth: the widths are the ports'
    and RAMs' of the design (``transform_params``, ``aggregate_params``, :func:`globals_for`); a banked host array
    (dense features: ``P_in`` lanes of group ``n*IG + ig``; sparse columns / values: the ``P_in`` entries of a
    group) is one buffer whose element is the whole group."""
    g = globals_for(max_nodes, max_edges)
    s0 = specs[0]
    tp0 = tr_unit.transform_params(s0, g, max_nodes, direct=True, max_groups=max_groups if s0.sparse else None)
    shapes: dict[str, BufferShape] = {
        "features": BufferShape(tp0["P_IN"] * tp0["XW"], max_nodes * tp0["IG"]),
        "row_ptr": BufferShape(g["ew"], max_nodes + 1),
        "col_idx": BufferShape(g["ciw"], max_edges),
    }
    if s0.sparse:
        shapes.update({
            "feat_ptr": BufferShape(tp0["GW"], max_nodes + 1),
            "feat_col": BufferShape(tp0["P_IN"] * tp0["CW"], max_groups),
            "feat_val": BufferShape(tp0["P_IN"] * tp0["XW"], max_groups),
        })
    for k, s in enumerate(specs):
        ap = agg_unit.aggregate_params(s, g, max_nodes)
        host_coef = nm.where(nm.eq(s.att_kind, ATT_CODE["gcn"]), 1.0, 0.0)  # softmax coefficients are on chip
        shapes[tensor_name(s.name, "coef")] = BufferShape(ap["CW"], max_edges, host_coef, s.name)
        shapes[tensor_name(s.name, "recip")] = BufferShape(ap["RW"], max_nodes, nm.where(nm.eq(s.has_recip, 1),
                                                                                          1.0, 0.0), s.name)
        shapes[tensor_name(s.name, "lin")] = BufferShape(
            s.out_features * stored_width(s.lin_bits, s.lin_signed), max_nodes * s.heads, 1.0, s.name)
        shapes[f"buf_{k + 1}"] = BufferShape(s.output_features * stored_width(s.out_bits, s.out_signed), max_nodes)
    last = specs[-1]
    shapes[OUTPUTS] = BufferShape(stored_width(last.out_bits, last.out_signed), max_nodes * num_classes)
    return shapes


def port_params(kind: str, element_bits, data_bits: int, depth, latency: float = 0) -> dict:
    """:func:`axi_port_params` of numbers, or of tensors (each distinct (width, depth) pair through the same
    function, the results selected back into tensors): the one derivation, whatever the caller holds."""
    if not nm.is_tensor(element_bits, depth):
        return axi.axi_port_params(kind, int(round(float(element_bits))), data_bits, int(round(float(depth))),
                                   int(latency))
    import torch

    bits, dep = torch.broadcast_tensors(torch.as_tensor(element_bits, dtype=torch.float64),
                                        torch.as_tensor(depth, dtype=torch.float64))
    out: dict[str, Any] = {}
    for b, d in torch.unique(torch.stack([bits.reshape(-1), dep.reshape(-1)], dim=1), dim=0).tolist():
        p = axi.axi_port_params(kind, int(round(b)), data_bits, int(round(d)), int(latency))
        mask = (bits == b) & (dep == d)
        for key, v in p.items():
            out[key] = torch.where(mask, torch.as_tensor(float(v), dtype=torch.float64),
                                   out.get(key, torch.zeros_like(bits)))
    return out


def check_names(offchip: Sequence[str], shapes: dict[str, BufferShape]) -> None:
    """A clear error for a name that is no buffer of this design, or a repeated one."""
    for name in offchip:
        if name not in shapes:
            raise LpgnasError(f"offchip names {name!r}, not a buffer of this design; known: {', '.join(shapes)}")
    if len(set(offchip)) != len(offchip):
        raise LpgnasError(f"offchip names a buffer twice: {list(offchip)}")


def design_shapes(ir, hw) -> dict[str, BufferShape]:
    """:func:`buffer_shapes` of ``ir``'s accelerator with parallelism ``hw`` (capacities from ``hw``)."""
    from lpgnas.hw_model.params import spec_from_ir
    from lpgnas.sparse import max_groups

    specs = [spec_from_ir(layer, lhw) for layer, lhw in zip(ir.layers, hw.layers, strict=True)]
    groups = max_groups(hw.max_nonzeros, hw.max_nodes, hw.layers[0].p_in) if specs[0].sparse else None
    return buffer_shapes(specs, max_nodes=hw.max_nodes, max_edges=hw.max_edges, num_classes=ir.num_classes,
                         max_groups=groups)


def adapter_params(ir, hw, device: Device | str | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """Per buffer in ``hw.offchip``: per adapter kind (:func:`adapter_kinds`), the parameters of its AXI adapter
    (:func:`lpgnas.hw_model.units.axi.axi_port_params` at the device memory's port width): what the RTL writer
    instantiates, and the cost model costs. ``device`` defaults to ``hw.device``."""
    from lpgnas.devices import load_device

    dev = load_device(device or hw.device)
    hw.check(ir)
    memory = require_memory(dev, hw.offchip)
    if not hw.offchip:
        return {}
    shapes = design_shapes(ir, hw)
    latency = memory_timing(memory, dev.clock_mhz, hw.clock_mhz).read_latency
    return {name: {kind: port_params(kind, shapes[name].element_bits, memory.data_bits, shapes[name].depth, latency)
                   for kind in adapter_kinds(name)} for name in hw.offchip}


# ---- access counts and stalls per step ------------------------------------------------------------------------

def row_stream_stalls(p, timing: MemoryTiming, rows, per_row, passes, cycles):
    """Stalls of a stream read over ``rows`` rows of ``per_row`` elements, each read ``passes`` times in a row
    (the loop re-reads a row from its start), in ``cycles`` ce-cycles. A re-read hits while the row's first word
    is still in the window, which reaches back to the start of the reader's burst-aligned block of ``BW`` words:
    a row lies in one block with probability ``1 - (per_row - 1) / (EPW * BW)`` (rows at any offset), else the
    re-read restarts and streams the row again. The run starts with a restart; the consumer's pace is ``cycles``
    over the words streamed (:func:`lpgnas.hw_model.units.axi.stream_stalls`)."""
    block = p["EPW"] * p["BW"]
    cross = nm.minimum(nm.maximum(per_row - 1.0, 0.0) / block, 1.0)
    again = (passes - 1.0) * cross
    words = rows * per_row / p["EPW"] * (1.0 + again)
    per_burst = cycles * p["BW"] / nm.maximum(words, 1.0)
    return axi.stream_stalls(p, timing.read_latency, words, 1.0 + rows * again, per_burst, timing.beat_cycles)


@dataclass
class OffchipCost:
    """What the off-chip buffers add: per adapter its resources (``adapters``: name, layer, params, resource
    dict), per step its stall cycles (``stalls``: name, layer, cycles), and the buffers' bits in external memory."""

    adapters: list[tuple[str, str | None, dict, dict]] = field(default_factory=list)
    stalls: list[tuple[str, str | None, Any]] = field(default_factory=list)
    bits: Any = 0.0


def offchip_costs(
    specs: Sequence[LayerSpec], offchip: Sequence[str], shapes: dict[str, BufferShape], memory: ExternalMemory,
    timing: MemoryTiming, family: str, *, max_nodes: int, max_edges: int, num_nodes, num_edges, num_classes,
    groups=None, max_groups=None,
) -> OffchipCost:
    """The adapters of the buffers in ``offchip`` and the stalls they add to each step: layer 0's transform
    (features read dense, or the grouped CSR read sparse; its linear buffer written), per layer its transform
    (``buf_<k>`` read as the follower of aggregation k-1, ``<layer>_lin`` written), its attention unit (softmax
    attentions: the linear rows and the CSR), its aggregation (row pointers, column indices, coefficients,
    reciprocals streamed; the linear buffer gathered by edge; ``buf_<k+1>`` written), the store (``buf_L`` read,
    the outputs written), and a follower's wait for rows that commit a burst at a time
    (:func:`lpgnas.hw_model.units.axi.commit_delay`)."""
    out = OffchipCost()
    if not offchip:
        return out
    names = set(offchip)
    g = globals_for(max_nodes, max_edges)
    n, e = num_nodes, num_edges
    params: dict[tuple[str, str], dict] = {}
    for name in offchip:
        shape = shapes[name]
        out.bits = out.bits + shape.present * shape.element_bits * shape.depth
        for kind in adapter_kinds(name):
            p = params[name, kind] = port_params(kind, shape.element_bits, memory.data_bits, shape.depth,
                                                 timing.read_latency)
            res = {k: shape.present * v for k, v in axi.adapter_cost(kind, p, family).items()}
            out.adapters.append((f"{name}.axi_{kind}", shape.layer, p, res))

    def stall(name: str, step: str, layer: str | None, cycles) -> None:
        out.stalls.append((f"{name}.stall@{step}", layer, shapes[name].present * cycles))

    lat, wlat, beat = timing.read_latency, timing.write_latency, timing.beat_cycles
    tps, aps = [], []
    for i, s in enumerate(specs):
        tps.append(tr_unit.transform_params(s, g, max_nodes, direct=i == 0,
                                            max_groups=max_groups if i == 0 and s.sparse else None))
        aps.append(agg_unit.aggregate_params(s, g, max_nodes))
    mean_degree = e / nm.maximum(n, 1.0)
    for i, s in enumerate(specs):
        tp, ap = tps[i], aps[i]
        step = f"{s.name}.transform"
        t_cycles = tr_unit.cycles(tp, n, groups if i == 0 and s.sparse else None)
        passes = tp["HEADS"] * tp["OG"]
        if i == 0 and s.sparse:
            if "feat_ptr" in names:
                stall("feat_ptr", step, s.name,
                      row_stream_stalls(params["feat_ptr", "stream"], timing, n + 1, 1.0, 1.0, t_cycles))
            for name in ("feat_col", "feat_val"):
                if name in names:
                    stall(name, step, s.name, row_stream_stalls(params[name, "stream"], timing, n,
                                                                groups / nm.maximum(n, 1.0), passes, t_cycles))
        elif i == 0 and "features" in names:
            stall("features", step, s.name,
                  row_stream_stalls(params["features", "stream"], timing, n, tp["IG"], passes, t_cycles))
        lin = tensor_name(s.name, "lin")
        if lin in names:  # the transform writes one linear row per (node, head)
            pw = params[lin, "write"]
            stall(lin, step, s.name, axi.write_stalls(pw, wlat, n * s.heads / pw["EPW"], t_cycles, 1, beat))
        # attention unit (softmax attentions): phase A reads the linear rows in order, phase B walks the CSR
        # once per head (pass 1 reads col_idx)
        soft = nm.where(att_unit.is_softmax(s.att_kind), 1.0, 0.0)
        x_cycles = att_unit.attention_cycles(att_unit.attention_params(s, g, max_nodes, max_edges),
                                             n, e)
        step = f"{s.name}.attention"
        if lin in names:
            pg = params[lin, "gather"]
            stall(lin, step, s.name, soft * axi.gather_stalls(pg, lat, n * s.heads / pg["EPW"], beat))
        if "row_ptr" in names:
            stall("row_ptr", step, s.name,
                  soft * row_stream_stalls(params["row_ptr", "stream"], timing, n + 1, 1.0, 1.0, x_cycles))
        if "col_idx" in names:
            stall("col_idx", step, s.name, soft * row_stream_stalls(params["col_idx", "stream"], timing, n,
                                                                    mean_degree, s.heads, x_cycles))
        # aggregation: per node, per head, per edge (FG steps each, one element read), then the finaliser
        step = f"{s.name}.aggregate"
        a_cycles = agg_unit.cycles(ap, n, e)
        if "row_ptr" in names:
            stall("row_ptr", step, s.name,
                  row_stream_stalls(params["row_ptr", "stream"], timing, n + 1, 1.0, 1.0, a_cycles))
        for name in ("col_idx", tensor_name(s.name, "coef")):
            if name in names:
                stall(name, step, s.name,
                      row_stream_stalls(params[name, "stream"], timing, n, mean_degree, s.heads, a_cycles))
        recip = tensor_name(s.name, "recip")
        if recip in names:
            stall(recip, step, s.name, row_stream_stalls(params[recip, "stream"], timing, n, 1.0, 1.0, a_cycles))
        if lin in names:  # every (edge, head) reads another linear row than the last
            stall(lin, step, s.name, axi.gather_stalls(params[lin, "gather"], lat, e * s.heads, beat))
        buf = f"buf_{i + 1}"
        if buf in names:
            pw = params[buf, "write"]
            stall(buf, step, s.name, axi.write_stalls(pw, wlat, n / pw["EPW"], a_cycles, 1, beat))
            # the follower (the next transform, or the store) reads buf_<i+1> as the rows commit
            if i + 1 < len(specs):
                follower, f_layer, f_row = f"{specs[i + 1].name}.transform", specs[i + 1].name, tr_unit.row_steps(
                    tps[i + 1])
            else:
                follower, f_layer, f_row = "store", None, io_unit.store_row_steps(num_classes)
            a_row = a_cycles / nm.maximum(n, 1.0)
            pr = params[buf, "stream"]
            # a follower slower than the rows runs behind them and its prefetch is free; a faster one waits for
            # each burst to commit and then for its data
            per_burst = nm.where(nm.ge(f_row, a_row), pr["BW"] * pr["EPW"] * f_row, 0.0)
            stall(buf, follower, f_layer,
                  axi.stream_stalls(pr, lat, n / pr["EPW"], 1.0, per_burst, beat)
                  + axi.commit_delay(pw, wlat, beat)
                  + (nm.minimum(pw["BW"] * pw["EPW"], n) - 1.0) * nm.minimum(f_row, a_row))
    if OUTPUTS in names:
        pw = params[OUTPUTS, "write"]
        store = io_unit.store_cycles(n, num_classes)
        stall(OUTPUTS, "store", None, axi.write_stalls(pw, wlat, n * num_classes / pw["EPW"], store, 1, beat))
    return out
