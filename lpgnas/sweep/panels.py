"""Grids of plot panels shared by the sweep report's figures: one panel per row of a table, a log x axis,
one legend over the whole figure."""

from __future__ import annotations

from typing import Any

#: marker of the i-th method (modulo), with ``tab20``'s i-th colour
MARKS = "os^vD<>phX*P"


def panel_grid(n: int, width: float, height: float) -> tuple[Any, Any]:
    """A figure of ``n`` panels, up to 3 a row, each ``width`` x ``height`` inches; (figure, axes array)."""
    import matplotlib.pyplot as plt

    cols = min(3, n)
    rows = -(-n // cols)
    return plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)


def log_panel(ax: Any, lo: float, hi: float, title: str, xlabel: str, ylabel: str) -> None:
    """A panel's log x axis from ``lo`` to ``hi`` with plain tick labels, its title, labels and grid."""
    from lpgnas.report import plain_log_axis

    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    plain_log_axis(ax.xaxis, lo, hi)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def finish_panels(fig: Any, axes: Any, used: int) -> None:
    """Hide the panels after the first ``used``, put one legend of every label above them, lay out."""
    for ax in list(axes.flat)[used:]:
        ax.set_visible(False)
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=min(6, len(handles)), fontsize=8,
               bbox_to_anchor=(0.5, 1.0 + 0.25 / axes.shape[0]))
    fig.tight_layout()
