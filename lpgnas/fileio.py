"""Atomic file writes (results appear whole or not at all, and a failure never clobbers earlier ones), folder
locks, and where lpgnas keeps its user cache."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` (mode 0644 less umask)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json_atomic(target: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as strict JSON: a NaN or infinity raises ValueError (a bug: no result may be NaN)."""
    write_text_atomic(target, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def json_log_line(record: Any) -> str:
    """One line of a JSONL log, strict JSON: a non-finite number (e.g. the loss of a diverged training) is
    written as null."""
    def finite(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return v

    return json.dumps(finite(record), allow_nan=False) + "\n"


def cache_root() -> Path:
    """lpgnas's writable user cache: ``$LPGNAS_CACHE`` when set, else ``$XDG_CACHE_HOME/lpgnas`` (default
    ``~/.cache/lpgnas``)."""
    env = os.environ.get("LPGNAS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "lpgnas"


#: the lock file a command holds in a folder while it writes there
LOCK_NAME = ".lpgnas.lock"
_held: dict[Path, int] = {}  # folders this process has locked -> nesting depth (a flow runs search inside)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (``folder/.lpgnas.lock``, created with the folder) while writing it.

    A second process gets an :class:`LpgnasError` at once instead of writing over the first one's results;
    the same process may nest locks on one folder. The lock goes with the process, even when it is killed."""
    import fcntl

    from lpgnas.errors import LpgnasError

    folder = Path(folder).resolve()
    if folder in _held:
        _held[folder] += 1
        try:
            yield
        finally:
            _held[folder] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            raise LpgnasError(f"{folder} is in use by another lpgnas command (process {holder}); wait for it "
                              "to finish or write to another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[folder] = 1
        try:
            yield
        finally:
            del _held[folder]
    finally:
        os.close(fd)
