"""Shared fixtures.

* Every test session gets its own dataset cache: ``LPGNAS_CACHE`` points at a session temp folder (set
  before any test runs, so subprocesses of the CLI inherit it), so PyG's processed files are built once
  per session and never come from, or go to, the user's ``~/.cache``.
* ``data_root``: the read-only dataset folder from ``LPGNAS_DATA``; tests that need it are skipped with a
  message when it is not set (CI sets it, see ``.ci/run``).
* ``load``: ``load(name, **kw)`` -> :class:`lpgnas.datasets.Dataset`, memoised for the session.
* ``io_watch``: records file-system writes under given folders and network attempts, through a Python
  audit hook, so "the data root is never written" holds even when running as root (where chmod -w
  protects nothing).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_SESSION_ENV: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    # Runs before collection, so LPGNAS_CACHE is in place before anything imports lpgnas.
    import tempfile

    cache = tempfile.mkdtemp(prefix="lpgnas-test-cache-")
    _SESSION_ENV["LPGNAS_CACHE"] = os.environ.get("LPGNAS_CACHE")
    _SESSION_ENV["_dir"] = cache
    os.environ["LPGNAS_CACHE"] = cache


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    cache = _SESSION_ENV.pop("_dir", None)
    old = _SESSION_ENV.pop("LPGNAS_CACHE", None)
    if old is None:
        os.environ.pop("LPGNAS_CACHE", None)
    else:
        os.environ["LPGNAS_CACHE"] = old
    if cache:
        shutil.rmtree(cache, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> list[str]:
    data = os.environ.get("LPGNAS_DATA")
    return [
        f"LPGNAS_DATA: {data or '(unset: dataset tests will be skipped)'}",
        f"LPGNAS_CACHE (per session): {os.environ.get('LPGNAS_CACHE')}",
    ]


@pytest.fixture(scope="session")
def data_root() -> Path:
    env = os.environ.get("LPGNAS_DATA")
    if not env:
        pytest.skip("LPGNAS_DATA is not set: point it at the dataset folder (e.g. ../shared/datasets)")
    root = Path(env)
    if not root.is_dir():
        pytest.fail(f"LPGNAS_DATA={env} is not a folder")
    return root


@pytest.fixture(scope="session")
def load(data_root: Path) -> Callable[..., object]:
    from lpgnas.datasets import load_dataset

    memo: dict[tuple, object] = {}

    def _load(name: str, split: str | None = None, seed: int = 0):
        key = (name.lower(), split, seed)
        if key not in memo:
            memo[key] = load_dataset(name, data_root=data_root, split=split, seed=seed)
        return memo[key]

    return _load


# --------------------------------------------------------------------------------------------------------
# io_watch: audit-hook based detection of writes and network use
# --------------------------------------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_MUTATING_EVENTS = {
    # event -> indices of the path arguments that get modified
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.symlink": (1,),
    "os.link": (1,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.rmtree": (0,),
    "shutil.move": (0, 1),
}
_NETWORK_EVENTS = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request"}


class _Watch:
    def __init__(self, roots: list[Path]) -> None:
        self.roots = [os.path.realpath(r) for r in roots]
        self.writes: list[tuple[str, str]] = []
        self.network: list[tuple[str, str]] = []

    def _under(self, p: object) -> str | None:
        if isinstance(p, int) or p is None:
            return None
        try:
            path = os.path.realpath(os.fsdecode(p))
        except (TypeError, ValueError):
            return None
        for r in self.roots:
            if path == r or path.startswith(r + os.sep):
                return path
        return None

    def event(self, name: str, args: tuple) -> None:
        if name in _NETWORK_EVENTS:
            self.network.append((name, repr(args)[:200]))
            return
        if name == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
            )
            hit = self._under(path) if writes else None
            if hit:
                self.writes.append((name, hit))
        elif name in _MUTATING_EVENTS:
            for i in _MUTATING_EVENTS[name]:
                hit = self._under(args[i]) if i < len(args) else None
                if hit:
                    self.writes.append((name, hit))


_ACTIVE: list[_Watch] = []
_IN_HOOK = False


def _audit_hook(name: str, args: tuple) -> None:
    global _IN_HOOK
    if not _ACTIVE or _IN_HOOK:
        return
    if name != "open" and name not in _MUTATING_EVENTS and name not in _NETWORK_EVENTS:
        return
    _IN_HOOK = True
    try:
        for w in list(_ACTIVE):
            w.event(name, args)
    finally:
        _IN_HOOK = False


sys.addaudithook(_audit_hook)


@pytest.fixture
def io_watch() -> Callable[..., contextlib.AbstractContextManager[_Watch]]:
    """``with io_watch(root1, root2) as w: ...`` then check ``w.writes`` / ``w.network`` (lists of
    ``(event, detail)``)."""

    @contextlib.contextmanager
    def watch(*roots: Path) -> Iterator[_Watch]:
        w = _Watch(list(roots))
        _ACTIVE.append(w)
        try:
            yield w
        finally:
            _ACTIVE.remove(w)

    return watch


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in [".", *dirnames, *filenames]:
            p = Path(dirpath) / n
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, tuple[int, int, int]]]:
    """``snapshot(root)`` -> ``{relative path: (mode, size, mtime_ns)}`` of everything under ``root``."""
    return _snapshot


@pytest.fixture(scope="session")
def cora_w8a8_run(data_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """A GCN 2x16 trained on Cora (public split) at W8A8: (IR, dataset as the golden model saw it, metrics)."""
    from lpgnas.datasets import load_dataset, preprocess_features
    from lpgnas.ir import load_ir
    from lpgnas.search.train import TrainConfig, train

    run = tmp_path_factory.mktemp("cora_w8a8")
    cfg = TrainConfig(dataset="Cora", wbits=8, abits=8)
    metrics = train(cfg, run, data_root=str(data_root), progress=False)
    data = load_dataset("Cora", data_root=data_root)
    data.x = preprocess_features(data.x, "row")
    return load_ir(run / "model.ir.json"), data, metrics
