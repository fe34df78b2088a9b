"""Argument helpers every command's parser uses: the help formatter, ``-q``, the help of ``--dataset`` and
``--device``. In the ground floor because the stages define their own subcommands (``add_parser``)."""

from __future__ import annotations

import argparse
from typing import Any


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default (unless it says it already, or is a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "default" not in text
            and default is not None
            and default is not argparse.SUPPRESS
            and not isinstance(default, bool)
        ):
            text += " (default: %(default)s)"
        return text


def dataset_help(default: str | None = None, what: str = "dataset") -> str:
    """Help text of a ``--dataset`` option: the known names and the default."""
    from lpgnas.datasets import dataset_names

    tail = f"default: {default}" if default else "default: the IR's training dataset"
    return f"{what}, one of {', '.join(dataset_names())} (case-insensitive; {tail})"


def device_help(default: str = "xc7z020") -> str:
    """Help text of a ``--device`` option: the presets and the default."""
    from lpgnas.devices import PRESETS

    return f"target FPGA: a preset ({', '.join(PRESETS)}) or a device JSON file (default: {default})"


def finish_subparsers(subparsers: Any) -> None:
    """What every command has: help that shows the defaults, and ``-q/--quiet`` (the same as ``lpgnas -q``)."""
    for p in subparsers.choices.values():
        p.formatter_class = HelpFormatter
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress output, only warnings and errors (the same as lpgnas -q)")
