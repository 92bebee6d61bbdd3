"""`npusim compress-study`: formats, the figure, errors (one line, exit 2)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from simulator.cli.main import main

#: A conv part (which EIE cannot run) and an FC part (which it can).
TINY = """
name: tiny
input: [16, 16, 16]
layers:
  - {name: c1, type: conv, out_channels: 32, kernel: 3, padding: 1, activation: relu}
  - {name: p1, type: maxpool, kernel: 2, stride: 2}
  - {name: fc1, type: linear, out_features: 256, activation: relu}
  - {name: fc2, type: linear, out_features: 10}
"""


@pytest.fixture()
def tiny(tmp_path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def test_json_rows_say_the_part_and_the_speed_ups(capsys, tiny):
    assert main(["compress-study", tiny, "--chips", "tpu_v1", "eie", "--settings",
                 "prune=0.9", "int4:wbits=4", "--format", "json", "-q"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["setting"], r["chip"]) for r in rows] == [
        ("none", "tpu_v1"), ("none", "eie"), ("prune=0.9", "tpu_v1"), ("prune=0.9", "eie"),
        ("int4", "tpu_v1"), ("int4", "eie")]
    eie = [r for r in rows if r["chip"] == "eie"]
    assert all(r["part"] == "FC and LSTM layers only" and r["status"] == "ok" for r in eie)
    assert eie[0]["macs"] == 2048 * 256 + 256 * 10  # fc1 (32 x 8 x 8 inputs) and fc2
    pruned = rows[2]
    assert pruned["speedup"] == 1.0 and pruned["warnings"]  # tpu_v1 multiplies the zeros


def test_batch_applies_to_every_network(capsys, tiny):
    assert main(["compress-study", tiny, "--chips", "tpu_v1", "--settings", "wbits=4",
                 "--batch", "4", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    one_image = (16 * 16 * 16 * 32 * 9) + 2048 * 256 + 256 * 10
    assert [r["macs"] for r in rows] == [4 * one_image] * 2


def test_table_csv_markdown_and_the_figure(capsys, tiny, tmp_path):
    plot = tmp_path / "study.svg"
    assert main(["compress-study", tiny, "--chips", "tpu_v1", "eie", "--settings",
                 "prune=0.9", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "compression study" in out and "FC and LSTM layers only" in out
    assert "tiny on eie: FC and LSTM layers only: 2 of 4 layers" in out
    assert "warnings (what each chip cannot exploit):" in out
    svg = plot.read_text()
    assert svg.startswith("<?xml") and "prune=0.9" in svg and "eie (FC and LSTM layers only)" in svg
    table = tmp_path / "study.csv"
    assert main(["compress-study", tiny, "--chips", "tpu_v1", "--settings", "wbits=4",
                 "-o", str(table), "-q"]) == 0
    lines = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [l["setting"] for l in lines] == ["none", "wbits=4"]
    assert float(lines[1]["speedup"]) > 1 and lines[1]["warnings"] == "0"
    md = tmp_path / "study.md"
    assert main(["compress-study", tiny, "--chips", "tpu_v1", "--settings", "wbits=4",
                 "-o", str(md)]) == 0
    assert md.read_text().startswith("### tiny\n\n| setting | chip |")


@pytest.mark.parametrize("argv, words", [
    (["--chips", "tpu_v1@rows"], "cannot read chip"),
    (["--chips", "nochip"], "nochip"),
    (["--settings", "prunee=0.9"], "unknown compression setting"),
    (["--plot", "x.pdf"], "--plot"),
    (["--workers", "0"], "workers"),
    (["--batch", "0"], "batch"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tiny, argv, words):
    assert main(["compress-study", tiny, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("npusim: error:") and "\n" not in err and words in err
