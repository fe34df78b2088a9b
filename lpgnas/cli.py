"""The ``lpgnas`` command line.

Adding a subcommand
-------------------
Write ``add_<cmd>_parser(subparsers)`` that calls ``subparsers.add_parser("<cmd>", help=...)``, adds the
arguments and ends with ``p.set_defaults(func=run_<cmd>)``, where ``run_<cmd>(args) -> int | None`` does
the work (``None`` means exit status 0). Then list it in :data:`SUBCOMMANDS`, either as the function
itself or as a ``"module:function"`` string (imported when the CLI starts). Keep the module that defines
``add_<cmd>_parser`` cheap to import (import torch & co. inside ``run_<cmd>``) so ``lpgnas --help`` stays
fast.

Errors that derive from :class:`lpgnas.errors.LpgnasError` are printed as ``lpgnas: error: <message>``
and exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from lpgnas import __version__
from lpgnas.errors import LpgnasError

PROG = "lpgnas"


# --------------------------------------------------------------------------------------------------------
# lpgnas datasets
# --------------------------------------------------------------------------------------------------------

_TABLE_COLUMNS = ("name", "nodes", "edges", "features", "classes", "split", "train", "val", "test")
_STATS_COLUMNS = ("edges_with_self_loops", "max_degree", "mean_degree", "feature_density")


def add_datasets_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "datasets",
        help="list the datasets with their sizes and default splits",
        description=(
            "Load each dataset and print nodes, directed edges, features, classes and the train/val/test "
            "sizes of its default split (public for Cora/CiteSeer/PubMed, random-60-20-20 otherwise). "
            "Raw files come from --data-root, else $LPGNAS_DATA; with neither, PyTorch Geometric "
            "downloads them into the cache ($LPGNAS_CACHE/datasets or ~/.cache/lpgnas/datasets)."
        ),
    )
    p.add_argument(
        "--data-root",
        metavar="DIR",
        help="folder with <Name>/raw/... (read-only is fine; default: $LPGNAS_DATA, else download)",
    )
    p.add_argument("--names", metavar="A,B,...", help="comma-separated dataset names (default: all)")
    p.add_argument(
        "--split",
        choices=("public", "random-60-20-20", "random-20-per-class"),
        help="split to report (default: each dataset's own default)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of random splits (default: 0)")
    p.add_argument("--stats", action="store_true", help="add degree/density columns (JSON: the histogram)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run_datasets)


def run_datasets(args: argparse.Namespace) -> int:
    import gc

    from lpgnas import datasets as dsm

    if args.names:
        names = [dsm.canonical_name(n.strip()) for n in args.names.split(",") if n.strip()]
    else:
        names = dsm.dataset_names()
    rows: list[dict[str, Any]] = []
    failed = 0
    for name in names:
        try:
            ds = dsm.load_dataset(name, data_root=args.data_root, split=args.split, seed=args.seed)
        except LpgnasError as exc:
            failed += 1
            rows.append({"name": name, "error": str(exc)})
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            continue
        row = ds.summary()
        st = ds.stats()
        row.update(
            edges_with_self_loops=st.num_edges_with_self_loops,
            max_degree=st.max_degree,
            mean_degree=st.mean_degree,
            feature_density=st.feature_density,
        )
        if args.stats:
            row["degree_histogram"] = st.to_dict()["degree_histogram"]
        rows.append(row)
        del ds, st
        gc.collect()

    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        cols = _TABLE_COLUMNS + (_STATS_COLUMNS if args.stats else ())
        _print_table([r for r in rows if "error" not in r], cols)
        root = args.data_root or os.environ.get("LPGNAS_DATA")
        where = f"data root: {root}" if root else f"downloaded into: {dsm.cache_dir()}"
        print(f"({where}; edges are directed, an undirected edge counts twice)")
    return 2 if failed else 0


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _print_table(rows: list[dict[str, Any]], cols: Sequence[str]) -> None:
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    numeric = [c not in ("name", "split") for c in cols]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    print(line(cols))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))


# --------------------------------------------------------------------------------------------------------
# Registry and entry point
# --------------------------------------------------------------------------------------------------------

#: Subcommand registrars, in the order ``lpgnas --help`` lists them. An entry is a callable
#: ``add_<cmd>_parser(subparsers)`` or a ``"module:function"`` string naming one.
SUBCOMMANDS: list[Callable[[Any], None] | str] = [
    add_datasets_parser,
    "search.train:add_parser",
    "search.nas:add_parser",
    "hw_model.cli:add_parser",
    "sim.cli:add_parsers",
    "lpgnas.flow:add_parser",
]


def _resolve(entry: Callable[[Any], None] | str) -> Callable[[Any], None]:
    if callable(entry):
        return entry
    module, _, attr = entry.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Low-precision GNN architecture search co-designed with FPGA accelerators: search, "
            "cost model, HLS C++/Verilog generation and bit-exact verification."
        ),
        epilog="Run 'lpgnas <command> --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug messages on stderr")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for entry in SUBCOMMANDS:
        _resolve(entry)(subparsers)
    return parser


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    for name in ("lpgnas", "search", "hw_model", "hls_templates", "sim"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(getattr(h, "_lpgnas_cli", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
            handler._lpgnas_cli = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
            logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    _setup_logging(args.verbose, args.quiet)
    try:
        rc = args.func(args)
    except LpgnasError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `lpgnas datasets | head -3`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # silence the failing flush at exit
        return 0
    return int(rc or 0)


if __name__ == "__main__":
    raise SystemExit(main())
