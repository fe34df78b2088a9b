"""``lpgnas sweep report``: tables grouped by seed with mean ± std, bitwidth statistics, failed points, plots,
the README region (and that README.md's is what the committed search benchmark generates)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from lpgnas.cli import main
from lpgnas.errors import LpgnasError
from lpgnas.sweep.methods import descends_from
from lpgnas.sweep.report import BEGIN, END, groups, write_report
from lpgnas.sweep.runner import read_records
from lpgnas.sweep.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
RESULTS_README = REPO / "benchmarks" / "results" / "README.md"
BENCH = REPO / "benchmarks" / "results" / "search_bench"

ARCH = [{"attention": "gcn", "aggregation": "add", "activation": "relu", "hidden": 16, "heads": 1,
         "q_weight": 4, "q_input": 8, "q_linear": 8, "q_coef": 8, "q_aggregation": 8},
        {"attention": "gcn", "aggregation": "add", "activation": "identity", "hidden": 7, "heads": 1,
         "q_weight": 2, "q_input": 8, "q_linear": 8, "q_coef": 8, "q_aggregation": 8}]


def _record(method: str, dataset: str, seed: int, acc: float | None = None, error: str | None = None) -> dict:
    result = {} if error else {"test_accuracy": acc, "model_size_kib": 10.0 if method == "lpgnas" else 90.0,
                               "total_seconds": 60.0 + seed}
    if method == "lpgnas" and not error:
        result |= {"hardware": {"lut": 100, "dsp": 4, "bram36": 2.0}, "search_seconds": 30.0, "architecture": ARCH,
                   "descends_from": "anchor gcn"}
    return {"point": f"{method}__{dataset}__s{seed}", "method": method, "grid": 1,
            "options": {"dataset": dataset, "split": "public", "seed": seed},
            "status": "failed" if error else "ok", "exit_status": 2 if error else 0, "error": error,
            "result": result, "code": {"lpgnas": "0.1", "commit": "0123456789abcdef"}, "in_spec": True}


def _sweep(folder: Path, records: list[dict]) -> Path:
    sweep = folder / "sweep"
    sweep.mkdir()
    failed = sum(r["status"] != "ok" for r in records)
    (sweep / "results.json").write_text(json.dumps({
        "spec": "spec.toml", "spec_sha256": "ab" * 32, "updated": "2026-12-07T10:00:00+0000",
        "points_in_spec": len(records) + 1, "counts": {"ok": len(records) - failed, "failed": failed, "not_run": 1},
        "records": records}))
    return sweep


@pytest.fixture
def sweep(tmp_path) -> Path:
    return _sweep(tmp_path, [
        _record("float-gcn", "Cora", 0, 0.79), _record("lpgnas", "Cora", 0, 0.8), _record("lpgnas", "Cora", 1, 0.82),
        _record("float-gcn", "Cora", 1, error="lpgnas baseline: error: out of memory"),
        _record("lpgnas", "CiteSeer", 0, 0.7)])


def test_the_report_groups_points_by_seed_with_mean_and_std(sweep):
    paths = write_report(sweep)
    report = (sweep / "report.md").read_text()
    assert paths[0] == sweep / "report.md"
    assert "| dataset | method | runs | seeds | test acc % | model KiB | LUT | DSP | BRAM36 | search s | total s" \
        in report  # split does not vary: no column; buffer appears nowhere: no column
    rows = [line for line in report.splitlines() if line.startswith(("| Cora", "| CiteSeer"))]
    assert [row.split(" | ")[:5] for row in rows] == [
        ["| Cora", "lpgnas", "2", "0-1", "81.0 ± 1.4"],  # the search first, then the baselines
        ["| Cora", "float-gcn", "1 + 1 failed", "0", "79.0"],
        ["| CiteSeer", "lpgnas", "1", "0", "70.0"]]
    assert "0123456" in rows[0] and "0123456789" not in rows[0]  # short commits
    assert "6 points in the spec, 4 ok, 1 failed, 1 not run" in report


def test_an_option_some_points_lack_is_a_column_and_commits_are_short(tmp_path):
    plain, more = _record("lpgnas", "Cora", 0, 0.8), _record("lpgnas", "Cora", 0, 0.7)
    more["options"]["epochs"] = 5
    more["code"] = {"commit": "fedcba9876543210+dirty"}
    plain["code"] = None
    shown, gs = groups([plain, more])
    assert shown == ["epochs"] and [g.shown for g in gs] == [{"epochs": "-"}, {"epochs": "5"}]
    write_report(_sweep(tmp_path, [plain, more]))
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "| - | lpgnas | 1 | 0 | 80.0 |" in report and "| unrecorded |" in report
    assert "| 5 | lpgnas | 1 | 0 | 70.0 |" in report and "| fedcba9+dirty |" in report


def test_the_report_counts_bitwidths_operators_and_lineage(sweep):
    write_report(sweep)
    report = (sweep / "report.md").read_text()
    assert "| lpgnas | all | q_weight | 2: 3, 4: 3 |" in report
    assert "| lpgnas | layer1 | q_weight | 2: 3 |" in report
    assert "| lpgnas | all | q_bias | 8: 6 |" in report  # records before q_bias: the aggregation's bitwidth
    assert "- lpgnas, activation: relu: 3" in report
    assert "- lpgnas: anchor gcn: 3" in report


def test_failed_points_are_listed_with_their_errors(sweep):
    write_report(sweep)
    report = (sweep / "report.md").read_text()
    assert "## Failed points" in report
    assert "- float-gcn__Cora__s1: lpgnas baseline: error: out of memory" in report


def test_the_plots_are_png_files_linked_from_the_report(sweep):
    paths = write_report(sweep)
    plots = [p for p in paths if p.suffix == ".png"]
    assert sorted(p.name for p in plots) == ["accuracy_vs_model_size.png", "bitwidths.png", "run_times.png"]
    report = (sweep / "report.md").read_text()
    for p in plots:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"(plots/{p.name})" in report


def test_the_readme_region_is_rewritten_and_the_rest_kept_byte_for_byte(sweep, tmp_path):
    readme = tmp_path / "README.md"
    head, tail = "# Title\r\n\nprose ± é\n\n", "\n\nafter the table\nno newline at the end"
    readme.write_bytes(f"{head}{BEGIN}\nan old table\n{END}{tail}".encode())
    write_report(sweep, readme=readme)
    text = readme.read_bytes().decode()
    assert text.startswith(head + BEGIN + "\n") and text.endswith("\n" + END + tail)
    region = text[len(head + BEGIN):-len(END + tail)]
    assert "an old table" not in region
    assert "| dataset | method | seeds | test acc % | model KiB | LUT | DSP | BRAM36 |" in region
    assert "| Cora | lpgnas | 2 | 81.0 ± 1.4 | 10.00 ± 0.00 | 100 ± 0 | 4 ± 0 | 2.0 ± 0.0 |" in region
    first = readme.read_bytes()
    write_report(sweep, readme=readme)
    assert readme.read_bytes() == first


@pytest.mark.parametrize("content", ["# no markers\n", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n"])
def test_a_readme_without_its_markers_is_refused(sweep, tmp_path, content):
    readme = tmp_path / "README.md"
    readme.write_text(content)
    with pytest.raises(LpgnasError, match="lpgnas sweep report: begin"):
        write_report(sweep, readme=readme)
    assert readme.read_text() == content


def test_a_folder_without_results_is_refused(tmp_path, capsys):
    with pytest.raises(LpgnasError, match="results.json: no such file"):
        write_report(tmp_path)
    (tmp_path / "results.json").write_text('{"rows": []}')
    with pytest.raises(LpgnasError, match="not the results of an lpgnas sweep"):
        write_report(tmp_path)
    assert main(["sweep", "report", str(tmp_path / "nothing")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_command_writes_the_report(sweep, capsys):
    assert main(["sweep", "report", str(sweep)]) == 0
    assert f"wrote {sweep / 'report.md'}" in capsys.readouterr().out


def test_readme_results_are_generated_from_the_committed_search_benchmark(tmp_path):
    """benchmarks/results/README.md's region is what ``lpgnas sweep report benchmarks/results/search_bench
    --readme benchmarks/results/README.md``
    writes, so the figures cannot drift from the results."""
    sweep = tmp_path / "search_bench"
    sweep.mkdir()
    shutil.copy(BENCH / "results.json", sweep / "results.json")
    readme = tmp_path / "README.md"
    shutil.copy(RESULTS_README, readme)
    write_report(sweep, readme=readme)
    assert readme.read_text() == RESULTS_README.read_text()
    assert (sweep / "report.md").read_text() == (BENCH / "report.md").read_text()


def test_the_committed_search_benchmark_is_a_sweep_of_its_spec():
    """Every record of benchmarks/results/search_bench/ is a point of benchmarks/specs/search_bench.toml with
    its method and options, and results.json holds exactly those records, for the spec as it is."""
    spec = load_spec(REPO / "benchmarks" / "specs" / "search_bench.toml")
    points = {p.id: p for p in spec.points}
    records = read_records(BENCH)
    doc = json.loads((BENCH / "results.json").read_text())
    assert doc["spec_sha256"] == spec.sha256 and doc["points_in_spec"] == len(points)
    assert [r["point"] for r in doc["records"]] == sorted(records, key=list(points).index)
    for point, r in records.items():
        assert (r["method"], r["options"]) == (points[point].method, points[point].options), point
    ok = sum(r["status"] == "ok" for r in records.values())
    assert doc["counts"] == {"ok": ok, "failed": len(records) - ok, "not_run": len(points) - len(records)}


def test_lineage_follows_the_local_search_back():
    """``descends_from``: a draw or an anchor is its own root; a local-search design descends from its
    parent's root, through any number of rounds."""
    rec = lambda i, origin, att="gcn", parent=None: {"index": i, "origin": origin, "parent": parent,  # noqa: E731
                                                     "architecture": [{"attention": att}]}
    screened = [rec(0, "draw", "const"), rec(1, "anchor", "gcn"), rec(2, "anchor", "gat"),
                rec(3, "neighbour", parent=1), rec(4, "combined", parent=1), rec(5, "neighbour", parent=4),
                rec(6, "neighbour", parent=2), rec(7, "neighbour", parent=0)]
    assert [descends_from(screened, i) for i in range(8)] == \
        ["draw", "anchor gcn", "anchor gat", "anchor gcn", "anchor gcn", "anchor gcn", "anchor gat", "draw"]


# ---- fronts ------------------------------------------------------------------------------------------------------

def _front_point(latency: float, acc: float, wbits: tuple[int, int] = (4, 2)) -> dict:
    return {"latency_us": latency, "test_accuracy": acc, "val_accuracy": acc, "model_size_kib": 5.0,
            "weight_bits": list(wbits), "act_bits": [8, 8]}


def _fronts_record(method: str, dataset: str, seed: int, front: list[dict] | None = None,
                   latency: float | None = None, acc: float | None = None) -> dict:
    r = _record(method, dataset, seed, acc if acc is not None else max(p["test_accuracy"] for p in front))
    r["options"]["device"] = "xc7z020"
    if front is not None:
        r["result"]["latency_front"] = front
    else:
        r["result"]["accelerator"] = {"fits": True, "latency_us": latency}
    return r


def _fronts_sweep(folder: Path, beaten: bool) -> Path:
    records = [
        _fronts_record("lpgnas", "Cora", 0, [_front_point(20.0, 0.78, (2, 2)), _front_point(50.0, 0.81)]),
        _fronts_record("lpgnas", "Cora", 1, [_front_point(25.0, 0.79, (2, 2)), _front_point(60.0, 0.82, (8, 4))]),
        _fronts_record("lpgnas-local", "Cora", 0, [_front_point(100.0, 0.81, (8, 8))]),
        # random search: a baseline with a front
        _fronts_record("random-search", "Cora", 0, [_front_point(30.0, 0.77), _front_point(90.0, 0.82)]),
        _fronts_record("gcn-w8a8", "Cora", 0, latency=100.0, acc=0.80),
        _fronts_record("gcn-w8a8", "Cora", 1, latency=100.0, acc=0.82),
        _fronts_record("gcn-w1a8", "Cora", 0, latency=10.0, acc=0.60),
        _fronts_record("gcn-w1a8", "Cora", 1, latency=10.0, acc=0.62),
        _fronts_record("float-gcn", "Cora", 0, latency=None, acc=0.81),  # no accelerator: not on the axes
        _fronts_record("gcn-w4a8", "CiteSeer", 0, latency=40.0, acc=0.70),  # a row with a baseline only
    ]
    next(r for r in records if r["method"] == "float-gcn")["result"].pop("accelerator")
    if beaten:  # faster and more accurate than every front point
        records += [_fronts_record("gat-w4a8", "Cora", s, latency=15.0, acc=0.90) for s in (0, 1)]
    return _sweep(folder, records)


def test_the_fronts_section_measures_hypervolume_speedup_and_bitwidths(tmp_path):
    from lpgnas.sweep import fronts

    sweep = _fronts_sweep(tmp_path, beaten=False)
    doc = json.loads((sweep / "results.json").read_text())
    rows = fronts.rows(doc["records"], sweep)
    assert [r.key for r in rows] == [("Cora", "public", "xc7z020"), ("CiteSeer", "public", "xc7z020")]
    cora = rows[0]
    assert set(cora.fronts) == {"lpgnas", "lpgnas-local", "random-search"}
    assert set(cora.baselines) == {"gcn-w8a8", "gcn-w1a8"}
    ref = cora.reference()  # the largest latency x 1.1, the lowest accuracy - 1 pt
    assert ref == pytest.approx((math.log10(110.0), 0.59))
    hv = fronts.hypervolumes(cora)
    # seed 0's front: 0.78 over [log 20, log 50), 0.81 over [log 50, log 110), heights above 0.59
    seed0 = 100 * ((math.log10(50) - math.log10(20)) * 0.19 + (math.log10(110) - math.log10(50)) * 0.22)
    assert hv["lpgnas"][0] == pytest.approx(seed0)
    w1 = lambda a: 100 * (math.log10(100) - 1) * (a - 0.59)  # noqa: E731
    union = [w1(0.60) + 100 * (math.log10(110) - 2) * (0.80 - 0.59),
             w1(0.62) + 100 * (math.log10(110) - 2) * (0.82 - 0.59)]
    assert hv["uniform baselines"] == pytest.approx(union)
    sp = fronts.speedups(cora)  # W8A8: 100 us at 81 %: 80 % reached at 50 us (seed 0) and 60 us (seed 1)
    assert sp["lpgnas"][0] == pytest.approx([2.0, 100 / 60]) and sp["lpgnas"][1] == 2
    assert sp["lpgnas-local"] == ([1.0], 1)
    checks = fronts.dominance(cora, "lpgnas", cora.fronts["lpgnas"])
    assert not any(c["beats_front"] for c in checks)
    w1_check = next(c for c in checks if c["baseline"] == "gcn-w1a8")
    assert w1_check["faster_than_front"] and w1_check["front_accuracy"] == pytest.approx(0.785)
    bands = fronts.bit_bands(cora)
    assert bands[0][:5] == ["lpgnas", "10-100", "4", "4.0 / 2.5", "8.0 / 8.0"]
    assert bands[1][:4] == ["lpgnas-local", "100-1000", "1", "8.0 / 8.0"]
    write_report(sweep)
    report = (sweep / "report.md").read_text()
    assert "## Fronts: accuracy against latency" in report and "![fronts](plots/fronts_latency.png)" in report
    assert (sweep / "plots" / "fronts_latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "### Cora, public, xc7z020" in report and "### CiteSeer, public, xc7z020" in report
    assert "| lpgnas | 2 of 2 | 1.83 ± 0.24x |" in report
    assert "no baseline point beats a front (by more than the seeds' std)." in report
    assert "| lpgnas | gcn-w1a8 | 10.0 | 61.0 ± 1.4 | 78.5 ± 0.7 | faster, less accurate |" in report
    assert "| lpgnas | gcn-w8a8 | 100.0 | 81.0 ± 1.4 | 81.5 ± 0.7 | dominated |" in report
    assert "| lpgnas | 10-100 | 4 | 4.0 / 2.5 | 8.0 / 8.0 | W2/2 A8/8: 2, W4/2 A8/8: 1, W8/4 A8/8: 1 |" in report


def test_the_dominance_check_flags_a_baseline_that_beats_the_front(tmp_path):
    from lpgnas.sweep import fronts

    sweep = _fronts_sweep(tmp_path, beaten=True)
    write_report(sweep)
    report = (sweep / "report.md").read_text()
    assert "**3 baseline point(s) beat a front**" in report  # gat-w4a8 against each method's fronts
    assert "| lpgnas | gat-w4a8 | 15.0 | 90.0 ± 0.0 | 78.5 ± 0.7 | **beats the front** (faster than the front) |" \
        in report
    cora = fronts.rows(json.loads((sweep / "results.json").read_text())["records"])[0]
    assert [c["baseline"] for c in fronts.dominance(cora, "lpgnas", cora.fronts["lpgnas"]) if c["beats_front"]] \
        == ["gat-w4a8"]


def test_the_latency_front_of_a_run_is_read_from_its_pareto_json(tmp_path):
    from lpgnas.sweep.methods import latency_front

    layer = lambda w, a: {"q_weight": w, "q_input": a}  # noqa: E731
    point = lambda k, lat, w: {"point": k, "latency_us": lat, "test_accuracy_golden": 0.8, "val_accuracy": 0.79,  # noqa: E731
                               "model_size_kib": 3.0, "architecture": [layer(w, 8), layer(2, 4)]}
    (tmp_path / "pareto.json").write_text(json.dumps({
        "points": [point(0, 10.0, 4), point(1, 20.0, 8), point(2, 30.0, 1)],
        "fronts": {"latency": [0, 2], "size": [2, 1]}}))
    assert latency_front(tmp_path) == [
        {"latency_us": 10.0, "test_accuracy": 0.8, "val_accuracy": 0.79, "model_size_kib": 3.0,
         "weight_bits": [4, 2], "act_bits": [8, 4]},
        {"latency_us": 30.0, "test_accuracy": 0.8, "val_accuracy": 0.79, "model_size_kib": 3.0,
         "weight_bits": [1, 2], "act_bits": [8, 4]}]
    assert latency_front(tmp_path / "missing") == []
