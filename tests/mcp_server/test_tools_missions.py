"""Mission tools and resources over services/missions (mcp.md §3, townhall-behaviours B4/B5)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from mcp import Client

from tinytown.mission.store import MissionStore
from tinytown.models.mission import MissionId, MissionState
from tinytown.services import missions as svc
from tinytown.town import Town

from .conftest import fails, ok


async def start_doc_mission(client: Client, *docs: str) -> dict[str, Any]:
    data: dict[str, Any] = await ok(client, "mission.start", docs=list(docs or ["docs/spec.md"]))
    return data


async def stored_state(town: Town, mid: str) -> MissionState:
    return (await svc.require(town, mid)).state


async def test_start_list_status_work_events(client: Client, town: Town) -> None:
    assert await fails(client, "mission.start") == (
        "At least one issue or doc objective is required")
    started = await start_doc_mission(client, "docs/spec.md")
    mid = started["mission"]["id"]
    assert (started["objective_count"], started["work_item_count"]) == (1, 1)
    assert started["invalid_issues"] == []
    assert set(started["scheduler_bootstrap"]) == {
        "total_promoted", "total_assigned", "missions_completed"}
    assert await stored_state(town, mid) is MissionState.RUNNING
    assert MissionId.parse(mid) in await MissionStore(town.channel).active_ids()

    listed = await ok(client, "mission.list")
    assert (listed["count"], listed["missions"][0]["id"]) == (1, mid)
    assert (await ok(client, "mission.list", status="completed"))["count"] == 0
    assert await fails(client, "mission.list", status="weird") == "Invalid mission status: weird"

    brief = await ok(client, "mission.get_status", mission_id=mid)
    assert brief["mission"]["id"] == mid
    assert (brief["work_item_count"], brief["work_items"], brief["dispatcher"]) == (1, None, None)
    full = await ok(client, "mission.status", mission_id=mid)
    assert isinstance(full["work_items"], list)
    assert isinstance(full["watch_items"], list)
    assert isinstance(full["dispatcher"], dict)
    assert full["events"] is None
    with_work = await ok(client, "mission.get_status", mission_id=mid, include_work=True,
                         include_events=True)
    assert with_work["work_items"][0]["title"].endswith("docs/spec.md")
    assert any("Mission started via MCP" in e for e in with_work["events"])

    for name in ("mission.list_work", "mission.work_items"):
        work = await ok(client, name, mission_id=mid)
        assert (work["mission_id"], work["count"]) == (mid, 1)
    assert (await ok(client, "mission.list_work", mission_id=mid, status="done"))["count"] == 0
    assert "Invalid work item status" in await fails(
        client, "mission.list_work", mission_id=mid, status="nope")
    for name in ("mission.list_watches", "mission.watches"):
        assert (await ok(client, name, mission_id=mid))["items"] == []
    events = await ok(client, "mission.events", mission_id=mid, count=1)
    assert events["count"] == 1
    assert await fails(client, "mission.get_events", mission_id=mid, count=0) == (
        "Event count must be greater than zero")
    assert await fails(client, "mission.status", mission_id="x") == "Invalid mission ID: x"
    other = str(uuid.uuid4())
    assert await fails(client, "mission.status", mission_id=other) == f"Mission {other} not found"


async def test_pause_resume_through_the_dispatcher(client: Client, town: Town) -> None:
    mid = (await start_doc_mission(client))["mission"]["id"]
    paused = await ok(client, "mission.pause", mission_id=mid)
    assert (paused["directive"], paused["status"]) == ("pause", "queued_and_processed")
    assert await stored_state(town, mid) is MissionState.BLOCKED
    assert "not running" in await fails(client, "mission.pause", mission_id=mid)
    resumed = await ok(client, "mission.resume", mission_id=mid)
    assert resumed["directive"] == "resume"
    assert await stored_state(town, mid) is MissionState.RUNNING
    assert "already running" in await fails(client, "mission.resume", mission_id=mid)

    failed = (await start_doc_mission(client, "docs/b.md"))["mission"]["id"]
    await svc.fail(town, failed, "broken")
    controls_before = await MissionStore(town.channel).list_controls(MissionId.parse(failed))
    assert "cannot be resumed" in await fails(client, "mission.resume", mission_id=failed)
    assert await stored_state(town, failed) is MissionState.FAILED
    assert await MissionStore(town.channel).list_controls(MissionId.parse(failed)) == (
        controls_before)


async def test_terminal_missions_refuse_pause_and_stop(client: Client, town: Town) -> None:
    mid = (await start_doc_mission(client))["mission"]["id"]
    await svc.complete(town, mid)
    assert "cannot be paused" in await fails(client, "mission.pause", mission_id=mid)
    assert "cannot be stopped" in await fails(client, "mission.stop", mission_id=mid)
    assert await stored_state(town, mid) is MissionState.COMPLETED


async def test_stop_note_input_dispatch_approve_reject(client: Client, town: Town) -> None:
    mid = (await start_doc_mission(client))["mission"]["id"]
    random_item = str(uuid.uuid4())
    assert "Work item not found" in await fails(
        client, "mission.approve", mission_id=mid, work_item_id=random_item)
    assert "Work item not found" in await fails(
        client, "mission.reject", mission_id=mid, work_item_id=random_item, reason="no")
    noted = await ok(client, "mission.note", mission_id=mid, message="resume and retry")
    assert (noted["note"]["sender"], noted["note"]["body"]) == ("mcp", "resume and retry")
    item = (await ok(client, "mission.list_work", mission_id=mid))["items"][0]["id"]
    given = await ok(client, "mission.input", mission_id=mid, work_item_id=item, response="use X")
    assert given == {"mission_id": mid, "work_item_id": item, "forwarded_to": None,
                     "recorded": True}
    bodies = [c.body for c in await MissionStore(town.channel).list_controls(MissionId.parse(mid))]
    assert f"operator input for work item {item}: use X" in bodies
    assert f"Work item {random_item} not found in mission {mid}" == await fails(
        client, "mission.input", mission_id=mid, work_item_id=random_item, response="x")
    ticked = await ok(client, "mission.dispatch", mission_id=mid)
    assert set(ticked) == {"claimed_missions", "watch_result", "scheduler_result"}
    stopped = await ok(client, "mission.stop", mission_id=mid, force=True)
    assert (stopped["mission"]["state"], stopped["force"]) == ("failed", True)
    assert MissionId.parse(mid) not in await MissionStore(town.channel).active_ids()


async def test_mission_resources(client: Client, town: Town) -> None:
    assert json.loads((await client.read_resource("tinytown://missions")).contents[0].text) == []  # type: ignore[union-attr]
    mid = (await start_doc_mission(client))["mission"]["id"]
    listed = json.loads((await client.read_resource("tinytown://missions")).contents[0].text)  # type: ignore[union-attr]
    assert [m["id"] for m in listed] == [mid]
    assert set(listed[0]) == {"id", "state", "objective_refs", "created_at", "updated_at",
                              "blocked_reason", "next_wake_at"}
    details = json.loads(
        (await client.read_resource(f"tinytown://missions/{mid}")).contents[0].text)  # type: ignore[union-attr]
    assert details["mission"]["id"] == mid
    assert len(details["work_items"]) == 1
    assert any("Mission started via MCP" in e for e in details["events"])
    other = str(uuid.uuid4())
    text = (await client.read_resource(f"tinytown://missions/{other}")).contents[0].text  # type: ignore[union-attr]
    assert text == f"Mission not found: {other}"
    bad = (await client.read_resource("tinytown://missions/zzz")).contents[0].text  # type: ignore[union-attr]
    assert bad == "Invalid mission ID: zzz"


async def test_approve_picks_the_only_reviewable_item(client: Client, town: Town) -> None:
    import attrs

    from tinytown.models.mission import WorkKind, WorkStatus

    mid = (await start_doc_mission(client))["mission"]["id"]
    assert await fails(client, "mission.approve", mission_id=mid) == (
        "No reviewable blocked work item found; provide work_item_id explicitly")
    store = MissionStore(town.channel)
    (item,) = await store.list_work_items(MissionId.parse(mid))
    blocked = attrs.evolve(item, status=WorkStatus.BLOCKED, kind=WorkKind.IMPLEMENT,
                           artifact_refs=["https://github.com/acme/widgets/pull/7"])
    await store.save_work_items([blocked])
    approved = await ok(client, "mission.approve", mission_id=mid)
    assert approved["work_item_id"] == item.id.text
    assert approved["status"] in ("completed", "waiting_for_review", "waiting_for_external")
    assert set(approved["scheduler_result"]) == {
        "total_promoted", "total_assigned", "missions_completed"}
    again = await store.get_work_item(MissionId.parse(mid), item.id)
    assert again is not None
    assert again.reviewer_approved


async def test_reject_requests_changes(client: Client, town: Town) -> None:
    mid = (await start_doc_mission(client, "docs/c.md"))["mission"]["id"]
    item = (await ok(client, "mission.list_work", mission_id=mid))["items"][0]["id"]
    rejected = await ok(client, "mission.reject", mission_id=mid, work_item_id=item,
                        reason="needs tests")
    assert (rejected["mission_id"], rejected["work_item_id"]) == (mid, item)
    assert rejected["reason"] == "needs tests"
    assert rejected["status"] in ("completed", "waiting_for_review", "waiting_for_external")
    events = (await ok(client, "mission.events", mission_id=mid))["events"]
    assert any("needs tests" in e for e in events), events
