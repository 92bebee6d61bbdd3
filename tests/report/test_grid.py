"""The fast table layout (simulator.report.grid) against rich's own `Table`: the same bytes,
plain and in colour, or no fast layout at all."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from simulator.report.grid import grid_text
from simulator.report.terminal import layer_grid, layer_table, print_run


@pytest.fixture(scope="module")
def resnet50_tpu_result():
    from simulator.api import simulate
    from simulator.io.load import load_arch, load_workload

    return simulate(load_arch("tpu_v1"), load_workload("resnet50"))


def _render(renderable, width: int, colour: bool) -> str:
    console = Console(highlight=False, width=width, file=io.StringIO(), force_terminal=colour,
                      color_system="standard" if colour else None)
    console.print(renderable)
    return console.file.getvalue()


def _rich_table(title, columns, rows, section_starts) -> Table:
    table = Table(title=Text(title, style="table.title"), header_style="bold")
    for header, justify in columns:
        table.add_column(Text(header), justify=justify, no_wrap=True)
    for index, row in enumerate(rows):
        if index in section_starts and index > 0:
            table.add_section()
        table.add_row(*(Text(c) if isinstance(c, str) else Text.assemble(c) for c in row))
    return table


_ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


@st.composite
def _tables(draw):
    n_cols = draw(st.integers(1, 5))
    columns = [(draw(_ASCII), draw(st.sampled_from(["left", "right"]))) for _ in range(n_cols)]
    cell = st.one_of(_ASCII, st.tuples(_ASCII, st.sampled_from(["red", "bold"])))
    rows = draw(st.lists(st.lists(cell, min_size=n_cols, max_size=n_cols), min_size=1,
                         max_size=6))
    sections = frozenset(draw(st.lists(st.integers(0, len(rows) - 1), max_size=2)))
    return draw(_ASCII), columns, rows, sections


@settings(max_examples=60, deadline=None)
@given(_tables(), st.booleans())
def test_grid_is_byte_identical_to_rich_where_it_applies(table, colour):
    title, columns, rows, sections = table
    grid = grid_text(title, columns, rows, sections, max_width=200)
    texts = [title] + [h for h, _ in columns] + [c if isinstance(c, str) else c[0]
                                                 for row in rows for c in row]
    if grid is None:  # all ASCII: only edge spaces, an empty header or a title wider than the table
        assert any(t != t.strip() for t in texts) or not all(h for h, _ in columns) or len(title) > sum(max(len(c if isinstance(c, str) else c[0]) for c in col) + 3
                                for col in zip(*([h for h, _ in columns], *rows))) + 1
        return
    assert _render(grid, 200, colour) == _render(_rich_table(title, columns, rows, sections),
                                                 200, colour)


def test_layer_table_fast_path_matches_rich(resnet50_tpu_result):
    """ResNet-50 on tpu_v1 (72 layers + total), plain and with ANSI colours (red `memory`)."""
    for colour in (False, True):
        fast = layer_grid(resnet50_tpu_result, 150)
        assert fast is not None
        assert _render(fast, 150, colour) == _render(layer_table(resnet50_tpu_result), 150, colour)


def test_grid_refuses_what_only_rich_lays_out():
    columns = [("layer", "left"), ("cycles", "right")]
    # a name rich measures as two cells per character, a control character, a second line
    for name in ("卷积1", "conv\x1b[31m", "conv\n2"):
        assert grid_text("t", columns, [[name, "1"]], max_width=200) is None
    # a table wider than the console: rich squeezes or wraps columns, the fast path does not
    assert grid_text("t", columns, [["x" * 40, "1"]], max_width=40) is None
    assert grid_text("t", columns, [["x" * 40, "1"]], max_width=200) is not None


def test_print_run_falls_back_to_rich_on_a_narrow_console(resnet50_tpu_result):
    """On an 80-column terminal rich wraps the layer column; the output is rich's."""
    narrow = Console(highlight=False, width=80, file=io.StringIO())
    print_run(resnet50_tpu_result, narrow)
    table_part = narrow.file.getvalue().split("\nlatency ")[0]
    assert table_part + "\n" == _render(layer_table(resnet50_tpu_result), 80, False)


def test_piped_run_text_is_what_rich_writes_to_a_pipe(resnet50_tpu_result):
    """`npusim run ... | cat`: written without rich, the same characters as rich's console
    (at least 150 columns wide, no styles) would write."""
    from simulator.report.terminal import piped_run_text

    fast = piped_run_text(resnet50_tpu_result)
    assert fast is not None
    console = Console(highlight=False, width=150, file=io.StringIO())
    print_run(resnet50_tpu_result, console)
    assert fast == console.file.getvalue()


@pytest.mark.parametrize("warning", [
    "short warning about [brackets]",           # markup characters, escaped by rich: fast path
    "a name with a backslash \\",                # rich's escape doubles it: rich path
    "the fire :fire: emoji code",                # rich turns it into an emoji: rich path
    "x" * 200,                                   # rich wraps it at the console width: rich path
    "ünïcode",                                   # cell widths: rich path
])
def test_piped_run_text_agrees_with_rich_or_steps_aside(resnet50_tpu_result, warning):
    from simulator.report.terminal import piped_run_text

    result = resnet50_tpu_result.model_copy(update={"warnings": [warning]})
    fast = piped_run_text(result)
    console = Console(highlight=False, width=150, file=io.StringIO())
    print_run(result, console)
    if warning.startswith("short"):
        assert fast == console.file.getvalue()
    else:
        assert fast is None
