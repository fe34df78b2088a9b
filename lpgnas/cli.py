"""The ``lpgnas`` command line.

Adding a subcommand
-------------------
Write ``add_<cmd>_parser(subparsers)`` that calls ``subparsers.add_parser("<cmd>", help=...)``, adds the
arguments and ends with ``p.set_defaults(func=run_<cmd>)``, where ``run_<cmd>(args) -> int | None`` does
the work (``None`` means exit status 0). Then list it in :data:`SUBCOMMANDS`, either as the function
itself or as a ``"module:function"`` string (imported when the CLI starts). Keep the module that defines
``add_<cmd>_parser`` cheap to import (import torch & co. inside ``run_<cmd>``) so ``lpgnas --help`` stays
fast.

Exit statuses (:data:`EXIT_STATUSES`): 0 success, 1 a check failed (not bit-exact, does not fit), 2 bad usage
or input. Errors that derive from :class:`lpgnas.errors.LpgnasError` are printed as one line
``lpgnas: error: <message>`` and exit with the error's ``exit_status`` (2, or 1 for
:class:`~lpgnas.errors.HardwareFitError`); so are the file-system errors a user causes (:data:`USER_ERRNOS`:
disk full, read-only or forbidden folder, a name too long, a file where a folder belongs, ...), naming the
path. Anything else is a bug and keeps its traceback. A ``run_<cmd>`` returns 1 when the check it exists for
fails. Every command gets ``-q/--quiet`` and a help formatter that shows the defaults
(:func:`finish_subparsers`); pass ``progress=not args.quiet`` to long steps (:mod:`lpgnas.progress`).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lpgnas import __version__
from lpgnas.cli_args import finish_subparsers
from lpgnas.errors import LpgnasError

PROG = "lpgnas"


# --------------------------------------------------------------------------------------------------------
# lpgnas datasets
# --------------------------------------------------------------------------------------------------------

_TABLE_COLUMNS = ("name", "nodes", "edges", "features", "classes", "split", "train", "val", "test")
_STATS_COLUMNS = ("edges_with_self_loops", "max_degree", "mean_degree", "feature_density")
_REGISTRY_COLUMNS = ("name", "source", "split", "raw_files")
_TEXT_COLUMNS = ("name", "split", "source", "raw_files")


def add_datasets_parser(subparsers: Any) -> None:
    from lpgnas.datasets import SPLITS, dataset_names

    p = subparsers.add_parser(
        "datasets",
        help="list the known datasets; load the named ones for their sizes and splits",
        description=(
            "Without names, print the registry without loading anything: each dataset's name, source, "
            "default split and whether its raw files are present in the data root. With names (or --all), "
            "load each one and print nodes, directed edges, features, classes and the train/val/test sizes "
            "of its default split (public for Cora, CiteSeer and PubMed, random-60-20-20 otherwise). Raw "
            "files come from --data-root, else $LPGNAS_DATA; with neither, PyTorch Geometric downloads "
            "them into the cache ($LPGNAS_CACHE/datasets or ~/.cache/lpgnas/datasets). Known datasets: "
            f"{', '.join(dataset_names())}."
        ),
    )
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="datasets to load (case-insensitive; default: none, print the registry only)")
    p.add_argument(
        "--data-root",
        metavar="DIR",
        help="folder with <Name>/raw/... (read-only is fine; default: $LPGNAS_DATA, else download)",
    )
    p.add_argument("--names", dest="names_csv", metavar="A,B,...",
                   help="comma-separated dataset names, the same as giving them as arguments (default: none)")
    p.add_argument("--all", action="store_true", help="load every dataset (41 s and 2.7 GB of memory for all eight)")
    p.add_argument("--split", choices=SPLITS, help="split to report (default: each dataset's own default)")
    p.add_argument("--seed", type=int, default=0, help="seed of random splits")
    p.add_argument("--stats", action="store_true", help="add degree/density columns (JSON: the histogram)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run_datasets)


def _data_root_in_use(data_root: str | None) -> tuple[Path, str]:
    """The folder raw files are read from and how it was chosen (for the table's footer)."""
    from lpgnas import datasets as dsm

    if data_root:
        return Path(data_root).expanduser(), f"data root: {data_root}"
    env = dsm.default_data_root()
    if env is not None:
        return env, f"data root: {env}"
    return dsm.cache_dir(), f"downloaded into: {dsm.cache_dir()}"


def _registry_rows(data_root: str | None) -> list[dict[str, Any]]:
    """Name, source, default split and raw-file presence of every dataset, without loading any."""
    from lpgnas import datasets as dsm

    root, _ = _data_root_in_use(data_root)
    rows = []
    for name in dsm.dataset_names():
        paths = dsm.expected_raw_paths(name, root)
        missing = sum(not p.is_file() for p in paths)
        raw = "built-in" if not paths else "present" if not missing else f"missing {missing} of {len(paths)}"
        rows.append({"name": name, "source": dsm.dataset_source(name), "split": dsm.default_split(name),
                     "raw_files": raw})
    return rows


def run_datasets(args: argparse.Namespace) -> int:
    import gc

    from lpgnas import datasets as dsm

    given = [*args.names, *(args.names_csv.split(",") if args.names_csv else [])]
    names = [dsm.canonical_name(n.strip()) for n in given if n.strip()]
    if args.all:
        names = dsm.dataset_names()
    _, where = _data_root_in_use(args.data_root)
    if not names:
        if args.stats or args.split:
            raise LpgnasError("--stats and --split need datasets to load; name them or pass --all")
        rows = _registry_rows(args.data_root)
        if args.json:
            print(json.dumps(rows, indent=2, allow_nan=False))
        else:
            _print_table(rows, _REGISTRY_COLUMNS)
            print(f"({where}; lpgnas datasets NAME... or --all loads them for their sizes)")
        return 0
    rows: list[dict[str, Any]] = []
    failed = 0
    for name in names:
        try:
            ds = dsm.load_dataset(name, data_root=args.data_root, split=args.split, seed=args.seed)
        except LpgnasError as exc:
            failed += 1
            rows.append({"name": name, "error": str(exc)})
            _error(str(exc))
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
        print(json.dumps(rows, indent=2, allow_nan=False))
    else:
        cols = _TABLE_COLUMNS + (_STATS_COLUMNS if args.stats else ())
        _print_table([r for r in rows if "error" not in r], cols)
        print(f"({where}; edges are directed, an undirected edge counts twice)")
    return 2 if failed else 0


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _print_table(rows: list[dict[str, Any]], cols: Sequence[str]) -> None:
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    numeric = [c not in _TEXT_COLUMNS for c in cols]

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
    "lpgnas.search.train:add_parser",
    "lpgnas.search.cli:add_parser",
    "lpgnas.search.baseline_cli:add_parser",
    "lpgnas.search.export_cli:add_parser",
    "lpgnas.hw_model.cli:add_parser",
    "lpgnas.sim.cli:add_parsers",
    "lpgnas.flow:add_parser",
    "lpgnas.sweep.cli:add_parser",
]


def _resolve(entry: Callable[[Any], None] | str) -> Callable[[Any], None]:
    if callable(entry):
        return entry
    module, _, attr = entry.partition(":")
    return getattr(importlib.import_module(module), attr)


#: what ``lpgnas --help`` and docs/cli.md say about exit statuses (one meaning each)
EXIT_STATUSES = (
    "Exit status: 0 success; 1 a check failed (verify: not bit-exact; estimate, generate: the design does not "
    "fit the device; sweep: a point failed); 2 bad usage or input (unknown option or name, missing or invalid "
    "file, missing tool), printed as one line 'lpgnas: error: <problem>; <fix>'."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Low-precision GNN architecture search co-designed with FPGA accelerators: search, "
            "cost model, HLS C++/Verilog generation and bit-exact verification."
        ),
        epilog=f"Run 'lpgnas <command> --help' for a command's options; docs/cli.md has examples. {EXIT_STATUSES}",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug messages on stderr")
    verbosity.add_argument("-q", "--quiet", action="store_true",
                           help="no progress output, only warnings and errors on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    for entry in SUBCOMMANDS:
        _resolve(entry)(subparsers)
    finish_subparsers(subparsers)
    return parser


def setup_logging(verbose: bool, quiet: bool) -> None:
    """Log lpgnas's messages as ``lpgnas: <message>`` on the current ``sys.stderr`` (a sweep point's log
    when a sweep runs the command)."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    for name in ("lpgnas", "search", "hw_model", "hls_templates", "sim"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        ours = [h for h in logger.handlers if getattr(h, "_lpgnas_cli", False)]
        for h in ours:  # not setStream: it flushes the old stream, which may be closed by now (a test's capture)
            h.stream = sys.stderr  # type: ignore[attr-defined]
        if not ours:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
            handler._lpgnas_cli = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
            logger.propagate = False


#: errno -> what to do about it, for the OSErrors a user causes (anything else is a bug and keeps its traceback)
USER_ERRNOS: dict[int, str] = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EROFS: "write to a writable folder (-o)",
    errno.EACCES: "check the permissions, or write to a folder of yours (-o)",
    errno.EPERM: "check the permissions, or write to a folder of yours (-o)",
    errno.ENAMETOOLONG: "use a shorter name (file names are at most 255 bytes)",
    errno.ENOTDIR: "a file is in the way where a folder is needed; choose another path",
    errno.EISDIR: "a folder is in the way where a file is needed; choose another path",
    errno.EEXIST: "something is in the way of a folder to create; choose another path",
}


def user_os_error(exc: OSError) -> str | None:
    """The one-line message for an OSError the user caused (see :data:`USER_ERRNOS`), else None."""
    fix = USER_ERRNOS.get(exc.errno) if exc.errno is not None else None
    if fix is None:
        return None
    where = exc.filename if exc.filename is not None else "writing the output"
    other = f" -> {exc.filename2}" if exc.filename2 is not None else ""
    return f"{where}{other}: {exc.strerror or os.strerror(exc.errno)}; {fix}"


def _one_line(text: str) -> str:
    """A message on one line (a multi-line message's lines joined with ' | ')."""
    return " | ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of unwritable output raises nothing."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    setup_logging(args.verbose, args.quiet)
    try:
        rc = args.func(args)
    except LpgnasError as exc:
        _error(str(exc))
        return exc.exit_status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `lpgnas datasets | head -3`
        _silence_stdout()
        return 0
    except OSError as exc:
        if exc.filename is None and _stdout_unwritable():
            return _stdout_error(exc)
        message = user_os_error(exc)
        if message is None:
            raise
        _error(message)
        return 2
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        return _stdout_error(exc)
    return int(rc or 0)


def _stdout_unwritable() -> bool:
    """Whether stdout refuses even an empty write (e.g. it is /dev/full)."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):  # not a file (e.g. captured): it cannot be the culprit
        return False
    try:
        os.write(fd, b"")
    except OSError:
        return True
    return False


def _stdout_error(exc: OSError) -> int:
    _silence_stdout()
    _error(f"cannot write the output to stdout ({exc.strerror}); redirect it to a file on a disk with space")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
