"""Town history and the raw event stream (cli.md §7.8, §7.9).

:func:`follow` reads with ``XREAD BLOCK`` strictly after the last entry it
saw, so every event is delivered once (0.10 re-printed the last event on each
poll because its ``XRANGE`` start was inclusive).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Final

import attrs

from tinytown.codec import event_from_json
from tinytown.errors import AgentNotFoundError, CorruptRecordError, InvalidInputError
from tinytown.models import Agent, AgentId, Event
from tinytown.town import Town

DEFAULT_HISTORY: Final = 30
DEFAULT_EVENTS: Final = 20
HISTORY_PAGE: Final = 200
FOLLOW_BLOCK_MS: Final = 5000
FOLLOW_BATCH: Final = 100
START_ID: Final = "0-0"

def event_scope(event: Event) -> str:
    """``mission:<id>``, ``agent:<uuid>`` or ``town``."""
    if event.mission_id:
        return f"mission:{event.mission_id}"
    if event.agent_id is not None:
        return f"agent:{event.agent_id}"
    return "town"


def event_who(event: Event, agents: dict[AgentId, Agent]) -> str:
    """Who an event is about: the agent's name, its short id if gone, else ``system``."""
    if event.agent_id is None:
        return "system"
    agent = agents.get(event.agent_id)
    return agent.name if agent is not None else event.agent_id.short


@attrs.frozen
class StreamEntry:
    """One event with its stream entry id."""

    entry_id: str
    event: Event


@attrs.frozen
class History:
    """The newest events (oldest first); ``read`` is how many are shown."""

    read: int
    entries: list[StreamEntry]
    agents: dict[AgentId, Agent]


async def history(
    town: Town, limit: int = DEFAULT_HISTORY, agent_name: str | None = None
) -> History:
    """The ``limit`` newest town events, or the ``limit`` newest of agents named ``agent_name``.

    Raises:
        InvalidInputError: ``limit`` is not positive.
        AgentNotFoundError: No agent has that exact canonical name.
    """
    if limit < 1:
        raise InvalidInputError(f"--limit must be at least 1 (got {limit})")
    agents = {a.id: a for a in await town.channel.list_agents()}
    wanted: set[AgentId] | None = None
    if agent_name is not None:
        wanted = {a.id for a in agents.values() if a.name == agent_name}
        if not wanted:
            raise AgentNotFoundError(agent_name)
    if wanted is None:
        recent = await town.channel.recent_events(limit)
        return History(read=len(recent), entries=[StreamEntry(i, e) for i, e in recent],
                       agents=agents)
    # Filter first, then count: page back through the stream until ``limit`` events match.
    matched: list[StreamEntry] = []
    before: str | None = None
    read = 0
    while len(matched) < limit:
        page = await town.channel.recent_events(HISTORY_PAGE, before=before)
        if not page:
            break
        read += len(page)
        before = page[0][0]
        hits = [StreamEntry(i, e) for i, e in page if e.agent_id is not None
                and e.agent_id in wanted]
        matched = hits + matched
        if len(page) < HISTORY_PAGE:
            break
    entries = matched[-limit:]
    return History(read=len(entries), entries=entries, agents=agents)


async def event_stream(
    town: Town, agent_name: str | None = None, mission: str | None = None
) -> str:
    """The stream ``tt events`` reads: a mission's, an agent's (exact name) or the town's.

    Raises:
        InvalidInputError: ``mission`` is not a UUID.
        AgentNotFoundError: No agent has that exact canonical name.
    """
    channel = town.channel
    if mission is not None:
        try:
            mission_id = AgentId.parse(mission)  # any UUID; only its text is used
        except InvalidInputError:
            raise InvalidInputError(f"Invalid mission ID: {mission!r}") from None
        return channel.events_stream(mission_id=str(mission_id))
    if agent_name is not None:
        for a in await channel.list_agents():
            if a.name == agent_name:
                return channel.events_stream(agent_id=a.id)
        raise AgentNotFoundError(agent_name)
    return channel.events_stream()


async def recent(town: Town, stream: str, count: int = DEFAULT_EVENTS) -> list[StreamEntry]:
    """The ``count`` newest entries of ``stream``, oldest first.

    Raises:
        InvalidInputError: ``count`` is not positive.
    """
    if count < 1:
        raise InvalidInputError(f"--count must be at least 1 (got {count})")
    return [StreamEntry(i, e) for i, e in await town.channel.recent_events(count, stream)]


async def read_after(
    town: Town, stream: str, last_id: str, *, block_ms: int | None = None,
    count: int = FOLLOW_BATCH,
) -> tuple[str, list[StreamEntry]]:
    """Entries strictly after ``last_id`` and the id to continue from.

    Corrupt entries are skipped but still advance the returned id, so a
    follower never reads them again.
    """
    args: list[Any] = ["XREAD", "COUNT", count]
    if block_ms is not None:
        args += ["BLOCK", block_ms]
    reply = await town.redis.execute(*args, "STREAMS", stream, last_id)
    if not reply:
        return last_id, []
    out = []
    for entry_id, flat in reply[0][1]:
        last_id = str(entry_id)
        items = list(flat)
        fields = dict(zip(items[::2], items[1::2], strict=False))
        try:
            out.append(StreamEntry(last_id, event_from_json(fields.get("data", ""), stream)))
        except CorruptRecordError:
            continue
    return last_id, out


async def follow(
    town: Town, stream: str, after: str = START_ID, *, block_ms: int = FOLLOW_BLOCK_MS
) -> AsyncGenerator[StreamEntry, None]:
    """Yield every entry appended to ``stream`` after ``after``, once each, forever."""
    last = after
    while True:
        last, batch = await read_after(town, stream, last, block_ms=block_ms)
        for entry in batch:
            yield entry
