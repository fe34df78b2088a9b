"""The checks of a generated design: C simulation with g++ (``csim``), RTL simulation under cocotb with
Verilator or Icarus (``rtl``, testbench in ``cocotb_tests/`` and ``templates/``), Yosys synthesis
(``synth``), and their commands ``generate`` / ``verify`` / ``synth`` (``cli``)."""
