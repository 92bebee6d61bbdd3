"""Hostile files given as inputs (issue 15): devices, pipes, directories, huge files, YAML that
nests too deep (libyaml's composer crashes the process at ~20,000 levels), alias bombs and
recursive aliases. Each must end in one line naming the file, before anything big is read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simulator.core.errors import NpusimError
from simulator.core.limits import MAX_YAML_BYTES, MAX_YAML_DEPTH
from simulator.io import yaml as npyaml
from simulator.io.files import check_input_file


def refused(path: Path | str) -> str:
    with pytest.raises(NpusimError) as info:
        npyaml.read_yaml(path)
    line = info.value.one_line()
    assert str(path) in line and "\n" not in line
    return line


def test_a_device_is_refused_before_reading():
    assert "not a regular file" in refused("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_instead_of_blocking(tmp_path):
    pipe = tmp_path / "w.yaml"
    os.mkfifo(pipe)
    assert "not a regular file" in refused(pipe)


def test_a_directory_is_a_directory(tmp_path):
    folder = tmp_path / "net.yaml"
    folder.mkdir()
    assert "is a directory" in refused(folder)
    with pytest.raises(NpusimError, match="is a directory"):
        check_input_file(tmp_path / "net.yaml", "an ONNX model", 10)


def test_a_huge_file_is_refused_by_its_size(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as handle:  # sparse file: no disk space used
        handle.truncate(MAX_YAML_BYTES + 1)
    assert "over the limit of 64 MiB" in refused(path)


@pytest.mark.parametrize("text", [
    "name: x\nlayers: " + "[" * 30000 + "]" * 30000 + "\n",       # flow
    "name: x\nlayers:\n" + "- " * 30000 + "x\n",                   # compact block sequences
    # brackets inside quotes must not hide the nesting that follows
    "name: \"" + "]" * 1000 + "\"\nlayers: " + "[" * 300 + "]" * 300 + "\n",
], ids=["flow", "block", "quoted-brackets"])
def test_deep_nesting_is_refused_before_libyaml_composes_it(tmp_path, text):
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    assert f"nests deeper than {MAX_YAML_DEPTH} levels" in refused(path)


def test_moderate_nesting_and_brackets_in_strings_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("name: 'a[[[[b'\ndescription: x[1] " + "[" * 150 + "\n"
                    "layers: " + "[" * 50 + "]" * 50 + "\n")
    assert npyaml.read_yaml(path)["name"] == "a[[[[b"


def test_alias_bomb_is_refused(tmp_path):
    # nine levels of ten aliases each: 10^9 nodes once expanded, a few hundred bytes of YAML
    lines = ["name: t", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    lines.append("layers: *i")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert "5,000,000 nodes once its aliases are expanded" in refused(path)


def test_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("name: t\nlayers: &a [*a]\n")
    assert "recursive structure" in refused(path)


def test_ordinary_aliases_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text("base: &conv {type: conv, kernel: 3}\n"
                    "layers: [{<<: *conv, name: a}, {<<: *conv, name: b}]\n")
    assert [layer["kernel"] for layer in npyaml.read_yaml(path)["layers"]] == [3, 3]


def test_structure_counts_shared_nodes_once_per_use():
    shared = [1, 2, 3]
    assert npyaml.structure_problem({"a": [shared] * 10}) is None
    deep = ["x"] * 10
    for _ in range(8):
        deep = [deep] * 10
    assert "expands to more than" in npyaml.structure_problem(deep)
