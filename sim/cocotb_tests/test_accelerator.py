"""cocotb test of a generated accelerator inside the testbench wrapper of :mod:`sim.rtl`.

The wrapper holds the host memories, the clock and the reset; this test only raises ``start_req`` and
waits for the wrapper's ``finished`` flag (the wrapper dumps the output buffer at ``ap_done``). The
cycle count, the stall cycles within it (``ap_ce`` low, ``+stall_seed``) and the wall time go to the JSON file
named by ``LPGNAS_RTL_RESULT`` (under the batch wrapper of :func:`sim.rtl.run_rtl_batch`, one count per design,
``LPGNAS_RTL_DESIGNS`` of them); the comparison with the golden model's ``expected.mem`` happens in
:func:`sim.rtl.run_rtl`.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.triggers import RisingEdge


@cocotb.test()
async def test_accelerator_run(dut) -> None:
    """One ap_start -> ap_done run of the accelerator."""
    t0, c0 = time.perf_counter(), time.process_time()
    # one clock edge first: at time 0 the wrapper's flags may not hold their initial values yet (Verilator
    # with +verilator+rand+reset+2 starts them random); start is held off by the reset anyway
    await RisingEdge(dut.clk)
    dut.start_req.value = 1
    if not int(dut.finished.value):
        await RisingEdge(dut.finished)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    batch = int(os.environ.get("LPGNAS_RTL_DESIGNS", "0"))  # > 0: the batch wrapper with designs d0, d1, ...
    if batch:
        cycles = [int(getattr(dut, f"d{k}_cycles").value) for k in range(batch)]
        stalls = [int(getattr(dut, f"d{k}_stall_cycles").value) for k in range(batch)]
        timed_out = [bool(int(getattr(dut, f"d{k}_timed_out").value)) for k in range(batch)]
    else:
        cycles, timed_out = int(dut.cycles.value), bool(int(dut.timed_out.value))
        stalls = int(dut.stall_cycles.value)
    result = {"cycles": cycles, "stall_cycles": stalls, "timed_out": timed_out, "sim_seconds": wall,
              "sim_cpu_seconds": cpu}
    path = os.environ.get("LPGNAS_RTL_RESULT")
    if path:
        with open(path, "w") as fh:
            json.dump(result, fh, allow_nan=False)
    assert not any(timed_out if batch else [timed_out]), f"no ap_done within the cycle limit: {cycles}"
