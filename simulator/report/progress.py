"""A transient rich progress display on stderr, shown only when work takes more than a moment.

Nothing is drawn when disabled (`--quiet`), when stderr is not a terminal (pipes, CI, tests), or
when the work finishes within `delay_s`: the display starts from a timer, so quick runs stay
silent and scripted output stays clean. The display is transient: it disappears when done.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover - rich.progress is imported only when something is drawn
    from rich.progress import Progress

#: Seconds of work before anything is drawn.
DEFAULT_DELAY_S = 0.5


def progress_enabled(quiet: bool = False) -> bool:
    """Draw only for an interactive stderr and without --quiet."""
    return not quiet and sys.stderr.isatty()


class Tracker:
    """What the caller drives: `describe(text)` names the step now running, `advance()` marks
    one step done. A disabled tracker does nothing."""

    def __init__(self, bar: "Progress | None" = None, task: int | None = None) -> None:
        self._bar, self._task = bar, task

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=steps)


@contextmanager
def progress(description: str, total: int | None = None, *, enabled: bool = True,
             delay_s: float = DEFAULT_DELAY_S) -> Iterator[Tracker]:
    """A progress display around a block; yields a `Tracker`.

    With `total=None` it is a spinner with elapsed time (one opaque step, e.g. one engine call);
    with a total it is a bar with `done/total`.
    """
    if not enabled:
        yield Tracker()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    task = bar.add_task(description, total=total)
    lock = threading.Lock()
    state = {"done": False, "started": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                bar.start()
                state["started"] = True

    timer = threading.Timer(delay_s, start)
    timer.daemon = True
    timer.start()

    try:
        yield Tracker(bar, task)
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["started"]:
                bar.stop()
