"""Safe YAML reading: the C loader when PyYAML has it, the pure-Python one otherwise; both give
the same data and the same one-line errors with line and column."""

from pathlib import Path

import pytest
import yaml

from simulator.core.errors import NpusimError
from simulator.io import yaml as npyaml
from simulator.io.bundled import arch_dir, workload_dir
from simulator.io.overrides import parse_override

LOADERS = [pytest.param(yaml.SafeLoader, id="python")]
if hasattr(yaml, "CSafeLoader"):
    LOADERS.append(pytest.param(yaml.CSafeLoader, id="libyaml"))


@pytest.fixture(params=LOADERS)
def loader(request, monkeypatch):
    monkeypatch.setattr(npyaml, "LOADER", request.param)
    return request.param


def test_c_loader_is_used_when_present():
    expected = yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader
    assert npyaml.LOADER is expected


def test_pure_python_loader_without_libyaml(monkeypatch):
    # PyYAML built without libyaml has no CSafeLoader: the module falls back at import
    import importlib

    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    try:
        assert importlib.reload(npyaml).LOADER is yaml.SafeLoader
        assert npyaml.loads("a: [1, 2]") == {"a": [1, 2]}
    finally:
        monkeypatch.undo()
        importlib.reload(npyaml)
    assert npyaml.LOADER is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_both_loaders_are_safe_loaders():
    # a safe loader never builds Python objects from tags; the C one is libyaml + SafeConstructor
    for param in LOADERS:
        assert issubclass(param.values[0], yaml.constructor.SafeConstructor)


@pytest.mark.parametrize("path", [arch_dir() / "tpu_v1.yaml", workload_dir() / "resnet50.yaml",
                                  arch_dir() / "energy" / "horowitz_45nm.yaml"])
def test_loaders_agree_on_bundled_files(path: Path):
    text = path.read_text(encoding="utf-8")
    assert yaml.load(text, Loader=yaml.SafeLoader) == npyaml.read_yaml(path)


@pytest.mark.parametrize("text, where, problem", [
    # the 5-space indent of `type` under a 4-space `- name` item: a mapping value where none
    # may start, reported at `type:`'s colon (line 4, column 10)
    ("name: t\nlayers:\n  - name: c1\n     type: conv\n", "line 4, column 10", "mapping values"),
    ("a: [1, 2\nb: 3\n", "line 2, column 2", "','"),                  # unclosed flow list
    ("a: 'open\n", "line 2, column 1", "end of stream"),               # unterminated quote
    ("x: @foo\n", "line 1, column 4", "cannot start any token"),      # reserved indicator
])
def test_syntax_errors_name_line_and_column(loader, tmp_path, text, where, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(NpusimError) as info:
        npyaml.read_yaml(path)
    line = info.value.one_line()
    assert line.startswith(f"{path}: malformed YAML at {where}: ")
    assert problem in line and "\n" not in line


def test_python_tags_are_refused(loader, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(NpusimError, match="malformed YAML at line 1, column 7: could not "
                                          "determine a constructor"):
        npyaml.read_yaml(path)


@pytest.mark.parametrize("text, message", [
    ("", "file is empty"),
    ("# only a comment\n", "file is empty"),
    ("- a\n- b\n", "got a list"),
    ("42\n", "got a int"),
])
def test_top_level_must_be_a_mapping(loader, tmp_path, text, message):
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(NpusimError, match=message):
        npyaml.read_yaml(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(NpusimError, match="file not found"):
        npyaml.read_yaml(tmp_path / "nope.yaml")
    with pytest.raises(NpusimError, match="is a directory"):
        npyaml.read_yaml(tmp_path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(NpusimError, match="cannot read file"):
        npyaml.read_yaml(path)


def test_plain_types(loader):
    assert npyaml.loads("a: 1\nb: 0.5\nc: true\nd: null\ne: [1, x]\nf: {g: 2}\n") == {
        "a": 1, "b": 0.5, "c": True, "d": None, "e": [1, "x"], "f": {"g": 2}}


def test_override_values_use_the_same_loader(loader):
    assert parse_override("array.rows=128") == (["array", "rows"], 128)
    assert parse_override("x.y=[1, 2]") == (["x", "y"], [1, 2])
    assert parse_override("x.y=a: b: c") == (["x", "y"], "a: b: c")   # not YAML: kept as text
