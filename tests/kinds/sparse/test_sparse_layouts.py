"""The layout memo and the memory limits of the sparse engine
(simulator/kinds/sparse/layouts.py; docs/models/sparse.md, "Speed and memory")."""

from __future__ import annotations

import tracemalloc

import pytest

from simulator.api import simulate
from simulator.cli.main import main
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.dse.sparse_study import study
from simulator.io.load import load_arch
from simulator.kinds.sparse import layouts
from simulator.kinds.sparse.layouts import MAX_SLICES, ByteBoundedMemo, check_size

# small but varied: a dispersed random matrix, two matrices of one matmul, a dense layer and
# a layer with more local rows than registers (3 output passes on 64 PEs)
WORKLOAD = workload_from_dict({"name": "memo", "layers": [
    {"name": "fc", "type": "linear", "input": [1024], "out_features": 512,
     "weight_density": 0.2, "activation_density": 0.4},
    {"name": "mm", "type": "matmul", "m": 2, "k": 256, "n": 300, "weights": True, "count": 2,
     "weight_density": 0.3, "activation_density": 0.5},
    {"name": "full", "type": "linear", "input": [128], "out_features": 64,
     "weight_density": 1.0, "activation_density": 0.5},
    {"name": "tall", "type": "linear", "input": [96], "out_features": 9000,
     "weight_density": 0.1, "activation_density": 1.0}]})


def results(*overrides: str) -> list[dict]:
    run = simulate(load_arch("eie", list(overrides)), WORKLOAD)
    return [layer.model_dump() for layer in run.layers] + [run.totals.model_dump()]


@pytest.fixture
def fresh_memo():
    layouts.MEMO.clear()
    yield layouts.MEMO
    layouts.MEMO.clear()


def test_cached_and_uncached_runs_are_identical(fresh_memo, monkeypatch):
    configs = [("queue_depth=8",), ("queue_depth=1",), ("pes=16",), ("row_density_cv=0",)]
    with monkeypatch.context() as patch:
        patch.setattr(fresh_memo, "budget_bytes", 0)          # keeps nothing
        uncached = {c: results(*c) for c in configs}
        assert fresh_memo.info()["items"] == 0
    for c in configs + configs[::-1]:                          # cold, then warm, any order
        assert results(*c) == uncached[c]
    assert fresh_memo.info()["hits"] > 0


def test_a_queue_depth_study_builds_each_matrix_and_layout_once(fresh_memo):
    study("eie", WORKLOAD, "queue_depth", [1])
    first = fresh_memo.info()
    # per run: 4 dense layouts (one per layer) and 4 random layouts (fc, tall and the 2
    # matrices of mm; full is dense); the first run also draws the 4 random matrices
    assert first["misses"] == 4 + 4 + 4 and first["hits"] == 0
    study("eie", WORKLOAD, "queue_depth", [2, 4, 8])
    after = fresh_memo.info()
    assert after["misses"] == first["misses"]
    assert after["hits"] == 3 * (4 + 4)


def test_a_pes_change_reuses_the_matrices(fresh_memo):
    results("pes=64")
    results("pes=32")
    info = fresh_memo.info()
    # second run: 8 new layouts (4 dense + 4 random) built from the 4 kept matrices
    assert info["misses"] == (4 + 4 + 4) + (4 + 4) and info["hits"] == 4


def test_memo_keeps_the_most_recently_used_within_its_budget():
    memo = ByteBoundedMemo(100)
    size = len
    memo.get(("a",), lambda: "x" * 40, size)
    memo.get(("b",), lambda: "y" * 40, size)
    memo.get(("a",), lambda: "never built", size)             # hit: a is now the newest
    memo.get(("c",), lambda: "z" * 40, size)                  # 120 > 100: evicts b
    assert memo.info()["items"] == 2 and memo.info()["bytes"] == 80
    assert memo.get(("b",), lambda: "rebuilt", size) == "rebuilt"
    assert memo.get(("huge",), lambda: "w" * 101, size) == "w" * 101   # returned, not kept
    assert ("huge",) not in memo._items


def test_limits_by_hand():
    # VGG-6 on 256 PEs, the largest bundled case: 4096 rows -> 16 local rows, one output pass,
    # 1 x 256 x 25,088 = 6,422,528 slices <= 2^23
    check_size("VGG-6", 4096, 25088, 256, 64, 4_091_442)
    # 100k x 100k on 64 PEs: 1,563 local rows -> 25 passes of 64; 25 x 64 x 100,000
    # = 160,000,000 slices > 8,388,608
    with pytest.raises(NpusimError, match="160,000,000 CSC slices"):
        check_size("fc", 100_000, 100_000, 64, 64, 10**9)
    assert MAX_SLICES == 8_388_608


def test_huge_linear_layer_is_refused_in_one_line_without_allocating(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text("name: huge\nlayers:\n  - {name: fc_huge, type: linear, input: [100000], "
                    "out_features: 100000, weight_density: 0.1, activation_density: 0.3}\n")
    tracemalloc.start()
    try:
        assert main(["run", "eie", str(path)]) == 2
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "fc_huge" in err and "8,388,608" in err and "split the layer" in err
    assert peak < 64 << 20            # the old engine allocated 1.8 GiB of coordinates first
