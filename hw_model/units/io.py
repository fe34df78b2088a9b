"""Host load / store units (``lpg_load_rows``, ``lpg_store_rows``) and the top-level sequencer.

Load: one element per cycle from the host's ``ap_memory`` buffer, shifted into a row register and
written to the first on-chip row buffer: ``N * F_in + 4`` cycles (RTL-measured, done included).
Store: ``N * C + 4``. The sequencer
runs the steps one after the other (load, per layer transform and aggregate, store) with one cycle
from a unit's ``done`` to the next ``start`` (``STEP_OVERHEAD``) and ``TOP_OVERHEAD`` cycles around
the whole run (ap_start sampling, ap_done).
"""

from __future__ import annotations

from hw_model import numeric as nm

UNIT_OVERHEAD = 4
STEP_OVERHEAD = 1
TOP_OVERHEAD = 2


def load_cycles(num_nodes, features):
    return num_nodes * features + UNIT_OVERHEAD


def store_cycles(num_nodes, classes):
    return num_nodes * classes + UNIT_OVERHEAD


# LUT / FF terms fitted by hand on Yosys runs of lpg_load_rows / lpg_store_rows (4 shapes each, xc7):
# load FF = 3 NW + clog2(F) + HAW + F W + (F - 1) W + 6 (exact on all four), LUT ~ 16;
# store FF = NW + 2 clog2(F) + 3 HAW + W + 5 (+-1), LUT ~ W ceil(F / 4) + NW + HAW + 4.
def load_lut_features(p):
    return {"const": 1.0}


def load_ff_features(p):
    return {
        "ctrl": 3 * p["NW"] + nm.clog2(p["F"]) + p["HAW"],
        "row": p["F"] * p["W"] + p["W"] * (p["F"] - 1),
        "const": 1.0,
    }


def store_lut_features(p):
    return {"ctrl": p["NW"] + p["HAW"], "row": p["W"] * nm.ceil_div(p["F"], 4), "const": 1.0}


def store_ff_features(p):
    return {"ctrl": p["NW"] + 2 * nm.clog2(p["F"]) + 3 * p["HAW"], "row": p["W"], "const": 1.0}


def sequencer_luts(nsteps, nw=8, ew_addr=10, layers=1):
    """One-hot step register, start pulses, and the CSR port multiplexers shared by the layers."""
    return 2.0 * nsteps + 4 + (nw + ew_addr) * nm.ceil_div(layers, 3)


def sequencer_ffs(nsteps):
    return 2.0 * nsteps + 3
