"""Read users' pruned weight matrices (`weights_file` on a layer) for the sparse engine.

This is the I/O half of the sparse engine's input: `api.simulate` calls `load_weight_files` and
hands the matrices to the engine, which stays free of file access. Accepted files:
- `.npy`: a dense 2-D array;
- `.npz` from `numpy.savez`: one 2-D array (or one named `weight` / `weights` / `W`);
- `.npz` from `scipy.sparse.save_npz`: CSR, CSC or COO (read here without scipy).
The matrix is W in PyTorch's `Linear.weight` layout: (out_features, in_features). Paths are
relative to the workload file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from simulator.core.errors import NpusimError
from simulator.core.workload import Workload
from simulator.io.files import check_npy_arrays
from simulator.kinds.sparse.matrices import SparseWeights

_DENSE_KEYS = ("weight", "weights", "W")


def _scipy_npz(data: Any, path: Path, field: str) -> SparseWeights:
    """Rebuild the coordinates of a scipy.sparse.save_npz file."""
    fmt = str(data["format"].item() if hasattr(data["format"], "item") else data["format"])
    fmt = fmt.strip("b'\"")
    shape = tuple(int(x) for x in data["shape"])
    if len(shape) != 2:
        raise NpusimError(f"sparse matrix has shape {list(shape)}, expected 2-D", file=path,
                          field=field)
    values = np.asarray(data["data"])
    if fmt in ("csr", "csc"):
        indptr = np.asarray(data["indptr"], dtype=np.int64)
        indices = np.asarray(data["indices"], dtype=np.int64)
        major = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        row, col = (major, indices) if fmt == "csr" else (indices, major)
    elif fmt == "coo":
        row = np.asarray(data["row"], dtype=np.int64)
        col = np.asarray(data["col"], dtype=np.int64)
    else:
        raise NpusimError(f"unsupported sparse format {fmt!r}", file=path, field=field,
                          fix="save the matrix as CSR, CSC or COO with scipy.sparse.save_npz")
    if row.size != values.size or col.size != values.size or (
            row.size and (row.max() >= shape[0] or col.max() >= shape[1] or min(row.min(), col.min()) < 0)):
        raise NpusimError("sparse matrix indices are inconsistent with its shape", file=path,
                          field=field, fix="re-save it with scipy.sparse.save_npz")
    return SparseWeights(shape, row, col, values)


def read_weights(path: Path, field: str = "weights_file") -> np.ndarray | SparseWeights:
    """Read one weight matrix; every problem becomes a one-line NpusimError."""
    if not path.is_file():
        raise NpusimError("weights file not found", file=path, field=field,
                          fix="check the path (it is relative to the workload file)")
    if path.suffix not in (".npy", ".npz"):
        raise NpusimError(f"unsupported weights file type {path.suffix!r}", file=path, field=field,
                          fix="save the matrix with numpy.save (.npy), numpy.savez or "
                              "scipy.sparse.save_npz (.npz)")
    check_npy_arrays(path, field)  # headers first: no data is read from a hostile file
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise NpusimError(f"cannot read weights file: {exc}", file=path, field=field,
                          fix="save it with numpy.save / numpy.savez / scipy.sparse.save_npz") from None
    if isinstance(data, np.ndarray):
        matrix = data
    else:
        with data:
            keys = list(data.keys())
            if "format" in keys and "shape" in keys:
                return _scipy_npz(data, path, field)
            named = [k for k in _DENSE_KEYS if k in keys]
            if named:
                matrix = data[named[0]]
            elif len(keys) == 1:
                matrix = data[keys[0]]
            else:
                raise NpusimError(f"the .npz holds several arrays ({', '.join(keys)}) and none is "
                                  "named weight", file=path, field=field,
                                  fix="save a single array, or name it weight")
    if matrix.ndim != 2:
        raise NpusimError(f"weights array has {matrix.ndim} dimensions, expected 2 "
                          "(out_features x in_features)", file=path, field=field)
    if not np.issubdtype(matrix.dtype, np.number) or not np.all(np.isfinite(matrix)):
        raise NpusimError("weights must be finite numbers", file=path, field=field)
    return matrix


def load_weight_files(workload: Workload) -> dict[str, np.ndarray | SparseWeights]:
    """The matrices named by the layers' `weights_file`, by layer name."""
    base = Path(workload.source).parent if workload.source else Path.cwd()
    matrices: dict[str, np.ndarray | SparseWeights] = {}
    for index, layer in enumerate(workload.layers):
        if not layer.weights_file:
            continue
        path = Path(layer.weights_file)
        if not path.is_absolute():
            path = base / path
        matrices[layer.name] = read_weights(path, f"layers[{index}] ({layer.name}).weights_file")
    return matrices
