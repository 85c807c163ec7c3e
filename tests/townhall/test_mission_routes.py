"""The mission read routes 0.10's OpenAPI promised (control routes: test_routes.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from tinytown.mission.store import MissionStore
from tinytown.models.mission import DocRef, MissionRun, WorkItem, WorkKind

from .conftest import Running

T0 = datetime(2026, 4, 18, 12, 0, tzinfo=UTC)


async def _mission(th: Running) -> MissionRun:
    mission = MissionRun.new([DocRef("plan.md")], T0).started(T0)
    store = MissionStore(th.town.channel)
    await store.save_mission(mission)
    await store.save_work_items([WorkItem.new(mission.id, "plan.md", WorkKind.DESIGN, T0)])
    await store.activate(mission.id)
    await store.log(mission.id, "Mission started via CLI", T0)
    return mission


async def test_read_routes(th: Running) -> None:
    m = await _mission(th)
    mid = m.id.text
    r = await th.client.get("/v1/missions")
    assert [x["id"] for x in r.json()["missions"]] == [mid]
    await th.client.post(f"/v1/missions/{mid}/stop")
    assert (await th.client.get("/v1/missions")).json()["count"] == 0
    assert (await th.client.get("/v1/missions", params={"all": "true"})).json()["count"] == 1
    blocked = await th.client.get("/v1/missions", params={"state": "blocked"})
    assert blocked.json()["count"] == 1
    assert (await th.client.get("/v1/missions", params={"state": "nope"})).status_code == 400
    one = (await th.client.get(f"/v1/missions/{mid}")).json()
    assert one["mission"]["state"] == "blocked"
    assert one["work_items"][0]["title"] == "plan.md"
    work = (await th.client.get(f"/v1/missions/{mid}/work", params={"status": "pending"})).json()
    assert work["count"] == 1
    watches = (await th.client.get(f"/v1/missions/{mid}/watches")).json()
    assert watches == {"mission_id": mid, "count": 0, "items": []}
    events = (await th.client.get(f"/v1/missions/{mid}/events", params={"count": 1})).json()
    assert events["count"] == 1
    assert "Mission stopped via API" in events["events"][0]
    bad = await th.client.get(f"/v1/missions/{mid}/events", params={"count": 0})
    assert bad.status_code == 400
    unknown = await th.client.get("/v1/missions/7d0c1a52-0e8f-4c36-9d59-1d2f3c4b5a69/work")
    assert unknown.status_code == 404
    assert (await th.client.get("/v1/missions/nope")).status_code == 400
