"""The progress display stays silent for --quiet, non-terminals and quick work."""

from __future__ import annotations

from simulator.report.progress import progress, progress_enabled


def test_disabled_for_quiet_and_for_pipes():
    assert progress_enabled(quiet=True) is False
    # under pytest stderr is captured, i.e. not a terminal
    assert progress_enabled(quiet=False) is False


def test_quick_work_draws_nothing(capsys):
    with progress("working", 3, enabled=True, delay_s=30) as tracker:
        for i in range(3):
            tracker.describe(f"step {i}")
            tracker.advance()
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_disabled_tracker_is_a_no_op(capsys):
    with progress("working", enabled=False) as tracker:
        tracker.describe("x")
        tracker.advance()
    assert capsys.readouterr().err == ""
