"""Compressed workloads on EIE (docs/models/sparse.md, "Compressed workloads"): pruning, weight
sharing, narrow weights and activations, relative-index widths and Huffman coding are read from
the layer fields and meet the arch's fixed widths; what does not fit is refused in one line."""

from __future__ import annotations

import pytest

from simulator import api
from simulator.cli.main import main
from simulator.compress import huffman, prune, quantize, share_weights
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch


def fc(**fields) -> dict:
    layer = {"name": "fc", "type": "linear", "input": [1024], "out_features": 512,
             "weight_density": 0.1, "activation_density": 0.4}
    layer.update(fields)
    return {"name": "w", "layers": [layer]}


def run(arch="eie", **fields):
    return api.simulate(arch, workload_from_dict(fc(**fields)))


def test_pruning_and_sharing_run_natively_and_name_their_format():
    layer = run(codebook_entries=16, codebook_bits=16, sparse_index_bits=8).layers[0]
    f = layer.engine_fields()
    assert f["codebook_entries"] == 16 and f["codebook_source"].startswith("layer")
    assert f["layer_index_bits"] == 8
    # relative indices of any width are re-encoded losslessly into the hardware's 4 bits:
    # the timing is the plain layer's
    assert layer.cycles == run().layers[0].cycles


def test_fewer_shared_values_leave_codebook_entries_empty():
    # 4 shared values need 2-bit indices: they fit the 16-entry codebook, same timing
    layer = run(codebook_entries=4, codebook_bits=16).layers[0]
    assert layer.engine_fields()["codebook_entries"] == 4
    assert layer.cycles == run().layers[0].cycles


@pytest.mark.parametrize("fields, needle", [
    ({"codebook_entries": 32}, "codebook_entries"),     # 5-bit indices, 4-bit codebook index
    ({"weight_bits": 8}, "weight_bits"),                # 256 levels, no sharing
])
def test_weights_the_codebook_cannot_address_are_refused_in_one_line(tmp_path, capsys, fields,
                                                                     needle):
    import yaml
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(fc(**fields)))
    assert main(["run", "eie", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "weight_index_bits" in err
    # an arch with a wider codebook index runs it
    assert main(["run", "eie", str(path), "--set", "weight_index_bits=8"]) == 0


def test_narrow_weights_cost_less_arithmetic_energy_not_time():
    wide = run().layers[0]
    narrow = run(weight_bits=4).layers[0]
    assert narrow.cycles == wide.cycles
    assert narrow.engine_fields()["mac_precision"] == "int16x4"
    # Horowitz 45 nm: int8 mult 0.2 pJ, int32 mult 3.1 pJ; a 16 x 16 multiply interpolates in
    # log-log to 0.2 x 2^(log(15.5)/log(4)) = 0.787 pJ, a 16 x 4 one costs as a sqrt(64) = 8-bit
    # square multiply, 0.2 pJ: 0.587 pJ less per entry (padding zeros too); the add is the
    # datapath's 16-bit accumulator either way
    entries = wide.engine_fields()["theoretical_cycles"] * 64      # no remainder here
    saved = wide.energy_breakdown_pj["arithmetic"] - narrow.energy_breakdown_pj["arithmetic"]
    assert saved / entries == pytest.approx(0.2 * 2 ** (0.5 * 3.9537) - 0.2, rel=0.01)


def test_narrow_activations_shrink_register_and_queue_energy():
    wide = run().layers[0]
    narrow = run(activation_bits=8).layers[0]
    assert narrow.cycles == wide.cycles
    assert narrow.engine_fields()["mac_precision"] == "int8x16"
    # destination read + write and the source read move 8 instead of 16 bits per value
    assert narrow.energy_breakdown_pj["activation_rw"] == pytest.approx(
        wide.energy_breakdown_pj["activation_rw"] / 2, rel=1e-9)
    assert narrow.energy_breakdown_pj["queue"] < wide.energy_breakdown_pj["queue"]


def test_mac_rates_scale_the_entries_per_cycle():
    arch = load_arch("eie", ["mac_rates={int16: 2.0, int16x4: 2.0}"])
    base = run().layers[0]
    fast = api.simulate(arch, workload_from_dict(fc())).layers[0]
    # two entries per PE per cycle: perfect balance halves (ceil(entries / (64 x 2)))
    entries = base.engine_fields()["theoretical_cycles"] * 64
    assert fast.engine_fields()["theoretical_cycles"] == -(-entries // 128)
    assert fast.cycles < base.cycles
    assert fast.utilization <= 1


def test_a_precision_missing_from_mac_rates_is_refused(capsys):
    assert main(["run", "eie", "eie_benchmarks", "--set", "mac_rates={int8: 1.0}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "mac_rates" in err and "int16" in err


def test_huffman_is_one_warning_line_and_changes_nothing_on_chip():
    net = workload_from_dict({"name": "w", "layers": [
        {"name": f"fc{i}", "type": "linear", "input": [512], "out_features": 512}
        for i in range(3)]})
    shared = share_weights(prune(net, 0.1), 16, value_bits=16)
    coded = huffman(shared)
    plain, with_code = api.simulate("eie", shared), api.simulate("eie", coded)
    assert [l.cycles for l in plain.layers] == [l.cycles for l in with_code.layers]
    assert plain.totals.energy_pj == with_code.totals.energy_pj
    lines = [w for w in with_code.warnings if "Huffman" in w]
    assert len(lines) == 1 and "fc0, fc1, fc2" in lines[0]


def test_a_float_codebook_is_held_at_the_codebook_width():
    # share_weights on a float model keeps 32-bit values; EIE's codebook holds 16-bit ones
    net = workload_from_dict(fc())
    result = api.simulate("eie", share_weights(net, 16))
    assert result.layers[0].engine_fields()["mac_precision"] == "int16"
    assert any("32-bit weight values are held as 16-bit" in w for w in result.warnings)


def test_deep_compression_alexnet_fc_layers_eie_vs_dense():
    # AlexNet FC6-8 pruned to Deep Compression's densities (9 %, 9 %, 25 %) with EIE's
    # activation densities, 4-bit shared weights: EIE runs them from SRAM, the dense ones
    # do not fit (FC6 alone is 9216 x 4096 x 1 B per entry = 590 KB per PE) and stream
    layers = [{"name": "fc6", "type": "linear", "input": [9216], "out_features": 4096},
              {"name": "fc7", "type": "linear", "out_features": 4096},
              {"name": "fc8", "type": "linear", "out_features": 1000}]
    dense = workload_from_dict({"name": "alexnet_fc", "layers": layers})
    pruned = prune(dense, {"fc6": 0.09, "fc7": 0.09, "fc8": 0.25},
                   activation_density={"fc6": 0.351, "fc7": 0.353, "fc8": 0.375})
    compressed = quantize(share_weights(pruned, 16, value_bits=16), weight_bits=4)
    eie_dense = api.simulate("eie", dense)
    eie_comp = api.simulate("eie", compressed)
    assert eie_dense.totals.dram_read_bytes > 0 and eie_comp.totals.dram_read_bytes == 0
    assert eie_dense.totals.cycles / eie_comp.totals.cycles > 20
    # the compressed FC layers are the paper's Alex-6/7/8 at 4-bit values: 28.8 + 12.9 + 8.4 us
    assert eie_comp.totals.latency_s * 1e6 == pytest.approx(50.4, rel=0.02)


def test_the_datapath_is_eies_and_nothing_else(capsys):
    arch = load_arch("eie")
    assert arch.datapath.zero_skipping == "both"
    assert sorted(arch.datapath.weight_decoders) == ["codebook", "sparse"]
    assert main(["run", "eie", "eie_benchmarks", "--set", "datapath.zero_skipping=none"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "datapath" in err
