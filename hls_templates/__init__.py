"""Writers that fill the Jinja templates for a model: the Vitis HLS C++ kernel (``hls_writer``, ``hls/``) and
the Verilog accelerator (``rtl_writer``, ``rtl_attention``, ``rtl/``), with the data images they read
(``images``); ``generate`` writes a whole design folder. Parameters come from the units' functions in
``lpgnas.hw_model.units`` (docs/hls.md, docs/rtl.md)."""
