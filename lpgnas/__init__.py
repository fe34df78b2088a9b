"""lpgnas: low-precision GNN architecture search co-designed with FPGA accelerators.

The one import package of the toolkit. Its own modules are the shared ground (IR, number formats, operator
registry, golden integer model, datasets, file I/O) and, on top, the orchestration (``cli``, ``flow``,
``report``); the stages are its subpackages ``lpgnas.search``, ``lpgnas.hw_model``, ``lpgnas.hls_templates``
and ``lpgnas.sim`` (docs/architecture.md). Importing it is cheap (no torch).
"""

from __future__ import annotations

from pathlib import Path

from lpgnas.errors import (
    DatasetError,
    FormatError,
    HardwareFitError,
    IRValidationError,
    LpgnasError,
    ToolMissingError,
)

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("lpgnas")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

# The stages live in top-level folders of the repository (search/, hw_model/, ...), beside this package; the
# wheel installs them inside it (pyproject.toml, [tool.setuptools] package-dir). In a source checkout the
# same mapping is this search path, so ``lpgnas.search`` is the folder search/ in both.
_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "hls_templates").is_dir():
    __path__.append(str(_CHECKOUT))  # noqa: F821 (a package's __path__)

__all__ = [
    "__version__",
    "LpgnasError",
    "DatasetError",
    "IRValidationError",
    "FormatError",
    "ToolMissingError",
    "HardwareFitError",
]
