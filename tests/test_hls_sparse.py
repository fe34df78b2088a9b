"""Layer 0 with sparse input features (LayerHW.input = "sparse", lpgnas.sparse): the generated HLS kernel reads
the grouped CSR (feat_ptr, feat_col, feat_val) and multiplies only the non-zeros; C simulation against the
golden model, bit for bit.

Cases: every weight kind (binary, ternary, 4/8/16-bit fix) x P_in 1..4 (layer 0's width never a multiple of
P_in), GCN and GAT-family layers with 1..3 heads, features mostly zero with an empty row and a dense row
spanning several groups; a draw is kept only if its outputs depend on the sparse products (random_ir's formats
suit dense rows, and many sparse draws collapse to the biases). Mutations (the group loop stopping one group early, the last entry of each group
dropped) must come out not bit-exact, and malformed sparse images must be refused by the testbench.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lpgnas.errors import LpgnasError
from lpgnas.golden import run_model
from lpgnas.graph import CSRGraph
from lpgnas.hls_templates.hls_writer import hls_context, write_hls
from lpgnas.hls_templates.images import graph_images, io_images
from lpgnas.hw_model.params import globals_for, spec_from_ir
from lpgnas.hw_model.units.transform import transform_params
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import ModelIR
from lpgnas.sim.csim import run_csim
from lpgnas.sparse import group_features, max_groups
from lpgnas.testing import random_graph, random_ir
from tests.test_hls_csim import _ap_types_dir

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed (apt-get install g++)")

OPT = "-O1"  # as tests/test_hls_csim.py: faster builds, same code

WBITS = (1, 2, 4, 8, 16)
P_INS = (1, 2, 3, 4)
#: attention, heads, concat of the cases, cycled over the (weight bits, P_in) grid
LAYER_KINDS = (("gcn", 1, True), ("gat", 2, True), ("const", 1, True), ("sym-gat", 3, False), ("gcn", 2, False))
#: every weight kind x every P_in: 20 cases, ~0.3 s each (a g++ build at -O1 and a run)
CASES = [(wb, p, *LAYER_KINDS[i % len(LAYER_KINDS)]) for i, (wb, p) in
         enumerate((wb, p) for wb in WBITS for p in P_INS)]


def sparse_features(rng: np.random.Generator, ir: ModelIR, num_nodes: int, p_in: int) -> np.ndarray:
    """About 80 % zeros, the other codes of magnitude qmax/2..qmax (so that a row's few products still span the
    formats random_ir calibrates for dense rows); row 0 has no non-zero, row 1 no zero (several groups)."""
    fmt = ir.layers[0].formats["input"]
    shape = (num_nodes, ir.in_features)
    x = rng.choice([-1, 1], size=shape) * rng.integers(fmt.qmax // 2, fmt.qmax + 1, size=shape)
    x[rng.random(shape) < 0.8] = 0
    x[0] = 0
    x[1] = np.where(x[1] == 0, fmt.qmax, x[1])
    x[1][rng.integers(0, shape[1])] = fmt.qmin  # the most negative code too
    assert -(-x.shape[1] // p_in) >= 3, "row 1 must span several groups"
    return x


def without_last_groups(x: np.ndarray, p_in: int) -> np.ndarray:
    """``x`` without each row's last group of non-zeros (what a group loop stopping one group early reads)."""
    ptr, col, val = group_features(x, p_in)
    y = np.zeros_like(x)
    for n in range(x.shape[0]):
        kept = slice(ptr[n] * p_in, (ptr[n + 1] - 1) * p_in)
        np.add.at(y[n], col[kept], val[kept])
    return y


#: a design's outputs must change in this fraction of words when the rows lose their last group, and hold
#: this many distinct codes: random_ir calibrates for dense rows, and many draws collapse to the biases
MIN_SENSITIVITY, MIN_DISTINCT = 0.2, 4


def build_sparse_case(out: Path, seed: int, wbits: int, p_in: int, attention: str = "gcn", heads: int = 1,
                      concat: bool = True, spare: int = 5) -> tuple[Path, ModelIR, CSRGraph, np.ndarray]:
    """A hardware folder (data/*.txt, hls/) of a random design whose layer 0 reads sparse features.

    Layer 0's width is 3..5 times P_in plus a remainder (never a multiple of P_in > 1). Draws again (up to 100
    times, golden model only) until the outputs depend on the sparse products (MIN_SENSITIVITY, MIN_DISTINCT).
    """
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        in_f = p_in * int(rng.integers(3, 6)) + (int(rng.integers(1, p_in)) if p_in > 1 else 0)
        ir = random_ir(rng, attention=attention, aggregation=("add", "mean", "max")[seed % 3], heads=heads,
                       concat=concat, wbits=wbits, abits=8, in_features=in_f, hidden=int(rng.integers(3, 9)),
                       num_classes=int(rng.integers(2, 5)))
        graph = random_graph(rng, int(rng.integers(10, 33)))
        x = sparse_features(rng, ir, graph.num_nodes, p_in)
        y = run_model(ir, graph, x)
        if (np.mean(y != run_model(ir, graph, without_last_groups(x, p_in))) >= MIN_SENSITIVITY
                and len(np.unique(y)) >= MIN_DISTINCT):
            break
    else:
        raise AssertionError(f"seed {seed}: no random model's outputs depend enough on its sparse products")
    layers = [LayerHW(p_in=p_in, p_out=int(rng.integers(1, min(ir.layers[0].out_features, 4) + 1)),
                      p_agg=int(rng.integers(1, 4)), input="sparse")]
    layers += [LayerHW(p_in=1 + i % 2, p_out=2, p_agg=2) for i in range(len(ir.layers) - 1)]
    hw = HardwareConfig(max_nodes=graph.num_nodes + 2, max_edges=graph.num_edges + 4,
                        max_nonzeros=int(np.count_nonzero(x)) + spare, layers=layers)
    return write_hw_dir(out, ir, graph, x, hw), ir, graph, x


def write_hw_dir(out: Path, ir: ModelIR, graph: CSRGraph, x: np.ndarray, hw: HardwareConfig) -> Path:
    """What csim reads: ``data/*.txt`` (the memory images, sparse ones when ``hw`` says so) and ``hls/``."""
    (out / "data").mkdir(parents=True, exist_ok=True)
    hw.save(out / "hw_config.json")
    for img in graph_images(ir, graph) + io_images(ir, graph, x, hw):
        img.write_txt(out / "data")
    write_hls(ir, hw, out / "hls")
    return out


def assert_bit_exact(hw_dir: Path, ir: ModelIR, graph: CSRGraph, x: np.ndarray) -> dict:
    result = run_csim(hw_dir, opt=OPT)
    assert result["outputs"] == run_model(ir, graph, x).ravel().tolist(), result["log"]
    assert result["bit_exact"] and result["mismatches"] == 0 and result["tb_exit"] == 0
    return result


@needs_gxx
@pytest.mark.parametrize(
    "wbits, p_in, attention, heads, concat",
    [pytest.param(*c, id=f"w{c[0]}-pin{c[1]}-{c[2]}-h{c[3]}") for c in CASES],
)
def test_sparse_csim_matches_golden(tmp_path: Path, wbits: int, p_in: int, attention: str, heads: int,
                                    concat: bool) -> None:
    seed = CASES.index((wbits, p_in, attention, heads, concat))
    hw_dir, ir, graph, x = build_sparse_case(tmp_path / "hw", 500 + seed, wbits, p_in, attention, heads, concat,
                                             spare=seed % 3)  # spare 0: the capacity exactly full
    assert not (hw_dir / "data" / "features.txt").exists()
    ptr = [int(w) for w in (hw_dir / "data" / "feat_ptr.txt").read_text().split()]
    assert ptr[1] - ptr[0] == 1 and ptr[2] - ptr[1] >= 3  # the empty row, the row of several groups
    assert ir.layers[0].in_features % p_in or p_in == 1
    assert_bit_exact(hw_dir, ir, graph, x)


def test_cases_cover_weight_kinds_p_in_and_attention_heads() -> None:
    assert {c[:2] for c in CASES} == {(wb, p) for wb in WBITS for p in P_INS}
    assert {(c[2], c[3]) for c in CASES} >= {("gat", 2), ("sym-gat", 3), ("gcn", 1)}


@needs_gxx
@pytest.mark.skipif(_ap_types_dir() is None, reason="no ap_types headers (set LPGNAS_AP_TYPES or install hls4ml)")
def test_sparse_csim_with_vitis_ap_int_types(tmp_path: Path) -> None:
    """The type path Vitis HLS compiles (ap_uint ports indexing the weight ROM copies) computes the same."""
    hw_dir, ir, graph, x = build_sparse_case(tmp_path / "hw", 600, 4, 3, "gat", 2)
    result = run_csim(hw_dir, opt=OPT, ap_types=_ap_types_dir())
    assert result["bit_exact"] and result["outputs"] == run_model(ir, graph, x).ravel().tolist()


@needs_gxx
@pytest.mark.parametrize("attention, num_layers", [("gcn", 1), ("linear", 3)])
def test_sparse_single_group_rows_and_single_layer(tmp_path: Path, attention: str, num_layers: int) -> None:
    """P_in = layer 0's width (every row one group); a one-layer model (layer 0 writes the outputs); layers
    named like the sparse ports and loop variables."""
    rng = np.random.default_rng(num_layers)
    ir = random_ir(rng, attention=attention, num_layers=num_layers, in_features=7, heads=2, concat=False)
    for layer, name in zip(ir.layers, ["feat_ptr", "g", "c"], strict=False):
        layer.name = name  # the sparse ports' and loops' own names
    ir.validate()
    graph = random_graph(rng, 15)
    x = sparse_features(rng, ir, graph.num_nodes, 2)
    hw = HardwareConfig(max_nodes=15, max_edges=graph.num_edges, max_nonzeros=int(np.count_nonzero(x)),
                        layers=[LayerHW(7, 1, 1, input="sparse")] + [LayerHW(2, 2, 2)] * (num_layers - 1))
    hw_dir = write_hw_dir(tmp_path / "hw", ir, graph, x, hw)
    assert (hw_dir / "data" / "feat_ptr.txt").read_text().split() == [str(n) for n in range(16)]
    assert_bit_exact(hw_dir, ir, graph, x)


# ---- the interface, the weight ROM copies, the pragmas ------------------------------------------------

def _sparse_hw(p_in: int, p_out: int = 2) -> HardwareConfig:
    return HardwareConfig(max_nodes=32, max_edges=128, max_nonzeros=100,
                          layers=[LayerHW(p_in, p_out, 2, input="sparse"), LayerHW(2, 2, 2)])


@pytest.mark.parametrize("p_in", P_INS)
def test_sparse_interface_and_weight_rom_copies(tmp_path: Path, p_in: int) -> None:
    """The top takes feat_ptr/feat_col/feat_val (banked by P_in) instead of features; the weights are the RTL's
    ROM_COPIES copies of dual-port ROMs (transform_params), lane k reading copy k / 2."""
    rng = np.random.default_rng(30 + p_in)
    ir = random_ir(rng, in_features=13, hidden=6, heads=2)
    hw = _sparse_hw(p_in)
    files = {p.name: p.read_text() for p in write_hls(ir, hw, tmp_path / "hls")}
    header, kernel, weights, tb = files["kernel.h"], files["kernel.cpp"], files["weights.h"], files["tb.cpp"]
    groups = max_groups(100, 32, p_in)
    rtl = transform_params(spec_from_ir(ir.layers[0], hw.layers[0]), globals_for(32, 128), 32, direct=True,
                           max_groups=groups)
    copies = int(rtl["ROM_COPIES"])
    assert copies == (p_in + 1) // 2
    for text in (header, kernel):
        assert "const feat_ptr_t feat_ptr[LPGNAS_MAX_NODES + 1]," in text
        assert "const feat_col_t feat_col[LPGNAS_MAX_GROUPS * LPGNAS_GROUP_SIZE]," in text
        assert "const feat_val_t feat_val[LPGNAS_MAX_GROUPS * LPGNAS_GROUP_SIZE]," in text
        assert "features[" not in text and "features_t" not in text
    assert f"#define LPGNAS_MAX_GROUPS {groups}\n" in header and f"#define LPGNAS_GROUP_SIZE {p_in}\n" in header
    assert f"typedef lp_uint<{int(rtl['CW'])}> feat_col_t;" in header
    assert f"typedef lp_uint<{groups.bit_length()}> feat_ptr_t;" in header
    for port in ("feat_ptr", "feat_col", "feat_val"):
        assert f"#pragma HLS INTERFACE ap_memory port={port}" in kernel
        assert f'read_image(dir, "{port}"' in tb
    banked = [f"#pragma HLS ARRAY_PARTITION variable={a} cyclic factor={p_in} dim=1" for a in ("feat_col", "feat_val")]
    assert all((b in kernel) == (p_in > 1) for b in banked)
    assert "x_in" not in kernel and "load:" not in kernel
    assert f"layer0_weight[{copies}][2][13][6] = " in weights and "layer1_weight[1][12][4] = " in weights
    assert f"BIND_STORAGE variable=layer0_weight type={'rom_1p' if p_in == 1 else 'rom_2p'}" in kernel
    assert ("ARRAY_PARTITION variable=layer0_weight complete dim=1" in kernel) == (copies > 1)
    assert "ARRAY_PARTITION variable=layer0_weight cyclic factor=2 dim=4" in kernel
    assert "layer0_weight[k / 2][h][c][ot + o]" in kernel
    transform = kernel[kernel.index("static void layer0_transform"):kernel.index("static void layer0_aggregate")]
    assert "group:\n                for (int g = g_begin; g < g_end; g++) {\n#pragma HLS PIPELINE II=1" in transform
    assert "layer0_transform(feat_ptr, feat_col, feat_val, layer0_lin, n);" in kernel
    assert hls_context(ir, _sparse_hw(p_in))["sparse"]["rom_copies"] == copies


def test_dense_design_has_no_sparse_ports(tmp_path: Path) -> None:
    rng = np.random.default_rng(40)
    ir = random_ir(rng, in_features=13, hidden=6)
    hw = HardwareConfig(max_nodes=32, max_edges=128, layers=[LayerHW(3, 2, 2), LayerHW(2, 2, 2)])
    files = {p.name: p.read_text() for p in write_hls(ir, hw, tmp_path / "hls")}
    assert hls_context(ir, hw)["sparse"] is None
    for name in ("kernel.h", "kernel.cpp", "tb.cpp", "weights.h"):
        assert "feat_" not in files[name] and "GROUP" not in files[name], name
    assert "layer0_weight[1][13][6] = " in files["weights.h"]


# ---- wrong kernels and malformed images are caught ---------------------------------------------------

GROUP_LOOP = "for (int g = g_begin; g < g_end; g++) {"
GROUP_ENTRY = "const int64_t v = feat_val[g * P_IN + k];"


@pytest.fixture(scope="module")
def good_sparse_design(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelIR, CSRGraph, np.ndarray]:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    case = build_sparse_case(tmp_path_factory.mktemp("good_sparse") / "hw", 77, 8, 3, "gat", 2)
    assert_bit_exact(*case)
    return case


def _mutate(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path.name}: update the mutation test"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    "old, new",
    [
        pytest.param(GROUP_LOOP, "for (int g = g_begin; g < g_end - 1; g++) {", id="group-loop-one-short"),
        pytest.param(GROUP_ENTRY, "const int64_t v = k + 1 < P_IN ? int64_t(feat_val[g * P_IN + k]) : 0;",
                     id="last-entry-dropped"),
    ],
)
def test_wrong_sparse_kernel_is_not_bit_exact(tmp_path: Path, good_sparse_design: tuple, old: str, new: str) -> None:
    hw_dir = tmp_path / "hw"
    shutil.copytree(good_sparse_design[0], hw_dir)
    _mutate(hw_dir / "hls" / "kernel.cpp", old, new)
    result = run_csim(hw_dir, opt=OPT)
    assert not result["bit_exact"] and result["mismatches"] > 0 and result["tb_exit"] == 1


@pytest.mark.parametrize(
    "image, edit, message",
    [
        ("feat_col", lambda w: w[:2] + ["999"] + w[3:], "not a feature"),
        ("feat_ptr", lambda w: [w[0], w[2], w[1], *w[3:]], "not a row pointer"),
        ("feat_val", lambda w: w[:-1], "feat_val.txt has"),
    ],
)
def test_malformed_sparse_images_are_refused(tmp_path: Path, good_sparse_design: tuple, image: str, edit,
                                             message: str) -> None:
    hw_dir = tmp_path / "hw"
    shutil.copytree(good_sparse_design[0], hw_dir)
    path = hw_dir / "data" / f"{image}.txt"
    path.write_text("\n".join(edit(path.read_text().split())) + "\n")
    with pytest.raises(LpgnasError, match=message):
        run_csim(hw_dir, opt=OPT)


@needs_gxx
def test_generate_design_with_sparse_input_runs_csim_at_O2(tmp_path: Path) -> None:
    """The whole hardware folder as ``lpgnas generate`` writes it (images from hw_config.json), default flags."""
    from lpgnas.hls_templates.generate import generate_design

    rng = np.random.default_rng(12)
    ir = random_ir(rng, attention="gcn", aggregation="mean", wbits=2, abits=8, in_features=11, heads=2,
                   concat=False)
    graph = random_graph(rng, 30)
    x = sparse_features(rng, ir, graph.num_nodes, 3)
    nonzeros = int(np.count_nonzero(x))
    hw = HardwareConfig(max_nodes=30, max_edges=graph.num_edges, max_nonzeros=nonzeros,
                        layers=[LayerHW(3, 2, 2, input="sparse"), LayerHW(2, 2, 2)])
    hw_dir = generate_design(ir, graph, x, tmp_path / "HW", hw)
    ptr, col, val = group_features(x, 3)
    assert (hw_dir / "data" / "feat_col.txt").read_text().split() == [str(c) for c in col]
    result = run_csim(hw_dir)
    assert result["bit_exact"] and result["outputs"] == run_model(ir, graph, x).ravel().tolist()
