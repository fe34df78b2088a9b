"""Names from an IR or a user in generated files (issue 32, items 4 and 7).

* A model name with a newline and Verilog (``"x\\nmodule evil; ... endmodule\\n//"``) used to go raw into
  ``rtl/lpgnas_top.v``: now the IR is refused at load (the field named), and a model built in Python
  without validation still gets every name escaped (no ``module evil`` line anywhere).
* Layer names: over-long (300 characters: "file name too long"), control characters, clashing identifiers
  are refused at load with the field named.
* Property test: hostile model names, layer names and part names through every template (HLS C++, Tcl,
  top level Verilog, testbench wrapper, memory images): either the IR is refused at load naming the field,
  or every generated file is ASCII, has exactly the lines of the same design with plain names, compiles
  (g++ -fsyntax-only, verilator --lint-only -Wall, iverilog), and run_hls.tcl calls exactly the expected
  commands with the part as one word.
* Non-ASCII layer names with gcn / mean (host-loaded coefficient and reciprocal memories): one name per
  tensor artefact, so csim and RTL (Icarus, which shows an unloaded memory as x) are bit-exact.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lpgnas.devices import full_part
from lpgnas.errors import IRValidationError, LpgnasError
from lpgnas.golden import run_model
from lpgnas.hls_templates.generate import generate_design
from lpgnas.hls_templates.hls_writer import write_hls
from lpgnas.hls_templates.rtl_writer import write_rtl
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.ir import ModelIR, load_ir
from lpgnas.names import MAX_LAYER_NAME, MAX_TEXT, c_string, comment, identifier, tcl_word, tensor_name, verilog_string
from lpgnas.sim.csim import run_csim
from lpgnas.sim.rtl import tool_env, write_testbench
from lpgnas.testing import random_features, random_graph, random_ir

EVIL = "x\nmodule evil; initial $display(\"pwned\"); endmodule\n//"
HOSTILE = [
    EVIL, 'quote"', "back\\slash\\", "*/ /* ", "$finish;", "; exec rm -rf ~", "`define X", "[exec id]", "{}{",
    "??/", "tri??/\n", "\u00e4\u00f6\u00fc \u6f22\u5b57", "\u202eevil", "\r\n", "a\x00b", "\u2028", "%s%n", "x" * 300,
    "module", "endmodule", "",
]
#: identifiers that collide with keywords or names the templates use themselves
KEYWORDS = ["module", "endmodule", "for", "int", "wire", "reg", "begin", "static", "void", "features", "outputs",
            "row_ptr", "col_idx", "lpgnas_top", "x_in", "buf_1", "u", "n_1", "_", "__", "lp_int", "cur", "num_nodes"]

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not found")
needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not found")


def _has_verilator() -> bool:
    with tool_env():
        return shutil.which("verilator") is not None


def _small_design(seed: int = 3, attention: str = "gcn", aggregation: str = "mean"):
    rng = np.random.default_rng(seed)
    ir = random_ir(rng, attention=attention, aggregation=aggregation, in_features=5, hidden=6, num_classes=3)
    graph = random_graph(rng, 12)
    x = random_features(rng, ir, graph.num_nodes)
    hw = HardwareConfig(max_nodes=12, max_edges=graph.num_edges,
                        layers=[LayerHW(2, 2, 2) for _ in ir.layers])
    return ir, graph, x, hw


def _text_files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_bytes().decode("ascii") for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".v", ".cpp", ".h", ".tcl", ".json", ".mem", ".txt")}


def _renamed(ir: ModelIR, model_name: str, layer_names: list[str]) -> ModelIR:
    """A copy of ``ir`` with other names (not validated)."""
    layers = [replace(layer, name=name) for layer, name in zip(ir.layers, layer_names, strict=True)]
    return replace(ir, name=model_name, layers=layers)


# ---- names.py ---------------------------------------------------------------------------------------------

def test_identifier_and_tensor_name_are_ascii_and_stable() -> None:
    assert identifier("layer0") == "layer0" and identifier("schicht_\u00e4") == "schicht__"
    assert identifier("\u00e4") == "_" and identifier(identifier("\u00fcber")) == identifier("\u00fcber")
    assert tensor_name("schicht_\u00e4", "coef") == "schicht___coef"


def test_escapes_keep_hostile_text_on_one_line() -> None:
    for text in HOSTILE:
        for escaped in (c_string(text), comment(text), verilog_string(text), tcl_word(text)):
            assert escaped.isascii() and escaped.isprintable(), (text, escaped)
        assert '"' not in c_string(text)[1:-1] and "??" not in c_string(text)
        assert not set(comment(text)) & set("{}[]$;`")


# ---- refused at load ----------------------------------------------------------------------------------------

def _save_and_edit(ir: ModelIR, folder: Path, edit) -> Path:
    path = ir.save(folder / "m.ir.json")
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("field,value,message", [
    ("name", EVIL, r"^name: .* control or format character U\+000A"),
    ("name", "\u202eevil", r"^name: .* U\+202E"),
    ("name", "m" * 300, r"^name: 300 characters, at most 256"),
    ("layer", "x" * 300, r"^layers\[0\]\.name: 300 characters, at most 64"),
    ("layer", "a b", r"^layers\[0\]\.name: 'a b' must be a unique identifier"),
    ("layer", EVIL, r"^layers\[0\]\.name: .* U\+000A"),
    ("layer", "layer1_x", r"^layers\[1\]\.name: 'layer1' gives hardware names that clash with those of layers\[0\]"),
    ("layer", "LAYER1", r"^layers\[1\]\.name: 'layer1' gives hardware names that clash"),
])
def test_hostile_names_are_refused_at_load(tmp_path: Path, field: str, value: str, message: str) -> None:
    ir, *_ = _small_design()

    def edit(doc: dict) -> None:
        if field == "name":
            doc["name"] = value
        else:
            doc["layers"][0]["name"] = value

    with pytest.raises(IRValidationError, match=message):
        load_ir(_save_and_edit(ir, tmp_path, edit))


def test_injected_verilog_never_reaches_a_file(tmp_path: Path) -> None:
    """The issue's reproduction, with the IR built in Python (no load-time check): every name is escaped."""
    ir, _, _, hw = _small_design()
    evil = _renamed(ir, EVIL, [la.name for la in ir.layers])
    write_hls(evil, replace(hw, device=EVIL), tmp_path / "hls")
    write_rtl(evil, hw, tmp_path / "rtl")
    files = _text_files(tmp_path)
    assert "rtl/lpgnas_top.v" in files and "hls/kernel.cpp" in files and "hls/run_hls.tcl" in files
    for name, text in files.items():
        assert not re.search(r"^\s*module evil", text, re.M), name
        assert "$display(\"pwned\")" not in text, name


def test_writers_refuse_clashing_layer_names_without_validation(tmp_path: Path) -> None:
    ir, _, _, hw = _small_design()
    clash = _renamed(ir, "m", ["a", "a_att"])
    with pytest.raises(IRValidationError, match="clash"):
        write_rtl(clash, hw, tmp_path / "rtl")


# ---- property test: hostile strings through every template -----------------------------------------------

_IDENT_CHARS = st.characters(categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Nd", "Mn", "Mc", "Pc"))
_PRINTABLE = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
#: names the IR accepts, except for clashes (the render tests), and anything (the load-time test)
_IDENTIFIERS = st.one_of(st.text(_IDENT_CHARS, min_size=1, max_size=MAX_LAYER_NAME).filter(str.isidentifier),
                         st.sampled_from(KEYWORDS))
_TEXT = st.one_of(st.text(_PRINTABLE, max_size=MAX_TEXT), st.sampled_from(HOSTILE))
_ANY = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=300), _IDENTIFIERS)
#: (Basic Multilingual Plane only: tkinter cannot hand characters beyond it back from Tcl 8.6)
_PARTS = st.one_of(st.sampled_from(["xc7z020", "xczu3eg-sbva484-1-e"]), st.sampled_from(HOSTILE),
                   st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=40))

_TCL_COMMANDS = ["file", "cd", "open_project", "set_top", "add_files", "open_solution", "set_part", "create_clock",
                 "csim_design", "csynth_design", "cosim_design", "export_design", "exit"]


def _tcl_calls(script: str) -> list[list[str]]:
    """Run ``script`` in a safe Tcl interpreter whose Vitis commands (and file, cd, exit) only record
    their arguments; an unknown command is recorded too."""
    import tkinter

    tcl = tkinter.Tcl()
    tcl.eval("interp create -safe s")
    tcl.call("s", "eval", "set ::calls {}; proc unknown args {lappend ::calls [list UNKNOWN {*}$args]; return {}}")
    for cmd in _TCL_COMMANDS:
        tcl.call("s", "eval", f"proc {cmd} args {{lappend ::calls [list {cmd} {{*}}$args]; return /here}}")
    tcl.call("s", "eval", script)
    return [[str(w) for w in tcl.splitlist(c)] for c in tcl.splitlist(tcl.call("s", "eval", "set ::calls"))]


_REFERENCE: dict[str, dict[str, str]] = {}


def _reference(tmp: Path, ir: ModelIR, graph, x, hw: HardwareConfig) -> dict[str, str]:
    """The files of the design with plain names (model ``m``, layers ``layer<i>``, part xc7z020)."""
    if "files" not in _REFERENCE:
        plain = _renamed(ir, "m", [f"layer{i}" for i in range(len(ir.layers))])
        design = generate_design(plain.validate(), graph, x, tmp / "reference", hw)
        write_testbench(design, design / "tb")
        _REFERENCE["files"] = _text_files(design)
    return _REFERENCE["files"]


def _render_hostile(tmp: Path, model_name: str, layer_names: list[str], part: str) -> Path | None:
    """Generate the design with these names, or None when the IR is refused at load (asserting that the
    error names the field)."""
    ir, graph, x, hw = _small_design()
    hostile = _renamed(ir, model_name, layer_names)
    try:
        hostile.validate()
    except IRValidationError as e:
        assert re.match(r"^(name|layers\[\d\]\.name): ", str(e)), str(e)
        event("refused at load")
        return None
    event("rendered")
    hw = replace(hw, device=part)
    out = Path(tmp) / "hw"
    if out.exists():
        shutil.rmtree(out)
    design = generate_design(hostile, graph, x, out, hw)
    write_testbench(design, design / "tb")
    files = _text_files(design)
    reference = _reference(Path(tmp), ir, graph, x, replace(hw, device="xc7z020"))
    ident = {f"layer{i}": identifier(n) for i, n in enumerate(layer_names)}
    renamed = {re.sub(r"layer\d", lambda m: ident[m.group(0)], name) for name in reference}
    assert set(files) == renamed  # the same files, named after the identifiers
    for name, text in files.items():
        ref_name = next(r for r in reference if re.sub(r"layer\d", lambda m: ident[m.group(0)], r) == name)
        assert text.count("\n") == reference[ref_name].count("\n"), name  # no name adds or removes a line
        assert not re.search(r"^\s*(module|endmodule)\b", text, re.M) or name.endswith(".v"), name
    calls = _tcl_calls(files["hls/run_hls.tcl"])
    assert [c[0] for c in calls] == [c[0] for c in _tcl_calls(reference["hls/run_hls.tcl"])]
    assert ["set_part", full_part(part)] in calls  # the part is one word, verbatim
    return design


def _verilog_modules(text: str) -> list[str]:
    return re.findall(r"^\s*module\s+(\w+)", text, re.M)


@settings(max_examples=300, deadline=None)
@given(model_name=_ANY, layer_names=st.lists(_ANY, min_size=2, max_size=2))
def test_any_name_is_accepted_or_refused_naming_the_field(model_name: str, layer_names: list[str]) -> None:
    ir, *_ = _small_design()
    try:
        _renamed(ir, model_name, layer_names).validate()
    except IRValidationError as e:
        assert re.match(r"^(name|layers\[\d\]\.name): ", str(e)), str(e)
        return
    assert all(len(n) <= MAX_LAYER_NAME and n.isidentifier() for n in layer_names)
    assert "\n" not in model_name and len(model_name) <= MAX_TEXT


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(model_name=_TEXT, layer_names=st.lists(_IDENTIFIERS, min_size=2, max_size=2, unique=True), part=_PARTS)
def test_hostile_names_render_safely(tmp_path: Path, model_name: str, layer_names: list[str], part: str) -> None:
    design = _render_hostile(tmp_path, model_name, layer_names, part)
    if design is not None:
        assert _verilog_modules((design / "rtl" / "lpgnas_top.v").read_text()) == ["lpgnas_top"]


def _compile_all(design: Path) -> None:
    hls = design / "hls"
    proc = subprocess.run(["g++", "-std=c++14", "-fsyntax-only", f"-I{hls}", str(hls / "kernel.cpp"),
                           str(hls / "tb.cpp")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rtl = design / "rtl"
    manifest = json.loads((rtl / "rtl.json").read_text())
    sources = [str(rtl / n) for n in manifest["sources"]]
    proc = subprocess.run(["iverilog", "-g2012", "-t", "null", "-s", "lpgnas_tb", *sources,
                           str(design / "tb" / "lpgnas_tb.v")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if _has_verilator():
        with tool_env():
            proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "lpgnas_top", *sources],
                                  capture_output=True, text=True, cwd=rtl)
        assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr[-3000:]


@needs_gxx
@needs_iverilog
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(model_name=_TEXT, layer_names=st.lists(_IDENTIFIERS, min_size=2, max_size=2, unique=True), part=_PARTS)
def test_hostile_names_still_compile(tmp_path: Path, model_name: str, layer_names: list[str], part: str) -> None:
    design = _render_hostile(tmp_path, model_name, layer_names, part)
    if design is not None:
        _compile_all(design)


# ---- non-ASCII layer names: csim and RTL bit-exact ---------------------------------------------------------

@needs_gxx
@needs_iverilog
@pytest.mark.parametrize("aggregation", ["mean", "add"])
def test_non_ascii_layer_names_are_bit_exact_in_csim_and_rtl(tmp_path: Path, aggregation: str) -> None:
    """Before: data/schicht_\u00e4_coef.mem but port schicht___coef, so the RTL never loaded it (Icarus: x)."""
    from lpgnas.sim.rtl import run_rtl

    ir, graph, x, hw = _small_design(seed=4, aggregation=aggregation)
    ir = _renamed(ir, 'model "\u00e4" */', ["schicht_\u00e4", "\u00dcbersetzung"]).validate()
    # a folder Icarus' $readmemh cannot open by absolute path (it loaded nothing there, silently)
    design = generate_design(ir, graph, x, tmp_path / "Entw\u00fcrfe $1" / "hw", hw)
    images = {p.stem for p in (design / "data").glob("*.mem")}
    assert {"schicht___coef", "_bersetzung_coef"} <= images
    assert ({"schicht___recip", "_bersetzung_recip"} <= images) == (aggregation == "mean")
    assert run_csim(design, opt="-O0")["bit_exact"]
    report = run_rtl(design, "icarus")
    assert report["bit_exact"], report["first_mismatches"]
    assert np.unique(run_model(ir, graph, x)).size > 2  # not a constant output that hides an unloaded memory


def test_paths_a_simulator_cannot_build_from_are_refused(tmp_path: Path) -> None:
    from lpgnas.sim.rtl import run_rtl

    ir, graph, x, hw = _small_design()
    design = generate_design(ir.validate(), graph, x, tmp_path / "my designs" / "hw", hw)
    if _has_verilator():
        with pytest.raises(LpgnasError, match="verilator cannot build from a folder whose path holds ' '"):
            run_rtl(design, "verilator")
    with pytest.raises(LpgnasError, match="icarus cannot build from a folder whose path holds '\"'"):
        run_rtl(design, "icarus", build_dir=tmp_path / 'b"uild')


def test_missing_memory_image_is_refused_before_simulation(tmp_path: Path) -> None:
    """A design whose image is not named like its port (the old non-ASCII case) is refused by name."""
    from lpgnas.sim.rtl import run_rtl

    ir, graph, x, hw = _small_design()
    design = generate_design(ir, graph, x, tmp_path / "hw", hw)
    manifest = json.loads((design / "design.json").read_text())
    for img in manifest["images"]:
        if img["name"] == "layer0_coef":
            img["name"] = "layer0_c\u00f6ef"
    (design / "design.json").write_text(json.dumps(manifest))
    with pytest.raises(LpgnasError, match=r"memories without an image: \['layer0_coef'\]"):
        run_rtl(design, "icarus")
