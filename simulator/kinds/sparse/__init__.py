"""Sparse matrix-vector engines in the style of EIE (docs/models/sparse.md)."""

from simulator.kinds.sparse.arch import SparseArch, sparse_what_ifs
from simulator.kinds.sparse.area import sparse_area
from simulator.kinds.spec import Kind

KIND = Kind(name="sparse", arch_model=SparseArch,
            engine_path="simulator.kinds.sparse.engine:SparseEngine", area=sparse_area,
            what_ifs=sparse_what_ifs)
