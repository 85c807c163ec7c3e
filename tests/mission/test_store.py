"""Mission storage in Redis (missions.md §3; behaviours.md §15 storage items)."""

from __future__ import annotations

import json

from tinytown.codec.mission_codec import mission_to_json
from tinytown.mission.store import MissionStore
from tinytown.models.mission import DocRef, MissionRun, WorkItem, WorkKind
from tinytown.town import Town

from .conftest import T0


async def test_save_get_list_delete_and_the_active_set(town: Town) -> None:
    store = MissionStore(town.channel)
    a = MissionRun.new([DocRef("a.md")], T0).started(T0)
    b = MissionRun.new([DocRef("b.md")], T0).started(T0)
    for m in (a, b):
        await store.save_mission(m)
    await store.activate(a.id)
    assert await store.get_mission(a.id) == a
    assert await store.active_ids() == [a.id]
    assert {m.id for m in await store.list_missions()} == {a.id, b.id}
    await store.save_work_items([WorkItem.new(a.id, "w", WorkKind.DESIGN, T0)])
    await store.log(a.id, "hello", T0)
    assert await store.delete_mission(a.id)
    assert not await store.delete_mission(a.id)
    assert await store.get_mission(a.id) is None
    assert await store.active_ids() == []
    assert await store.list_work_items(a.id) == []
    left = await town.redis.execute("KEYS", f"tt:{town.name}:mission:{a.id}*")
    assert left == []


async def test_log_is_newest_first_trimmed_and_streamed(town: Town) -> None:
    store = MissionStore(town.channel)
    m = MissionRun.new([DocRef("a.md")], T0)
    for n in range(105):
        await store.log(m.id, f"line {n}", T0)
    lines = await store.recent_log(m.id, 200)
    assert len(lines) == 100
    assert lines[0] == "[2026-04-18 12:00:00] line 104"
    entries = await town.redis.execute("XRANGE", town.channel.keys.mission_events_stream(m.id),
                                       "-", "+", "COUNT", 1)
    fields = dict(zip(entries[0][1][::2], entries[0][1][1::2], strict=True))
    assert fields["event_type"] == "mission_event"
    data = json.loads(fields["data"])
    assert (data["mission_id"], data["message"]) == (m.id.text, "line 0")


async def test_corrupt_records_are_skipped_in_listings(town: Town) -> None:
    store = MissionStore(town.channel)
    good = MissionRun.new([DocRef("a.md")], T0)
    await store.save_mission(good)
    keys = town.channel.keys
    await town.redis.execute("SET", keys.mission("00000000-0000-4000-8000-00000000000b"), "{x")
    await town.redis.execute("SET", keys.mission("not-a-uuid"),
                             mission_to_json(good).replace(good.id.text, "zz"))
    await store.save_work_items([WorkItem.new(good.id, "ok", WorkKind.DESIGN, T0)])
    await town.redis.execute("HSET", keys.mission_work(good.id), "bad", "[]")
    assert [m.id for m in await store.list_missions()] == [good.id]
    assert [i.title for i in await store.list_work_items(good.id)] == ["ok"]
