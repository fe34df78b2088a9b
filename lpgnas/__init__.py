"""lpgnas: low-precision GNN architecture search co-designed with FPGA accelerators.

The package is the hub of the toolkit: the IR, number formats, the golden integer model, datasets and the
``lpgnas`` CLI. Importing it is cheap (no torch); import submodules for the heavy parts, e.g.
``from lpgnas.datasets import load_dataset``.
"""

from __future__ import annotations

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

__all__ = [
    "__version__",
    "LpgnasError",
    "DatasetError",
    "IRValidationError",
    "FormatError",
    "ToolMissingError",
    "HardwareFitError",
]
