"""Buffer names (lpgnas.buffers) and HardwareConfig.offchip validation."""

from __future__ import annotations

import numpy as np
import pytest

from lpgnas.buffers import OUTPUTS, buffer_names, host_buffers, internal_buffers
from lpgnas.errors import LpgnasError
from lpgnas.hwconfig import HardwareConfig, default_config
from lpgnas.testing import random_ir


def test_host_buffers_follow_the_operators():
    rng = np.random.default_rng(0)
    gcn = random_ir(rng, attention="gcn")
    names = [la.name for la in gcn.layers]
    assert host_buffers(gcn) == ["features", "row_ptr", "col_idx", f"{names[0]}_coef", f"{names[1]}_coef", OUTPUTS]
    assert host_buffers(gcn, sparse_input=True)[:3] == ["feat_ptr", "feat_col", "feat_val"]
    mean = random_ir(rng, attention="const", aggregation="mean")
    assert [n for n in host_buffers(mean) if n.endswith("_recip")] == [f"{la.name}_recip" for la in mean.layers]
    gat = random_ir(rng, attention="gat")  # softmax coefficients are computed on chip: no host buffer
    assert not [n for n in host_buffers(gat) if n.endswith("_coef")]
    assert internal_buffers(gcn) == [f"{names[0]}_lin", "buf_1", f"{names[1]}_lin", "buf_2"]


def test_offchip_names_are_checked():
    ir = random_ir(np.random.default_rng(1))
    hw = default_config(ir, 64, 256)
    hw.offchip = ["col_idx", "buf_1"]
    hw.check(ir)
    assert set(hw.offchip) <= set(buffer_names(ir))
    assert HardwareConfig.from_dict(hw.to_dict()).offchip == ["col_idx", "buf_1"]
    for bad, msg in ((["buf_9"], "not a buffer"), (["row_ptr", "row_ptr"], "twice"), ("row_ptr", "list")):
        hw.offchip = bad
        with pytest.raises(LpgnasError, match=msg):
            hw.check(ir)
