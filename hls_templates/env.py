"""The Jinja2 environment of the generators: strict about undefined names, identifiers sanitised."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

TEMPLATE_ROOT = Path(__file__).parent


def sanitize(name: str) -> str:
    """A C / Verilog identifier from any IR name: invalid characters become ``_``, never a leading digit."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    return ident if ident and not ident[0].isdigit() else f"n_{ident}"


def make_env(subdir: str) -> jinja2.Environment:
    """Environment loading templates from ``hls_templates/<subdir>`` with StrictUndefined."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_ROOT / subdir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ident"] = sanitize
    return env
