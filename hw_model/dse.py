"""Design-space exploration: per-layer parallelism and multiplier mapping that minimise latency within the
device budget.

Candidates per layer: ``p_in`` and ``p_out`` from the divisors of (and powers of two up to) the layer's
``in_features`` / ``out_features``, ``p_agg`` likewise over ``out_features``, and for a layer whose
fix-point products go to DSP slices under ``auto`` (Yosys's rule: products of >= 9 bits) also ``lut``
(lpg_mul's shift-and-add). The search is greedy (FINN-style folding): start from the smallest design (all
ones, ``auto``); it must fit, else :class:`~lpgnas.errors.HardwareFitError` says which resource is over and
by how much. The latency is the estimate's cycles (the units' in sequence, an aggregation overlapping the unit
that follows its rows: the graph's row order counts, ``stats`` passes it on); at each step
every single increase of one layer's ``p_in`` / ``p_out`` / ``p_agg`` to its next useful value is tried (with
buffers off chip also to the next power of two, :func:`_steps`),
under each of that layer's mappings; an increase that fits under none is dropped for good (costs grow with
parallelism), and the trial with the largest cycle saving per added share of the device (the largest of
added LUT / LUTs available, added DSP / DSPs, added RAMB36 / RAMB36s) is kept, on a tie the one that adds
less, then the first in the order tried (deterministic). It stops when no increase fits or saves cycles, or
when the best one saves too little for its area: a fraction of the cycles per added share of the device
(:func:`elasticity`) below :data:`MIN_GAIN` (``explore(..., min_gain=)``; 0: any saving is taken).

Layer 0's input mode (``dense`` or ``sparse``, :mod:`lpgnas.sparse`) is explored as two separate searches
when the features' row histogram is known (a sparse read's cost depends on it); the faster result wins.

Buffer placement (``explore(..., offchip=)``, :data:`OFFCHIP_MODES`; ``HardwareConfig.offchip``, docs/rtl.md
"Off-chip buffers"). ``"never"`` (the default for now): everything as before, no buffer in external memory.
``"auto"`` on a device with external memory (:class:`lpgnas.devices.ExternalMemory`): the host buffers (features,
CSR, coefficients, reciprocals, outputs) go off chip always, since that is where a real board's host puts a graph
(it does not arrive in BRAM; on chip they are ``ap_memory`` ports the model does not charge). If the smallest
design then does not fit, row buffers follow one at a time until it does (:func:`placements`): the ``buf_<k>``
(read in order: a stream) first, then the ``<layer>_lin`` (gathered by edge: the slowest), each group largest
(most block RAM) first. The folding search runs from the first placement whose smallest design fits (per input
mode; the faster mode wins as before): a buffer goes off chip only when the design needs it to fit (a later
placement that frees block RAM for more lanes is not tried; where RAM limits the lanes it could be faster).
When even every buffer off chip does not fit, :class:`~lpgnas.errors.HardwareFitError` names what is over. A
device without external memory keeps everything on chip in either mode.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence

from lpgnas.buffers import host_buffers, internal_buffers
from lpgnas.devices import Device, load_device
from lpgnas.errors import HardwareFitError, LpgnasError
from lpgnas.hw_model import numeric as nm
from lpgnas.hw_model.model import Estimate, estimate
from lpgnas.hw_model.params import spec_from_ir
from lpgnas.hw_model.units.aggregate import RowProfile
from lpgnas.hw_model.units.transform import products_on_dsp
from lpgnas.hwconfig import INPUT_MODES, HardwareConfig, LayerHW

#: the most lanes the exploration gives one loop (``p_in``, ``p_out``, ``p_agg``), by default
MAX_PARALLEL = 64


def _candidates(n: int, limit: int = MAX_PARALLEL) -> list[int]:
    """Useful parallelism values for a loop of ``n``: those that reduce ceil(n/p), up to ``limit``."""
    out, seen = [], set()
    for p in range(1, min(n, limit) + 1):
        c = math.ceil(n / p)
        if c not in seen:
            seen.add(c)
            out.append(p)
    return out


#: buffer placements :func:`explore` knows: ``never`` (everything on chip), ``auto`` (host buffers in external
#: memory, row buffers too when the design does not fit otherwise)
OFFCHIP_MODES = ("never", "auto")

#: resources the exploration scores an increase by (``Estimate.usage`` keys)
SCORED = ("lut", "dsp", "bram36")

#: the least :func:`elasticity` an increase must have to be taken. 0.1: 1% of the device must save 0.1% of
#: the cycles (spent at that rate, the whole device buys about 10%). It lies between the two LUT-multiplier
#: moves it decides (docs/cost_model.md, "Design-space exploration"): karate W8A8's layer 0 (0.07, 68% of an
#: xc7z020 for 4.6% of 7 us: refused) and Cora W8A8's (0.34, 64% for 22%: taken); Cora's latencies lose at
#: most 1.8%.
MIN_GAIN = 0.1


def added_share(before: Estimate, after: Estimate) -> float:
    """The largest added fraction of the device over :data:`SCORED` (negative when all shrink)."""
    b, a = before.usage(), after.usage()
    return max((nm.to_float(a[k][0]) - nm.to_float(b[k][0])) / max(a[k][1], 1) for k in SCORED)


def elasticity(before: Estimate, after: Estimate) -> float:
    """The fraction of ``before``'s cycles that ``after`` saves per :func:`added_share` of the device (the share
    floored at one LUT's, so an increase that adds nothing or shrinks the design scores high)."""
    c = nm.to_float(before.cycles)
    return (c - nm.to_float(after.cycles)) / c / max(added_share(before, after), 1.0 / after.device.lut)


def dsp_mapped_layers(ir) -> list[int]:
    """Layers whose fix-point weight products go to DSP slices under ``auto`` (candidates for ``lut``)."""
    return [i for i, layer in enumerate(ir.layers) if products_on_dsp(spec_from_ir(layer))]


def _mappings(current: str, lut_allowed: bool) -> tuple[str, ...]:
    """Mappings an increase is tried under: the layer's current one, and the other of ``auto`` / ``lut`` if
    the layer's products may be mapped to LUTs."""
    return ("auto", "lut") if lut_allowed else (current,)


def describe_overuse(est: Estimate) -> str:
    """Each resource over the device's budget: ``RAMB36 1,352.0 of 140 (1,212.0 over, 966%)``, joined by '; '."""
    parts = []
    for k, (used, avail) in est.usage().items():
        if used > avail:
            unit = {"bram36": "RAMB36"}.get(k, k.upper())
            parts.append(
                f"{unit} {used:,.1f} of {avail:,} ({used - avail:,.1f} over, {100 * used / max(avail, 1):.0f}%)"
            )
    return "; ".join(parts)


def explore(
    ir,
    stats,
    device: Device | str,
    *,
    max_nodes: int | None = None,
    max_edges: int | None = None,
    clock_mhz: float | None = None,
    max_parallel: int = MAX_PARALLEL,
    utilisation: float = 1.0,
    lut_mapping: bool = True,
    min_gain: float = MIN_GAIN,
    feature_nonzeros: Mapping[int, int] | None = None,
    max_nonzeros: int | None = None,
    inputs: Sequence[str] = INPUT_MODES,
    offchip: str = "never",
) -> tuple[HardwareConfig, Estimate]:
    """Choose (p_in, p_out, p_agg, mult) per layer, how layer 0 reads its input and (``offchip="auto"``) which
    buffers live in external memory; return the config and its estimate.

    ``stats``: the graph (CSRGraph: exact cycles; GraphStats: its degree histogram bounds them; ``(N, E)``: mean
    degree, :func:`hw_model.model.graph_rows`); ``max_nodes``/``max_edges`` default to its size.
    ``utilisation`` < 1 keeps headroom (e.g. 0.8 of every resource). ``clock_mhz`` defaults to the device's.
    ``lut_mapping`` False keeps every layer's multipliers ``auto``. ``min_gain``: the least elasticity
    (relative cycle saving per added device share) an increase needs (:data:`MIN_GAIN`; 0: any saving).
    ``inputs``: the layer-0 input modes tried (:data:`lpgnas.hwconfig.INPUT_MODES`); ``sparse`` needs the
    features' row histogram (``feature_nonzeros``, :func:`lpgnas.sparse.nonzero_histogram` of the codes, or
    ``stats``'s) and holds ``max_nonzeros`` (default: the histogram's). Each mode is explored on its own; the
    faster design wins, the smaller device share on a tie, dense on a full tie. ``offchip``: the buffer
    placement (:data:`OFFCHIP_MODES`, the module docstring).
    """
    from lpgnas.hw_model.model import feature_histogram, graph_rows

    if offchip not in OFFCHIP_MODES:
        raise LpgnasError(f"offchip={offchip!r}: not one of {', '.join(OFFCHIP_MODES)}")
    dev = _budget(load_device(device), utilisation)
    rows = graph_rows(stats)  # once: the estimates below read its row order
    n, e = rows.num_nodes, rows.num_edges
    hist = feature_nonzeros if feature_nonzeros is not None else feature_histogram(stats)
    modes = [m for m in inputs if m == "dense" or hist is not None]
    if not modes:
        raise LpgnasError(
            "sparse input needs the features' row histogram: pass feature_nonzeros= "
            "(lpgnas.sparse.nonzero_histogram of the codes) or a GraphStats with features"
        )
    nonzeros = max_nonzeros if max_nonzeros is not None else sum(k * c for k, c in (hist or {}).items())
    best: tuple[tuple[float, float], HardwareConfig, Estimate] | None = None
    failures = []
    for mode in modes:
        hw = HardwareConfig(
            device=dev.name,
            clock_mhz=dev.clock_mhz if clock_mhz is None else clock_mhz,
            max_nodes=max_nodes or n,
            max_edges=max_edges or e,
            max_nonzeros=max(nonzeros, 1) if mode == "sparse" else 0,
            layers=[LayerHW(1, 1, 1, "auto", input=mode if i == 0 else "dense") for i in range(len(ir.layers))],
        )
        for placement in placements(ir, hw, rows, dev, hist, offchip):  # until the smallest design fits
            hw.offchip = placement
            est = estimate(ir, hw, rows, dev, feature_nonzeros=hist)
            if est.fits:
                break
        if not est.fits:
            where = " with every buffer in external memory" if hw.offchip else ""
            failures.append(f"{mode} input{where}: {describe_overuse(est)}")
            continue
        hw, est = _greedy(ir, hw, est, rows, dev, hist, max_parallel, lut_mapping, min_gain)
        rank = (nm.to_float(est.cycles), max(nm.to_float(u) / max(a, 1) for u, a in est.usage().values()))
        if best is None or rank < best[0]:
            best = (rank, hw, est)
    if best is None:
        memory = dev.memory
        hint = ("use a larger device, fewer nodes/edges on chip, or narrower bitwidths")
        if memory is not None and offchip == "never":
            hint += f", or let the exploration place buffers in the device's {memory.kind} (offchip=\"auto\")"
        elif memory is not None:
            hint = (f"even with every buffer in the device's {memory.kind}; use narrower bitwidths (weights, linear "
                    "and activation formats), fewer layers or features, or a larger device")
        raise HardwareFitError(
            f"nothing fits {dev.name}: even the smallest design (P_in = P_out = P_agg = 1 in every layer) needs "
            f"{'; '.join(failures)}; {hint}"
        )
    return best[1], best[2]


def placements(ir, hw: HardwareConfig, rows: RowProfile, dev: Device, hist, offchip: str) -> list[list[str]]:
    """The buffer placements the exploration tries, in order (:data:`OFFCHIP_MODES`): ``never``, or a device
    without external memory: nothing off chip; ``auto``: the host buffers (:func:`lpgnas.buffers.host_buffers`),
    then one row buffer more at a time: the ``buf_<k>``, then the ``<layer>_lin``, each group by the block RAM
    it takes in ``hw``'s design (most first, then in layer order)."""
    if offchip == "never" or dev.memory is None:
        return [[]]
    sparse_input = hw.layers[0].input == "sparse"
    host = host_buffers(ir, sparse_input)
    trial = copy.deepcopy(hw)
    trial.offchip = []
    on_chip = {u.name: nm.to_float(u.bram36 + u.bram18 / 2)
               for u in estimate(ir, trial, rows, dev, feature_nonzeros=hist).units if u.kind == "buffer"}
    internal = internal_buffers(ir)
    unit_of = {name: (f"{name[:-len('_lin')]}.lin_buffer" if name.endswith("_lin") else name) for name in internal}
    order = sorted(internal, key=lambda b: (not b.startswith("buf_"), -on_chip.get(unit_of[b], 0.0),
                                            internal.index(b)))
    out = [list(host)]
    for name in order:
        out.append([*out[-1], name])
    return out


def _budget(dev: Device, utilisation: float) -> Device:
    """``dev`` with every resource scaled by ``utilisation`` (< 1: headroom)."""
    if utilisation >= 1.0:
        return dev
    return Device(
        dev.name,
        dev.family,
        int(dev.lut * utilisation),
        int(dev.ff * utilisation),
        int(dev.dsp * utilisation),
        int(dev.bram36 * utilisation),
        int(dev.uram * utilisation),
        dev.clock_mhz,
        int(dev.budget()["lutram"] * utilisation),
        dev.part,
        dev.memory,
    )


def _steps(larger: list[int], offchip: bool) -> list[int]:
    """The values an increase tries from ``larger`` (the useful values above the current one): the next one, and
    with buffers off chip also the next power of two (an off-chip element takes a power-of-two number of bytes,
    :func:`lpgnas.hw_model.units.axi.element_bytes`, so the next value can widen the element and slow its stream
    where the power of two after it would not: a step the greedy would otherwise never take)."""
    out = larger[:1]
    if offchip:
        out += [p for p in larger[1:] if p & (p - 1) == 0][:1]
    return out


def _greedy(ir, hw: HardwareConfig, est: Estimate, size: RowProfile, dev: Device, hist, max_parallel: int,
            lut_mapping: bool, min_gain: float) -> tuple[HardwareConfig, Estimate]:
    """The folding search from the fitting design ``hw`` (see the module docstring)."""
    cands = []
    for layer in ir.layers:
        cands.append(
            {
                "p_in": _candidates(layer.in_features, max_parallel),
                "p_out": _candidates(layer.out_features, max_parallel),
                "p_agg": _candidates(layer.out_features, max_parallel),
            }
        )
    lut_layers = set(dsp_mapped_layers(ir)) if lut_mapping else set()
    blocked: set[tuple[int, str]] = set()
    for _ in range(10_000):
        best = None
        for i in range(len(ir.layers)):
            for k in ("p_in", "p_out", "p_agg"):
                if (i, k) in blocked:
                    continue
                cur = getattr(hw.layers[i], k)
                nxt = [p for p in cands[i][k] if p > cur]
                if not nxt:
                    blocked.add((i, k))
                    continue
                fitted = False
                for value in _steps(nxt, bool(hw.offchip)):
                    for mult in _mappings(hw.layers[i].mult, i in lut_layers):
                        trial = copy.deepcopy(hw)
                        setattr(trial.layers[i], k, value)
                        trial.layers[i].mult = mult
                        t_est = estimate(ir, trial, size, dev, feature_nonzeros=hist)
                        if not t_est.fits:
                            continue
                        fitted = fitted or value == nxt[0]
                        rank = (elasticity(est, t_est), -added_share(est, t_est))  # then the smaller design
                        if rank[0] > 0 and (best is None or rank > best[0]):
                            best = (rank, trial, t_est)
                if not fitted:
                    blocked.add((i, k))  # costs only grow with parallelism
        if best is None or best[0][0] < min_gain:
            break
        hw, est = best[1], best[2]
    return hw, est
