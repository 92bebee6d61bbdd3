"""A self-contained HTML report of a run (and of a comparison).

One file, no network: CSS and the few lines of table-sorting JavaScript are inline, plots are
inline SVG (text drawn as paths, so no fonts are fetched). Every string that comes from a user
file (arch, workload and layer names, assumptions, warnings, config values) goes through
`html.escape`. The plots are also written next to the page as PNG and SVG.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from simulator.core.errors import NpusimError
from simulator.core.results import RunResult
from simulator.core.workload import transforms_text
from simulator.report.units import energy, nbytes, pct, seconds, si

REPORT_FILE = "report.html"
COMPARE_FILE = "compare.html"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:1.5rem auto;max-width:1360px;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;
 border-bottom:1px solid #ddd;padding-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0}
th,td{padding:.18rem .45rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f4f4f4;position:sticky;top:0;white-space:normal;vertical-align:bottom;
 min-width:3.2rem;z-index:1} td.l,th.l{text-align:left}
table.kv td:first-child{text-align:left;color:#555} table.kv td{text-align:left}
th.sortable{cursor:pointer} th.sortable:after{content:" \\2195";color:#aaa}
tr.mem td.bound{color:#b00} tfoot td{font-weight:bold;border-top:2px solid #ccc;
 position:sticky;bottom:0;background:#fff}
.grid{display:flex;flex-wrap:wrap;gap:1.5rem} .grid>div{flex:1 1 320px}
figure{margin:1rem 0} figure svg{max-width:100%;height:auto} figcaption{color:#555;
 font-size:.85rem;max-width:60rem} .warn{color:#8a5300}
.scroll{overflow:auto;max-height:85vh;max-width:100%;border:1px solid #eee}
code{background:#f4f4f4;padding:0 .2rem}
"""

_SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){th.classList.add('sortable');
  th.addEventListener('click',function(){var b=t.tBodies[0],rows=Array.from(b.rows),
   asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';
   rows.sort(function(x,y){var a=x.cells[i].dataset.v,c=y.cells[i].dataset.v;
    var r=(a!==undefined&&c!==undefined)?(parseFloat(a)-parseFloat(c))
     :x.cells[i].textContent.localeCompare(y.cells[i].textContent);return asc?r:-r;});
   rows.forEach(function(r){b.appendChild(r);});});});});
"""

#: What each plot shows, under the figure.
CAPTIONS = {
    "roofline": "Roofline (log-log). x: operational intensity, ops per DRAM byte (read + "
                "write); y: achieved ops/s (ops / latency). The solid line is the peak compute "
                "roof, the dashed diagonal the DRAM-bandwidth roof (y = x &times; bandwidth), "
                "dotted an SRAM roof when the engine models one; the diamond is the ridge point "
                "(peak / bandwidth), left of which a layer cannot reach peak. One dot per layer, "
                "area proportional to its MACs, colour by layer type (conv/dw depthwise, conv/g "
                "grouped, conv/pw pointwise); a triangle on the right edge is a layer that moves "
                "no DRAM bytes; the star is the whole network.",
    "roofline_sram": "Roofline on the on-chip axis (log-log): this chip's layers move no DRAM "
                     "bytes (their weights and activations stay in SRAM), so x is ops per SRAM "
                     "byte (read + write) and the memory roof is the SRAM bandwidth (dotted, "
                     "y = x &times; SRAM bandwidth); the solid line is the peak compute roof "
                     "and the diamond their ridge. One dot per layer, area proportional to its "
                     "MACs, colour by layer type; the star is the whole network.",
    "roofline_tpu": "The TPU paper's roofline (Jouppi et al., ISCA 2017, Fig. 5): x is MACs "
                    "per stored weight byte, so the DRAM roof (dashed) is y = 2 ops/MAC "
                    "&times; x &times; bandwidth and the ridge sits at peak MACs/s / DRAM "
                    "bandwidth.",
    "energy": "Energy by component (stacked), per layer on the left and for the whole network "
              "on the right. Components are the engine's: MACs, registers, each SRAM, DRAM.",
    "latency": "Latency per layer, split into compute time and stall time by cause (hatched): "
               "stalls are cycles the MAC array waits, e.g. for DRAM bandwidth or a weight "
               "load.",
    "utilization": "MAC utilization per layer: MACs / (cycles &times; peak MACs per cycle), "
                   "coloured by layer type; the dashed line is the whole network's. The axis "
                   "ends just above the highest bar.",
    "compare_bars": "Headline figures side by side: one group per workload, one bar per "
                    "architecture. Bars start at zero on linear axes; a panel whose values span "
                    "more than 30x is drawn on a log axis and says so in its title.",
    "compare_roofline": "Rooflines overlaid: one colour per run; each chip's roofs (solid: "
                        "compute, dashed: DRAM, dotted: SRAM), its layers (faint dots) and its "
                        "whole-network point (star).",
}


def esc(value: Any) -> str:
    """Escape anything for HTML text or attribute context."""
    return html.escape(str(value), quote=True)


def _num(value: float) -> str:
    """A sort key for a numeric cell (inf sorts last)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "0"
    if isinstance(value, float) and math.isinf(value):
        return "1e308"
    return repr(float(value))


def _cell(text: str, value: float | None = None, cls: str = "") -> str:
    attrs = f' data-v="{_num(value)}"' if value is not None else ""
    attrs += f' class="{cls}"' if cls else ""
    return f"<td{attrs}>{esc(text)}</td>"


def _kv_table(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for key, sub in value.items():
            out += _flatten(f"{prefix}.{key}" if prefix else str(key), sub)
        return out
    if isinstance(value, list):
        return [(prefix, json.dumps(value))]
    return [(prefix, "" if value is None else str(value))]


def arch_rows(result: RunResult) -> list[tuple[str, str]]:
    """Headline facts of the machine (units in the labels)."""
    a, roof = result.arch, result.roofline
    p = a.get("precision") or {}
    rows = [("name", a.get("name", "")), ("kind", a.get("kind", "")),
            ("clock", f"{a.get('clock_mhz', 0):g} MHz"),
            ("technology", f"{a.get('technology_nm', '')} nm")]
    if p:
        rows.append(("native precision", f"{p.get('number_format', 'int')}"
                     f"{p.get('activation_bits')}x{p.get('weight_bits')} "
                     f"(accumulator {p.get('accumulator_bits')} bits)"))
    dram = a.get("dram") or {}
    if dram:
        rows.append(("DRAM", f"{dram.get('technology', 'DRAM')}, "
                     f"{dram.get('bandwidth_gbps', 0):g} GB/s"))
    if roof.get("peak_ops_per_s"):
        rows.append(("peak compute", si(roof["peak_ops_per_s"], "OP/s")))
    if roof.get("ridge_ops_per_byte"):
        rows.append(("ridge point", f"{roof['ridge_ops_per_byte']:,.1f} ops per DRAM byte"))
    if roof.get("sram_bytes_per_s"):
        rows.append(("SRAM bandwidth (roof)", si(roof["sram_bytes_per_s"], "B/s")))
    if a.get("source"):
        rows.append(("source", a["source"]))
    return rows


def totals_rows(result: RunResult) -> list[tuple[str, str]]:
    t = result.totals
    batch = int(result.workload.get("batch", 1) or 1)
    rows = [
        ("latency", f"{seconds(t.latency_s)} ({t.cycles:,} cycles)"),
        ("throughput", f"{si(t.tops * 1e12, 'OP/s')} achieved"
         + (f", {batch / t.latency_s:,.1f} inferences/s at batch {batch}" if t.latency_s else "")),
        ("MACs", f"{si(t.macs)} ({t.ops:,} ops)"),
        ("MAC utilization", pct(t.utilization)),
        ("energy", f"{energy(t.energy_pj)} ({t.tops_per_watt:.3g} TOPS/W)"),
        ("average power", si(t.energy_pj * 1e-12 / t.latency_s, "W") if t.latency_s else "-"),
        ("DRAM traffic", f"{nbytes(t.dram_read_bytes)} read, {nbytes(t.dram_write_bytes)} written"),
        ("SRAM traffic", f"{nbytes(t.sram_read_bytes)} read, {nbytes(t.sram_write_bytes)} written"),
        ("stall cycles", f"{t.stall_cycles:,} ({pct(t.stall_cycles / t.cycles if t.cycles else 0)} of cycles)"),
        ("operational intensity", f"{si(t.operational_intensity)} ops per DRAM byte ({t.bound}-bound)"),
    ]
    if t.bottleneck:
        rows.append(("bottleneck", t.bottleneck))
    return rows


def _share_table(title: str, parts: dict[str, float], total: float, fmt) -> str:
    rows = sorted(parts.items(), key=lambda kv: -kv[1])
    body = "".join(f"<tr><td class=\"l\">{esc(k)}</td><td>{esc(fmt(v))}</td>"
                   f"<td>{esc(pct(v / total) if total else '-')}</td></tr>" for k, v in rows)
    return (f"<table><thead><tr><th class=\"l\">{esc(title)}</th><th>amount</th><th>share</th>"
            f"</tr></thead><tbody>{body}</tbody></table>")


LAYER_COLUMNS = ("#", "layer", "type", "MACs", "cycles", "compute cycles", "stall cycles",
                 "latency", "utilization", "DRAM read", "DRAM write", "SRAM read", "SRAM write",
                 "energy", "ops/DRAM byte", "MACs/weight byte", "bound")


def layer_table(result: RunResult) -> str:
    """The per-layer table (sortable by clicking a header), totals in the footer."""
    head = "".join(f'<th class="l">{c}</th>' if c in ("layer", "type", "bound") else f"<th>{c}</th>"
                   for c in LAYER_COLUMNS)
    rows = []
    for i, l in enumerate(result.layers):
        w_int = l.macs / l.weight_bytes if l.weight_bytes else math.inf
        cells = [
            _cell(str(i), i), f'<td class="l">{esc(l.name)}</td>', f'<td class="l">{esc(l.shown_type)}</td>',
            _cell(si(l.macs), l.macs), _cell(f"{l.cycles:,}", l.cycles),
            _cell(f"{l.compute_cycles:,}", l.compute_cycles), _cell(f"{l.stall_cycles:,}", l.stall_cycles),
            _cell(seconds(l.latency_s), l.latency_s), _cell(pct(l.utilization), l.utilization),
            _cell(nbytes(l.dram_read_bytes), l.dram_read_bytes),
            _cell(nbytes(l.dram_write_bytes), l.dram_write_bytes),
            _cell(nbytes(l.sram_read_bytes), l.sram_read_bytes),
            _cell(nbytes(l.sram_write_bytes), l.sram_write_bytes),
            _cell(energy(l.energy_pj), l.energy_pj),
            _cell(si(l.operational_intensity), l.operational_intensity),
            _cell(si(w_int) if l.weight_bytes else "-", w_int if l.weight_bytes else 0),
            f'<td class="l bound">{esc(l.bound)}</td>']
        cls = ' class="mem"' if l.bound == "memory" else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    t = result.totals
    weight_bytes = sum(l.weight_bytes for l in result.layers)
    foot = "".join([
        "<td></td>", '<td class="l">total</td>', "<td></td>", f"<td>{esc(si(t.macs))}</td>",
        f"<td>{t.cycles:,}</td>", f"<td>{t.cycles - t.stall_cycles:,}</td>",
        f"<td>{t.stall_cycles:,}</td>", f"<td>{esc(seconds(t.latency_s))}</td>",
        f"<td>{esc(pct(t.utilization))}</td>", f"<td>{esc(nbytes(t.dram_read_bytes))}</td>",
        f"<td>{esc(nbytes(t.dram_write_bytes))}</td>", f"<td>{esc(nbytes(t.sram_read_bytes))}</td>",
        f"<td>{esc(nbytes(t.sram_write_bytes))}</td>", f"<td>{esc(energy(t.energy_pj))}</td>",
        f"<td>{esc(si(t.operational_intensity))}</td>",
        f"<td>{esc(si(t.macs / weight_bytes)) if weight_bytes else '-'}</td>",
        f'<td class="l">{esc(t.bound)}</td>'])
    return (f'<div class="scroll"><table class="sortable" id="layers"><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(rows)}</tbody><tfoot><tr>{foot}</tr></tfoot></table></div>")


def _list(items: Sequence[str], cls: str = "") -> str:
    if not items:
        return "<p>none</p>"
    attr = f' class="{cls}"' if cls else ""
    return "<ul>" + "".join(f"<li{attr}>{esc(x)}</li>" for x in items) + "</ul>"


def _figures_html(svgs: dict[str, str], files: dict[str, dict[str, Path]],
                  captions: dict[str, str] | None = None) -> str:
    captions = {**CAPTIONS, **(captions or {})}
    out = []
    for stem, svg in svgs.items():
        links = " ".join(f'<a href="{esc(p.name)}">{fmt.upper()}</a>'
                         for fmt, p in files.get(stem, {}).items())
        out.append(f'<figure id="fig-{esc(stem)}">{svg}<figcaption>{captions.get(stem, "")} '
                   f"{links}</figcaption></figure>")
    return "".join(out)


def run_captions(result: RunResult) -> dict[str, str]:
    """Captions that depend on the run: the roofline's axis (`default_x_axis`)."""
    from simulator.core.roofline_plot import default_x_axis
    if result.roofline.get("peak_ops_per_s") and default_x_axis(result) == "ops_per_sram_byte":
        return {"roofline": CAPTIONS["roofline_sram"]}
    return {}


def page(title: str, subtitle: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{esc(title)}</h1><p class=\"sub\">{esc(subtitle)}</p>{body}"
            f"<script>{_SORT_JS}</script></body></html>\n")


def inline_svgs(figures: dict) -> dict[str, str]:
    """Figures as SVG fragments ready to inline, ids prefixed per figure."""
    from simulator.report import plots
    return {stem: plots.svg_fragment(plots.figure_bytes(fig, "svg"), f"{stem}-")
            for stem, fig in figures.items()}


def standalone_page(result: RunResult) -> str:
    """The report page as one file (`npusim run ... -o run.html`): plots inline as SVG,
    nothing written beside it. Without matplotlib the page says so and keeps the tables."""
    from simulator.report import plots
    try:
        svgs = inline_svgs(plots.run_figures(result))
    except NpusimError as exc:  # matplotlib is not installed
        return render_html(result, {}, no_plots=exc.one_line())
    return render_html(result, svgs)


def render_html(result: RunResult, svgs: dict[str, str],
                files: dict[str, dict[str, Path]] | None = None, no_plots: str = "") -> str:
    """The report page for a run, with the given inline SVG fragments by plot name."""
    t = result.totals
    w = result.workload
    prec = w.get("precision") or {}
    subtitle = (f"{w.get('layers', len(result.layers))} layers, batch {w.get('batch', 1)}, "
                f"{prec.get('number_format', 'int')}{prec.get('activation_bits', '')}"
                f"x{prec.get('weight_bits', '')}; npusim {result.npusim_version}")
    breakdowns = '<div class="grid">'
    breakdowns += "<div>" + _share_table("energy component", t.energy_breakdown_pj, t.energy_pj,
                                         energy) + "</div>"
    if t.stall_breakdown_cycles:
        breakdowns += "<div>" + _share_table("stall cause", {k: float(v) for k, v in
                                                            t.stall_breakdown_cycles.items()},
                                             float(t.cycles), lambda v: f"{int(v):,} cycles")
        breakdowns += "</div>"
    if t.dram_bytes_by_operand:
        dram_total = float(t.dram_read_bytes + t.dram_write_bytes)
        breakdowns += "<div>" + _share_table("DRAM bytes by operand",
                                             {k: float(v) for k, v in t.dram_bytes_by_operand.items()},
                                             dram_total, nbytes) + "</div>"
    breakdowns += "</div>"
    applied = transforms_text(w.get("transforms") or [])
    body = [
        f'<p class="compression">compression: {esc(applied)}</p>' if applied else "",
        '<div class="grid"><div><h2>Architecture</h2>', _kv_table(arch_rows(result)),
        "</div><div><h2>Totals</h2>", _kv_table(totals_rows(result)), "</div></div>",
        "<h2>Breakdowns</h2>", breakdowns,
        "<h2>Plots</h2>", _figures_html(svgs, files or {}, run_captions(result)) if svgs else
        f"<p>no plots{': ' + esc(no_plots) if no_plots else ''}</p>",
        "<h2>Layers</h2><p class=\"sub\">Click a column header to sort. Latency in seconds, "
        "traffic in bytes, energy in joules; ops = 2 per MAC plus element-wise ops.</p>",
        layer_table(result),
        "<h2>Assumptions</h2>", _list(result.assumptions),
        "<h2>Warnings</h2>", _list(result.warnings, "warn"),
        "<h2>Full architecture configuration</h2><details><summary>show</summary>",
        _kv_table(_flatten("", result.arch)), "</details>",
    ]
    title = f"{w.get('name', '?')} on {result.arch.get('name', '?')}"
    return page(title, subtitle, "".join(body))


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise NpusimError(f"cannot write report: {exc.strerror}", file=path,
                          fix="choose a writable directory for --report") from None


def _write_figures(figures: dict, out_dir: Path, png: bool
                   ) -> tuple[dict[str, str], dict[str, dict[str, Path]]]:
    """Save each figure as SVG (and PNG with `png`) into `out_dir`; returns the inline SVG
    fragments and the files by stem."""
    from simulator.report import plots

    if out_dir.exists() and not out_dir.is_dir():
        raise NpusimError("is a file, expected a directory", file=out_dir, field="--report",
                          fix="give a directory for the report")
    svgs: dict[str, str] = {}
    files: dict[str, dict[str, Path]] = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for stem, fig in figures.items():
            svg = plots.figure_bytes(fig, "svg")
            files[stem] = {"svg": out_dir / f"{stem}.svg"}
            files[stem]["svg"].write_bytes(svg)
            if png:
                files[stem]["png"] = out_dir / f"{stem}.png"
                files[stem]["png"].write_bytes(plots.figure_bytes(fig, "png"))
            svgs[stem] = plots.svg_fragment(svg, f"{stem}-")
    except OSError as exc:
        raise NpusimError(f"cannot write report: {exc.strerror}", file=out_dir,
                          fix="choose a writable directory for --report") from None
    return svgs, files


def write_report(result: RunResult, out_dir: Path, png: bool = False) -> Path:
    """Write `report.html` and each plot as SVG (and PNG with `png`) into `out_dir`; returns
    the HTML path. PNGs are opt-in: drawing them costs as much as the rest of the report."""
    from simulator.report import plots

    out_dir = Path(out_dir)
    svgs, files = _write_figures(plots.run_figures(result), out_dir, png)
    path = out_dir / REPORT_FILE
    _write(path, render_html(result, svgs, files))
    return path


def render_compare_html(results: Sequence[RunResult], table_rows: Sequence[dict],
                        svgs: dict[str, str], files: dict[str, dict[str, Path]],
                        columns: Sequence[tuple[str, str]]) -> str:
    """The comparison page: the side-by-side table, grouped bars and overlaid rooflines."""
    head = "".join(f'<th class="l">{esc(label)}</th>' if key in ("arch", "workload", "kind", "bound")
                   else f"<th>{esc(label)}</th>" for key, label in columns)
    body_rows = []
    for row in table_rows:
        cells = []
        for key, _ in columns:
            shown, value = row["_shown"][key], row.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(_cell(shown, value))
            else:
                cells.append(f'<td class="l">{esc(shown)}</td>')
        body_rows.append(f"<tr>{''.join(cells)}</tr>")
    table = (f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
             f"<tbody>{''.join(body_rows)}</tbody></table></div>")
    notes = []
    for r in results:
        label = f"{r.workload.get('name')} on {r.arch.get('name')}"
        if r.warnings:
            notes.append(f"<h3>{esc(label)}</h3>" + _list(r.warnings, "warn"))
    assumptions = []
    for r in results:
        label = f"{r.arch.get('name')} ({r.arch.get('kind')})"
        assumptions.append(f"<h3>{esc(label)} on {esc(r.workload.get('name'))}</h3>"
                           + _list(r.assumptions))
    from simulator.report.compare import compression_lines
    applied = "".join(f'<p class="compression">{esc(line)}</p>'
                      for line in compression_lines(table_rows))
    body = ["<h2>Side by side</h2><p class=\"sub\">Click a header to sort.</p>", applied, table,
            "<h2>Plots</h2>", _figures_html(svgs, files),
            "<h2>Warnings</h2>", "".join(notes) or "<p>none</p>",
            "<h2>Assumptions</h2>", "".join(assumptions)]
    archs = list(dict.fromkeys(r.arch.get("name") for r in results))
    workloads = list(dict.fromkeys(r.workload.get("name") for r in results))
    title = f"{', '.join(map(str, archs))} on {', '.join(map(str, workloads))}"
    return page(f"Comparison: {title}", f"{len(results)} runs", "".join(body))


def compare_figures(results: Sequence[RunResult], table_rows: Sequence[dict],
                    labels: Sequence[str]) -> dict:
    """The comparison's figures by file stem: grouped bars, and the overlaid rooflines when
    the runs have roofs."""
    from simulator.core.roofline_plot import roofline_plot_data
    from simulator.report import plots

    figures = {"compare_bars": plots.compare_bars_figure(table_rows)}
    with_roofs = [(label, r) for label, r in zip(labels, results)
                  if r.roofline.get("peak_ops_per_s") and r.roofline.get("dram_bytes_per_s")]
    axis = plots.compare_axis([r for _, r in with_roofs])  # one x-axis for all of them
    rooflines = [(label, roofline_plot_data(r, axis)) for label, r in with_roofs]
    if rooflines:
        figures["compare_roofline"] = plots.compare_roofline_figure(rooflines)
    return figures


def standalone_compare_page(results: Sequence[RunResult], table_rows: Sequence[dict],
                            columns: Sequence[tuple[str, str]], labels: Sequence[str]) -> str:
    """The comparison page as one file (`npusim compare ... -o cmp.html`), plots inline."""
    try:
        svgs = inline_svgs(compare_figures(results, table_rows, labels))
    except NpusimError:  # matplotlib is not installed: the table alone
        svgs = {}
    return render_compare_html(results, table_rows, svgs, {}, columns)


def write_compare_report(results: Sequence[RunResult], table_rows: Sequence[dict],
                         columns: Sequence[tuple[str, str]], out_dir: Path,
                         labels: Sequence[str], png: bool = False) -> Path:
    """Write `compare.html` with grouped bars and overlaid rooflines (plus SVG files, and PNG
    with `png`)."""
    out_dir = Path(out_dir)
    svgs, files = _write_figures(compare_figures(results, table_rows, labels), out_dir, png)
    path = out_dir / COMPARE_FILE
    _write(path, render_compare_html(results, table_rows, svgs, files, columns))
    return path
