"""Read users' pruned weight matrices (`weights_file` on a layer) for the sparse engine.

This is the I/O half of the sparse engine's input: `api.simulate` calls `load_weight_files` and
hands the matrices to the engine, which stays free of file access. Accepted files:
- `.npy`: a dense 2-D array;
- `.npz` from `numpy.savez`: one 2-D array (or one named `weight` / `weights` / `W`), and
  optionally measured input vectors of the layer named `activations` (or `inputs`): K values,
  or vectors x K, whose non-zeros the engine broadcasts instead of random positions;
- `.npz` from `scipy.sparse.save_npz`: CSR, CSC or COO (read here without scipy).
The matrix is W in PyTorch's `Linear.weight` layout: (out_features, in_features). Paths are
relative to the workload file.

Files are other people's data, so nothing in them is trusted (docs/models/sparse.md, "Weight
files"): only numeric arrays are ever loaded (`allow_pickle=False`; object, string, complex and
structured arrays are refused from their header), every array's header is read and checked
against the file's real size before any data, an `.npy` is memory-mapped (its data is read a
window at a time), an `.npz` member is read into memory only up to `MAX_ARRAY_BYTES`, and a
scipy file's `shape`, `indptr`, `indices` / `row` / `col` are checked before a coordinate is
built. Every problem is one line naming the file and the field.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from simulator.core.errors import NpusimError
from simulator.core.workload import Workload
from simulator.kinds.sparse.matrices import SparseWeights, UserLayer

_DENSE_KEYS = ("weight", "weights", "W")
_INPUT_KEYS = ("activations", "inputs")
_SCIPY_KEYS = {"csr": ("data", "indices", "indptr"), "csc": ("data", "indices", "indptr"),
               "coo": ("data", "row", "col")}
#: Bytes of one array read into memory from an .npz member (an .npy is memory-mapped instead).
MAX_ARRAY_BYTES = 1 << 30
#: Largest matrix dimension accepted (the sparse engine refuses far smaller layers anyway).
MAX_DIM = 1 << 31
#: Elements checked for finiteness at a time (bounded memory on a memory-mapped file).
_FINITE_WINDOW = 1 << 22
_FIX = "save it with numpy.save / numpy.savez / scipy.sparse.save_npz"


class _Reader:
    """Reads checked arrays from one weights file, naming it and the field in every error."""

    def __init__(self, path: Path, field: str) -> None:
        self.path, self.field = path, field

    def error(self, message: str, fix: str = _FIX) -> NpusimError:
        return NpusimError(message, file=self.path, field=self.field, fix=fix)

    def header(self, fp: IO[bytes], what: str,
               kinds: str = "biuf") -> tuple[tuple[int, ...], bool, np.dtype, int]:
        """(shape, fortran order, dtype, data bytes) from an .npy header, checked: numeric
        (`kinds`: numpy dtype kinds accepted) and not an object or structured array."""
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise self.error(f"{what}: .npy format version {version} is not supported")
        except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
            raise self.error(f"{what} is not a valid .npy array ({_first_line(exc)})") from None
        if dtype.hasobject:
            raise self.error(f"{what} holds Python objects; only numeric arrays are read "
                             "(pickled data is never loaded)",
                             fix="save a numeric array (float or int), not an object array")
        if dtype.kind not in kinds or dtype.fields is not None:
            raise self.error(f"{what} has dtype {dtype.str!r}; weights and inputs must be real "
                             "numbers", fix="save a float or int array")
        if any(not isinstance(d, int) or d < 0 for d in shape):
            raise self.error(f"{what} declares an invalid shape {list(shape)}")
        nbytes = math.prod(shape) * dtype.itemsize
        return tuple(shape), bool(fortran), dtype, nbytes

    # ---- .npy ---------------------------------------------------------------------------
    def npy(self, matrix: bool = True) -> np.ndarray:
        """A dense matrix (or, with `matrix` False, an array of any shape with at least one
        element) from an .npy file, memory-mapped after its header is checked."""
        size = self.path.stat().st_size
        with open(self.path, "rb") as fp:
            shape, _, _, nbytes = self.header(fp, "the array")
            offset = fp.tell()
        if matrix:
            self.check_matrix_shape(shape, "the array")
        elif not shape or min(shape) < 1:
            raise self.error(f"the array has shape {list(shape)}; it must hold weights")
        if nbytes > size - offset:
            raise self.error(f"the header declares {math.prod(shape):,} elements "
                             f"({nbytes:,} bytes) but the file holds {size - offset:,} bytes of "
                             "data", fix="the file is truncated or its header is wrong; save it "
                                         "again with numpy.save")
        try:
            matrix = np.load(self.path, mmap_mode="r" if nbytes else None, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise self.error(f"cannot read the array ({_first_line(exc)})") from None
        self.check_finite(matrix, "weights")
        return matrix

    # ---- .npz ---------------------------------------------------------------------------
    def member(self, archive: zipfile.ZipFile, key: str, kinds: str = "biuf") -> np.ndarray:
        """One array of an .npz, its header checked before its data is read."""
        name = key + ".npy"
        info = archive.getinfo(name)
        with archive.open(name) as fp:
            shape, _, _, nbytes = self.header(fp, f"array {key!r}", kinds)
            if nbytes > MAX_ARRAY_BYTES:
                raise self.error(f"array {key!r} declares {nbytes:,} bytes, over the limit of "
                                 f"{MAX_ARRAY_BYTES:,} for an .npz member",
                                 fix="save the matrix as an .npy file (it is memory-mapped) or "
                                     "as a scipy sparse .npz")
            if nbytes > info.file_size - fp.tell():
                raise self.error(f"array {key!r} declares {math.prod(shape):,} elements "
                                 f"({nbytes:,} bytes) but holds {info.file_size - fp.tell():,}")
        try:
            with archive.open(name) as fp:      # read_array parses the (checked) header again
                return np.lib.format.read_array(fp, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise self.error(f"cannot read array {key!r} ({_first_line(exc)})") from None

    def npz(self) -> np.ndarray | SparseWeights | UserLayer:
        try:
            with zipfile.ZipFile(self.path) as archive:
                keys = [n[:-4] for n in archive.namelist() if n.endswith(".npy")]
                if "format" in keys and "shape" in keys:
                    return self.scipy(archive, keys)
                inputs_key = next((k for k in _INPUT_KEYS if k in keys), None)
                named = [k for k in _DENSE_KEYS if k in keys]
                rest = [k for k in keys if k not in _INPUT_KEYS]
                if named:
                    key = named[0]
                elif len(rest) == 1:
                    key = rest[0]
                else:
                    raise self.error(
                        f"the .npz holds {len(rest)} arrays ({', '.join(rest[:6]) or 'none'}) "
                        "and none is named weight", fix="save a single array, or name it weight")
                matrix = self.member(archive, key)
                self.check_matrix_shape(matrix.shape, f"array {key!r}")
                self.check_finite(matrix, "weights")
                if inputs_key is None:
                    return matrix
                return UserLayer(matrix, self.inputs(self.member(archive, inputs_key),
                                                     inputs_key))
        except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as exc:
            raise self.error(f"cannot read the .npz ({_first_line(exc)})") from None

    def inputs(self, values: np.ndarray, key: str) -> np.ndarray:
        """Measured input vectors: K values or vectors x K."""
        if values.ndim not in (1, 2) or values.size == 0:
            raise self.error(f"array {key!r} has shape {list(values.shape)}; measured inputs "
                             "are K values or vectors x K", fix="save the layer's inputs as a "
                             "1-D or 2-D array")
        self.check_finite(values, key)
        return values.reshape(1, -1) if values.ndim == 1 else values

    def scipy(self, archive: zipfile.ZipFile, keys: list[str]) -> SparseWeights:
        """Rebuild the coordinates of a scipy.sparse.save_npz file, every array checked."""
        raw = self.member(archive, "format", kinds="SU")
        if raw.dtype.kind not in "SU" or raw.size != 1:
            raise self.error("the scipy 'format' entry is not a string")
        fmt = raw.reshape(-1)[0]
        fmt = fmt.decode("ascii", "replace") if isinstance(fmt, bytes) else str(fmt)
        if fmt not in _SCIPY_KEYS:
            raise self.error(f"unsupported sparse format {fmt!r}",
                             fix="save the matrix as CSR, CSC or COO with scipy.sparse.save_npz")
        missing = [k for k in _SCIPY_KEYS[fmt] if k not in keys]
        if missing:
            raise self.error(f"the {fmt.upper()} file has no {missing[0]!r} array",
                             fix="save it with scipy.sparse.save_npz")
        shape_arr = self.member(archive, "shape")
        if shape_arr.dtype.kind not in "iu" or shape_arr.shape != (2,):
            raise self.error(f"the sparse matrix's shape {shape_arr.tolist()} is not two "
                             "integers", fix="save a 2-D (out_features x in_features) matrix")
        shape = (int(shape_arr[0]), int(shape_arr[1]))
        self.check_matrix_shape(shape, "the sparse matrix")
        values = self.member(archive, "data")
        if values.ndim != 1:
            raise self.error("the sparse matrix's data is not 1-D")
        self.check_finite(values, "weights")
        nnz = values.size

        def index(key: str, bound: int) -> np.ndarray:
            arr = self.member(archive, key)
            if arr.dtype.kind not in "iu" or arr.ndim != 1 or arr.size != nnz:
                raise self.error(f"the sparse matrix's {key!r} is not {nnz:,} integers")
            arr = arr.astype(np.int64, copy=False)
            if nnz and (int(arr.min()) < 0 or int(arr.max()) >= bound):
                raise self.error(f"the sparse matrix's {key!r} has entries outside 0.."
                                 f"{bound - 1:,}")
            return arr

        if fmt == "coo":
            row, col = index("row", shape[0]), index("col", shape[1])
        else:
            major, minor = (shape[0], shape[1]) if fmt == "csr" else (shape[1], shape[0])
            indptr = self.member(archive, "indptr")
            if indptr.dtype.kind not in "iu" or indptr.ndim != 1 or indptr.size != major + 1:
                raise self.error(f"the {fmt.upper()} 'indptr' must be {major + 1:,} integers "
                                 f"(the {'rows' if fmt == 'csr' else 'columns'} + 1), it has "
                                 f"shape {list(indptr.shape)}")
            indptr = indptr.astype(np.int64, copy=False)
            counts = np.diff(indptr)
            if int(indptr[0]) != 0 or int(indptr[-1]) != nnz or (counts < 0).any():
                raise self.error(f"the {fmt.upper()} 'indptr' must rise from 0 to the "
                                 f"{nnz:,} stored values without going down")
            indices = index("indices", minor)
            majors = np.repeat(np.arange(major, dtype=np.int64), counts)
            row, col = (majors, indices) if fmt == "csr" else (indices, majors)
        return SparseWeights(shape, row, col, values)

    # ---- checks ---------------------------------------------------------------------------
    def check_matrix_shape(self, shape: tuple[int, ...], what: str) -> None:
        if len(shape) != 2:
            raise self.error(f"{what} has {len(shape)} dimensions, expected 2 "
                             "(out_features x in_features)",
                             fix="save W as a 2-D (out_features, in_features) array")
        if min(shape) < 1 or max(shape) > MAX_DIM:
            raise self.error(f"{what} has shape {list(shape)}; each dimension must be 1.."
                             f"{MAX_DIM:,}", fix="save the layer's (out_features, in_features) "
                                                 "matrix")

    def check_finite(self, array: np.ndarray, what: str) -> None:
        """Every value finite, checked a window at a time (memory-mapped data stays on disk)."""
        if array.dtype.kind != "f":
            return
        flat = array.reshape(-1, order="A") if array.flags.forc else array.ravel()
        for start in range(0, flat.size, _FINITE_WINDOW):
            if not np.isfinite(flat[start:start + _FINITE_WINDOW]).all():
                raise self.error(f"the {what} hold NaN or infinite values",
                                 fix="save finite numbers")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_weights(path: Path, field: str = "weights_file") -> np.ndarray | SparseWeights | UserLayer:
    """Read one weights file; every problem becomes a one-line NpusimError."""
    reader = _Reader(path, field)
    if not path.is_file():
        raise NpusimError("weights file not found", file=path, field=field,
                          fix="check the path (it is relative to the workload file)")
    if path.suffix not in (".npy", ".npz"):
        raise reader.error(f"unsupported weights file type {path.suffix!r}",
                           fix="save the matrix with numpy.save (.npy), numpy.savez or "
                               "scipy.sparse.save_npz (.npz)")
    try:
        return reader.npy() if path.suffix == ".npy" else reader.npz()
    except OSError as exc:
        raise reader.error(f"cannot read the file ({_first_line(exc)})") from None


def read_weight_values(path: Path, field: str) -> np.ndarray:
    """A real weight array of any shape from an .npy (checked and memory-mapped like a
    weights file), for statistics such as Huffman coding's; other files as `read_weights`,
    made dense (up to `MAX_ARRAY_BYTES`), without measured inputs."""
    if path.suffix == ".npy" and path.is_file():
        reader = _Reader(path, field)
        try:
            return reader.npy(matrix=False)
        except OSError as exc:
            raise reader.error(f"cannot read the file ({_first_line(exc)})") from None
    data = read_weights(path, field)
    matrix = data.matrix if isinstance(data, UserLayer) else data
    if isinstance(matrix, np.ndarray):
        return matrix
    if math.prod(matrix.shape) * 4 > MAX_ARRAY_BYTES:    # a scipy file, made dense
        raise _Reader(path, field).error(
            f"the sparse matrix's shape {list(matrix.shape)} is too large to make dense "
            f"(over {MAX_ARRAY_BYTES:,} bytes)", fix="give the weights as an .npy file")
    dense = np.zeros(matrix.shape, dtype=np.float32)
    dense[matrix.row, matrix.col] = matrix.values
    return dense


def load_weight_files(workload: Workload) -> dict[str, Any]:
    """The matrices (and measured inputs) named by the layers' `weights_file`, by layer."""
    base = Path(workload.source).parent if workload.source else Path.cwd()
    matrices: dict[str, Any] = {}
    for index, layer in enumerate(workload.layers):
        if not layer.weights_file:
            continue
        path = Path(layer.weights_file)
        if not path.is_absolute():
            path = base / path
        matrices[layer.name] = read_weights(path, f"layers[{index}] ({layer.name}).weights_file")
    return matrices
