"""The inputs of a design: a dataset's graph (or its breadth-first subgraph) and input codes, preprocessed
as the IR was trained. Read by ``estimate``, ``generate``, ``verify`` and the flow."""

from __future__ import annotations

from typing import Any

from lpgnas.errors import LpgnasError

DEFAULT_NODES = 256


def design_inputs(ir: Any, dataset: str, data_root: str | None, nodes: int | None, features: str):
    """(CSR graph, input codes) of ``dataset`` or of its breadth-first subgraph of ``nodes`` nodes, its
    features preprocessed as in training (``features``: a mode of ``lpgnas.datasets.FEATURE_MODES``)."""
    from lpgnas.datasets import load_dataset, preprocess_features
    from lpgnas.golden import quantize_features
    from lpgnas.graph import CSRGraph, bfs_nodes

    if nodes is not None and nodes < 1:
        raise LpgnasError(f"--nodes {nodes}: a subgraph needs at least 1 node")
    data = load_dataset(dataset, data_root=data_root)
    if data.num_features != ir.in_features:
        raise LpgnasError(f"{dataset} has {data.num_features} features, the IR expects {ir.in_features}")
    x = preprocess_features(data.x, features)  # over the whole graph, as in training, before any subgraph
    graph = CSRGraph.from_edge_index(data.edge_index.numpy(), data.num_nodes)
    x_np = x.numpy()
    if nodes is not None and nodes < graph.num_nodes:
        keep = bfs_nodes(graph, nodes)
        graph, x_np = graph.subgraph(keep), x_np[keep]
    return graph, quantize_features(ir, x_np)


def training_config(ir: Any) -> dict[str, Any]:
    """The configuration the IR was trained with (by ``lpgnas train`` or ``lpgnas search``), if recorded."""
    return ir.metadata.get("train_config") or ir.metadata.get("search_config") or {}
