"""`-o FILE` picks the output format from the file's suffix unless `--format` says otherwise
(`-o x.json` used to write Markdown silently); a suffix that names no format is a one-line
error before anything runs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from simulator.cli.common import output_format
from simulator.cli.main import main
from simulator.core.errors import NpusimError

TINY = """\
name: tiny
input: [8, 16, 16]
layers:
  - {name: c1, type: conv, out_channels: 16, kernel: 3, padding: 1}
  - {name: fc, type: linear, in_features: 4096, out_features: 10}
"""


@pytest.fixture()
def tiny(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def test_suffix_decides_unless_format_is_given():
    formats = ("table", "json", "csv", "md", "html")
    assert output_format(None, None, formats) == "table"
    assert output_format(None, "a/x.JSON", formats) == "json"
    assert output_format(None, "x.csv", formats) == "csv"
    assert output_format(None, "x.md", formats) == "md"
    assert output_format(None, "x.html", formats) == "html"
    assert output_format(None, "x.txt", formats) == "table"
    assert output_format("md", "x.json", formats) == "md"       # --format wins
    with pytest.raises(NpusimError, match="'.out'.*end the file in .json, .csv, .md"):
        output_format(None, "x.out", formats)
    with pytest.raises(NpusimError, match="no suffix"):
        output_format(None, "results", formats)
    with pytest.raises(NpusimError, match=r"\.json, \.csv, \.txt"):  # html is not offered
        output_format(None, "x.html", ("table", "json", "csv"))


def test_run_writes_the_format_the_suffix_names(tmp_path, tiny):
    out = {s: tmp_path / f"r.{s}" for s in ("json", "csv", "md", "txt", "html")}
    for path in out.values():
        assert main(["run", "tpu_v1", tiny, "-o", str(path), "-q"]) == 0
    data = json.loads(out["json"].read_text())
    assert [l["name"] for l in data["layers"]] == ["c1", "fc"]
    rows = list(csv.DictReader(io.StringIO(out["csv"].read_text())))
    assert [r["name"] for r in rows] == ["c1", "fc"]
    assert out["md"].read_text().startswith("# tiny on tpu_v1")
    text = out["txt"].read_text()
    assert "c1" in text and "latency" in text and "\x1b[" not in text  # plain, no colour codes
    page = out["html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 3
    assert not (tmp_path / "roofline.png").exists()  # one file, nothing beside it


def test_run_format_overrides_the_suffix(tmp_path, tiny):
    path = tmp_path / "r.json"
    assert main(["run", "tpu_v1", tiny, "--format", "md", "-o", str(path)]) == 0
    assert path.read_text().startswith("# tiny on tpu_v1")


def test_unknown_suffix_is_one_line_before_the_run(tmp_path, tiny, capsys):
    path = tmp_path / "r.out"
    assert main(["run", "tpu_v1", tiny, "-o", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "r.out" in err[0] and "--format" in err[0]
    assert not path.exists()


def test_compare_and_sparse_study_follow_the_suffix(tmp_path, tiny):
    cmp_json, cmp_html = tmp_path / "c.json", tmp_path / "c.html"
    for path in (cmp_json, cmp_html):
        assert main(["compare", "tpu_v1", "edge_32x32", "-w", tiny, "-o", str(path), "-q"]) == 0
    assert [r["arch"] for r in json.loads(cmp_json.read_text())["runs"]] == ["tpu_v1",
                                                                            "edge_32x32"]
    assert "<svg" in cmp_html.read_text()
    study = tmp_path / "s.csv"
    assert main(["sparse-study", "eie", "eie_benchmarks", "--vary", "queue_depth=1,8",
                 "--layers", "Alex-8", "-o", str(study)]) == 0
    rows = list(csv.DictReader(io.StringIO(study.read_text())))
    assert [(r["queue_depth"], r["layer"]) for r in rows] == [("1", "Alex-8"), ("8", "Alex-8")]
    assert float(rows[0]["latency_s"]) > float(rows[1]["latency_s"])  # a deeper queue helps
