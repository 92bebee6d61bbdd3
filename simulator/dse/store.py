"""The SQLite results store of a sweep: one row per (design point, workload).

Each row holds a key made from the canonical design point and the workload, the key figures as
columns (for SQL and the report) and the full `RunResult` JSON beside them. The file is in WAL
mode and every row is committed as it arrives, so an interrupted sweep keeps everything that
finished; re-running skips the keys already stored. Only the main process writes.

A `meta` table records the sweep file, a fingerprint of what the points are evaluated on
(base arch, workloads, npusim version) and a hash of which rows the sweep has (`points_hash`);
`spec_points` lists those rows' keys. A store made for another base or workload set is refused;
one made by an earlier version of the same sweep (its points changed) is refused unless the run
says `extend` (keep the stored rows, add the new ones) or `fresh` (discard them). Reports read
only the rows of the current spec.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable

from simulator.core.errors import NpusimError
from simulator.core.metrics import STORED

#: A store path that keeps the rows in memory (a sweep preset that only reads them back).
IN_MEMORY = ":memory:"

#: Figure columns: (name, SQL type), from the figure table (`simulator.core.metrics`).
#: Everything a report needs without parsing the JSON.
FIGURE_COLUMNS: tuple[tuple[str, str], ...] = tuple((m.name, m.sql) for m in STORED if m.sql)
#: Columns that define "the results table" (everything but timing / bookkeeping).
TABLE_COLUMNS: tuple[str, ...] = (
    ("key", "point_json", "workload", "status", "error")
    + tuple(name for name, _ in FIGURE_COLUMNS) + ("util_by_class_json", "area_breakdown_json",
                                                   "result_json"))

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spec_points (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    point_json TEXT NOT NULL,
    workload TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    {", ".join(f"{name} {sqltype}" for name, sqltype in FIGURE_COLUMNS)},
    util_by_class_json TEXT NOT NULL DEFAULT '{{}}',
    area_breakdown_json TEXT NOT NULL DEFAULT '{{}}',
    result_json TEXT,
    eval_s REAL,
    seq INTEGER
);
"""


class ResultStore:
    """A sweep's SQLite file (or `IN_MEMORY`). Use as a context manager; rows are committed one
    by one."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self._seq: int | None = None  # completion order, kept in memory (no scan per insert)
        if not create and not self.path.exists():
            raise NpusimError("results file not found", file=self.path,
                              fix="give the file written by `npusim sweep -o`")
        try:
            if create and str(path) != IN_MEMORY:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                self.conn.executescript(_SCHEMA)
            else:
                self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise NpusimError(f"not a usable sweep results file ({exc})", file=self.path,
                              fix="give a file written by `npusim sweep -o`, or a new path") from None

    def _check_schema(self) -> None:
        names = {row[0] for row in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "results"} <= names:
            raise NpusimError("not a sweep results file (no results table)", file=self.path,
                              fix="give a file written by `npusim sweep -o`")

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    # ---- meta -----------------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                              (name, value))

    def claim(self, fingerprint: str, spec_json: str, points_hash: str | None = None,
              keys: Iterable[str] = (), *, fresh: bool = False, extend: bool = False) -> None:
        """Bind the store to a sweep: refuse one made for a different base/workloads, and one
        made by an earlier version of this sweep (other points) unless `extend` or `fresh`;
        then record the sweep's fingerprint, spec, points hash and row keys."""
        stored = self.get_meta("fingerprint")
        keys = set(keys)
        if fresh:
            with self.conn:
                self.conn.execute("DELETE FROM results")
            self._seq = None
        elif stored is not None and stored != fingerprint:
            raise NpusimError(
                "this results file holds a sweep over a different base arch, workloads or "
                "npusim version", file=self.path,
                fix="write to a new -o file, or pass --fresh to discard the stored points")
        elif points_hash is not None and not extend and self.count():
            stored_hash = self.get_meta("points_hash")
            rows, outside = self.count(), len(self.done_keys() - keys)
            # a store from before points were hashed: it is another version if it has rows
            # outside this sweep (an extended store keeps such rows under the same hash)
            if (stored_hash != points_hash) if stored_hash is not None else outside:
                which = (f"{outside} of its {rows} rows are not points of the sweep now"
                         if outside else f"its {rows} rows are all points of the sweep now, "
                         f"which has {len(keys)}")
                raise NpusimError(
                    f"this results file was written by another version of this sweep (its "
                    f"points changed: {which})", file=self.path,
                    fix="pass --extend to keep them and add the new points, --fresh to discard "
                    "them, or write to a new -o file")
        self.set_meta("fingerprint", fingerprint)
        self.set_meta("spec", spec_json)
        if points_hash is not None:
            self.set_meta("points_hash", points_hash)
            with self.conn:
                self.conn.execute("DELETE FROM spec_points")
                self.conn.executemany("INSERT INTO spec_points (key) VALUES (?)",
                                      ((k,) for k in sorted(keys)))

    def spec_keys(self) -> set[str] | None:
        """The keys of the current spec's rows (None for a store written before they were
        recorded: then every stored row belongs to it)."""
        names = {row[0] for row in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if "spec_points" not in names or self.get_meta("points_hash") is None:
            return None
        return {row[0] for row in self.conn.execute("SELECT key FROM spec_points")}

    # ---- rows -----------------------------------------------------------------------------
    def done_keys(self, include_errors: bool = True) -> set[str]:
        query = "SELECT key FROM results" + ("" if include_errors else " WHERE status != 'error'")
        return {row[0] for row in self.conn.execute(query)}

    def add(self, row: dict[str, Any]) -> None:
        """Insert (or replace, for a retried error) one finished point and commit it."""
        if self._seq is None:
            self._seq = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM results").fetchone()[0]
        self._seq += 1
        values = dict(row, seq=self._seq)
        names = [name for name in (*TABLE_COLUMNS, "eval_s", "seq") if name in values]
        with self.conn:
            self.conn.execute(
                f"INSERT OR REPLACE INTO results ({', '.join(names)}) "
                f"VALUES ({', '.join('?' for _ in names)})", [values[n] for n in names])

    def rows(self, columns: Iterable[str] = TABLE_COLUMNS, where: str = "",
             params: tuple = ()) -> list[dict[str, Any]]:
        """Rows as dicts, ordered by key (independent of completion order)."""
        cols = list(columns)
        sql = f"SELECT {', '.join(cols)} FROM results {where} ORDER BY key"
        return [dict(zip(cols, values)) for values in self.conn.execute(sql, params)]

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def spec(self) -> dict[str, Any]:
        text = self.get_meta("spec")
        return json.loads(text) if text else {}
