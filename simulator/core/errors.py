"""User-facing errors.

Every problem with user input is raised as :class:`NpusimError`, which carries the file, the
field and the fix. The CLI prints it as one line and exits with status 2; no traceback ever
reaches the user for bad input.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - annotations only: the CLI's error path stays light
    from pydantic import ValidationError


class NpusimError(Exception):
    """A problem with user input: which file, which field, what to do about it."""

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None,
                 fix: str | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Render as `file: field: message (fix)` on a single line."""
        parts = []
        if self.file:
            parts.append(self.file)
        if self.field:
            parts.append(f"field '{self.field}'")
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.fix:
            text += f" ({self.fix})"
        return " ".join(text.split())


#: How pydantic labels the member of a union (or a wrapped validator) it tried, in an error's
#: location: `constrained-int`, `str`, `tuple[constrained-int, constrained-int]`,
#: `function-after[_one_kind(), RangeSpec]`, `list[any]`. These are pydantic's words, not the
#: user's fields, and never reach a message.
_TYPE_LABEL = re.compile(r"^(constrained-[a-z]+|int|str|float|bool|bytes|none|decimal|date|"
                         r"datetime|time|list|dict|tuple|set|any|json-or-python|lax-or-strict|"
                         r"is-instance|literal|nullable|function-[a-z-]+|union|tagged-union|"
                         r"model|dataclass)(\[.*\])?$")
#: Names of the config model classes (a union of models puts the class name in the location).
_MODEL_NAMES: set[str] = set()


def register_model_name(name: str) -> None:
    """Tell the error formatter that `name` is a model class (a union member label)."""
    _MODEL_NAMES.add(name)


class FieldProblem(ValueError):
    """Raised by a model-level validator about one of the model's fields: the error formatter
    adds `field` to the location (pydantic places model-level errors at the model)."""

    def __init__(self, field: str, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.fix = fix


def _loc_to_path(loc: tuple) -> str:
    """Turn a pydantic error location into a dotted path, dropping pydantic's labels of union
    members and validators (layers are chosen by `core.layer_union.validate_layer`, which puts
    no tag in the location)."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            text = str(part)
            if text in _MODEL_NAMES or _TYPE_LABEL.match(text):
                continue
            out.append(("." if out else "") + text)
    return "".join(out)


_FIXES = {
    "extra_forbidden": "remove it or check the spelling; see docs/formats.md for the fields",
    "missing": "add it",
    "greater_than": "use a positive value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "literal_error": "use one of the allowed values",
    "union_tag_invalid": "use one of the allowed values",
    "int_parsing": "use an integer",
    "int_type": "use an integer",
    "float_parsing": "use a number",
    "float_type": "use a number",
    "bool_parsing": "use true or false",
    "finite_number": "use a finite number; see Limits in docs/formats.md",
    "int_parsing_size": "use a smaller number; see Limits in docs/formats.md",
}


def from_validation_error(err: ValidationError, file: str | Path | None,
                          prefix: str = "") -> NpusimError:
    """Convert the first pydantic validation error into a one-line :class:`NpusimError`."""
    first = err.errors()[0]
    loc = tuple(first.get("loc", ()))
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, FieldProblem):
        loc += (cause.field,)
    path = _loc_to_path(loc)
    if prefix:
        path = f"{prefix}.{path}" if path and not path.startswith("[") else f"{prefix}{path}"
    kind = first.get("type", "")
    msg = _plain_message(str(first.get("msg", "invalid value")))
    if kind == "extra_forbidden":
        msg = "unknown field"
    elif kind == "missing":
        msg = "required field is missing"
    else:
        given = first.get("input")
        if given is not None and not isinstance(given, (dict, list)) \
                and not isinstance(cause, FieldProblem):
            msg = f"{msg}, got {_short_repr(given)}"
    fix = cause.fix if isinstance(cause, FieldProblem) and cause.fix else _FIXES.get(kind)
    # the other members of a union that the value failed too are not more problems
    others = {_loc_to_path(tuple(e.get("loc", ()))) for e in err.errors()[1:]}
    more = len({o for o in others if o != path and not (path + ".").startswith(o + ".")
                and not (path + "[").startswith(o + "[")})
    if more > 0:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return NpusimError(msg, file=file, field=path or None, fix=fix)


def _plain_message(msg: str) -> str:
    """pydantic's message without its own prefixes (`Value error, `, `Assertion failed, `)."""
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def _short_repr(value: object, limit: int = 60) -> str:
    """`repr(value)`, cut to `limit` characters (a 400-digit integer stays one short line)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**24:
        return f"a {len(str(abs(value)))}-digit integer"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
