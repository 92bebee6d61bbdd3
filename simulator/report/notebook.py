"""Results in Jupyter without glue: a run or a comparison as a pandas DataFrame, and as HTML
when it is the last expression of a cell.

    >>> from simulator import simulate
    >>> r = simulate("tpu_v1", "resnet50")
    >>> r                       # the headline figures and the layer table (`_repr_html_`)
    >>> df = r.to_pandas()      # one row per layer
    >>> from simulator.report import plots
    >>> plots.roofline(r)       # a matplotlib Figure; it draws itself in the notebook
    >>> from simulator.report.compare import Comparison
    >>> Comparison([r, simulate("edge_32x32", "resnet50")])

pandas is an optional extra (`pip install 'npusim[notebook]'`), imported only by `to_pandas`.
The HTML is the report page's own tables (`simulator.report.html`), every name escaped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from simulator.core.errors import NpusimError

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from simulator.core.results import RunResult

#: How many layer rows the HTML shows before it scrolls.
_SCROLL_PX = 420


def pandas_module():
    """Import pandas lazily; a missing install is a one-line user error."""
    try:
        import pandas
    except ImportError:
        raise NpusimError("DataFrames need pandas, which is not installed", field="to_pandas",
                          fix="pip install 'npusim[notebook]'") from None
    return pandas


def layer_records(result: "RunResult") -> list[dict[str, Any]]:
    """One flat dict per layer: the contract keys, `type_label`, then each breakdown as
    `<key>.<part>` columns (e.g. `energy_breakdown_pj.dram`) and the engine-specific keys.
    Infinite intensities stay infinite (JSON has no infinity; a DataFrame does)."""
    out = []
    for layer in result.layers:
        row: dict[str, Any] = {}
        for key, value in layer.model_dump(mode="python").items():
            if isinstance(value, dict):
                row.update({f"{key}.{part}": v for part, v in value.items()})
            else:
                row[key] = value
        out.append(row)
    return out


def layers_frame(result: "RunResult") -> "pandas.DataFrame":
    """The layers as a DataFrame, one row per layer in execution order (`RunResult.to_pandas`);
    breakdowns a layer does not have are NaN."""
    pd = pandas_module()
    frame = pd.DataFrame.from_records(layer_records(result))
    frame.attrs.update(workload=result.workload.get("name"), arch=result.arch.get("name"))
    return frame


def run_html(result: "RunResult") -> str:
    """A run as HTML for a notebook: title, headline figures, the layer table (scrolling),
    warnings."""
    from simulator.report.html import esc, layer_table, totals_rows

    title = f"{result.workload.get('name', '?')} on {result.arch.get('name', '?')}"
    kind = result.arch.get("kind", "")
    totals = "".join(f"<tr><th style='text-align:left'>{esc(k)}</th>"
                     f"<td style='text-align:left'>{esc(v)}</td></tr>"
                     for k, v in totals_rows(result))
    warnings = "".join(f"<li>{esc(w)}</li>" for w in result.warnings)
    return (f"<div class='npusim-run'><h4 style='margin:.3em 0'>{esc(title)}"
            f" <small>({esc(kind)}, {len(result.layers)} layers)</small></h4>"
            f"<table>{totals}</table>"
            f"<details><summary>{len(result.layers)} layers</summary>"
            f"<div style='max-height:{_SCROLL_PX}px;overflow:auto'>{layer_table(result)}</div>"
            f"</details>"
            + (f"<p><b>warnings</b></p><ul>{warnings}</ul>" if warnings else "")
            + "</div>")


def comparison_frame(rows: Sequence[dict]) -> "pandas.DataFrame":
    """Comparison rows (`simulator.report.compare.summary_rows`) as a DataFrame, units in the
    column names."""
    pd = pandas_module()
    return pd.DataFrame.from_records([{k: v for k, v in r.items() if not k.startswith("_")}
                                      for r in rows])


def comparison_html(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """The side-by-side table as HTML (values as people read them), then the bottlenecks."""
    from simulator.report.html import esc

    head = "".join(f"<th>{esc(label)}</th>" for _, label in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(r['_shown'][k])}</td>" for k, _ in columns)
                   + "</tr>" for r in rows)
    notes = "".join(f"<li>{esc(r['workload'])} on {esc(r['arch'])}: {esc(r['bottleneck'])}</li>"
                    for r in rows if r.get("bottleneck"))
    return (f"<div class='npusim-compare'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
            + (f"<p><b>bottlenecks</b></p><ul>{notes}</ul>" if notes else "") + "</div>")
