"""SCALE-Sim importers: topology CSVs (conv, GEMM) and .cfg files.

Expected numbers follow SCALE-Sim's own parsing (scalesim 3.0 topology_utils.py):
ofmap = ceil((H - R + s) / s) per axis on the already-padded IFMAP, MACs = Ho*Wo*R*S*C*F;
GEMM rows `name, M, N, K` become IFMAP M x K, filter 1 x K, N filters: M*N*K MACs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.bundled import arch_dir, workload_dir
from simulator.io.load import load_arch, load_workload
from simulator.io.scalesim import read_scalesim_cfg, read_scalesim_topology
from simulator.kinds.registry import arch_from_dict

CONV_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
               "Num Filter, Strides,\n")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_alexnet_topology() -> None:
    w = load_workload(workload_dir() / "scalesim" / "alexnet.csv")
    conv1 = w.layer("Conv1")
    # ceil((227 - 11 + 4) / 4) = 55; MACs = 55*55 * 11*11*3 * 96 = 105,415,200
    assert conv1.input_shape == (3, 227, 227) and conv1.output_shape == (96, 55, 55)
    assert conv1.macs == 105_415_200
    # Conv2: ceil((31 - 5 + 1) / 1) = 27 -> 27*27 * 25*96 * 256
    assert w.layer("Conv2").macs == 729 * 2400 * 256
    # FC6 as a 6x6 conv on 6x6: one output pixel
    assert w.layer("FC6").output_shape == (4096, 1, 1) and w.layer("FC6").macs == 9216 * 4096
    assert "already padded" in w.description


def test_conv_rows_map_padding_ceil_mode_and_depthwise(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", CONV_HEADER +
                 "c1, 9, 9, 3, 3, 4, 8, 2,\n"          # trailing comma, spaces
                 "c1_DP, 10, 10, 3, 3, 6, 1, 1\n"      # no trailing comma; DP = depthwise
                 "down, 8, 8, 1, 1, 4, 16, 2,\n"       # R < s: SCALE-Sim's rule differs
                 "c1, 5, 5, 1, 1, 4, 4, 1, 2:4,\n")    # duplicate name, 2:4 sparsity
    data = read_scalesim_topology(path)
    first = data["layers"][0]
    assert first == {"name": "c1", "type": "conv", "input": [4, 9, 9], "out_channels": 8,
                     "kernel": 3, "stride": 2, "padding": 0, "ceil_mode": True}
    w = workload_from_dict(data, path)
    # ceil((9 - 3 + 2) / 2) = 4
    assert w.layer("c1").output_shape == (8, 4, 4)
    dp = w.layer("c1_DP")
    # SCALE-Sim runs 6 single-channel layers of 1 filter: 6 * 8*8 * 9 MACs
    assert dp.groups == 6 and dp.output_shape == (6, 8, 8) and dp.macs == 6 * 64 * 9
    # ceil((8 - 1 + 2) / 2) = 5 (PyTorch's ceil_mode would give 4)
    assert w.layer("down").output_shape == (16, 5, 5)
    assert data["layers"][2]["ofmap_rule"] == "scalesim"
    assert w.layer("c1_2").weight_density == 0.5


def test_gemm_rows_are_m_by_k_times_k_by_n(tmp_path: Path) -> None:
    path = write(tmp_path, "g.csv", "Layer, M, N, K,\nfc, 10, 20, 30,\nqk, 4, 5, 6, 1:4,\n")
    w = load_workload(path)
    fc = w.layer("fc")
    assert (fc.m, fc.n, fc.k, fc.weights) == (10, 20, 30, True)
    assert fc.macs == 10 * 20 * 30
    assert fc.weight_params == 30 * 20
    assert fc.output_shape == (10, 20)
    assert w.layer("qk").weight_density == 0.25


def test_bundled_gemm_example() -> None:
    w = load_workload(workload_dir() / "scalesim" / "gemm_example.csv")
    assert w.layer("mlp_fc1").macs == 200 * 2000 * 2000


@pytest.mark.parametrize("text, field", [
    (CONV_HEADER + "c1, 9, 9, 3, 3, 4, 8,\n", "line 2.Strides"),
    (CONV_HEADER + "c1, 9, 9, 3, x, 4, 8, 1,\n", "line 2 (c1).Filter Width"),
    (CONV_HEADER + "c1, 9, -9, 3, 3, 4, 8, 1,\n", "line 2 (c1).IFMAP Width"),
    (CONV_HEADER + "c1, 9, 9, 3, 3, 0, 8, 1,\n", "line 2 (c1).Channels"),
    (CONV_HEADER + "c1, 2, 9, 3, 3, 4, 8, 1,\n", "line 2 (c1).Filter Height"),
    (CONV_HEADER + "c1, 9, 9, 3, 3, 4, 8, 1, 5:4,\n", "line 2 (c1).Sparsity"),
    (CONV_HEADER, None),
    ("Name, Foo, Bar,\nx, 1, 2,\n", "header"),
    ("Layer, M, N, K,\nfc, 10, 20,\n", "line 2.K"),
    ("Layer, M, N, K,\nfc, 10, 2.5, 3,\n", "line 2 (fc).N"),
    ("", None),
    ("\n  \n", None),
])
def test_malformed_topology(tmp_path: Path, text: str, field: str | None) -> None:
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(NpusimError) as err:
        read_scalesim_topology(path)
    assert err.value.file == str(path)
    assert err.value.field == field
    assert err.value.fix


def test_default_cfg() -> None:
    # SCALE-Sim's default scale.cfg: 32x32 OS, 64 kB SRAMs, Bandwidth 10, CALC mode
    arch = load_arch(arch_dir() / "scalesim" / "scale.cfg")
    assert (arch.array.rows, arch.array.cols, arch.array.dataflow) == (32, 32, "os")
    assert arch.memory.style == "split"
    assert arch.memory.ifmap_sram_bytes == arch.memory.ofmap_sram_bytes == 64 * 1024
    # 10 one-byte words per cycle at the assumed 1 GHz = 10 GB/s
    assert arch.clock_mhz == 1000 and arch.dram.bandwidth_gbps == 10
    assert "CALC" in arch.description
    assert arch.name == "scale_example_run_32x32_os"


def test_v3_cfg_user_bandwidth() -> None:
    arch = load_arch(arch_dir() / "scalesim" / "tpu_like_ws.cfg", ["array.rows=128"])
    assert (arch.array.rows, arch.array.cols, arch.array.dataflow) == (128, 256, "ws")
    assert arch.memory.filter_sram_bytes == 6144 * 1024
    assert arch.dram.bandwidth_gbps == 32


GOOD_CFG = """[general]
run_name = t
[architecture_presets]
ArrayHeight : 8
ArrayWidth : 4
IfmapSramSzkB : 16
FilterSramSzkB : 16
OfmapSramSzkB : 8
Dataflow : ws
Bandwidth : 4
[run_presets]
InterfaceBandwidth : USER
"""


def test_good_cfg_round_trips_through_the_arch_model(tmp_path: Path) -> None:
    data = read_scalesim_cfg(write(tmp_path, "a.cfg", GOOD_CFG))
    arch = arch_from_dict(data)
    assert (arch.array.rows, arch.array.cols) == (8, 4)
    assert arch.memory.ofmap_sram_bytes == 8192 and arch.dram.bandwidth_gbps == 4


@pytest.mark.parametrize("text, field", [
    (GOOD_CFG.replace("ArrayHeight : 8\n", ""), "[architecture_presets] ArrayHeight"),
    (GOOD_CFG.replace("ArrayWidth : 4", "ArrayWidth : four"), "[architecture_presets] ArrayWidth"),
    (GOOD_CFG.replace("IfmapSramSzkB : 16", "IfmapSramSzkB : -16"),
     "[architecture_presets] IfmapSramSzkB"),
    (GOOD_CFG.replace("Dataflow : ws", "Dataflow : rs"), "[architecture_presets] Dataflow"),
    (GOOD_CFG.replace("Bandwidth : 4\n", ""), "[architecture_presets] Bandwidth"),
    (GOOD_CFG.replace("USER", "MAYBE"), "[run_presets] InterfaceBandwidth"),
    ("ArrayHeight : 8\n", "[architecture_presets]"),
    ("[general]\nrun_name = t\n", "[architecture_presets]"),
    ("", None),
])
def test_malformed_cfg(tmp_path: Path, text: str, field: str | None) -> None:
    path = write(tmp_path, "bad.cfg", text)
    with pytest.raises(NpusimError) as err:
        read_scalesim_cfg(path)
    assert err.value.file == str(path) and err.value.field == field and err.value.fix
