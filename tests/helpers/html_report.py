"""Parse the HTML reports in tests (stdlib html.parser): what the tests look at, and the
check that a page fetches nothing from the network."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path


class ReportParser(HTMLParser):
    """Collects what the tests look at: URL attributes, scripts, svgs, layer-table rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.url_attrs: list[tuple[str, str, str]] = []   # (tag, attr, value)
        self.scripts: list[dict] = []
        self.svgs = 0
        self.tags: list[str] = []
        self.in_layers = False
        self.section = ""
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.body_rows: list[list[str]] = []
        self.foot_rows: list[list[str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        for name, value in attrs.items():
            if name in ("src", "href", "xlink:href", "action", "data", "poster") and value:
                self.url_attrs.append((tag, name, value))
        if tag == "script":
            self.scripts.append(attrs)
        if tag == "svg":
            self.svgs += 1
        if tag == "table" and attrs.get("id") == "layers":
            self.in_layers = True
        if self.in_layers and tag in ("thead", "tbody", "tfoot"):
            self.section = tag
        if self.in_layers and tag == "tr":
            self.row = []
        if self.row is not None and tag == "td":
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell))
            self.cell = None
        if tag == "tr" and self.row is not None:
            if self.section == "tbody":
                self.body_rows.append(self.row)
            elif self.section == "tfoot":
                self.foot_rows.append(self.row)
            self.row = None
        if tag == "table" and self.in_layers:
            self.in_layers = False

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)


def parse(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def assert_self_contained(parser: ReportParser, raw: str) -> None:
    """No network fetch: no http(s) or protocol-relative URL in any URL attribute, no external
    script or stylesheet, no CSS import or url() to the web, no iframes."""
    for tag, name, value in parser.url_attrs:
        assert not value.lower().startswith(("http:", "https:", "//")), (tag, name, value)
    assert all("src" not in s for s in parser.scripts)
    assert "link" not in parser.tags and "iframe" not in parser.tags
    assert "@import" not in raw and "url(http" not in raw and "url(//" not in raw
