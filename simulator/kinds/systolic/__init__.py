"""Systolic arrays in the style of TPUv1 and SCALE-Sim (docs/models.md, section 3)."""

from simulator.kinds.spec import Kind
from simulator.kinds.systolic.arch import SystolicArch
from simulator.kinds.systolic.area import systolic_area

KIND = Kind(name="systolic", arch_model=SystolicArch,
            engine_path="simulator.kinds.systolic.engine:SystolicEngine", area=systolic_area)
