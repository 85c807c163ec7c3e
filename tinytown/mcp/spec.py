"""What a tool is (name, arguments, scope, handler) and how a call becomes an envelope.

Tool handlers are plain async functions ``(town, args) -> data`` over
:mod:`tinytown.services`; they raise :class:`~tinytown.errors.TinytownError`
for anything a caller can cause. :func:`run_tool` turns the outcome into
0.10's envelope text, so no handler knows about MCP and none imports the SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import attrs

from tinytown.errors import TinytownError
from tinytown.mcp.args import Arg, Args, check_args, input_schema
from tinytown.mcp.views import envelope_error, envelope_ok
from tinytown.town import Town

log = logging.getLogger("tinytown.mcp")

READ: Final = "town.read"
WRITE: Final = "town.write"
MANAGE: Final = "agent.manage"

Handler = Callable[[Town, Args], Awaitable[object]]


@attrs.frozen
class ToolSpec:
    """One MCP tool.

    Attributes:
        name: 0.10's dotted name (``agent.list``).
        description: Shown in ``tools/list``.
        args: Its arguments, in schema order.
        handler: ``(town, args) -> data`` (the envelope's ``data``).
        scope: The townhall scope an HTTP caller needs.
        read_only: Announced as ``readOnlyHint``.
    """

    name: str
    description: str
    args: tuple[Arg, ...]
    handler: Handler
    scope: str
    read_only: bool = False

    def schema(self) -> dict[str, Any]:
        return input_schema(self.args)


def tool(
    name: str,
    description: str,
    scope: str,
    *args: Arg,
    read_only: bool = False,
) -> Callable[[Handler], ToolSpec]:
    """Decorator: the function below becomes the handler of a :class:`ToolSpec`."""

    def wrap(handler: Handler) -> ToolSpec:
        return ToolSpec(name, description, tuple(args), handler, scope, read_only)

    return wrap


async def run_tool(spec: ToolSpec, town: Town, given: Mapping[str, Any] | None) -> str:
    """Check the arguments, run the handler and return the envelope text (never raises
    for a caller's mistake; a bug is logged with its traceback and reported as one line)."""
    try:
        args = check_args(spec.args, given)
        data = await spec.handler(town, args)
    except TinytownError as exc:
        return envelope_error(str(exc))
    except Exception as exc:
        log.exception("tool %s failed", spec.name)
        return envelope_error(f"Internal error in {spec.name}: {type(exc).__name__}: {exc}")
    return envelope_ok(data)


def index(specs: Sequence[ToolSpec]) -> dict[str, ToolSpec]:
    """Tools by name; a name registered twice is a programming error."""
    out: dict[str, ToolSpec] = {}
    for spec in specs:
        if spec.name in out:
            raise ValueError(f"tool {spec.name} registered twice")
        out[spec.name] = spec
    return out
