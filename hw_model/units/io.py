"""Host store unit (``lpg_store_rows``) and the top-level sequencer.

There is no load unit: layer 0's transform reads its P_in input features per cycle directly from the
host's features array, partitioned cyclic by P_in into P_in banked ``ap_memory`` ports (see
:mod:`hw_model.units.transform`), so there is neither a load step nor an on-chip ``buf_0``.
Store: one element per cycle to the host's ``ap_memory`` buffer, ``N * C + 4`` cycles alone (RTL-measured,
done included); it follows the last aggregation's rows, started with it (``hw_model.model.overlap``). The
sequencer runs its steps one after the other (layer 0's transform; per layer its attention unit, then its
aggregation with the unit that follows its rows) with one cycle from a step's last ``done`` to the next
``start`` (``STEP_OVERHEAD``) and ``TOP_OVERHEAD`` cycles around the whole run (ap_start sampling, ap_done).
"""

from __future__ import annotations

from lpgnas.hw_model import numeric as nm

UNIT_OVERHEAD = 4
STEP_OVERHEAD = 1
TOP_OVERHEAD = 2


def store_cycles(num_nodes, classes):
    """The store alone: one element per cycle (``classes`` per row, :func:`store_row_steps`) and its overhead."""
    return num_nodes * store_row_steps(classes) + UNIT_OVERHEAD


def store_row_steps(classes):
    """Steps per node row: the store's pace through the rows of the last aggregation, which it follows."""
    return classes


# LUT / FF terms fitted by hand on Yosys runs of lpg_store_rows (4 shapes, xc7):
# store FF = NW + 2 clog2(F) + 3 HAW + W + 5 (+-1), LUT ~ W ceil(F / 4) + NW + HAW + 4.
def store_lut_features(p):
    return {"ctrl": p["NW"] + p["HAW"], "row": p["W"] * nm.ceil_div(p["F"], 4), "const": 1.0}


def store_ff_features(p):
    return {"ctrl": p["NW"] + 2 * nm.clog2(p["F"]) + 3 * p["HAW"], "row": p["W"], "const": 1.0}


def sequencer_luts(nsteps, nw=8, ew_addr=10, layers=1):
    """One-hot step register, start pulses, and the CSR port multiplexers shared by the layers."""
    return 2.0 * nsteps + 4 + (nw + ew_addr) * nm.ceil_div(layers, 3)


def sequencer_ffs(nsteps):
    return 2.0 * nsteps + 3
