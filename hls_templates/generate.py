"""Generate a hardware folder from an IR: HLS project, Verilog, memory images, manifest.

Layout of ``HW/``::

    model.ir.json, model.ir.npz   the IR the design implements (copied)
    hw_config.json                parallelism, multiplier mapping, device, buffer capacity
    design.json                   manifest: graph size, memory images (name, words, width, signed)
    data/<image>.mem / .txt       memory images (hex for $readmemh, decimal for the C++ testbench)
    hls/                          Vitis HLS project (kernel, weights, testbench, run_hls.tcl)
    rtl/                          Verilog: module library, generated top level, weight .mem files

``design.json`` carries the marker ``"generator": "lpgnas"``: a folder with it is a design this toolkit wrote and
may replace (``replace=True``, ``lpgnas generate --force``); any other non-empty folder is refused, so
generating never deletes a file the toolkit did not write.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lpgnas.errors import LpgnasError
from lpgnas.fileio import LOCK_NAME, folder_lock, write_json_atomic
from lpgnas.graph import CSRGraph
from lpgnas.hls_templates.hls_writer import write_hls
from lpgnas.hls_templates.images import MemoryImage, graph_images, io_images
from lpgnas.hls_templates.rtl_writer import write_rtl
from lpgnas.hwconfig import HardwareConfig, default_config
from lpgnas.ir import ModelIR

#: the marker in ``design.json`` that says this toolkit wrote the folder
GENERATOR = "lpgnas"
#: what a design folder may hold: the generated files and what verify / synth / csim / RTL simulation add
DESIGN_ENTRIES = frozenset({"model.ir.json", "model.ir.npz", "hw_config.json", "design.json", "source.json", "data",
                            "hls", "rtl", "verify.json", "synth.json", "synth", "csim", "sim_build", LOCK_NAME,
                            # sim.rtl.run_rtl's reports, one per simulator
                            "rtl_sim_verilator.json", "rtl_sim_icarus.json"})
#: ``verify --nodes N`` re-targets a copy of the design in ``HW/verify_nodes<N>/``
VERIFY_NODES_PREFIX = "verify_nodes"
_VERIFY_NODES_NAME = re.compile(re.escape(VERIFY_NODES_PREFIX) + r"[0-9]+")

log = logging.getLogger(__name__)


def write_images(images: list[MemoryImage], data_dir: Path) -> list[dict]:
    """Write every image as ``.mem`` and ``.txt``; return their manifest entries."""
    data_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for img in images:
        img.write_mem(data_dir)
        img.write_txt(data_dir)
        entries.append({"name": img.name, "words": int(img.data.size), "width": img.width, "signed": img.signed})
    return entries


def write_graph_data(ir: ModelIR, graph: CSRGraph, x_codes: np.ndarray, hw_dir: Path) -> dict:
    """(Re)write the data images and the manifest for a graph; the design itself is unchanged."""
    hw = HardwareConfig.load(hw_dir / "hw_config.json")
    if graph.num_nodes > hw.max_nodes or graph.num_edges > hw.max_edges:
        raise LpgnasError(
            f"graph has {graph.num_nodes} nodes / {graph.num_edges} edges (with self-loops), the design holds "
            f"at most {hw.max_nodes} / {hw.max_edges}; regenerate with a larger capacity"
        )
    nonzeros = int(np.count_nonzero(x_codes))
    if hw.layers and hw.layers[0].input == "sparse" and nonzeros > hw.max_nonzeros:
        raise LpgnasError(
            f"the input features have {nonzeros} non-zero codes, the design's sparse input holds at most "
            f"{hw.max_nonzeros}; regenerate with a larger max_nonzeros"
        )
    images = graph_images(ir, graph) + io_images(ir, graph, x_codes, hw)
    manifest = {
        "generator": GENERATOR,
        "num_nodes": graph.num_nodes,
        "num_edges": graph.num_edges,
        "images": write_images(images, hw_dir / "data"),
    }
    write_json_atomic(hw_dir / "design.json", manifest)
    return manifest


def is_generated_design(folder: Path) -> bool:
    """Whether ``folder`` holds a design this toolkit generated (``design.json`` with our marker)."""
    try:
        return json.loads((folder / "design.json").read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _is_design_entry(name: str) -> bool:
    """Whether ``name`` is an entry ``generate`` or the commands run on a design (verify, synth) write."""
    return name in DESIGN_ENTRIES or _VERIFY_NODES_NAME.fullmatch(name) is not None


def _foreign_entries(folder: Path) -> list[str]:
    """What in ``folder`` neither ``generate`` nor the commands run on a design (verify, synth) write."""
    return sorted(p.name for p in folder.iterdir() if not _is_design_entry(p.name))


def remove_design(folder: Path) -> list[str]:
    """Delete the design entries of ``folder`` (a design of ours), then the folder if that left it empty.
    Anything else stays where it is; returns its names (empty when the folder is gone)."""
    for p in folder.iterdir():
        if _is_design_entry(p.name):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
    kept = sorted(p.name for p in folder.iterdir())
    if not kept:
        folder.rmdir()
    return kept


def check_output_folder(out: Path, replace: bool) -> None:
    """Refuse to generate into ``out`` unless it is missing, empty, or (with ``replace``) a design of ours
    holding nothing else; the refusal says why and what to do. Nothing is deleted here."""
    if out.exists() and not out.is_dir():
        raise LpgnasError(f"-o {out} is a file, not a folder; choose a new folder for the design")
    if not out.is_dir() or not [p for p in out.iterdir() if p.name != LOCK_NAME]:
        return
    if not is_generated_design(out):
        raise LpgnasError(f"{out} is not empty and holds no design generated by lpgnas; generate into a new "
                          f"or empty folder (e.g. {out / 'hw'}): --force replaces only a design lpgnas wrote")
    if not replace:
        raise LpgnasError(f"{out} holds a design generated earlier; pass --force to replace it, or choose "
                          "another folder")
    foreign = _foreign_entries(out)
    if foreign:
        raise LpgnasError(f"{out} holds a generated design but also {', '.join(foreign[:5])}, which lpgnas did "
                          "not write; move those away before replacing the design, or choose another folder")


def _install(tmp: Path, out: Path) -> None:
    """Put the finished design ``tmp`` in place of the locked ``out`` (empty or our design) by renames. The
    folder is swapped in whole, the held lock file moved along; a folder that is the working directory (or
    holds it) keeps its inode and its entries are swapped one by one."""
    cwd = Path.cwd().resolve()
    if cwd == out.resolve() or out.resolve() in cwd.parents:
        old = Path(tempfile.mkdtemp(dir=out, prefix=".replaced."))
        for p in out.iterdir():
            if p.name != LOCK_NAME and _is_design_entry(p.name):
                p.rename(old / p.name)
        for p in tmp.iterdir():
            p.rename(out / p.name)
        replaced = old
    else:
        os.rename(out / LOCK_NAME, tmp / LOCK_NAME)
        holder = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.replaced."))
        out.rename(holder / out.name)
        tmp.rename(out)
        replaced = holder / out.name
    kept = remove_design(replaced)
    if kept:  # written into the folder after check_output_folder, by something that does not take the lock
        log.warning("kept %s (not written by lpgnas) of the replaced design in %s", ", ".join(kept), replaced)
    elif replaced.parent != out:
        replaced.parent.rmdir()


def generate_design(
    ir: ModelIR,
    graph: CSRGraph,
    x_codes: np.ndarray,
    out_dir: str | Path,
    hw: HardwareConfig | None = None,
    *,
    source: dict[str, Any] | None = None,
    replace: bool = False,
) -> Path:
    """Write the whole hardware folder for ``ir`` running on ``graph`` with input codes ``x_codes`` (and
    ``source.json`` from ``source``: where the data come from).

    ``out_dir`` must be missing, empty, or (with ``replace``) a design generated earlier
    (``check_output_folder``). The folder is built beside ``out_dir`` and renamed into place while the folder is
    locked, so a failure leaves no half design and the previous one intact.
    """
    out = Path(out_dir).resolve()
    check_output_folder(out, replace)  # before any work, and again under the lock
    hw = (hw or default_config(ir, max_nodes=graph.num_nodes, max_edges=graph.num_edges)).check(ir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    existed = out.exists()
    try:
        with folder_lock(out):
            try:
                check_output_folder(out, replace)
                ir.save(tmp / "model.ir.json")
                hw.save(tmp / "hw_config.json")
                write_graph_data(ir, graph, x_codes, tmp)
                write_hls(ir, hw, tmp / "hls")
                write_rtl(ir, hw, tmp / "rtl")
                if source is not None:
                    write_json_atomic(tmp / "source.json", source)
                _install(tmp, out)
            except BaseException:
                # a failed first generation leaves no folder behind: only the lock we hold, in the folder we made
                if not existed and [p.name for p in out.iterdir()] == [LOCK_NAME]:
                    (out / LOCK_NAME).unlink()
                    out.rmdir()
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out
