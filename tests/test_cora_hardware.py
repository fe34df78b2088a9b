"""Hardware acceptance on Cora: trained W8A8 models (GCN: issue 3; 8-head GAT: issue 6) on a 256-node subgraph are bit-exact in C and RTL."""

import numpy as np
import pytest

from lpgnas.datasets import recorded_feature_mode
from lpgnas.golden import run_model
from lpgnas.hls_templates.generate import generate_design
from lpgnas.inputs import design_inputs, training_config
from lpgnas.sim.csim import run_csim
from lpgnas.sim.rtl import run_rtl


@pytest.mark.slow
def test_cora_subgraph_golden_equals_csim_equals_rtl(cora_w8a8_run, data_root, tmp_path):
    ir, _, _ = cora_w8a8_run
    graph, x = design_inputs(ir, "Cora", str(data_root), 256, recorded_feature_mode(training_config(ir)))
    assert graph.num_nodes == 256 and graph.num_edges > 2 * 256  # a connected neighbourhood, not isolated nodes
    hw = generate_design(ir, graph, x, tmp_path / "hw")
    golden = run_model(ir, graph, x)
    assert len(np.unique(golden.argmax(1))) > 1  # the outputs are not degenerate
    csim = run_csim(hw)
    assert csim["bit_exact"] and csim["mismatches"] == 0
    assert csim["outputs"] == golden.ravel().tolist()
    rtl = run_rtl(hw, "verilator")
    assert rtl["bit_exact"] and rtl["mismatches"] == 0 and rtl["cycles"] > 0


@pytest.fixture(scope="module")
def cora_gat_w8a8_run(data_root, tmp_path_factory):
    """A 2-layer GAT trained on Cora at W8A8: 8 heads x 8 concatenated (elu), then 8 heads averaged."""
    from lpgnas.ir import load_ir
    from lpgnas.search.train import preset_config, train

    run = tmp_path_factory.mktemp("cora_gat_w8a8")
    cfg = preset_config("gat", dataset="Cora", wbits=8, abits=8, out_heads=8, epochs=60)
    metrics = train(cfg, run, data_root=str(data_root), progress=False)
    return load_ir(run / "model.ir.json"), metrics


@pytest.mark.slow
def test_cora_subgraph_8_head_gat_golden_equals_csim_equals_rtl(cora_gat_w8a8_run, data_root, tmp_path):
    """Issue 6 acceptance: a 2-layer, 8-head GAT at W8A8 on the 256-node Cora subgraph is bit-exact."""
    ir, metrics = cora_gat_w8a8_run
    assert [(la.attention, la.heads, la.concat) for la in ir.layers] == [("gat", 8, True), ("gat", 8, False)]
    assert metrics["test_accuracy_golden"] > 0.7  # a trained model, not noise
    graph, x = design_inputs(ir, "Cora", str(data_root), 256, recorded_feature_mode(training_config(ir)))
    assert graph.num_nodes == 256 and graph.num_edges > 2 * 256
    hw = generate_design(ir, graph, x, tmp_path / "hw")
    golden = run_model(ir, graph, x)
    assert len(np.unique(golden.argmax(1))) > 1
    csim = run_csim(hw)
    assert csim["bit_exact"] and csim["mismatches"] == 0
    assert csim["outputs"] == golden.ravel().tolist()
    rtl = run_rtl(hw, "verilator")
    assert rtl["bit_exact"] and rtl["mismatches"] == 0 and rtl["cycles"] > 0
