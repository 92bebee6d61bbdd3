"""`--set dotted.path=value` overrides."""

import pytest

from simulator.core.errors import NpusimError
from simulator.io.load import load_arch
from simulator.io.overrides import apply_overrides, parse_override
from simulator.kinds.registry import arch_from_dict


def test_parse_override_reads_yaml_values():
    assert parse_override("array.rows=128") == (["array", "rows"], 128)
    assert parse_override("dram.bandwidth_gbps=12.5") == (["dram", "bandwidth_gbps"], 12.5)
    assert parse_override("memory.double_buffered=false") == (["memory", "double_buffered"], False)


def test_override_applies_and_validates():
    arch = load_arch("tpu_v1", ["array.rows=128", "array.cols=64", "dram.bandwidth_gbps=100"])
    assert (arch.array.rows, arch.array.cols, arch.dram.bandwidth_gbps) == (128, 64, 100)


@pytest.mark.parametrize("override, field", [
    ("array.rowz=128", "array.rowz"),
    ("array.rows=-4", "array.rows"),
    ("array.rows=abc", "array.rows"),
    ("array.dataflow=diagonal", "array.dataflow"),
])
def test_bad_overrides_name_the_field(override, field):
    with pytest.raises(NpusimError) as info:
        load_arch("tpu_v1", [override])
    assert info.value.field == field
    assert "tpu_v1.yaml" in info.value.one_line()


def test_override_syntax_error():
    with pytest.raises(NpusimError, match="dotted.path=value"):
        apply_overrides({}, ["rows128"], "x")


def test_unknown_kind_and_bundled_name():
    with pytest.raises(NpusimError, match="unknown arch kind"):
        arch_from_dict({"kind": "quantum", "name": "q"})
    with pytest.raises(NpusimError, match="no bundled arch"):
        load_arch("tpu_v9")
