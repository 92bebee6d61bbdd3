"""The HTML report: self-contained, complete, escaped. Parsed with the stdlib html.parser."""

from __future__ import annotations

import pytest
from helpers.html_report import assert_self_contained, parse
from helpers.report_fixtures import MALICIOUS, synthetic_result

from simulator.api import simulate
from simulator.cli.main import main
from simulator.report.html import write_report


@pytest.fixture(scope="module")
def resnet_report(tmp_path_factory):
    """`npusim run tpu_v1 resnet50 --report out/ --png` once for the module (about 2 s)."""
    out = tmp_path_factory.mktemp("report") / "out"
    assert main(["run", "tpu_v1", "resnet50", "--report", str(out), "--png", "-q"]) == 0
    return out, simulate("tpu_v1", "resnet50")


def test_run_report_writes_html_and_plots(resnet_report):
    out, _ = resnet_report
    assert (out / "report.html").is_file()
    for stem in ("roofline", "roofline_tpu", "energy", "latency", "utilization"):
        for fmt in ("png", "svg"):
            assert (out / f"{stem}.{fmt}").stat().st_size > 5000, f"{stem}.{fmt}"


def test_run_report_has_every_layer_and_the_totals(resnet_report):
    out, result = resnet_report
    parser = parse(out / "report.html")
    names = [row[1] for row in parser.body_rows]
    assert names == [l.name for l in result.layers]
    assert len(names) == result.workload["layers"]
    # per-layer cycles column (index 4) equals the engine's figures
    assert [row[4] for row in parser.body_rows] == [f"{l.cycles:,}" for l in result.layers]
    (foot,) = parser.foot_rows
    assert foot[1] == "total" and foot[4] == f"{result.totals.cycles:,}"
    text = "".join(parser.text)
    assert f"{result.totals.cycles:,} cycles" in text
    assert "Assumptions" in text and all(a in text for a in result.assumptions)


def test_run_report_embeds_plots_and_fetches_nothing(resnet_report):
    out, _ = resnet_report
    raw = (out / "report.html").read_text(encoding="utf-8")
    parser = parse(out / "report.html")
    assert parser.svgs >= 5          # five inline figures (plus nothing else drawing svgs)
    assert raw.count('<figure id="fig-') == 5
    assert_self_contained(parser, raw)
    # inline SVG ids are unique across figures, and every internal reference resolves
    import re
    ids = re.findall(r'\sid="([^"]+)"', raw)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'href="#([^"]+)"', raw)) | set(re.findall(r"url\(#([^)]+)\)", raw))
    assert refs <= set(ids)


@pytest.fixture(scope="module")
def malicious_report(tmp_path_factory):
    result = synthetic_result(arch_name=MALICIOUS + "chip", workload_name='net"><img src=x>')
    return write_report(result, tmp_path_factory.mktemp("malicious") / "r")


def test_malicious_names_are_escaped(malicious_report):
    path = malicious_report
    raw = path.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<img src=x>" not in raw
    parser = parse(path)
    assert len(parser.scripts) == 1 and parser.scripts[0] == {}   # only our inline sorter
    assert [row[1] for row in parser.body_rows] == ["conv1", "fc", MALICIOUS]
    assert "img" not in parser.tags
    assert_self_contained(parser, raw)


def test_report_into_a_file_path_is_a_user_error(tmp_path):
    from simulator.core.errors import NpusimError

    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(NpusimError):
        write_report(synthetic_result(), target)


def test_report_shows_breakdowns_and_warnings(malicious_report):
    parser = parse(malicious_report)
    links = [v for tag, _, v in parser.url_attrs if tag == "a"]
    # links to the five SVG files beside it (PNGs only with png=True); everything else is an
    # in-page "#id"
    assert len(links) == 5 and {v.rsplit(".", 1)[1] for v in links} == {"svg"}
    assert not list(malicious_report.parent.glob("*.png"))
    assert all(v.startswith("#") for tag, _, v in parser.url_attrs if tag != "a")
    text = "".join(parser.text)
    assert "made-up numbers for tests" in text          # warnings
    assert "dram_bandwidth" in text                     # stall cause table
    # totals: 2000 + 42200 + 50 = 44,250 cycles
    assert "44,250 cycles" in text
