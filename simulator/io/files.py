"""Opening input files safely: the one place that decides whether a path may be read at all.

Before a byte is read, an input must be a regular file (not a directory, a device such as
/dev/zero or a named pipe, which would never end or block forever) no larger than the limit for
its kind (`simulator.core.limits`), so a mistaken path costs a one-line error, never the
machine's memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from simulator.core.errors import NpusimError


def _size_text(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def check_input_file(path: str | Path, what: str, max_bytes: int, *, field: str | None = None,
                     fix: str | None = None) -> int:
    """Refuse anything but an existing regular file of at most `max_bytes`; return its size.
    `what` names the expected content in messages ("a YAML file")."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise NpusimError("file not found", file=path, field=field,
                          fix=fix or "check the path") from None
    except OSError as exc:
        raise NpusimError(f"cannot read file: {exc.strerror or exc}", file=path,
                          field=field) from None
    if stat.S_ISDIR(info.st_mode):
        raise NpusimError(f"is a directory, expected {what}", file=path, field=field)
    if not stat.S_ISREG(info.st_mode):
        raise NpusimError(f"is not a regular file (a device, pipe or socket), expected {what}",
                          file=path, field=field, fix="give the path of a file")
    if info.st_size > max_bytes:
        raise NpusimError(f"file is {_size_text(info.st_size)}, over the limit of "
                          f"{_size_text(max_bytes)} for {what}", file=path, field=field,
                          fix="check the path; see Limits in docs/formats.md")
    if not os.access(path, os.R_OK):
        raise NpusimError("cannot read file: permission denied", file=path, field=field)
    return info.st_size


def read_input_text(path: str | Path, what: str, max_bytes: int,
                    encoding: str = "utf-8") -> str:
    """The text of an input file, after `check_input_file`; read at most `max_bytes` (a file
    that grows while it is read is cut there, and then fails to parse)."""
    path = Path(path)
    size = check_input_file(path, what, max_bytes)
    try:
        with open(path, "rb") as handle:
            # read(n) allocates n bytes up front: ask for the size stat() gave (plus one byte,
            # to notice a file that grew), not for the limit
            data = handle.read(min(size, max_bytes) + 1)
            if len(data) > size:
                data += handle.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise NpusimError(f"cannot read file: {exc.strerror or exc}", file=path) from None
    if len(data) > max_bytes:
        raise NpusimError(f"file grew over the limit of {_size_text(max_bytes)} for {what} "
                          "while it was read", file=path)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise NpusimError(f"cannot read file: not {encoding.split('-')[0].upper()}-8 text "
                          f"(byte {exc.start} does not decode)", file=path,
                          fix=f"give {what}, saved as UTF-8") from None

