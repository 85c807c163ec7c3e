"""Tool arguments: their JSON Schema, and checking what a client sent (pure, no SDK).

Each tool declares its arguments as :class:`Arg` values. :func:`input_schema`
turns them into the ``inputSchema`` the client sees (an ``object`` with the
properties, ``required`` for the mandatory ones, nullable optional ones, as
0.10's generated schemas); :func:`check_args` validates a call and returns
:class:`Args` with typed getters. Unlike 0.10, whose MCP library rejected a
missing or mistyped argument with a JSON-RPC error, a bad call is answered in
the usual envelope (``success: false`` with a one-line message), so a client
handles every failure in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from tinytown.errors import InvalidInputError

Kind = Literal["string", "boolean", "integer", "number", "string[]"]

_JSON_TYPE: dict[Kind, str] = {
    "string": "string",
    "boolean": "boolean",
    "integer": "integer",
    "number": "number",
    "string[]": "array",
}
_NAMES: dict[Kind, str] = {
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string[]": "an array of strings",
}


@attrs.frozen
class Arg:
    """One argument of a tool.

    Attributes:
        name: Its JSON name (may be a Python keyword, e.g. ``from``).
        kind: Its JSON type.
        description: Shown to the client in the schema.
        required: Listed in ``required``; a call without it is refused.
        default: The value of an absent optional argument (None: absent means null).
    """

    name: str
    kind: Kind
    description: str
    required: bool = False
    default: object = None


def req(name: str, kind: Kind, description: str) -> Arg:
    """A required argument."""
    return Arg(name, kind, description, required=True)


def opt(name: str, kind: Kind, description: str, default: object = None) -> Arg:
    """An optional argument (nullable when it has no default)."""
    return Arg(name, kind, description, default=default)


def input_schema(args: Sequence[Arg]) -> dict[str, Any]:
    """The JSON Schema of a tool's input: an object with ``args`` as properties."""
    properties: dict[str, Any] = {}
    for arg in args:
        prop: dict[str, Any] = {"description": arg.description}
        json_type = _JSON_TYPE[arg.kind]
        if arg.required or arg.default is not None:
            prop["type"] = json_type
        else:
            prop["type"] = [json_type, "null"]
        if arg.kind == "string[]":
            prop["items"] = {"type": "string"}
        if arg.default is not None:
            prop["default"] = arg.default
        properties[arg.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = [a.name for a in args if a.required]
    if required:
        schema["required"] = required
    return schema


def _fits(kind: Kind, value: object) -> bool:
    match kind:
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "string[]":
            return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return False  # pragma: no cover - Kind is exhaustive


def check_args(args: Sequence[Arg], given: Mapping[str, Any] | None) -> Args:
    """Validate a call's arguments against ``args``; unknown names are ignored (as 0.10).

    Raises:
        InvalidInputError: a required argument is missing (or null), or one has the wrong type.
    """
    raw = dict(given or {})
    values: dict[str, object] = {}
    for arg in args:
        value = raw.get(arg.name)
        if value is None:
            if arg.required:
                raise InvalidInputError(f"Missing required argument: {arg.name}")
            values[arg.name] = arg.default
            continue
        if not _fits(arg.kind, value):
            raise InvalidInputError(f"Argument '{arg.name}' must be {_NAMES[arg.kind]}")
        values[arg.name] = value
    return Args(values)


@attrs.frozen
class Args:
    """Checked arguments with typed getters (the checks above guarantee the types)."""

    values: dict[str, object]

    def text(self, name: str) -> str:
        value = self.values[name]
        assert isinstance(value, str)
        return value

    def opt_text(self, name: str) -> str | None:
        """The value, or None when absent or blank."""
        value = self.values.get(name)
        if isinstance(value, str) and value.strip():
            return value
        return None

    def flag(self, name: str) -> bool:
        return bool(self.values.get(name))

    def opt_int(self, name: str) -> int | None:
        value = self.values.get(name)
        return value if isinstance(value, int) else None

    def opt_number(self, name: str) -> float | None:
        value = self.values.get(name)
        return float(value) if isinstance(value, int | float) else None

    def texts(self, name: str) -> list[str]:
        value = self.values.get(name)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
