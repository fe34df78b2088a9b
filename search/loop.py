"""The search loop: supernet weight steps and controller steps, epoch by epoch, with checkpoints.

``Search`` holds one search's state (data, supernet, controllers, optimisers, cost); :func:`run_epochs` runs
its epochs, logging each and checkpointing atomically. docs/search.md (Loop) explains the choices.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lpgnas.datasets import Dataset
from lpgnas.fileio import atomic_path, json_log_line, write_text_atomic
from lpgnas.progress import progress as progress_bar
from lpgnas.search.config import SearchConfig
from lpgnas.search.controllers import ArchController, QuantController, temperature
from lpgnas.search.cost import KIB, SearchCost, float_gcn_size_bits, resolve_budget
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.space import LayerChoice
from lpgnas.search.supernet import SuperNet, architecture_from_choices
from lpgnas.search.train import accuracy
from lpgnas.sparse import nonzero_histogram

#: test hook: SIGKILL the process right after this epoch (and its checkpoint, if one is due)
KILL_ENV = "LPGNAS_SEARCH_KILL_AFTER_EPOCH"
#: gradient-norm clip of the supernet's weight steps (unnormalised const+add paths give loss spikes)
WEIGHT_GRAD_CLIP = 5.0


class Search:
    """State of one search: data, supernet, controllers, optimisers, cost. The supernet and the graph live
    on the device of ``data``'s tensors, the controllers and the cost on the CPU."""

    def __init__(self, cfg: SearchConfig, data: Dataset) -> None:
        self.cfg, self.data = cfg, data
        self.g = GraphTensors.of(data)
        self.space = cfg.space(data.num_features, data.num_classes)
        self.input_signed = bool((data.x < 0).any())
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        self.net = SuperNet(self.space, self.input_signed, cfg.dropout).to(self.device)
        self.arch = ArchController(self.space)
        self.quant = QuantController(self.space)
        self.w_opt = torch.optim.Adam(self.net.parameters(), lr=cfg.supernet_lr, weight_decay=cfg.weight_decay)
        self.c_opt = torch.optim.Adam([*self.arch.parameters(), *self.quant.parameters()], lr=cfg.arch_lr)
        float_kib = float_gcn_size_bits(data.num_features, 16, data.num_classes) / KIB
        self.budget_kib = resolve_budget(cfg.budget_kib, cfg.device, float_kib)
        self.cost = SearchCost(self.space, self.g.csr.num_nodes, self.g.csr.num_edges, cfg.device, cfg.cost,
                               budget_kib=self.budget_kib, objective=cfg.objective, input_signed=self.input_signed,
                               feature_nonzeros=nonzero_histogram(data.x.cpu().numpy()))
        self.epoch = 0
        self.search_seconds = 0.0
        self.data_identity: dict[str, Any] | None = None  # of the data files (``data_identity``), set by search

    @property
    def device(self) -> torch.device:
        """Where the supernet, the data and the candidates' models live."""
        return self.data.x.device

    def probs(self) -> dict[str, torch.Tensor]:
        return {**self.arch.probs(), **self.quant.probs()}

    def sample(self, tau: float) -> dict[str, torch.Tensor]:
        return {**self.arch.sample(tau), **self.quant.sample(tau)}

    def uniform_arch(self) -> dict[str, torch.Tensor]:
        """A uniformly drawn one-hot for every architecture decision (the weight steps' default; not with
        ``--controller-weights``)."""
        return {k: F.one_hot(torch.randint(len(self.space.options(k)), ()), len(self.space.options(k))).float()
                for k in self.arch.keys}

    def widest_bits(self, path: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``path`` with every bitwidth decision at its widest option (the warm-up's weight steps: the shared
        weights first learn the task at high precision on sampled architectures; a random low-bit path,
        e.g. 2-bit row-normalised features, which round to zero, mostly teaches them noise)."""
        out = dict(path)
        for k in self.quant.keys:
            opts = self.space.options(k)
            out[k] = F.one_hot(torch.tensor(max(range(len(opts)), key=lambda j: opts[j])), len(opts)).float()
        return out

    def argmax_choices(self) -> dict[str, object]:
        return {**self.arch.choices(), **self.quant.choices()}

    def architecture(self) -> list[LayerChoice]:
        return architecture_from_choices(self.space, self.argmax_choices())

    def run_epoch(self, epoch: int) -> dict[str, Any]:
        """One weight step, one controller step (after warm-up), evaluation of the argmax path."""
        cfg, d, g = self.cfg, self.data, self.g
        tau = temperature(epoch, cfg.epochs, cfg.tau_start, cfg.tau_end)
        self.net.train()
        for _ in range(cfg.weight_steps):
            self.w_opt.zero_grad()
            with torch.no_grad():
                path = self.sample(tau)  # constant one-hots: the weight step does not touch the controllers
                if cfg.fair_weights:
                    path |= self.uniform_arch()
                if epoch < cfg.warmup:
                    path = self.widest_bits(path)
            out = self.net(d.x, g, path)
            loss = F.cross_entropy(out[d.train_mask], d.y[d.train_mask])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), WEIGHT_GRAD_CLIP)
            self.w_opt.step()
        rec: dict[str, Any] = {"epoch": epoch, "tau": round(tau, 5), "train_loss": loss.item()}
        if epoch >= cfg.warmup:
            self.c_opt.zero_grad()
            self.net.zero_grad(set_to_none=True)
            out = self.net(d.x, g, self.sample(tau))
            ce = F.cross_entropy(out[d.val_mask], d.y[d.val_mask])
            penalty = self.cost.penalty(self.probs(), cfg.lam)
            (ce + penalty.float().to(ce.device)).backward()
            self.c_opt.step()
            self.net.zero_grad(set_to_none=True)
            rec |= {"val_loss": ce.item(), "penalty": penalty.item()}
        pred = self.net.evaluate(d.x, g, {**self.arch.argmax(), **self.quant.argmax()}).argmax(1).cpu().numpy()
        with torch.no_grad():
            probs = self.probs()
            cost = {k: round(float(v), 3) for k, v in self.cost.values(probs).items()}
        y = d.y.cpu().numpy()
        rec |= {
            "train_accuracy": accuracy(pred, y, d.train_mask.cpu().numpy()),
            "val_accuracy": accuracy(pred, y, d.val_mask.cpu().numpy()),
            "expected_cost": cost,
            "argmax": self.argmax_choices(),
            "probs": {k: [round(float(p), 4) for p in v] for k, v in probs.items()},
        }
        return rec

    # ---- checkpoints ------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything a resumed search needs (on a CUDA device also its generator: the dropout draws there)."""
        state = {
            "epoch": self.epoch, "config": asdict(self.cfg), "data": self.data_identity,
            "search_seconds": self.search_seconds,
            "net": self.net.state_dict(), "arch": self.arch.state_dict(), "quant": self.quant.state_dict(),
            "w_opt": self.w_opt.state_dict(), "c_opt": self.c_opt.state_dict(),
            "torch_rng": torch.get_rng_state(), "numpy_rng": np.random.get_state(),
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def save(self, path: Path) -> None:
        """Write the checkpoint atomically (temp file in the same folder, then ``os.replace``)."""
        with atomic_path(path) as tmp:
            torch.save(self.state(), tmp)

    def load(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.arch.load_state_dict(state["arch"])
        self.quant.load_state_dict(state["quant"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.c_opt.load_state_dict(state["c_opt"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":  # a run resumed on another device draws anew
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        np.random.set_state(state["numpy_rng"])
        self.epoch, self.search_seconds = state["epoch"], state["search_seconds"]


def truncate_log(path: Path, epochs: int) -> None:
    """Keep only the log lines of epochs ``< epochs`` (a killed run may have logged past its checkpoint)."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["epoch"] < epochs]
    write_text_atomic(path, "".join(ln + "\n" for ln in keep))


def run_epochs(s: Search, log_path: Path, ckpt_path: Path, progress: bool) -> None:
    """Run ``s`` from its epoch to ``cfg.epochs``: one line per epoch appended to ``log_path``, the checkpoint
    ``ckpt_path`` written every ``--checkpoint-every`` epochs and after the last."""
    cfg = s.cfg
    kill_after = int(os.environ[KILL_ENV]) if os.environ.get(KILL_ENV) else None

    bar = progress_bar(range(s.epoch, cfg.epochs), desc="search", enabled=progress, initial=s.epoch,
                       total=cfg.epochs, unit="epochs")
    with open(log_path, "a") as log:
        for epoch in bar:
            t_epoch = time.time()
            rec = s.run_epoch(epoch)
            s.search_seconds += time.time() - t_epoch
            rec["seconds"] = round(s.search_seconds, 2)
            log.write(json_log_line(rec))
            log.flush()
            s.epoch = epoch + 1
            if s.epoch % cfg.checkpoint_every == 0 or s.epoch == cfg.epochs:
                s.save(ckpt_path)
            bar.set_postfix(val=f"{rec['val_accuracy']:.3f}", model_kib=f"{rec['expected_cost']['model']:.1f}")
            if kill_after is not None and epoch >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
