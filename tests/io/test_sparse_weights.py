"""User weight files (.npy / .npz / scipy sparse .npz) and k-means weight sharing (the
sparse-study command: tests/dse/test_sparse_study.py)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.api import simulate
from simulator.cli.main import main
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


# ---- measured inputs -------------------------------------------------------------------------
def test_measured_inputs_replace_the_random_positions(tmp_path):
    w = pruned()
    x = np.zeros(96)
    x[[3, 10, 50, 95]] = 1.5          # 4 of 96 inputs fire
    np.savez(tmp_path / "wx.npz", weight=w, activations=x)
    layer = run_file(tmp_path, "wx.npz")
    f = layer.engine_fields()
    assert f["broadcasts"] == 4 and f["activation_density_actual"] == pytest.approx(4 / 96)
    assert "measured" in f["input_source"]
    # the useful MACs are exactly the non-zeros of those four columns
    assert layer.macs == np.count_nonzero(w[:, [3, 10, 50, 95]])


def test_measured_inputs_of_the_wrong_length_are_one_line(tmp_path, capsys):
    np.savez(tmp_path / "wx.npz", weight=pruned(), activations=np.ones(95))
    path = tmp_path / "w.yaml"
    path.write_text(LAYER.format(file="wx.npz"))
    assert main(["run", "eie", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "95" in err and "96" in err


# ---- hostile files (issue 15): one line, exit 2, no traceback, bounded memory ---------------
def _scipy_arrays(**changes):
    arrays = {"format": np.array(b"csr"), "shape": np.array([64, 96]),
              "data": np.ones(3), "indices": np.array([0, 5, 7]),
              "indptr": np.array([0, 2, 3] + [3] * 62)}
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if v is not None}


def _huge_header_npy(path):
    # a valid header declaring 10^9 x 10^9 float64 elements (8 EB), followed by 16 bytes
    with open(path, "wb") as fp:
        np.lib.format.write_array_header_1_0(
            fp, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)})
        fp.write(b"\0" * 16)


HOSTILE = {
    "object array in an npz": (
        lambda p: np.savez(p, weight=np.array([[1, "a"]], dtype=object)), "Python objects"),
    "object array in an npy": (
        lambda p: np.save(p, np.array([[None]], dtype=object), allow_pickle=True),
        "Python objects"),
    "complex weights": (lambda p: np.save(p, np.ones((64, 96), dtype=complex)), "real numbers"),
    "string weights": (lambda p: np.save(p, np.full((64, 96), "x")), "real numbers"),
    "header of 10^18 elements": (_huge_header_npy, "declares"),
    "a 0-d array": (lambda p: np.save(p, np.float64(3.0)), "0 dimensions"),
    "scipy without indptr": (lambda p: np.savez(p, **_scipy_arrays(indptr=None)), "'indptr'"),
    "scipy 0-d shape": (lambda p: np.savez(p, **_scipy_arrays(shape=np.array(5))), "shape"),
    "scipy negative indptr": (
        lambda p: np.savez(p, **_scipy_arrays(indptr=np.array([0, -1, 3] + [3] * 62))),
        "indptr"),
    "scipy indices out of range": (
        lambda p: np.savez(p, **_scipy_arrays(indices=np.array([0, 5, 96]))), "outside"),
    "scipy object format": (
        lambda p: np.savez(p, **_scipy_arrays(format=np.array([{"a": 1}], dtype=object))),
        "Python objects"),
    "scipy bsr": (lambda p: np.savez(p, **_scipy_arrays(format=np.array("bsr"))), "bsr"),
    "not a zip": (lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), "cannot read"),
    "NaN weights": (lambda p: np.save(p, np.full((64, 96), np.nan)), "NaN"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_weight_files_are_one_line_and_exit_2(tmp_path, capsys, case):
    make, needle = HOSTILE[case]
    suffix = ".npy" if "npy" in case or case in (
        "complex weights", "string weights", "header of 10^18 elements", "a 0-d array",
        "NaN weights") else ".npz"
    target = tmp_path / f"bad{suffix}"
    make(target)
    path = tmp_path / "w.yaml"
    path.write_text(LAYER.format(file=target.name))
    assert main(["run", "eie", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err and target.name in err and "weights_file" in err


def test_an_oversized_npz_member_is_refused_from_its_header(tmp_path, monkeypatch, capsys):
    from simulator.io import weights
    monkeypatch.setattr(weights, "MAX_ARRAY_BYTES", 1000)     # 64 x 96 x 8 B = 49,152 B
    np.savez(tmp_path / "big.npz", weight=pruned())
    path = tmp_path / "w.yaml"
    path.write_text(LAYER.format(file="big.npz"))
    assert main(["run", "eie", str(path)]) == 2
    assert "over the limit" in capsys.readouterr().err


def test_a_batch_of_a_million_is_a_closed_form():
    # 10^6 input vectors through one 512 x 256 layer: 8 simulated, the rest scaled, in well
    # under a second and without per-product memory
    import time

    from simulator.core.workload import workload_from_dict
    wl = workload_from_dict({"name": "b", "batch": 1_000_000, "layers": [
        {"name": "fc", "type": "linear", "input": [256], "out_features": 512,
         "weight_density": 0.1, "activation_density": 0.5}]})
    start = time.process_time()
    layer = simulate("eie", wl).layers[0]
    assert time.process_time() - start < 5
    f = layer.engine_fields()
    assert f["matrix_vector_products"] == 1_000_000 and f["simulated_products"] == 8
    # 128 of 256 inputs fire in every product: broadcasts scale exactly
    assert f["broadcasts"] == 128 * 1_000_000


def test_huffman_statistics_files_get_the_same_checks(tmp_path, capsys):
    # a compression block's Huffman weights_file goes through the same header checks
    _huge_header_npy(tmp_path / "huge.npy")
    path = tmp_path / "w.yaml"
    path.write_text("name: w\ncompression: {prune: 0.9, share: 16, layers: {fc: {huffman: "
                    "{weights_file: huge.npy}}}}\nlayers:\n  - {name: fc, type: linear, "
                    "input: [96], out_features: 64}\n")
    assert main(["run", "eie", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "declares" in err and "huge.npy" in err
