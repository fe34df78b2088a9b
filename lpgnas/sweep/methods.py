"""The methods of a sweep: which lpgnas commands a grid point runs, whether a killed point resumes in its
folder, and the summary of its results that ``results.json`` keeps.

A point runs the existing commands' Python entries (``lpgnas.cli``'s parsers and ``run_*`` functions) with
a command line built from its options, so a sweep point is exactly the command a user would type.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lpgnas.errors import LpgnasError

#: the search method's name in a spec (the command is ``lpgnas search``)
SEARCH = "lpgnas"
#: the search with the controllers switched off (``lpgnas search --no-controllers``, the lpgnas defaults)
SEARCH_LOCAL = "lpgnas-local"
#: the folder of a point's run folder that the commands write into
OUT = "out"
#: the generated design of the verify and synth methods, inside ``OUT``
DESIGN = "hw"


@dataclass(frozen=True)
class Method:
    """A sweep method: the lpgnas commands it runs, one after the other, and how its result is read."""

    name: str
    family: str  # lpgnas, train, flow, verify, synth or baseline: the key of a spec's [defaults.<family>]
    commands: tuple[str, ...]
    resumable: bool  # a retried point continues in its folder; else its folder starts empty again
    summarise: Callable[[Path], dict[str, Any]]
    flags: tuple[str, ...] = ()  # given to its first command before the point's options


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def descends_from(screened: list[dict[str, Any]], index: int) -> str:
    """Where the search's screened design ``index`` comes from: ``draw`` (the controllers) or ``anchor
    <attention>``, following each local-search design back to the centre it was a move from (``parent``)."""
    r = screened[index]
    while r["origin"] not in ("draw", "anchor"):
        r = screened[r["parent"]]
    return "draw" if r["origin"] == "draw" else f"anchor {r['architecture'][0]['attention']}"


def latency_front(out: Path) -> list[dict[str, Any]]:
    """The latency front of the search run in ``out`` (``RUN/pareto.json``): per point its latency, golden test
    accuracy, validation accuracy, model size and per-layer weight and activation (the layer's input) bits; []
    without fronts."""
    doc = _read_json(out / "pareto.json")
    if not doc:
        return []
    points = [doc["points"][k] for k in doc["fronts"]["latency"]]
    return [{"latency_us": p["latency_us"], "test_accuracy": p["test_accuracy_golden"],
             "val_accuracy": p["val_accuracy"], "model_size_kib": p["model_size_kib"],
             "weight_bits": [layer["q_weight"] for layer in p["architecture"]],
             "act_bits": [layer["q_input"] for layer in p["architecture"]]} for p in points]


def summarise_search(out: Path) -> dict[str, Any]:
    from lpgnas.search.baselines import sampling_budget_seconds

    m = _read_json(out / "metrics.json")
    if not m:
        return {}
    return {
        "test_accuracy": m["test_accuracy_golden"], "test_accuracy_float": m["test_accuracy_float"],
        "val_accuracy": m["val_accuracy_golden"], "model_size_kib": m["model_size_kib"],
        "buffer_size_kib": m["buffer_size_kib"], "hardware": m["hardware"], "architecture": m["architecture"],
        **({"accelerator": m["accelerator"], "fronts": m["fronts"], "front_seconds": m["front_seconds"],
            "latency_front": latency_front(out)} if "accelerator" in m else {}),
        "search_seconds": m["search_seconds"], "retrain_seconds": m["retrain_seconds"],
        "candidate_seconds": m["candidate_seconds"], "candidates": len(m["screened"]) or len(m["candidates"]),
        "sampling_budget_seconds": sampling_budget_seconds(m), "total_seconds": m["total_seconds"],
        "float_gcn16_model_size_kib": m["float_gcn16_model_size_kib"], "resumed_from_epoch": m["resumed_from_epoch"],
        "chosen_training": m["chosen_training"],
        "descends_from": descends_from(m["screened"], m["chosen_candidate"]) if m["screened"] else "draw",
        "config": m["config"],
    }


def summarise_train(out: Path) -> dict[str, Any]:
    from lpgnas.ir import load_ir
    from lpgnas.search.cost import KIB, model_size_bits

    m = _read_json(out / "metrics.json")
    if not m:
        return {}
    return {
        "test_accuracy": m["test_accuracy_golden"], "test_accuracy_float": m["test_accuracy_float"],
        "val_accuracy": m["val_accuracy_golden"], "best_epoch": m["best_epoch"],
        "model_size_kib": round(model_size_bits(load_ir(out / "model.ir.json")) / KIB, 3),
        "total_seconds": m["train_seconds"], "config": m["config"],
    }


#: what a baseline's metrics.json shares with the other methods' summaries
_BASELINE_KEYS = ("test_accuracy", "test_accuracy_float", "val_accuracy", "best_epoch", "model_size_kib",
                  "hardware", "accelerator", "architecture", "search_seconds", "candidates", "budget_seconds",
                  "float_gcn16_model_size_kib", "exported", "config")


def summarise_baseline(out: Path) -> dict[str, Any]:
    m = _read_json(out / "metrics.json")
    if not m:
        return {}
    front = latency_front(out)  # random search's
    return {k: m[k] for k in _BASELINE_KEYS if k in m} | {"total_seconds": m["seconds"]} | \
        ({"latency_front": front} if front else {})


def summarise_flow(out: Path) -> dict[str, Any]:
    from lpgnas.search.cost import KIB

    m, est = _read_json(out / "metrics.json"), _read_json(out / "estimate.json")
    if not m:
        return {}
    r: dict[str, Any] = {"test_accuracy": m.get("test_accuracy_golden"),
                         "test_accuracy_float": m.get("test_accuracy_float"),
                         "val_accuracy": m.get("val_accuracy_golden")}
    if est:
        totals = est["totals"]
        r["model_size_kib"] = round(totals["model_bits"] / KIB, 3)
        r["hardware"] = {"lut": totals["lut_total"]} | {k: totals[k] for k in ("ff", "dsp", "bram36", "cycles",
                                                                                 "latency_us")}
        r["fits"] = est["fits"]
    for stage in ("csim", "rtl"):
        v = _read_json(out / f"verify_{stage}.json")
        if v:
            r[f"{stage}_bit_exact"] = v.get("bit_exact")
            if v.get("cycles") is not None:
                r[f"{stage}_cycles"] = v["cycles"]
    synth = _read_json(out / "synth.json")
    if synth:
        r["synth"] = _synth_resources(synth)
    return r


def summarise_verify(out: Path) -> dict[str, Any]:
    v = _read_json(out / DESIGN / "verify.json")
    if not v:
        return {}
    backends = {b: {k: r.get(k) for k in ("bit_exact", "mismatches", "cycles", "total_seconds")}
                for b, r in v.items()}
    return {"bit_exact": all(r["bit_exact"] for r in backends.values()), "backends": backends}


def _synth_resources(synth: dict[str, Any]) -> dict[str, Any]:
    """``synth.json``'s resources (LUT, FF, DSP, BRAM36, ...) as lower-case keys, like the estimates'."""
    return {k.lower(): v for k, v in synth["resources"].items()}


def summarise_synth(out: Path) -> dict[str, Any]:
    s = _read_json(out / DESIGN / "synth.json")
    return {"synth": _synth_resources(s), "synth_seconds": s["seconds"]} if s else {}


_FIXED: dict[str, Method] = {
    SEARCH: Method(SEARCH, SEARCH, ("search",), True, summarise_search),
    SEARCH_LOCAL: Method(SEARCH_LOCAL, SEARCH, ("search",), True, summarise_search, ("--no-controllers",)),
    "train": Method("train", "train", ("train",), False, summarise_train),
    "flow": Method("flow", "flow", ("flow",), True, summarise_flow),
    "verify": Method("verify", "verify", ("generate", "verify"), False, summarise_verify),
    "synth": Method("synth", "synth", ("generate", "synth"), False, summarise_synth),
}


def method(name: str) -> Method:
    """The method called ``name`` in a spec: one of :data:`_FIXED` or a baseline of ``search.baselines``."""
    if name in _FIXED:
        return _FIXED[name]
    from lpgnas.search.baselines import parse_baseline

    try:
        parse_baseline(name)
    except LpgnasError as e:
        raise LpgnasError(f"unknown method {name!r}; methods: {', '.join(_FIXED)} or a baseline ({e})") from None
    return Method(name, "baseline", ("baseline",), False, summarise_baseline)


def option_flag(key: str) -> str:
    """A spec key as its command-line option: ``budget_kib`` and ``budget-kib`` -> ``--budget-kib``."""
    return "--" + key.replace("_", "-")


def option_args(options: dict[str, Any]) -> list[str]:
    """``{"epochs": 5, "full": True, "synth": False}`` -> ``["--epochs", "5", "--full"]``."""
    argv: list[str] = []
    for key, value in options.items():
        if value is True:
            argv.append(option_flag(key))
        elif value is not False:
            argv += [option_flag(key), str(value)]
    return argv


@cache
def accepted_options(command: str) -> frozenset[str]:
    """The option strings ``lpgnas <command>`` accepts (``--epochs``, ``-o``, ...)."""
    return frozenset(_subparser(command)._option_string_actions)


def command_lines(m: Method, options: dict[str, Any], out: Path) -> list[list[str]]:
    """The lpgnas command lines of a point with ``options``, writing into ``out``: each option goes to every
    command of the method that accepts it, but ``nodes`` to ``generate`` only (the design is generated for that
    subgraph and verified as generated); a spec key no command accepts fails the parse of the first."""
    per_command: list[dict[str, Any]] = []
    for i, command in enumerate(m.commands):
        accepted = accepted_options(command)
        mine = {k: v for k, v in options.items() if k != "design" and option_flag(k) in accepted
                and not (k == "nodes" and i > 0)}
        if i == 0:  # the unknown ones, so that the parse names them
            mine |= {k: v for k, v in options.items()
                     if k != "design" and not any(option_flag(k) in accepted_options(c) for c in m.commands)}
        per_command.append(mine)
    hw = str(out / DESIGN)
    if m.family == "baseline":
        return [["baseline", m.name, *option_args(per_command[0]), "-o", str(out)]]
    if m.commands[0] == "generate":
        design = str(options.get("design", ""))
        return [["generate", design, *option_args(per_command[0]), "-o", hw],
                [m.commands[1], hw, *option_args(per_command[1])]]
    return [[m.commands[0], *m.flags, *option_args(per_command[0]), "-o", str(out)]]


class CommandLineError(Exception):
    """A command line a parser refused (argparse's message)."""


def _raise(message: str) -> None:
    raise CommandLineError(message)


@cache
def _parser() -> argparse.ArgumentParser:
    """lpgnas's parser with every (sub)parser raising :class:`CommandLineError` instead of exiting."""
    from lpgnas.cli import build_parser

    parser = build_parser()
    parser.error = _raise  # type: ignore[method-assign]
    for sub in _subparsers(parser).values():
        sub.error = _raise  # type: ignore[method-assign]
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def _subparser(command: str) -> argparse.ArgumentParser:
    return _subparsers(_parser())[command]


def parse_command(argv: list[str]) -> argparse.Namespace:
    """``lpgnas <argv>`` parsed; a bad command line raises :class:`CommandLineError`."""
    return _parser().parse_args(argv)
