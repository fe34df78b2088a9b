"""Host load / store units (``lpg_load_rows``, ``lpg_store_rows``) and the top-level sequencer.

Load: one element per cycle from the host's ``ap_memory`` buffer, shifted into a row register and
written to the first on-chip row buffer: ``N * F_in + 4`` cycles (RTL-measured, done included). Store: ``N * C + 4``. The sequencer
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


def load_lut_features(p):
    # counters (n, f, host address), row shift register enables, done logic
    return {"ctrl": p["NW"] + nm.clog2(p["F"]) + p["HAW"], "row": p["W"] * 0.0, "const": 1.0}


def load_ff_features(p):
    return {"ctrl": p["NW"] * 2 + nm.clog2(p["F"]) + p["HAW"], "row": p["F"] * p["W"] + p["W"] * (p["F"] - 1),
            "const": 1.0}


def store_lut_features(p):
    return {"ctrl": p["NW"] + nm.clog2(p["F"]) + p["HAW"], "row": p["W"] * nm.pos(p["F"] - 1) / 4, "const": 1.0}


def store_ff_features(p):
    return {"ctrl": p["NW"] + nm.clog2(p["F"]) * 2 + p["HAW"] * 3, "row": p["W"], "const": 1.0}


def sequencer_luts(nsteps):
    return 2.0 * nsteps + 4


def sequencer_ffs(nsteps):
    return 2.0 * nsteps + 2
