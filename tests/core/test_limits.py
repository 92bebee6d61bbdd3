"""Limits of the config models (docs/formats.md, section 6): numbers are finite, never booleans,
integers at most 2^62, a layer's counts below 2^62; defaults name real fields. Each case is a
class of hostile input from issue 15 and must end in a one-line NpusimError naming the field."""

from __future__ import annotations

import copy
import math

import pytest

from simulator.core.errors import NpusimError
from simulator.core.layers import AdaptivePoolLayer
from simulator.core.limits import MAX_COUNT, MAX_INT
from simulator.core.workload import workload_from_dict
from simulator.kinds.registry import arch_from_dict

TPU = {"name": "t", "kind": "systolic", "clock_mhz": 700,
       "array": {"rows": 8, "cols": 8, "dataflow": "ws"},
       "memory": {"style": "split", "ifmap_sram_bytes": 4096, "filter_sram_bytes": 4096,
                  "ofmap_sram_bytes": 4096},
       "dram": {"bandwidth_gbps": 10}}


def net(**top) -> dict:
    data = {"name": "n", "input": [3, 16, 16],
            "layers": [{"name": "c1", "type": "conv", "out_channels": 4, "kernel": 3}]}
    data.update(top)
    return data


def arch_error(path: str, value) -> NpusimError:
    data = copy.deepcopy(TPU)
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    with pytest.raises(NpusimError) as info:
        arch_from_dict(data, "a.yaml")
    return info.value


@pytest.mark.parametrize("path, value, words", [
    ("clock_mhz", math.inf, "finite"),
    ("clock_mhz", math.nan, "finite"),
    ("clock_mhz", True, "boolean"),
    ("clock_mhz", 1e300, "less than or equal"),
    ("technology_nm", math.inf, "finite"),
    ("dram.latency_ns", math.inf, "finite"),
    ("dram.bandwidth_gbps", math.nan, "greater than or equal"),
    ("dram.bandwidth_gbps", 1e-300, "greater than or equal"),
    ("dram.energy_pj_per_bit", math.inf, "finite"),
    ("energy.overrides_pj", {"int8_mult": math.inf}, "finite"),
    ("energy.overrides_pj", {"int8_mult": -1.0}, "greater than 0"),
    ("array.rows", True, "boolean"),
    ("array.rows", 10**400, "401-digit integer"),
    ("array.rows", 10**30, "beyond the largest integer"),
    ("mac_rates", {"int8": True}, "boolean"),
    ("mac_rates", {"int8": 1e-300}, "greater than or equal"),
])
def test_arch_numbers_are_finite_plain_and_bounded(path, value, words):
    error = arch_error(path, value)
    assert error.file == "a.yaml" and error.field.startswith(path.split(".")[0])
    assert words in error.message
    assert len(error.one_line()) < 300 and "\n" not in error.one_line()
    assert "Value error" not in error.one_line() and "constrained" not in error.one_line()


def test_infinite_dram_bandwidth_is_an_ideal_memory():
    # documented (docs/formats.md, docs/models/tensorcore.md): .inf never stalls
    arch = arch_from_dict({**TPU, "dram": {"bandwidth_gbps": math.inf}})
    assert arch.dram_bytes_per_cycle == math.inf


@pytest.mark.parametrize("top, layer, field, words", [
    ({"batch": 10**400}, {}, "batch", "401-digit integer"),
    ({"batch": 10**30}, {}, "batch", "beyond the largest integer"),
    ({"batch": True}, {}, "batch", "boolean"),
    ({}, {"out_channels": True}, "layers[0] (c1).out_channels", "boolean"),
    ({}, {"kernel": [3, True]}, "layers[0] (c1).kernel", "boolean"),
    ({}, {"weight_density": math.nan}, "layers[0] (c1).weight_density", "finite"),
    ({"input": [3, 2**40, 2**40]}, {}, "layers[0] (c1)", "over the limit 2^62"),
    ({"batch": 2**52}, {}, "layers[0] (c1)", "over the limit 2^62"),
])
def test_workload_limits(top, layer, field, words):
    data = net(**top)
    data["layers"][0].update(layer)
    with pytest.raises(NpusimError) as info:
        workload_from_dict(data, "w.yaml")
    assert info.value.field == field and words in info.value.message
    assert info.value.file == "w.yaml"


def test_a_layer_just_inside_the_limit_loads():
    # 2^20 x 2^20 input pixels x 2^8 batch x 3 channels x 8 bytes = 3 x 2^51: within 2^62;
    # a 1x1 conv to 4 channels has 2^48 x 12 MACs, also within
    data = net(input=[3, 2**20, 2**20], batch=2**8)
    data["layers"][0]["kernel"] = 1
    workload = workload_from_dict(data)
    assert workload.macs == 2**8 * 2**40 * 3 * 4 < MAX_COUNT


def test_workload_totals_are_bounded():
    # each layer is within 2^62 MACs; 300 of them add up to more
    layer = {"type": "matmul", "m": 2**20, "k": 2**20, "n": 2**20, "weights": True}
    data = {"name": "n", "layers": [{**layer, "name": f"m{i}"} for i in range(5)]}
    with pytest.raises(NpusimError, match="add up to .* over the limit"):
        workload_from_dict(data)


def test_unknown_keys_in_defaults_are_refused_even_without_such_layers():
    with pytest.raises(NpusimError) as info:
        workload_from_dict(net(defaults={"linear": {"bais": True}}), "w.yaml")
    assert info.value.field == "defaults.linear.bais"
    assert "unknown field" in info.value.message and "spelling" in info.value.fix


def test_known_defaults_still_apply():
    workload = workload_from_dict(net(defaults={"conv": {"padding": 1}}))
    assert workload.layers[0].output_shape == (4, 16, 16)


def test_adaptive_pool_window_total_is_closed_form():
    def brute(size: int, out: int) -> int:
        return sum(-(-((i + 1) * size) // out) - (i * size) // out for i in range(out))

    for size in range(1, 40):
        for out in range(1, 40):
            assert AdaptivePoolLayer._window_total(size, out) == brute(size, out)
    # a huge output costs no time: 7 + 10^15 - 1
    assert AdaptivePoolLayer._window_total(7, 10**15) == 10**15 + 6


def test_max_int_is_accepted_one_more_is_not():
    data = copy.deepcopy(TPU)
    data["memory"]["ifmap_sram_bytes"] = MAX_INT
    assert arch_from_dict(data).memory.ifmap_sram_bytes == MAX_INT
    data["memory"]["ifmap_sram_bytes"] = MAX_INT + 1
    with pytest.raises(NpusimError, match="beyond the largest integer"):
        arch_from_dict(data)


def test_llm_config_blocks_are_bounded_before_the_workload_is_built():
    # 10^13 decoder blocks used to be expanded into layer dicts before any limit: MemoryError
    from simulator.llm.config import LlmConfig

    fields = {"name": "m", "layers": 10**13, "d_model": 64, "heads": 4, "ffn": 256,
              "vocab": 100, "max_context": 128}
    with pytest.raises(Exception) as info:
        LlmConfig.model_validate(fields)
    assert "less than or equal to 5000" in str(info.value)
