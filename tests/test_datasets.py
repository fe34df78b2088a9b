"""lpgnas.datasets: published sizes, read-only data root, no network, splits, errors, karate, graph_stats."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
import torch

from lpgnas import datasets as dsm
from lpgnas.datasets import Dataset, graph_stats, load_dataset, make_split
from lpgnas.errors import DatasetError, LpgnasError

# PyG's published figures: nodes, directed edges, features, classes, public split (train, val, test)
PUBLISHED = {
    "Cora": (2708, 10556, 1433, 7, (140, 500, 1000)),
    "CiteSeer": (3327, 9104, 3703, 6, (120, 500, 1000)),
    "PubMed": (19717, 88648, 500, 3, (60, 500, 1000)),
    "Computers": (13752, 491722, 767, 10, None),
    "Photo": (7650, 238162, 745, 8, None),
    "CS": (18333, 163788, 6805, 15, None),
    "Physics": (34493, 495924, 8415, 5, None),
}
BIG = {"CS", "Physics"}  # ~0.5 GB / 1.2 GB of dense features: processing takes seconds


def _check_masks(ds: Dataset) -> None:
    n = ds.num_nodes
    for m in (ds.train_mask, ds.val_mask, ds.test_mask):
        assert m.dtype == torch.bool and m.shape == (n,)
    assert not (ds.train_mask & ds.val_mask).any()
    assert not (ds.train_mask & ds.test_mask).any()
    assert not (ds.val_mask & ds.test_mask).any()


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in PUBLISHED]
)
def test_published_figures(load, name):
    nodes, edges, feats, classes, public = PUBLISHED[name]
    ds = load(name)
    assert ds.name == name
    assert (ds.num_nodes, ds.num_edges, ds.num_features, ds.num_classes) == (nodes, edges, feats, classes)
    assert ds.x.dtype == torch.float32 and ds.x.shape == (nodes, feats)
    assert ds.y.dtype == torch.long and ds.y.shape == (nodes,)
    assert int(ds.y.min()) == 0 and int(ds.y.max()) == classes - 1
    assert ds.edge_index.dtype == torch.long and ds.edge_index.shape == (2, edges)
    assert int(ds.edge_index.min()) >= 0 and int(ds.edge_index.max()) < nodes
    _check_masks(ds)
    if public is not None:
        assert ds.split == "public"
        assert ds.split_sizes() == public
    else:
        assert ds.split == "random-60-20-20"
        assert sum(ds.split_sizes()) == nodes
    st = ds.stats()
    assert st.num_edges == edges and st.num_nodes == nodes
    assert st.is_undirected and st.num_self_loops == 0
    assert st.num_edges_with_self_loops == edges + nodes
    assert sum(st.degree_histogram.values()) == nodes
    assert sum(d * c for d, c in st.degree_histogram.items()) == edges + nodes
    assert 0.0 < st.feature_density <= 1.0


def test_names_are_case_insensitive(load):
    assert load("cora").name == "Cora"
    assert dsm.canonical_name("PHYSICS") == "Physics"
    assert dsm.canonical_name("citeseer") == "CiteSeer"
    assert dsm.dataset_names() == [*PUBLISHED, "karate"]


# --------------------------------------------------------------------------------------------------------
# the data root is never written, and no network is touched
# --------------------------------------------------------------------------------------------------------


def test_data_root_is_not_written(data_root, tmp_path, monkeypatch, io_watch, snapshot):
    # a fresh cache, so PyG really processes (and writes) this time
    monkeypatch.setenv("LPGNAS_CACHE", str(tmp_path / "cache"))
    before = snapshot(data_root)
    with io_watch(data_root) as w:
        for name in ("Cora", "Photo"):
            ds = load_dataset(name, data_root=data_root)
            assert ds.num_nodes > 0
    assert w.writes == [], f"writes under the data root: {w.writes[:5]}"
    assert w.network == [], f"network use: {w.network[:5]}"
    assert snapshot(data_root) == before
    processed = list((tmp_path / "cache" / "datasets").glob("from-*/Cora/processed/*.pt"))
    assert processed, "PyG's processed files should be in the cache"


def _readonly_copy(src_root: Path, dst_root: Path, name: str) -> Path:
    shutil.copytree(src_root / name, dst_root / name)
    for dirpath, _dirs, files in os.walk(dst_root):
        for f in files:
            os.chmod(Path(dirpath) / f, 0o444)
    for dirpath, _dirs, _files in list(os.walk(dst_root))[::-1]:
        os.chmod(dirpath, 0o555)
    return dst_root


def _make_writable(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(Path(dirpath) / f, 0o644)


def test_read_only_data_root(data_root, tmp_path, monkeypatch, io_watch, snapshot):
    ro = _readonly_copy(data_root, tmp_path / "ro", "Cora")
    try:
        monkeypatch.setenv("LPGNAS_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("LPGNAS_DATA", str(ro))  # the env route (no data_root argument)
        before = snapshot(ro)
        with io_watch(ro) as w:
            ds = load_dataset("Cora")
            again = load_dataset("Cora")  # from the processed cache
        assert ds.split_sizes() == again.split_sizes() == (140, 500, 1000)
        assert torch.equal(ds.x, again.x) and torch.equal(ds.edge_index, again.edge_index)
        assert w.writes == [] and w.network == []
        assert snapshot(ro) == before
        assert sorted(p.name for p in ro.iterdir()) == ["Cora"]
        assert sorted(p.name for p in (ro / "Cora").iterdir()) == ["raw"]
    finally:
        _make_writable(tmp_path / "ro")


def test_changed_raw_files_are_reprocessed(data_root, tmp_path, monkeypatch):
    """The cache mirror is keyed by the data root and fingerprints the raw files."""
    monkeypatch.setenv("LPGNAS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "root"
    shutil.copytree(data_root / "Cora", root / "Cora")
    first = load_dataset("Cora", data_root=root)
    # replace the raw files by PubMed's under Cora's names: the loader must not reuse stale processed data
    for f in (root / "Cora" / "raw").iterdir():
        src = data_root / "PubMed" / "raw" / f.name.replace("cora", "pubmed")
        f.unlink()
        shutil.copy(src, f)
    second = load_dataset("Cora", data_root=root)
    assert first.num_nodes == 2708
    assert second.num_nodes == 19717


def test_truncated_processed_file_is_rebuilt(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("LPGNAS_CACHE", str(tmp_path / "cache"))
    load_dataset("Cora", data_root=data_root)
    (data_pt,) = (tmp_path / "cache" / "datasets").glob("from-*/Cora/processed/data.pt")
    data_pt.write_bytes(data_pt.read_bytes()[:100])
    ds = load_dataset("Cora", data_root=data_root)
    assert ds.num_nodes == 2708


# --------------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------------


def test_unknown_dataset_lists_known_names():
    with pytest.raises(DatasetError) as ei:
        load_dataset("Cor4")
    msg = str(ei.value)
    assert "'Cor4'" in msg
    for n in dsm.dataset_names():
        assert n in msg
    assert isinstance(ei.value, LpgnasError)


def test_missing_raw_files_name_paths_and_touch_no_network(data_root, tmp_path, monkeypatch, io_watch):
    monkeypatch.setenv("LPGNAS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "partial"
    shutil.copytree(data_root / "Cora", root / "Cora")
    (root / "Cora" / "raw" / "ind.cora.graph").unlink()
    (root / "Cora" / "raw" / "ind.cora.ty").unlink()
    with io_watch(root) as w, pytest.raises(DatasetError) as ei:
        load_dataset("Cora", data_root=root)
    msg = str(ei.value)
    assert str(root / "Cora" / "raw" / "ind.cora.graph") in msg
    assert str(root / "Cora" / "raw" / "ind.cora.ty") in msg
    assert str(root / "Cora" / "raw" / "ind.cora.x") not in msg  # only the missing ones
    assert "--data-root" in msg and "LPGNAS_DATA" in msg and "download" in msg
    assert w.network == [] and w.writes == []


def test_dataset_absent_from_root_touches_no_network(tmp_path, monkeypatch, io_watch):
    monkeypatch.setenv("LPGNAS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "empty"
    root.mkdir()
    for name, expected in [("Physics", "Physics/raw/ms_academic_phy.npz"), ("photo", "Photo/raw/")]:
        with io_watch(root) as w, pytest.raises(DatasetError) as ei:
            load_dataset(name, data_root=root)
        assert str(root / expected) in str(ei.value)
        assert w.network == []


def test_nonexistent_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("LPGNAS_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="LPGNAS_DATA"):
        load_dataset("Cora")
    with pytest.raises(DatasetError, match="--data-root"):
        load_dataset("Cora", data_root=tmp_path / "nowhere")


def test_no_public_split_for_amazon_coauthor_karate(tmp_path):
    for name in ("Computers", "Photo", "CS", "Physics", "karate"):
        with pytest.raises(DatasetError, match="random-60-20-20"):
            load_dataset(name, data_root=tmp_path, split="public")


def test_unknown_split():
    with pytest.raises(DatasetError, match="random-20-per-class"):
        load_dataset("karate", split="geom-gcn")


# --------------------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------------------


def test_random_60_20_20_is_seeded_disjoint_and_complete(load, data_root):
    a = load("Cora", "random-60-20-20", 0)
    b = load_dataset("Cora", data_root=data_root, split="random-60-20-20", seed=0)
    c = load("Cora", "random-60-20-20", 1)
    _check_masks(a)
    n = a.num_nodes
    assert a.split_sizes() == (int(0.6 * n), int(0.2 * n), n - int(0.6 * n) - int(0.2 * n))
    assert (a.train_mask | a.val_mask | a.test_mask).all()
    for m in ("train_mask", "val_mask", "test_mask"):
        assert torch.equal(getattr(a, m), getattr(b, m))
    assert not torch.equal(a.train_mask, c.train_mask)
    assert a.split_sizes() == c.split_sizes()


def test_random_20_per_class(load):
    a = load("CiteSeer", "random-20-per-class", 3)
    b = load("CiteSeer", "random-20-per-class", 3)
    c = load("CiteSeer", "random-20-per-class", 4)
    _check_masks(a)
    assert a.split_sizes() == (20 * 6, 500, 1000)
    counts = torch.bincount(a.y[a.train_mask], minlength=a.num_classes)
    assert counts.tolist() == [20] * 6
    assert torch.equal(a.val_mask, b.val_mask) and torch.equal(a.test_mask, b.test_mask)
    assert not torch.equal(a.train_mask, c.train_mask)


def test_random_split_on_amazon(load):
    ds = load("Photo", "random-20-per-class", 0)
    _check_masks(ds)
    assert ds.split_sizes() == (20 * 8, 500, 1000)


def test_make_split_without_data():
    y = torch.arange(100) % 4
    tr, va, te = make_split(y, "random-60-20-20", seed=7)
    assert (int(tr.sum()), int(va.sum()), int(te.sum())) == (60, 20, 20)
    tr2, _, _ = make_split(y, "random-60-20-20", seed=7)
    assert torch.equal(tr, tr2)
    with pytest.raises(DatasetError, match="empty"):
        make_split(torch.zeros(30, dtype=torch.long), "random-20-per-class")


# --------------------------------------------------------------------------------------------------------
# karate (no files) and graph_stats
# --------------------------------------------------------------------------------------------------------


def test_karate_needs_no_data(tmp_path, monkeypatch, io_watch):
    monkeypatch.delenv("LPGNAS_DATA", raising=False)
    monkeypatch.setenv("LPGNAS_CACHE", str(tmp_path / "cache"))
    with io_watch(tmp_path) as w:
        ds = load_dataset("Karate")
    assert w.network == [] and w.writes == []
    assert ds.name == "karate" and ds.split == "random-60-20-20"
    assert (ds.num_nodes, ds.num_edges, ds.num_features, ds.num_classes) == (34, 156, 34, 2)
    assert torch.equal(ds.x, torch.eye(34))
    assert ds.y[0] == 0 and ds.y[33] == 1  # Mr. Hi's club, the officer's club
    assert ds.split_sizes() == (20, 6, 8)
    _check_masks(ds)
    st = ds.stats()
    assert st.is_undirected and st.max_degree == 17 + 1  # node 33 has 17 neighbours, plus its self loop
    again = load_dataset("karate")
    assert torch.equal(ds.train_mask, again.train_mask)
    other = load_dataset("karate", seed=1)
    assert not torch.equal(ds.train_mask, other.train_mask)
    assert not (tmp_path / "cache").exists()
    data = ds.to_pyg()
    assert data.num_nodes == 34 and data.edge_index is ds.edge_index


def test_graph_stats_small_graph():
    # 0-1, 1-2 undirected, a self loop on 2, node 3 isolated
    ei = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])
    x = torch.tensor([[1.0, 0.0], [0.0, 0.0], [2.0, 3.0], [0.0, 0.0]])
    st = graph_stats(ei, 4, x)
    assert st.num_nodes == 4 and st.num_edges == 5 and st.num_self_loops == 1
    assert st.num_edges_with_self_loops == 4 + 4
    assert st.degree_histogram == {1: 1, 2: 2, 3: 1}  # node 3: 1, nodes 0/2: 2, node 1: 3
    assert (st.max_degree, st.min_degree, st.mean_degree) == (3, 1, 2.0)
    assert st.is_undirected
    assert st.num_features == 2 and st.feature_density == pytest.approx(3 / 8)
    d = st.to_dict()
    assert d["degree_histogram"] == {"1": 1, "2": 2, "3": 1}
    import json

    json.dumps(d)

    directed = graph_stats(torch.tensor([[0, 0], [1, 2]]), 3)
    assert not directed.is_undirected
    assert directed.degree_histogram == {1: 1, 2: 2}
    assert directed.feature_density is None
    with pytest.raises(ValueError):
        graph_stats(torch.tensor([[0], [5]]), 3)


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LPGNAS_CACHE", str(tmp_path / "c"))
    assert dsm.cache_dir() == tmp_path / "c" / "datasets"
    monkeypatch.delenv("LPGNAS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dsm.cache_dir() == tmp_path / "xdg" / "lpgnas" / "datasets"


def test_readonly_permissions_really_applied(tmp_path):
    """Sanity check of the helper used above (as root, chmod does not stop writes: hence io_watch)."""
    root = tmp_path / "src"
    (root / "X" / "raw").mkdir(parents=True)
    (root / "X" / "raw" / "f").write_text("1")
    ro = _readonly_copy(root, tmp_path / "ro", "X")
    try:
        mode = (ro / "X" / "raw" / "f").stat().st_mode
        assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    finally:
        _make_writable(ro)


def test_feature_preprocessing_modes():
    x = torch.tensor([[1.0, 0.0, 3.0], [0.0, 0.0, 0.0], [2.0, 2.0, 0.0]])
    row = dsm.preprocess_features(x, "row")
    assert torch.allclose(row.sum(1), torch.tensor([1.0, 0.0, 1.0]))  # a row of zeros stays zero
    assert torch.allclose(row[0], torch.tensor([0.25, 0.0, 0.75]))
    centred = dsm.preprocess_features(x, "center")
    assert torch.allclose(centred.mean(0), torch.zeros(3), atol=1e-7)
    assert torch.allclose(centred[0], torch.tensor([0.0, -2 / 3, 2.0]))
    assert dsm.preprocess_features(x, "raw") is x
    with pytest.raises(DatasetError, match="row, center, raw"):
        dsm.preprocess_features(x, "zscore")


def test_feature_mode_defaults_and_records():
    assert [dsm.resolve_feature_mode("auto", n) for n in ("Cora", "photo", "Computers", "CS", "Physics", "karate")] == [
        "row", "center", "center", "raw", "raw", "row"]
    assert dsm.resolve_feature_mode("raw", "Cora") == "raw"
    with pytest.raises(DatasetError, match="auto or one of"):
        dsm.resolve_feature_mode("rows", "Cora")
    assert dsm.recorded_feature_mode({"dataset": "Photo", "features": "auto"}) == "center"
    # IRs written before the ``features`` field recorded a flag
    assert dsm.recorded_feature_mode({"normalize_features": True}) == "row"
    assert dsm.recorded_feature_mode({"normalize_features": False}) == "raw"
    assert dsm.recorded_feature_mode({}) == "raw"
