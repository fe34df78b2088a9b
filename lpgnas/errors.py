"""Exception types of the toolkit.

Every error that is the user's to fix (a bad dataset name, missing files, an invalid IR, a design that
does not fit the device, a missing external tool) derives from :class:`LpgnasError`. The CLI prints
those as one line ``lpgnas: error: <message>`` and exits with the error's :attr:`LpgnasError.exit_status`,
without a traceback: 2 for bad usage or input, 1 for a check that failed (:class:`HardwareFitError`: the
design does not fit the device), as documented in docs/cli.md. Any other exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = [
    "LpgnasError",
    "DatasetError",
    "IRValidationError",
    "FormatError",
    "ToolMissingError",
    "HardwareFitError",
    "BuildError",
]


class LpgnasError(Exception):
    """Base class of all user-facing toolkit errors."""

    #: the CLI's exit status for this error: 2, bad usage or input
    exit_status: int = 2


class DatasetError(LpgnasError):
    """Unknown dataset name, missing raw files, or a split that the dataset cannot provide."""


class IRValidationError(LpgnasError):
    """An IR document (JSON + npz) that does not validate; the message names the offending field."""


class FormatError(LpgnasError):
    """An invalid number format, or a value that does not fit the format it is declared in."""


class ToolMissingError(LpgnasError):
    """An external tool (g++, iverilog, verilator, yosys, vitis_hls) is not installed or not on PATH."""


class HardwareFitError(LpgnasError):
    """A design that does not fit the chosen device's budget (LUT/FF/DSP/BRAM/URAM): a failed check."""

    exit_status = 1


class BuildError(LpgnasError):
    """An external tool (simulator, compiler, synthesiser) rejected the design or could not write its
    output; the message carries the first error lines of the tool's log and names the log."""
