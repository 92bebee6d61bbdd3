"""Bundled data: found inside the package through importlib.resources, bare names resolve to
them, a local file always wins, and `npusim list`'s catalogue covers archs, workloads and
sweeps. (tests/test_install.py checks the same from a wheel installed in a fresh venv.)"""

from importlib.resources import files
from pathlib import Path

import pytest

from simulator.core.errors import NpusimError
from simulator.io import bundled

CHECKOUT = Path(__file__).resolve().parents[2]


def test_data_live_inside_the_package():
    package = Path(str(files("simulator")))
    for directory in (bundled.arch_dir(), bundled.workload_dir(), bundled.table_dir(),
                      bundled.sweep_dir()):
        assert directory.is_dir(), directory
        assert directory.is_relative_to(package), directory
    assert (bundled.arch_dir() / "tpu_v1.yaml").is_file()
    assert (bundled.workload_dir() / "resnet50.yaml").is_file()
    assert {"horowitz_45nm", "area_45nm"} <= set(bundled.bundled_names(bundled.table_dir(),
                                                                       (".yaml",)))
    assert "tpu_sram_pe" in bundled.bundled_names(bundled.sweep_dir(), (".yaml",))


@pytest.mark.skipif(not (CHECKOUT / "arch_configs").is_dir(), reason="needs a source checkout")
def test_in_a_checkout_the_package_data_are_the_top_level_directories():
    # simulator/data/{arch_configs,workloads} link to the top-level directories users edit
    assert bundled.arch_dir().samefile(CHECKOUT / "arch_configs")
    assert bundled.workload_dir().samefile(CHECKOUT / "workloads")


def test_bare_names_resolve_to_bundled_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = bundled.resolve_arch("tpu_v1")
    assert path.is_absolute() and path.samefile(bundled.arch_dir() / "tpu_v1.yaml")
    assert bundled.resolve_workload("resnet50").samefile(bundled.workload_dir() / "resnet50.yaml")
    assert bundled.resolve_sweep("tpu_sram_pe").samefile(bundled.sweep_dir() / "tpu_sram_pe.yaml")


@pytest.mark.skipif(not (CHECKOUT / "arch_configs").is_dir(), reason="needs a source checkout")
def test_from_the_checkout_root_a_bundled_file_shows_its_short_path(monkeypatch):
    monkeypatch.chdir(CHECKOUT)
    assert bundled.resolve_arch("tpu_v1") == Path("arch_configs/tpu_v1.yaml")
    assert bundled.resolve_arch("arch_configs/tpu_v1.yaml") == Path("arch_configs/tpu_v1.yaml")


def test_a_local_file_wins_over_a_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet50").write_text("name: mine\n")
    assert bundled.resolve_workload("resnet50") == Path("resnet50")


def test_unknown_name_lists_the_bundled_ones():
    with pytest.raises(NpusimError) as info:
        bundled.resolve_arch("tpu_v9")
    line = info.value.one_line()
    assert line.startswith("tpu_v9: no bundled arch or file named 'tpu_v9'")
    assert "bpu, bpu_no_hswish, edge_32x32, eie, eyeriss, tpu_v1" in line


def test_missing_path_is_not_taken_for_a_name():
    with pytest.raises(NpusimError, match="file not found"):
        bundled.resolve_arch("nowhere/tpu_v1.yaml")
    with pytest.raises(NpusimError, match="file not found"):
        bundled.resolve_workload("resnet50.yaml")   # a suffix makes it a path, not a name


def test_catalogue_lists_archs_workloads_and_sweeps():
    cat = bundled.catalogue()
    archs = {e.name: e for e in cat["archs"]}
    assert archs["tpu_v1"].detail == "systolic" and archs["eie"].detail == "sparse"
    assert archs["bpu"].detail == "tensorcore"
    workloads = {e.name: e for e in cat["workloads"]}
    assert workloads["resnet50"].detail == "72 layers"
    sweeps = {e.name: e for e in cat["sweeps"]}
    assert sweeps["tpu_sram_pe"].detail == "tpu_v1 x resnet50, mobilenet_v2"
    assert sweeps["tpu_sram_pe"].description.startswith("TPUv1-like array size")
    assert all(e.description for entries in cat.values() for e in entries)


def test_catalogue_reports_an_unreadable_file_instead_of_failing(tmp_path, monkeypatch):
    (tmp_path / "arch_configs" / "sweeps").mkdir(parents=True)
    (tmp_path / "workloads").mkdir()
    (tmp_path / "arch_configs" / "broken.yaml").write_text("kind: [systolic\n")
    (tmp_path / "arch_configs" / "sweeps" / "s.yaml").write_text(
        "base: tpu_v1\nworkloads: [{name: resnet50, batch: 4}]\ndescription: |\n  one\n  two\n")
    monkeypatch.setattr(bundled, "data_root", lambda: tmp_path)
    cat = bundled.catalogue()
    assert cat["archs"][0].name == "broken" and cat["archs"][0].detail == "?"
    assert cat["archs"][0].description.startswith("(unreadable: malformed YAML at line 2")
    assert cat["workloads"] == []
    assert (cat["sweeps"][0].detail, cat["sweeps"][0].description) == ("tpu_v1 x resnet50", "one")
