"""The EIE engine against the paper (Han et al., EIE, ISCA 2016, Tables III-IV, Sec. VI) and its
error handling. Figures come from the bundled eie arch and eie_benchmarks workload (seed 0)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.api import simulate
from simulator.cli.main import main
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch, load_workload

US_PER_CYCLE = 1 / 800          # 800 MHz


def subset(names: list[str]):
    wl = load_workload("eie_benchmarks")
    data = wl.model_dump(exclude_none=True)
    data["layers"] = [l for l in data["layers"] if l["name"] in names]
    return workload_from_dict(data, wl.source)


@pytest.fixture(scope="module")
def base():
    return {l.name: l for l in simulate("eie", "eie_benchmarks").layers}


ALEX = ["Alex-6", "Alex-7", "Alex-8"]


@pytest.mark.parametrize("name, paper_actual_us, paper_theory_us", [
    # EIE Table IV, 64 PEs: actual / theoretical (perfect balance) latency
    ("Alex-6", 30.3, 28.1),
    ("Alex-7", 12.2, 11.7),
])
def test_alexnet_fc6_fc7_within_15_percent(base, name, paper_actual_us, paper_theory_us):
    layer = base[name]
    assert layer.cycles * US_PER_CYCLE == pytest.approx(paper_actual_us, rel=0.15)
    theory = layer.engine_fields()["theoretical_cycles"] * US_PER_CYCLE
    assert theory == pytest.approx(paper_theory_us, rel=0.15)


def test_padding_explains_the_gap_to_the_naive_estimate(base):
    # naive nnz x act density / (64 x 800 MHz) = 23.3 us for Alex-6; 64-row slices at 9 %
    # need 1.11 pads per 5.76 non-zeros (closed form, test_sparse_model) -> +19.3 % -> 27.8 us,
    # against the paper's 28.1 us at perfect balance.
    fields = base["Alex-6"].engine_fields()
    assert fields["no_padding_cycles"] * US_PER_CYCLE == pytest.approx(23.3, rel=0.01)
    assert fields["padding_overhead"] == pytest.approx(0.193, abs=0.01)
    assert fields["theoretical_cycles"] * US_PER_CYCLE == pytest.approx(27.8, rel=0.01)


def test_alexnet_fc8_has_no_padding(base):
    # 1000 rows on 64 PEs: slices of at most 16 rows cannot hold a run of 16 zeros before a
    # non-zero, so perfect balance = nnz x act / 64 = 1000 x 4096 x 0.25 x 0.375 / 64 / 800
    # = 7.5 us (the paper reports 8.9 us for the one input vector its authors simulated, 42.9 %
    # non-zero; on their matrix and vector the model gives 8.84 us: reports/eie_validation).
    fields = base["Alex-8"].engine_fields()
    assert fields["padding_overhead"] == 0
    assert fields["theoretical_cycles"] * US_PER_CYCLE == pytest.approx(7.5, rel=0.01)


def test_alexnet_fc8_actual_and_balance(base):
    # Actual time = perfect balance / efficiency. With the calibrated row-density spread
    # (row_density_cv 0.125, reports/eie_validation/calibrate_row_cv.py) the efficiency is
    # 0.89, the paper's is 8.9 / 9.9 = 0.899; so 7.5 / 0.89 = 8.45 us, -14.7 % from 9.9 us.
    # (The remaining gap is Table III's average activation density against the one input
    # Table IV timed: reports/eie_validation/authors_data.md.)
    layer = base["Alex-8"]
    assert layer.engine_fields()["load_balance_efficiency"] == pytest.approx(0.899, abs=0.02)
    assert layer.cycles * US_PER_CYCLE == pytest.approx(8.45, rel=0.02)
    assert layer.cycles * US_PER_CYCLE == pytest.approx(9.9, rel=0.15)


def test_bernoulli_rows_balance_better_than_the_paper():
    # row_density_cv = 0 (i.i.d. weights): a PE's 16 rows of Alex-8 hold binomial counts, so the
    # PEs balance better than the paper's measured 0.899: ours 0.92, 8.1 us. This is why the
    # default spreads row densities (docs/models/sparse.md, "Matrices").
    layer = simulate(load_arch("eie", ["row_density_cv=0"]), subset(["Alex-8"])).layers[0]
    assert layer.engine_fields()["load_balance_efficiency"] == pytest.approx(0.92, abs=0.01)
    assert layer.cycles * US_PER_CYCLE == pytest.approx(8.1, rel=0.02)


def test_queue_depth_trend():
    wl = subset(ALEX)
    runs = {d: {l.name: l for l in simulate(load_arch("eie", [f"queue_depth={d}"]), wl).layers}
            for d in (1, 8, 16)}
    for name in ("Alex-6", "Alex-7"):
        # EIE Sec. VI: depth 1 leaves about half the cycles idle (ours: 53 % busy)
        busy = runs[1][name].engine_fields()["pe_busy_fraction"]
        assert 0.45 <= busy <= 0.6
        assert runs[1][name].cycles / runs[8][name].cycles == pytest.approx(1.84, abs=0.1)
    for name in ALEX:
        # beyond 8 the gain is marginal: depth 16 saves under 3 %
        assert runs[16][name].cycles >= 0.97 * runs[8][name].cycles


def test_256_pes_about_3x_on_alexnet():
    wl = subset(ALEX)
    p64 = simulate("eie", wl).layers
    p256 = simulate(load_arch("eie", ["pes=256"]), wl).layers
    speedups = [a.cycles / b.cycles for a, b in zip(p64, p256)]
    # EIE Sec. VI: ~3.25x. Ours: 3.67, 3.67, 2.90 (fewer padding zeros with 16-row slices,
    # worse balance); mean 3.4
    assert np.mean(speedups) == pytest.approx(3.4, abs=0.25)
    assert all(2.5 < s < 4.0 for s in speedups)


def test_nt_we_balances_worst(base):
    eff = {n: l.engine_fields()["load_balance_efficiency"] for n, l in base.items()}
    assert min(eff, key=eff.get) == "NT-We"
    # 600 rows / 64 PEs at 10 %: 0.94 entries per broadcast, so the one-pointer-read-per-column
    # floor and the one-broadcast-per-cycle rate dominate: ~65 % vs >= 90 % for the others
    assert eff["NT-We"] == pytest.approx(0.645, abs=0.03)
    assert all(v > 0.88 for n, v in eff.items() if n != "NT-We")


def test_spmat_reads_dominate_energy(base):
    # EIE Sec. VI PE power: Spmat read 54.1 % > pointer 19.7 % > arithmetic 12.7 % ...
    for name in ALEX:
        split = base[name].energy_breakdown_pj
        assert max(split, key=split.get) == "spmat_read"
        assert split["spmat_read"] / sum(split.values()) > 0.5


def test_counts_are_consistent(base):
    layer = base["Alex-6"]
    f = layer.engine_fields()
    # one pointer pair per PE per broadcast; 3235 = round(0.351 x 9216) non-zero inputs
    assert f["broadcasts"] == 3235
    assert f["pointer_reads"] == 64 * 3235
    # each processed entry sits in some 64-bit word: words >= entries / 8
    entries = f["theoretical_cycles"] * 64
    assert f["spmat_reads"] >= entries / 8 - 64
    assert f["fits_on_chip"] and layer.dram_read_bytes == 0
    assert f["dense_baseline"]["speedup"] > 8


def test_vgg6_pointers_spill_into_free_spmat_words():
    result = simulate("eie", subset(["VGG-6"]))
    layer = result.layers[0]
    f = layer.engine_fields()
    # 25,089 16-bit column pointers = 50,178 B per PE > 32 KB pointer SRAM, which holds 16,384.
    # The other 8,705 pack 4 to a 64-bit Spmat word: ceil(8705 / 4) = 2,177 words = 17,416 B,
    # and the entries leave room (103,328 B + 17,416 B <= 131,072 B), so nothing goes to DRAM.
    assert f["pointer_bytes_per_pe"] == 50178
    assert f["pointers_in_spmat_bytes_per_pe"] == 17416
    assert f["spmat_bytes_per_pe_max"] + 17416 <= 131072
    assert f["fits_on_chip"] and layer.dram_read_bytes == 0
    assert any("Spmat words" in w for w in result.warnings)
    # columns 16,383.. have a spilled pointer: a pair in one word (3 in 4 columns) or two,
    # so each broadcast column there costs 1.25 words per PE on average; about 35 % of the
    # 4,591 broadcast columns (18.3 % of 25,088) lie there
    assert f["pointer_spmat_reads"] / 64 == pytest.approx(4591 * 8705 / 25088 * 1.25, rel=0.05)
    # the spilled reads share the Spmat port with the entries but rarely lengthen a column:
    # perfect balance 22.9 us, actual within 15 % of it
    assert f["theoretical_cycles"] * US_PER_CYCLE == pytest.approx(22.9, rel=0.01)
    assert layer.cycles <= 1.15 * f["theoretical_cycles"]


def test_vgg6_pointers_stream_from_dram_when_asked():
    result = simulate(load_arch("eie", ["pointer_overflow=dram"]), subset(["VGG-6"]))
    layer = result.layers[0]
    # the 50,178 - 32,768 = 17,410 B per PE that do not fit stream in for the input vector
    assert layer.dram_read_bytes == 64 * (50178 - 32768)
    assert not layer.engine_fields()["fits_on_chip"]
    assert any("do not fit" in w for w in result.warnings)


def test_host_layers_and_conv_rejection(tmp_path, capsys):
    ok = workload_from_dict({"name": "t", "layers": [
        {"name": "fc", "type": "linear", "input": [256], "out_features": 128,
         "weight_density": 0.2, "activation_density": 0.5},
        {"name": "relu", "type": "activation", "function": "relu"}]})
    layers = simulate("eie", ok).layers
    assert layers[1].cycles == 0 and layers[1].engine_fields()["executed_on"] == "host"
    bad = tmp_path / "conv.yaml"
    bad.write_text("name: c\nlayers:\n  - {name: conv1, type: conv, input: [3, 8, 8], "
                   "out_channels: 4, kernel: 3}\n")
    assert main(["run", "eie", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "conv1" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("density", ["1.5", "0", "-0.1"])
def test_bad_density_is_one_line(tmp_path, capsys, density):
    path = tmp_path / "w.yaml"
    path.write_text(f"name: w\nlayers:\n  - {{name: fc, type: linear, input: [64], "
                    f"out_features: 32, weight_density: {density}}}\n")
    assert main(["run", "eie", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "weight_density" in err and len(err.splitlines()) == 1


def test_index_bits_zero_is_one_line(capsys):
    assert main(["run", "eie", "eie_benchmarks", "--set", "index_bits=0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "index_bits" in err and len(err.splitlines()) == 1


def test_weights_file_shape_mismatch_is_one_line(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.ones((10, 20)))
    path = tmp_path / "w.yaml"
    path.write_text("name: w\nlayers:\n  - {name: fc, type: linear, input: [16], "
                    "out_features: 8, weights_file: w.npy}\n")
    assert main(["run", "eie", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "[8, 16]" in err and len(err.splitlines()) == 1


def test_missing_weights_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text("name: w\nlayers:\n  - {name: fc, type: linear, input: [16], "
                    "out_features: 8, weights_file: nope.npz}\n")
    assert main(["run", "eie", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not found" in err and len(err.splitlines()) == 1


def test_the_matrices_of_a_weight_matmul_share_the_sram():
    # 4 matrices of 1024 x 4096 at 25 %: one needs 1024 x 4096 x 0.25 / 64 = 16,384 entries
    # (16 KB, 16 rows per PE: no padding) per PE and fits; four need 64 KB: still fit. Sixteen
    # need 256 KB > 128 KB per PE, so the excess streams from DRAM, each product its matrix's
    # share of it
    def run(count):
        wl = workload_from_dict({"name": "m", "layers": [
            {"name": "mm", "type": "matmul", "m": 1, "k": 4096, "n": 1024, "count": count,
             "weights": True, "weight_density": 0.25, "activation_density": 0.5}]})
        return simulate("eie", wl).layers[0]
    four, sixteen = run(4), run(16)
    assert four.engine_fields()["fits_on_chip"] and four.dram_read_bytes == 0
    f = sixteen.engine_fields()
    assert not f["fits_on_chip"]
    # the busiest PE of the first matrix, times 16 (rows spread: its PE holds a few % more)
    assert 16 * 16384 <= f["spmat_bytes_per_pe_max"] <= 1.1 * 16 * 16384
    assert sixteen.dram_read_bytes == f["overflow_bytes"] * 16 // 16
