"""``--torch-device cpu|cuda|auto``: where ``train``, ``search`` and ``baseline`` put the torch model and the
data tensors (the golden integer model and the export stay numpy on the CPU; docs/search.md, Devices)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from lpgnas.errors import LpgnasError

if TYPE_CHECKING:
    import torch

    from lpgnas.datasets import Dataset

#: the values of ``--torch-device``
TORCH_DEVICES = ("cpu", "cuda", "auto")


def resolve_torch_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` (an error without CUDA) or ``auto`` (cuda when available, else cpu) as a device."""
    import torch

    if name not in TORCH_DEVICES:
        raise LpgnasError(f"--torch-device {name!r} is unknown; choose one of: {', '.join(TORCH_DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise LpgnasError("--torch-device cuda: torch sees no CUDA device here; use --torch-device cpu (or auto), "
                          "or install a CUDA build of torch on a machine with a GPU")
    return torch.device(name)


def add_torch_device_argument(p: argparse.ArgumentParser) -> None:
    """The ``--torch-device`` option of a training command."""
    p.add_argument("--torch-device", choices=TORCH_DEVICES, default="cpu",
                   help="where the torch model and the data tensors live while training (auto: cuda when "
                        "available); the golden model and the export run on the CPU either way")


def data_on(data: Dataset, device: torch.device) -> Dataset:
    """``data`` with its features, labels, masks and edges on ``device`` (the same object when already there)."""
    if data.x.device == device:
        return data
    return dataclasses.replace(data, **{k: getattr(data, k).to(device) for k in (
        "x", "y", "edge_index", "train_mask", "val_mask", "test_mask")})
