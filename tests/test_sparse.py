"""The grouped CSR of sparse input features (lpgnas.sparse) and its hardware-config checks."""

from __future__ import annotations

import numpy as np
import pytest

from lpgnas.errors import LpgnasError
from lpgnas.hwconfig import HardwareConfig, LayerHW
from lpgnas.sparse import group_count, group_features, max_groups, nonzero_histogram, row_groups


def test_groups_hold_each_rows_nonzeros_in_column_order_padded_with_zeros():
    x = np.array([[0, 3, 0, 0, 5], [0, 0, 0, 0, 0], [1, 2, 3, 4, 5]])
    ptr, col, val = group_features(x, 2)
    assert ptr.tolist() == [0, 1, 2, 5]  # 1 group, 1 (empty row), 3 groups
    assert col.tolist() == [1, 4, 0, 0, 0, 1, 2, 3, 4, 0]
    assert val.tolist() == [3, 5, 0, 0, 1, 2, 3, 4, 5, 0]
    # the dense product is recovered from the groups, row by row
    w = np.arange(10).reshape(5, 2)
    for n in range(3):
        s = slice(ptr[n] * 2, ptr[n + 1] * 2)
        assert (val[s] @ w[col[s]]).tolist() == (x[n] @ w).tolist()


def test_group_count_from_the_histogram_equals_the_layouts_groups():
    rng = np.random.default_rng(0)
    x = (rng.random((50, 40)) < 0.1) * rng.integers(1, 9, (50, 40))
    for p in (1, 3, 8, 40):
        ptr, _, _ = group_features(x, p)
        assert group_count(nonzero_histogram(x), p) == int(ptr[-1]) == int(row_groups(np.count_nonzero(x, 1), p).sum())
        assert ptr[-1] <= max_groups(int(np.count_nonzero(x)), 50, p)


def test_only_layer_0_reads_sparse_and_only_with_a_capacity():
    from lpgnas.testing import random_ir

    ir = random_ir(np.random.default_rng(0), num_layers=2)
    layers = [LayerHW(1, 1, 1, input="sparse"), LayerHW(1, 1, 1)]
    with pytest.raises(LpgnasError, match="max_nonzeros is 0"):
        HardwareConfig(max_nodes=8, max_edges=16, layers=layers).check(ir)
    HardwareConfig(max_nodes=8, max_edges=16, max_nonzeros=20, layers=layers).check(ir)
    with pytest.raises(LpgnasError, match="only layer 0"):
        HardwareConfig(max_nodes=8, max_edges=16, max_nonzeros=20, layers=layers[::-1]).check(ir)
    with pytest.raises(LpgnasError, match="input"):
        HardwareConfig(max_nodes=8, max_edges=16, layers=[LayerHW(1, 1, 1, input="csr"), LayerHW()]).check(ir)
