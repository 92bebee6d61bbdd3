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
from simulator.core.limits import MAX_WEIGHTS_BYTES


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


def check_npy_arrays(path: str | Path, field: str | None = None,
                     max_bytes: int = MAX_WEIGHTS_BYTES, max_arrays: int = 64) -> None:
    """Read the header of a `.npy` file, or of every array in an `.npz` archive, and refuse
    the file before any array data is read: object arrays (they need pickle), data larger than
    `max_bytes`, or a header that declares more data than the file holds (a 100-byte file
    claiming 10^18 elements would otherwise make numpy try to allocate them)."""
    import zipfile

    path = Path(path)
    size = check_input_file(path, "a .npy or .npz file", max_bytes + 2**20, field=field,
                            fix="check the path (it is relative to the workload file)")
    fix = "save the matrix with numpy.save / numpy.savez or scipy.sparse.save_npz"
    try:
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if m.filename.endswith(".npy")]
                if len(members) > max_arrays:
                    raise NpusimError(f"the .npz holds {len(members)} arrays, more than "
                                      f"{max_arrays}", file=path, field=field, fix=fix)
                for member in members:
                    with archive.open(member) as handle:
                        _check_npy_header(handle, member.file_size, path, field,
                                          max_bytes, member.filename[:-4])
        else:
            with open(path, "rb") as handle:
                _check_npy_header(handle, size, path, field, max_bytes, None)
    except NpusimError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        text = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise NpusimError(f"cannot read weights file: {text}", file=path, field=field,
                          fix=fix) from None


def _check_npy_header(handle, stored_bytes: int, path: Path, field: str | None,
                      max_bytes: int, member: str | None) -> None:
    import math

    import numpy as np

    version = np.lib.format.read_magic(handle)
    reader = {(1, 0): np.lib.format.read_array_header_1_0,
              (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if reader is None:
        raise ValueError(f"unsupported .npy format version {version}")
    shape, _, dtype = reader(handle, max_header_size=10_000)
    where = f" {member!r}" if member else ""
    if dtype.hasobject:
        raise NpusimError(f"the array{where} holds Python objects, which npusim never loads "
                          "(they need pickle)", file=path, field=field,
                          fix="save a numeric array")
    data_bytes = math.prod(shape) * dtype.itemsize
    if data_bytes > max_bytes:
        raise NpusimError(f"the array{where} declares {data_bytes:.3g} bytes of data "
                          f"(shape {list(shape)[:6]}), over the limit of {_size_text(max_bytes)}",
                          file=path, field=field, fix="see Limits in docs/formats.md")
    if data_bytes > stored_bytes - handle.tell():
        raise NpusimError(f"the array{where} declares {data_bytes:,} bytes of data but the file "
                          f"holds {max(stored_bytes - handle.tell(), 0):,}", file=path,
                          field=field, fix="the file is truncated or corrupt; save it again")
