"""The run report (lpgnas/report.py): what an FPGA engineer needs, checked by parsing report.md.

Fast: the pieces (flagging, plots' axes and legends, command line, html). Slow: one small flow on the
karate graph through the CLI (verified on a 20-node subgraph, Verilator), its report.md parsed and every
item compared with the files the flow wrote.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

from lpgnas import __version__
from lpgnas.flow import FLOW_DIR
from lpgnas.report import (
    FLAG_UTILISATION,
    SHOWN_NODE_IDS,
    bitwidth_plot,
    command_line,
    controller_plot,
    markdown_to_html,
    scatter_plot,
    utilisation,
)

matplotlib.use("Agg")


# ---- fast: the pieces --------------------------------------------------------------------------------------

def test_utilisation_is_flagged_above_90_percent_and_over_budget():
    assert utilisation(50, 100) == "50.0 %"
    assert utilisation(90, 100) == "90.0 %"  # at the limit: not above it
    assert utilisation(219, 220) == "**99.5 % (above 90 %)**"
    assert utilisation(1352, 140) == "**965.7 % (over budget)**"
    assert FLAG_UTILISATION == 0.9


def _visible_tick_labels(ax, axis: str) -> list:
    ax.figure.canvas.draw()
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    locs = ax.get_xticks() if axis == "x" else ax.get_yticks()
    return [t for t, v in zip(ticks, locs, strict=True) if min(lo, hi) <= v <= max(lo, hi) and t.get_text()]


def _no_overlap(labels) -> bool:
    boxes = [t.get_window_extent() for t in labels]
    return not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


@pytest.mark.parametrize("xs", [(5.65, 11.3, 22.5, 45.0), (2957, 3719, 6361, 25049), (0.4, 3.0, 800.0)])
def test_scatter_plot_has_plain_log_ticks_a_legend_and_no_overlapping_labels(xs):
    names = ["this model", *(f"GCN W{b}A8" for b in (16, 8, 4, 2))][:len(xs)]
    points = [(n, x, 0.78 + 0.01 * i) for i, (n, x) in enumerate(zip(names, xs, strict=False))]
    points.append(("GCN W8A8", xs[0], 0.78))  # a baseline on the same point as this model
    fig = scatter_plot(points, "model size (KiB)")
    ax = fig.axes[0]
    labels = _visible_tick_labels(ax, "x")
    assert len(labels) >= 2
    for t in labels:  # "5", "10", "2,000", "0.5": never mathtext such as 6x10^0
        assert re.fullmatch(r"[0-9][0-9,]*(\.[0-9]+)?", t.get_text()), t.get_text()
    assert not [t for t in ax.get_xticklabels(minor=True) if t.get_text()]
    assert _no_overlap(labels)
    legend = ax.get_legend()
    assert legend is not None and {t.get_text() for t in legend.get_texts()} >= set(names)
    assert not [c for c in ax.texts]  # names are in the legend, not written over the points


def test_bitwidth_plot_has_integer_bit_ticks_and_a_legend():
    layers = [{"name": "layer0", "formats": {"weight": {"bits": 3}, "input": {"bits": 13}, "output": {"bits": 5}}},
              {"name": "layer1", "formats": {"weight": {"bits": 1}, "input": {"bits": 5}, "output": {"bits": 7}}}]
    ax = bitwidth_plot(layers).axes[0]
    ticks = [v for v in ax.get_yticks() if ax.get_ylim()[0] <= v <= ax.get_ylim()[1]]
    assert ticks and all(float(v).is_integer() for v in ticks)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer0", "layer1"]
    assert _no_overlap(_visible_tick_labels(ax, "x"))


def test_controller_plot_has_a_legend_with_the_option_names_per_decision():
    recs = [{"epoch": e, "probs": {"layer0.attention": [0.5 - 0.1 * e, 0.5 + 0.1 * e], "layer1.heads": [1.0],
                                   "layer0.q_weight": [0.2, 0.3, 0.5]}} for e in range(4)]
    fig = controller_plot(recs, {"layer0.attention": ["gcn", "gat"], "layer1.heads": ["1"]})
    axes = fig.axes
    assert [ax.get_title(loc="left") for ax in axes] == ["layer0.attention", "layer0.q_weight"]  # one option: no plot
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["gcn", "gat"]
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["option 0", "option 1", "option 2"]
    assert axes[-1].get_xlabel() == "search epoch"


def test_command_line_of_a_recorded_argv():
    assert command_line(["/x/lpgnas/__main__.py", "flow", "-o", "my run"]) == "python -m lpgnas flow -o 'my run'"
    assert command_line(["/venv/bin/lpgnas", "flow", "--dataset", "Cora"]) == "lpgnas flow --dataset Cora"
    assert command_line(["-c"]) == "python -c …"


def test_markdown_to_html_renders_links_code_and_escapes():
    page = markdown_to_html("- [hw/hls/](hw/hls/): the `run_hls.tcl` <script>\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<a href='hw/hls/'>hw/hls/</a>" in page and "<code>run_hls.tcl</code>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "<td>1</td>" in page


# ---- slow: a flow's report.md, parsed -------------------------------------------------------------------

NODES = 20


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("report") / "run"
    argv = [sys.executable, "-m", "lpgnas", "flow", "--dataset", "karate", "--arch", "gcn", "--epochs", "20",
            "--hidden", "8", "--nodes", str(NODES), "--no-baselines", "-o", str(run)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run, argv, proc


def _sections(md: str) -> dict[str, str]:
    """``## heading`` -> its text."""
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _section(md: str, prefix: str) -> str:
    found = [text for head, text in _sections(md).items() if head.startswith(prefix)]
    assert len(found) == 1, (prefix, list(_sections(md)))
    return found[0]


def _table(text: str) -> list[dict[str, str]]:
    """The first markdown table in ``text`` as rows of header -> cell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in rows]
    head, body = cells[0], [c for c in cells[1:] if not all(set(x) <= {"-"} for x in c)]
    return [dict(zip(head, c, strict=True)) for c in body]


def _num(cell: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", cell.split("(")[0]))


def _json(run: Path, rel: str):
    return json.loads((run / rel).read_text())


@pytest.mark.slow
def test_report_model_size_and_buffers_are_the_cost_models(flow_run):
    run, _, _ = flow_run
    est = _json(run, "estimate.json")
    row = _table(_section((run / "report.md").read_text(), "Accuracy and size"))[0]
    assert _num(row["model size"]) == pytest.approx(est["totals"]["model_bits"] / 8192, abs=0.005)
    assert _num(row["on-chip buffers"]) == pytest.approx(est["totals"]["buffer_bits"] / 8192, abs=0.05)


@pytest.mark.slow
def test_report_hardware_configuration_equals_hw_config(flow_run):
    run, _, _ = flow_run
    md, hw = (run / "report.md").read_text(), _json(run, "hw_config.json")
    text = _section(md, "Hardware configuration")
    assert f"clock **{hw['clock_mhz']:g} MHz**" in text and f"Device **{hw['device']}**" in text
    assert f"max_nodes **{hw['max_nodes']:,}**" in text and f"max_edges **{hw['max_edges']:,}**" in text
    rows = _table(text)
    assert [r["layer"] for r in rows] == [layer["name"] for layer in _json(run, "model.ir.json")["layers"]]
    for row, lhw in zip(rows, hw["layers"], strict=True):
        assert (int(row["P_in"]), int(row["P_out"]), int(row["P_agg"]), row["multipliers"]) == (
            lhw["p_in"], lhw["p_out"], lhw["p_agg"], lhw["mult"])


@pytest.mark.slow
def test_report_utilisation_equals_used_over_available_and_flags_above_90(flow_run):
    run, _, _ = flow_run
    est = _json(run, "estimate.json")
    text = _section((run / "report.md").read_text(), "Utilisation of")
    rows = {r["resource"]: r for r in _table(text)}
    assert set(rows) == set(est["usage"])
    for k, u in est["usage"].items():
        pct = 100 * u["used"] / u["available"]
        assert _num(rows[k]["utilisation"]) == pytest.approx(round(pct, 1)), k
        assert ("above 90 %" in rows[k]["utilisation"]) == (FLAG_UTILISATION * 100 < pct <= 100), k
        assert int(_num(rows[k]["available"])) == u["available"]


@pytest.mark.slow
def test_report_resources_per_unit_are_the_cost_models(flow_run):
    run, _, _ = flow_run
    est = _json(run, "estimate.json")
    rows = {r["unit"]: r for r in _table(_section((run / "report.md").read_text(), "Resources per unit"))}
    used = [u for u in est["units"] if any(u[k] for k in ("lut", "lutram", "ff", "dsp", "bram18", "bram36", "cycles"))]
    assert len(rows) == len(used) + 1  # and the total
    for u in used:
        row = next(r for name, r in rows.items() if name.endswith(u["name"]))
        for k in ("lut", "ff", "dsp", "bram36", "cycles"):
            assert _num(row[k]) == pytest.approx(u[k], abs=0.051 if u[k] < 100 else 0.5), (u["name"], k)
    assert _num(rows["**total**"]["cycles"]) == est["totals"]["cycles"]


@pytest.mark.slow
def test_report_latency_of_subgraph_and_whole_graph_throughput_and_cycles_per_node(flow_run):
    run, _, _ = flow_run
    est, rtl = _json(run, "estimate.json"), _json(run, "verify_rtl.json")
    rows = _table(_section((run / "report.md").read_text(), "Latency and throughput"))
    by = {r["graph"]: r for r in rows}
    sub = by["verified subgraph, estimated"]
    measured = by["verified subgraph, RTL simulation (verilator)"]
    whole = next(r for r in rows if r["graph"].startswith("whole graph"))
    clock = est["clock_mhz"]
    assert int(_num(sub["nodes"])) == NODES and _num(sub["cycles"]) == round(est["totals"]["cycles"])
    assert _num(measured["cycles"]) == rtl["cycles"]
    assert int(_num(whole["nodes"])) == 34 and int(_num(whole["edges"])) == 34 + 2 * 78  # karate + self-loops
    assert _num(whole["cycles"]) > _num(sub["cycles"])
    for r in (sub, measured, whole):
        cycles, nodes = _num(r["cycles"]), _num(r["nodes"])
        assert _num(r[f"latency (µs at {clock:g} MHz)"]) == pytest.approx(cycles / clock, abs=0.051)
        assert _num(r["graphs/s"]) == pytest.approx(clock * 1e6 / cycles, abs=0.051)
        assert _num(r["nodes/s"]) == pytest.approx(nodes * clock * 1e6 / cycles, abs=0.51)
        assert _num(r["cycles/node"]) == pytest.approx(cycles / nodes, abs=0.051)


@pytest.mark.slow
def test_report_says_which_nodes_were_verified_how_many_words_and_tool_versions(flow_run):
    from lpgnas.datasets import load_dataset
    from lpgnas.graph import CSRGraph, bfs_nodes

    run, _, _ = flow_run
    text = _section((run / "report.md").read_text(), "Verification")
    data = load_dataset("karate")
    expected_ids = bfs_nodes(CSRGraph.from_edge_index(data.edge_index.numpy(), data.num_nodes), NODES)
    m = re.search(r"Verified nodes: \*\*(\d+)\*\* of (\d+) nodes of karate.*Node ids in BFS order: ([0-9, ]+)", text)
    assert m and (int(m[1]), int(m[2])) == (NODES, 34)
    assert [int(i) for i in m[3].split(",") if i.strip()] == [int(i) for i in expected_ids[:SHOWN_NODE_IDS]]
    words = next(img["words"] for img in _json(run, "hw/design.json")["images"] if img["name"] == "expected")
    csim = next(line for line in text.splitlines() if line.startswith("- C simulation"))
    rtl = next(line for line in text.splitlines() if line.startswith("- RTL simulation"))
    assert f"bit-exact, {words:,} output words compared" in csim and re.search(r"\(g\+\+ .*\d+\.\d+", csim)
    assert f"bit-exact, {words:,} output words compared" in rtl
    assert re.search(r"Verilator \d+\.\d+", rtl) and re.search(r"cocotb \d+\.\d+", rtl)


@pytest.mark.slow
def test_report_interface_ports_images_and_links(flow_run):
    run, _, _ = flow_run
    md = (run / "report.md").read_text()
    text = _section(md, "Interface")
    ports = {r["port"].strip("`"): r for r in _table(text)}
    rtl = _json(run, "hw/rtl/rtl.json")
    assert rtl["banked"]  # layer 0's input: dense features or the sparse input's feat_col / feat_val
    for arr, b in rtl["banked"].items():
        assert f"`{arr}` is split into {b['banks']} banks" in text
    for p in rtl["ports"]:
        name = re.sub(r"^(features|feat_col|feat_val)_\d+_", r"\1_<k>_", p["name"])
        assert ports[name]["direction"] == p["dir"] and int(ports[name]["width"]) == p["width"]
    for arr, b in rtl["banked"].items():
        assert ports[f"{arr}_<k>_q0"]["banks"] == (f"k = 0..{b['banks'] - 1}" if b["banks"] > 1 else "")
    images = _table(text[text.index("Host memory images"):])
    design = _json(run, "hw/design.json")
    assert [(r["image"].strip("`"), int(_num(r["words"])), int(r["width (bits)"])) for r in images] == [
        (img["name"], img["words"], img["width"]) for img in design["images"]]
    assert all(r["layout"] for r in images)
    links = re.findall(r"\[([^\]]+)\]\(([^)]+)\)", _section(md, "Files"))
    targets = {t for _, t in links}
    assert {"hw/hls/", "hw/rtl/", "hw/hls/run_hls.tcl", "build/verilator/build.log",
            "build/verilator/sim.log", "train_log.jsonl"} <= targets
    assert all((run / t).exists() for t in targets)
    page = (run / "report.html").read_text()
    assert "<a href='hw/hls/run_hls.tcl'>" in page


@pytest.mark.slow
def test_report_provenance_command_version_commit_seed_and_stage_times(flow_run):
    run, argv, _ = flow_run
    text = _section((run / "report.md").read_text(), "Provenance")
    assert f"- Command: `python -m lpgnas {' '.join(argv[3:])}`" in text
    assert f"lpgnas {__version__}, git commit " in text and re.search(r"Date: \d{4}-\d\d-\d\dT", text)
    assert "- Seed: 0" in text and "dataset=karate" in text and f"nodes={NODES}" in text
    stages = {r["stage"]: r for r in _table(text)}
    for rec_path in (run / FLOW_DIR).glob("*.json"):
        rec = json.loads(rec_path.read_text())
        if "seconds" in rec and rec_path.stem != "report":  # the report is written before its own record
            assert _num(stages[rec_path.stem]["seconds"]) == pytest.approx(rec["seconds"], abs=0.051)
    assert {"model", "estimate", "generate", "csim", "rtl"} <= set(stages)


@pytest.mark.slow
def test_flow_output_in_a_log_is_a_few_lines(flow_run):
    """Output to a file (not a terminal): per stage a line and a few progress lines, the summary; no
    progress bar redrawn per epoch, no per-epoch prints, no compiler or simulator output."""
    _, _, proc = flow_run
    lines = (proc.stdout + proc.stderr).splitlines()
    assert "\r" not in proc.stdout + proc.stderr
    assert len(lines) < 60, "\n".join(lines)
