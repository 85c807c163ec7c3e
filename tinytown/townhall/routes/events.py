"""``GET /v1/events/stream``: the town's events as Server-Sent Events (``town.read``).

Filters: ``agent`` (any agent reference), ``mission`` (id), ``kind`` (event
types, comma separated). Each event's SSE ``id`` is its Redis stream id;
reconnecting with ``Last-Event-ID`` (or ``?last_event_id=``) delivers every
later event exactly once. The stream has no response timeout, sends a
comment every 15 s of quiet, and ends when the server shuts down.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Final

import attrs
from quart import Blueprint, Response, request

from tinytown.codec import event_to_json
from tinytown.errors import InvalidInputError
from tinytown.models import AgentId, EventType
from tinytown.services.events import StreamEntry
from tinytown.townhall.context import TownhallContext, ctx
from tinytown.townhall.hub import EventHub
from tinytown.townhall.pipeline import protected

bp = Blueprint("events", __name__)
HUB: Final = "events"
STREAM_ID: Final = re.compile(r"^\d+(-\d+)?$")
KINDS: Final = frozenset(k.value for k in EventType)


@attrs.frozen
class EventFilter:
    agent: AgentId | None = None
    mission: str | None = None
    kinds: frozenset[str] = frozenset()

    def accepts(self, entry: StreamEntry) -> bool:
        event = entry.event
        if self.kinds and event.event_type.value not in self.kinds:
            return False
        if self.mission is not None and event.mission_id != self.mission:
            return False
        if self.agent is not None:
            return self.agent in (event.agent_id, event.parent_agent_id, event.child_agent_id)
        return True


def sse_frame(entry: StreamEntry) -> bytes:
    data = event_to_json(entry.event)
    return f"id: {entry.entry_id}\nevent: {entry.event.event_type.value}\ndata: {data}\n\n".encode()


def hub_of(context: TownhallContext) -> EventHub:
    hub = context.hubs.get(HUB)
    if not isinstance(hub, EventHub):
        raise RuntimeError("the event hub is not running")
    return hub


async def _filter_from_query() -> EventFilter:
    kinds = frozenset(k.strip() for k in request.args.get("kind", "").split(",") if k.strip())
    unknown = sorted(kinds - KINDS)
    if unknown:
        raise InvalidInputError(f"Unknown event kind(s): {', '.join(unknown)}")
    agent = None
    ref = request.args.get("agent")
    if ref:
        agent = (await ctx().town.resolve(ref))[0]
    mission = request.args.get("mission") or None
    return EventFilter(agent, mission, kinds)


def _last_event_id() -> str | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None or not raw.strip():
        return None
    if not STREAM_ID.match(raw.strip()):
        raise InvalidInputError(f"Invalid Last-Event-ID {raw!r}: expected a stream id like 1-0")
    return raw.strip()


@bp.get("/v1/events/stream")
@protected("town.read")
async def stream() -> Response:
    """Server-Sent Events of the town's event stream (see the module docstring)."""
    context = ctx()
    flt = await _filter_from_query()
    after = _last_event_id()
    hub = hub_of(context)

    async def frames() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        async with hub.subscribe() as sub:
            async for entry in hub.entries(sub, after):
                if entry is None:
                    yield b": keep-alive\n\n"
                elif flt.accepts(entry):
                    yield sse_frame(entry)

    response = Response(frames(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    response.timeout = None  # quart's RESPONSE_TIMEOUT would cut the stream at 60 s
    return response

