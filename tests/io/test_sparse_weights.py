"""User weight files (.npy / .npz / scipy sparse .npz) and k-means weight sharing (the
sparse-study command: tests/dse/test_sparse_study.py)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.api import simulate
from simulator.io.load import load_arch, load_workload
from simulator.kinds.sparse.matrices import codebook_error, kmeans_codebook

LAYER = ("name: w\nlayers:\n  - {{name: fc, type: linear, input: [96], out_features: 64, "
         "activation_density: 1.0, weights_file: {file}}}\n")


def pruned(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(64, 96))
    w[np.abs(w) < 1.3] = 0          # keeps ~19 %
    return w


def run_file(tmp_path, file: str, arch_overrides: list[str] | None = None):
    path = tmp_path / "w.yaml"
    path.write_text(LAYER.format(file=file))
    return simulate(load_arch("eie", arch_overrides), load_workload(path)).layers[0]


def test_dense_npy_counts(tmp_path):
    w = pruned()
    np.save(tmp_path / "w.npy", w)
    layer = run_file(tmp_path, "w.npy")
    # every input is non-zero, so every stored non-zero is one useful MAC
    assert layer.macs == np.count_nonzero(w)
    f = layer.engine_fields()
    assert f["weight_density_actual"] == pytest.approx(np.count_nonzero(w) / w.size)
    # 64 rows on 64 PEs: one row per PE, so a slice holds 0 or 1 entries: no padding; the
    # pointer-read floor makes each of the 96 broadcasts cost 1 cycle on every PE:
    # 96 broadcasts + 1 cycle of broadcast latency
    assert f["padding_overhead"] == 0
    assert layer.cycles == 97


def test_single_bank_pointer_sram_takes_two_cycles_per_column(tmp_path):
    # As above, but with one pointer bank the two pointers of a column take two reads, so every
    # broadcast costs 2 cycles on each PE (a slice holds at most 1 entry): with queues never
    # full, PE finish times are 1 + 2, then + 2 per broadcast: 3 + 95 x 2 = 193 cycles
    w = pruned()
    np.save(tmp_path / "w.npy", w)
    layer = run_file(tmp_path, "w.npy", ["pointer_banks=1"])
    assert layer.cycles == 193


def test_sparse_npz_formats_match_dense(tmp_path):
    sparse = pytest.importorskip("scipy.sparse")
    w = pruned()
    np.save(tmp_path / "w.npy", w)
    sparse.save_npz(tmp_path / "csr.npz", sparse.csr_matrix(w))
    sparse.save_npz(tmp_path / "csc.npz", sparse.csc_matrix(w))
    np.savez(tmp_path / "named.npz", weight=w, other=np.zeros(3))
    ref = run_file(tmp_path, "w.npy", ["pes=4"])
    for name in ("csr.npz", "csc.npz", "named.npz"):
        layer = run_file(tmp_path, name, ["pes=4"])
        assert layer.cycles == ref.cycles
        assert layer.engine_fields()["entries_per_pe"] == ref.engine_fields()["entries_per_pe"]


def test_weight_sharing_error(tmp_path):
    w = pruned()
    np.save(tmp_path / "w.npy", w)
    f = run_file(tmp_path, "w.npy", ["weight_sharing=true"]).engine_fields()
    # 16 shared values for |w| > 1.3 of a unit normal: a small error (Deep Compression: 4 bits
    # suffice for FC layers)
    assert f["codebook_entries"] == 16
    assert 0 < f["codebook_relative_error"] < 0.05


def test_kmeans_exact_on_few_levels():
    values = np.repeat([-2.0, -0.5, 0.5, 3.0], 10)
    centers, quantized = kmeans_codebook(values, 16)
    assert np.allclose(quantized, values)
    assert codebook_error(values, 4)["codebook_rms_error"] == pytest.approx(0.0, abs=1e-12)
    # two clusters, linear init at -2 and 3 (edge 0.5): {-2, -0.5, 0.5} -> -2/3 and {3} -> 3,
    # a fixed point (new edge 7/6); errors 4/3, 1/6, 7/6, 0 (better than {-2,-.5},{.5,3}: 1.03)
    assert codebook_error(values, 2)["codebook_rms_error"] == pytest.approx(
        np.sqrt(((4 / 3) ** 2 + (1 / 6) ** 2 + (7 / 6) ** 2) / 4))
