"""Bad input through the real CLI entry point: exit status 2, exactly one line on stderr that
names the file and the field, and never a traceback. All of these fail while loading the arch
or the workload, before any engine runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli.main import main

CONV_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
               "Num Filter, Strides,\n")

GOOD_LAYER = "  - {name: c1, type: conv, out_channels: 8, kernel: 3}\n"


def workload(layers: str, head: str = "name: t\ninput: [3, 32, 32]\n") -> str:
    return head + "layers:\n" + layers


# (case id, file name, file text or None for "do not create", extra CLI args,
#  substrings the message must contain: the field and the gist)
CASES = [
    ("unknown_field", "w.yaml", workload("  - {name: c1, type: conv, out_channels: 8, kernel: 3, strid: 2}\n"),
     [], ["layers[0] (c1).strid", "unknown field"]),
    ("wrong_type", "w.yaml", workload("  - {name: c1, type: conv, out_channels: eight, kernel: 3}\n"),
     [], ["layers[0] (c1).out_channels", "integer"]),
    ("negative_size", "w.yaml", workload("  - {name: c1, type: conv, out_channels: -8, kernel: 3}\n"),
     [], ["layers[0] (c1).out_channels", "greater than 0"]),
    ("zero_batch", "w.yaml", workload(GOOD_LAYER, "name: t\nbatch: 0\ninput: [3, 32, 32]\n"),
     [], ["'batch'", "greater than 0"]),
    ("unknown_layer_type", "w.yaml", workload("  - {name: c1, type: convolution, out_channels: 8}\n"),
     [], ["layers[0] (c1)", "convolution"]),
    ("linear_in_features", "w.yaml",
     workload(GOOD_LAYER + "  - {name: fc, type: linear, in_features: 1000, out_features: 10}\n"),
     [], ["layers[1] (fc).in_features", "7200"]),
    ("add_shape_mismatch", "w.yaml",
     workload(GOOD_LAYER + "  - {name: c2, type: conv, out_channels: 8, kernel: 3}\n"
              "  - {name: s, type: add, inputs: [c1, c2]}\n"),
     [], ["layers[2] (s).inputs", "do not match"]),
    ("kernel_too_large", "w.yaml",
     workload("  - {name: c1, type: conv, out_channels: 8, kernel: 64}\n"),
     [], ["layers[0] (c1).kernel", "does not fit"]),
    ("unknown_input_name", "w.yaml",
     workload(GOOD_LAYER + "  - {name: s, type: add, inputs: [c1, shortcut]}\n"),
     [], ["layers[1] (s).inputs", "'shortcut'"]),
    ("bad_activation", "w.yaml",
     workload("  - {name: c1, type: conv, out_channels: 8, kernel: 3, activation: rleu}\n"),
     [], ["layers[0] (c1).activation", "rleu"]),
    ("unknown_defaults_type", "w.yaml",
     workload(GOOD_LAYER, "name: t\ninput: [3, 32, 32]\ndefaults: {cnov: {bias: true}}\n"),
     [], ["'defaults'", "cnov"]),
    ("malformed_yaml", "w.yaml", "name: t\nlayers:\n  - name: c1\n     type: conv\n",
     [], ["w.yaml", "malformed YAML at line 4"]),
    ("yaml_is_a_list", "w.yaml", "- name: c1\n- name: c2\n", [], ["w.yaml", "got a list"]),
    ("empty_yaml", "w.yaml", "", [], ["w.yaml", "file is empty"]),
    ("missing_file", "nothere.yaml", None, [], ["nothere.yaml", "file not found"]),
    ("malformed_csv", "t.csv", CONV_HEADER + "c1, 9, 9, 3, three, 4, 8, 1,\n",
     [], ["t.csv", "line 2 (c1).Filter Width", "'three'"]),
    ("empty_csv", "t.csv", "", [], ["t.csv", "file is empty"]),
    ("bad_set_path", "w.yaml", workload(GOOD_LAYER), ["--set", "array.rowz=3"],
     ["tpu_v1.yaml", "array.rowz", "unknown field"]),
    ("bad_set_value", "w.yaml", workload(GOOD_LAYER), ["--set", "array.rows=-1"],
     ["tpu_v1.yaml", "array.rows", "greater than 0"]),
    ("bad_set_syntax", "w.yaml", workload(GOOD_LAYER), ["--set", "array.rows"],
     ["--set", "dotted.path=value"]),
]


@pytest.mark.parametrize("case, name, text, extra, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_workload_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                            name: str, text: str | None, extra: list[str],
                            expected: list[str]) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    code = main(["run", "tpu_v1", str(path), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("npusim: error: ")
    for needle in expected:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


def write_arch(tmp_path: Path, text: str, name: str = "a.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


ARCH_CASES = [
    ("unknown_kind", "a.yaml", "name: a\nkind: photonic\nclock_mhz: 1\n",
     ["a.yaml", "field 'kind'", "photonic"]),
    ("missing_kind", "a.yaml", "name: a\nclock_mhz: 1\n", ["field 'kind'", "missing"]),
    ("zero_clock", "a.yaml",
     "name: a\nkind: systolic\nclock_mhz: 0\narray: {rows: 4, cols: 4}\n"
     "memory: {style: split, ifmap_sram_bytes: 1, filter_sram_bytes: 1, ofmap_sram_bytes: 1}\n"
     "dram: {bandwidth_gbps: 1}\n", ["field 'clock_mhz'", "greater than 0"]),
    ("bad_cfg", "s.cfg", "[architecture_presets]\nArrayHeight : 8\n",
     ["s.cfg", "[architecture_presets] ArrayWidth", "missing"]),
    ("empty_cfg", "s.cfg", "", ["s.cfg", "file is empty"]),
]


@pytest.mark.parametrize("case, name, text, expected", ARCH_CASES, ids=[c[0] for c in ARCH_CASES])
def test_bad_arch_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, name: str,
                        text: str, expected: list[str]) -> None:
    path = write_arch(tmp_path, text, name)
    code = main(["run", str(path), "resnet50"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in expected:
        assert needle in err, f"{needle!r} not in {err!r}"


def test_unknown_bundled_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "tpu_v1", "resnet51"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "resnet51" in err and "resnet50" in err
