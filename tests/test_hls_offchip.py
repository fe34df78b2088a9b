"""Off-chip buffers in the HLS kernel (``HardwareConfig.offchip``, docs/hls.md "Off-chip buffers"): m_axi ports
for host buffers, scratch arguments for the row buffers, checked bit-exact in C simulation (g++) against the golden
model across operator families, dense and sparse layer 0, and weight kinds.

The designs come from the csim tests' helpers (``build_case``, ``build_sparse_case``) and are re-generated with
buffers off chip. The testbench starts every scratch buffer and the padding lanes of the feature groups as garbage
(``run_csim(scratch_seed=)``), so an element read before it is written comes out. Mutations of the generated kernel
(the features' group index one off, a wrong head's linear row, a row never written, a sparse group one off) must
not be bit-exact. Vitis HLS is not available here: the pragmas are checked as text, not synthesised.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lpgnas.buffers import host_buffers, internal_buffers
from lpgnas.errors import LpgnasError
from lpgnas.golden import run_model
from lpgnas.graph import CSRGraph
from lpgnas.hls_templates.hls_writer import MAX_ELEMENT_BITS, hls_context, offchip_buffers, write_hls
from lpgnas.hw_model.units.axi import BURST_BEATS, element_bytes
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import ModelIR
from lpgnas.sim.csim import run_csim
from lpgnas.testing import random_features, random_graph, random_ir
from tests.test_hls_csim import MATRIX, REPRESENTATIVE, _ap_types_dir, _case_id, build_case, make_hw_dir, needs_gxx
from tests.test_hls_sparse import CASES as SPARSE
from tests.test_hls_sparse import build_sparse_case

OPT = "-O1"  # as the other csim tests: faster builds, same code


def with_offchip(hw_dir: Path, ir: ModelIR, offchip: str | list[str]) -> HardwareConfig:
    """Re-generate ``hw_dir/hls`` (and its hw_config.json) with ``offchip``: a list of buffer names, or ``all``,
    ``host``, ``internal`` (those buffers of the design)."""
    hw = HardwareConfig.load(hw_dir / "hw_config.json")
    sparse = hw.layers[0].input == "sparse"
    groups = {"host": host_buffers(ir, sparse), "internal": internal_buffers(ir)}
    groups["all"] = groups["host"] + groups["internal"]
    hw.offchip = list(groups[offchip]) if isinstance(offchip, str) else list(offchip)
    hw.save(hw_dir / "hw_config.json")
    shutil.rmtree(hw_dir / "hls")
    write_hls(ir, hw, hw_dir / "hls")
    return hw


def assert_bit_exact(hw_dir: Path, ir: ModelIR, graph: CSRGraph, x: np.ndarray, **kw) -> dict:
    result = run_csim(hw_dir, opt=OPT, **kw)
    assert result["outputs"] == run_model(ir, graph, x).ravel().tolist(), result["log"]
    assert result["bit_exact"] and result["mismatches"] == 0 and result["tb_exit"] == 0
    return result


# ---- csim == golden with buffers off chip -----------------------------------------------------------------

#: (id, IR keywords, which buffers): gcn, sage-mean (const + mean), the GAT family (dot, tanh and element-wise
#: node scores; heads concatenated and averaged), every weight kind (1 = binary, 2 = ternary, 4/8/16-bit fix)
DENSE_CASES = [
    ("gcn-mean-w1-all", dict(attention="gcn", aggregation="mean", wbits=1, abits=8), "all"),
    ("sage-mean-w2-all", dict(attention="const", aggregation="mean", wbits=2, abits=8, num_layers=3), "all"),
    ("gat-h3-mean-max-w4-all", dict(attention="gat", aggregation="max", wbits=4, abits=8, heads=3, concat=False),
     "all"),
    ("gat-h2-concat-add-w8-internal", dict(attention="gat", aggregation="add", wbits=8, abits=8, heads=2,
                                           concat=True, num_layers=3), "internal"),
    ("sym-gat-h2-mean-w16-host", dict(attention="sym-gat", aggregation="mean", wbits=16, abits=16, heads=2,
                                      concat=False), "host"),
    ("cos-h2-concat-max-w8-lin", dict(attention="cos", aggregation="max", wbits=8, abits=8, heads=2, concat=True),
     ["layer0_lin", "layer1_lin", "features"]),
    ("gene-linear-h2-mean-w4-all", dict(attention="gene-linear", aggregation="add", wbits=4, abits=8, heads=2,
                                        concat=False), "all"),
    ("linear-add-w2-bufs", dict(attention="linear", aggregation="add", wbits=2, abits=4, num_layers=3),
     ["buf_1", "buf_2", "buf_3", "outputs"]),
    ("gcn-single-layer-w8-all", dict(attention="gcn", aggregation="add", wbits=8, abits=8, num_layers=1), "all"),
]


@needs_gxx
@pytest.mark.parametrize("ir_kw, offchip", [pytest.param(kw, o, id=i) for i, kw, o in DENSE_CASES])
def test_offchip_csim_matches_golden(tmp_path: Path, ir_kw: dict, offchip: str | list[str]) -> None:
    seed = 4000 + [c[1] for c in DENSE_CASES].index(ir_kw)
    hw_dir, ir, graph, x = build_case(tmp_path / "hw", seed, **ir_kw)
    hw = with_offchip(hw_dir, ir, offchip)
    assert hw.offchip
    kernel = (hw_dir / "hls" / "kernel.cpp").read_text()
    assert kernel.count("mode=m_axi") == len(hw.offchip)
    assert_bit_exact(hw_dir, ir, graph, x)


#: the always-run cases of the csim matrix (every attention x aggregation pair, every activation, weight and
#: activation width), each with every buffer, the row buffers, or a random subset off chip
MATRIX_CASES = sorted(REPRESENTATIVE, key=MATRIX.index)


@needs_gxx
@pytest.mark.parametrize("case", [pytest.param(c, id=_case_id(c)) for c in MATRIX_CASES])
def test_offchip_csim_matrix(tmp_path: Path, case: tuple) -> None:
    att, agg, act, wb, ab = case
    i = MATRIX_CASES.index(case)
    hw_dir, ir, graph, x = build_case(tmp_path / "hw", 4500 + i, attention=att, aggregation=agg, activation=act,
                                      wbits=wb, abits=ab, heads=1 + i % 3, concat=i % 2 == 0)
    names = host_buffers(ir) + internal_buffers(ir)
    subset = [str(n) for n in np.random.default_rng(i).choice(names, size=len(names) // 2, replace=False)]
    with_offchip(hw_dir, ir, ("all", "internal", subset)[i % 3])
    assert_bit_exact(hw_dir, ir, graph, x)


#: sparse layer 0 (grouped CSR): cases of tests/test_hls_sparse.py (their seeds: draws whose outputs depend on the
#: sparse products), every weight kind, with every buffer, the host's, or some groups off chip
SPARSE_CASES = [(14, "all"), (16, ["feat_col", "feat_val", "layer0_lin"]), (3, "all"),
                (7, ["feat_ptr", "feat_val", "buf_1"]), (10, "host")]


@needs_gxx
@pytest.mark.parametrize("index, offchip", [
    pytest.param(i, o, id="w{}-pin{}-{}-h{}".format(*SPARSE[i][:4])) for i, o in SPARSE_CASES])
def test_offchip_sparse_csim_matches_golden(tmp_path: Path, index: int, offchip: str | list[str]) -> None:
    hw_dir, ir, graph, x = build_sparse_case(tmp_path / "hw", 500 + index, *SPARSE[index], spare=index % 3)
    with_offchip(hw_dir, ir, offchip)
    assert_bit_exact(hw_dir, ir, graph, x)


def test_sparse_cases_cover_every_weight_kind() -> None:
    assert {SPARSE[i][0] for i, _ in SPARSE_CASES} == {1, 2, 4, 8, 16}


@needs_gxx
def test_outputs_do_not_depend_on_the_scratch_garbage(tmp_path: Path) -> None:
    """Two garbage seeds, the same (golden) outputs: the kernel writes every scratch element it reads."""
    hw_dir, ir, graph, x = build_case(tmp_path / "hw", 4200, attention="gat", aggregation="add", heads=2,
                                      concat=False, abits=8)
    with_offchip(hw_dir, ir, "all")
    for seed in (0, 12345):
        assert_bit_exact(hw_dir, ir, graph, x, scratch_seed=seed)
    with pytest.raises(LpgnasError, match="scratch_seed"):
        run_csim(hw_dir, opt=OPT, scratch_seed=-1)


@needs_gxx
@pytest.mark.skipif(_ap_types_dir() is None, reason="no ap_types headers (set LPGNAS_AP_TYPES or install hls4ml)")
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_offchip_csim_with_vitis_ap_int_types(tmp_path: Path, sparse: bool) -> None:
    """The type path Vitis HLS compiles: every off-chip element one ap_uint, lane k in bits k*W (a row of
    75 x 16 bits: wider than the ap_int headers' default 1024, so kernel.h raises AP_INT_MAX_W)."""
    if sparse:
        hw_dir, ir, graph, x = build_sparse_case(tmp_path / "hw", 4300, 4, 3, "gat", 2)
    else:
        hw_dir, ir, graph, x = build_case(tmp_path / "hw", 4301, attention="gcn", aggregation="mean", abits=16,
                                          hidden=75, heads=2, concat=False)
    with_offchip(hw_dir, ir, "all")
    header = (hw_dir / "hls" / "kernel.h").read_text()
    assert ("#define AP_INT_MAX_W 2048" in header) == (not sparse)
    assert_bit_exact(hw_dir, ir, graph, x, ap_types=_ap_types_dir())


@needs_gxx
@pytest.mark.skipif(_ap_types_dir() is None, reason="no ap_types headers (set LPGNAS_AP_TYPES or install hls4ml)")
def test_lanes_layout_is_the_contracts(tmp_path: Path) -> None:
    """Under the ap_int types an element is one ap_uint with lane k in bits k*W .. (two's complement), the layout
    of docs/rtl.md "Off-chip buffers"; reading a lane gives the code back (signed lanes sign-extended)."""
    from lpgnas.sim.csim import find_cxx

    ir, hw = _design()
    hw.offchip = ["features", "buf_1"]
    write_hls(ir, hw, tmp_path / "hls")
    info = offchip_buffers(ir, hw)
    (f, fw, fn), (b, bw, bn) = [(n, info[n]["lane_bits"], info[n]["lanes"]) for n in ("features", "buf_1")]
    assert info["features"]["signed"] and not info["buf_1"]["signed"]
    codes = {"features": [-3, 127, -128][:fn], "buf_1": [(37 * k + 5) % (1 << bw) for k in range(bn)]}
    (tmp_path / "layout.cpp").write_text(
        '#include <cstdio>\n#include "kernel.h"\nint main() {\n'
        + "".join(
            f"    {{ {t} e; const long long v[] = {{{', '.join(map(str, codes[n]))}}};\n"
            f"      for (int k = 0; k < {len(codes[n])}; k++) e.set(k, v[k]);\n"
            f'      printf("%llu", (unsigned long long)e.bits.to_uint64());\n'
            f'      for (int k = 0; k < {len(codes[n])}; k++) printf(" %lld", (long long)e.get(k));\n'
            '      printf("\\n"); }\n'
            for n, t in (("features", "features_group_t"), ("buf_1", "buf_1_row_t")))
        + "    return 0;\n}\n")
    exe = tmp_path / "layout"
    subprocess.run([find_cxx(), "-std=c++17", "-DLPGNAS_AP_INT", f"-I{_ap_types_dir()}", f"-I{tmp_path / 'hls'}",
                    str(tmp_path / "layout.cpp"), "-o", str(exe)], check=True, capture_output=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    for line, (name, w) in zip(lines, (("features", fw), ("buf_1", bw)), strict=True):
        packed = sum((v & ((1 << w) - 1)) << (k * w) for k, v in enumerate(codes[name]))
        assert line.split() == [str(packed), *map(str, codes[name])], name


# ---- wrong kernels are caught ------------------------------------------------------------------------------

FEATURE_GROUP = "x[n * LPGNAS_IN_GROUPS + it / P_IN]"
LIN_ROW = "lin[j * 2 + h]"
ROW_WRITE = "        y[i] = orow;"  # per layer; the first is layer 0's (buf_1)
SPARSE_GROUP = "feat_col[g];"


@pytest.fixture(scope="module")
def good_offchip_design(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelIR, CSRGraph, np.ndarray]:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    case = build_case(tmp_path_factory.mktemp("good_offchip") / "hw", 4400, attention="gat", aggregation="add",
                      heads=2, concat=True, abits=8, in_features=11)
    with_offchip(case[0], case[1], "all")
    assert_bit_exact(*case)
    return case


@pytest.fixture(scope="module")
def good_sparse_offchip_design(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    case = build_sparse_case(tmp_path_factory.mktemp("good_sparse_offchip") / "hw", 4401, 8, 3, "gcn", 1)
    with_offchip(case[0], case[1], "all")
    assert_bit_exact(*case)
    return case


def _mutate(path: Path, old: str, new: str, occurrences: int = 1) -> None:
    """Replace the first occurrence of ``old`` (which occurs ``occurrences`` times) by ``new``."""
    text = path.read_text()
    assert text.count(old) == occurrences, f"{old!r} not found {occurrences}x in {path.name}: update the mutation test"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "old, new, occurrences",
    [
        pytest.param(FEATURE_GROUP, "x[n * LPGNAS_IN_GROUPS + it / P_IN + 1]", 1, id="feature-group-one-off"),
        pytest.param(LIN_ROW, "lin[j * 2]", 1, id="linear-row-of-head-0"),
        pytest.param(ROW_WRITE, "        if (i + 1 < num_nodes) y[i] = orow;", 2, id="last-row-never-written"),
    ],
)
def test_wrong_offchip_kernel_is_not_bit_exact(tmp_path: Path, good_offchip_design: tuple, old: str, new: str,
                                               occurrences: int) -> None:
    hw_dir = tmp_path / "hw"
    shutil.copytree(good_offchip_design[0], hw_dir)
    _mutate(hw_dir / "hls" / "kernel.cpp", old, new, occurrences)
    result = run_csim(hw_dir, opt=OPT)
    assert not result["bit_exact"] and result["mismatches"] > 0 and result["tb_exit"] == 1


def test_wrong_sparse_offchip_kernel_is_not_bit_exact(tmp_path: Path, good_sparse_offchip_design: tuple) -> None:
    hw_dir = tmp_path / "hw"
    shutil.copytree(good_sparse_offchip_design[0], hw_dir)
    _mutate(hw_dir / "hls" / "kernel.cpp", SPARSE_GROUP, "feat_col[g + 1];")
    result = run_csim(hw_dir, opt=OPT)
    assert not result["bit_exact"] and result["mismatches"] > 0 and result["tb_exit"] == 1


# ---- generated code: today's without offchip, the interface with it -----------------------------------------

def _design(sparse: bool = False) -> tuple[ModelIR, HardwareConfig]:
    rng = np.random.default_rng(50)
    ir = random_ir(rng, attention="gcn", aggregation="mean", in_features=13, hidden=6, heads=2, concat=False,
                   num_layers=3)
    layers = [LayerHW(3, 2, 2, input="sparse" if sparse else "dense"), LayerHW(2, 2, 4), LayerHW(2, 1, 1)]
    return ir, HardwareConfig(max_nodes=32, max_edges=128, max_nonzeros=100 if sparse else 0, layers=layers)


def _files(ir: ModelIR, hw: HardwareConfig, out: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in write_hls(ir, hw, out)}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_empty_offchip_generates_todays_files(tmp_path: Path, sparse: bool) -> None:
    """offchip = [] and a hw_config.json without the key give the same files, with nothing of the off-chip code."""
    ir, hw = _design(sparse)
    old = hw.to_dict()
    del old["offchip"]
    empty = _files(ir, hw, tmp_path / "empty")
    assert empty == _files(ir, HardwareConfig.from_dict(old), tmp_path / "without")
    for text in empty.values():
        for construct in ("m_axi", "s_axilite", "lp_lanes", "garbage", "_row_t", "_group_t", "AP_INT_MAX_W"):
            assert construct not in text


def _line_diff(a: str, b: str) -> tuple[list[str], list[str]]:
    la, lb = a.splitlines(), b.splitlines()
    return [x for x in la if x not in lb], [x for x in lb if x not in la]


@pytest.mark.parametrize("name", ["row_ptr", "col_idx", "layer0_coef", "layer2_recip", "outputs"])
def test_a_word_buffer_off_chip_changes_only_its_pragmas(tmp_path: Path, name: str) -> None:
    """Buffers not named keep today's code: a word buffer off chip swaps its ap_memory pragma for m_axi +
    s_axilite (depth = its capacity in words) and changes nothing else in any file."""
    ir, hw = _design()
    base = _files(ir, hw, tmp_path / "base")
    hw.offchip = [name]
    files = _files(ir, hw, tmp_path / "off")
    depth = offchip_buffers(ir, hw)[name]["depth"]
    assert depth == {"row_ptr": 33, "col_idx": 128, "layer0_coef": 128, "layer2_recip": 32,
                     "outputs": 32 * ir.num_classes}[name]
    removed, added = _line_diff(base["kernel.cpp"], files["kernel.cpp"])
    assert removed == [f"#pragma HLS INTERFACE ap_memory port={name}"]
    assert added == [
        f"#pragma HLS INTERFACE mode=m_axi port={name} offset=slave bundle=gmem_{name} depth={depth} "
        f"max_read_burst_length={BURST_BEATS} max_write_burst_length={BURST_BEATS}",
        f"#pragma HLS INTERFACE mode=s_axilite port={name} bundle=control",
    ]
    assert files["tb.cpp"] == base["tb.cpp"] and files["weights.h"] == base["weights.h"]
    removed, added = _line_diff(base["kernel.h"], files["kernel.h"])
    assert not removed and all(line.startswith("//") or not line for line in added)  # the buffer list


def test_offchip_interface_elements_and_scratch_arguments(tmp_path: Path) -> None:
    """Grouped / row elements (lp_lanes of the contract's layout), their depths and byte strides, the scratch
    arguments in kernel.h, kernel.cpp and the testbench, no on-chip copies of off-chip buffers."""
    ir, hw = _design()
    hw.offchip = ["features", "layer1_lin", "buf_2", "buf_3"]
    files = _files(ir, hw, tmp_path / "hls")
    header, kernel, tb = files["kernel.h"], files["kernel.cpp"], files["tb.cpp"]
    info = offchip_buffers(ir, hw)
    lin_w = ir.layers[1].formats["linear"].bits
    assert info["features"] | {"name": "features"} == info["features"]
    assert (info["features"]["depth"], info["features"]["lanes"]) == (32 * 5, 3)  # ceil(13 / 3) groups per node
    assert (info["layer1_lin"]["depth"], info["layer1_lin"]["lanes"]) == (32 * 2, 6)
    assert info["buf_3"]["lanes"] == ir.num_classes and info["buf_2"]["lanes"] == 6  # heads averaged
    for b in info.values():
        assert b["bytes"] == element_bytes(b["element_bits"])
    assert "typedef lp_lanes<8, true, 3> features_group_t;" in header
    assert f"typedef lp_lanes<{lin_w}, true, 6> layer1_lin_row_t;" in header
    assert "#define LPGNAS_IN_GROUPS 5\n" in header
    scratch = ["layer1_lin_row_t layer1_lin[64],", "buf_2_row_t buf_2[32],", "buf_3_row_t buf_3[32],"]
    for text in (header, kernel):
        assert "const features_group_t features[LPGNAS_MAX_NODES * LPGNAS_IN_GROUPS]," in text
        sig = text[text.index("void lpgnas_top("):]
        positions = [sig.index(s) for s in ["outputs[", *scratch, "num_nodes_t num_nodes"]]
        assert positions == sorted(positions)  # scratch after the outputs, in lpgnas.buffers order
    for name in hw.offchip:
        assert f"mode=m_axi port={name} offset=slave bundle=gmem_{name} depth={info[name]['depth']} " in kernel
        assert f"mode=s_axilite port={name} bundle=control" in kernel
        assert f"ap_memory port={name}\n" not in kernel
    assert "x_in" not in kernel and "load:" not in kernel  # no on-chip copy of the features
    assert "static lp_int" in kernel and "layer1_lin[" not in kernel.split("void lpgnas_top(")[1].split(") {")[1]
    assert "layer1_y[" not in kernel and "layer0_y[" in kernel  # buf_2 off chip, buf_1 on chip
    assert "store:" in kernel and "outputs[i * LPGNAS_NUM_CLASSES + c] = row.get(c);" in kernel
    assert "lpgnas_top(features, row_ptr, col_idx, " in tb and "outputs, layer1_lin, buf_2, buf_3, num_nodes" in tb
    assert "static buf_2_row_t buf_2[32];" in tb and "garbage_element<buf_2_row_t, 6>()" in tb
    assert "config_interface -m_axi_addr64=true" in files["run_hls.tcl"]  # 64-bit addresses, as the RTL's
    context = hls_context(ir, hw)
    assert [b["name"] for b in context["scratch"]] == ["layer1_lin", "buf_2", "buf_3"]
    assert [b["name"] for b in context["host_axi"]] == ["features"]


def test_sparse_groups_off_chip_are_not_partitioned(tmp_path: Path) -> None:
    ir, hw = _design(sparse=True)
    hw.offchip = ["feat_col"]
    kernel = _files(ir, hw, tmp_path / "hls")["kernel.cpp"]
    assert "ARRAY_PARTITION variable=feat_col" not in kernel
    assert "ARRAY_PARTITION variable=feat_val cyclic factor=3 dim=1" in kernel
    assert "const feat_col_group_t feat_col[LPGNAS_MAX_GROUPS]," in kernel
    assert "const feat_val_t feat_val[LPGNAS_MAX_GROUPS * LPGNAS_GROUP_SIZE]," in kernel
    assert "const int c = cg.get(k);" in kernel and "const int64_t v = feat_val[g * P_IN + k];" in kernel


@pytest.mark.parametrize(
    "offchip, sparse, message",
    [
        (["nope"], False, "offchip names 'nope', not a buffer of this design"),
        (["feat_col"], False, "offchip names 'feat_col', not a buffer"),  # a sparse buffer of a dense design
        (["features"], True, "offchip names 'features', not a buffer"),
        (["buf_4"], False, "offchip names 'buf_4'"),
        (["buf_1", "buf_1"], False, "names a buffer twice"),
    ],
)
def test_unknown_offchip_names_are_refused_by_the_writer(tmp_path: Path, offchip: list[str], sparse: bool,
                                                         message: str) -> None:
    ir, hw = _design(sparse)
    hw.offchip = offchip
    with pytest.raises(LpgnasError, match=message):
        write_hls(ir, hw, tmp_path / "hls")
    assert not (tmp_path / "hls").exists()


def test_too_wide_offchip_element_is_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(51)
    ir = random_ir(rng, in_features=4, hidden=260, abits=16, num_layers=2)
    hw = HardwareConfig(max_nodes=8, max_edges=32, layers=[LayerHW(2, 2, 2), LayerHW(2, 2, 2)],
                        offchip=["layer0_lin"])
    assert 260 * 16 > MAX_ELEMENT_BITS
    with pytest.raises(LpgnasError, match="offchip buffer 'layer0_lin' has elements of 4160 bits"):
        write_hls(ir, hw, tmp_path / "hls")
    hw.offchip = ["buf_2"]  # the outputs' rows are narrow
    write_hls(ir, hw, tmp_path / "hls")


def test_generate_style_folder_with_random_offchip_subset(tmp_path: Path) -> None:
    """A random subset of buffers: the context's lists follow lpgnas.buffers and the files render."""
    ir, hw = _design()
    rng = np.random.default_rng(52)
    names = host_buffers(ir) + internal_buffers(ir)
    hw.offchip = [str(n) for n in rng.choice(names, size=6, replace=False)]
    graph = random_graph(rng, 20)
    x = random_features(rng, ir, graph.num_nodes)
    hw_dir = make_hw_dir(tmp_path / "hw", ir, graph, x, hw)
    assert HardwareConfig.load(hw_dir / "hw_config.json").offchip == hw.offchip
    if shutil.which("g++") is not None:
        assert_bit_exact(hw_dir, ir, graph, x)


@needs_gxx
def test_layers_named_like_buffers_and_locals(tmp_path: Path) -> None:
    """Layers called like a row buffer, a host port and the kernel's local row registers, every buffer off chip."""
    rng = np.random.default_rng(53)
    ir = random_ir(rng, attention="gat", aggregation="mean", num_layers=3, heads=2, concat=False, in_features=7)
    for layer, name in zip(ir.layers, ["buf_2", "features", "row"], strict=True):
        layer.name = name
    ir.validate()
    graph = random_graph(rng, 20)
    x = random_features(rng, ir, graph.num_nodes)
    hw = HardwareConfig(max_nodes=20, max_edges=graph.num_edges, layers=[LayerHW(3, 2, 2)] * 3)
    hw.offchip = host_buffers(ir) + internal_buffers(ir)
    assert {"buf_2", "buf_2_lin", "features", "features_lin", "row_lin"} <= set(hw.offchip)
    assert_bit_exact(make_hw_dir(tmp_path / "hw", ir, graph, x, hw), ir, graph, x)
