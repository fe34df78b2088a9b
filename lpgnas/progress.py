"""Progress reporting of long steps (training epochs, search epochs, flow stages, simulations).

One policy for every command: nothing with ``lpgnas -q`` (``enabled=False``); a tqdm bar when stderr is a
terminal; otherwise (a file, a pipe, a CI log) a few plain lines per step, at the start and at each
quarter of the way, so a log stays short and readable (no carriage returns, no bar redrawn per epoch).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

#: a step of known length writes at most this many lines between its first and its last one
LOG_LINES = 4


def stderr_is_terminal() -> bool:
    """Whether progress bars may draw (stderr is a terminal)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class LineProgress:
    """The tqdm calls the toolkit uses (iterate, ``update``, ``set_postfix``, ``total``, ``close``),
    written as a few ``lpgnas: <desc>: <n>/<total> <postfix>`` lines instead of a bar."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, desc: str = "", total: int | None = None,
                 initial: int = 0, unit: str = "it", stream: TextIO | None = None) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = initial + len(iterable)  # type: ignore[arg-type]
        self.desc, self.total, self.n, self.unit = desc, total, initial, unit
        self.stream = stream
        self.postfix: dict[str, Any] = {}
        self._written = -1  # n of the last line written
        self._closed = False

    def _write(self) -> None:
        if self._written == self.n:
            return
        self._written = self.n
        of = f"/{self.total}" if self.total else ""
        extra = "".join(f" {k}={v}" for k, v in self.postfix.items())
        print(f"lpgnas: {self.desc}: {self.n}{of} {self.unit}{extra}", file=self.stream or sys.stderr, flush=True)

    def _due(self) -> bool:
        if not self.total:
            return False
        step = max(1, math.ceil(self.total / LOG_LINES))
        return self.n % step == 0 or self.n >= self.total

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._due():
            self._write()

    def set_postfix(self, **kwargs: Any) -> None:
        self.postfix = kwargs

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.n and self._written != self.n:
                self._write()

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            return
        if self._written < 0:
            self._write()  # the start of the step, so a log shows what is running
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(iterable: Iterable[Any] | None = None, *, desc: str, enabled: bool = True, total: int | None = None,
             initial: int = 0, unit: str = "it", leave: bool = False, terminal_only: bool = False) -> Any:
    """A progress reporter for one step: tqdm on a terminal, :class:`LineProgress` elsewhere, a disabled
    tqdm when ``enabled`` is false. ``terminal_only``: no lines in a log (the caller already writes one
    per item, as the flow does per stage)."""
    from tqdm import tqdm

    if enabled and stderr_is_terminal():
        return tqdm(iterable, desc=desc, total=total, initial=initial, unit=unit, leave=leave)
    if enabled and not terminal_only:
        return LineProgress(iterable, desc=desc, total=total, initial=initial, unit=unit)
    return tqdm(iterable, desc=desc, total=total, initial=initial, unit=unit, disable=True)


def say(message: str, enabled: bool = True) -> None:
    """One line of progress on stderr (``lpgnas: <message>``), unless ``enabled`` is false (``-q``)."""
    if enabled:
        print(f"lpgnas: {message}", file=sys.stderr, flush=True)
