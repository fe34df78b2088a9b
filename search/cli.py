"""``lpgnas search``'s command line (``python -m lpgnas.search.cli`` runs it alone)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from pathlib import Path

from lpgnas.cli_args import dataset_help, device_help, finish_subparsers
from lpgnas.datasets import FEATURE_MODES, SPLITS
from lpgnas.errors import LpgnasError
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS
from lpgnas.search.config import SearchConfig
from lpgnas.search.cost import OBJECTIVES
from lpgnas.search.run import search
from lpgnas.search.torch_device import add_torch_device_argument


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``lpgnas search``."""
    p = sub.add_parser(
        "search", help="LPGNAS: search architecture and quantisation, retrain, export the IR",
        description=(
            "Search architecture and quantisation together with a supernet and controllers whose loss adds "
            "lambda times the hardware cost, derive candidate designs (the argmax, draws from the "
            "controllers, one textbook design per attention operator and a local search around the best), "
            "screen each by quantisation-aware training, retrain the best finalists from scratch and "
            "export the one with the best validation accuracy. Writes RUN/search_log.jsonl, "
            "RUN/search.ckpt, RUN/candidates/, RUN/model.ir.json and RUN/metrics.json; --resume continues "
            "from RUN/search.ckpt with the configuration saved there. docs/search.md explains the method. "
            "Example: lpgnas search --dataset Cora --device xc7z020 -o runs/search"
        ),
    )
    d = SearchConfig()
    p.add_argument("--dataset", default=d.dataset, help=dataset_help(d.dataset))
    p.add_argument("--data-root", default=None, help="dataset root (default: $LPGNAS_DATA or the user cache)")
    p.add_argument("--split", default=None, choices=SPLITS,
                   help="train/val/test split (default: public for Cora, CiteSeer, PubMed, else random-60-20-20)")
    p.add_argument("--device", default=d.device,
                   help=device_help(d.device) + "; its budgets enter the cost and --budget-kib device")
    p.add_argument("--layers", type=int, default=d.layers, help="1..4")
    p.add_argument("--lambda", dest="lam", type=float, default=d.lam,
                   help="weight of the normalised expected cost in the controller loss")
    p.add_argument("--budget-kib", default=None,
                   help="budget mode: penalise only what exceeds the budgets: model size above this many KiB "
                        "('device': the device's BRAM; 'gcn8': 1/8 of the float GCN 2x16's size), LUT/DSP/BRAM "
                        "and buffers above the device's (default: none, the whole cost counts)")
    p.add_argument("--cost", default=d.cost,
                   help="cost terms, comma-separated: model, buffer (KiB), lut, dsp, bram, latency (hw_model's "
                        "expected estimate); 'total' = model,buffer; 'hw' (default) = all")
    p.add_argument("--objective", default=d.objective, choices=OBJECTIVES,
                   help="what the controllers trade accuracy against: 'size' (default: the --cost terms, "
                        "--budget-kib) or 'latency' (the latency at the best parallelism that fits --device, "
                        "its LUT/DSP/BRAM as hard limits; --cost does not apply; --budget-kib, if given, still "
                        "caps the model size)")
    p.add_argument("--weight-steps", type=int, default=d.weight_steps,
                   help="supernet weight steps per epoch (one controller step per epoch after warm-up)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="search epochs")
    p.add_argument("--warmup", type=int, default=d.warmup, help="epochs of weight steps only")
    p.add_argument("--retrain-epochs", type=int, default=d.retrain_epochs,
                   help="most epochs of the finalists' retraining (default %(default)s)")
    p.add_argument("--retrain-patience", type=int, default=d.retrain_patience,
                   help="stop a finalist's retraining after this many epochs without a better validation "
                        "accuracy (default %(default)s; 0: train all --retrain-epochs)")
    p.add_argument("--candidates", type=int, default=d.candidates,
                   help="architectures retrained (argmax + draws from the controllers), each for "
                        "--screen-epochs; the --finalists best by validation accuracy for --retrain-epochs; "
                        "the best of those is exported")
    p.add_argument("--no-controllers", dest="controllers", action="store_false",
                   help="no supernet and no controllers: skip the search epochs and the draws; the candidates are "
                        "the anchors and the local search's rounds around them (screened, retrained and put on "
                        "the fronts as usual), to measure what the supernet adds")
    p.add_argument("--no-neighbours", dest="neighbours", action="store_false",
                   help="no local search: screen the argmax and the draws only (else also, for --generations "
                        "rounds, every design one decision away from the most accurate unexpanded design on the "
                        "front of validation accuracy against the objective's cost)")
    p.add_argument("--no-anchors", dest="anchors", action="store_false",
                   help="screen only the controllers' designs, not also one W8A8 design (4-bit biases) per "
                        "attention operator (every layer: that attention, add, relu)")
    p.add_argument("--screen-epochs", type=int, default=d.screen_epochs, help="epochs of each candidate's screening")
    p.add_argument("--screen-patience", type=int, default=d.screen_patience,
                   help="stop screening a candidate after this many epochs without a better validation "
                        "accuracy (0: never)")
    p.add_argument("--generations", type=int, default=d.generations,
                   help="rounds of local search after the candidates are screened: each screens the neighbours of "
                        "the most accurate unexpanded design on the front of validation accuracy against the "
                        "objective's cost (latency or model size), then its improving moves combined")
    p.add_argument("--finalists", type=int, default=d.finalists,
                   help="best screened candidates retrained for --retrain-epochs")
    p.add_argument("--lr", type=float, default=d.lr, help="weight learning rate of the retraining")
    p.add_argument("--supernet-lr", type=float, default=d.supernet_lr,
                   help="weight learning rate of the supernet (each path gets a share of the steps)")
    p.add_argument("--arch-lr", type=float, default=d.arch_lr, help="controller learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="Adam weight decay")
    p.add_argument("--dropout", type=float, default=d.dropout, help="feature dropout")
    p.add_argument("--tau-start", type=float, default=d.tau_start, help="Gumbel-softmax temperature at the start")
    p.add_argument("--tau-end", type=float, default=d.tau_end, help="Gumbel-softmax temperature at the end")
    p.add_argument("--hidden-sizes", default=d.hidden_sizes, help="hidden width options")
    p.add_argument("--head-counts", default=d.head_counts, help="head count options")
    p.add_argument("--weight-bits", default=d.weight_bits, help="weight bitwidths (1 binary, 2 ternary)")
    p.add_argument("--act-bits", default=d.act_bits, help="activation bitwidths (2..16)")
    p.add_argument("--attentions", default=None,
                   help=f"restrict the attention options, comma-separated (default: all: {', '.join(ATTENTIONS)})")
    p.add_argument("--aggregations", default=None,
                   help=f"restrict the aggregation options (default: all: {', '.join(AGGREGATIONS)})")
    p.add_argument("--activations", default=None,
                   help=f"restrict the hidden activation options (default: all: {', '.join(ACTIVATIONS)})")
    p.add_argument("--features", choices=("auto", *FEATURE_MODES), default=d.features,
                   help="host-side feature preprocessing, as lpgnas train (default auto: centred for Amazon, "
                        "row-normalised otherwise; on Cora a W4A8 GCN-16 reaches 81.9%% golden row-normalised, "
                        "78.5%% raw)")
    p.add_argument("--controller-weights", dest="fair_weights", action="store_false",
                   help="weight steps follow the controllers' architecture samples (default: uniform draws, "
                        "so the shared weights do not specialise to the early favourite and every operator "
                        "stays comparable; the quantisation decisions follow the controller either way)")
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                   help="write RUN/search.ckpt every this many search epochs")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the search, the screening and random splits")
    add_torch_device_argument(p)
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true",
                   help="continue from RUN/search.ckpt (on any --torch-device: the device is not part of the run's "
                        "configuration)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    cfg = SearchConfig(**{f.name: getattr(args, f.name) for f in fields(SearchConfig)})
    m = search(cfg, args.out, data_root=args.data_root, resume=args.resume, progress=not args.quiet,
               torch_device=args.torch_device)
    print(f"architecture (candidate {m['chosen_candidate']}, its {m['chosen_training']} training, validation "
          f"{m['val_accuracy_float']:.4f}):")
    for i, c in enumerate(m["architecture"]):
        print(f"  layer{i}: " + ", ".join(f"{k}={v}" for k, v in c.items()))
    print(f"test accuracy: float {m['test_accuracy_float']:.4f}, golden {m['test_accuracy_golden']:.4f}; "
          f"model {m['model_size_kib']:.1f} KiB ({size_versus_float(m['model_compression_vs_float_gcn16'])} a "
          f"float GCN-16), buffers {m['buffer_size_kib']:.1f} KiB; search {m['search_seconds']:.0f} s")
    print(f"wrote {Path(args.out) / 'model.ir.json'} and {Path(args.out) / 'metrics.json'}")
    hw = m["hardware"]
    if not hw["fits_device"]:
        logging.getLogger(__name__).warning(
            f"warning: the exported design does not fit {m['device']} at the search's nominal parallelism: "
            f"{hw['overuse']}; lpgnas generate will refuse it: search again with --budget-kib device, or target "
            "a larger --device")
    return 0


def size_versus_float(compression: float) -> str:
    """``4.0x smaller than`` for a compression of 4, ``2.0x larger than`` for 0.5 (a model twice as large)."""
    if compression >= 1:
        return f"{compression:.1f}x smaller than"
    return f"{1 / compression:.1f}x larger than"


def main(argv: list[str] | None = None) -> int:
    """``python -m lpgnas.search.cli [search options]`` (the same as ``lpgnas search``)."""
    parser = argparse.ArgumentParser(prog="lpgnas.search.cli")
    parser.set_defaults(quiet=False)
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_parser(sub)
    finish_subparsers(sub)
    args = parser.parse_args(["search", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except LpgnasError as e:
        print(f"lpgnas: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
