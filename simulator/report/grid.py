"""A fast path for rich's default table, used for the per-layer table of `npusim run`.

Rich lays out a `Table` cell by cell (measure, wrap, pad, crop, join segments), about 1.5 ms a
row: 0.12 s for ResNet-50's 72 layers, more than the simulation, and seconds for an LLM with
thousands of layers. When every cell is printable ASCII on one line and the table fits the
console, the layout is trivial: each column is as wide as its widest cell plus one space of
padding on either side. `grid_pieces` lays the table out as styled pieces of text (the same
characters as rich's `Table` with its defaults: heavy-head box, bold header, italic centred
title, a rule before each new section; the same styles on the same characters), `grid_text`
makes them one rich `Text`, `plain` joins them (what rich prints to a pipe, without importing
rich). Both return None whenever the shortcut does not apply, so the caller falls back to
`Table`. tests/report/test_grid.py checks they agree with rich character for character.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover - rich is imported only to build a Text
    from rich.text import Text

Justify = Literal["left", "right"]
#: a cell: its text, or (text, style) for a styled one (e.g. ("memory", "red"))
Cell = str | tuple[str, str]
#: laid-out text as (text, style) pieces ("" = unstyled)
Pieces = list[tuple[str, str]]


def _plain(cell: Cell) -> tuple[str, str]:
    return (cell, "") if isinstance(cell, str) else cell


def _simple(text: str) -> bool:
    """One line of printable ASCII without edge spaces (rich strips those when it justifies):
    one character per terminal cell, nothing to wrap."""
    return text.isascii() and text.isprintable() and text == text.strip(" ")


def grid_pieces(title: str, columns: Sequence[tuple[str, Justify]],
                rows: Sequence[Sequence[Cell]], section_starts: frozenset[int] = frozenset(), *,
                max_width: int) -> Pieces | None:
    """The table as styled pieces (None when rich's layout could differ: a cell that is not
    plain one-line ASCII with no edge spaces, an empty header, a table wider than `max_width`
    or a title wider than the table). `section_starts` are the indices of rows that begin a
    new section (a rule is drawn above them)."""
    cells = [[_plain(c) for c in row] for row in rows]
    texts = [title] + [h for h, _ in columns] + [t for row in cells for t, _ in row]
    if not all(_simple(t) for t in texts) or any(len(row) != len(columns) for row in cells) \
            or not all(header for header, _ in columns):  # rich leaves an empty header unstyled
        return None
    widths = [len(header) for header, _ in columns]
    for row in cells:
        for i, (text, _) in enumerate(row):
            if len(text) > widths[i]:
                widths[i] = len(text)
    table_width = sum(widths) + 3 * len(widths) + 1
    if table_width > max_width or len(title) > table_width:
        return None

    out: Pieces = []
    add = out.append
    if title:
        left = (table_width - len(title)) // 2
        add((" " * left + title + " " * (table_width - len(title) - left), "italic"))
        add(("\n", ""))
    add(("┏" + "┳".join("━" * (w + 2) for w in widths) + "┓\n", ""))
    add(("┃", ""))
    for (header, justify), width in zip(columns, widths):
        # three pieces, as rich styles them (left pad, text, right pad): the same ANSI bytes
        add((" ", "bold"))
        add((_justify(header, width, justify), "bold"))
        add((" ", "bold"))
        add(("┃", ""))
    add(("\n┡" + "╇".join("━" * (w + 2) for w in widths) + "┩\n", ""))
    rule = "├" + "┼".join("─" * (w + 2) for w in widths) + "┤\n"
    for index, row in enumerate(cells):
        if index in section_starts and index > 0:
            add((rule, ""))
        add(("│", ""))
        for (text, style), (_, justify), width in zip(row, columns, widths):
            padded = _justify(text, width, justify)
            if style:
                start = width - len(text) if justify == "right" else 0
                add((" " + padded[:start], ""))
                add((text, style))
                add((padded[start + len(text):] + " │", ""))
            else:
                add((" " + padded + " │", ""))
        add(("\n", ""))
    add(("└" + "┴".join("─" * (w + 2) for w in widths) + "┘", ""))
    return out


def grid_text(title: str, columns: Sequence[tuple[str, Justify]], rows: Sequence[Sequence[Cell]],
              section_starts: frozenset[int] = frozenset(), *, max_width: int) -> Text | None:
    """`grid_pieces` as one rich `Text` (styles and all), or None."""
    pieces = grid_pieces(title, columns, rows, section_starts, max_width=max_width)
    if pieces is None:
        return None
    from rich.text import Text

    out = Text(no_wrap=True, overflow="ignore", end="")
    for text, style in pieces:
        out.append(text, style or None)
    return out


def plain(pieces: Pieces) -> str:
    """The pieces' characters, without styles (what rich writes to a pipe)."""
    return "".join(text for text, _ in pieces)


def _justify(text: str, width: int, justify: Justify) -> str:
    return text.rjust(width) if justify == "right" else text.ljust(width)
