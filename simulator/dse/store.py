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
import stat
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

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


#: SQLite's `application_id` of an npusim store ('NPUS' in ASCII); `user_version` is the
#: schema version. Other programs' databases carry their own id, or 0.
APPLICATION_ID = 0x4E505553
SCHEMA_VERSION = 1

_FIX_FOREIGN = "give a file written by `npusim sweep -o`, or a new path"


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the file (SQLite's read-only URI mode)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=30)


def inspect_store(path: str | Path) -> str:
    """What is at `path`, judged without changing a byte: "missing", "empty" (a new or
    zero-length file) or "ours" (an intact npusim store). Anything else raises a one-line
    NpusimError: a directory or device, a file that is not SQLite, another program's database
    (even one with a `results` table), a store from a newer npusim, a corrupted file (SQLite's
    quick_check), or rows a report could not read (bad JSON, non-numeric figures)."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise NpusimError(f"cannot read the results file: {exc.strerror or exc}", file=path,
                          fix=_FIX_FOREIGN) from None
    if stat.S_ISDIR(info.st_mode):
        raise NpusimError("is a directory, expected a sweep results file", file=path,
                          fix="give a file path for -o")
    if not stat.S_ISREG(info.st_mode):
        raise NpusimError("is not a regular file, expected a sweep results file", file=path,
                          fix=_FIX_FOREIGN)
    if info.st_size == 0:
        return "empty"
    try:
        with open(path, "rb") as handle:
            magic = handle.read(16)
    except OSError as exc:
        raise NpusimError(f"cannot read the results file: {exc.strerror or exc}", file=path,
                          fix=_FIX_FOREIGN) from None
    if magic != b"SQLite format 3\0":
        raise NpusimError("is not an SQLite database, so not a sweep results file", file=path,
                          fix=_FIX_FOREIGN)
    try:
        conn = _connect_read_only(path)
    except sqlite3.Error as exc:
        raise NpusimError(f"cannot open the results file read-only ({exc})", file=path,
                          fix=_FIX_FOREIGN) from None
    try:
        problem = _store_problem(conn)
    except sqlite3.DatabaseError as exc:
        problem = f"the database is damaged ({exc})"
    finally:
        conn.close()
    if problem:
        raise NpusimError(problem + "; it was left unchanged", file=path, fix=_FIX_FOREIGN)
    return "ours"


def _store_problem(conn: sqlite3.Connection) -> str | None:
    """Why an SQLite database is not an intact npusim store (None: it is)."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app_id not in (0, APPLICATION_ID):
        return (f"is another program's SQLite database (application id {app_id:#x}), not a "
                "sweep results file")
    if app_id == APPLICATION_ID and version > SCHEMA_VERSION:
        return (f"was written by a newer npusim (store schema {version}, this npusim reads "
                f"{SCHEMA_VERSION})")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    columns = {name: {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
               for name in tables & {"meta", "results"}}
    missing = set(TABLE_COLUMNS) - columns.get("results", set())
    if columns.get("meta") != {"name", "value"} or missing:
        shown = ", ".join(sorted(tables)[:6]) or "no tables"
        return (f"is an SQLite database ({shown}) but not a sweep results file"
                + (f": its results table lacks {', '.join(sorted(missing)[:3])}"
                   if "results" in tables and missing else ""))
    check = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
    if check != ["ok"]:
        return f"the database is damaged (SQLite quick_check: {'; '.join(check)[:160]})"
    return _content_problem(conn)


def _content_problem(conn: sqlite3.Connection) -> str | None:
    """Rows or meta that a sweep or a report could not read: JSON columns that are not JSON
    objects, figures that are not numbers, an unknown status."""
    spec = conn.execute("SELECT value FROM meta WHERE name = 'spec'").fetchone()
    if spec is not None and not isinstance(_json_object(spec[0]), dict):
        return "its stored sweep spec (meta 'spec') is not a JSON object"
    for column in ("point_json", "util_by_class_json", "area_breakdown_json"):
        try:  # SQLite's JSON functions check every row in C
            row = conn.execute(f"SELECT key FROM results WHERE NOT (json_valid({column}) AND "
                               f"json_type({column}) = 'object') LIMIT 1").fetchone()
        except sqlite3.OperationalError:  # pragma: no cover - SQLite built without JSON1
            row = next(((key,) for key, text in conn.execute(f"SELECT key, {column} FROM results")
                        if not isinstance(_json_object(text), dict)), None)
        if row:
            return f"row {str(row[0])[:24]!r}: {column} is not a JSON object"
    figures = [name for name, _ in FIGURE_COLUMNS]
    for name in figures:
        row = conn.execute(f"SELECT key, typeof({name}) FROM results WHERE typeof({name}) NOT "
                           "IN ('integer', 'real', 'null') LIMIT 1").fetchone()
        if row:
            return f"row {str(row[0])[:24]!r}: figure {name} is {row[1]}, not a number"
    row = conn.execute("SELECT key, status FROM results WHERE status NOT IN "
                       "('ok', 'invalid', 'error') LIMIT 1").fetchone()
    if row:
        return f"row {str(row[0])[:24]!r}: unknown status {str(row[1])[:20]!r}"
    return None


def _json_object(text: Any) -> Any:
    """`text` parsed as JSON, or None when it is not JSON text."""
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


class ResultStore:
    """A sweep's SQLite file (or `IN_MEMORY`). Use as a context manager; rows are committed one
    by one.

    A file that exists is inspected read-only first (`inspect_store`): anything but an intact
    npusim store (another program's database, a corrupted page, bad JSON, non-numeric figures)
    is refused with one line and left byte-identical. `create=False` (reports) keeps the
    connection read-only; otherwise the store is opened for writing in WAL mode, every row in
    its own transaction, so a crash loses at most the row in flight and never corrupts the file.
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self._seq: int | None = None  # completion order, kept in memory (no scan per insert)
        if str(path) == IN_MEMORY:
            self.conn = sqlite3.connect(IN_MEMORY)
            self._create()
            return
        state = inspect_store(self.path)
        if state == "missing" and not create:
            raise NpusimError("results file not found", file=self.path,
                              fix="give the file written by `npusim sweep -o`")
        try:
            if not create:
                self.conn = _connect_read_only(self.path)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(self.path), timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            # a new (or empty) file gets the tables; an older store the tables added since
            # (CREATE TABLE IF NOT EXISTS) and the mark, if it predates the mark
            self._create()
        except sqlite3.DatabaseError as exc:
            raise NpusimError(f"not a usable sweep results file ({exc})", file=self.path,
                              fix="give a file written by `npusim sweep -o`, or a new path") from None
        except OSError as exc:
            raise NpusimError(f"cannot create the results file: {exc.strerror or exc}",
                              file=self.path, fix="choose a writable path") from None

    def _create(self) -> None:
        """The tables and the npusim mark (`application_id`, `user_version`), in one go."""
        self.conn.executescript(_SCHEMA)
        self._mark()

    def _mark(self) -> None:
        with self.conn:
            self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
