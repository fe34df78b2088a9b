"""Quantisation-aware training of a fixed architecture, export to the IR, golden-model accuracy.

``lpgnas train --dataset Cora --arch gcn --layers 2 --hidden 16 --wbits 8 --abits 8 -o RUN`` writes
``RUN/model.ir.json`` (+ ``.npz``), ``RUN/metrics.json`` and ``RUN/train_log.jsonl``.

``--arch`` (alias ``--attention``) is any attention of the registry; ``--aggregation`` and
``--activation`` (hidden layers) likewise. The GAT family (gat, sym-gat, cos, linear, gene-linear) defaults
to Velickovic et al.'s layout: ``lpgnas train --arch gat --heads 8`` trains 8 heads x 8 hidden units
concatenated with elu, one output head (``--out-heads K`` averages K), dropout 0.6 on features and
attention coefficients, lr 0.005; any option given explicitly wins.

The torch model's forward pass is the golden integer model (search/quant_layer.py), so ``test_accuracy_float``
(the trained quantised torch model) equals ``test_accuracy_golden``; ``test_accuracy_unquantised`` is the
same parameters with every quantiser bypassed (float softmax, float activations).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lpgnas.datasets import FEATURE_MODES, Dataset, load_dataset, preprocess_features, resolve_feature_mode
from lpgnas.errors import LpgnasError
from lpgnas.fileio import folder_lock, json_log_line, write_json_atomic
from lpgnas.golden import predict
from lpgnas.ir import ModelIR
from lpgnas.numfmt import MAX_BITS
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS
from lpgnas.progress import progress as progress_bar
from lpgnas.search.graph_tensors import GraphTensors
from lpgnas.search.quant import optimiser_groups
from lpgnas.search.quant_gnn import QuantGNN, build_gnn, export_ir
from lpgnas.search.torch_device import add_torch_device_argument, data_on, resolve_torch_device


@dataclass
class TrainConfig:
    """Everything that determines a fixed-architecture training run."""

    dataset: str = "Cora"
    split: str | None = None
    arch: str = "gcn"
    aggregation: str = "add"
    activation: str = "relu"
    layers: int = 2
    hidden: int = 16
    heads: int = 1
    out_heads: int = 1
    wbits: int = 8
    abits: int = 8
    coef_bits: int | None = None  # aggregation coefficients (default: abits)
    bias_bits: int | None = None  # biases (default: the layer's activation bits)
    logit_bits: int | None = None  # the last layer's activations (default: abits)
    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 5e-4
    dropout: float = 0.5
    attention_dropout: float = 0.0
    features: str = "auto"
    patience: int = 0
    seed: int = 0

    def check(self) -> None:
        """Raise a clear error for any value out of range."""
        if self.arch not in ATTENTIONS:
            raise LpgnasError(f"--arch {self.arch!r} is unknown; choose one of: {', '.join(ATTENTIONS)}")
        if self.aggregation not in AGGREGATIONS:
            raise LpgnasError(
                f"--aggregation {self.aggregation!r} is unknown; choose one of: {', '.join(AGGREGATIONS)}"
            )
        if self.activation not in ACTIVATIONS:
            raise LpgnasError(f"--activation {self.activation!r} is unknown; choose one of: {', '.join(ACTIVATIONS)}")
        if not 1 <= self.wbits <= MAX_BITS:
            raise LpgnasError(f"--wbits {self.wbits} is outside 1..{MAX_BITS} (1 = binary, 2 = ternary)")
        if not 2 <= self.abits <= MAX_BITS:
            raise LpgnasError(f"--abits {self.abits} is outside 2..{MAX_BITS}")
        for name in ("coef_bits", "bias_bits", "logit_bits"):
            bits = getattr(self, name)
            if bits is not None and not 2 <= bits <= MAX_BITS:
                raise LpgnasError(f"--{name.replace('_', '-')} {bits} is outside 2..{MAX_BITS}")
        if not 1 <= self.layers <= 8:
            raise LpgnasError(f"--layers {self.layers} is outside 1..8")
        if not 1 <= self.heads <= 8:
            raise LpgnasError(f"--heads {self.heads} is outside 1..8")
        if not 1 <= self.out_heads <= 8:
            raise LpgnasError(f"--out-heads {self.out_heads} is outside 1..8")
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise LpgnasError(f"--{name.replace('_', '-')} {getattr(self, name)} is outside [0, 1)")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise LpgnasError(f"--lr {self.lr} must be a positive number, e.g. 0.01")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise LpgnasError(f"--weight-decay {self.weight_decay} must be a number >= 0, e.g. 5e-4")
        if self.patience < 0:
            raise LpgnasError(f"--patience {self.patience} must be >= 0 (0: no early stop)")
        if self.seed < 0:
            raise LpgnasError(f"--seed {self.seed} must be >= 0")
        if self.hidden < 1 or self.epochs < 1:
            raise LpgnasError("--hidden and --epochs must be >= 1")
        resolve_feature_mode(self.features, self.dataset)


#: defaults of the GAT family (Velickovic et al. 2018, Cora): 8 heads x 8 hidden, elu, dropout 0.6
SOFTMAX_PRESET: dict = {"heads": 8, "hidden": 8, "activation": "elu", "dropout": 0.6, "attention_dropout": 0.6,
                        "lr": 0.005, "weight_decay": 5e-4}


def preset_config(arch: str, **given) -> TrainConfig:
    """A config for ``arch``: the GAT family's defaults (:data:`SOFTMAX_PRESET`) under the given values."""
    base = SOFTMAX_PRESET if arch in ATTENTIONS and ATTENTIONS[arch].softmax else {}
    return TrainConfig(arch=arch, **(base | {k: v for k, v in given.items() if v is not None}))


def accuracy(pred: np.ndarray, y: np.ndarray, mask: np.ndarray) -> float:
    return float((pred[mask] == y[mask]).mean()) if mask.any() else float("nan")


def fit(model: QuantGNN, data: Dataset, g: GraphTensors, cfg: TrainConfig, log_path: Path | None = None,
        progress: bool = True) -> dict:
    """Train with Adam; keep the state of the epoch with the best validation accuracy (then lowest loss).
    With ``cfg.patience`` > 0, stop once that many epochs passed without a better one. ``model`` lives on
    the device of ``data``'s tensors."""
    opt = torch.optim.Adam(optimiser_groups(model, cfg.weight_decay), lr=cfg.lr)
    y = data.y
    y_host, val_host = y.cpu().numpy(), data.val_mask.cpu().numpy()
    best: tuple[float, float] = (-1.0, float("inf"))
    best_state, best_epoch = None, -1
    log = open(log_path, "w") if log_path else None
    bar = progress_bar(range(cfg.epochs), desc="train", enabled=progress, unit="epochs")
    try:
        for epoch in bar:
            model.train()
            opt.zero_grad()
            out = model(data.x, g)
            loss = F.cross_entropy(out[data.train_mask], y[data.train_mask])
            loss.backward()
            opt.step()
            model.eval()
            with torch.no_grad():
                out = model(data.x, g)
                val_loss = float(F.cross_entropy(out[data.val_mask], y[data.val_mask]))
                pred = out.argmax(1).cpu().numpy()
            val_acc = accuracy(pred, y_host, val_host)
            if (val_acc, -val_loss) > (best[0], -best[1]):
                best, best_state, best_epoch = (val_acc, val_loss), copy.deepcopy(model.state_dict()), epoch
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{val_acc:.3f}")
            if log:
                log.write(json_log_line({"epoch": epoch, "loss": loss.item(), "val_loss": val_loss,
                                         "val_accuracy": val_acc}))
                log.flush()  # a killed or running training shows every finished epoch
            if cfg.patience and epoch - best_epoch >= cfg.patience:
                break
    finally:
        if log:
            log.close()
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return {"best_epoch": best_epoch, "val_accuracy_float": best[0]}


def evaluate(model: QuantGNN, ir: ModelIR, data: Dataset, g: GraphTensors) -> dict:
    """Test accuracy of the trained (fake-quantised) torch model and of the golden integer model (numpy, on
    the CPU)."""
    with torch.no_grad():
        pred_float = model(data.x, g).argmax(1).cpu().numpy()
    pred_golden = predict(ir, g.csr, data.x.cpu().numpy())
    model.set_quantise(False)
    try:
        with torch.no_grad():
            pred_unquantised = model(data.x, g).argmax(1).cpu().numpy()
    finally:
        model.set_quantise(True)
    y, test = data.y.cpu().numpy(), data.test_mask.cpu().numpy()
    return {
        "test_accuracy_float": accuracy(pred_float, y, test),
        "test_accuracy_unquantised": accuracy(pred_unquantised, y, test),
        "test_accuracy_golden": accuracy(pred_golden, y, test),
        "val_accuracy_golden": accuracy(pred_golden, y, data.val_mask.cpu().numpy()),
        "golden_float_agreement": float((pred_float == pred_golden).mean()),
    }


def train(cfg: TrainConfig, out_dir: str | os.PathLike, data_root: str | None = None, progress: bool = True,
          torch_device: str = "cpu") -> dict:
    """Train, export and evaluate; returns the metrics written to ``out_dir/metrics.json``. ``torch_device``:
    ``cpu``, ``cuda`` or ``auto`` (``search.torch_device``)."""
    cfg.check()
    device = resolve_torch_device(torch_device)
    out = Path(out_dir)
    t0 = time.time()
    cfg = replace(cfg, features=resolve_feature_mode(cfg.features, cfg.dataset))  # recorded concretely
    data = load_dataset(cfg.dataset, data_root=data_root, split=cfg.split, seed=cfg.seed)
    data.x = preprocess_features(data.x, cfg.features)
    data = data_on(data, device)
    with folder_lock(out):  # created only now that the options and the data checked out
        return _train(cfg, data, out, t0, progress)


def _train(cfg: TrainConfig, data: Dataset, out: Path, t0: float, progress: bool) -> dict:
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    g = GraphTensors.of(data)
    model = build_gnn(
        data.x.shape[1], data.num_classes, attention=cfg.arch, aggregation=cfg.aggregation,
        layers=cfg.layers, hidden=cfg.hidden, heads=cfg.heads, out_heads=cfg.out_heads, wbits=cfg.wbits,
        abits=cfg.abits, input_signed=bool((data.x < 0).any()), dropout=cfg.dropout,
        attention_dropout=cfg.attention_dropout, activation=cfg.activation, coef_bits=cfg.coef_bits,
        bias_bits=cfg.bias_bits, logit_bits=cfg.logit_bits,
    ).to(data.x.device)
    fit_info = fit(model, data, g, cfg, out / "train_log.jsonl", progress)
    ir = export_ir(model, f"{cfg.dataset}-{cfg.arch}", metadata={"train_config": asdict(cfg)})
    ir.save(out / "model.ir.json")
    metrics = {
        "dataset": data.name, "split": data.split, **evaluate(model, ir, data, g), **fit_info,
        "train_seconds": round(time.time() - t0, 2), "torch_device": str(data.x.device), "config": asdict(cfg),
    }
    write_json_atomic(out / "metrics.json", metrics)
    return metrics


def add_parser(sub: argparse._SubParsersAction) -> None:
    from lpgnas.cli_args import dataset_help
    from lpgnas.datasets import SPLITS

    p = sub.add_parser(
        "train", help="quantisation-aware training of a fixed architecture, export to the IR",
        description=(
            "Train one fixed architecture with quantisation-aware training, export it to the IR and report "
            "the golden integer model's test accuracy. Writes RUN/model.ir.json and model.ir.npz, "
            "RUN/metrics.json and RUN/train_log.jsonl. The GAT family (gat, sym-gat, cos, linear, "
            "gene-linear) defaults to the layout of Velickovic et al.: 8 heads of 8 hidden units "
            "concatenated with elu, one averaged output head, dropout 0.6 on features and attention "
            "coefficients, lr 0.005; any option given explicitly wins. "
            "Example: lpgnas train --dataset Cora --arch gcn --wbits 4 --abits 8 -o runs/gcn"
        ),
    )
    p.add_argument("--dataset", default="Cora", help=dataset_help("Cora"))
    p.add_argument("--data-root", default=None, help="dataset root (default: $LPGNAS_DATA or the user cache)")
    p.add_argument("--split", default=None, choices=SPLITS,
                   help="train/val/test split (default: public for Cora, CiteSeer, PubMed, else random-60-20-20)")
    p.add_argument("--arch", "--attention", dest="arch", default="gcn", help=f"attention: {', '.join(ATTENTIONS)}")
    p.add_argument("--aggregation", default=None, help=f"{', '.join(AGGREGATIONS)} (default: add)")
    p.add_argument("--activation", default=None,
                   help=f"hidden activation: {', '.join(ACTIVATIONS)} (default: relu; GAT family elu)")
    p.add_argument("--layers", type=int, default=None, help="1..8 (default: 2)")
    p.add_argument("--hidden", type=int, default=None, help="hidden units per head (default: 16; GAT family 8)")
    p.add_argument("--heads", type=int, default=None,
                   help="hidden-layer heads, concatenated (default: 1; GAT family 8)")
    p.add_argument("--out-heads", type=int, default=None, help="heads of the output layer, averaged (default: 1)")
    p.add_argument("--wbits", type=int, default=None,
                   help=f"weight bits 1..{MAX_BITS} (1 = binary, 2 = ternary; default: 8)")
    p.add_argument("--abits", type=int, default=None, help=f"activation bits 2..{MAX_BITS} (default: 8)")
    p.add_argument("--coef-bits", type=int, default=None,
                   help="bits of the aggregation coefficients, e.g. GCN's 1/sqrt(d_i d_j) (default: --abits)")
    p.add_argument("--bias-bits", type=int, default=None,
                   help="bits of the biases (default: the layer's activation bits, --abits or --logit-bits)")
    p.add_argument("--logit-bits", type=int, default=None,
                   help="bits of the last layer's activations, the logits (default: --abits)")
    p.add_argument("--epochs", type=int, default=None, help="default: 200")
    p.add_argument("--lr", type=float, default=None, help="default: 0.01; GAT family 0.005")
    p.add_argument("--weight-decay", type=float, default=None, help="default: 5e-4")
    p.add_argument("--dropout", type=float, default=None, help="feature dropout (default: 0.5; GAT family 0.6)")
    p.add_argument("--attention-dropout", type=float, default=None,
                   help="dropout of softmax coefficients, training only (default: 0; GAT family 0.6)")
    p.add_argument("--features", choices=("auto", *FEATURE_MODES), default="auto",
                   help="host-side feature preprocessing (default: auto, centred for Amazon, row-normalised "
                        "otherwise)")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without a better validation accuracy (default: 0, never)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation, dropout and random splits")
    add_torch_device_argument(p)
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    keys = [k for k in TrainConfig.__dataclass_fields__ if k != "arch"]
    cfg = preset_config(args.arch, **{k: getattr(args, k) for k in keys})
    m = train(cfg, args.out, data_root=args.data_root, progress=not args.quiet, torch_device=args.torch_device)
    print(f"test accuracy: float {m['test_accuracy_float']:.4f}, golden {m['test_accuracy_golden']:.4f} "
          f"(agreement {m['golden_float_agreement']:.4f}); unquantised {m['test_accuracy_unquantised']:.4f}")
    print(f"wrote {Path(args.out) / 'model.ir.json'} and {Path(args.out) / 'metrics.json'}")
    return 0
