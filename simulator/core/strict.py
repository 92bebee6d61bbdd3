"""The base of every config model (arch, workload, layers, sweep files, energy tables).

Stricter than pydantic's defaults, because a config that is silently reinterpreted gives a
silently wrong result:
- unknown fields are errors;
- numbers must be finite (`.inf` and `.nan` are refused) unless a field says otherwise with
  `Field(allow_inf_nan=True)` (the documented ideal-machine bandwidths);
- a boolean is not a number: `clock_mhz: true` or `--set array.rows=true` is an error, where
  pydantic would read it as 1;
- integers are at most `MAX_INT` (2^62) in magnitude, so every count derived from them fits a
  64-bit integer (docs/formats.md, section 6).
"""

from __future__ import annotations

import types
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

from simulator.core.errors import FieldProblem, register_model_name
from simulator.core.limits import MAX_INT, describe_int, power_of_two

# What a field expects, as far as booleans and integer sizes go: a number, a container of
# numbers, a union of those, or anything else (strings, models, Any: nothing to check here).
_NUMBER = "number"
_OTHER = "other"
Spec = Any  # _NUMBER | _OTHER | ("seq", Spec) | ("map", Spec) | ("tuple", [Spec]) | ("union", [Spec])


def _spec(annotation: Any) -> Spec:
    """Where numbers sit in values of `annotation`."""
    if annotation is bool:
        return _OTHER
    if annotation in (int, float):
        return _NUMBER
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _spec(args[0])
    if origin is Literal:
        values = [a for a in args if a is not None]
        return _NUMBER if values and all(type(a) in (int, float) for a in values) else _OTHER
    if origin in (Union, types.UnionType):
        if any(a is bool or a is Any for a in args):
            return _OTHER  # a boolean (or anything) is a valid member
        checked = [s for s in (_spec(a) for a in args if a is not type(None)) if s != _OTHER]
        if not checked:
            return _OTHER
        return checked[0] if len(checked) == 1 else ("union", checked)
    if origin in (list, set, frozenset):
        inner = _spec(args[0]) if args else _OTHER
        return ("seq", inner) if inner != _OTHER else _OTHER
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            inner = _spec(args[0])
            return ("seq", inner) if inner != _OTHER else _OTHER
        specs = [_spec(a) for a in args]
        return ("tuple", specs) if any(s != _OTHER for s in specs) else _OTHER
    if origin is dict:
        inner = _spec(args[1]) if len(args) == 2 else _OTHER
        return ("map", inner) if inner != _OTHER else _OTHER
    return _OTHER


def _problem(spec: Spec, value: Any) -> str | None:
    """What is wrong with the numbers in `value` for `spec` (None: nothing)."""
    if spec == _OTHER:
        return None
    if spec == _NUMBER:
        if type(value) is bool:
            return f"expected a number, got a boolean ({str(value).lower()})"
        if type(value) is int and abs(value) > MAX_INT:
            return (f"{describe_int(value)} is beyond the largest integer npusim accepts, "
                    f"{power_of_two(MAX_INT)}")
        return None
    kind = spec[0]
    if kind == "seq" and isinstance(value, (list, tuple, set, frozenset)):
        return next((p for v in value if (p := _problem(spec[1], v))), None)
    if kind == "map" and isinstance(value, dict):
        return next((p for v in value.values() if (p := _problem(spec[1], v))), None)
    if kind == "tuple" and isinstance(value, (list, tuple)):
        return next((p for s, v in zip(spec[1], value) if (p := _problem(s, v))), None)
    if kind == "union":
        return next((p for s in spec[1] if (p := _problem(s, value))), None)
    return None


class LazyModel(BaseModel):
    """Base of every npusim pydantic model: its validator and serializer are built when first
    used, not when the module is imported. A run uses a few of the ~100 models (one layer type
    of twenty, one kind's arch of three), and building them all took longer than simulating
    ResNet-50 (issue 11, fast start)."""

    model_config = ConfigDict(defer_build=True)


class StrictModel(LazyModel):
    """Base for all config models: unknown fields are errors, not silently ignored; numbers
    are finite (unless a field allows infinity), never booleans, and at most 2^62."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False,
                              defer_build=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_model_name(cls.__name__)

    @classmethod
    @cache
    def _number_spec(cls, name: str) -> Spec:
        field = cls.model_fields.get(name)
        return _spec(field.annotation) if field is not None else _OTHER

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if type(value) in (str, type(None)) or not isinstance(name, str):
                    continue
                problem = _problem(cls._number_spec(name), value)
                if problem:
                    raise FieldProblem(name, problem)
        return data
