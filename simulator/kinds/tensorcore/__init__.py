"""Tensor cores with a data routing bridge, in the style of Horizon's BPU
(docs/models/tensorcore.md)."""

from simulator.kinds.spec import Kind
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.area import tensorcore_area

KIND = Kind(name="tensorcore", arch_model=TensorCoreArch,
            engine_path="simulator.kinds.tensorcore.engine:TensorCoreEngine",
            area=tensorcore_area)
