"""Node-classification datasets and graph statistics.

``load_dataset(name, data_root=None, split=None, seed=0)`` returns a :class:`Dataset` (dense float32
features, labels, PyG-style ``edge_index`` and boolean split masks) for the Planetoid citation graphs
(Cora, CiteSeer, PubMed), the Amazon co-purchase graphs (Computers, Photo), the Coauthor graphs
(CS, Physics), and Zachary's karate club (built in, no files needed).

Where the files come from (a read-only data root, else a download into the cache), the splits and the
feature preprocessing, with the measurements behind the defaults: docs/data.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lpgnas.errors import DatasetError
from lpgnas.fileio import cache_root
from lpgnas.sparse import nonzero_histogram

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric.data import Data

__all__ = [
    "FEATURE_MODES",
    "SPLITS",
    "Dataset",
    "GraphStats",
    "cache_dir",
    "canonical_name",
    "dataset_names",
    "default_data_root",
    "dataset_source",
    "default_split",
    "expected_raw_paths",
    "data_identity",
    "graph_stats",
    "load_dataset",
    "make_split",
    "preprocess_features",
    "recorded_feature_mode",
    "resolve_feature_mode",
]

log = logging.getLogger(__name__)

SPLITS = ("public", "random-60-20-20", "random-20-per-class")

_PLANETOID_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


@dataclass(frozen=True)
class _Spec:
    name: str  # canonical name, also the folder name under the data root
    family: str  # "planetoid" | "amazon" | "coauthor" | "builtin"
    raw_files: tuple[str, ...]
    default_split: str


_SPECS: dict[str, _Spec] = {
    s.name.lower(): s
    for s in (
        _Spec("Cora", "planetoid", tuple(f"ind.cora.{x}" for x in _PLANETOID_SUFFIXES), "public"),
        _Spec("CiteSeer", "planetoid", tuple(f"ind.citeseer.{x}" for x in _PLANETOID_SUFFIXES), "public"),
        _Spec("PubMed", "planetoid", tuple(f"ind.pubmed.{x}" for x in _PLANETOID_SUFFIXES), "public"),
        _Spec("Computers", "amazon", ("amazon_electronics_computers.npz",), "random-60-20-20"),
        _Spec("Photo", "amazon", ("amazon_electronics_photo.npz",), "random-60-20-20"),
        _Spec("CS", "coauthor", ("ms_academic_cs.npz",), "random-60-20-20"),
        _Spec("Physics", "coauthor", ("ms_academic_phy.npz",), "random-60-20-20"),
        _Spec("karate", "builtin", (), "random-60-20-20"),
    )
}


# --------------------------------------------------------------------------------------------------------
# Names and locations
# --------------------------------------------------------------------------------------------------------


def dataset_names(include_builtin: bool = True) -> list[str]:
    """Canonical names of the known datasets, in a fixed order (the seven PyG ones, then ``karate``)."""
    return [s.name for s in _SPECS.values() if include_builtin or s.family != "builtin"]


def _spec(name: str) -> _Spec:
    if not isinstance(name, str) or name.lower() not in _SPECS:
        raise DatasetError(
            f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())} (case-insensitive)"
        )
    return _SPECS[name.lower()]


def canonical_name(name: str) -> str:
    """``"cora"`` -> ``"Cora"``; raises :class:`DatasetError` listing the known names for unknown ones."""
    return _spec(name).name


def dataset_source(name: str) -> str:
    """Where a dataset comes from: ``planetoid``, ``amazon``, ``coauthor`` (PyG's loaders) or ``builtin``."""
    return _spec(name).family


def default_split(name: str) -> str:
    """The split :func:`load_dataset` uses when ``split=None``."""
    return _spec(name).default_split


# --------------------------------------------------------------------------------------------------------
# Feature preprocessing
# --------------------------------------------------------------------------------------------------------

FEATURE_MODES = ("row", "center", "raw")


def resolve_feature_mode(mode: str, dataset: str) -> str:
    """``mode`` itself, or for ``"auto"`` the dataset's default (``center`` for the Amazon graphs, ``raw`` for
    Coauthor, ``row`` for the others)."""
    if mode == "auto":
        return {"amazon": "center", "coauthor": "raw"}.get(_spec(dataset).family, "row")
    if mode not in FEATURE_MODES:
        raise DatasetError(f"unknown feature preprocessing {mode!r}; choose auto or one of: "
                           f"{', '.join(FEATURE_MODES)}")
    return mode


def preprocess_features(x: torch.Tensor, mode: str) -> torch.Tensor:
    """The host-side step before quantisation: ``row`` (divide each row by its sum; rows of zeros stay zero),
    ``center`` (subtract each column's mean over all nodes) or ``raw``."""
    if mode == "row":
        return x / x.sum(dim=1, keepdim=True).clamp(min=1e-12)
    if mode == "center":
        return x - x.mean(dim=0, keepdim=True)
    if mode == "raw":
        return x
    raise DatasetError(f"unknown feature preprocessing {mode!r}; choose one of: {', '.join(FEATURE_MODES)}")


def recorded_feature_mode(config: dict[str, Any]) -> str:
    """The preprocessing a recorded training configuration used: its ``features`` field, else (IRs written
    before the field existed) ``row`` if ``normalize_features`` was set, else ``raw``."""
    if "features" in config:
        return resolve_feature_mode(config["features"], config.get("dataset", "karate"))
    return "row" if config.get("normalize_features") else "raw"


def cache_dir() -> Path:
    """Writable folder where PyG's processed files (and downloads) live."""
    return cache_root() / "datasets"


def default_data_root() -> Path | None:
    """``$LPGNAS_DATA`` if set (and non-empty), else ``None`` (meaning: download into the cache)."""
    env = os.environ.get("LPGNAS_DATA")
    return Path(env).expanduser() if env else None


def expected_raw_paths(name: str, data_root: str | os.PathLike[str]) -> list[Path]:
    """Raw files that ``load_dataset(name, data_root)`` reads (empty for built-in datasets)."""
    spec = _spec(name)
    return [Path(data_root) / spec.name / "raw" / f for f in spec.raw_files]


def data_identity(name: str, data_root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """What a result computed from dataset ``name`` depends on: its name and the size and modification time
    of each raw file under the root ``load_dataset`` would read (``data_root``, else ``$LPGNAS_DATA``, else the
    download cache; a missing file is ``None``). Cached results keyed by it are redone when the data change."""
    spec = _spec(name)
    root = Path(data_root).expanduser() if data_root is not None else default_data_root() or cache_dir()
    return {"dataset": spec.name, "raw": [_fingerprint([p])[0] if p.is_file() else [p.name, None]
                                          for p in expected_raw_paths(spec.name, root)]}


# --------------------------------------------------------------------------------------------------------
# Data containers
# --------------------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """One graph with node features, labels and a train/val/test split (boolean masks over nodes)."""

    name: str
    x: torch.Tensor  # float32 [N, F]
    y: torch.Tensor  # int64 [N]
    edge_index: torch.Tensor  # int64 [2, E]; row 0 = source, row 1 = target (PyG convention)
    train_mask: torch.Tensor  # bool [N]
    val_mask: torch.Tensor  # bool [N]
    test_mask: torch.Tensor  # bool [N]
    num_classes: int
    split: str = "public"
    seed: int = 0

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_edges(self) -> int:
        """Directed edges as stored in ``edge_index`` (an undirected edge counts twice)."""
        return int(self.edge_index.shape[1])

    def split_sizes(self) -> tuple[int, int, int]:
        return (int(self.train_mask.sum()), int(self.val_mask.sum()), int(self.test_mask.sum()))

    def stats(self) -> GraphStats:
        return graph_stats(self.edge_index, self.num_nodes, self.x)

    def to_pyg(self) -> Data:
        """The same graph as a ``torch_geometric.data.Data`` (tensors shared, not copied)."""
        from torch_geometric.data import Data

        return Data(
            x=self.x,
            y=self.y,
            edge_index=self.edge_index,
            train_mask=self.train_mask,
            val_mask=self.val_mask,
            test_mask=self.test_mask,
            num_nodes=self.num_nodes,
        )

    def summary(self) -> dict[str, Any]:
        """Sizes as plain Python values (what ``lpgnas datasets`` prints)."""
        tr, va, te = self.split_sizes()
        return {
            "name": self.name,
            "nodes": self.num_nodes,
            "edges": self.num_edges,
            "features": self.num_features,
            "classes": self.num_classes,
            "split": self.split,
            "seed": self.seed,
            "train": tr,
            "val": va,
            "test": te,
        }

    def __repr__(self) -> str:
        tr, va, te = self.split_sizes()
        return (
            f"Dataset({self.name}: {self.num_nodes} nodes, {self.num_edges} edges, {self.num_features} "
            f"features, {self.num_classes} classes, split {self.split} seed {self.seed} {tr}/{va}/{te})"
        )


@dataclass
class GraphStats:
    """Graph statistics the cost model and the accelerator's buffer sizing need.

    Degrees are in-degrees (messages flow ``edge_index[0] -> edge_index[1]``) after self-loop
    normalisation: existing self loops removed, one added per node (as GCN/GAT aggregate).
    """

    num_nodes: int
    num_edges: int  # directed edges as given
    num_self_loops: int  # self loops present in the input
    num_edges_with_self_loops: int  # num_edges - num_self_loops + num_nodes
    max_degree: int
    min_degree: int
    mean_degree: float
    degree_histogram: dict[int, int] = field(default_factory=dict)  # in-degree -> number of nodes
    is_undirected: bool = True
    num_features: int | None = None
    feature_density: float | None = None  # fraction of nonzero entries of x
    #: non-zeros in a row of x -> number of rows (``lpgnas.sparse.nonzero_histogram``; a sparse layer 0's cycles)
    feature_nonzeros: dict[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (histogram keys become strings, as JSON requires)."""
        return {
            "num_nodes": self.num_nodes,
            "num_edges": self.num_edges,
            "num_self_loops": self.num_self_loops,
            "num_edges_with_self_loops": self.num_edges_with_self_loops,
            "max_degree": self.max_degree,
            "min_degree": self.min_degree,
            "mean_degree": self.mean_degree,
            "degree_histogram": {str(k): v for k, v in self.degree_histogram.items()},
            "is_undirected": self.is_undirected,
            "num_features": self.num_features,
            "feature_density": self.feature_density,
            "feature_nonzeros": None
            if self.feature_nonzeros is None
            else {str(k): v for k, v in self.feature_nonzeros.items()},
        }


def graph_stats(edge_index: torch.Tensor, num_nodes: int, x: torch.Tensor | None = None) -> GraphStats:
    """Statistics of a graph given as a PyG ``edge_index`` (``[2, E]``)."""
    ei = torch.as_tensor(edge_index)
    if ei.dim() != 2 or ei.shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(ei.shape)}")
    ei = ei.to(torch.long)
    num_edges = int(ei.shape[1])
    if num_edges and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        raise ValueError(f"edge_index refers to nodes outside [0, {num_nodes})")
    loop = ei[0] == ei[1]
    num_loops = int(loop.sum())
    kept = ei[:, ~loop]
    indeg = torch.bincount(kept[1], minlength=num_nodes) + 1  # + the added self loop
    hist_counts = torch.bincount(indeg) if num_nodes else torch.zeros(0, dtype=torch.long)
    hist = {int(d): int(c) for d, c in enumerate(hist_counts.tolist()) if c}
    e_sl = num_edges - num_loops + num_nodes

    # undirected iff the multiset of (u, v) equals the multiset of (v, u)
    if kept.shape[1]:
        n = max(num_nodes, 1)
        fwd = torch.sort(kept[0] * n + kept[1]).values
        bwd = torch.sort(kept[1] * n + kept[0]).values
        undirected = bool(torch.equal(fwd, bwd))
    else:
        undirected = True

    nf = density = nz_hist = None
    if x is not None:
        nf = int(x.shape[1]) if x.dim() == 2 else 1
        density = float(torch.count_nonzero(x)) / max(int(x.numel()), 1)
        nz_hist = nonzero_histogram(x.reshape(x.shape[0], -1).detach().cpu().numpy())

    return GraphStats(
        num_nodes=int(num_nodes),
        num_edges=num_edges,
        num_self_loops=num_loops,
        num_edges_with_self_loops=e_sl,
        max_degree=int(indeg.max()) if num_nodes else 0,
        min_degree=int(indeg.min()) if num_nodes else 0,
        mean_degree=e_sl / num_nodes if num_nodes else 0.0,
        degree_histogram=hist,
        is_undirected=undirected,
        num_features=nf,
        feature_density=density,
        feature_nonzeros=nz_hist,
    )


# --------------------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------------------


def make_split(
    y: torch.Tensor, split: str, seed: int = 0, num_classes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded random split masks ``(train, val, test)`` for ``"random-60-20-20"`` or
    ``"random-20-per-class"`` (the public split comes with the data, see :func:`load_dataset`)."""
    n = int(y.shape[0])
    if seed < 0:
        raise DatasetError(f"split seed {seed}: must be >= 0")
    rng = np.random.default_rng(seed)
    train = torch.zeros(n, dtype=torch.bool)
    val = torch.zeros(n, dtype=torch.bool)
    test = torch.zeros(n, dtype=torch.bool)
    if split == "random-60-20-20":
        perm = torch.from_numpy(rng.permutation(n))
        n_train, n_val = int(0.6 * n), int(0.2 * n)
        train[perm[:n_train]] = True
        val[perm[n_train : n_train + n_val]] = True
        test[perm[n_train + n_val :]] = True
    elif split == "random-20-per-class":
        per_class, n_val, n_test = 20, 500, 1000
        y_np = y.cpu().numpy()
        c_total = int(num_classes if num_classes is not None else (y_np.max() + 1 if n else 0))
        for c in range(c_total):
            idx = np.flatnonzero(y_np == c)
            train[torch.from_numpy(rng.permutation(idx)[:per_class])] = True
        rest = np.flatnonzero(~train.numpy())
        rest = torch.from_numpy(rng.permutation(rest))
        val[rest[:n_val]] = True
        test[rest[n_val : n_val + n_test]] = True
    else:
        raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if not (train.any() and val.any() and test.any()):
        raise DatasetError(
            f"split {split!r} leaves an empty train, validation or test set on a graph of {n} nodes; "
            "use 'random-60-20-20'"
        )
    return train, val, test


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    data_root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    seed: int = 0,
) -> Dataset:
    """Load a dataset by (case-insensitive) name; see the module docstring for roots, cache and splits.

    Raises :class:`DatasetError` for an unknown name or split, for missing raw files under an explicit
    data root (naming the expected paths), and for a failed download.
    """
    spec = _spec(name)
    split = spec.default_split if split is None else str(split).lower()
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if split == "public" and spec.family != "planetoid":
        raise DatasetError(
            f"{spec.name} has no public split (only Cora, CiteSeer and PubMed have one); "
            f"use split 'random-60-20-20' (or 'random-20-per-class')"
        )

    if spec.family == "builtin":
        x, y, edge_index, num_classes = _karate()
        public = None
    else:
        data = _load_pyg(spec, data_root)
        x = data.x.to(torch.float32).contiguous()
        y = data.y.to(torch.long).view(-1).contiguous()
        edge_index = data.edge_index.to(torch.long).contiguous()
        num_classes = int(y.max()) + 1 if y.numel() else 0
        public = (
            (data.train_mask.clone(), data.val_mask.clone(), data.test_mask.clone())
            if spec.family == "planetoid"
            else None
        )

    if split == "public":
        assert public is not None
        train, val, test = public
        empty = [part for part, mask in zip(("train", "validation", "test"), public, strict=True) if not mask.any()]
        if empty:
            raise DatasetError(
                f"{spec.name}'s public split has no {' and no '.join(empty)} nodes; its raw files "
                f"(ind.{spec.name.lower()}.*, e.g. ind.{spec.name.lower()}.test.index) are damaged: replace them"
            )
    else:
        train, val, test = make_split(y, split, seed=seed, num_classes=num_classes)

    return Dataset(
        name=spec.name,
        x=x,
        y=y,
        edge_index=edge_index,
        train_mask=train,
        val_mask=val,
        test_mask=test,
        num_classes=num_classes,
        split=split,
        seed=seed,
    )


def _karate() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Zachary's karate club: 34 nodes, 78 undirected edges (156 directed), one-hot node-id features,
    labels from the ``club`` attribute (0 = 'Mr. Hi', 1 = 'Officer')."""
    import networkx as nx

    g = nx.karate_club_graph()
    n = g.number_of_nodes()
    clubs = sorted({d["club"] for _, d in g.nodes(data=True)})  # ['Mr. Hi', 'Officer']
    y = torch.tensor([clubs.index(g.nodes[i]["club"]) for i in range(n)], dtype=torch.long)
    pairs = {(u, v) for u, v in g.edges() if u != v} | {(v, u) for u, v in g.edges() if u != v}
    edge_index = torch.tensor(sorted(pairs), dtype=torch.long).t().contiguous()
    x = torch.eye(n, dtype=torch.float32)
    return x, y, edge_index, len(clubs)


def _pyg_class(family: str) -> type:
    from torch_geometric import datasets as pyg_datasets

    return {
        "planetoid": pyg_datasets.Planetoid,
        "amazon": pyg_datasets.Amazon,
        "coauthor": pyg_datasets.Coauthor,
    }[family]


def _offline_class(family: str, spec: _Spec, root: Path) -> type:
    """The PyG class with ``download`` replaced by one that raises (it is only reached if raw files vanish
    between our check and PyG's)."""
    base = _pyg_class(family)

    def download(self: Any) -> None:
        raise DatasetError(_missing_message(spec, root, expected_raw_paths(spec.name, root)))

    return type(f"_Offline{base.__name__}", (base,), {"download": download})


def _missing_message(spec: _Spec, root: Path, missing: list[Path]) -> str:
    shown = "\n  ".join(str(p) for p in missing)
    return (
        f"dataset {spec.name}: raw file(s) missing under data root {root}:\n  {shown}\n"
        f"Put the files there (layout ROOT/{spec.name}/raw/...), point --data-root or LPGNAS_DATA at a "
        f"folder that has them, or unset both to allow the download into the cache ({cache_dir()})."
    )


def _fingerprint(paths: list[Path]) -> list[list[Any]]:
    out = []
    for p in paths:
        st = p.stat()
        out.append([p.name, st.st_size, st.st_mtime_ns])
    return out


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Exclusive inter-process lock on ``path`` (no-op where fcntl is unavailable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _mirror(spec: _Spec, root: Path) -> Path:
    """Link the raw files of ``spec`` from the read-only ``root`` into a writable mirror in the cache and
    return the mirror (PyG root). Processed files from a previous, different set of raw files are dropped."""
    sources = expected_raw_paths(spec.name, root)
    missing = [p for p in sources if not p.is_file()]
    if missing:
        raise DatasetError(_missing_message(spec, root, missing))

    resolved = root.resolve()
    key = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    mirror = cache_dir() / f"from-{key}"
    ds_dir = mirror / spec.name
    raw_dir = ds_dir / "raw"
    stamp = ds_dir / "raw-fingerprint.json"
    fp = {"data_root": str(resolved), "files": _fingerprint(sources)}
    with _locked(mirror / f".{spec.name}.mirror.lock"):
        try:
            current = json.loads(stamp.read_text())
        except (OSError, ValueError):
            current = None
        if current != fp or not all((raw_dir / p.name).exists() for p in sources):
            shutil.rmtree(ds_dir, ignore_errors=True)
            raw_dir.mkdir(parents=True)
            for src in sources:
                dst = raw_dir / src.name
                try:
                    dst.symlink_to(src.resolve())
                except OSError:  # pragma: no cover - filesystems without symlinks
                    shutil.copy2(src, dst)
            stamp.write_text(json.dumps(fp, indent=1, allow_nan=False))
            (mirror / "SOURCE.txt").write_text(f"raw files linked from {resolved}\n")
    return mirror


@contextlib.contextmanager
def _quiet_pyg() -> Iterator[None]:
    """Drop PyG's 'Processing...' / 'Done!' lines; pass anything else PyG prints on to stderr."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            yield
    finally:
        rest = [ln for ln in buf.getvalue().splitlines() if ln.strip() not in ("Processing...", "Done!")]
        if rest:
            print("\n".join(rest), file=sys.stderr)


def _load_pyg(spec: _Spec, data_root: str | os.PathLike[str] | None) -> Data:
    root = Path(data_root).expanduser() if data_root is not None else default_data_root()
    if root is not None:
        if not root.is_dir():
            origin = "--data-root" if data_root is not None else "LPGNAS_DATA"
            raise DatasetError(
                f"data root {root} (from {origin}) does not exist or is not a folder; it should hold "
                f"<Name>/raw/... for each dataset, e.g. {root / spec.name / 'raw' / spec.raw_files[0]}"
            )
        pyg_root = _mirror(spec, root)
        cls = _offline_class(spec.family, spec, root)
    else:
        pyg_root = cache_dir()
        pyg_root.mkdir(parents=True, exist_ok=True)
        cls = _pyg_class(spec.family)

    ds_dir = pyg_root / spec.name
    with _locked(pyg_root / f".{spec.name}.lock"):
        had_processed = any((ds_dir / "processed").glob("*.pt"))
        have_raw = all((ds_dir / "raw" / f).is_file() for f in spec.raw_files)
        if not had_processed:
            log.info("preparing %s (first use; processed files go to %s)", spec.name, ds_dir)
        try:
            with _quiet_pyg():
                ds = cls(str(pyg_root), spec.name)
        except DatasetError:
            raise
        except Exception as exc:
            if not have_raw:  # download mode and the download failed
                raise DatasetError(
                    f"could not download {spec.name} into {ds_dir / 'raw'} ({type(exc).__name__}: {exc}); "
                    f"set --data-root or LPGNAS_DATA to a folder holding {spec.name}/raw/ with "
                    f"{', '.join(spec.raw_files)}"
                ) from exc
            if not had_processed:
                _raise_if_corrupt(spec, root or ds_dir.parent, exc)
                raise
            # most likely a truncated processed file from an interrupted run: rebuild it once
            log.warning("reprocessing %s after %s: %s", spec.name, type(exc).__name__, exc)
            try:
                with _quiet_pyg():
                    ds = cls(str(pyg_root), spec.name, force_reload=True)
            except _CORRUPT_RAW as exc2:
                _raise_if_corrupt(spec, root or ds_dir.parent, exc2)
    return ds[0]


#: what reading damaged raw files raises (pickles of Planetoid, npz archives of Amazon / Coauthor)
_CORRUPT_RAW = (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, KeyError, IndexError,
                UnicodeDecodeError)


def _raise_if_corrupt(spec: _Spec, root: Path, exc: Exception) -> None:
    """Turn an error of reading the raw files into a :class:`DatasetError` naming them."""
    if isinstance(exc, _CORRUPT_RAW):
        raise DatasetError(
            f"dataset {spec.name}: its raw files under {root / spec.name / 'raw'} are damaged or truncated "
            f"({type(exc).__name__}: {exc}); replace them with intact copies of {', '.join(spec.raw_files)}"
        ) from exc
