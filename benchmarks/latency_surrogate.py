"""How well the latency objective's stand-in ranks designs like the DSE's exact latency.

    python benchmarks/latency_surrogate.py [--dataset Cora] [--device xc7z020] [--designs 30] [--out FILE.json]

Draws random designs from the search space (``--hidden-sizes`` / ``--head-counts`` narrow it; designs
whose smallest accelerator does not fit the device are drawn again) and compares, per design, the DSE's
exact latency at the best parallelism that fits (``search.pareto.best_parallelism``, what the fronts judge
candidates by) with what ``SearchCost(objective="latency")`` gives the controllers at one-hot probabilities
(``dse_latency``, ``hw_model.expected.best_mapping_cycles``), the same stand-in with every layer ``auto``
(no LUT lanes), without its lane caps and without BRAM as a limit, the
latency at the size objective's nominal parallelism (``NOMINAL_HW``) and at one lane: Spearman rank
correlation and the ratio DSE / stand-in. Also the stand-in's gradient at uniform probabilities with
respect to every layer's weight-bitwidth probabilities (what pushes the controllers). Results:
``benchmarks/results/latency_surrogate.json`` + ``.md``; docs/cost_model.md ("Latency at the best
parallelism") quotes them.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUT = REPO / "benchmarks" / "results" / "latency_surrogate.json"
#: per design, the figures compared with the DSE's exact latency (us)
STAND_INS = {
    "dse_latency": "stand-in (SearchCost, latency objective)",
    "auto_only": "stand-in with every layer's multipliers auto (no LUT lanes)",
    "uncapped": "stand-in without lane caps",
    "no_bram": "stand-in with LUT and DSP limits only",
    "nominal": "latency at the nominal parallelism (size objective)",
    "one_lane": "latency at one lane",
}


def uncapped_cycles(one, two, most, budget):
    """``balanced_cycles`` with no unit ever reaching its lane cap."""
    from lpgnas.hw_model.expected import balanced_cycles

    return balanced_cycles(one, two, [(kind, {"cycles": 1e-9}) for kind, _ in one], budget)


def measure(dataset: str, device: str, designs: int, seed: int, hidden_sizes: str | None, head_counts: str | None,
            data_root: str | None) -> dict[str, Any]:
    import numpy as np
    import torch
    from scipy.stats import spearmanr

    from lpgnas.hw_model.expected import balanced_cycles, best_mapping_cycles
    from lpgnas.search.config import SearchConfig, load_search_data
    from lpgnas.search.cost import SearchCost, uniform_probs
    from lpgnas.search.graph_tensors import GraphTensors
    from lpgnas.search.pareto import best_parallelism
    from lpgnas.search.quant_gnn import export_ir
    from lpgnas.search.supernet import architecture_from_choices, build_quant_gnn, onehots_for
    from lpgnas.sparse import nonzero_histogram

    torch.set_num_threads(1)
    narrowed = {k: v for k, v in (("hidden_sizes", hidden_sizes), ("head_counts", head_counts)) if v}
    cfg = SearchConfig(dataset=dataset, device=device, **narrowed)
    data = load_search_data(cfg, data_root)
    csr = GraphTensors.of(data).csr
    n, e = csr.num_nodes, csr.num_edges
    space = cfg.space(data.num_features, data.num_classes)
    signed = bool((data.x < 0).any())
    t = time.time()
    features = data.x.cpu().numpy()
    cost = SearchCost(space, n, e, device, objective="latency", input_signed=signed,
                      feature_nonzeros=nonzero_histogram(features))
    build_seconds = time.time() - t

    uniform = {k: v.clone().requires_grad_(True) for k, v in uniform_probs(space, torch.float64).items()}
    cost.penalty(uniform, 1.0).backward()
    gradient = {k: {str(o): round(float(g), 4) for o, g in zip(space.options(k), uniform[k].grad, strict=True)}
                for k in space.decision_keys if k.endswith(".q_weight")}

    budget = cost.lane_budget
    rng = random.Random(seed)
    rows, drawn, t = [], 0, time.time()
    while len(rows) < designs:
        drawn += 1
        arch = architecture_from_choices(space, {k: rng.choice(space.options(k)) for k in space.decision_keys})
        exact = best_parallelism(export_ir(build_quant_gnn(arch, data.num_features, input_signed=signed), "x"),
                                 n, e, device, features)
        if not exact["fits"]:
            continue
        with torch.no_grad():
            p = onehots_for(space, arch)
            v = cost.values(p)
            lanes = (cost.one_lane, cost.two_lanes, cost.most_lanes)
            ablations = {"auto_only": balanced_cycles(*(c.unit_terms(p) for c in lanes), budget),
                         "uncapped": best_mapping_cycles(*lanes, p, budget, uncapped_cycles),
                         "no_bram": best_mapping_cycles(*lanes, p, {k: budget[k] for k in ("lut", "dsp")})}
        rows.append({"architecture": [c.to_dict() for c in arch], "dse": exact["latency_us"],
                     "dse_latency": float(v["dse_latency"]), "nominal": float(v["latency"]),
                     "one_lane": float(cost.one_lane(p)["latency_us"]),
                     **{k: float(c) / cost.one_lane.clock_mhz for k, c in ablations.items()}})
    dse = np.array([r["dse"] for r in rows])
    agreement = {}
    for k in STAND_INS:
        est = np.array([r[k] for r in rows])
        ratio = dse / est
        agreement[k] = {"spearman": round(float(spearmanr(est, dse)[0]), 3),
                        "median_ratio": round(float(np.median(ratio)), 3),
                        "ratio_range": [round(float(ratio.min()), 3), round(float(ratio.max()), 3)]}
    return {"dataset": dataset, "split": data.split, "device": device, "num_nodes": n, "num_edges": e,
            "space": {"hidden_sizes": cfg.hidden_sizes, "head_counts": cfg.head_counts}, "seed": seed,
            "designs": len(rows), "drawn": drawn, "agreement": agreement,
            "gradient_at_uniform": gradient, "cost_build_seconds": round(build_seconds, 2),
            "seconds": round(time.time() - t, 1), "rows": rows}


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Latency stand-in against the DSE's exact latency",
        "",
        f"Written by `benchmarks/latency_surrogate.py`: {doc['designs']} random designs ({doc['drawn']} drawn, "
        f"those whose smallest accelerator does not fit dropped) of the search space (hidden "
        f"{doc['space']['hidden_sizes']}, heads {doc['space']['head_counts']}) on {doc['dataset']} "
        f"({doc['split']}, {doc['num_nodes']} nodes, {doc['num_edges']} edges), device {doc['device']}, seed "
        f"{doc['seed']}; {doc['seconds']} s. DSE = `hw_model.dse.explore`'s latency at the best parallelism "
        "that fits (what the fronts judge by); ratio = DSE / figure.",
        "",
        "| figure | Spearman with the DSE | median ratio | ratio range |",
        "|---|---|---|---|",
    ]
    for k, label in STAND_INS.items():
        a = doc["agreement"][k]
        lines.append(f"| {label} | {a['spearman']:.3f} | {a['median_ratio']:.2f} | "
                     f"{a['ratio_range'][0]:.2f} .. {a['ratio_range'][1]:.2f} |")
    lines += ["", "Gradient of the latency objective's penalty (lambda = 1) at uniform probabilities with respect to "
              "each layer's weight-bitwidth probabilities (larger: the controllers move away from it):", "",
              "| decision | " + " | ".join(f"{o} bits" for o in next(iter(doc["gradient_at_uniform"].values())))
              + " |",
              "|---|" + "---|" * len(next(iter(doc["gradient_at_uniform"].values())))]
    for k, g in doc["gradient_at_uniform"].items():
        lines.append(f"| {k} | " + " | ".join(f"{x:.3f}" for x in g.values()) + " |")
    lines += ["", "| DSE us | stand-in us | nominal us | one lane us | design (attention, hidden x heads, weight "
              "bits) |", "|---|---|---|---|---|"]
    for r in sorted(doc["rows"], key=lambda r: r["dse"]):
        design = " ; ".join(f"{c['attention']} {c['hidden']}x{c['heads']} w{c['q_weight']}" for c in r["architecture"])
        lines.append(f"| {r['dse']:.1f} | {r['dse_latency']:.1f} | {r['nominal']:.1f} | {r['one_lane']:.1f} | "
                     f"{design} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="Cora")
    ap.add_argument("--device", default="xc7z020")
    ap.add_argument("--designs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden-sizes", help="narrow the space's widths (default: the search's)")
    ap.add_argument("--head-counts", help="narrow the space's head counts (default: the search's)")
    ap.add_argument("--data-root")
    ap.add_argument("--out", type=Path, default=OUT, help="results JSON (the .md beside it)")
    args = ap.parse_args()
    from lpgnas.fileio import write_json_atomic, write_text_atomic

    doc = measure(args.dataset, args.device, args.designs, args.seed, args.hidden_sizes, args.head_counts,
                  args.data_root)
    write_json_atomic(args.out, doc)
    write_text_atomic(args.out.with_suffix(".md"), markdown(doc))
    print(markdown(doc).split("\n\n")[2])


if __name__ == "__main__":
    main()
