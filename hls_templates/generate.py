"""Generate a hardware folder from an IR: HLS project, Verilog, memory images, manifest.

Layout of ``HW/``::

    model.ir.json, model.ir.npz   the IR the design implements (copied)
    hw_config.json                parallelism, multiplier mapping, device, buffer capacity
    design.json                   manifest: graph size, memory images (name, words, width, signed)
    data/<image>.mem / .txt       memory images (hex for $readmemh, decimal for the C++ testbench)
    hls/                          Vitis HLS project (kernel, weights, testbench, run_hls.tcl)
    rtl/                          Verilog: module library, generated top level, weight .mem files
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from hls_templates.config import HardwareConfig, default_config
from hls_templates.hls_writer import write_hls
from hls_templates.images import MemoryImage, graph_images, io_images
from hls_templates.rtl_writer import write_rtl
from lpgnas.errors import LpgnasError
from lpgnas.graph import CSRGraph
from lpgnas.ir import ModelIR


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
    images = graph_images(ir, graph) + list(io_images(ir, graph, x_codes))
    manifest = {
        "num_nodes": graph.num_nodes,
        "num_edges": graph.num_edges,
        "images": write_images(images, hw_dir / "data"),
    }
    (hw_dir / "design.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def generate_design(
    ir: ModelIR,
    graph: CSRGraph,
    x_codes: np.ndarray,
    out_dir: str | Path,
    hw: HardwareConfig | None = None,
) -> Path:
    """Write the whole hardware folder for ``ir`` running on ``graph`` with input codes ``x_codes``.

    The folder is built beside ``out_dir`` and renamed into place, so a failure leaves no half design.
    """
    out = Path(out_dir)
    hw = (hw or default_config(ir, max_nodes=graph.num_nodes, max_edges=graph.num_edges)).check(ir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        ir.save(tmp / "model.ir.json")
        hw.save(tmp / "hw_config.json")
        write_graph_data(ir, graph, x_codes, tmp)
        write_hls(ir, hw, tmp / "hls")
        write_rtl(ir, hw, tmp / "rtl")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out
