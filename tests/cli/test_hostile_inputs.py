"""Hostile and extreme input through the real CLI entry point (issue 15): one regression case
per class of failure. Bad input ends in exit status 2 and exactly one line naming the file (and
the field) that is wrong; a bug in npusim ends in exit status 1 and one line asking for a
report; nothing ends in a traceback, a hang or a silently accepted value."""

from __future__ import annotations

import importlib
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from simulator.cli.main import main
from helpers.onnx_builders import Builder

SMALL = ("name: t\ninput: [3, 16, 16]\nlayers:\n"
         "  - {name: c1, type: conv, out_channels: 8, kernel: 3}\n"
         "  - {name: fc, type: linear, out_features: 10}\n")
FC = ("name: w\nsource: \"Han et al., ISCA 2016\"\nlayers:\n"
      "  - {{name: fc, type: linear, input: [96], out_features: 64, weights_file: {file}}}\n")
CFG = ("[architecture_presets]\nArrayHeight : 8\nArrayWidth : 8\nIfmapSramSzkB : 64\n"
       "FilterSramSzkB : 64\nOfmapSramSzkB : 64\nDataflow : ws\nBandwidth : {bw}\n")
CONV_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
               "Num Filter, Strides,\n")


def npy_bytes(shape: tuple, data: bytes = b"\0" * 16, descr: str = "<f4") -> bytes:
    """A .npy file whose header declares `shape` whatever data follows (a hostile header)."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def sweep(vary: str, extra: str = "") -> str:
    return f"name: s\nbase: tpu_v1\nworkloads: [w.yaml]\nvary: {vary}\n{extra}"


def bomb_vary() -> str:
    lines = ["name: s", "base: tpu_v1", "workloads: [w.yaml]", "a: &a [8, 8, 8, 8, 8, 8, 8, 8]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines + ["vary: {array.rows: *i}"]) + "\n"


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(code: int, err: str, status: int = 2) -> str:
    assert code == status, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def arch_text(extra: str = "") -> str:
    return ("name: a\nkind: systolic\nclock_mhz: 700\narray: {rows: 8, cols: 8}\n"
            "memory: {style: split, ifmap_sram_bytes: 65536, filter_sram_bytes: 65536, "
            "ofmap_sram_bytes: 65536}\ndram: {bandwidth_gbps: 10}\n" + extra)


# (id, files {name: text, bytes, 'save:RxC' or 'zip-bomb'}, argv run in tmp_path, substrings)
CASES = [
    ("energy_table_relative_to_the_arch_not_the_cwd",
     {"d/a.yaml": arch_text("energy: {table: nothere.yaml}\n"), "w.yaml": SMALL},
     ["run", "d/a.yaml", "w.yaml"], ["d/a.yaml", "energy.table", "d/nothere.yaml", "not found"]),
    ("negative_energy_override_is_the_arch_files",
     {"a.yaml": arch_text("energy: {overrides_pj: {int8_mult: -0.2}}\n"), "w.yaml": SMALL},
     ["run", "a.yaml", "w.yaml"], ["a.yaml", "energy.overrides_pj.int8_mult", "greater than 0"]),
    ("unknown_energy_override_names_the_arch",
     {"a.yaml": arch_text("energy: {overrides_pj: {int9_mlt: 1}}\n"), "w.yaml": SMALL},
     ["run", "a.yaml", "w.yaml"], ["a.yaml", "energy.overrides_pj.int9_mlt", "unknown"]),
    ("set_kind_reports_the_real_problem", {"w.yaml": SMALL},
     ["run", "tpu_v1", "w.yaml", "--set", "kind=sparse"],
     ["tpu_v1.yaml", "field 'kind'", "cannot turn this systolic arch into another kind"]),
    ("set_names_the_override", {"w.yaml": SMALL},
     ["run", "tpu_v1", "w.yaml", "--set", "clock_mhz=true"],
     ["tpu_v1.yaml", "'clock_mhz'", "boolean", "set by --set clock_mhz=true"]),
    ("conv_on_eie_names_the_workload", {"w.yaml": SMALL}, ["run", "eie", "w.yaml"],
     ["w.yaml: field 'layers[0] (c1)'", "sparse (EIE)"]),
    ("weight_shape_mismatch_names_the_weights_file",
     {"w.yaml": FC.format(file="m.npy"), "m.npy": "save:64x50"}, ["run", "eie", "w.yaml"],
     ["m.npy: field 'layers[0] (fc).weights_file'", "[64, 50]", "[64, 96]"]),
    ("weights_file_resolves_against_the_file_not_its_source_text",
     {"sub/w.yaml": FC.format(file="gone.npy")}, ["run", "eie", "sub/w.yaml"],
     ["sub/gone.npy", "weights file not found"]),
    ("onnx_directory_is_a_directory", {"x.onnx/keep": ""}, ["run", "tpu_v1", "x.onnx"],
     ["x.onnx", "is a directory"]),
    ("batch_flag_too_large", {"w.yaml": SMALL}, ["run", "tpu_v1", "w.yaml", "--batch", "9" * 400],
     ["--batch", "400-digit integer", "2^62"]),
    ("run_beyond_int64_cycles", {"w.yaml": SMALL.replace("[3, 16, 16]", "[64, 4096, 4096]")},
     ["run", "tpu_v1", "w.yaml", "--batch", "1024", "--set", "dram.bandwidth_gbps=0.000001",
      "--set", "clock_mhz=1000000"], ["tpu_v1.yaml", "beyond the 64-bit counts"]),
    # --- weights files: headers before data ------------------------------------------------
    ("npy_header_declares_exabytes",
     {"w.yaml": FC.format(file="h.npy"), "h.npy": npy_bytes((10**9, 10**9))},
     ["run", "eie", "w.yaml"], ["h.npy", "weights_file", "4,000,000,000,000,000,000 bytes",
                                "file holds 16 bytes"]),
    ("npy_truncated", {"w.yaml": FC.format(file="h.npy"), "h.npy": npy_bytes((64, 96))},
     ["run", "eie", "w.yaml"], ["h.npy", "(24,576 bytes)", "holds 16 bytes"]),
    ("npy_object_array", {"w.yaml": FC.format(file="h.npy"), "h.npy": npy_bytes((2,), b"", "|O")},
     ["run", "eie", "w.yaml"], ["h.npy", "Python objects"]),
    ("npz_member_declares_too_much", {"w.yaml": FC.format(file="h.npz"), "h.npz": "zip-bomb"},
     ["run", "eie", "w.yaml"], ["h.npz", "'weight' declares", "over the limit"]),
    ("npy_garbage", {"w.yaml": FC.format(file="h.npy"), "h.npy": b"hello, not numpy"},
     ["run", "eie", "w.yaml"], ["h.npy", "not a valid .npy array"]),
    # --- SCALE-Sim --------------------------------------------------------------------------
    ("cfg_commas_in_bandwidth", {"s.cfg": CFG.format(bw=","), "w.yaml": SMALL},
     ["run", "s.cfg", "w.yaml"], ["s.cfg", "[architecture_presets] Bandwidth", "','"]),
    ("csv_huge_dim", {"t.csv": CONV_HEADER + "c1, " + "9" * 30 + ", 9, 3, 3, 4, 8, 1,\n"},
     ["run", "tpu_v1", "t.csv"], ["t.csv", "line 2 (c1).IFMAP Height", "over the limit 2^62"]),
    ("csv_gemm_over_the_mac_limit", {"t.csv": "Layer, M, N, K,\ng, 4000000, 4000000, 4000000,\n"},
     ["run", "tpu_v1", "t.csv"], ["t.csv", "layers[0] (g)", "MACs", "over the limit"]),
    # --- sweeps ----------------------------------------------------------------------------
    ("sweep_billion_points", {"s.yaml": sweep("{array.rows: {start: 1, stop: 1e9, step: 1}}"),
                              "w.yaml": SMALL},
     ["sweep", "s.yaml", "-o", "r.sqlite", "-q"], ["s.yaml", "vary.array.rows", "1,000,000,000",
                                                   "cap of 100,000 rows"]),
    ("sweep_cap_is_configurable", {"s.yaml": sweep("{array.rows: [4, 8, 16]}"), "w.yaml": SMALL},
     ["sweep", "s.yaml", "-o", "r.sqlite", "-q", "--max-rows", "2"], ["cap of 2 rows"]),
    ("sweep_infinite_factor",
     {"s.yaml": sweep("{array.rows: {start: 1, stop: 64, factor: .inf}}"), "w.yaml": SMALL},
     ["sweep", "s.yaml", "-o", "r.sqlite", "-q"], ["s.yaml", "vary.array.rows.factor", "finite"]),
    ("sweep_nan_start", {"s.yaml": sweep("{array.rows: {start: .nan, stop: 64, step: 1}}"),
                         "w.yaml": SMALL},
     ["sweep", "s.yaml", "-o", "r.sqlite", "-q"], ["s.yaml", "vary.array.rows.start", "finite"]),
    ("sweep_alias_bomb", {"s.yaml": bomb_vary(), "w.yaml": SMALL},
     ["sweep", "s.yaml", "-o", "r.sqlite", "-q"], ["s.yaml", "aliases are expanded"]),
    ("sweep_constraint_names_the_file",
     {"s.yaml": sweep("{array.rows: [8]}", "constraints: ['latencyy <= 1']\n"), "w.yaml": SMALL},
     ["sweep", "s.yaml", "-o", "r.sqlite", "-q"], ["s.yaml", "constraints[0]", "'latencyy'"]),
    ("sweep_objective_names_the_file",
     {"s.yaml": sweep("{array.rows: [8]}", "objectives: [speed]\n"), "w.yaml": SMALL},
     ["sweep", "s.yaml", "-o", "r.sqlite", "-q"], ["s.yaml", "objectives[0]", "'speed'"]),
    ("sweep_workload_ref_no_pydantic_words",
     {"s.yaml": "name: s\nbase: tpu_v1\nworkloads: [3]\n"},
     ["sweep", "s.yaml", "-o", "r.sqlite", "-q"], ["s.yaml", "field 'workloads[0]'"]),
]


def write(tmp_path: Path, files: dict) -> None:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content.startswith("save:"):
            rows, cols = (int(x) for x in content[5:].split("x"))
            np.save(path, np.ones((rows, cols)))
        elif content == "zip-bomb":  # a member whose header declares 4 GB, holding 16 bytes
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("weight.npy", npy_bytes((2**16, 2**14)))
        else:
            path.write_text(content)


@pytest.mark.parametrize("case, files, argv, expected", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_ends_in_one_line(tmp_path, capsys, monkeypatch, case, files, argv,
                                        expected):
    write(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, argv)
    line = one_line(code, err)
    assert line.startswith("npusim: error: ")
    for needle in expected:
        assert needle in line, f"{needle!r} not in {line!r}"
    for leak in ("Value error", "constrained-", ".str'", "function-after", "Traceback"):
        assert leak not in line


def test_foreign_store_is_not_touched_by_a_refused_sweep(tmp_path, capsys, monkeypatch):
    # a sweep refused for its size writes nothing at all
    write(tmp_path, {"s.yaml": sweep("{array.rows: {start: 1, stop: 1e9, step: 1}}"),
                     "w.yaml": SMALL})
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, ["sweep", "s.yaml", "-o", "r.sqlite", "-q"])
    one_line(code, err)
    assert not (tmp_path / "r.sqlite").exists()


def test_energy_table_path_is_relative_to_the_arch_file(tmp_path, capsys, monkeypatch):
    from simulator.io.bundled import table_dir

    (tmp_path / "chips").mkdir()
    (tmp_path / "chips" / "mine.yaml").write_text((table_dir() / "horowitz_45nm.yaml").read_text())
    (tmp_path / "chips" / "a.yaml").write_text(arch_text("energy: {table: mine.yaml}\n"))
    (tmp_path / "w.yaml").write_text(SMALL)
    monkeypatch.chdir(tmp_path)  # the table is not in the working directory
    code, _, err = run(capsys, ["run", "chips/a.yaml", "w.yaml", "--format", "json"])
    assert code == 0, err


def test_internal_error_is_one_line_with_a_report_hint_and_status_1(tmp_path, capsys,
                                                                    monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr("simulator.api.simulate", broken)
    (tmp_path / "w.yaml").write_text(SMALL)
    code, _, err = run(capsys, ["run", "tpu_v1", str(tmp_path / "w.yaml")])
    line = one_line(code, err, status=1)
    assert line.startswith("npusim: internal error: ZeroDivisionError: float division by zero")
    assert "please report" in line and "--debug" in line
    # --debug (anywhere on the line) shows the traceback instead
    with pytest.raises(ZeroDivisionError):
        main(["run", "tpu_v1", str(tmp_path / "w.yaml"), "--debug"])
    cli = importlib.import_module("simulator.cli.main")
    assert cli.EXIT_BUG == 1 and cli.EXIT_INPUT == 2


def test_memory_error_is_an_internal_error_not_a_traceback(tmp_path, capsys, monkeypatch):
    def hungry(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr("simulator.api.simulate", hungry)
    (tmp_path / "w.yaml").write_text(SMALL)
    code, _, err = run(capsys, ["run", "tpu_v1", str(tmp_path / "w.yaml")])
    assert "out of memory" in one_line(code, err, status=1)


def test_onnx_weight_contradicting_its_input_is_refused(tmp_path, capsys):
    b = Builder("external")
    x = b.input("x", [1, 3, 32, 32])
    y = b.node("Conv", [x, b.weight("w", [8, 5, 3, 3])], "conv", kernel_shape=[3, 3])
    b.output(y)
    path = b.save(tmp_path / "bad.onnx")
    code, _, err = run(capsys, ["run", "tpu_v1", str(path)])
    line = one_line(code, err)
    assert "bad.onnx" in line and "[8, 5, 3, 3]" in line and "[8, 3, 3, 3]" in line


def test_onnx_gemm_weight_contradicting_its_input_is_refused(tmp_path, capsys):
    b = Builder("external")
    x = b.input("x", [1, 100])
    b.output(b.node("Gemm", [x, b.weight("w", [10, 7])], "fc", transB=1))
    path = b.save(tmp_path / "bad.onnx")
    code, _, err = run(capsys, ["run", "tpu_v1", str(path)])
    assert "[10, 7]" in one_line(code, err)


def test_onnx_declared_shape_beyond_the_limits(tmp_path, capsys):
    b = Builder("inputs")
    x = b.input("x", [1, 3, 2**40, 2**40])
    b.output(b.conv(x, 3, 8, 3))
    path = b.save(tmp_path / "huge.onnx")
    code, _, err = run(capsys, ["run", "tpu_v1", str(path)])
    assert "over the limit 2^62" in one_line(code, err)
    code, _, err = run(capsys, ["run", "tpu_v1", str(path), "--input-shape", f"1x3x{2**70}x4"])
    assert "--input-shape" in one_line(code, err)


@pytest.mark.parametrize("attrs", [{"group": 0}, {"strides": [0, 0]}, {"strides": 2},
                                   {"dilations": [-1, -1]}, {"pads": [-1, 0, 0, 0]}])
def test_onnx_conv_attributes_outside_their_domain(tmp_path, capsys, attrs):
    # group 0 divided by zero; the others made shape inference give up, which read as a
    # dynamic shape
    b = Builder("full")
    x = b.input("x", [1, 4, 8, 8])
    settings = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], **attrs}
    b.output(b.node("Conv", [x, b.weight("w", [4, 4, 3, 3])], "conv", **settings))
    path = b.save(tmp_path / "bad.onnx")
    code, _, err = run(capsys, ["run", "tpu_v1", str(path)])
    line = one_line(code, err)
    assert "bad.onnx" in line and f"attribute {next(iter(attrs))}" in line
