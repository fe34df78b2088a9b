"""A sweep spec (TOML) read, checked and expanded into grid points, before anything runs.

::

    [defaults.lpgnas]               # options of every point of a method (or of every baseline: [defaults.baseline])
    epochs = 200

    [[grid]]                        # one or more grids; their points together make the sweep
    method = ["lpgnas", "gcn-w4a8", "random-search"]
    dataset = ["Cora", "CiteSeer"]  # every other key is an option of the method's command;
    split = "public"                # a list is an axis of the grid, a single value is the same for every point
    seed = [0, 1, 2]

A problem (unknown method, dataset or device, an option the command refuses, a random search without its
reference search) stops the sweep with one message naming the grid and the entry.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpgnas.errors import LpgnasError
from lpgnas.sweep.methods import (
    OUT,
    SEARCH,
    CommandLineError,
    Method,
    command_lines,
    method,
    parse_command,
)

#: options whose values are paths, read relative to the spec's folder
PATH_OPTIONS = ("design", "data-root", "hw")
#: options a point's id names first, in this order
NAMED_OPTIONS = ("dataset", "split", "device")
#: the method a random search takes its search space, objective and compute budget from
RANDOM_SEARCH = "random-search"
#: where the random search's reference search's metrics go in its run folder (``lpgnas baseline --like``)
LIKE_FILE = "like.json"


@dataclass(frozen=True)
class Point:
    """One grid point: a method and the options of its command."""

    id: str
    method: str
    options: dict[str, Any]
    grid: int  # 1-based number of its [[grid]] table

    @property
    def spec_method(self) -> Method:
        return method(self.method)

    def label(self) -> str:
        return f"grid {self.grid} ({self.method})"

    def to_dict(self) -> dict[str, Any]:
        return {"point": self.id, "method": self.method, "options": self.options, "grid": self.grid}


@dataclass(frozen=True)
class Spec:
    path: Path
    text: str
    points: list[Point]
    references: dict[str, str]  # random-search point -> its lpgnas point

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def selected(self, only: dict[str, list[str]]) -> list[Point]:
        """The points whose method (key ``method``) or option has, for every key of ``only``, one of its
        values (compared as written in a spec, ``str``), with the reference search of each random search among
        them; in the spec's order."""
        for key, values in only.items():
            seen = {str(p.method if key == "method" else p.options[key]) for p in self.points
                    if key == "method" or key in p.options}
            if not seen:
                raise LpgnasError(f"--only {key}=...: no point of {self.path.name} has {key!r}; use method or one of "
                                  "its options (dataset, split, device, seed, ...)")
            if missing := [v for v in values if v not in seen]:
                raise LpgnasError(f"--only {key}={','.join(missing)}: no point of {self.path.name} has that {key} "
                                  f"(it has {', '.join(sorted(seen))})")

        def picked(p: Point) -> bool:
            return all(str(p.method if key == "method" else p.options.get(key)) in values
                       for key, values in only.items())

        ids = {p.id for p in self.points if picked(p)}
        ids |= {self.references[i] for i in ids if i in self.references}
        chosen = [p for p in self.points if p.id in ids]
        if not chosen:
            asked = " ".join(f"--only {k}=" + ",".join(v) for k, v in only.items())
            raise LpgnasError(f"{asked}: no point of {self.path.name} has all of these; drop one --only")
        return chosen


def parse_only(items: list[str]) -> dict[str, list[str]]:
    """``--only KEY=V1,V2`` arguments as {KEY: [V1, V2]} (a key given twice: the values of both)."""
    only: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key.strip() or not vals:
            raise LpgnasError(f"--only {item!r}: write KEY=VALUE[,VALUE...], e.g. --only dataset=Cora")
        only.setdefault(key.strip(), []).extend(vals)
    return only


def _fail(path: Path, where: str, message: str) -> LpgnasError:
    return LpgnasError(f"{path}: {where}: {message}")


def _key(key: str) -> str:
    return key.replace("_", "-")


def _values(path: Path, where: str, key: str, value: Any) -> list[Any]:
    """A spec value as the list of its values along the axis (a single value: one)."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise _fail(path, where, f"{key} = [] has no values")
    for v in values:
        if not isinstance(v, (str, int, float, bool)):
            raise _fail(path, where, f"{key}: expected a string, number or boolean (or a list of them), got {v!r}")
    return values


def _canonical(path: Path, where: str, key: str, values: list[Any]) -> list[Any]:
    """Datasets by their canonical names, devices and paths checked, path values relative to the spec."""
    from lpgnas.datasets import canonical_name
    from lpgnas.devices import load_device

    out: list[Any] = []
    for v in values:
        try:
            if key == "dataset":
                out.append(canonical_name(str(v)))
                continue
            if key == "device":
                load_device(str(v) if not str(v).endswith(".json") else path.parent / str(v))
        except LpgnasError as e:
            raise _fail(path, where, f"{key} {v!r}: {e}") from None
        if key in PATH_OPTIONS or (key == "device" and str(v).endswith(".json")):
            p = str(path.parent / Path(str(v)).expanduser())
            if key == "design" and glob.has_magic(p):
                matches = sorted(glob.glob(p))
                if not matches:
                    raise _fail(path, where, f"design {v!r} matches no file")
                out += matches
                continue
            out.append(p)
        else:
            out.append(v)
    return out


def _label(value: Any) -> str:
    text = Path(value).parent.name if isinstance(value, str) and value.endswith(".json") else str(value)
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text).strip("-")[:40] or "x"


def point_id(method_name: str, options: dict[str, Any], axes: list[str]) -> str:
    """A point's folder name: the method, dataset, split, device, the grid's other axes, the seed, and a hash
    of everything (so two points never share a folder)."""
    digest = hashlib.sha256(json.dumps([method_name, options], sort_keys=True).encode()).hexdigest()[:8]
    parts = [_label(method_name)]
    parts += [_label(options[k]) for k in NAMED_OPTIONS if k in options]
    parts += [f"{_label(k)}{_label(options[k])}" for k in axes if k not in NAMED_OPTIONS and k != "seed"]
    if "seed" in options:
        parts.append(f"s{_label(options['seed'])}")
    return "__".join([*parts, digest])


def _check_command(path: Path, p: Point) -> None:
    """Parse the point's command lines with lpgnas's own parsers (the options each command accepts)."""
    m = p.spec_method
    for argv in command_lines(m, p.options, Path(OUT)):
        if m.family == "baseline" and p.method == RANDOM_SEARCH:
            argv = [*argv, "--budget-seconds", "1"]  # the reference's budget, known only once it has run
        if m.commands[0] == "generate" and "design" not in p.options:
            raise _fail(path, p.label(), "needs design = the IR file(s) to generate (model.ir.json)")
        try:
            parse_command(argv)
        except CommandLineError as e:
            raise _fail(path, p.label(), f"lpgnas {argv[0]}: {e}") from None


def load_spec(path: str | Path) -> Spec:
    """Read, check and expand the spec at ``path``; raises :class:`LpgnasError` naming the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LpgnasError(f"sweep spec {path}: no such file") from None
    except (UnicodeDecodeError, IsADirectoryError) as e:
        raise LpgnasError(f"sweep spec {path}: not a UTF-8 text file ({e})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LpgnasError(f"sweep spec {path}: not valid TOML ({e})") from None
    unknown = set(doc) - {"grid", "defaults", "sweep"}
    if unknown:
        raise _fail(path, "top level", f"unknown table(s) {', '.join(sorted(unknown))}; expected [[grid]], "
                                       "[defaults.<method>] and [sweep]")
    grids = doc.get("grid")
    if not isinstance(grids, list) or not grids:
        raise _fail(path, "top level", "no [[grid]] table: nothing to run")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict) or not all(isinstance(v, dict) for v in defaults.values()):
        raise _fail(path, "defaults", "expected tables [defaults.<method>] of options")
    for name in defaults:
        if name != "baseline":
            try:
                method(name)
            except LpgnasError as e:
                raise _fail(path, f"[defaults.{name}]", str(e)) from None

    points: dict[str, Point] = {}
    for g, grid in enumerate(grids, start=1):
        where = f"grid {g}"
        if "method" not in grid:
            raise _fail(path, where, "no method (e.g. method = [\"lpgnas\", \"gcn-w4a8\"])")
        axes: dict[str, list[Any]] = {}
        for key, value in grid.items():
            k = _key(key)
            axes[k] = _canonical(path, where, k, _values(path, where, k, value))
        for name in axes["method"]:
            try:
                method(str(name))
            except LpgnasError as e:
                raise _fail(path, where, str(e)) from None
        varying = [k for k, v in axes.items() if len(v) > 1 and k != "method"]
        keys = [k for k in axes if k != "method"]
        for name in axes["method"]:
            m = method(str(name))
            base: dict[str, Any] = {}
            for table in (m.family, m.name):
                for key, value in (defaults.get(table) or {}).items():
                    k = _key(key)
                    base[k] = _canonical(path, f"[defaults.{table}]", k,
                                         _values(path, f"[defaults.{table}]", k, value))[0]
            for combo in itertools.product(*(axes[k] for k in keys)):
                options = base | dict(zip(keys, combo, strict=True))
                p = Point(point_id(m.name, options, varying), m.name, options, g)
                if p.id not in points:
                    _check_command(path, p)
                    points[p.id] = p
    ordered = sorted(points.values(), key=lambda p: _seed_order(p.options.get("seed")))
    return Spec(path, text, ordered, _references(path, ordered))


def _seed_order(seed: Any) -> tuple[int, Any]:
    """Seed-major order: every configuration gets its first seed before any gets its second."""
    return (0, seed) if isinstance(seed, int) else (1, 0)


def _references(path: Path, points: list[Point]) -> dict[str, str]:
    """Each random search without ``budget-seconds``: the one lpgnas point with its dataset, split, device and
    seed, whose space, objective and compute it takes."""
    refs: dict[str, str] = {}
    same = ("dataset", "split", "device", "seed")
    for p in points:
        if p.method != RANDOM_SEARCH or "budget-seconds" in p.options or "like" in p.options:
            continue
        matches = [q for q in points if q.method == SEARCH
                   and all(q.options.get(k) == p.options.get(k) for k in same)]
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise _fail(path, p.label(), f"{found} lpgnas points have the random search's dataset, split, device "
                                         f"and seed ({', '.join(f'{k}={p.options.get(k)}' for k in same)}); it "
                                         "takes its search space and compute budget from exactly one: add that "
                                         "lpgnas point, or give budget-seconds")
        refs[p.id] = matches[0].id
    return refs
