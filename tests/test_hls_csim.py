"""The generated HLS C++ (compiled with g++) against the golden integer model, bit for bit.

The matrix covers every operator of the registry (lpgnas.operators: attention x aggregation x
activation) and the formats (weight bits x activation bits) with a pairwise covering design: every pair
of values of any two axes occurs in some case (57 cases instead of the 2520 of the full product). The
axes are read from the registry, so a new operator joins the matrix by itself. Graphs are random
(isolated nodes, self-loops), and so are the layer widths and the parallelism, so tile remainders occur.
A subset holding every attention x aggregation pair (and so every value of every axis) always runs; the
rest of the design is marked slow. Multi-head layers (1..8 heads, concatenated and averaged) are checked
for gat and, with 2..4 heads, for every attention. Mutation tests show that a wrong kernel (rounding,
saturation, the softmax's reciprocal or exp table), or a lying testbench, is reported as not bit-exact.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import jinja2
import numpy as np
import pytest

from lpgnas.errors import FormatError, IRValidationError, LpgnasError, ToolMissingError
from lpgnas.golden import run_model
from lpgnas.graph import CSRGraph
from lpgnas.hls_templates.env import make_env
from lpgnas.hls_templates.hls_writer import HLS_ACTIVATIONS, HLS_AGGREGATIONS, HLS_ATTENTIONS, hls_context, write_hls
from lpgnas.hls_templates.images import graph_images, io_images
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import ModelIR
from lpgnas.operators import ACTIVATIONS, AGGREGATIONS, ATTENTIONS
from lpgnas.sim.csim import run_csim
from lpgnas.testing import random_features, random_graph, random_ir

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed (apt-get install g++)")

#: tests compile at -O1 (faster builds, same code); `lpgnas verify --csim` uses -O2
OPT = "-O1"

WBITS = (1, 2, 4, 8, 16)
ABITS = (4, 8, 16)
AXES: tuple[tuple, ...] = (tuple(ATTENTIONS), tuple(AGGREGATIONS), tuple(ACTIVATIONS), WBITS, ABITS)


def _pair(a: int, va: object, b: int, vb: object) -> tuple:
    """A pair of (axis, value) in canonical order (lower axis first)."""
    return (a, va, b, vb) if a < b else (b, vb, a, va)


def covering_design(axes: Sequence[Sequence]) -> list[tuple]:
    """Cases (one value per axis) such that every pair of values of any two axes occurs in one of them.

    Greedy and deterministic: each new case starts from the first uncovered pair and fills the other axes
    with the value covering most uncovered pairs (ties: the value used least so far, then the first)."""
    k = len(axes)
    uncovered = {(a, va, b, vb) for a, b in itertools.combinations(range(k), 2) for va in axes[a] for vb in axes[b]}
    used = [dict.fromkeys(axis, 0) for axis in axes]
    cases: list[tuple] = []
    while uncovered:
        a, va, b, vb = min(uncovered, key=lambda p: (p[0], axes[p[0]].index(p[1]), p[2], axes[p[2]].index(p[3])))
        case: dict[int, object] = {a: va, b: vb}
        for c in range(k):
            if c in case:
                continue
            scores = [
                (sum(_pair(c, v, d, w) in uncovered for d, w in case.items()), -used[c][v], -i)
                for i, v in enumerate(axes[c])
            ]
            case[c] = axes[c][-max(scores)[2]]
        full = tuple(case[c] for c in range(k))
        for c, v in enumerate(full):
            used[c][v] += 1
        cases.append(full)
        uncovered -= {(a, full[a], b, full[b]) for a, b in itertools.combinations(range(k), 2)}
    return cases


MATRIX = covering_design(AXES)



def _representative(matrix: list[tuple]) -> set[tuple]:
    """One case per attention x aggregation pair, chosen so that together they hold every value of the
    other axes too (greedy: the case adding most values not yet held, the first one on ties)."""
    chosen: set[tuple] = set()
    held: set[tuple] = set()
    for pair in itertools.product(*AXES[:2]):
        cases = [c for c in matrix if c[:2] == pair]
        best = max(cases, key=lambda c: len({(i, v) for i, v in enumerate(c)} - held))
        chosen.add(best)
        held |= set(enumerate(best))
    return chosen


# always run (checked by test_matrix_covers_every_pair)
REPRESENTATIVE = _representative(MATRIX)


def _case_id(case: tuple) -> str:
    att, agg, act, wb, ab = case
    return f"{att}-{agg}-{act}-w{wb}-a{ab}"


def _random_hw(rng: np.random.Generator, ir: ModelIR, graph: CSRGraph) -> HardwareConfig:
    """Random parallelism (1..4, not dividing the widths in general) and a little spare capacity."""
    layers = [
        LayerHW(
            p_in=int(rng.integers(1, min(layer.in_features, 4) + 1)),
            p_out=int(rng.integers(1, min(layer.out_features, 4) + 1)),
            p_agg=int(rng.integers(1, 6)),
        )
        for layer in ir.layers
    ]
    extra = int(rng.integers(0, 4))
    return HardwareConfig(max_nodes=graph.num_nodes + extra, max_edges=graph.num_edges + 2 * extra, layers=layers)


def make_hw_dir(
    out: Path, ir: ModelIR, graph: CSRGraph, x: np.ndarray, hw: HardwareConfig
) -> Path:
    """A hardware folder with what csim reads: ``data/*.txt`` (the shared memory images) and ``hls/``."""
    (out / "data").mkdir(parents=True, exist_ok=True)
    hw.save(out / "hw_config.json")
    for img in graph_images(ir, graph) + list(io_images(ir, graph, x)):
        img.write_txt(out / "data")
    write_hls(ir, hw, out / "hls")
    return out


def build_case(out: Path, seed: int, **ir_kw) -> tuple[Path, ModelIR, CSRGraph, np.ndarray]:
    """Random IR (random widths), random graph of 10..64 nodes, random features and parallelism.

    Draws again (up to 10 times) while every golden output is the same code: with 4-bit formats a random
    model can collapse to a constant, which would make the comparison weak.
    """
    for attempt in range(10):
        rng = np.random.default_rng([seed, attempt])
        kw = {
            "in_features": int(rng.integers(3, 13)),
            "hidden": int(rng.integers(3, 13)),
            "num_classes": int(rng.integers(2, 6)),
        } | ir_kw
        ir = random_ir(rng, **kw)
        graph = random_graph(rng, int(rng.integers(10, 65)))
        x = random_features(rng, ir, graph.num_nodes)
        if len(np.unique(run_model(ir, graph, x))) > 1:
            break
    else:
        raise AssertionError(f"seed {seed}: every random model of {ir_kw} has constant outputs")
    return make_hw_dir(out, ir, graph, x, _random_hw(rng, ir, graph)), ir, graph, x


def assert_bit_exact(hw_dir: Path, ir: ModelIR, graph: CSRGraph, x: np.ndarray) -> dict:
    result = run_csim(hw_dir, opt=OPT)
    golden = run_model(ir, graph, x).ravel().tolist()
    assert result["outputs"] == golden, result["log"]
    assert result["bit_exact"] and result["mismatches"] == 0 and result["tb_exit"] == 0
    return result


# ---- (a) the matrix ----------------------------------------------------------------------------------

@needs_gxx
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=_case_id(c), marks=() if c in REPRESENTATIVE else pytest.mark.slow) for c in MATRIX],
)
def test_csim_matches_golden(tmp_path: Path, case: tuple) -> None:
    att, agg, act, wb, ab = case
    seed = MATRIX.index(case)
    hw_dir, ir, graph, x = build_case(tmp_path / "hw", seed, attention=att, aggregation=agg, activation=act,
                                      wbits=wb, abits=ab)
    assert_bit_exact(hw_dir, ir, graph, x)


def test_matrix_covers_every_pair() -> None:
    """The design holds every pair of values of any two axes; the always-run subset every attention x
    aggregation pair and every value of every axis; the backend has an entry for every operator."""
    for a, b in itertools.combinations(range(len(AXES)), 2):
        assert {(c[a], c[b]) for c in MATRIX} == set(itertools.product(AXES[a], AXES[b])), (a, b)
    assert {c[:2] for c in REPRESENTATIVE} == set(itertools.product(*AXES[:2]))
    for i, axis in enumerate(AXES):
        assert {c[i] for c in REPRESENTATIVE} == set(axis), i
    for registry, table in ((ATTENTIONS, HLS_ATTENTIONS), (AGGREGATIONS, HLS_AGGREGATIONS),
                            (ACTIVATIONS, HLS_ACTIVATIONS)):
        assert set(table) == set(registry)


#: heads x concatenated/averaged for every attention: 2..4 heads, 3 layers, the aggregation cycling so that
#: every (aggregation, concat) pair occurs
HEAD_CASES = [(att, concat) for att in ATTENTIONS for concat in (False, True)]


@needs_gxx
@pytest.mark.parametrize("att, concat", HEAD_CASES, ids=[f"{a}-{'concat' if c else 'mean'}" for a, c in HEAD_CASES])
def test_csim_heads(tmp_path: Path, att: str, concat: bool) -> None:
    i = HEAD_CASES.index((att, concat))
    agg, act = tuple(AGGREGATIONS)[i % len(AGGREGATIONS)], tuple(ACTIVATIONS)[i % len(ACTIVATIONS)]
    wbits = WBITS[i % len(WBITS)]
    hw_dir, ir, graph, x = build_case(tmp_path / "hw", 1000 + i, attention=att, aggregation=agg, activation=act,
                                      heads=2 + i % 3, concat=concat, wbits=wbits, abits=8, num_layers=3)
    assert ir.layers[0].heads > 1 and ir.layers[0].concat == concat
    assert_bit_exact(hw_dir, ir, graph, x)


#: gat with 1..8 heads, concatenated and averaged, at W8A8 (add, max) ; 2 and 8 heads always run
GAT_HEADS = [(heads, concat) for heads in range(1, 9) for concat in (True, False)]


@needs_gxx
@pytest.mark.parametrize(
    "heads, concat",
    [pytest.param(h, c, id=f"h{h}-{'concat' if c else 'mean'}", marks=() if h in (2, 8) else pytest.mark.slow)
     for h, c in GAT_HEADS],
)
def test_csim_gat_heads(tmp_path: Path, heads: int, concat: bool) -> None:
    agg = "max" if heads % 2 else "add"
    hw_dir, ir, graph, x = build_case(tmp_path / "hw", 2000 + GAT_HEADS.index((heads, concat)), attention="gat",
                                      aggregation=agg, activation="elu", heads=heads, concat=concat, wbits=8,
                                      abits=8)
    assert ir.layers[0].heads == heads and ir.layers[0].concat == concat
    assert_bit_exact(hw_dir, ir, graph, x)


@needs_gxx
def test_csim_without_bias_and_single_layer(tmp_path: Path) -> None:
    hw_dir, ir, graph, x = build_case(tmp_path / "hw", 7, num_layers=1, bias=False, aggregation="mean")
    assert_bit_exact(hw_dir, ir, graph, x)


@needs_gxx
def test_generate_design_folder_runs_csim_at_O2(tmp_path: Path) -> None:
    """The whole hardware folder as ``lpgnas generate`` writes it, checked with the default flags."""
    from lpgnas.hls_templates.generate import generate_design

    rng = np.random.default_rng(11)
    ir = random_ir(rng, attention="gcn", aggregation="mean", wbits=2, abits=8, heads=2, concat=False)
    graph = random_graph(rng, 40)
    x = random_features(rng, ir, graph.num_nodes)
    hw_dir = generate_design(ir, graph, x, tmp_path / "HW")
    result = run_csim(hw_dir)
    assert result["bit_exact"] and result["outputs"] == run_model(ir, graph, x).ravel().tolist()
    assert (hw_dir / "csim" / "outputs.txt").is_file()


def _ap_types_dir() -> Path | None:
    """Xilinx ap_types headers: $LPGNAS_AP_TYPES, else those in an installed hls4ml, else None."""
    if os.environ.get("LPGNAS_AP_TYPES"):
        return Path(os.environ["LPGNAS_AP_TYPES"])
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "templates" / "vivado" / "ap_types"
    return path if path.is_dir() else None


#: the ap_int type path: a multi-head GAT always, and one case per other attention (slow)
AP_INT_CASES = [(att, tuple(AGGREGATIONS)[i % len(AGGREGATIONS)], tuple(ACTIVATIONS)[(3 * i + 2) % len(ACTIVATIONS)])
                for i, att in enumerate(ATTENTIONS)]


@needs_gxx
@pytest.mark.skipif(_ap_types_dir() is None, reason="no ap_types headers (set LPGNAS_AP_TYPES or install hls4ml)")
@pytest.mark.parametrize(
    "att, agg, act",
    [pytest.param(*c, id="-".join(c), marks=() if c[0] == "gat" else pytest.mark.slow) for c in AP_INT_CASES],
)
def test_csim_with_vitis_ap_int_types(tmp_path: Path, att: str, agg: str, act: str) -> None:
    """The type path Vitis HLS compiles (ap_int widths from the writer) computes the same integers."""
    i = AP_INT_CASES.index((att, agg, act))
    hw_dir, ir, graph, x = build_case(tmp_path / "hw", 3000 + i, attention=att, aggregation=agg, activation=act,
                                      wbits=WBITS[i % len(WBITS)], abits=8, heads=2 + i % 2, concat=i % 3 == 0)
    result = run_csim(hw_dir, opt=OPT, ap_types=_ap_types_dir())
    assert result["bit_exact"] and result["outputs"] == run_model(ir, graph, x).ravel().tolist()


# ---- (b) wrong designs are caught ---------------------------------------------------------------------

ROUNDING = "(acc + (T(1) << (shift - 1))) >> shift"
SATURATION = "return acc < qmin ? qmin : acc > qmax ? qmax : int64_t(acc);"
TB_VERDICT = "return mismatches ? 1 : 0;"


@pytest.fixture(scope="module")
def good_design(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelIR, CSRGraph, np.ndarray]:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    # seed 44: both the rounding offset and the saturation change outputs of this design
    case = build_case(tmp_path_factory.mktemp("good") / "hw", 44, attention="gcn", aggregation="mean", abits=8)
    assert_bit_exact(*case)
    return case


def _mutate(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not found in {path.name}: update the mutation test"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    "mutations",
    [
        pytest.param([("hls/lpgnas_int.h", ROUNDING, "acc >> shift")], id="no-rounding-offset"),
        pytest.param([("hls/lpgnas_int.h", SATURATION, "return acc;")], id="no-saturation"),
        pytest.param([("hls/lpgnas_int.h", ROUNDING, "acc >> shift"), ("hls/tb.cpp", TB_VERDICT, "return 0;")],
                     id="wrong-kernel-lying-testbench"),
    ],
)
def test_wrong_kernel_is_not_bit_exact(tmp_path: Path, good_design: tuple, mutations: list) -> None:
    hw_dir = tmp_path / "hw"
    shutil.copytree(good_design[0], hw_dir)
    for rel, old, new in mutations:
        _mutate(hw_dir / rel, old, new)
    result = run_csim(hw_dir, opt=OPT)
    assert not result["bit_exact"]
    assert result["mismatches"] > 0
    lying = any(rel == "hls/tb.cpp" for rel, _, _ in mutations)
    assert result["tb_exit"] == (0 if lying else 1)


#: the softmax of the attention unit: the reciprocal's divisor, the exp table's index, the running max
#: (the reciprocal's rounding alone hardly ever moves an 8-bit coefficient: r has 16 fractional bits)
RECIPROCAL = "r = num / den;"
EXP_INDEX = "int64_t(score[e - e_begin]) - m,"
RUNNING_MAX = "m = s > m ? s : m;"


@pytest.fixture(scope="module")
def good_gat_design(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelIR, CSRGraph, np.ndarray]:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    # seed 45: each softmax mutation below changes outputs of this design
    case = build_case(tmp_path_factory.mktemp("good_gat") / "hw", 45, attention="gat", aggregation="add",
                      heads=2, abits=8)
    assert_bit_exact(*case)
    return case


@pytest.mark.parametrize(
    "old, new",
    [
        pytest.param(RECIPROCAL, "r = num / (den + 2);", id="reciprocal-of-sum-plus-one"),
        pytest.param(EXP_INDEX, "int64_t(score[e - e_begin]) - m - 1,", id="exp-table-off-by-one"),
        pytest.param(RUNNING_MAX, "m = s < m ? s : m;", id="running-min-not-max"),
    ],
)
def test_wrong_softmax_is_not_bit_exact(tmp_path: Path, good_gat_design: tuple, old: str, new: str) -> None:
    hw_dir = tmp_path / "hw"
    shutil.copytree(good_gat_design[0], hw_dir)
    _mutate(hw_dir / "hls" / "kernel.cpp", old, new)
    result = run_csim(hw_dir, opt=OPT)
    assert not result["bit_exact"] and result["mismatches"] > 0 and result["tb_exit"] == 1


def test_one_wrong_expected_word_is_counted(tmp_path: Path, good_design: tuple) -> None:
    hw_dir = tmp_path / "hw"
    shutil.copytree(good_design[0], hw_dir)
    path = hw_dir / "data" / "expected.txt"
    words = path.read_text().split()
    words[3] = str(int(words[3]) + 1)
    path.write_text("\n".join(words) + "\n")
    result = run_csim(hw_dir, opt=OPT)
    assert (result["bit_exact"], result["mismatches"], result["tb_exit"]) == (False, 1, 1)
    assert "MISMATCH node 0 class" in result["log"] or "MISMATCH node" in result["log"]


def test_oversized_graph_is_a_clear_error(tmp_path: Path, good_design: tuple) -> None:
    hw_dir = tmp_path / "hw"
    shutil.copytree(good_design[0], hw_dir)
    n = HardwareConfig.load(hw_dir / "hw_config.json").max_nodes
    (hw_dir / "data" / "row_ptr.txt").write_text("\n".join(str(i) for i in range(n + 2)) + "\n")
    with pytest.raises(LpgnasError, match="capacity"):
        run_csim(hw_dir, opt=OPT)


def test_missing_compiler_is_tool_missing(tmp_path: Path, good_design: tuple) -> None:
    with pytest.raises(ToolMissingError, match="g\\+\\+"):
        run_csim(good_design[0], cxx="no-such-compiler-lpgnas", build_dir=tmp_path)


# ---- generation-time checks: widths, identifiers, templates, pragmas --------------------------------

def test_too_wide_formats_are_refused(tmp_path: Path) -> None:
    """Accumulators up to 126 bits are built (tests/test_accumulators.py); a bias far coarser than the
    accumulator (binary point -64) needs more once aligned."""
    from lpgnas.numfmt import fix

    rng = np.random.default_rng(3)
    ir = random_ir(rng, wbits=32, abits=32)
    ir.layers[0].formats["bias"] = fix(32, -64)
    graph = random_graph(rng, 12)
    hw = _random_hw(rng, ir, graph)
    with pytest.raises(FormatError, match="too wide for the generated C\\+\\+.*aggregation accumulator needs"):
        write_hls(ir, hw, tmp_path / "hls")
    assert not (tmp_path / "hls").exists()


def test_wide_attention_scores_get_wide_accumulators(tmp_path: Path) -> None:
    """Score accumulators beyond 62 bits (refused before issue 32) are declared with their width."""
    from lpgnas.golden import score_accumulator_bits
    from lpgnas.numfmt import fix

    rng = np.random.default_rng(4)
    ir = random_ir(rng, attention="cos", wbits=4, abits=8)
    fm = ir.layers[0].formats
    fm["linear"], fm["att_weight"], fm["score"] = fix(32, 20), fix(32, 20), fix(32, 24)
    bits = score_accumulator_bits(ir.layers[0])
    assert bits > 62
    hw = HardwareConfig(max_nodes=16, max_edges=64, layers=[LayerHW(1, 1, 1), LayerHW(1, 1, 1)])
    write_hls(ir, hw, tmp_path / "hls")
    assert f"lp_acc<{bits}> dot = 0;" in (tmp_path / "hls" / "kernel.cpp").read_text()


@needs_gxx
def test_odd_layer_names_render_to_valid_identifiers(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ir = random_ir(rng, attention="gcn", aggregation="mean", num_layers=3)
    for layer, name in zip(ir.layers, ["for", "schicht_\u00e4", "_9lives"], strict=True):
        layer.name = name  # valid IR names (Python identifiers) but a C++ keyword and a non-ASCII letter
    ir.validate()
    graph = random_graph(rng, 20)
    x = random_features(rng, ir, graph.num_nodes)
    hw_dir = make_hw_dir(tmp_path / "hw", ir, graph, x, _random_hw(rng, ir, graph))
    kernel = (hw_dir / "hls" / "kernel.cpp").read_text()
    assert "schicht___coef" in kernel and "for_transform" in kernel and "\u00e4" not in kernel
    # one name per tensor artefact (lpgnas.names.tensor_name): the data file is named like the port
    assert (hw_dir / "data" / "schicht___coef.txt").is_file()
    assert not any("\u00e4" in p.name for p in hw_dir.rglob("*"))
    assert_bit_exact(hw_dir, ir, graph, x)


def test_clashing_identifiers_are_refused() -> None:
    rng = np.random.default_rng(6)
    ir = random_ir(rng)
    ir.layers[0].name, ir.layers[1].name = "a\u00e4", "a\u00f6"
    with pytest.raises(IRValidationError, match=r"layers\[1\]\.name: 'a\u00f6' gives hardware names that clash"):
        ir.validate()
    hw = HardwareConfig(max_nodes=16, max_edges=64, layers=[LayerHW(1, 1, 1), LayerHW(1, 1, 1)])
    with pytest.raises(LpgnasError, match="clash with those of layers"):  # an IR built without validate()
        hls_context(ir, hw)


def test_templates_are_strict_about_undefined_names() -> None:
    rng = np.random.default_rng(8)
    ir = random_ir(rng)
    hw = HardwareConfig(max_nodes=16, max_edges=64, layers=[LayerHW(2, 2, 2), LayerHW(2, 2, 2)])
    context = hls_context(ir, hw)
    env = make_env("hls")
    without_layers = {k: v for k, v in context.items() if k != "layers"}
    for name in ("kernel.cpp.j2", "kernel.h.j2", "weights.h.j2", "tb.cpp.j2", "run_hls.tcl.j2"):
        env.get_template(name).render(**context)  # the writer's context is complete
        if name != "run_hls.tcl.j2":
            with pytest.raises(jinja2.UndefinedError):
                env.get_template(name).render(**without_layers)
    no_shift = [{k: v for k, v in L.items() if k != "lin_bits"} for L in context["layers"]]
    with pytest.raises(jinja2.UndefinedError, match="lin_bits"):
        env.get_template("kernel.cpp.j2").render(**dict(context, layers=no_shift))


def test_pragmas_and_tcl_follow_the_hardware_config(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    ir = random_ir(rng, in_features=12, hidden=9, heads=2, concat=False)
    hw = HardwareConfig(device="xc7z020", clock_mhz=200.0, max_nodes=32, max_edges=128,
                        layers=[LayerHW(p_in=3, p_out=2, p_agg=5), LayerHW(p_in=4, p_out=1, p_agg=1)])
    files = {p.name: p for p in write_hls(ir, hw, tmp_path / "hls")}
    assert set(files) == {"lpgnas_int.h", "kernel.h", "kernel.cpp", "weights.h", "tb.cpp", "run_hls.tcl"}
    kernel = files["kernel.cpp"].read_text()
    for pragma in (
        "ARRAY_PARTITION variable=layer0_weight cyclic factor=3 dim=2",
        "ARRAY_PARTITION variable=layer0_weight cyclic factor=2 dim=3",
        "ARRAY_PARTITION variable=layer0_lin complete dim=1",
        "ARRAY_PARTITION variable=layer0_lin cyclic factor=5 dim=3",
        "ARRAY_PARTITION variable=layer0_y cyclic factor=4 dim=2",
        "ARRAY_PARTITION variable=layer1_weight cyclic factor=4 dim=2",
        "INTERFACE ap_ctrl_hs port=return",
        "INTERFACE ap_memory port=layer0_coef",
        "INTERFACE ap_memory port=outputs",
        "PIPELINE II=1",
    ):
        assert f"#pragma HLS {pragma}" in kernel, pragma
    assert "layer1_weight cyclic factor=1" not in kernel
    tcl = files["run_hls.tcl"].read_text()
    for line in ("set_top lpgnas_top", "set_part xc7z020clg400-1", "create_clock -period 5.0", "csim_design",
                 "csynth_design", "cosim_design", "export_design"):
        assert line in tcl


def test_multiplier_mapping_binds_the_product(tmp_path: Path) -> None:
    """``mult`` "lut" / "dsp" bind a fix-weight layer's product to fabric / a DSP (BIND_OP); "auto" leaves it
    to the tool; the kernel stays bit-exact in C simulation."""
    rng = np.random.default_rng(21)
    ir = random_ir(rng, wbits=8, abits=8, in_features=7, hidden=5, num_classes=3)
    graph = random_graph(rng, 20)
    x = random_features(rng, ir, graph.num_nodes)
    for maps in (("lut", "dsp"), ("auto", "lut")):
        hw = HardwareConfig(max_nodes=20, max_edges=graph.num_edges,
                            layers=[LayerHW(2, 2, 2, m) for m in maps])
        d = make_hw_dir(tmp_path / "_".join(maps), ir, graph, x, hw)
        kernel = (d / "hls" / "kernel.cpp").read_text()
        for i, m in enumerate(maps):
            body = kernel.split(f"layer{i}_mul(", 1)[1].split("}", 1)[0]
            impl = {"lut": "fabric", "dsp": "dsp"}.get(m)
            assert ("#pragma HLS BIND_OP variable=p op=mul impl=" + str(impl) in body) == (impl is not None), m
            assert ("BIND_OP" in body) == (impl is not None)
        assert_bit_exact(d, ir, graph, x)


def test_attention_unit_pragmas_and_ports(tmp_path: Path) -> None:
    """Softmax layers: no coefficient port (the kernel computes them), tables bound to ROMs, the attention
    loops pipelined, attention vectors in weights.h banked like the lanes reading them."""
    rng = np.random.default_rng(12)
    ir = random_ir(rng, attention="gene-linear", aggregation="max", activation="softplus", in_features=6, hidden=9,
                   heads=3, concat=False)
    hw = HardwareConfig(max_nodes=32, max_edges=128, layers=[LayerHW(p_in=2, p_out=3, p_agg=3), LayerHW(2, 2, 2)])
    files = {p.name: p for p in write_hls(ir, hw, tmp_path / "hls")}
    kernel, weights = files["kernel.cpp"].read_text(), files["weights.h"].read_text()
    for pragma in (
        "BIND_STORAGE variable=layer0_exp_table type=rom_1p",
        "BIND_STORAGE variable=layer0_tanh_table type=rom_np",  # 3 lanes look up tanh per cycle
        "BIND_STORAGE variable=layer1_tanh_table type=rom_2p",
        "BIND_STORAGE variable=layer0_act_table type=rom_np",
        "ARRAY_PARTITION variable=layer0_att_gene cyclic factor=3 dim=2",
        "ARRAY_PARTITION variable=layer0_att_coef complete dim=1",
    ):
        assert f"#pragma HLS {pragma}" in kernel, pragma
    attention = kernel[kernel.index("static void layer0_attention"):kernel.index("static void layer0_aggregate")]
    for loop in ("node_scores:", "edge_score:", "feature:", "edge_exp:", "edge_coef:"):
        assert loop in attention, loop
    assert attention.count("#pragma HLS PIPELINE II=1") == 4  # node tiles, feature tiles, exp, coef
    assert "layer0_coef" not in files["kernel.h"].read_text()  # no host port for softmax coefficients
    for name in ("layer0_att_src[3][9]", "layer0_att_dst[3][9]", "layer0_att_gene[3][9]", "layer0_exp_table[",
                 "layer0_tanh_table[", "layer0_act_table["):
        assert name in weights, name


def test_unknown_operator_is_a_clear_error() -> None:
    rng = np.random.default_rng(13)
    ir = random_ir(rng)
    hw = HardwareConfig(max_nodes=16, max_edges=64, layers=[LayerHW(1, 1, 1), LayerHW(1, 1, 1)])
    ir.layers[0].activation = "swish"  # not in the registry: the IR would refuse it, the writer must too
    with pytest.raises(LpgnasError, match="no implementation of activation 'swish'.*HLS_ACTIVATIONS"):
        hls_context(ir, hw)
    ir.layers[0].activation, ir.layers[1].aggregation = "relu", "median"
    with pytest.raises(LpgnasError, match="no implementation of aggregation 'median'"):
        hls_context(ir, hw)
