"""docs/notebook.ipynb runs top to bottom in a real Jupyter kernel (nbclient + ipykernel, on
this machine, no network) and shows what it promises: the run as HTML, DataFrames, figures
as images and the comparison table."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[2]


def test_example_notebook_executes_and_shows_results():
    nb = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [{k for o in c.outputs for k in o.get("data", {})} for c in code]
    html = ["".join(o.get("data", {}).get("text/html", "") for o in c.outputs) for c in code]
    assert "resnet50 on tpu_v1" in html[0] and "conv/pw" in html[0]   # RunResult._repr_html_
    assert "<table" in html[1] and "l4b0_c2" in html[1]               # to_pandas(), sorted
    assert "conv/pw" in html[2]                                       # groupby type_label
    assert "image/png" in outputs[3] and "image/png" in outputs[4]    # figures draw themselves
    assert "speedup vs first arch" in html[5]                         # Comparison table
    assert "image/png" in outputs[7]
    assert "256x256" in html[8]
