"""Exception types of the toolkit.

Every error that is the user's to fix (a bad dataset name, missing files, an invalid IR, a design that
does not fit the device, a missing external tool) derives from :class:`LpgnasError`. The CLI prints
those as ``lpgnas: error: <message>`` and exits with status 2, without a traceback; any other exception
is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "LpgnasError",
    "DatasetError",
    "IRValidationError",
    "FormatError",
    "ToolMissingError",
    "HardwareFitError",
]


class LpgnasError(Exception):
    """Base class of all user-facing toolkit errors."""


class DatasetError(LpgnasError):
    """Unknown dataset name, missing raw files, or a split that the dataset cannot provide."""


class IRValidationError(LpgnasError):
    """An IR document (JSON + npz) that does not validate; the message names the offending field."""


class FormatError(LpgnasError):
    """An invalid number format, or a value that does not fit the format it is declared in."""


class ToolMissingError(LpgnasError):
    """An external tool (g++, iverilog, verilator, yosys, vitis_hls) is not installed or not on PATH."""


class HardwareFitError(LpgnasError):
    """A design that does not fit the chosen device's budget (LUT/FF/DSP/BRAM/URAM)."""
