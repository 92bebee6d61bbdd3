"""Sweeps: file validation, expansion, store/resume after interruption, pool vs Dask, Pareto.

Most tests inject `sweep_fakes.fake_evaluate` (deterministic, instant) so the machinery is
tested without an engine's numbers; `test_real_engine_tiny_sweep` runs the real systolic engine.
"""

from __future__ import annotations

import functools
import multiprocessing
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import sweep_fakes
from helpers.sweep_fakes import SWEEP, fake_evaluate, write_files

from simulator.core.errors import NpusimError
from simulator.dse.pareto import best_by, dominates, pareto_front
from simulator.dse.runner import run_sweep
from simulator.dse.spec import RangeSpec, load_sweep, parse_constraint
from simulator.dse.store import ResultStore


def table(path: Path) -> list[dict]:
    with ResultStore(path, create=False) as store:
        return store.rows()


# ---- the sweep file ------------------------------------------------------------------------
def test_ranges_expand_as_documented():
    assert RangeSpec(start=32, stop=256, factor=2).values(True) == [32, 64, 128, 256]
    assert RangeSpec(start=1, stop=10, step=3).values(True) == [1, 4, 7, 10]   # stop included
    assert RangeSpec(start=1, stop=100, num=3, log=True).values(True) == [1, 10, 100]
    assert RangeSpec(start=0, stop=1, num=5).values(False) == [0, 0.25, 0.5, 0.75, 1.0]
    assert RangeSpec(start=8, stop=4, step=1).values(True) == []


def test_points_links_and_keys(tmp_path):
    sweep = load_sweep(write_files(tmp_path, SWEEP))
    # 4 array sizes x 3 SRAM sizes, cols linked to rows, one workload
    assert len(sweep.points) == 12 and len(sweep.tasks()) == 12
    assert all(p["array.cols"] == p["array.rows"] for p in sweep.points)
    assert len({key for key, _, _ in sweep.tasks()}) == 12
    assert [str(c) for c in sweep.constraints] == ["area_mm2 <= 0.05"]
    assert sweep.objectives == ["latency_s", "energy_pj", "area_mm2"]


@pytest.mark.parametrize("vary, needle", [
    ("array.rowz: [2, 4]", "array.rowz"),                       # not a field of the arch
    ("memory.bogus_bytes: [1]", "memory.bogus_bytes"),
    ("array.rows: {start: 8, stop: 4, step: 1}", "empty"),      # empty range
    ("array.rows: []", "empty"),
    ("array.rows: [0, 4]", "array.rows"),                       # invalid value for the model
])
def test_invalid_sweeps_fail_before_any_work(tmp_path, vary, needle):
    path = write_files(tmp_path, f"base: tiny_arch.yaml\nworkloads: [tiny.yaml]\nvary:\n  {vary}\n")
    log = tmp_path / "calls.log"
    with pytest.raises(NpusimError) as info:
        run_sweep(path, tmp_path / "r.sqlite", workers=1,
                  evaluate=functools.partial(fake_evaluate, log_path=str(log)))
    assert needle in info.value.one_line() and "\n" not in info.value.one_line()
    assert not log.exists() and not (tmp_path / "r.sqlite").exists()


def test_cli_invalid_path_is_one_line_exit_2(tmp_path, capsys):
    from simulator.cli.main import main
    path = write_files(tmp_path, "base: tiny_arch.yaml\nworkloads: [tiny.yaml]\n"
                                 "vary: {array.rowz: [2]}\n")
    assert main(["sweep", str(path), "-o", str(tmp_path / "r.sqlite"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("npusim: error:") and "array.rowz" in err and "\n" not in err


def test_bad_constraint_and_objective(tmp_path):
    with pytest.raises(NpusimError, match="cannot read constraint"):
        parse_constraint("area is small")
    path = write_files(tmp_path, SWEEP.replace("[latency, energy, area]", "[speed]"))
    with pytest.raises(NpusimError, match="unknown metric"):
        load_sweep(path)


# ---- store and resume ----------------------------------------------------------------------
def _reference(tmp_path: Path) -> list[dict]:
    """The uninterrupted run (same files, so the result JSON names the same sources)."""
    path = write_files(tmp_path, SWEEP)
    summary = run_sweep(path, tmp_path / "ref.sqlite", workers=1, evaluate=fake_evaluate)
    assert summary.computed == 12 and summary.errors == 0
    return table(tmp_path / "ref.sqlite")


class Stop(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_sweep_resumes_to_identical_table(tmp_path, workers):
    reference = _reference(tmp_path)
    path = write_files(tmp_path, SWEEP)
    store, log = tmp_path / "r.sqlite", tmp_path / "calls.log"
    evaluate = functools.partial(fake_evaluate, log_path=str(log))
    seen = []

    def ctrl_c_after_five(row):
        seen.append(row["key"])
        if len(seen) == 5:
            raise Stop()

    with pytest.raises(Stop):
        run_sweep(path, store, workers=workers, evaluate=evaluate, on_row=ctrl_c_after_five)
    stored_first = {row["key"]: row["point_json"] for row in table(store)}
    assert len(stored_first) == 5
    # the interrupted run has ended its workers before returning: nothing of it still runs
    assert not multiprocessing.active_children()
    first_calls = log.read_text().splitlines()
    log.unlink()

    summary = run_sweep(path, store, workers=workers, evaluate=evaluate)
    assert summary.skipped == 5 and summary.computed == 7
    assert table(store) == reference
    second_calls = log.read_text().splitlines()
    # nothing stored in the first run is evaluated again, and the second run evaluates each
    # remaining point exactly once (the fake logs "RxC:sram:workload" per call)
    assert len(second_calls) == len(set(second_calls)) == 7
    import json
    stored_labels = {f"{json.loads(p)['array.rows']}x{json.loads(p)['array.cols']}:"
                     f"{json.loads(p)['memory.ifmap_sram_bytes']}:tiny"
                     for p in stored_first.values()}
    assert not stored_labels & set(second_calls)
    assert stored_labels <= set(first_calls)
    # a third run computes nothing
    again = run_sweep(path, store, workers=workers, evaluate=evaluate)
    assert again.computed == 0 and again.skipped == 12


def test_killed_process_loses_nothing(tmp_path):
    """SIGKILL (a crash) in the middle of a sweep, then resume: same table as uninterrupted."""
    reference = _reference(tmp_path)
    path = write_files(tmp_path, SWEEP)
    store = tmp_path / "r.sqlite"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import functools, sys
        sys.path[:0] = [{str(Path(__file__).parents[1])!r}, {str(Path(__file__).parents[2])!r}]
        from helpers.sweep_fakes import fake_evaluate
        from simulator.dse.runner import run_sweep
        run_sweep({str(path)!r}, {str(store)!r}, workers=1,
                  evaluate=functools.partial(fake_evaluate, sleep_s=0.2))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=Path(__file__).parents[2])
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if store.exists():
                try:
                    if len(table(store)) >= 3:
                        break
                except Exception:  # noqa: BLE001 - the file may be mid-creation
                    pass
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    kept = table(store)
    assert 3 <= len(kept) < 12
    summary = run_sweep(path, store, workers=1, evaluate=fake_evaluate)
    assert summary.skipped == len(kept) and summary.computed == 12 - len(kept)
    assert table(store) == reference


def test_store_refuses_a_different_base(tmp_path):
    path = write_files(tmp_path, SWEEP)
    store = tmp_path / "r.sqlite"
    run_sweep(path, store, workers=1, evaluate=fake_evaluate, max_points=2)
    path.write_text(SWEEP.replace("workloads:", "set: {clock_mhz: 500}\nworkloads:"))
    with pytest.raises(NpusimError, match="different base arch"):
        run_sweep(path, store, workers=1, evaluate=fake_evaluate)
    summary = run_sweep(path, store, workers=1, evaluate=fake_evaluate, fresh=True)
    assert summary.computed == 12


def test_changed_points_refuse_the_old_store_unless_told(tmp_path, capsys):
    """Editing a sweep's points and re-running into the same store must not mix two versions
    (issue 13: 128 + 192 rows counted as one sweep): refused in one line; --extend keeps the
    stored rows and adds the new points, and reports read only the current points."""
    from simulator.cli.main import main
    from simulator.dse.analysis import load_results

    path = write_files(tmp_path, SWEEP)            # 4 array sizes x 3 SRAM sizes = 12 rows
    store = tmp_path / "r.sqlite"
    assert run_sweep(path, store, workers=1, evaluate=fake_evaluate).computed == 12
    # objectives and constraints are report choices: changing them is not another sweep
    path.write_text(SWEEP.replace("area_mm2 <= 0.05", "area_mm2 <= 0.1"))
    assert run_sweep(path, store, workers=1, evaluate=fake_evaluate).computed == 0
    # two SRAM sizes instead of three: 8 points, 4 of the stored 12 rows are not among them
    path.write_text(SWEEP.replace("[512, 2048, 8192]", "[512, 4096]"))
    with pytest.raises(NpusimError, match=r"another version of this sweep .*8 of its 12 rows "
                       r"are not points.*--extend.*--fresh"):
        run_sweep(path, store, workers=1, evaluate=fake_evaluate)
    assert main(["sweep", str(path), "-o", str(store), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--extend" in err[0] and str(store) in err[0]
    summary = run_sweep(path, store, workers=1, evaluate=fake_evaluate, extend=True)
    assert (summary.total, summary.skipped, summary.computed) == (8, 4, 4)
    assert len(table(store)) == 16                 # the 8 outside rows are kept in the file ...
    data = load_results(str(store))                # ... and left out of the report
    assert len(data.rows_by_workload["tiny"]) == 8 and data.outside_spec == 8
    # resuming the extended sweep is not another version
    assert run_sweep(path, store, workers=1, evaluate=fake_evaluate).computed == 0
    # --fresh starts over
    fresh = run_sweep(path, store, workers=1, evaluate=fake_evaluate, fresh=True)
    assert fresh.computed == 8 and len(table(store)) == 8


def test_store_written_before_points_were_hashed(tmp_path):
    """A store without a points hash resumes as long as its rows are points of the sweep."""
    path = write_files(tmp_path, SWEEP)
    store = tmp_path / "r.sqlite"
    run_sweep(path, store, workers=1, evaluate=fake_evaluate, max_points=5)
    with ResultStore(store) as db:                 # make it look like an older store
        with db.conn:
            db.conn.execute("DELETE FROM meta WHERE name = 'points_hash'")
            db.conn.execute("DROP TABLE spec_points")
    assert run_sweep(path, store, workers=1, evaluate=fake_evaluate).computed == 7
    with ResultStore(store) as db:
        with db.conn:
            db.conn.execute("DELETE FROM meta WHERE name = 'points_hash'")
    path.write_text(SWEEP.replace("[512, 2048, 8192]", "[512]"))
    with pytest.raises(NpusimError, match="8 of its 12 rows"):
        run_sweep(path, store, workers=1, evaluate=fake_evaluate)


def test_model_errors_are_stored_not_fatal(tmp_path):
    path = write_files(tmp_path, SWEEP)
    store = tmp_path / "r.sqlite"

    summary = run_sweep(path, store, workers=1, evaluate=_fails_on_16)
    # rows = 16 gives 3 points (3 SRAM sizes) that raise
    assert summary.computed == 12 and summary.errors == 3
    assert run_sweep(path, store, workers=1, evaluate=_fails_on_16).computed == 0
    retried = run_sweep(path, store, workers=1, evaluate=fake_evaluate, retry_errors=True)
    assert retried.computed == 3 and retried.errors == 0


def _fails_on_16(arch, workload):
    if arch.array.rows == 16:
        raise RuntimeError("engine bug")
    return fake_evaluate(arch, workload)


def test_pool_and_dask_give_identical_tables(tmp_path):
    pytest.importorskip("dask.distributed")
    import cloudpickle
    cloudpickle.register_pickle_by_value(sweep_fakes)  # dask workers cannot import tests/
    small = SWEEP.replace("[512, 2048, 8192]", "[512, 8192]").replace("stop: 16", "stop: 4")
    path = write_files(tmp_path, small)
    run_sweep(path, tmp_path / "pool.sqlite", workers=2, evaluate=fake_evaluate)
    run_sweep(path, tmp_path / "dask.sqlite", workers=1, dask="local", evaluate=fake_evaluate)
    pool, dask = table(tmp_path / "pool.sqlite"), table(tmp_path / "dask.sqlite")
    assert len(pool) == 4 and pool == dask


# ---- Pareto --------------------------------------------------------------------------------
def test_pareto_front_on_hand_made_points():
    rows = [
        {"id": "a", "lat": 1.0, "en": 9.0, "tpw": 1},
        {"id": "b", "lat": 2.0, "en": 4.0, "tpw": 1},
        {"id": "c", "lat": 3.0, "en": 4.0, "tpw": 1},   # dominated by b (same energy, slower)
        {"id": "d", "lat": 4.0, "en": 1.0, "tpw": 1},
        {"id": "e", "lat": 5.0, "en": 5.0, "tpw": 1},   # dominated by b and d
        {"id": "f", "lat": 2.0, "en": 4.0, "tpw": 1},   # ties b: neither dominates, both kept
        {"id": "g", "lat": None, "en": 0.1, "tpw": 1},  # missing value: never on the front
    ]
    front = pareto_front(rows, [("lat", True), ("en", True)])
    assert [r["id"] for r in front] == ["a", "b", "f", "d"]
    # maximising: with TOPS/W as a third objective, c becomes the best in it and joins
    rows[2]["tpw"] = 5
    front3 = pareto_front(rows, [("lat", True), ("en", True), ("tpw", False)])
    assert {r["id"] for r in front3} == {"a", "b", "c", "d", "f"}
    assert dominates((1, 1), (1, 2)) and not dominates((1, 1), (1, 1))
    assert best_by(rows, "en", True)["id"] == "g"
    assert best_by(rows, "lat", True, [("en", True)])["id"] == "a"


def test_pool_chunks_are_consecutive_points_in_order():
    """The pool hands each worker POOL_CHUNK consecutive points (runner._chunks): every task
    once, in sweep order, the last chunk shorter."""
    from simulator.dse.runner import _chunks
    tasks = [(str(i), {}, "w") for i in range(23)]
    chunks = list(_chunks(iter(tasks), 10))
    assert [len(c) for c in chunks] == [10, 10, 3]
    assert [t for c in chunks for t in c] == tasks
    assert list(_chunks(iter([]), 10)) == []
