"""cocotb test modules (run inside the simulator by :func:`sim.rtl.run_rtl`)."""
