"""tinytown.services.events: history, stream selection, newest events, follow without repeats."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from tinytown.cli.icons import event_icon
from tinytown.errors import AgentNotFoundError, InvalidInputError
from tinytown.models import AgentId, Event, EventType
from tinytown.services import events
from tinytown.services.registration import register_agent
from tinytown.town import Town

from ._work_fixtures import open_test_town


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    async with open_test_town(tmp_path, town_name, redis_url, monkeypatch) as connected:
        yield connected


def _event(text: str, agent: AgentId | None = None, mission: str | None = None) -> Event:
    return Event(
        event_type=EventType.AGENT_INTERRUPTED,
        message=text,
        timestamp=datetime(2026, 4, 20, 18, 22, 15, tzinfo=UTC),
        agent_id=agent,
        mission_id=mission,
    )


def test_scope_and_icon() -> None:
    aid = AgentId.new()
    assert events.event_scope(_event("x")) == "town"
    assert events.event_scope(_event("x", aid)) == f"agent:{aid}"
    assert events.event_scope(_event("x", aid, "m-1")) == "mission:m-1"
    assert event_icon(EventType.TASK_COMPLETED) == "✅"
    assert event_icon(EventType.AGENT_SPAWNED) == "🐣"
    assert events.event_who(_event("x"), {}) == "system"
    assert events.event_who(_event("x", aid), {}) == aid.short


async def test_history_newest_in_order_and_filtered(town: Town) -> None:
    backend = await register_agent(town, "backend", "claude")  # emits agent_spawned
    for i in range(5):
        await town.channel.emit(_event(f"e{i}", backend.id if i % 2 else None))
    found = await events.history(town, limit=3)
    assert [e.event.message for e in found.entries] == ["e2", "e3", "e4"]
    assert found.read == 3
    mine = await events.history(town, limit=30, agent_name="backend")
    assert [e.event.message for e in mine.entries][-2:] == ["e1", "e3"]
    assert mine.read == len(mine.entries) == 3  # spawned, e1, e3: counted after the filter
    with pytest.raises(AgentNotFoundError):
        await events.history(town, agent_name="Backend")  # exact canonical name only
    with pytest.raises(InvalidInputError):
        await events.history(town, limit=0)


async def test_event_stream_selection(town: Town) -> None:
    backend = await register_agent(town, "backend", "claude")
    keys = town.channel.keys
    assert await events.event_stream(town) == keys.events
    assert await events.event_stream(town, "backend") == keys.agent_events(backend.id)
    mission = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
    assert await events.event_stream(town, mission=mission) == keys.mission_events_stream(mission)
    with pytest.raises(InvalidInputError):
        await events.event_stream(town, mission="nope")
    with pytest.raises(AgentNotFoundError):
        await events.event_stream(town, "ghost")


async def test_recent_returns_newest_oldest_first(town: Town) -> None:
    for i in range(25):
        await town.channel.emit(_event(f"e{i}"))
    got = await events.recent(town, town.channel.keys.events, 20)
    assert [e.event.message for e in got] == [f"e{i}" for i in range(5, 25)]


async def test_follow_delivers_each_new_event_once(town: Town) -> None:
    stream = town.channel.keys.events
    for i in range(3):
        await town.channel.emit(_event(f"old{i}"))
    shown = await events.recent(town, stream, 2)
    seen: list[str] = []
    got_two = trio.Event()
    got_marker = trio.Event()

    async def reader() -> None:
        feed = events.follow(town, stream, shown[-1].entry_id, block_ms=50)
        async with aclosing(feed) as entries:
            async for entry in entries:
                seen.append(entry.event.message)
                if len(seen) == 2:
                    got_two.set()
                if entry.event.message == "marker":
                    got_marker.set()
                    return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await town.channel.emit(_event("new0"))
        await town.channel.emit(_event("new1"))
        await got_two.wait()
        await trio.sleep(0.2)  # several empty polls happen here; none may repeat an event
        await town.channel.emit(_event("marker"))
        await got_marker.wait()
    assert seen == ["new0", "new1", "marker"]


async def test_read_after_skips_corrupt_entries_but_moves_past_them(town: Town) -> None:
    stream = town.channel.keys.events
    bad = await town.redis.execute("XADD", stream, "*", "event_type", "x", "data", "{not json")
    last, got = await events.read_after(town, stream, "0-0")
    assert got == []
    assert last == bad
    await town.channel.emit(_event("fine"))
    last2, got2 = await events.read_after(town, stream, last)
    assert [e.event.message for e in got2] == ["fine"]
    assert last2 > last
