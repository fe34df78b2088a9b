"""LUT-mapped products at the design-space exploration's scale: Cora-size layer-0 transform units.

    python benchmarks/cost_model/lut_lanes.py [--family xc7] [--in-features 1433] [--only W8A8:8x4 ...]

The Cora GCN of ``/work/wt/exp/uniform_latency.py`` (1433 features, hidden 16, 7 classes, uniform WxAy formats,
untrained weights, non-negative input features): ``lpg_transform`` of layer 0 (``DIRECT = 1``) with
``mult = "lut"`` at growing ``P_in x P_out``, parameterised and given its weight ROM exactly as a full design
(``calibrate.unit_sources``), synthesised alone with Yosys ``synth_xilinx`` (``lpgnas.sim.synth.synth``, niced),
against this model's unit estimate (unit coefficients, no integration factor, as ``validate.py --units``). Per
unit: the LUT-mapped products' share of the estimate and the LUT per adder bit the measurement implies when the
model's other terms are taken as they are. The DSE's own designs (``best_parallelism``) on xc7z020 are recorded
too: their layer-0 parallelism, total LUT and layer-0 transform estimate. Results accumulate in
``lut_lanes.json`` beside this file (one synthesis at a time, each written when done).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from calibrate import RTL_LIB, RUNS, UNIT_SOURCES, unit_sources  # noqa: E402  (beside this file)

OUT = HERE / "lut_lanes.json"
#: Cora: features, classes, nodes, edges with self-loops (as uniform_latency.py)
CORA = (1433, 7, 2708, 13264)
HIDDEN = 16
#: (weight bits, activation bits, P_in, P_out), smallest first; 52x8 (W8A8) and 63x16 (W4A8) are the DSE's
#: LUT per adder bit of the small lpg_transform units' fit (docs/cost_model.md), for comparison
UNIT_FIT = 1.83
CASES = [(8, 8, 8, 4), (8, 8, 16, 8), (4, 8, 16, 8), (8, 8, 52, 8), (4, 8, 63, 16), (8, 8, 32, 16), (8, 8, 63, 16)]


def case_key(w: int, a: int, p_in: int, p_out: int) -> str:
    return f"W{w}A{a}:{p_in}x{p_out}"


def cora_ir(wbits: int, abits: int, in_features: int):
    """The uniform WxAy Cora GCN (hidden 16) as the DSE benchmark builds it."""
    from lpgnas.search.quant_gnn import export_ir
    from lpgnas.search.space import LayerChoice
    from lpgnas.search.supernet import build_quant_gnn

    acc = 16
    arch = [
        LayerChoice("gcn", "add", "relu", HIDDEN, 1, wbits, abits, acc, abits, acc, acc),
        LayerChoice("gcn", "add", "identity", CORA[1], 1, wbits, abits, acc, abits, acc, acc),
    ]
    return export_ir(build_quant_gnn(arch, in_features, input_signed=False), f"cora_w{wbits}a{abits}")


def dse_designs(family_device: str = "xc7z020") -> dict:
    """The DSE's W8A8 and W4A8 Cora designs: layer-0 config, total LUT, layer-0 transform LUT (with the
    integration factor, as the DSE sums it)."""
    from lpgnas.hw_model.dse import explore
    from lpgnas.hw_model.numeric import to_float

    out = {}
    for w, a in ((8, 8), (4, 8)):
        ir = cora_ir(w, a, CORA[0])
        hw, est = explore(ir, (CORA[2], CORA[3]), family_device)
        t = {k: to_float(v) for k, v in est.totals().items()}
        tr0 = next(u for u in est.units if u.kind == "transform")
        l0 = hw.layers[0]
        out[f"W{w}A{a}"] = {
            "device": family_device,
            "layer0": {"p_in": l0.p_in, "p_out": l0.p_out, "p_agg": l0.p_agg, "mult": l0.mult},
            "latency_us": round(t["latency_us"], 1),
            "lut_total": round(t["lut_total"]),
            "transform0_lut": round(to_float(tr0.lut)),
            "units": {u.name: round(to_float(u.lut)) for u in est.units if to_float(u.lut) >= 1},
        }
    return out


def unit_params(w: int, a: int, p_in: int, p_out: int, in_features: int, family: str, workdir: Path) -> dict:
    """``lpg_transform``'s parameters of layer 0 (mult = lut) and its weight ROM image in ``workdir``."""
    from lpgnas.hwconfig import HardwareConfig, LayerHW

    hw = HardwareConfig(
        device="xc7z020" if family == "xc7" else "xczu7ev",
        max_nodes=CORA[2],
        max_edges=CORA[3],
        layers=[LayerHW(p_in=p_in, p_out=p_out, p_agg=16, mult="lut"), LayerHW(p_in=16, p_out=7, p_agg=7)],
    )
    return unit_sources(cora_ir(w, a, in_features), hw, 0, workdir)["transform"]


def model_figures(params: dict, family: str, yosys_lut: int, rom_lut: int | None = None) -> dict:
    """This model's unit estimate (no integration factor) and its terms; the LUT per adder bit that
    ``yosys_lut`` implies with the other terms as they are (and, given ``rom_lut``, the weight ROM's LUTs
    in Yosys, with the measured ROM in place of the model's)."""
    from lpgnas.hw_model.model import coefficients
    from lpgnas.hw_model.units import transform as tr
    from lpgnas.hw_model.units.multiplier import LUT_MULT_PER_ADDER_BIT

    p = {k: float(v) for k, v in params.items() if not k.endswith("_FILE")}
    coef = coefficients(family, "transform", "lut")
    model = float(tr.lut_estimation(p, family, coef))
    mapped = float(tr.lut_mapped_products(p))
    bits = mapped / LUT_MULT_PER_ADDER_BIT
    terms = {k: round(float(coef.get(k, 0.0) * v), 1) for k, v in tr.lut_features(p, family).items()}
    terms = {k: v for k, v in terms.items() if v}
    terms["direct"] = round(float(tr.direct_lut(p)), 1)
    terms["mapped_products"] = round(mapped, 1)
    out = {
        "model_lut": round(model, 1),
        "model_terms": terms,
        "adder_bits": bits,
        "lut_error": (model - yosys_lut) / yosys_lut,
        "implied_lut_per_adder_bit": (yosys_lut - (model - mapped)) / bits,
    }
    if rom_lut is not None:
        rest = model - mapped - terms.get("rom", 0.0)
        out["implied_lut_per_adder_bit_rom_measured"] = (yosys_lut - rom_lut - rest) / bits
    return out


def rom_synth(params: dict, family: str, workdir: Path) -> dict:
    """The unit's weight ROM (``lpg_rom``, its image in ``workdir``) synthesised alone."""
    from lpgnas.sim.synth import resource_counts, synth

    wfile = workdir / Path(str(params["WEIGHT_FILE"]).strip('"')).name
    rom = {"W": params["P_OUT"] * params["P_IN"] * params["WW"], "D": params["HEADS"] * params["OG"] * params["IG"],
           "AW": params["WAW"], "INIT_FILE": str(wfile)}
    r = resource_counts(synth([RTL_LIB / "lpg_rom.v"], "lpg_rom", family, rom))
    return {k: v for k, v in r.items() if k != "cells"}


def unit_case(w: int, a: int, p_in: int, p_out: int, in_features: int, family: str) -> dict:
    """Synthesise one layer-0 transform unit; Yosys vs the model."""
    from lpgnas.sim.synth import resource_counts, synth

    RUNS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=RUNS) as tmp:
        params = unit_params(w, a, p_in, p_out, in_features, family, Path(tmp))
        t0 = time.time()
        stat = synth([RTL_LIB / f"lpg_{m}.v" for m in UNIT_SOURCES["transform"]], "lpg_transform", family, params,
                     timeout=7200.0)
        seconds = time.time() - t0
        rom = rom_synth(params, family, Path(tmp))
    r = resource_counts(stat)
    return {
        "case": [w, a, p_in, p_out],
        "family": family,
        "in_features": in_features,
        "lanes": p_in * p_out,
        "yosys": {k: v for k, v in r.items() if k != "cells"},
        "cells": r["cells"],
        "synth_seconds": round(seconds, 1),
        "params": {k: v for k, v in params.items() if not k.endswith("_FILE")},
        "rom_yosys": rom,
        **model_figures(params, family, r["lut"], rom["lut"]),
    }


def refresh_model(doc: dict) -> None:
    """Recompute every stored unit's model figures with this code (the parameters derived again); synthesise
    the weight ROM alone where it is missing."""
    RUNS.mkdir(parents=True, exist_ok=True)
    for key, rec in doc["units"].items():
        w, a, p_in, p_out = (int(v) for v in rec.get("case") or _parse(key))
        with tempfile.TemporaryDirectory(dir=RUNS) as tmp:
            params = unit_params(w, a, p_in, p_out, rec["in_features"], rec["family"], Path(tmp))
            if "rom_yosys" not in rec:
                rec["rom_yosys"] = rom_synth(params, rec["family"], Path(tmp))
        rec.update(case=[w, a, p_in, p_out], params={k: v for k, v in params.items() if not k.endswith("_FILE")},
                   **model_figures(params, rec["family"], rec["yosys"]["lut"], rec["rom_yosys"]["lut"]))
        rec.pop("key", None)
        rec.pop("model_mapped_products_lut", None)
        rec.pop("model_rom_lut", None)


def _parse(key: str) -> tuple[int, int, int, int]:
    fmt, lanes = key.split(":")[:2]
    w, a = fmt[1:].split("A")
    p_in, p_out = lanes.split("x")
    return int(w), int(a), int(p_in), int(p_out)


def rom_cell(rec: dict) -> str:
    """The weight ROM's LUTs in Yosys and in the model, or where it went when not logic."""
    r = rec["rom_yosys"]
    if not rec["model_terms"].get("rom") and not r["lut"]:
        return f"block RAM ({r['bram18']} RAMB18, {r['bram36']} RAMB36)"
    return f"{r['lut']} (+{r['muxf']} MUXF), {rec['model_terms'].get('rom', 0):.0f}"


def table(doc: dict) -> str:
    """Markdown rows of the stored units (docs/cost_model.md)."""
    rows = ["| W x A | P_in x P_out (lanes) | Yosys LUT | model LUT | error | model at 1.83 | "
            "LUT / adder bit implied | weight ROM: Yosys, model LUT | implied, ROM as measured | synth s |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for rec in sorted(doc["units"].values(), key=lambda r: (r["lanes"], -r["case"][0])):
        w, a, p_in, p_out = rec["case"]
        y = rec["yosys"]["lut"]
        at_fit = rec["model_lut"] - rec["model_terms"]["mapped_products"] + UNIT_FIT * rec["adder_bits"]
        rows.append(f"| W{w}A{a} | {p_in} x {p_out} ({rec['lanes']}) | {rec['yosys']['lut']} | "
                    f"{rec['model_lut']:.0f} | {rec['lut_error']:+.0%} | {at_fit:.0f} ({at_fit / y - 1:+.0%}) | "
                    f"{rec['implied_lut_per_adder_bit']:.2f} | "
                    f"{rom_cell(rec)} | "
                    f"{rec['implied_lut_per_adder_bit_rom_measured']:.2f} | {rec['synth_seconds']:.0f} |")
    for name, d in sorted(doc.get("dse", {}).items()):
        l0 = d["layer0"]
        w, a = (int(v) for v in name[1:].split("A"))
        rec = doc["units"].get(f"{case_key(w, a, l0['p_in'], l0['p_out'])}:xc7:{CORA[0]}")
        if rec is not None and d["device"] == "xc7z020":
            rows.append(f"\nDSE {name} on {d['device']}: layer 0 {l0['p_in']} x {l0['p_out']} lut, estimated "
                        f"{d['lut_total']} LUT of which layer-0 transform {d['transform0_lut']}; with that unit as "
                        f"Yosys builds it: {d['lut_total'] - d['transform0_lut'] + rec['yosys']['lut']} LUT")
    return "\n".join(rows)


def load() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {"units": {}}


def save(doc: dict) -> None:
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="xc7", choices=("xc7", "xcup"))
    ap.add_argument("--in-features", type=int, default=CORA[0])
    ap.add_argument("--only", nargs="*", help="cases as W8A8:8x4 (default: all, smallest first)")
    ap.add_argument("--force", action="store_true", help="synthesise cases already in lut_lanes.json again")
    ap.add_argument("--skip-dse", action="store_true")
    ap.add_argument("--report", action="store_true",
                    help="recompute the model figures (synthesising missing weight ROMs), print the table")
    args = ap.parse_args(argv)
    from lpgnas.sim.synth import yosys_version

    doc = load()
    if args.report:
        refresh_model(doc)
        save(doc)
        print(table(doc))
        return 0
    doc["yosys"] = yosys_version()
    if not args.skip_dse:
        doc["dse"] = dse_designs()
        save(doc)
        print(json.dumps({k: {kk: v[kk] for kk in ("layer0", "lut_total", "transform0_lut")}
                          for k, v in doc["dse"].items()}), flush=True)
    for w, a, p_in, p_out in CASES:
        key = case_key(w, a, p_in, p_out)
        if args.only and key not in args.only:
            continue
        full = f"{key}:{args.family}:{args.in_features}"
        if full in doc["units"] and not args.force:
            continue
        print(f"{full}: synthesising", flush=True)
        rec = unit_case(w, a, p_in, p_out, args.in_features, args.family)
        doc = load()  # keep what other runs wrote meanwhile
        doc["units"][full] = rec
        save(doc)
        print(f"{full}: yosys {rec['yosys']['lut']} LUT, model {rec['model_lut']:.0f} ({rec['lut_error']:+.1%}), "
              f"implied {rec['implied_lut_per_adder_bit']:.2f} LUT/adder bit, {rec['synth_seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
