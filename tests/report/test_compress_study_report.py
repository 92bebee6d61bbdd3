"""Rendering the compression study: cells, refusals, parts, warnings once, Markdown escaping,
JSON without NaN, the figure's names as plain text."""

from __future__ import annotations

import json

import pytest

from simulator.dse.compress_study import StudyRow
from simulator.report import compress_study as report
from simulator.report.plotting import figure_bytes


def _row(setting: str, chip: str, **kw) -> StudyRow:
    base = dict(workload="net", setting=setting, spec=None if setting == "none" else "x=1",
                chip=chip, kind="systolic", status="ok", latency_s=1e-3, energy_pj=2e9,
                dram_bytes=1_000_000, macs=10, model_bytes=500_000, speedup=1.0,
                energy_saving=1.0, dram_ratio=1.0, size_ratio=1.0, layers_faster=0,
                layers_slower=0)
    nan_fields = {k: v for k, v in kw.items() if isinstance(v, float) and v != v}
    base.update({k: v for k, v in kw.items() if k not in nan_fields})
    row = StudyRow(**base)
    # the model refuses NaN (StrictModel); a NaN smuggled past it must still render as "-"
    return row.model_copy(update=nan_fields) if nan_fields else row


ROWS = [
    _row("none", "a"),
    _row("none", "e|<b>", kind="sparse", part="FC and LSTM layers only",
         scope="FC and LSTM layers only: 1 of 2 layers, 50.0 % of the MACs"),
    _row("$x^2$ prune", "a", speedup=1.0, warnings=["a: pruned weights move dense (l1)"],
         latency_s=1e-3),
    _row("$x^2$ prune", "e|<b>", kind="sparse", part="FC and LSTM layers only",
         scope="FC and LSTM layers only: 1 of 2 layers, 50.0 % of the MACs", speedup=12.5,
         energy_saving=float("nan"), latency_s=8e-5),
    _row("int4", "a", status="refused", note="--settings: no", latency_s=None, energy_pj=None,
         dram_bytes=None, speedup=None, energy_saving=None, warnings=[]),
]


def test_cells_say_refused_and_the_part():
    refused = report.cells(ROWS[4])
    assert refused["latency_s"] == "-" and refused["speedup"] == "-"
    assert refused["note"] == "refused: --settings: no"
    assert report.cells(ROWS[3])["speedup"] == "12.50x"
    assert report.cells(ROWS[3])["energy_saving"] == "-"  # NaN is never shown as a number
    assert report.cells(ROWS[0])["part"] == "all layers"
    assert report.part_lines(ROWS) == ["net on e|<b>: FC and LSTM layers only: 1 of 2 layers, "
                                       "50.0 % of the MACs"]


def test_warnings_are_listed_once_with_their_settings():
    rows = ROWS + [_row("other", "a", warnings=["a: pruned weights move dense (l1)"])]
    assert report.warning_lines(rows) == [
        "net on a ($x^2$ prune, other): a: pruned weights move dense (l1)"]


def test_rows_refuse_nan():
    with pytest.raises(ValueError):
        StudyRow(**{**ROWS[0].model_dump(), "energy_saving": float("nan")})


def test_markdown_escapes_and_json_has_no_nan():
    md = report.to_markdown(ROWS)
    assert "e\\|&lt;b&gt;" in md and "<b>" not in md
    data = json.loads(report.to_json(ROWS))
    assert data["rows"][3]["energy_saving"] is None
    csv_text = report.to_csv(ROWS)
    assert csv_text.splitlines()[0].startswith("workload,setting,spec,chip")


def test_the_figure_draws_names_as_plain_text():
    svg = figure_bytes(report.figure(ROWS), "svg").decode()
    assert "$x^2$ prune" in svg  # not rendered as math
    assert "e|&lt;b&gt; (FC and LSTM layers only)" in svg
    assert "refused (see the table)" in svg
