"""The Jinja2 environment of the generators: strict about undefined names; IR and user strings reach the
output only through the filters of :mod:`lpgnas.names` (``ident``, ``tensor``, ``cstr``, ``comment``,
``vstr``, ``tcl``)."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from lpgnas.names import c_string, comment, identifier, tcl_word, tensor_name, verilog_string

TEMPLATE_ROOT = Path(__file__).parent
#: the HLS kernel's top function and the generated RTL's top module (one interface, one testbench)
TOP_NAME = "lpgnas_top"
#: the output buffer / port (the host reads it; ``data/expected.txt`` holds what it must contain)
OUTPUT_PORT = "outputs"


@functools.cache
def make_env(subdir: str) -> jinja2.Environment:
    """Environment loading templates from ``hls_templates/<subdir>`` with StrictUndefined; one per subdir
    (compiled templates are reused: compiling them took 1.5 s per design). Do not modify it."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_ROOT / subdir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ident=identifier, tensor=tensor_name, cstr=c_string, comment=comment, vstr=verilog_string,
                       tcl=tcl_word)
    return env
