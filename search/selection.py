"""Screening, finalists and export: candidates trained by QAT, the local search's rounds, the shipped model.

docs/search.md (Derivation, "Which trained model ships") explains the rules.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lpgnas.fileio import atomic_path
from lpgnas.progress import progress as progress_bar
from lpgnas.search.config import SearchConfig
from lpgnas.search.cost import KIB, float_gcn_size_bits, hardware_estimate, model_size_bits
from lpgnas.search.derivation import anchor_architectures
from lpgnas.search.local_search import combined_moves, neighbours_within_budget, next_centre
from lpgnas.search.loop import Search
from lpgnas.search.pareto import write_fronts
from lpgnas.search.quant_gnn import QuantGNN, export_ir
from lpgnas.search.space import LayerChoice
from lpgnas.search.supernet import build_quant_gnn, onehots_for
from lpgnas.search.train import TrainConfig, evaluate, fit, write_json_atomic

#: the finalists' retraining starts from the run's seed + this (the screening from the run's seed)
FINAL_SEED_OFFSET = 1


def train_design(cfg: SearchConfig, s: Search, arch: list[LayerChoice], epochs: int, patience: int, seed: int,
                 log_path: Path | None = None, progress: bool = False) -> tuple[QuantGNN, dict[str, Any]]:
    """QAT of one design from scratch, initialised from ``seed``, for ``epochs`` (early stop after ``patience``
    epochs without a better validation accuracy, if > 0), with the run's learning rate, weight decay and
    dropout; the model at its best validation epoch and ``fit``'s summary."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = build_quant_gnn(arch, s.data.num_features, input_signed=s.input_signed, dropout=cfg.dropout).to(s.device)
    tcfg = TrainConfig(
        dataset=cfg.dataset, split=cfg.split, arch=arch[0].attention, aggregation=arch[0].aggregation,
        layers=len(arch), epochs=epochs, lr=cfg.lr, weight_decay=cfg.weight_decay,
        dropout=cfg.dropout, seed=seed, patience=patience,
    )
    return model, fit(model, s.data, s.g, tcfg, log_path, progress)


def candidate_key(cfg: SearchConfig, s: Search, arch_dicts: list[dict], epochs: int, patience: int, seed: int
                  ) -> str:
    """Digest of everything a trained candidate depends on: the run's whole configuration, the data files,
    the toolkit version, the design and its training's epochs, patience and seed."""
    from lpgnas import __version__

    produced_by = {"config": asdict(cfg), "data": s.data_identity, "version": __version__,
                   "architecture": arch_dicts, "epochs": epochs, "patience": patience, "seed": seed}
    return hashlib.sha256(json.dumps(produced_by, sort_keys=True).encode()).hexdigest()


def train_candidate(cfg: SearchConfig, s: Search, arch: list[LayerChoice], index: int, folder: Path,
                    epochs: int, progress: bool, patience: int = 0, seed: int | None = None
                    ) -> tuple[QuantGNN, dict[str, Any]]:
    """``train_design`` of one candidate (seed default: the run's); its model and record, cached in
    ``folder`` under a key of everything that produced them (``candidate_key``): a resumed run loads them, a
    run with other settings or data trains again."""
    seed = cfg.seed if seed is None else seed
    folder.mkdir(parents=True, exist_ok=True)
    rec_path, state_path = folder / f"{index}.json", folder / f"{index}.pt"
    arch_dicts = [c.to_dict() for c in arch]
    key = candidate_key(cfg, s, arch_dicts, epochs, patience, seed)
    if rec_path.is_file() and state_path.is_file():
        rec = json.loads(rec_path.read_text())
        if rec.get("key") == key:
            model = build_quant_gnn(arch, s.data.num_features, input_signed=s.input_signed, dropout=cfg.dropout)
            model.to(s.device).load_state_dict(torch.load(state_path, map_location="cpu", weights_only=True))
            model.eval()
            return model, rec
    t = time.time()
    model, info = train_design(cfg, s, arch, epochs, patience, seed, folder / f"{index}.train_log.jsonl", progress)
    with torch.no_grad():
        cost = {k: round(float(v), 3) for k, v in s.cost.values(onehots_for(s.space, arch)).items()}
    rec = {"index": index, "key": key, "epochs": epochs, "seed": seed, "architecture": arch_dicts,
           "val_accuracy": info["val_accuracy_float"], "best_epoch": info["best_epoch"], "cost": cost,
           "seconds": round(time.time() - t, 2)}
    with atomic_path(state_path) as tmp:
        torch.save(model.state_dict(), tmp)
    write_json_atomic(rec_path, rec)
    return model, rec


def select_and_export(cfg: SearchConfig, s: Search, candidates: list[list[LayerChoice]], out: Path, t0: float,
                      searched_here: float, resumed_from: int | None, final_cost: dict[str, float],
                      progress: bool) -> dict[str, Any]:
    """Two rounds of QAT from scratch: every candidate for ``--screen-epochs`` (the draws, then the local
    search's rounds), the ``--finalists`` best of those (validation accuracy, then the smaller model, or
    under the latency objective the faster design by its stand-in) for
    ``--retrain-epochs`` from another initialisation; the finalists' trained model (screening or
    retraining) with the best validation accuracy is exported; golden accuracy, metrics.json. Without local
    search and anchors and with as many finalists as candidates the screening is skipped."""
    t_train = time.time()
    data, g = s.data, s.g
    trained_here = 0.0  # wall time of the trainings in this process (a resumed run loads earlier ones)

    def train(arch: list[LayerChoice], index: int, stage: str, epochs: int, patience: int,
              seed: int | None = None, show: bool = False) -> tuple[QuantGNN, dict[str, Any]]:
        nonlocal trained_here
        t = time.time()
        model, rec = train_candidate(cfg, s, arch, index, out / "candidates" / stage, epochs, show, patience, seed)
        trained_here += time.time() - t
        return model, rec

    # the objective's cost: the local search's front is against it, and of equally accurate designs the
    # cheaper (the faster / the smaller) ranks first
    objective_cost = "dse_latency" if cfg.objective == "latency" else "model"
    rank = lambda r: (r["val_accuracy"], -r["cost"][objective_cost], -r["index"])  # noqa: E731
    screened: list[dict[str, Any]] = []
    if len(candidates) > cfg.finalists or cfg.neighbours or cfg.anchors:
        bar = progress_bar(desc="screen", enabled=progress, total=len(candidates), unit="candidates")

        def screen_new(generation: int, origin: str, parent: int | None = None) -> None:
            bar.total = len(candidates)
            for i in range(len(screened), len(candidates)):
                rec = train(candidates[i], i, "screen", cfg.screen_epochs, cfg.screen_patience)[1]
                screened.append({**rec, "generation": generation, "origin": origin, "parent": parent})
                bar.update()

        screen_new(0, "draw")
        if cfg.anchors:
            candidates += [a for a in anchor_architectures(s) if a not in candidates]
            screen_new(0, "anchor")
        expanded: list[int] = []
        for generation in range(1, cfg.generations + 1) if cfg.neighbours else ():
            # local search: the neighbours of the most accurate unexpanded design on the objective's front
            centre_rec = next_centre(screened, expanded, objective_cost, rank)
            if centre_rec is None:
                break
            centre = candidates[centre_rec["index"]]
            expanded.append(centre_rec["index"])
            moves = neighbours_within_budget(s, centre)
            candidates += [a for _, a in moves if a not in candidates]
            screen_new(generation, "neighbour", centre_rec["index"])
            tried = [(move, screened[candidates.index(a)]["val_accuracy"]) for move, a in moves]
            combined = combined_moves(s, centre, centre_rec["val_accuracy"], tried)
            if combined is not None and combined not in candidates:
                candidates.append(combined)
                screen_new(generation, "combined", centre_rec["index"])
        bar.close()
        finalists = sorted(sorted(screened, key=rank, reverse=True)[: cfg.finalists], key=lambda r: r["index"])
        chosen_idx = [r["index"] for r in finalists]
    else:
        chosen_idx = list(range(len(candidates)))
    # the finalists are trained again from another initialisation; the export is the trained model with the
    # best validation accuracy among all of their trainings (screening and retraining; ties: the retraining,
    # which trained longer, then the screening's rank): a model, not a design, is what ships
    screen_rec = {r["index"]: r for r in screened}
    runs: list[tuple[tuple, QuantGNN, dict[str, Any]]] = []
    records = []
    for i in progress_bar(chosen_idx, desc="retrain", enabled=progress, unit="finalists"):
        model, rec = train(candidates[i], i, "final", cfg.retrain_epochs, cfg.retrain_patience,
                           cfg.seed + FINAL_SEED_OFFSET, progress)
        records.append(rec)
        origin = screen_rec[i]["origin"] if i in screen_rec else "draw"  # the fronts' points name it
        runs.append(((rec["val_accuracy"], 1, *rank(rec)), model, {**rec, "origin": origin, "training": "final"}))
        if i in screen_rec:  # the screening's model of this finalist, loaded from its folder
            model, rec = train(candidates[i], i, "screen", cfg.screen_epochs, cfg.screen_patience)
            runs.append(((rec["val_accuracy"], 0, *rank(rec)), model, {**rec, "origin": origin, "training": "screen"}))
    _, model, chosen = max(runs, key=lambda r: r[0])
    t_front = time.time()
    trainings = [{"model": m, "record": rec, "training": rec["training"]} for _, m, rec in runs]
    final_designs = {r["index"] for r in records}
    for r in screened:
        if r["index"] not in final_designs:  # the finalists' screenings are in ``runs`` already
            m = train(candidates[r["index"]], r["index"], "screen", cfg.screen_epochs, cfg.screen_patience)[0]
            trainings.append({"model": m, "record": r, "training": "screen"})
    fronts = write_fronts(cfg, s.data, s.g, trainings, out, f"{cfg.dataset}-lpgnas",
                          (chosen["index"], chosen["training"]))
    front_seconds = time.time() - t_front
    arch = candidates[chosen["index"]]
    arch_dicts = [c.to_dict() for c in arch]
    fit_info = {"best_epoch": chosen["best_epoch"], "val_accuracy_float": chosen["val_accuracy"]}
    candidate_seconds = sum(r["seconds"] for r in records + screened)
    ir = export_ir(model, f"{cfg.dataset}-lpgnas",
                   metadata={"search_config": asdict(cfg), "architecture": arch_dicts})
    ir.save(out / "model.ir.json")
    n, e = g.csr.num_nodes, g.csr.num_edges
    model_kib = model_size_bits(ir) / KIB
    hw_est = hardware_estimate(ir, n, e, cfg.device)
    float_kib = float_gcn_size_bits(data.num_features, 16, data.num_classes) / KIB
    metrics = {
        "dataset": data.name, "split": data.split, "device": cfg.device,
        **evaluate(model, ir, data, g), **fit_info,
        "architecture": arch_dicts,
        "chosen_candidate": chosen["index"],
        "chosen_training": chosen["training"],
        "candidates": records,
        "screened": screened,
        "model_size_kib": round(model_kib, 3),
        "float_gcn16_model_size_kib": round(float_kib, 3),
        "model_compression_vs_float_gcn16": round(float_kib / model_kib, 2),
        "expected_cost": {k: round(v, 3) for k, v in final_cost.items()},
        "reference_cost": {k: round(v, 3) for k, v in s.cost.reference.items()},
        "buffer_size_kib": hw_est["buffer_size_kib"],
        "hardware": hw_est,
        "budget_kib": s.budget_kib,
        "accelerator": {k: fronts["shipped"][k] for k in ("fits", "latency_us", "cycles", "lut", "ff", "dsp", "bram36",
                                                            "hardware_config", "why") if k in fronts["shipped"]},
        "fronts": {k: v for k, v in fronts.items() if k != "shipped"},
        "front_seconds": round(front_seconds, 2),
        "resumed_from_epoch": resumed_from,
        "search_seconds": round(s.search_seconds, 2),
        "retrain_seconds": round(time.time() - t_train, 2),
        "candidate_seconds": round(candidate_seconds, 2),
        # the search loop and every training, whichever process ran them, plus this process's other work
        "total_seconds": round(s.search_seconds + candidate_seconds
                               + (time.time() - t0 - searched_here - trained_here), 2),
        "torch_device": str(s.device),
        "config": asdict(cfg),
    }
    write_json_atomic(out / "metrics.json", metrics)
    return metrics
