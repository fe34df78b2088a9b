"""``search(cfg, out_dir)``: one LPGNAS run, from the search loop to the exported model.

Writes ``RUN/search_log.jsonl`` (per epoch: losses, accuracy of the argmax path, expected cost, the
controllers' probabilities), ``RUN/search.ckpt`` (every ``--checkpoint-every`` epochs, atomically),
``RUN/candidates/{screen,final}/<i>.json`` + ``<i>.pt`` (every trained candidate, atomically: a resumed
run skips them), ``RUN/model.ir.json`` (+ ``.npz``) and ``RUN/metrics.json``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from lpgnas.datasets import Dataset, data_identity, resolve_feature_mode
from lpgnas.errors import LpgnasError
from lpgnas.fileio import folder_lock
from lpgnas.search.config import SearchConfig, load_search_data
from lpgnas.search.derivation import candidate_architectures
from lpgnas.search.loop import Search, run_epochs, truncate_log
from lpgnas.search.selection import select_and_export
from lpgnas.search.torch_device import data_on, resolve_torch_device

CHECKPOINT = "search.ckpt"
SEARCH_LOG = "search_log.jsonl"


def search(cfg: SearchConfig, out_dir: str | os.PathLike, data_root: str | None = None,
           resume: bool | None = False, progress: bool = True, torch_device: str = "cpu") -> dict[str, Any]:
    """Search, derive, retrain, export and evaluate; returns the metrics written to ``RUN/metrics.json``.

    ``resume``: True continues from ``RUN/search.ckpt`` with the configuration saved there; None (``lpgnas
    flow``) continues from it only if it was made with ``cfg`` and the same data files, else starts afresh;
    False starts afresh. The run folder is created once the options and the data checked out, and locked.
    ``torch_device``: ``cpu``, ``cuda`` or ``auto`` (``search.torch_device``; not part of the configuration,
    so a run may resume on another device)."""
    device = resolve_torch_device(torch_device)
    out = Path(out_dir)
    ckpt_path = out / CHECKPOINT
    state = None
    if resume is True:
        if not ckpt_path.is_file():
            raise LpgnasError(f"--resume: no checkpoint {ckpt_path} (start the search without --resume)")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        cfg = SearchConfig(**state["config"])
    cfg.check()
    cfg = dataclasses.replace(cfg, features=resolve_feature_mode(cfg.features, cfg.dataset))  # recorded concretely
    data_id = data_identity(cfg.dataset, data_root)
    if resume is None and ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if state["config"] != asdict(cfg) or state.get("data") != data_id:
            state = None
    if state is not None and state.get("data", data_id) != data_id:  # older checkpoints record no data
        raise LpgnasError(f"--resume: {ckpt_path} was made from other data files than {cfg.dataset}'s under this "
                          "data root now; point --data-root at the search's data or start without --resume")
    t0 = time.time()
    data = data_on(load_search_data(cfg, data_root), device)
    with folder_lock(out):
        return _search(cfg, data, data_id, out, state, t0, progress)


def _search(cfg: SearchConfig, data: Dataset, data_id: dict[str, Any], out: Path, state: dict[str, Any] | None,
            t0: float, progress: bool) -> dict[str, Any]:
    """``search`` in the locked run folder ``out``, from the checkpoint ``state`` if given."""
    ckpt_path, log_path = out / CHECKPOINT, out / SEARCH_LOG
    s = Search(cfg, data)
    s.data_identity = data_id
    resumed_from = None
    if state is not None:
        s.load(state)
        resumed_from = s.epoch
        truncate_log(log_path, s.epoch)
    elif log_path.exists():
        log_path.unlink()
    if not cfg.controllers:  # no search epochs: the checkpoint holds the configuration for --resume
        if state is None:
            s.save(ckpt_path)
        return select_and_export(cfg, s, [], out, t0, 0.0, resumed_from, {}, progress)
    run_epochs(s, log_path, ckpt_path, progress)
    with torch.no_grad():
        final_cost = {k: float(v) for k, v in s.cost.values(s.probs()).items()}
    searched_here = s.search_seconds - (state["search_seconds"] if state is not None else 0.0)
    return select_and_export(cfg, s, candidate_architectures(s), out, t0, searched_here, resumed_from,
                             final_cost, progress)
