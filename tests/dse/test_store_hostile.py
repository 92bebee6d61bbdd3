"""A results store is npusim's or it is refused (issue 15 item 2): another program's database,
a damaged file or rows a report cannot read get one line and exit status 2 from `sweep -o`,
`sweep --fresh` and `sweep-report`, and the file stays byte-identical (hashed before and
after). Stores are marked (application_id, user_version); a store from before the mark is
adopted; a killed sweep leaves no orphan workers."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers.sweep_fakes import SWEEP, fake_evaluate, write_files

from simulator.cli.main import main
from simulator.dse.runner import run_sweep
from simulator.dse.store import APPLICATION_ID, SCHEMA_VERSION, ResultStore, inspect_store


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> Path:
    """A real store of the tiny sweep (fake engine), checkpointed into one file."""
    folder = tmp_path_factory.mktemp("good")
    path = folder / "good.sqlite"
    run_sweep(write_files(folder, SWEEP), path, workers=1, evaluate=fake_evaluate)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return path


def variant(good: Path, folder: Path, name: str, *sql: str) -> Path:
    path = folder / f"{name}.sqlite"
    shutil.copy(good, path)
    conn = sqlite3.connect(path)
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


def foreign_with_results(folder: Path) -> Path:
    path = folder / "clinic.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE results (id INTEGER PRIMARY KEY, patient TEXT, score REAL)")
    conn.executemany("INSERT INTO results (patient, score) VALUES (?, ?)",
                     [("a", 1.0), ("b", 2.0)])
    conn.commit()
    conn.close()
    return path


def corrupted_page(good: Path, folder: Path) -> Path:
    """The last page's b-tree header overwritten (what a torn write or a bad disk leaves)."""
    path = folder / "torn.sqlite"
    shutil.copy(good, path)
    pages = path.stat().st_size // 4096
    with open(path, "r+b") as handle:
        handle.seek((pages - 1) * 4096)
        handle.write(b"\x0d" + b"\xff" * 7)
    return path


def text_file(folder: Path) -> Path:
    path = folder / "notes.sqlite"
    path.write_text("name: not a database\n")
    return path


CASES = {
    "foreign_results_table": lambda good, d: foreign_with_results(d),
    "other_application": lambda good, d: variant(good, d, "app", "PRAGMA application_id = 1234"),
    "newer_schema": lambda good, d: variant(good, d, "newer", "PRAGMA user_version = 99"),
    "corrupted_page": corrupted_page,
    "bad_point_json": lambda good, d: variant(
        good, d, "point", "UPDATE results SET point_json = '{x' WHERE rowid = 1"),
    "point_not_an_object": lambda good, d: variant(
        good, d, "plist", "UPDATE results SET point_json = '[1]' WHERE rowid = 1"),
    "bad_spec_json": lambda good, d: variant(
        good, d, "spec", "UPDATE meta SET value = '{x' WHERE name = 'spec'"),
    "non_numeric_figure": lambda good, d: variant(
        good, d, "figure", "UPDATE results SET latency_s = 'fast' WHERE rowid = 1"),
    "not_sqlite": lambda good, d: text_file(d),
}
EXPECT = {"foreign_results_table": "not a sweep results file", "other_application":
          "another program's", "newer_schema": "newer npusim", "corrupted_page": "damaged",
          "bad_point_json": "point_json is not a JSON object",
          "point_not_an_object": "point_json is not a JSON object",
          "bad_spec_json": "meta 'spec'", "non_numeric_figure": "latency_s is text",
          "not_sqlite": "not an SQLite database"}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["sweep", "sweep --fresh", "sweep-report"])
def test_foreign_or_corrupt_store_is_refused_and_unchanged(good_store, tmp_path, capsys, case,
                                                           command):
    sweep = write_files(tmp_path, SWEEP)
    path = CASES[case](good_store, tmp_path)
    before = digest(path)
    if command == "sweep-report":
        argv = ["sweep-report", str(path)]
    else:
        argv = ["sweep", str(sweep), "-o", str(path), "-q", "--workers", "1",
                *command.split()[1:]]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(path) in err and EXPECT[case] in err
    assert digest(path) == before
    assert not Path(f"{path}-wal").exists()  # not even opened for writing


def test_foreign_rows_survive_fresh(tmp_path, capsys):
    # the issue: --fresh deleted the rows of another database's own `results` table
    path = foreign_with_results(tmp_path)
    sweep = write_files(tmp_path, SWEEP)
    assert main(["sweep", str(sweep), "-o", str(path), "--fresh", "-q", "--workers", "1"]) == 2
    capsys.readouterr()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT patient, score FROM results").fetchall() == [("a", 1.0),
                                                                              ("b", 2.0)]
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["results"]
    conn.close()


def test_new_store_is_marked_and_in_wal_mode(tmp_path):
    path = tmp_path / "r.sqlite"
    run_sweep(write_files(tmp_path, SWEEP), path, workers=1, evaluate=fake_evaluate)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID == 0x4E505553
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert inspect_store(path) == "ours"


def test_store_from_before_the_mark_is_adopted(good_store, tmp_path):
    path = variant(good_store, tmp_path, "old", "PRAGMA application_id = 0",
                   "PRAGMA user_version = 0")
    assert inspect_store(path) == "ours"
    with ResultStore(path, create=False) as store:  # a report reads it, read-only
        assert store.count() == 12
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0  # not written by a report
    conn.close()
    summary = run_sweep(write_files(tmp_path, SWEEP), path, workers=1, evaluate=fake_evaluate)
    assert summary.skipped == 12
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()


def test_an_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "r.sqlite"
    path.write_bytes(b"")
    summary = run_sweep(write_files(tmp_path, SWEEP), path, workers=1, evaluate=fake_evaluate)
    assert summary.computed == 12 and inspect_store(path) == "ours"


def test_a_report_never_writes(good_store, tmp_path, capsys):
    path = tmp_path / "copy.sqlite"
    shutil.copy(good_store, path)
    before = digest(path)
    assert main(["sweep-report", str(path)]) == 0
    capsys.readouterr()
    assert digest(path) == before


def test_directory_as_store(tmp_path, capsys):
    sweep = write_files(tmp_path, SWEEP)
    (tmp_path / "out.sqlite").mkdir()
    assert main(["sweep", str(sweep), "-o", str(tmp_path / "out.sqlite"), "-q"]) == 2
    assert "is a directory" in capsys.readouterr().err


# ---- orphans --------------------------------------------------------------------------------
def _children(pid: int) -> set[int]:
    """Live child processes of `pid` (Linux /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_sweep_leaves_no_orphan_workers(tmp_path):
    path = write_files(tmp_path, SWEEP)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import functools, sys
        sys.path[:0] = [{str(Path(__file__).parents[1])!r}, {str(Path(__file__).parents[2])!r}]
        from helpers.sweep_fakes import fake_evaluate
        from simulator.dse.runner import run_sweep
        run_sweep({str(path)!r}, {str(tmp_path / "r.sqlite")!r}, workers=2,
                  evaluate=functools.partial(fake_evaluate, sleep_s=5))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=Path(__file__).parents[2])
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            workers = _children(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the pool did not start"
        time.sleep(0.5)  # the workers are inside their 5 s evaluations
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.05)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"orphan workers {left} outlived the killed sweep"


def test_unreachable_dask_scheduler_fails_fast(tmp_path, capsys):
    import socket

    with socket.socket() as sock:  # a port nobody listens on: bind, then close
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sweep = write_files(tmp_path, SWEEP)
    started = time.monotonic()
    code = main(["sweep", str(sweep), "-o", str(tmp_path / "r.sqlite"), "-q",
                 "--dask", f"tcp://127.0.0.1:{port}"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "--dask" in err, err
    assert elapsed < 10  # was 30 s of Dask retries; the check itself needs no Dask import
    code = main(["sweep", str(sweep), "-o", str(tmp_path / "r.sqlite"), "-q",
                 "--dask", "foo:bar:baz"])
    assert code == 2 and "cannot read the scheduler address" in capsys.readouterr().err
