"""Tensor cores with a data routing bridge, in the style of Horizon's BPU
(docs/models/tensorcore.md)."""

from simulator.kinds.spec import Kind
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.area import tensorcore_area


def _what_ifs(arch: TensorCoreArch) -> list[tuple[str, list[str]]]:
    from simulator.kinds.tensorcore.explain import what_ifs
    return what_ifs(arch)


KIND = Kind(name="tensorcore", arch_model=TensorCoreArch,
            engine_path="simulator.kinds.tensorcore.engine:TensorCoreEngine",
            area=tensorcore_area, what_ifs=_what_ifs,
            mapping_keys=("split", "tile_pixels", "tile_channels", "tile_input_channels",
                          "loop_order"))
